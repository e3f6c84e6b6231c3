"""``python -m bench``: wsgw's benchmarks, each next to a bare echo server (the ceiling)
and serverless-offline (the peer).

Scenarios (``--scenario a,b,...``; default: all):

a. sequential round trips on one connection (two-way ``$default``, trivial Python
   handler): p50/p99 latency and msgs/s (:mod:`bench.roundtrip`);
b. 50 concurrent connections × 200 round trips: msgs/s and p99 (:mod:`bench.concurrent`);
c. connect → whoAmI → disconnect cycles of the bundled chat app with 10 concurrent
   clients (DynamoDB writes in moto included): cycles/s and where the time goes
   (:mod:`bench.cycles`); and connects/s to the bench app, which has no ``$connect``
   route (:mod:`bench.connects`);
d. fan-out: one PostToConnection per connection to 1,000 open connections from a
   broadcast handler: time until all have received (:mod:`bench.broadcast`);
e. 5,000 idle connections (``--idle``, held by client processes): server RSS per
   connection (:mod:`bench.idle`);
f. start-up of the real ``wsgw run-local`` until it accepts connections, and hot
   reload from saving a handler to the new code answering (:mod:`bench.startup`).
g. the pytest plugin: ``pytest`` start to the first test body, and the overhead between
   tests (:mod:`bench.plugin_startup`).
h. scenario a with a Node.js handler: wsgw's Node worker beside serverless-offline's
   in-process Node (:mod:`bench.node_roundtrip`).

Every server runs in its own process; the clients run in this one. Prints a table
(medians of ``--runs`` runs, ratios, the issue's goals met or not) and writes every
figure to ``bench/results/bench-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable

from websockets.exceptions import WebSocketException

from emulator.net import event_loop
from emulator.net.event_loop import resolve as resolve_loop

from . import broadcast, concurrent, cycles, idle, node_roundtrip, plugin_startup, roundtrip, startup
from .clients import OpenFilesLimit, ensure_open_files
from .lifecycle import raise_open_files_limit
from .model import ScenarioResult
from .peer import peer_problem, versions
from .report import build_document, format_markdown, format_report, load_average, machine_info, table_rows, write_document
from .servers import PROJECT_ROOT, ServerQueryError, ServerStartError
from .targets import Context

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"

Scenario = Callable[[Context], Awaitable[ScenarioResult]]
SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "a": ("sequential round trips", roundtrip.scenario),
    "b": ("concurrent connections", concurrent.scenario),
    "c": ("connect/whoAmI/disconnect cycles of the bundled app", cycles.scenario),
    "d": ("fan-out to open connections", broadcast.scenario),
    "e": ("idle connections: memory", idle.scenario),
    "f": ("start-up and hot reload", startup.scenario),
    "g": ("the pytest plugin: start-up and per-test overhead", plugin_startup.scenario),
    "h": ("sequential round trips with a Node.js handler", node_roundtrip.scenario),
}


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``low``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its "invalid ... value" message
    return parse


def _scenarios(text: str) -> list[str]:
    keys = [key.strip().lower() for key in text.split(",") if key.strip()]
    unknown = [key for key in keys if key not in SCENARIOS]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SCENARIOS)} (got {text!r})")
    return sorted(set(keys))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="wsgw's benchmarks next to a bare websockets echo server (the ceiling) and "
                    "serverless-offline (the peer, if installed in bench/peers). Scenarios: "
                    + "; ".join(f"{key} = {name}" for key, (name, _) in SCENARIOS.items()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--scenario", type=_scenarios, default=list(SCENARIOS), metavar="LIST",
                        help="comma-separated scenarios to run, e.g. b,c")
    parser.add_argument("--runs", type=_at_least(1), default=3, metavar="N", help="timed runs per target and figure")
    parser.add_argument("--no-peer", action="store_true", help="do not run serverless-offline")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto",
                        help="event loop of the servers and of this client; auto = uvloop when installed, as run-local")
    sizes = parser.add_argument_group("sizes")
    sizes.add_argument("--messages", type=_at_least(1), default=2000, metavar="N", help="a: timed round trips per run")
    sizes.add_argument("--warmup", type=_at_least(0), default=200, metavar="N", help="a: untimed round trips first")
    sizes.add_argument("--connections", type=_at_least(1), default=50, metavar="N", help="b: concurrent connections")
    sizes.add_argument("--concurrent-messages", type=_at_least(1), default=200, metavar="N",
                       help="b: round trips per connection")
    sizes.add_argument("--clients", type=_at_least(1), default=10, metavar="N", help="c: concurrent clients")
    sizes.add_argument("--cycles", type=_at_least(1), default=300, metavar="N", help="c: cycles per run")
    sizes.add_argument("--fanout", type=_at_least(1), default=1000, metavar="N", help="d: receiving connections")
    sizes.add_argument("--fanout-threads", type=_at_least(1), default=1, metavar="N",
                       help="d: threads the broadcast handler posts from (1: a plain loop)")
    sizes.add_argument("--idle", type=_at_least(1), default=5000, metavar="N",
                       help="e: idle connections (fewer if a server's open-files limit has no room: the result says so)")
    sizes.add_argument("--idle-per-client", type=_at_least(1), default=5000, metavar="N",
                       help="e: idle connections per client process")
    sizes.add_argument("--plugin-tests", type=_at_least(2), default=20, metavar="N", help="g: tests in the pytest run")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="where to write the JSON results (default: bench/results/bench-<timestamp>.json)")
    return parser.parse_args(argv)  # fmt: skip


async def run_all(ctx: Context, keys: list[str]) -> list[ScenarioResult]:
    """Run each scenario in turn; one that fails is reported and the others still run."""
    results = []
    async with contextlib.AsyncExitStack() as stack:
        ctx.stack = stack
        for key in keys:
            results.append(await _run_one(ctx, key))
    ctx.stack = ctx.shared = None
    return results


async def _run_one(ctx: Context, key: str) -> ScenarioResult:
    name, scenario = SCENARIOS[key]
    print(f"scenario {key}: {name}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        result = await scenario(ctx)
    except (ServerStartError, ServerQueryError, OpenFilesLimit, TimeoutError, OSError, WebSocketException,
            ValueError, RuntimeError) as exc:  # fmt: skip
        result = ScenarioResult(key, name, error=f"{type(exc).__name__}: {exc}")
        print(f"  scenario {key} failed: {result.error}", file=sys.stderr, flush=True)
    result.settings["wall_time_s"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = load_average()
    loop = resolve_loop(args.loop)
    problem = "skipped (--no-peer)" if args.no_peer else peer_problem()
    options = {key: getattr(args, key) for key in ("messages", "warmup", "connections", "concurrent_messages",
                                                    "clients", "cycles", "fanout", "fanout_threads", "idle",
                                                    "idle_per_client", "plugin_tests")}  # fmt: skip
    ctx = Context(loop=loop, runs=args.runs, peer_problem=problem, options=options)
    raise_open_files_limit()  # serverless-offline inherits it (scenario e's idle connections)
    try:
        # d's connections are this process's; e's idle ones are held by client processes.
        ensure_open_files(2 * args.fanout + 512 if "d" in args.scenario else 1024)
    except OpenFilesLimit as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    try:
        results = event_loop.run(run_all(ctx, args.scenario), loop)
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped", file=sys.stderr)
        return 130
    machine = machine_info(load_at_start)
    machine["event_loop"] = loop
    if problem is None:
        machine["peer_versions"] = versions()
    else:
        machine["peer_not_run"] = problem
    print(format_report(results, machine, args.runs))
    path = args.json or RESULTS_DIR / f"bench-{started:%Y%m%dT%H%M%SZ}.json"
    document = build_document(
        results, command=[sys.executable, "-m", "bench", *argv], started=started, machine=machine,
        settings={"runs": args.runs, "scenarios": args.scenario, "loop": loop, **options},
    )  # fmt: skip
    write_document(document, path)
    print(f"\nMarkdown summary:\n\n{format_markdown(table_rows(results))}\n\nResults written to {path}")
    return 1 if any(result.error for result in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
