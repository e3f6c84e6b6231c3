"""The ceiling: a bare ``websockets`` asyncio echo server, run as a bench child.

It does the least any WebSocket server on this stack can do per message (parse a
frame, write a frame) in its own process, like the gateway, so the difference
between the two targets is what wsgw adds: route selection, the Lambda proxy
event, the invocation round trip to a worker process, and the reply.

One message is special, for the fan-out scenario: ``{"action":"broadcast",...}``
with a ``data`` field sends ``data`` to every other open connection (websockets'
``broadcast``), which is the least a server can do to fan a message out.

Run as ``python -m bench.bare_echo``; see :mod:`bench.lifecycle` for the protocol.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Awaitable, Callable

from emulator.net import event_loop
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve

from .lifecycle import announce, raise_open_files_limit, wait_for_stop

_BROADCAST = '"broadcast"'  # a cheap test first; the message is parsed only if it has it


def _handler(server: list[Server]) -> Callable[[ServerConnection], Awaitable[None]]:
    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            if isinstance(message, str) and _BROADCAST in message and json.loads(message).get("action") == "broadcast":
                data = json.loads(message)["data"]
                broadcast((c for c in server[0].connections if c is not connection), data)
                await connection.send(json.dumps({"posted": len(server[0].connections) - 1, "failed": 0}))
            else:
                await connection.send(message)

    return echo


async def serve_until_stopped() -> None:
    """Echo on a free loopback port until told to stop."""
    holder: list[Server] = []
    # No compression: wsgw negotiates none, so both targets move the same bytes.
    async with serve(_handler(holder), "127.0.0.1", 0, compression=None, ping_interval=None) as server:
        holder.append(server)
        port = next(iter(server.sockets)).getsockname()[1]
        announce(f"ws://127.0.0.1:{port}/")
        await wait_for_stop()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_echo", description=__doc__)
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="event loop")
    raise_open_files_limit()
    event_loop.run(serve_until_stopped(), parser.parse_args(argv).loop)


if __name__ == "__main__":
    main(sys.argv[1:])
