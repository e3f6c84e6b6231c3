"""The floor: the bare echo server, but every message goes through a child process.

wsgw runs each handler in a worker process, so every message crosses two more
process boundaries than in the bare echo server (gateway → worker → gateway). This
server does the least that costs: each text message is written as one frame to a
child (:mod:`bench.relay_child`, started like wsgw's workers: ``python -I -S`` on two
pipes), the child writes it back, and the server sends it to the client.
One message in flight per child; a message that finds every child busy starts
another (as wsgw's pools grow with concurrency), and the children stay until the
server stops.

So in scenarios a and b, bare → floor is what the extra process hop costs on this
machine (the kernel's wake-ups and copies), and floor → wsgw is wsgw's own share:
route selection, the Lambda proxy event, its JSON both ways, the runtime emulation
in the worker, the reply. The floor's child runs on this interpreter (``sys.executable``).

Run as ``python -m bench.relay_echo``; see :mod:`bench.lifecycle` for the protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from emulator.net import event_loop
from websockets.asyncio.server import ServerConnection, serve

from .lifecycle import announce, raise_open_files_limit, wait_for_stop

CHILD_SCRIPT = str(Path(__file__).with_name("relay_child.py"))
_HEADER = 4


class ChildChannel(asyncio.Protocol):
    """The server's ends of one child's pipes: one frame out, one frame back (the
    protocol of the pipe from the child; :attr:`writer` is the pipe to it)."""

    def __init__(self) -> None:
        self.writer: asyncio.WriteTransport | None = None
        self._buffer = b""
        self._reply: asyncio.Future[bytes] | None = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) < _HEADER:
            return
        end = _HEADER + int.from_bytes(self._buffer[:_HEADER], "big")
        if len(self._buffer) >= end and self._reply is not None:
            self._reply.set_result(self._buffer[_HEADER:end])
            self._buffer = self._buffer[end:]

    def connection_lost(self, exc: Exception | None) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(ConnectionError("the relay child exited"))

    async def round_trip(self, payload: bytes) -> bytes:
        """Send ``payload`` to the child and return what it sent back."""
        assert self.writer is not None
        self._reply = asyncio.get_running_loop().create_future()
        self.writer.write(len(payload).to_bytes(_HEADER, "big") + payload)
        try:
            return await self._reply
        finally:
            self._reply = None


class ChildPool:
    """Idle children, and every child process, to stop them at the end."""

    def __init__(self) -> None:
        self.idle: list[ChildChannel] = []
        self.processes: list[asyncio.subprocess.Process] = []

    async def start_one(self) -> ChildChannel:
        loop = asyncio.get_running_loop()
        their_in, our_out = os.pipe()
        our_in, their_out = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-S", CHILD_SCRIPT, str(their_in), str(their_out), pass_fds=(their_in, their_out),
            )
        finally:
            os.close(their_in)
            os.close(their_out)
        self.processes.append(process)
        _, channel = await loop.connect_read_pipe(ChildChannel, open(our_in, "rb", buffering=0))
        channel.writer, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, open(our_out, "wb", buffering=0))
        return channel

    async def relay(self, message: str) -> str:
        channel = self.idle.pop() if self.idle else await self.start_one()
        reply = await channel.round_trip(message.encode())  # a child that failed is not put back
        self.idle.append(channel)
        return reply.decode()

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.kill()
            await process.wait()


async def serve_until_stopped() -> None:
    """Relay-echo on a free loopback port until told to stop."""
    pool = ChildPool()
    pool.idle.append(await pool.start_one())

    async def relay_echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(await pool.relay(message if isinstance(message, str) else message.decode()))

    try:
        # As the bare server: no compression, no keepalive pings.
        async with serve(relay_echo, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            announce(f"ws://127.0.0.1:{port}/")
            await wait_for_stop()
    finally:
        await pool.stop()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_echo", description=__doc__)
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="event loop")
    raise_open_files_limit()
    event_loop.run(serve_until_stopped(), parser.parse_args(argv).loop)


if __name__ == "__main__":
    main(sys.argv[1:])
