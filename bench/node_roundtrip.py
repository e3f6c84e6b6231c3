"""Scenario h: scenario a's sequential round trips with a Node.js handler.

The same client, message and sizes as :mod:`bench.roundtrip`, against the bench's Node.js
echo (``bench/apps/echo_node``, CommonJS, ``nodejs20.x``) served by wsgw's Node worker and
by serverless-offline (``bench/peers/serverless-node.yml``: Node is serverless-offline's
own language, run in-process), beside the bare echo server. Scenario a has the Python
handler on both gateways, so the two scenarios together give wsgw-Python, wsgw-Node and
serverless-offline-Node side by side.
"""

from __future__ import annotations

from .model import ScenarioResult
from .roundtrip import measure_scenario
from .servers import PROJECT_ROOT
from .targets import Context, start_targets

NODE_APP = PROJECT_ROOT / "bench" / "apps" / "echo_node" / "wsgw.json"


async def scenario(ctx: Context) -> ScenarioResult:
    """Alternate timed runs between the targets; p50, p99 and msgs/s of each."""
    async with start_targets(ctx, app=NODE_APP, peer_config="serverless-node.yml") as targets:
        return await measure_scenario(
            ctx, targets, "h", "sequential round trips, one connection, two-way route, trivial Node.js handler")
