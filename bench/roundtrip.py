"""Scenario a: sequential round trips on one WebSocket connection.

One run opens a connection, sends the same 44-byte JSON text message ``warmup``
times untimed, then ``messages`` times timed: each round trip is send, then wait
for the reply, then the next, so there is never more than one message in flight.
Each round trip is timed with ``time.perf_counter_ns`` from just before the send to
just after the reply arrived; the run's throughput is ``messages`` divided by the
wall time of the timed loop. Client overhead (this process's websockets client) is
part of every figure, for every target alike. Around each run the CPU time of the
server process and of its handler processes (wsgw's workers, serverless-offline's
Python processes, the floor's children; not the embedded moto, idle here) is read
from ``/proc`` and divided by every message of the run, untimed ones included.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Sequence

from websockets.asyncio.client import ClientConnection, connect

from .model import Figure, Goal, ScenarioResult, floor_notes, run_local_notes
from .procstats import cpu_by_group
from .targets import Context, Targets, shared_targets

# Any message goes to $default; "action" keeps it realistic for route selection.
MESSAGE = '{"action":"echo","payload":"xxxxxxxxxxxxxx"}'
assert len(MESSAGE.encode()) == 44


class UnexpectedReply(Exception):
    """The server answered something other than the message it was sent."""


@dataclass(frozen=True)
class RunResult:
    """One run against one target: latency percentiles and throughput."""

    target: str
    messages: int
    p50_ms: float
    p99_ms: float
    msgs_per_s: float
    elapsed_s: float


def percentile_ns(sorted_samples: Sequence[int], percent: float) -> int:
    """Nearest-rank percentile of already sorted samples."""
    rank = max(1, math.ceil(percent / 100 * len(sorted_samples)))
    return sorted_samples[rank - 1]


async def measure_run(target: str, url: str, *, messages: int, warmup: int, timeout_s: float) -> RunResult:
    """Open a connection to ``url``, warm up, time ``messages`` round trips, close.

    Raises :class:`UnexpectedReply`, ``TimeoutError`` if the whole run takes longer
    than ``timeout_s``, or websockets' errors if the connection fails.
    """
    async with asyncio.timeout(timeout_s):
        # Same wire for every target: no compression, no keepalive pings mid-run.
        async with connect(url, compression=None, ping_interval=None) as connection:
            await _round_trips(connection, warmup)
            samples, elapsed_ns = await _round_trips(connection, messages)
    samples.sort()
    return RunResult(
        target=target,
        messages=messages,
        p50_ms=percentile_ns(samples, 50) / 1e6,
        p99_ms=percentile_ns(samples, 99) / 1e6,
        msgs_per_s=messages / (elapsed_ns / 1e9),
        elapsed_s=elapsed_ns / 1e9,
    )


async def _round_trips(connection: ClientConnection, count: int) -> tuple[list[int], int]:
    """``count`` sequential round trips; returns each one's duration and the total (ns)."""
    samples = [0] * count
    clock = time.perf_counter_ns
    started = clock()
    for index in range(count):
        sent = clock()
        await connection.send(MESSAGE)
        reply = await connection.recv()
        samples[index] = clock() - sent
        if reply != MESSAGE:
            raise UnexpectedReply(f"sent {MESSAGE!r}, got {reply!r}")
    return samples, clock() - started


async def scenario(ctx: Context) -> ScenarioResult:
    """Alternate timed runs between the targets; p50, p99 and msgs/s of each."""
    async with shared_targets(ctx) as targets:
        return await measure_scenario(
            ctx, targets, "a", "sequential round trips, one connection, two-way route, trivial Python handler",
            p50_goal=Goal("p50 ≤ 2.0× bare", 2.0, relative=True),  # issue 18
        )


async def measure_scenario(ctx: Context, targets: Targets, key: str, title: str, *,
                           p50_goal: Goal | None = None) -> ScenarioResult:
    """Scenario ``key``'s sequential round trips on ``targets`` (already running), the
    runs alternating between them: p50, p99 and msgs/s of each. Scenario h (the Node.js
    handler, bench/node_roundtrip.py) measures the same way on other targets."""
    messages, warmup = ctx.options["messages"], ctx.options["warmup"]
    result = ScenarioResult(key, title, settings={"messages": messages, "warmup": warmup, "runs": ctx.runs,
                                                  "message": MESSAGE})
    timeout_s = 30.0 + (warmup + messages) * 0.02
    runs: dict[str, list[RunResult]] = {}
    # target -> (server, handler processes or None if it has none) per run
    cpu_us: dict[str, list[tuple[float, float | None]]] = {}
    for index in range(ctx.runs):
        for target, endpoint in targets.items(extras=True):
            before = cpu_by_group(endpoint.pid, _CPU_GROUPS, own=False)
            run = await targets.attempt(
                target, measure_run(target, endpoint.url, messages=messages, warmup=warmup, timeout_s=timeout_s)
            )
            if run is None:
                continue
            used = cpu_by_group(endpoint.pid, _CPU_GROUPS, own=False).minus(before)
            per_message = 1e6 / (messages + warmup)
            handlers_s = used.get(_HANDLERS)
            cpu_us.setdefault(target, []).append((used.get("server", 0.0) * per_message,
                                                  None if handlers_s is None else handlers_s * per_message))
            runs.setdefault(target, []).append(run)
            ctx.progress(f"{key} run {index + 1}/{ctx.runs} {target}: p50 {run.p50_ms:.3f} ms, {run.msgs_per_s:,.0f} msgs/s")
    p50 = result.metric("p50 latency", "ms", higher_is_better=False, goal=p50_goal)
    p99 = result.metric("p99 latency", "ms", higher_is_better=False)
    rate = result.metric("throughput", "msgs/s", higher_is_better=True, decimals=0)
    for target, target_runs in runs.items():
        p50.figures[target] = Figure(tuple(r.p50_ms for r in target_runs))
        p99.figures[target] = Figure(tuple(r.p99_ms for r in target_runs))
        rate.figures[target] = Figure(tuple(r.msgs_per_s for r in target_runs))
    server = result.metric("server CPU per message", "µs", higher_is_better=False, decimals=0)
    handlers = result.metric("handler processes CPU per message", "µs", higher_is_better=False, decimals=0)
    for target, values in cpu_us.items():
        server.figures[target] = Figure(tuple(s for s, _ in values))
        handler_runs = tuple(h for _, h in values if h is not None)
        if len(handler_runs) == len(values):
            handlers.figures[target] = Figure(handler_runs)
        else:  # the bare server; serverless-offline's Node.js handlers (worker threads)
            handlers.missing[target] = "no handler processes (it answers in its own process)"
    for metric in (p50, p99, rate, server, handlers):
        metric.missing.update(targets.missing)
    result.notes += floor_notes(p50, rate, server, handlers)
    result.notes += run_local_notes(p50, rate, server, handlers)
    return result


# How the CPU of a server's descendants is grouped: the embedded moto apart (idle in
# these scenarios), everything else is a handler process.
_HANDLERS = "handler processes"
_CPU_GROUPS = {"emulator.aws.embedded": "moto", "": _HANDLERS}
