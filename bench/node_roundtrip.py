"""Scenario h: scenario a's sequential round trips with a Node.js handler.

The same client, message and sizes as :mod:`bench.roundtrip`, against the bench's Node.js
echo (``bench/apps/echo_node``, CommonJS, ``nodejs20.x``) served by wsgw's Node worker and
by serverless-offline (``bench/peers/serverless-node.yml``: Node is serverless-offline's
own language, run in-process), beside the bare echo server. Scenario a has the Python
handler on both gateways, so the two scenarios together give wsgw-Python, wsgw-Node and
serverless-offline-Node side by side.
"""

from __future__ import annotations

from .model import Figure, ScenarioResult
from .roundtrip import MESSAGE, RunResult, measure_run
from .servers import PROJECT_ROOT
from .targets import Context, start_targets

NODE_APP = PROJECT_ROOT / "bench" / "apps" / "echo_node" / "wsgw.json"


async def scenario(ctx: Context) -> ScenarioResult:
    """Alternate timed runs between the targets; p50, p99 and msgs/s of each."""
    messages, warmup = ctx.options["messages"], ctx.options["warmup"]
    result = ScenarioResult(
        "h", "sequential round trips, one connection, two-way route, trivial Node.js handler",
        settings={"messages": messages, "warmup": warmup, "runs": ctx.runs, "message": MESSAGE},
    )
    timeout_s = 30.0 + (warmup + messages) * 0.02
    runs: dict[str, list[RunResult]] = {}
    async with start_targets(ctx, app=NODE_APP, peer_config="serverless-node.yml") as targets:
        for index in range(ctx.runs):
            for target, endpoint in targets.items():
                run = await targets.attempt(
                    target, measure_run(target, endpoint.url, messages=messages, warmup=warmup, timeout_s=timeout_s)
                )
                if run is None:
                    continue
                runs.setdefault(target, []).append(run)
                ctx.progress(f"h run {index + 1}/{ctx.runs} {target}: p50 {run.p50_ms:.3f} ms, {run.msgs_per_s:,.0f} msgs/s")
    p50 = result.metric("p50 latency", "ms", higher_is_better=False)
    p99 = result.metric("p99 latency", "ms", higher_is_better=False)
    rate = result.metric("throughput", "msgs/s", higher_is_better=True, decimals=0)
    for target, target_runs in runs.items():
        p50.figures[target] = Figure(tuple(r.p50_ms for r in target_runs))
        p99.figures[target] = Figure(tuple(r.p99_ms for r in target_runs))
        rate.figures[target] = Figure(tuple(r.msgs_per_s for r in target_runs))
    for metric in (p50, p99, rate):
        metric.missing.update(targets.missing)
    return result
