"""Scenario e: idle connections, server memory per connection.

Each run starts fresh servers (memory a server freed after an earlier run would be
reused and flatter the next), warms each up with 100 connections that send one
message and go away, waits half a second, reads the server process's ``VmRSS`` (``/proc``), opens
``idle`` connections (default 5,000; handshake only, no keepalive pings, nothing
sent), waits for the server to settle, and reads ``VmRSS`` again. The figure is the
growth divided by the number of connections. For wsgw that is the gateway process
(its worker processes and moto are not per connection); for serverless-offline the
Node process. File descriptors: this process and each server raise their soft
``RLIMIT_NOFILE`` to the hard limit; too low a hard limit is reported as EMFILE.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .clients import abort_all, open_connections, open_idle
from .model import PEER, Figure, Goal, ScenarioResult
from .procstats import rss_kib
from .roundtrip import MESSAGE
from .targets import Context, Endpoint, start_targets

_SETTLE_S = 0.5


async def _measure(target: str, endpoint: Endpoint, count: int) -> dict[str, Any]:
    concurrency = 10 if target == PEER else 100
    warm, _ = await open_connections(endpoint.url, 100, concurrency=concurrency, hello=MESSAGE)
    abort_all(warm)  # the message and close paths have run once too
    await asyncio.sleep(_SETTLE_S)
    before = rss_kib(endpoint.pid)
    started = time.perf_counter()
    connections = await open_idle(endpoint.url, count, concurrency=concurrency, timeout_s=60 + count * 0.05)
    opened_s = time.perf_counter() - started
    try:
        await asyncio.sleep(_SETTLE_S)
        after = rss_kib(endpoint.pid)
    finally:
        for transport in connections:
            transport.abort()
    if before is None or after is None:
        raise RuntimeError(f"cannot read VmRSS of {target} (PID {endpoint.pid}) from /proc")
    return {"rss_before_kib": before, "rss_after_kib": after, "kib_per_connection": (after - before) / count,
            "open_s": opened_s}  # fmt: skip


async def scenario(ctx: Context) -> ScenarioResult:
    count = ctx.options["idle"]
    result = ScenarioResult(
        "e", f"{count:,} idle connections: server RSS growth per connection",
        settings={"connections": count, "runs": ctx.runs, "settle_s": _SETTLE_S},
    )
    runs: dict[str, list[dict[str, Any]]] = {}
    missing: dict[str, str] = {}
    for index in range(ctx.runs):
        async with start_targets(ctx) as targets:
            for target, endpoint in targets.items():
                run = await targets.attempt(target, _measure(target, endpoint, count))
                if run is None:
                    continue
                runs.setdefault(target, []).append(run)
                ctx.progress(f"e run {index + 1}/{ctx.runs} {target}: {run['kib_per_connection']:.1f} KiB per connection "
                             f"(VmRSS {run['rss_before_kib'] / 1024:.0f} → {run['rss_after_kib'] / 1024:.0f} MiB; "
                             f"opened in {run['open_s']:.1f} s)")  # fmt: skip
            missing.update(targets.missing)
        if PEER in missing:  # a peer that failed once is not started again
            ctx = Context(ctx.loop, ctx.runs, ctx.peer_problem or missing[PEER], ctx.options)
    metric = result.metric("memory per idle connection", "KiB", higher_is_better=False, decimals=1,
                           goal=Goal("≤ 50 KB", 50 * 1000 / 1024))  # fmt: skip
    for target, target_runs in runs.items():
        metric.figures[target] = Figure(tuple(r["kib_per_connection"] for r in target_runs))
    metric.missing.update(missing)
    result.details["runs"] = runs
    return result
