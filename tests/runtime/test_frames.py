"""emulator.runtime.frames: the invoker's ends of a worker's two pipes, over real
pipes (the worker's ends written by hand)."""

from __future__ import annotations

import asyncio
import os

import pytest

from emulator.runtime.frames import FrameChannel


def _frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body


class _WorkerEnds:
    """The worker's ends of the two pipes, blocking, as worker.py uses them."""

    def __init__(self, frames_in: int, frames_out: int) -> None:
        self._in, self._out = frames_in, frames_out

    def sendall(self, data: bytes) -> None:
        while data:
            data = data[os.write(self._out, data) :]

    def recv(self, size: int) -> bytes:
        return os.read(self._in, size)

    def close(self) -> None:
        for fd in (self._in, self._out):
            os.close(fd)


async def _channel() -> tuple[FrameChannel, _WorkerEnds]:
    their_in, our_out = os.pipe()
    our_in, their_out = os.pipe()
    channel = await FrameChannel.connect(our_in, our_out)
    return channel, _WorkerEnds(their_in, their_out)


def test_frames_arrive_whole_split_and_several_at_once() -> None:
    async def scenario() -> list[bytes]:
        channel, theirs = await _channel()
        got = []
        theirs.sendall(_frame(b'{"a":1}'))
        got.append(await channel.receive())
        data = _frame(b'{"split":true}')
        theirs.sendall(data[:3])
        pending = asyncio.ensure_future(channel.receive())
        await asyncio.sleep(0.05)
        assert not pending.done()
        theirs.sendall(data[3:])
        got.append(await pending)
        theirs.sendall(_frame(b"[1]") + _frame(b"[2]") + _frame(b"[3")[:5])
        got.append(await channel.receive())
        got.append(await channel.receive())
        theirs.sendall(_frame(b"[3]")[5:] + b"]")  # the rest of a frame whose length said 2 bytes
        got.append(await channel.receive())
        channel.close()
        theirs.close()
        return got

    assert asyncio.run(scenario()) == [b'{"a":1}', b'{"split":true}', b"[1]", b"[2]", b"[3"]


def test_the_callers_end_goes_to_the_worker() -> None:
    async def scenario() -> bytes:
        channel, theirs = await _channel()
        channel.send(_frame(b'{"type":"invoke"}'))
        data = await asyncio.get_running_loop().run_in_executor(None, theirs.recv, 100)
        channel.close()
        theirs.close()
        return data

    assert asyncio.run(scenario()) == _frame(b'{"type":"invoke"}')


def test_end_of_file_fails_a_waiting_and_every_later_receive() -> None:
    async def scenario() -> None:
        channel, theirs = await _channel()
        pending = asyncio.ensure_future(channel.receive())
        await asyncio.sleep(0.01)
        theirs.sendall(b"\x00\x00")  # half a header, then the worker is gone
        theirs.close()
        with pytest.raises(asyncio.IncompleteReadError):
            await pending
        with pytest.raises(asyncio.IncompleteReadError):
            await channel.receive()

    asyncio.run(scenario())


def test_fail_makes_the_waiting_receive_raise_and_a_frame_queued_before_is_kept() -> None:
    async def scenario() -> None:
        channel, theirs = await _channel()
        pending = asyncio.ensure_future(channel.receive())
        await asyncio.sleep(0.01)
        channel.fail(TimeoutError())
        with pytest.raises(TimeoutError):
            await pending
        channel.fail(TimeoutError())  # nobody waits: nothing happens
        theirs.sendall(_frame(b"late"))
        assert await channel.receive() == b"late"
        channel.close()
        theirs.close()

    asyncio.run(scenario())
