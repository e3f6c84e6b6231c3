"""The floor of scenarios a and b (bench/relay_echo.py, bench/relay_child.py): every
message makes a real round trip through a child process, children are started as
concurrency needs them and stopped with the server; and how the floor is reported."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from websockets.asyncio.client import connect

from bench import relay_child
from bench.model import BARE, FLOOR, FLOOR_TEXT, WSGW, Figure, Metric, floor_notes
from bench.relay_echo import ChildPool
from bench.servers import running_server


def _write_all(fd: int, *parts: bytes) -> None:
    for data in parts:
        while data:
            data = data[os.write(fd, data) :]


def test_the_child_sends_back_each_frame_however_the_bytes_arrive() -> None:
    their_in, our_out = os.pipe()
    our_in, their_out = os.pipe()
    child = threading.Thread(target=relay_child.serve, args=(their_in, their_out))
    child.start()
    try:
        first, second = b"hello", "é".encode() * 40000  # the second spans several reads
        frames = [len(first).to_bytes(4, "big") + first, len(second).to_bytes(4, "big") + second]
        # A header cut in two, then the rest and a whole frame after it; from a thread,
        # as a pipe holds 64 KiB and the child's answers must be read meanwhile.
        sender = threading.Thread(target=_write_all, args=(our_out, frames[0][:2], frames[0][2:] + frames[1]))
        sender.start()
        wanted = b"".join(frames)
        got = b""
        while len(got) < len(wanted):
            got += os.read(our_in, 65536)
        sender.join(timeout=10)
        assert got == wanted
    finally:
        os.close(our_out)  # end of file: serve() returns
        child.join(timeout=10)
        for fd in (their_in, their_out, our_in):
            os.close(fd)
    assert not child.is_alive()


@pytest.mark.asyncio
async def test_the_pool_starts_a_child_per_message_in_flight_and_stops_them() -> None:
    pool = ChildPool()
    try:
        replies = await asyncio.gather(*(pool.relay(f"message {n}") for n in range(3)))
        assert replies == ["message 0", "message 1", "message 2"]
        assert len(pool.processes) == 3 and len(pool.idle) == 3  # three at once: three children
        assert await pool.relay("again") == "again"
        assert len(pool.processes) == 3  # an idle one was reused
        pids = [process.pid for process in pool.processes]
    finally:
        await pool.stop()
    assert all(process.returncode is not None for process in pool.processes)
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"relay child {pid} still exists")


@pytest.mark.asyncio
async def test_the_floor_server_echoes_every_message_through_a_child() -> None:
    async with running_server("the floor", "bench.relay_echo", ["--loop", "asyncio"]) as server:
        async with connect(server.url, compression=None) as client:
            for text in ("one", '{"action":"echo"}', "x" * 3000):
                await client.send(text)
                assert await client.recv() == text


def _metric(higher_is_better: bool, **medians: float) -> Metric:
    metric = Metric("a", "p50 latency" if not higher_is_better else "throughput", "ms" if not higher_is_better
                    else "msgs/s", higher_is_better, decimals=3 if not higher_is_better else 0)
    for target, value in medians.items():
        metric.figures[target] = Figure((value,))
    return metric


def test_floor_notes_give_the_floor_against_bare_and_wsgw_s_share_above_it() -> None:
    latency = _metric(False, **{BARE: 0.25, FLOOR: 0.3, WSGW: 0.5})
    rate = _metric(True, **{BARE: 4000.0, FLOOR: 3000.0, WSGW: 1500.0})
    assert floor_notes(latency, rate) == [
        FLOOR_TEXT,
        "  p50 latency: 0.300 ms, ×1.20 bare; wsgw's own share above it: 0.200 ms (40% of wsgw's)",
        "  throughput: 3,000 msgs/s, ×0.75 bare; wsgw reaches 50% of the floor's",
    ]


def test_without_bare_the_floor_note_has_no_ratio_and_without_the_floor_or_wsgw_no_note() -> None:
    assert floor_notes(_metric(False, **{FLOOR: 0.3, WSGW: 0.5})) == [
        FLOOR_TEXT, "  p50 latency: 0.300 ms; wsgw's own share above it: 0.200 ms (40% of wsgw's)",
    ]
    assert floor_notes(_metric(False, **{BARE: 0.25, WSGW: 0.5})) == []
    assert floor_notes(_metric(True, **{BARE: 4000.0, FLOOR: 3000.0})) == []
