"""``python -m bench``: wsgw's round-trip benchmark against a bare echo server.

Starts two server processes, a bare ``websockets`` echo server (the ceiling) and a
wsgw gateway serving ``bench/apps/echo`` (a two-way ``$default`` route whose Python
handler returns the message), then alternates timed runs between them from this
process (see :mod:`bench.roundtrip` for what one run measures). Prints a table and
writes every figure to ``bench/results/roundtrip-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import sys
from pathlib import Path
from typing import Callable

from websockets.exceptions import WebSocketException

from emulator.event_loop import resolve as resolve_loop

from .report import Settings, build_document, format_table, load_average, machine_info, write_document
from .roundtrip import RunResult, TargetSummary, UnexpectedReply, measure_run
from .servers import PROJECT_ROOT, ServerStartError, running_server

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
ECHO_APP = PROJECT_ROOT / "bench" / "apps" / "echo" / "wsgw.json"
BARE = "bare websockets echo"
WSGW = "wsgw ($default, two-way, Python)"


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``low``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its "invalid ... value" message
    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Sequential WebSocket round trips through wsgw (two-way $default route, trivial "
                    "Python handler) vs a bare websockets echo server; both servers in their own "
                    "processes. Reports p50, p99 and msgs/s (median of runs) and the wsgw/bare ratio.",
    )  # fmt: skip
    parser.add_argument("--messages", type=_at_least(1), default=2000, metavar="N",
                        help="timed round trips per run (default: %(default)s)")
    parser.add_argument("--runs", type=_at_least(1), default=3, metavar="N",
                        help="runs per target, alternating bare/wsgw (default: %(default)s)")
    parser.add_argument("--warmup", type=_at_least(0), default=200, metavar="N",
                        help="untimed round trips before each run (default: %(default)s)")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto",
                        help="event loop of BOTH servers; auto = uvloop when installed, as run-local (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="where to write the JSON results (default: bench/results/roundtrip-<timestamp>.json)")
    return parser.parse_args(argv)  # fmt: skip


async def run_benchmark(settings: Settings, loop: str) -> tuple[TargetSummary, TargetSummary]:
    """Start both servers on event loop ``loop``, alternate runs between them, stop both (always)."""
    timeout_s = 30.0 + (settings.warmup + settings.messages) * 0.02
    runs: dict[str, list[RunResult]] = {BARE: [], WSGW: []}
    async with contextlib.AsyncExitStack() as servers:
        urls = {
            BARE: await servers.enter_async_context(running_server(BARE, "bench.bare_echo", ["--loop", loop])),
            WSGW: await servers.enter_async_context(
                running_server("the wsgw gateway", "bench.gateway_child", ["--app", str(ECHO_APP), "--loop", loop])
            ),
        }
        for index in range(settings.runs):
            for target, url in urls.items():
                result = await measure_run(
                    target, url, messages=settings.messages, warmup=settings.warmup, timeout_s=timeout_s
                )
                runs[target].append(result)
                print(
                    f"  run {index + 1}/{settings.runs} {target}: p50 {result.p50_ms:.3f} ms, "
                    f"{result.msgs_per_s:,.0f} msgs/s",
                    file=sys.stderr, flush=True,
                )  # fmt: skip
    return TargetSummary(BARE, tuple(runs[BARE])), TargetSummary(WSGW, tuple(runs[WSGW]))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    settings = Settings(messages=args.messages, warmup=args.warmup, runs=args.runs)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_at_start = load_average()
    loop = resolve_loop(args.loop)
    try:
        bare, wsgw = asyncio.run(run_benchmark(settings, loop))
    except ServerStartError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except (UnexpectedReply, TimeoutError, OSError, WebSocketException) as exc:
        print(f"bench: error during a run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped", file=sys.stderr)
        return 130
    machine = machine_info(load_at_start)
    machine["event_loop"] = loop
    print(format_table(settings, bare, wsgw, machine))
    path = args.json or RESULTS_DIR / f"roundtrip-{started:%Y%m%dT%H%M%SZ}.json"
    command = [sys.executable, "-m", "bench", *argv]
    document = build_document(settings, bare, wsgw, command=command, started=started, machine=machine)
    write_document(document, path)
    print(f"\nResults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
