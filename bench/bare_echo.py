"""The ceiling: a bare ``websockets`` asyncio echo server, run as a bench child.

It does the least any WebSocket server on this stack can do per message (parse a
frame, write a frame) in its own process, like the gateway, so the difference
between the two targets is what wsgw adds: route selection, the Lambda proxy
event, the invocation round trip to a worker process, and the reply.

Run as ``python -m bench.bare_echo``; see :mod:`bench.lifecycle` for the protocol.
"""

from __future__ import annotations

import argparse
import sys

from emulator import event_loop
from websockets.asyncio.server import ServerConnection, serve

from .lifecycle import announce, wait_for_stop


async def _echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def serve_until_stopped() -> None:
    """Echo on a free loopback port until told to stop."""
    # No compression: wsgw negotiates none, so both targets move the same bytes.
    async with serve(_echo, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        announce(f"ws://127.0.0.1:{port}/")
        await wait_for_stop()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_echo", description=__doc__)
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="event loop")
    event_loop.run(serve_until_stopped(), parser.parse_args(argv).loop)


if __name__ == "__main__":
    main(sys.argv[1:])
