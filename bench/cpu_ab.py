"""``python -m bench.cpu_ab``: CPU time per message of two or more checkouts, side by side.

For a change to the message path, wall-clock figures on a shared 2-core machine move
more between runs than the change does; CPU time per message moves much less. This
starts one bench gateway child (:mod:`bench.gateway_child`, the echo app) per
checkout, all at once, and runs scenario a (or b) against each in turn, round after
round (the order reversed every other round, so that neither gains from going
first). For each run it reads the on-CPU time of the gateway process and of its
workers from ``/proc/<pid>/task/*/schedstat`` (nanoseconds: the same quantity as
utime + stime, without their 10 ms tick) before and after, and divides by the
messages sent (untimed ones included). It prints each run, then per checkout the
medians, and for each checkout after the first the median of its per-round
difference from the first (with the range): the figure to quote for a change.

    git worktree add /tmp/wsgw-base HEAD        # the code before the change
    python -m bench.cpu_ab --rounds 8 new=. base=/tmp/wsgw-base
    git worktree remove /tmp/wsgw-base

``--server run-local`` measures ``wsgw run-local`` itself instead (each checkout's
CLI, the same echo app, its console printing to a file as it would to a terminal):
the server's CPU is run-local's process, the workers' is every process below it
(its workers, and the embedded moto, idle in this app); ``--loop`` is its
``--event-loop``.

Linux only. The client is this process; run nothing else heavy meanwhile if you can.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Protocol, TypeVar

from .concurrent import measure_concurrent
from .lifecycle import REPLY_PREFIX, URL_PREFIX
from .procstats import descendants
from .roundtrip import measure_run
from .servers import run_local_command, run_local_url


def cpu_ns(pid: int) -> int | None:
    """On-CPU nanoseconds of every thread of ``pid`` so far (None if it is gone)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    total = 0
    for tid in tids:
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total


@dataclass
class Checkout:
    """One checkout's gateway child and what was measured against it."""

    name: str
    root: Path
    process: subprocess.Popen[str]
    url: str
    gateway_us: list[float] = field(default_factory=list)
    workers_us: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)

    @classmethod
    def start(cls, name: str, root: Path, loop: str) -> Checkout:
        app = root / "bench" / "apps" / "echo" / "wsgw.json"
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.gateway_child", "--app", str(app), "--loop", loop],
            cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        while line := process.stdout.readline():
            if line.startswith(URL_PREFIX):
                return cls(name, root, process, line[len(URL_PREFIX):].strip())
        raise SystemExit(f"bench.cpu_ab: the gateway of {name} ({root}) exited before it was ready")

    def query(self, command: str) -> Any:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(command + "\n")
        stdin.flush()
        while line := stdout.readline():
            if line.startswith(REPLY_PREFIX):
                return json.loads(line[len(REPLY_PREFIX):])
        raise SystemExit(f"bench.cpu_ab: the gateway of {self.name} exited")

    def cpu(self) -> tuple[int, int]:
        """(gateway, all its workers) on-CPU nanoseconds so far."""
        workers = [pid for pids in self.query("pids")["workers"].values() for pid in pids]
        return cpu_ns(self.process.pid) or 0, sum(cpu_ns(pid) or 0 for pid in workers)

    def stop(self) -> None:
        stdin: IO[str] | None = self.process.stdin
        if stdin is not None:
            stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class RunLocalCheckout(Checkout):
    """One checkout's ``wsgw run-local`` on the echo app, started as the bench starts it
    (:func:`bench.servers.run_local_command`), its output in a file of a throw-away folder."""

    folder: Path = Path()

    @classmethod
    def start(cls, name: str, root: Path, loop: str) -> RunLocalCheckout:
        folder = Path(tempfile.mkdtemp(prefix="wsgw-cpu-ab-"))
        command, env = run_local_command(root, root / "bench" / "apps" / "echo" / "wsgw.json", folder, loop)
        with open(folder / "output.txt", "wb") as output:
            process = subprocess.Popen(command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=subprocess.STDOUT, text=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if url := run_local_url(folder / "output.txt"):
                return cls(name, root, process, url, folder=folder)
            time.sleep(0.1)
        process.kill()
        raise SystemExit(f"bench.cpu_ab: run-local of {name} ({root}) did not get ready; see {folder / 'output.txt'}")

    def cpu(self) -> tuple[int, int]:
        return cpu_ns(self.process.pid) or 0, sum(cpu_ns(pid) or 0 for pid in descendants(self.process.pid))

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


async def _one_run(checkout: Checkout, scenario: str, messages: int) -> tuple[int, float, float]:
    """Messages sent, p50 (ms) and msgs/s of one run."""
    if scenario == "a":
        run = await measure_run(checkout.name, checkout.url, messages=messages, warmup=200, timeout_s=300)
        return messages + 200, run.p50_ms, run.msgs_per_s
    run = await measure_concurrent(checkout.name, checkout.url, connections=50, messages=messages // 50,
                                   warmup=20, timeout_s=300)  # fmt: skip
    return run.messages + 50 * 20, run.p50_ms, run.msgs_per_s


def median_range(values: list[float], unit: str = "µs", digits: int = 1) -> str:
    """Per-round differences as their median and range: ``+1.2 µs (range -0.3..+2.0)``."""
    ordered = sorted(values)
    return (f"{statistics.median(ordered):+.{digits}f} {unit} "
            f"(range {ordered[0]:+.{digits}f}..{ordered[-1]:+.{digits}f})")


class _Child(Protocol):
    def stop(self) -> None:
        ...


ChildT = TypeVar("ChildT", bound=_Child)


@contextlib.contextmanager
def started(roots: list[tuple[str, Path]], start: Callable[[str, Path], ChildT]) -> Iterator[list[ChildT]]:
    """Each checkout's child, started in order with ``start(name, root)``; every one
    started is stopped on the way out, whatever happened meanwhile."""
    children: list[ChildT] = []
    try:
        for name, root in roots:
            children.append(start(name, root))
        yield children
    finally:
        for child in children:
            child.stop()


def checkouts_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """A command line that takes ``NAME=PATH`` checkouts (read them with :func:`parse_checkouts`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="+", metavar="NAME=PATH",
                        help="a name and a checkout's root folder (the first is the reference)")
    return parser


def parse_checkouts(parser: argparse.ArgumentParser, specs: list[str]) -> list[tuple[str, Path]]:
    """The ``NAME=PATH`` arguments as (name, resolved folder); a usage error otherwise."""
    pairs = [spec.partition("=") for spec in specs]
    if any(not name or not sep or not path for name, sep, path in pairs):
        parser.error("each checkout is NAME=PATH")
    return [(name, Path(path).resolve()) for name, _, path in pairs]


async def compare(checkouts: list[Checkout], *, scenario: str, rounds: int, messages: int) -> None:
    """Run the rounds and print the results (see the module docstring)."""
    for index in range(rounds):
        for checkout in checkouts if index % 2 == 0 else checkouts[::-1]:
            gateway_before, workers_before = checkout.cpu()
            sent, p50, rate = await _one_run(checkout, scenario, messages)
            gateway_after, workers_after = checkout.cpu()
            checkout.gateway_us.append((gateway_after - gateway_before) / sent / 1000)
            checkout.workers_us.append((workers_after - workers_before) / sent / 1000)
            checkout.p50_ms.append(p50)
            checkout.rate.append(rate)
            print(f"round {index + 1} {checkout.name}: gateway {checkout.gateway_us[-1]:.1f} µs, workers "
                  f"{checkout.workers_us[-1]:.1f} µs per message; p50 {p50:.3f} ms, {rate:,.0f} msgs/s; "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    print(f"medians over {rounds} rounds, scenario {scenario}:")
    for checkout in checkouts:
        print(f"  {checkout.name}: gateway {statistics.median(checkout.gateway_us):.1f} µs, workers "
              f"{statistics.median(checkout.workers_us):.1f} µs per message; p50 {statistics.median(checkout.p50_ms):.3f} ms, "
              f"{statistics.median(checkout.rate):,.0f} msgs/s")  # fmt: skip
    first = checkouts[0]
    for other in checkouts[1:]:
        gateway = [b - a for a, b in zip(first.gateway_us, other.gateway_us)]
        workers = [b - a for a, b in zip(first.workers_us, other.workers_us)]
        p50_us = [(b - a) * 1000 for a, b in zip(first.p50_ms, other.p50_ms)]
        print(f"  {other.name} − {first.name}, per round: gateway {median_range(gateway)}, workers {median_range(workers)}, "
              f"p50 {median_range(p50_us)}")


def main(argv: list[str]) -> int:
    parser = checkouts_parser("python -m bench.cpu_ab", __doc__)
    parser.add_argument("--scenario", choices=["a", "b"], default="a",
                        help="a: sequential round trips on one connection; b: 50 connections at once")
    parser.add_argument("--rounds", type=int, default=8, help="rounds (each runs every checkout once)")
    parser.add_argument("--messages", type=int, default=6000, help="timed messages per run (b: in all)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop", help="the gateways' event loop")
    parser.add_argument("--server", choices=["gateway", "run-local"], default="gateway",
                        help="gateway: the bench's gateway child; run-local: the CLI, console output to a file")
    args = parser.parse_args(argv)  # fmt: skip
    roots = parse_checkouts(parser, args.checkouts)
    kind = RunLocalCheckout if args.server == "run-local" else Checkout
    with started(roots, lambda name, root: kind.start(name, root, args.loop)) as checkouts:
        asyncio.run(compare(checkouts, scenario=args.scenario, rounds=args.rounds, messages=args.messages))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
