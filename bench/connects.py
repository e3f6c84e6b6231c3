"""Scenario c's second part: connects/s when there is no ``$connect`` route.

The bench app (``bench/apps/echo``) has no ``$connect`` and no ``$disconnect`` route,
which AWS allows: accepting a connection then runs no handler, so what is timed is
the gateway's own handshake and close path against the bare ``websockets`` server's.
``clients`` concurrent clients (default 10) loop: open a connection (the opening
handshake), close it (the client waits for the closing handshake), ``cycles`` times
in all per run (default 300), after an untimed warm-up of three per client.
Beside connects/s (which the bench client's own CPU and the machine's load bound too),
the server's CPU per connect, read from ``/proc`` around each run: the server process
and its children (serverless-offline's Python handler processes), which load on a
shared machine distorts far less than the rate.

serverless-offline refuses connections without a ``$connect`` route (HTTP 502), so
its figure has its bench app's trivial ``echo.connect`` in it: one Python handler
invocation per connect (said in the notes).
"""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import connect

from .model import PEER, Figure, Goal, ScenarioResult
from .procstats import cpu_by_group
from .targets import Context, Endpoint, shared_targets

LABEL = "connects/s, no $connect route"


async def connect_close(url: str, *, clients: int, cycles: int) -> float:
    """``cycles`` open/close cycles from ``clients`` concurrent clients; returns cycles/s."""
    remaining = [cycles]

    async def client() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            async with connect(url, compression=None, ping_interval=None, close_timeout=10):
                pass

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return cycles / (time.perf_counter() - started)


def _server_cpu_s(endpoint: Endpoint) -> float:
    return sum(cpu_by_group(endpoint.pid, {}, own=False).seconds.values())


async def _timed_run(endpoint: Endpoint, *, clients: int, cycles: int) -> tuple[float, float]:
    """One run: connects/s and the server's CPU ms per connect."""
    before = _server_cpu_s(endpoint)
    rate = await asyncio.wait_for(connect_close(endpoint.url, clients=clients, cycles=cycles), 60 + cycles * 0.1)
    return rate, (_server_cpu_s(endpoint) - before) * 1000 / cycles


async def measure(ctx: Context, result: ScenarioResult) -> None:
    """Add the connects/s figure of each target to ``result`` (scenario c)."""
    clients, cycles = ctx.options["clients"], ctx.options["cycles"]
    result.settings["connects_per_run"] = cycles
    runs: dict[str, list[tuple[float, float]]] = {}
    async with shared_targets(ctx) as targets:
        for target, endpoint in targets.items():
            await targets.attempt(target, connect_close(endpoint.url, clients=clients, cycles=clients * 3))
        for index in range(ctx.runs):
            for target, endpoint in targets.items():
                run = await targets.attempt(target, _timed_run(endpoint, clients=clients, cycles=cycles))
                if run is None:
                    continue
                runs.setdefault(target, []).append(run)
                ctx.progress(f"c connects run {index + 1}/{ctx.runs} {target}: {run[0]:,.0f} connects/s, "
                             f"server CPU {run[1]:.3f} ms per connect")  # fmt: skip
        missing = dict(targets.missing)
    metric = result.metric(LABEL, "connects/s", higher_is_better=True, decimals=0,
                           goal=Goal("≥ 95 % of bare", 0.95, relative=True))  # fmt: skip
    cpu = result.metric("server CPU per connect, no $connect route", "ms", higher_is_better=False, decimals=3)
    for target, target_runs in runs.items():
        metric.figures[target] = Figure(tuple(rate for rate, _ in target_runs))
        cpu.figures[target] = Figure(tuple(ms for _, ms in target_runs))
    metric.missing.update(missing)
    cpu.missing.update(missing)
    if PEER in runs:
        result.notes.append(f"{PEER}: its connects include a $connect handler (it refuses connections without one)")
