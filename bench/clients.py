"""Client-side helpers: many connections at once, and a clear error when the
process runs out of file descriptors (EMFILE)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
from typing import Sequence, cast

from websockets.asyncio.client import ClientConnection, connect


class OpenFilesLimit(Exception):
    """A process ran out of file descriptors; the message says how to raise the limit."""


def ensure_open_files(needed: int) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to at least ``needed`` (up to the
    hard limit); returns the soft limit. Raises :class:`OpenFilesLimit` if the hard
    limit is below ``needed``: ``ulimit -n`` cannot be raised from inside."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(max(needed, soft), hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise OpenFilesLimit(
            f"need {needed} open files but the limit is {soft} (hard limit {hard}); "
            f"raise it before running the bench, e.g. `ulimit -n {needed}` (root may need /etc/security/limits.conf)"
        )
    return int(soft)


async def open_connections(url: str, count: int, *, concurrency: int = 100, timeout_s: float = 120.0,
                           hello: str | None = None) -> tuple[list[ClientConnection], list[str]]:  # fmt: skip
    """Open ``count`` connections to ``url``, at most ``concurrency`` handshakes at a
    time; with ``hello``, send it on each and collect each reply (in order).
    Connections already open are closed if one fails. EMFILE/ENFILE become
    :class:`OpenFilesLimit`."""
    connections: list[ClientConnection | None] = [None] * count
    replies: list[str] = [""] * count
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with gate:
            connection = await connect(url, compression=None, ping_interval=None, open_timeout=30, close_timeout=5)
            connections[index] = connection
            if hello is not None:
                await connection.send(hello)
                reply = await connection.recv()
                replies[index] = reply if isinstance(reply, str) else reply.decode()

    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(one(i) for i in range(count)))
    except BaseException as exc:
        opened = sum(c is not None for c in connections)
        abort_all([c for c in connections if c is not None])
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            raise OpenFilesLimit(
                f"{errno.errorcode[exc.errno]} (too many open files) after {opened} of {count} connections; "
                f"this process's limit is {soft}: raise it with `ulimit -n {2 * count + 256}`"
            ) from exc
        if isinstance(exc, TimeoutError):
            raise TimeoutError(f"opened only {opened} of {count} connections to {url} in {timeout_s:g} s "
                               "(a server out of file descriptors stops accepting: EMFILE)") from None  # fmt: skip
        raise
    return [c for c in connections if c is not None], replies


def abort_all(connections: Sequence[ClientConnection]) -> None:
    """Drop connections at once (no closing handshake): fast teardown of thousands."""
    for connection in connections:
        connection.transport.abort()


async def close_all(connections: Sequence[ClientConnection], *, concurrency: int = 200) -> None:
    """Close connections with the closing handshake, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(connection: ClientConnection) -> None:
        async with gate:
            with contextlib.suppress(Exception):
                await connection.close()

    await asyncio.gather(*(one(c) for c in connections))


class _BareHandshake(asyncio.Protocol):
    """The client side of an idle WebSocket: send the upgrade request, check for
    101, then ignore whatever comes (a websockets client per connection would make
    this process, not the server, the limit when opening thousands)."""

    def __init__(self, request: bytes, done: asyncio.Future[None]) -> None:
        self.request = request
        self.done = done
        self.head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports are not asyncio.Transport subclasses.
        cast(asyncio.Transport, transport).write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        self.head += data
        if b"\r\n\r\n" in self.head:
            status = self.head.split(b"\r\n", 1)[0]
            if status.split(b" ")[1:2] == [b"101"]:
                self.done.set_result(None)
            else:
                self.done.set_exception(ConnectionError(f"upgrade refused: {status.decode(errors='replace')}"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("closed during the handshake"))


async def open_idle(url: str, count: int, *, concurrency: int = 100, timeout_s: float = 120.0) -> list[asyncio.Transport]:
    """Open ``count`` WebSocket connections to ``url`` (``ws://host:port/path``) that
    complete the opening handshake and then stay idle; returns their transports
    (``abort()`` each to drop it). EMFILE/ENFILE become :class:`OpenFilesLimit`."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    transports: list[asyncio.Transport] = []
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            done: asyncio.Future[None] = loop.create_future()
            transport, _ = await loop.create_connection(lambda: _BareHandshake(request, done), host, port)
            transports.append(transport)
            await done

    try:
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(one() for _ in range(count)))
    except BaseException as exc:
        for transport in transports:
            transport.abort()
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            raise OpenFilesLimit(
                f"{errno.errorcode[exc.errno]} (too many open files) after {len(transports)} of {count} connections; "
                f"this process's limit is {soft}: raise it with `ulimit -n {2 * count + 256}`"
            ) from exc
        if isinstance(exc, TimeoutError):
            raise TimeoutError(f"opened only {len(transports)} of {count} connections to {url} in {timeout_s:g} s "
                               "(a server out of file descriptors stops accepting: EMFILE)") from None  # fmt: skip
        raise
    return transports
