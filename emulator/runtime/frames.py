"""The invoker's ends of a worker's two pipes: length-prefixed JSON frames.

A frame is a 4-byte big-endian length and that many bytes of UTF-8 JSON, both ways
(``worker.py`` and ``node/worker.mjs`` have the other ends). :class:`FrameChannel` is
a plain asyncio protocol, not a stream pair: one invocation's reply is one
``data_received`` and one call of the callback given to :meth:`~FrameChannel.expect`
(no future, no task to wake), with no reader buffer, no ``readexactly`` and no
per-call timeout object (the caller arms a timer; see :meth:`FrameChannel.fail`).
This is every message's hot path.

Why two pipes and not one socketpair: a blocked reader of a Unix socket sleeps on the
socket's one wait queue, which also hears "there is room to write" (Linux's
``unix_write_space``, which wakes every sleeper whatever it waits for). With one
socketpair the worker, asleep in ``recv`` for its next frame, was woken for nothing
each time the invoker read its reply, and the invoker paid for the wake-up: two
context switches per message instead of one. A pipe has a wait queue for readers and
one for writers, and reading it wakes a writer only when the pipe was full: in scenario
a, 26–28 µs less CPU per message in the gateway and in the worker each (BENCHMARKS.md,
round ten).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Callable, Union, cast

__all__ = ["FrameChannel", "FrameOrError"]

_HEADER = 4

FrameOrError = Union[bytes, BaseException]
"""What :meth:`FrameChannel.expect`'s callback hears: the next frame's body, or why
there is none (``IncompleteReadError``: the worker's end closed; or what
:meth:`FrameChannel.fail` was given)."""


class FrameChannel(asyncio.Protocol):
    """Frames from the worker, in order (the protocol of the pipe from it); write
    frames to it with :meth:`send` (the pipe to it). Made by :meth:`connect`."""

    def __init__(self) -> None:
        self._transport: asyncio.ReadTransport | None = None  # the pipe from the worker
        self._writer: asyncio.WriteTransport | None = None  # the pipe to it
        self._buffer = bytearray()
        self._frames: deque[bytes] = deque()
        self._waiter: Callable[[FrameOrError], None] | None = None
        self._ended = False
        # Created by connect_read_pipe on the running loop; kept, since
        # asyncio.get_running_loop() costs a getpid() system call (CPython 3.11).
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def connect(cls, from_worker: int, to_worker: int) -> FrameChannel:
        """Take over our ends of the two pipes (file descriptors: frames are read from
        ``from_worker`` and written to ``to_worker``); they are closed with the
        channel, or here if connecting fails."""
        loop = asyncio.get_running_loop()
        reader, writer = open(from_worker, "rb", buffering=0), open(to_worker, "wb", buffering=0)
        try:
            _, channel = await loop.connect_read_pipe(cls, reader)
        except BaseException:
            reader.close()
            writer.close()
            raise
        try:
            channel._writer, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, writer)
        except BaseException:
            channel.close()
            writer.close()
            raise
        return channel

    # -- use ----------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Write one frame (length prefix included by the caller)."""
        assert self._writer is not None, "not connected"
        self._writer.write(frame)

    def expect(self, callback: Callable[[FrameOrError], None]) -> None:
        """Have ``callback`` hear the next frame's body, or the error that ends the wait
        (see :data:`FrameOrError`), once: at once if a frame is queued or the worker's
        end is closed, else from ``data_received``. One caller waits at a time."""
        if self._frames:
            callback(self._frames.popleft())
        elif self._ended:
            callback(asyncio.IncompleteReadError(bytes(self._buffer), None))
        else:
            self._waiter = callback

    def receive(self) -> asyncio.Future[bytes]:
        """Await it for the next frame's body. Raises ``IncompleteReadError`` once the
        worker's end is closed and no frame is left, or what :meth:`fail` was given."""
        waiter: asyncio.Future[bytes] = self._loop.create_future()

        def settle(body: FrameOrError) -> None:
            if waiter.done():  # its awaiter was cancelled: the frame is kept for the next
                if not isinstance(body, BaseException):
                    self._frames.appendleft(body)
                return
            if isinstance(body, BaseException):
                waiter.set_exception(body)
            else:
                waiter.set_result(body)

        self.expect(settle)
        return waiter

    def fail(self, error: BaseException) -> None:
        """End a pending wait with ``error`` (the caller's timeout)."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter(error)

    def close(self) -> None:
        """Close our ends: the worker reads end of file and exits when idle."""
        if self._writer is not None:
            self._writer.close()  # after what is still buffered for it
        if self._transport is not None:
            self._transport.close()

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.ReadTransport, transport)

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
        if waiter is not None:
            waiter(body)  # a waiter is only set while no frame is queued
        else:
            self._frames.append(body)

    def _end(self) -> None:
        self._ended = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter(asyncio.IncompleteReadError(bytes(self._buffer), None))
