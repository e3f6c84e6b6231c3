"""Scenario b: many connections at once, each doing sequential round trips.

``connections`` clients (default 50) connect first (untimed), then each does
``warmup`` round trips (untimed: it lets wsgw and serverless-offline start the
worker processes this concurrency needs), then all start together and each does
``messages`` round trips (default 200), one in flight per connection. Throughput is
all timed messages over the wall time from the common start to the last reply;
p50/p99 are over every round trip of every connection.
"""

from __future__ import annotations

import asyncio
import math
import time

from websockets.asyncio.client import ClientConnection

from .clients import abort_all, open_connections
from .model import Figure, Goal, ScenarioResult, floor_notes, run_local_notes
from .roundtrip import MESSAGE, RunResult, UnexpectedReply, percentile_ns
from .targets import Context, shared_targets


async def measure_concurrent(target: str, url: str, *, connections: int, messages: int, warmup: int,
                             timeout_s: float) -> RunResult:  # fmt: skip
    # Connection set-up is not timed; 10 at a time keeps serverless-offline, which
    # starts a Python process per concurrent $connect, within its Lambda timeout.
    opened, _ = await open_connections(url, connections, concurrency=10)
    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(_round_trips(c, warmup, None) for c in opened))
            samples: list[int] = []
            start = asyncio.Event()
            tasks = [asyncio.create_task(_round_trips(c, messages, start)) for c in opened]
            started = time.perf_counter_ns()
            start.set()
            for per_connection in await asyncio.gather(*tasks):
                samples += per_connection
            elapsed_ns = time.perf_counter_ns() - started
    finally:
        abort_all(opened)
    samples.sort()
    total = len(samples)
    return RunResult(
        target=target, messages=total, p50_ms=percentile_ns(samples, 50) / 1e6,
        p99_ms=percentile_ns(samples, 99) / 1e6, msgs_per_s=total / (elapsed_ns / 1e9), elapsed_s=elapsed_ns / 1e9,
    )  # fmt: skip


async def _round_trips(connection: ClientConnection, count: int, start: asyncio.Event | None) -> list[int]:
    if start is not None:
        await start.wait()
    samples = [0] * count
    clock = time.perf_counter_ns
    for index in range(count):
        sent = clock()
        await connection.send(MESSAGE)
        reply = await connection.recv()
        samples[index] = clock() - sent
        if reply != MESSAGE:
            raise UnexpectedReply(f"sent {MESSAGE!r}, got {reply!r}")
    return samples


async def scenario(ctx: Context) -> ScenarioResult:
    connections, messages = ctx.options["connections"], ctx.options["concurrent_messages"]
    warmup = max(5, math.ceil(messages / 10))
    result = ScenarioResult(
        "b", f"{connections} concurrent connections × {messages} sequential round trips each",
        settings={"connections": connections, "messages_per_connection": messages, "warmup_per_connection": warmup,
                  "runs": ctx.runs, "message": MESSAGE},
    )  # fmt: skip
    timeout_s = 60.0 + connections * (messages + warmup) * 0.01
    runs: dict[str, list[RunResult]] = {}
    async with shared_targets(ctx) as targets:
        for index in range(ctx.runs):
            for target, endpoint in targets.items(extras=True):
                run = await targets.attempt(target, measure_concurrent(
                    target, endpoint.url, connections=connections, messages=messages, warmup=warmup,
                    timeout_s=timeout_s,
                ))  # fmt: skip
                if run is None:
                    continue
                runs.setdefault(target, []).append(run)
                ctx.progress(f"b run {index + 1}/{ctx.runs} {target}: {run.msgs_per_s:,.0f} msgs/s, p99 {run.p99_ms:.2f} ms")
    rate = result.metric("throughput", "msgs/s", higher_is_better=True, decimals=0,
                         goal=Goal("≥ 45 % of bare msgs/s", 0.45, relative=True))  # fmt: skip (issue 18)
    p50 = result.metric("p50 latency", "ms", higher_is_better=False, decimals=2)
    p99 = result.metric("p99 latency", "ms", higher_is_better=False, decimals=2)
    for target, target_runs in runs.items():
        rate.figures[target] = Figure(tuple(r.msgs_per_s for r in target_runs))
        p50.figures[target] = Figure(tuple(r.p50_ms for r in target_runs))
        p99.figures[target] = Figure(tuple(r.p99_ms for r in target_runs))
    for metric in (rate, p50, p99):
        metric.missing.update(targets.missing)
    result.notes += floor_notes(rate, p50)
    result.notes += run_local_notes(rate, p50)
    return result
