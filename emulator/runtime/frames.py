"""The invoker's end of a worker's socketpair: length-prefixed JSON frames.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON, both ways
(``worker.py`` has the other end). :class:`FrameChannel` is a plain asyncio protocol,
not a stream pair: one invocation's reply is one ``data_received`` and one future set,
with no reader buffer, no ``readexactly`` and no per-call timeout object (the caller
arms a timer; see :meth:`FrameChannel.fail`). This is every message's hot path.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

__all__ = ["FrameChannel"]

_HEADER = 4


class FrameChannel(asyncio.Protocol):
    """Frames from the worker, in order; write frames to it with :meth:`send`."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._frames: deque[bytes] = deque()
        self._waiter: asyncio.Future[bytes] | None = None
        self._ended = False
        # Created by create_unix_connection on the running loop; kept, since
        # asyncio.get_running_loop() costs a getpid() system call (CPython 3.11).
        self._loop = asyncio.get_running_loop()

    # -- use ----------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Write one frame (length prefix included by the caller)."""
        assert self._transport is not None, "not connected"
        self._transport.write(frame)

    def receive(self) -> asyncio.Future[bytes]:
        """Await it for the next frame's body. Raises ``IncompleteReadError`` once the
        worker's end is closed and no frame is left, or what :meth:`fail` was given.
        (A future, not a coroutine: one frame less to resume on every message.)"""
        waiter: asyncio.Future[bytes] = self._loop.create_future()
        if self._frames:
            waiter.set_result(self._frames.popleft())
        elif self._ended:
            waiter.set_exception(asyncio.IncompleteReadError(bytes(self._buffer), None))
        else:
            self._waiter = waiter
        return waiter

    def fail(self, error: BaseException) -> None:
        """Make a pending :meth:`receive` raise ``error`` (the caller's timeout)."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def close(self) -> None:
        """Close our end: the worker reads end of file and exits when idle."""
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self._buffer and len(data) >= _HEADER and len(data) == _HEADER + int.from_bytes(data[:_HEADER], "big"):
            self._deliver(data[_HEADER:])  # the usual case: exactly one whole frame
            return
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _HEADER:
            end = _HEADER + int.from_bytes(buffer[:_HEADER], "big")
            if len(buffer) < end:
                break
            body = bytes(buffer[_HEADER:end])
            del buffer[:end]
            self._deliver(body)

    def eof_received(self) -> bool | None:
        self._end()
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()

    def _deliver(self, body: bytes) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done() and not self._frames:
            waiter.set_result(body)
        else:
            self._frames.append(body)

    def _end(self) -> None:
        self._ended = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done() and not self._frames:
            waiter.set_exception(asyncio.IncompleteReadError(bytes(self._buffer), None))
