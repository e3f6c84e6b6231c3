"""Scenario c: connect → whoAmI → disconnect cycles of the bundled chat app.

``clients`` concurrent clients (default 10) each loop: open a connection (wsgw runs
``$connect``, whose handler writes the connection's row to DynamoDB in moto), send
``{"action":"whoAmI"}`` and wait for the two-way reply (the connection id), close
(the client waits for the closing handshake; ``$disconnect`` then deletes the row).
A run is ``cycles`` cycles (default 300) after an untimed warm-up that starts the
worker processes this concurrency needs; it ends when the last client is done *and*
the last ``$disconnect`` has finished (wsgw: its observer hook; serverless-offline:
the table is empty again), so the disconnects' DynamoDB writes are inside the time.

Where the time goes (wsgw, per cycle, from the same run): CPU time of each process
group (gateway, handler workers, moto, this client; read from ``/proc``), which on
a 2-core machine is what bounds throughput, and the wall time of each invocation as
the gateway observes it (pipe to the worker and back) and as the worker's ``REPORT``
line has it (the handler alone, i.e. boto3 + the HTTP round trip to moto + moto).
serverless-offline serves the very same handler files (``bench/peers/serverless-chat.yml``)
against its own moto server, started here the way wsgw starts its embedded one.
The figures: cycles/s, the cycle's p50, the gateway's (serverless-offline: node's) plus
moto's CPU per cycle and the handler workers' apart; then :mod:`bench.connects` adds
connects/s against the bench app, which has no ``$connect`` route.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import Any, Callable

from websockets.asyncio.client import connect

from emulator.aws.embedded import EmbeddedAws, create_tables
from emulator.core.credentials import DUMMY_CREDENTIALS
from emulator.template.loader import load_model

from . import connects
from .bundled import HANDLERS_DIR, ensure_synth
from .model import BARE, PEER, WSGW, Figure, Goal, ScenarioResult
from .procstats import cpu_by_group, cpu_seconds
from .roundtrip import UnexpectedReply, percentile_ns
from .targets import Context, Endpoint, Targets, start_targets

MESSAGE = '{"action":"whoAmI"}'
_GROUPS = {"worker.py": "handler workers", "emulator.aws.embedded": "moto", "invoke.py": "handler workers"}
_SERVER_GROUP = {BARE: "bare server", WSGW: "gateway", PEER: "node (serverless-offline)"}


def _validator(target: str) -> Callable[[str], None]:
    def check(reply: str) -> None:
        good = reply == MESSAGE if target == BARE else bool(reply) and not reply.startswith("{")
        if not good:
            raise UnexpectedReply(f"{target} answered whoAmI with {reply!r}")

    return check


async def run_cycles(url: str, *, clients: int, cycles: int, check: Callable[[str], None]) -> list[int]:
    """``cycles`` connect/whoAmI/close cycles from ``clients`` concurrent clients;
    returns each cycle's duration (ns)."""
    remaining = [cycles]
    samples: list[int] = []

    async def client() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            started = time.perf_counter_ns()
            async with connect(url, compression=None, ping_interval=None, close_timeout=10) as connection:
                await connection.send(MESSAGE)
                reply = await connection.recv()
            samples.append(time.perf_counter_ns() - started)
            check(reply if isinstance(reply, str) else reply.decode())

    await asyncio.gather(*(client() for _ in range(clients)))
    return samples


class _Table:
    """A DynamoDB table in moto, polled to learn when every $disconnect is done."""

    def __init__(self, endpoint_url: str, table: str, region: str) -> None:
        import boto3

        self.client: Any = boto3.client(
            "dynamodb", endpoint_url=endpoint_url, region_name=region,
            aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing",
        )  # fmt: skip
        self.table = table

    async def wait_empty(self, timeout_s: float) -> float:
        """Poll (every 10 ms) until the table has no rows; returns time.monotonic() then."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            count = await asyncio.to_thread(lambda: self.client.scan(TableName=self.table, Select="COUNT")["Count"])
            if count == 0:
                return time.monotonic()
            await asyncio.sleep(0.01)
        raise TimeoutError(f"table {self.table} still had rows {timeout_s:g} s after the last cycle")


async def _wsgw_disconnects_done(endpoint: Endpoint, cycles: int, timeout_s: float) -> tuple[float, dict[str, Any]]:
    """Wait until the gateway has observed ``cycles`` $disconnect invocations since the
    last reset; returns the time.monotonic() of the last one and the stats."""
    assert endpoint.server is not None
    deadline = time.monotonic() + timeout_s
    while True:
        stats: dict[str, Any] = await endpoint.server.query("stats")
        done = stats["routes"].get("$disconnect", {}).get("count", 0)
        if done >= cycles:
            return float(stats["routes"]["$disconnect"]["last_end_monotonic"]), stats
        if time.monotonic() > deadline:
            raise TimeoutError(f"wsgw ran {done} of {cycles} $disconnect invocations in time")
        await asyncio.sleep(0.01)


def _cpu(target: str, endpoint: Endpoint, moto_pid: int | None) -> dict[str, float]:
    sample = cpu_by_group(endpoint.pid, _GROUPS).seconds
    sample[_SERVER_GROUP[target]] = sample.pop("server")
    if moto_pid is not None:
        sample["moto"] = sample.get("moto", 0.0) + (cpu_seconds(moto_pid) or 0.0)
    return sample


async def _warm_up(target: str, endpoint: Endpoint, table: _Table | None, *, clients: int) -> None:
    """Untimed cycles that start the workers this concurrency needs, then the wait for
    their ``$disconnect`` invocations to end, as after a timed run: serverless-offline
    starts a Python process for each, and one still running them made the next
    target's first run (the bare server's) 20 times slower."""
    cycles = clients * 3
    if endpoint.server is not None and target == WSGW:
        await endpoint.server.query("reset")
    await run_cycles(endpoint.url, clients=clients, cycles=cycles, check=_validator(target))
    if endpoint.server is not None and target == WSGW:
        await _wsgw_disconnects_done(endpoint, cycles, 30.0)
    elif target == PEER and table is not None:
        await table.wait_empty(60.0)


async def _measure(ctx: Context, targets: Targets, target: str, endpoint: Endpoint, table: _Table | None,
                   moto_pid: int | None) -> dict[str, Any]:  # fmt: skip
    clients, cycles = ctx.options["clients"], ctx.options["cycles"]
    check = _validator(target)
    async with asyncio.timeout(120 + cycles * 0.2):
        if endpoint.server is not None and target == WSGW:
            await endpoint.server.query("reset")
        before = _cpu(target, endpoint, moto_pid)
        started = time.monotonic()
        samples = await run_cycles(endpoint.url, clients=clients, cycles=cycles, check=check)
        clients_done = time.monotonic()
        stats: dict[str, Any] = {}
        if target == WSGW:
            last_disconnect, stats = await _wsgw_disconnects_done(endpoint, cycles, 30.0)
        elif target == PEER:
            assert table is not None
            last_disconnect = await table.wait_empty(30.0)
        else:
            last_disconnect = clients_done
        ended = max(clients_done, last_disconnect)
        after = _cpu(target, endpoint, moto_pid)
    samples.sort()
    cpu_ms = {group: (after[group] - before.get(group, 0.0)) * 1000 / cycles for group in after}
    return {
        "cycles_per_s": cycles / (ended - started), "elapsed_s": ended - started,
        "disconnect_tail_s": max(0.0, last_disconnect - clients_done),
        "p50_ms": percentile_ns(samples, 50) / 1e6, "p99_ms": percentile_ns(samples, 99) / 1e6,
        "cpu_ms_per_cycle": cpu_ms, "gateway_stats": stats,
    }  # fmt: skip


def _breakdown(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of the per-cycle CPU by group and of the invocation times."""
    groups = sorted({group for run in runs for group in run["cpu_ms_per_cycle"]})
    cpu = {group: statistics.median(run["cpu_ms_per_cycle"].get(group, 0.0) for run in runs) for group in groups}
    out: dict[str, Any] = {"cpu_ms_per_cycle": cpu, "cpu_ms_per_cycle_total": sum(cpu.values())}
    stats = [run["gateway_stats"] for run in runs if run["gateway_stats"]]
    if stats:
        routes = sorted({key for s in stats for key in s["routes"]})
        out["invocation_mean_ms"] = {
            key: statistics.median(s["routes"][key]["mean_ms"] for s in stats if key in s["routes"]) for key in routes
        }
        functions = sorted({name for s in stats for name in s["handler_ms"]})
        out["handler_mean_ms"] = {
            name: statistics.median(s["handler_ms"][name]["mean_ms"] for s in stats if name in s["handler_ms"])
            for name in functions
        }
    return out


def _describe(target: str, breakdown: dict[str, Any], cycles_per_s: float) -> list[str]:
    cpu = breakdown["cpu_ms_per_cycle"]
    parts = ", ".join(f"{group} {ms:.2f}" for group, ms in sorted(cpu.items(), key=lambda kv: -kv[1]))
    lines = [f"{target}: CPU ms per cycle: {parts} (total {breakdown['cpu_ms_per_cycle_total']:.2f}; "
             f"2 cores allow at most {2000 / breakdown['cpu_ms_per_cycle_total']:.0f} cycles/s at this cost, "
             f"measured {cycles_per_s:.0f})"]  # fmt: skip
    if "invocation_mean_ms" in breakdown:
        inv = ", ".join(f"{k} {v:.2f}" for k, v in breakdown["invocation_mean_ms"].items())
        handler = ", ".join(f"{k} {v:.2f}" for k, v in breakdown["handler_mean_ms"].items())
        lines.append(f"{target}: invocation wall time, mean ms (gateway → worker → gateway): {inv}")
        lines.append(f"{target}: of which in the handler (REPORT Duration; boto3 + moto for the DynamoDB writes): {handler}")
    return lines


async def scenario(ctx: Context) -> ScenarioResult:
    clients, cycles = ctx.options["clients"], ctx.options["cycles"]
    result = ScenarioResult(
        "c", f"connect → whoAmI → disconnect cycles of the bundled app, {clients} concurrent clients",
        settings={"clients": clients, "cycles_per_run": cycles, "runs": ctx.runs, "message": MESSAGE},
    )
    ctx.progress("c: synthesizing the bundled app (cached after the first time)")
    assembly = await ensure_synth()
    model = load_model(assembly)
    table_name = model.tables[0].table_name
    moto = EmbeddedAws()  # serverless-offline's DynamoDB, as wsgw's embedded one
    table: _Table | None = None
    peer_env: dict[str, str] = {}
    if ctx.peer_problem is None:
        await moto.start()
        await asyncio.to_thread(create_tables, model.tables, endpoint_url=moto.endpoint_url, region=model.region)
        table = _Table(moto.endpoint_url, table_name, model.region)
        peer_env = {
            **DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": moto.endpoint_url, "AWS_REGION": model.region,
            "AWS_DEFAULT_REGION": model.region, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true", "CONNECTIONS_TABLE": table_name, "PYTHONPATH": str(HANDLERS_DIR),
        }  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        async with start_targets(ctx, app=assembly, peer_config="serverless-chat.yml", peer_env=lambda: peer_env) as targets:
            for target, endpoint in targets.items():
                await targets.attempt(target, _warm_up(target, endpoint, table, clients=clients))
            for index in range(ctx.runs):
                for target, endpoint in targets.items():
                    moto_pid = moto.process.pid if target == PEER and moto.process is not None else None
                    run = await targets.attempt(target, _measure(ctx, targets, target, endpoint, table, moto_pid))
                    if run is None:
                        continue
                    runs.setdefault(target, []).append(run)
                    ctx.progress(f"c run {index + 1}/{ctx.runs} {target}: {run['cycles_per_s']:.0f} cycles/s, "
                                 f"p50 {run['p50_ms']:.1f} ms")  # fmt: skip
            missing = dict(targets.missing)
    finally:
        await moto.stop()
    rate = result.metric("cycles/s", "cycles/s", higher_is_better=True, decimals=0,
                         goal=Goal("≥ 200 cycles/s", 200))  # fmt: skip
    p50 = result.metric("cycle latency p50", "ms", higher_is_better=False, decimals=2)
    # Issue 18's figure: what the gateway (serverless-offline: its node process) and moto
    # cost per cycle, with the handlers' own share (boto3 in the workers) beside it.
    ours = result.metric("gateway + moto CPU per cycle", "ms", higher_is_better=False, decimals=2,
                         goal=Goal("≤ 3.5 ms", 3.5))  # fmt: skip
    handlers = result.metric("handler workers CPU per cycle", "ms", higher_is_better=False, decimals=2)
    for target, target_runs in runs.items():
        rate.figures[target] = Figure(tuple(r["cycles_per_s"] for r in target_runs))
        p50.figures[target] = Figure(tuple(r["p50_ms"] for r in target_runs))
        if target != BARE:
            cpu = [r["cpu_ms_per_cycle"] for r in target_runs]
            ours.figures[target] = Figure(tuple(c.get(_SERVER_GROUP[target], 0.0) + c.get("moto", 0.0) for c in cpu))
            handlers.figures[target] = Figure(tuple(c.get("handler workers", 0.0) for c in cpu))
            breakdown = _breakdown(target_runs)
            result.details[f"breakdown_{target}"] = breakdown
            result.notes += _describe(target, breakdown, rate.figures[target].median)
    result.details["runs"] = runs
    for metric in (rate, p50):
        metric.missing.update(missing)
    for metric in (ours, handlers):
        metric.missing.update({BARE: "no gateway, moto or handlers", **missing})
    await connects.measure(ctx, result)
    return result
