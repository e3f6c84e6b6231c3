"""Scenario a (sequential round trips) with the live inspector off, on with no page
open, and on with a page open (a Server-Sent Events reader taking every row, as the
page does), against the same bench app: what the inspector costs the message path.

Run: ``python -m bench.inspector_overhead [--runs N] [--messages N]``. Prints one
line per configuration (median of the runs); the numbers go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from urllib.parse import urlsplit

from emulator.inspector.server import PREFIX

from .roundtrip import RunResult, measure_run
from .servers import running_server
from .targets import BENCH_APP


async def _page(url: str, received: list[int]) -> None:
    """A stand-in for an open page: reads the event stream until cancelled."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"GET {PREFIX}/api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    try:
        while chunk := await reader.read(65536):
            received[0] += len(chunk)
    finally:
        writer.close()


async def measure(config: str, *, runs: int, messages: int, warmup: int, loop: str) -> list[RunResult]:
    args = ["--app", str(BENCH_APP), "--loop", loop] + (["--inspector"] if config != "off" else [])
    async with running_server("the wsgw gateway", "bench.gateway_child", args) as handle:
        received = [0]
        page = asyncio.ensure_future(_page(handle.url, received)) if config == "page" else None
        try:
            results = [await measure_run(config, handle.url, messages=messages, warmup=warmup, timeout_s=30)
                       for _ in range(runs)]
        finally:
            if page is not None:
                page.cancel()
                await asyncio.gather(page, return_exceptions=True)
        if page is not None and not received[0]:
            raise RuntimeError("the page stand-in received nothing")
        return results


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inspector_overhead", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    args = parser.parse_args(argv)
    labels = {"off": "inspector off (--no-inspector)", "on": "inspector on, no page open",
              "page": "inspector on, a page open"}
    for config in ("off", "on", "page", "off", "on", "page"):  # twice, interleaved: drift shows
        results = await measure(config, runs=args.runs, messages=args.messages, warmup=args.warmup, loop=args.loop)
        rate = statistics.median(result.msgs_per_s for result in results)
        p50 = statistics.median(result.p50_ms for result in results)
        p99 = statistics.median(result.p99_ms for result in results)
        print(f"{labels[config]:34s} {rate:8.0f} msg/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
