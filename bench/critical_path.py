"""``python -m bench.critical_path``: scenario a's round trip, cut into the wake-ups
between processes and each process's own work (see :mod:`bench.sched_trace`).

For each target (the bare echo server, the floor, the wsgw gateway child; all on the
chosen loop) in turn: start it, warm it up, record the scheduler's ``sched_waking`` and
``sched_switch`` events of the whole machine with ``perf record`` while this process
sends ``--messages`` sequential round trips, then print each segment's median and the
sum of the wake-ups (what the kernel and the hypervisor take to hand a CPU from one
process to the next) beside the sum of the runs (what the processes themselves do).
Repeated ``--runs`` times, the targets alternating; medians of the runs' medians.

    python -m bench.critical_path --runs 3

Needs Linux's ``perf`` and the right to trace the scheduler (root, or
``kernel.perf_event_paranoid`` ≤ -1). Tracing costs a few µs per event: the round trips
are a little slower than in ``python -m bench``; compare targets within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .roundtrip import measure_run
from .sched_trace import Chain, Hop, SchedEvent, parse_events, round_trips, segment_medians
from .servers import running_server
from .targets import BENCH_APP

__all__ = ["main"]

_PERF_START_S = 0.5  # perf record has its events enabled within this (checked: ~0.1 s)


class TraceUnavailable(Exception):
    """``perf`` is missing or may not trace the scheduler here."""


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    args: tuple[str, ...]
    worker: bool  # a handler process between the server's two halves of the trip


def targets(loop: str) -> list[Target]:
    return [
        Target("bare", "bench.bare_echo", ("--loop", loop), worker=False),
        Target("floor", "bench.relay_echo", ("--loop", loop), worker=True),
        Target("wsgw", "bench.gateway_child", ("--app", str(BENCH_APP), "--loop", loop), worker=True),
    ]


def chain_of(target: Target, client: int, server: int, worker: int | None) -> Chain:
    """The hops of one round trip of ``target``: client → server → client, with the
    worker in between when there is one."""
    roles = {"client": client, "server": server}
    if not target.worker:
        return Chain((Hop("client", "server"), Hop("server", "client")), roles)
    assert worker is not None
    roles["worker"] = worker
    return Chain((Hop("client", "server"), Hop("server", "worker"), Hop("worker", "server"), Hop("server", "client")),
                 roles)


def busiest_wakee(events: Sequence[SchedEvent], waker: int, exclude: int) -> int | None:
    """The thread ``waker`` woke most often, other than ``exclude``: the handler
    process the round trips went through (wsgw's Echo worker, the floor's child)."""
    counts = Counter(event.task for event in events if event.kind == "waking" and event.current == waker
                     and event.task != exclude)
    return counts.most_common(1)[0][0] if counts else None


@dataclass(frozen=True)
class Measured:
    target: str
    p50_ms: float
    names: list[str]
    medians_ns: list[float]
    trips: int
    preempted_share: float  # of round trips with a preemption in the chain


async def _traced(target: Target, messages: int) -> Measured:
    perf = shutil.which("perf")
    if perf is None:
        raise TraceUnavailable("perf is not installed (Debian: apt-get install linux-perf)")
    async with running_server(target.name, target.module, list(target.args)) as server:
        await measure_run(target.name, server.url, messages=2000, warmup=200, timeout_s=120)
        with tempfile.TemporaryDirectory(prefix="wsgw-critical-path-") as folder:
            data = Path(folder, "perf.data")
            record = subprocess.Popen(
                [perf, "record", "-q", "-a", "-e", "sched:sched_waking", "-e", "sched:sched_switch", "-o", str(data)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                await asyncio.sleep(_PERF_START_S)
                if record.poll() is not None:
                    raise TraceUnavailable(f"perf record failed: {record.stderr.read().strip() if record.stderr else ''}")
                run = await measure_run(target.name, server.url, messages=messages, warmup=0,
                                        timeout_s=60 + messages * 0.02)
            finally:
                if record.poll() is None:
                    record.send_signal(signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    record.wait(30)
                if record.poll() is None:
                    record.kill()
                    record.wait()
            script = subprocess.run(
                [perf, "script", "--ns", "-F", "pid,tid,cpu,time,event,trace", "-i", str(data)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
    events = list(parse_events(script.stdout.splitlines()))
    client, server_pid = os.getpid(), server.pid
    worker = busiest_wakee(events, server_pid, exclude=client) if target.worker else None
    if target.worker and worker is None:
        raise RuntimeError(f"{target.name}: its server woke no other process: no worker found in the trace")
    chain = chain_of(target, client, server_pid, worker)
    trips = round_trips(events, chain)
    if len(trips) < messages // 2:
        raise RuntimeError(f"{target.name}: only {len(trips)} of {messages} round trips followed the chain")
    return Measured(target.name, run.p50_ms, chain.segment_names(), segment_medians(trips), len(trips),
                    sum(1 for trip in trips if trip.preemptions) / len(trips))


def report_rows(runs: dict[str, list[Measured]]) -> dict[str, dict[str, float]]:
    """Row name -> target -> µs: each segment (medians of the runs' medians), in the
    order of the longest chain, then the wake-ups' and the runs' sums, the server's
    runs together, the client's p50 and the share of round trips with a preemption."""
    longest = max(runs.values(), key=lambda measured: len(measured[0].names))[0].names
    rows: dict[str, dict[str, float]] = {name: {} for name in longest}
    totals: dict[str, dict[str, float]] = {"sum of wake-ups": {}, "sum of runs": {}, "server's runs": {}}
    for target, measured in runs.items():
        for index, segment in enumerate(measured[0].names):
            value = statistics.median(m.medians_ns[index] for m in measured) / 1000
            rows.setdefault(segment, {})[target] = value
            total = "sum of wake-ups" if segment.startswith("wake") else "sum of runs"
            totals[total][target] = totals[total].get(target, 0.0) + value
            if segment.startswith("run server"):
                totals["server's runs"][target] = totals["server's runs"].get(target, 0.0) + value
    rows.update(totals)
    rows["client's p50 (traced)"] = {t: statistics.median(m.p50_ms for m in ms) * 1000 for t, ms in runs.items()}
    rows["trips with a preemption %"] = {t: 100 * statistics.median(m.preempted_share for m in ms)
                                         for t, ms in runs.items()}
    return rows


def _report(runs: dict[str, list[Measured]]) -> None:
    rows = report_rows(runs)
    print(f"{'':30s}" + "".join(f"{name:>10s}" for name in runs))
    for row, values in rows.items():
        print(f"{row:30s}" + "".join(f"{values[name]:10.1f}" if name in values else f"{'':>10s}" for name in runs))
    print("µs, medians over round trips, then over runs (so the segments need not add up to the p50 exactly). "
          "server: the bare echo server, the floor's relay, the wsgw gateway; worker: the floor's child, wsgw's worker.")


async def _measure(loop: str, messages: int, runs: int) -> dict[str, list[Measured]]:
    found: dict[str, list[Measured]] = {}
    for _ in range(runs):
        for target in targets(loop):
            measured = await _traced(target, messages)
            print(f"  {target.name}: p50 {measured.p50_ms * 1000:.1f} µs, {measured.trips} round trips traced", flush=True)
            found.setdefault(target.name, []).append(measured)
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.critical_path", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000, help="traced round trips per run")
    parser.add_argument("--runs", type=int, default=3, help="runs of every target")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop", help="the servers' event loop")
    args = parser.parse_args(argv)
    try:
        _report(asyncio.run(_measure(args.loop, args.messages, args.runs)))
    except TraceUnavailable as error:
        print(f"python -m bench.critical_path: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
