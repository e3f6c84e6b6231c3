"""Tests for emulator.net.frame_fast_path: a session that reads whole text frames
itself does exactly what one that leaves every byte to websockets' parser does."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from emulator.core.events import Handshake
from emulator.core.lifecycle import Accept, SendText
from emulator.core.model import Limits
from emulator.net import websocket_session
from emulator.net.frame_fast_path import next_text_frame, parser_between_frames
from emulator.net.websocket_session import WebSocketSession

# Small limits, so that generated frames cross them.
LIMITS = Limits(frame_bytes=300, message_bytes=700)
LARGEST = 300


def _frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0,
           mask: bytes = b"\x11\x22\x33\x44", long16: bool = False) -> bytes:
    """One client frame as RFC 6455 §5.2 lays it out (any flags, even wrong ones)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    if length < 126 and not long16:
        head = bytes((first, (0x80 if masked else 0) | length))
    elif length < 65536:
        head = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, length)
    else:
        head = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, length)
    if not masked:
        return head + payload
    body = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return head + mask + body


def _parsed_by_websockets(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=True, max_size=None, extensions=None)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("websockets wanted more bytes")


# -- next_text_frame ------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=LARGEST), mask=st.binary(min_size=4, max_size=4), long16=st.booleans(),
       after=st.binary(max_size=20))
def test_a_whole_text_frame_is_read_as_websockets_reads_it(payload: bytes, mask: bytes, long16: bool,
                                                           after: bytes) -> None:
    data = b"xy" + _frame(0x1, payload, mask=mask, long16=long16) + after
    found = next_text_frame(data, 2, LARGEST)
    assert found is not None
    body, end = found
    expected = _parsed_by_websockets(data[2:])
    assert expected.opcode is Opcode.TEXT and expected.fin
    assert body == bytes(expected.data) == payload
    assert data[end:] == after


@pytest.mark.parametrize("data", [
    pytest.param(_frame(0x1, b"hi", fin=False), id="not-final"),
    pytest.param(_frame(0x0, b"hi"), id="continuation"),
    pytest.param(_frame(0x2, b"hi"), id="binary"),
    pytest.param(_frame(0x9, b"hi"), id="ping"),
    pytest.param(_frame(0x8, b"\x03\xe8"), id="close"),
    pytest.param(_frame(0x3, b"hi"), id="reserved-opcode"),
    pytest.param(_frame(0x1, b"hi", rsv=4), id="rsv1"),
    pytest.param(_frame(0x1, b"hi", masked=False), id="unmasked"),
    pytest.param(_frame(0x1, b"x" * 70_000), id="64-bit-length"),
    pytest.param(_frame(0x1, b"x" * (LARGEST + 1)), id="over-the-limit"),
    pytest.param(_frame(0x1, b"hello")[:-1], id="cut-short"),
    pytest.param(_frame(0x1, b"x" * 200)[:3], id="16-bit-length-cut-short"),
    pytest.param(b"\x81", id="one-byte"),
    pytest.param(b"", id="nothing"),
])
def test_anything_but_a_whole_final_masked_text_frame_is_left_to_websockets(data: bytes) -> None:
    assert next_text_frame(data, 0, LARGEST) is None


# -- parser_between_frames --------------------------------------------------------------


def _open_protocol() -> ServerProtocol:
    protocol = ServerProtocol(max_size=(LIMITS.message_bytes, LIMITS.frame_bytes))
    key = base64.b64encode(os.urandom(16)).decode()
    protocol.receive_data(
        f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    [request] = protocol.events_received()
    protocol.send_response(protocol.accept(request))
    assert protocol.state is State.OPEN
    return protocol


def test_the_parser_is_between_frames_after_whole_frames_only() -> None:
    protocol = _open_protocol()
    assert parser_between_frames(protocol)
    protocol.receive_data(_frame(0x1, b"one") + _frame(0x9, b"ping"))
    assert parser_between_frames(protocol)
    frame = _frame(0x1, b"two")
    protocol.receive_data(frame[:2])  # the header, read by the parser; the mask not yet here
    assert not protocol.reader.buffer and not parser_between_frames(protocol)
    protocol.receive_data(frame[2:])
    assert parser_between_frames(protocol)
    protocol.receive_data(_frame(0x1, b"three")[:4])  # held in its buffer
    assert not parser_between_frames(protocol)


def test_the_parser_is_not_between_frames_inside_a_fragmented_message_or_after_a_close() -> None:
    protocol = _open_protocol()
    protocol.receive_data(_frame(0x1, b"first", fin=False))
    assert not parser_between_frames(protocol)
    protocol.receive_data(_frame(0x0, b"last"))
    assert parser_between_frames(protocol)
    protocol.receive_data(_frame(0x8, b"\x03\xe8"))
    assert not parser_between_frames(protocol)


# -- a session with and without the fast path ----------------------------------------------


class _Transport:
    """What a session does to its socket, recorded."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 4000)


class _Lifecycle:
    """Answers every message with its text reversed; records each call."""

    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.model = SimpleNamespace(limits=LIMITS)
        self.calls = calls

    def open(self, handshake: Handshake) -> Accept:
        return Accept("conn=")

    def message(self, connection_id: str, text: str) -> SendText:
        self.calls.append(("message", text))
        return SendText(connection_id, text[::-1])

    def closing(self, connection_id: str) -> None:
        self.calls.append(("closing",))

    def activity(self, connection_id: str) -> None:
        pass

    def closed(self, connection_id: str, code: int, reason: str) -> None:
        self.calls.append(("closed", code, reason))


class _Host:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.lifecycle = _Lifecycle(self.calls)
        self.draining = False

    def spawn(self, coroutine: Any) -> None:
        coroutine.close()
        raise AssertionError("nothing is invoked here")

    def established(self, session: object) -> None:
        self.calls.append(("established",))

    def ended(self, connection_id: str) -> None:
        self.calls.append(("ended",))

    def refused(self, refusal: object) -> None:
        self.calls.append(("refused",))


def _run_session(chunks: list[bytes], *, fast: bool) -> tuple[object, ...]:
    """Everything a session did with ``chunks`` after a valid upgrade: the calls to its
    host, the bytes it wrote after the 101, whether it closed or aborted the socket."""
    host, transport = _Host(), _Transport()
    loop = asyncio.new_event_loop()
    with pytest.MonkeyPatch.context() as monkeypatch:
        if not fast:
            monkeypatch.setattr(websocket_session, "next_text_frame", lambda data, offset, largest: None)
        async def drive() -> None:
            session = WebSocketSession(host, transport, secure=False)  # type: ignore[arg-type]
            session.receive(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            for chunk in chunks:
                if transport.is_closing():
                    break
                session.receive(chunk)
            session.connection_lost()
            state = session.protocol.state
            host.calls.append(("state", state.name))

        try:
            loop.run_until_complete(drive())
        finally:
            loop.close()
    # The 101 carries a Date: compared without it (two runs may straddle a second).
    head, _, frames = bytes(transport.written).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    return tuple(host.calls), frames, transport.closed, transport.aborted


_TEXTS = st.one_of(
    st.text(max_size=40).map(str.encode),
    st.binary(max_size=40),  # often not UTF-8: 1007
    st.integers(min_value=LARGEST - 2, max_value=LARGEST + 2).map(lambda n: b"a" * n),
)
# (opcode, payload, FIN, 16-bit length for a short payload, RSV bits)
_FRAMES = st.one_of(
    st.tuples(st.just(0x1), _TEXTS, st.just(True), st.booleans(), st.just(0)),  # the everyday frame
    st.tuples(st.sampled_from([0x0, 0x1, 0x2, 0x9, 0xA, 0x3]), _TEXTS, st.booleans(), st.just(False),
              st.sampled_from([0, 0, 1, 4])),
    st.tuples(st.just(0x8), st.sampled_from([b"", b"\x03\xe8", b"\x03\xe9bye"]), st.just(True), st.just(False),
              st.just(0)),
)


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(_FRAMES, max_size=8), cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=6),
       unmasked=st.booleans())
def test_a_session_does_the_same_with_and_without_the_fast_path(
    frames: list[tuple[int, bytes, bool, bool, int]], cuts: list[int], unmasked: bool,
) -> None:
    data = b"".join(_frame(opcode, payload, fin=fin, long16=long16, rsv=rsv)
                    for opcode, payload, fin, long16, rsv in frames)
    if unmasked and frames:
        data += _frame(0x1, b"plain", masked=False)
    points = sorted({0, len(data), *(cut for cut in cuts if cut < len(data))})
    chunks = [data[a:b] for a, b in zip(points, points[1:])]
    assert _run_session(chunks, fast=True) == _run_session(chunks, fast=False)


def test_a_frame_whose_header_came_alone_is_finished_by_the_parser() -> None:
    """The rest of a frame whose first two bytes the parser has taken may look like a
    whole text frame itself (here its mask does): it is still the parser's to read."""
    frame = _frame(0x1, b"a message of some length", mask=b"\x81\x84\x01\x02")
    chunks = [frame[:2], frame[2:], _frame(0x1, b"next")]
    fast = _run_session(chunks, fast=True)
    assert fast == _run_session(chunks, fast=False)
    assert ("message", "a message of some length") in fast[0] and ("message", "next") in fast[0]


def test_the_everyday_message_is_answered_without_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The path is taken (the test above would pass if it never were): a message in a
    read of its own and two in one read, and none of them reaches websockets' parser."""
    parsed: list[bytes] = []
    original = ServerProtocol.receive_data

    def receive_data(self: ServerProtocol, data: bytes) -> None:
        parsed.append(bytes(data))
        original(self, data)

    monkeypatch.setattr(ServerProtocol, "receive_data", receive_data)
    calls, written, _, _ = _run_session(
        [_frame(0x1, b"ping"), _frame(0x1, b"abc") + _frame(0x1, b"x" * 200)], fast=True)
    assert ("message", "ping") in calls and ("message", "x" * 200) in calls
    assert written == b"\x81\x04gnip\x81\x03cba\x81\x7e\x00\xc8" + b"x" * 200
    assert len(parsed) == 1 and parsed[0].startswith(b"GET / HTTP/1.1")  # the upgrade only
