"""``python -m bench.idle_clients URL COUNT``: a client process holding ``COUNT`` idle
WebSocket connections to ``URL`` for scenario e (:mod:`bench.idle`).

Tens of thousands of idle connections need as many file descriptors on the client
side as on the server's, and one process has at most the hard ``RLIMIT_NOFILE``
(20,000 on some machines): scenario e spreads its connections over several of these.
Each opens its share (handshake only, nothing sent, no pings: :func:`bench.clients.open_idle`),
prints ``OPEN <count> <seconds>`` (or ``ERROR <why>`` and exits 1), then holds them
until its stdin reaches end of file, and drops them (no closing handshake).
"""

from __future__ import annotations

import argparse
import sys
import time

from emulator.net import event_loop

from .clients import OpenFilesLimit, open_idle
from .lifecycle import raise_open_files_limit, wait_for_stop

OPEN_PREFIX = "OPEN "
ERROR_PREFIX = "ERROR "


async def hold(url: str, count: int, concurrency: int, timeout_s: float) -> int:
    """Open the connections, say so, hold them until told to stop; the exit status."""
    started = time.perf_counter()
    try:
        transports = await open_idle(url, count, concurrency=concurrency, timeout_s=timeout_s)
    except (OpenFilesLimit, TimeoutError, OSError, ConnectionError) as exc:
        print(f"{ERROR_PREFIX}{type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
        return 1
    print(f"{OPEN_PREFIX}{len(transports)} {time.perf_counter() - started:.3f}", flush=True)
    try:
        await wait_for_stop()
    finally:
        for transport in transports:
            transport.abort()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_clients", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("count", type=int)
    parser.add_argument("--concurrency", type=int, default=100, help="handshakes in flight at once")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to open them all")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="event loop")
    args = parser.parse_args(argv)
    raise_open_files_limit()
    return event_loop.run(hold(args.url, args.count, args.concurrency, args.timeout), args.loop)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
