"""Scenario e: idle connections, server memory per connection.

Each run starts fresh servers (memory a server freed after an earlier run would be
reused and flatter the next), warms each up with 100 connections that send one
message and go away, waits half a second, reads the server process's ``VmRSS`` (``/proc``), opens
``idle`` connections (default 5,000; handshake only, no keepalive pings, nothing
sent), waits for the server to settle, and reads ``VmRSS`` again. The figure is the
growth divided by the number of connections. For wsgw that is the gateway process
(its worker processes and moto are not per connection); for serverless-offline the
Node process.

File descriptors: the idle connections are held by client processes
(:mod:`bench.idle_clients`, ``--idle-per-client`` each, default 5,000), so only the
server needs one descriptor per connection. Each server raises its soft
``RLIMIT_NOFILE`` to the hard limit; a server whose limit leaves no room for
``idle`` more (the descriptors it already has, plus a margin of ``_FD_MARGIN``) is
measured at the largest count that fits, and the result says so (a hard limit of
20,000 cannot hold 20,000 connections and the server's own files).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import subprocess
import sys
import time
from typing import Any, AsyncIterator

from .clients import abort_all, open_connections
from .idle_clients import ERROR_PREFIX, OPEN_PREFIX
from .model import PEER, Figure, Goal, ScenarioResult
from .procstats import open_files, rss_kib
from .roundtrip import MESSAGE
from .servers import PROJECT_ROOT, stop_process
from .targets import Context, Endpoint, start_targets

_SETTLE_S = 0.5
_FD_MARGIN = 64  # descriptors a busy server may open meanwhile (a listening socket, a log, a worker's pipes)


def room_for(pid: int, wanted: int) -> tuple[int, str | None]:
    """How many more connections the server ``pid`` can take, at most ``wanted``,
    and why fewer (None: all of them)."""
    files = open_files(pid)
    if files is None:
        return wanted, None
    count, limit = files
    room = limit - count - _FD_MARGIN
    if room >= wanted:
        return wanted, None
    return max(room, 0), (f"its open-files limit is {limit:,} and it already has {count} descriptors open "
                          f"(+{_FD_MARGIN} kept free)")  # fmt: skip


@contextlib.asynccontextmanager
async def idle_clients(ctx: Context, url: str, count: int, *, concurrency: int,
                       timeout_s: float) -> AsyncIterator[float]:  # fmt: skip
    """Hold ``count`` idle connections to ``url`` in client processes of at most
    ``--idle-per-client`` each for the block; yields the seconds it took to open them."""
    processes_needed = max(1, math.ceil(count / ctx.options.get("idle_per_client", 5000)))
    shares = [count // processes_needed + (1 if i < count % processes_needed else 0) for i in range(processes_needed)]
    started = time.perf_counter()
    processes: list[asyncio.subprocess.Process] = []
    try:
        for share in shares:
            processes.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.idle_clients", url, str(share),
                "--concurrency", str(max(1, concurrency // len(shares))), "--timeout", str(timeout_s),
                "--loop", ctx.loop, cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            ))  # fmt: skip
        problems = []
        for process in processes:
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), timeout_s + 30)).decode(errors="replace").strip()
            if not line.startswith(OPEN_PREFIX):
                problems.append(line.removeprefix(ERROR_PREFIX) or f"a client process exited ({await process.wait()})")
        if problems:
            raise RuntimeError(f"idle clients failed: {'; '.join(problems)}")
        yield time.perf_counter() - started
    finally:
        await asyncio.gather(*(stop_process(process) for process in processes))


async def _measure(ctx: Context, target: str, endpoint: Endpoint, wanted: int) -> dict[str, Any]:
    concurrency = 10 if target == PEER else 100
    warm, _ = await open_connections(endpoint.url, 100, concurrency=concurrency, hello=MESSAGE)
    abort_all(warm)  # the message and close paths have run once too
    await asyncio.sleep(_SETTLE_S)
    count, limited_by = room_for(endpoint.pid, wanted)
    if count < 1:
        raise RuntimeError(f"{target} has no room for idle connections: {limited_by}")
    before = rss_kib(endpoint.pid)
    async with idle_clients(ctx, endpoint.url, count, concurrency=concurrency, timeout_s=60 + count * 0.05) as opened_s:
        await asyncio.sleep(_SETTLE_S)
        after = rss_kib(endpoint.pid)
    if before is None or after is None:
        raise RuntimeError(f"cannot read VmRSS of {target} (PID {endpoint.pid}) from /proc")
    return {"connections": count, "limited_by": limited_by, "rss_before_kib": before, "rss_after_kib": after,
            "kib_per_connection": (after - before) / count, "open_s": opened_s}  # fmt: skip


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
                run = await targets.attempt(target, _measure(ctx, target, endpoint, count))
                if run is None:
                    continue
                runs.setdefault(target, []).append(run)
                ctx.progress(f"e run {index + 1}/{ctx.runs} {target}: {run['kib_per_connection']:.2f} KiB per connection "
                             f"at {run['connections']:,} connections "
                             f"(VmRSS {run['rss_before_kib'] / 1024:.0f} → {run['rss_after_kib'] / 1024:.0f} MiB; "
                             f"opened in {run['open_s']:.1f} s)")  # fmt: skip
            missing.update(targets.missing)
        if PEER in missing:  # a peer that failed once is not started again
            ctx = Context(ctx.loop, ctx.runs, ctx.peer_problem or missing[PEER], ctx.options)
    metric = result.metric("memory per idle connection", "KiB", higher_is_better=False, decimals=2,
                           goal=Goal("≤ 6 KiB", 6.0))  # fmt: skip
    for target, target_runs in runs.items():
        metric.figures[target] = Figure(tuple(r["kib_per_connection"] for r in target_runs))
    metric.missing.update(missing)
    for target, target_runs in runs.items():
        counts = sorted({r["connections"] for r in target_runs})
        if counts != [count]:
            why = next(r["limited_by"] for r in target_runs if r["limited_by"])
            result.notes.append(f"{target}: measured at {', '.join(f'{c:,}' for c in counts)} connections, "
                                f"not {count:,}: {why}")  # fmt: skip
    result.details["runs"] = runs
    return result
