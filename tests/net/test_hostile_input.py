"""Hostile and malformed input against the live server: no crash, the right status or
close code, and other connections unaffected."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.sync.client import connect

from emulator.net import listener as listener_module

from conftest import DEADLINE_S, RunningGateway, wait_until


def _address(gateway: RunningGateway) -> tuple[str, int]:
    return "127.0.0.1", gateway.local.port


def _raw(gateway: RunningGateway, data: bytes, *, after_upgrade: bytes = b"", timeout: float = 2.0) -> bytes:
    """Send raw bytes on a fresh TCP connection (then, once the 101 arrived,
    ``after_upgrade``, as a client must wait for it); return what came back until
    close, or until nothing came for ``timeout`` seconds. The 101 itself (it follows
    the $connect invocation) is waited for up to :data:`DEADLINE_S`."""
    with socket.create_connection(_address(gateway), timeout=DEADLINE_S) as sock:
        sock.sendall(data)
        chunks = []
        if after_upgrade:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(65536)
                if not chunk:
                    return head
                head += chunk
            chunks.append(head)
            sock.sendall(after_upgrade)
        sock.settimeout(timeout)
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (socket.timeout, ConnectionResetError):
            pass
        return b"".join(chunks)


def _still_serving(gateway: RunningGateway) -> None:
    with connect(gateway.ws_url, open_timeout=DEADLINE_S) as ws:
        ws.send(json.dumps({"action": "echo", "check": True}))
        assert ws.recv(timeout=DEADLINE_S) == json.dumps({"action": "echo", "check": True})


def _upgrade_head(gateway: RunningGateway, path: str | None = None) -> bytes:
    return (
        f"GET {path or '/' + gateway.local.model.stage} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x02\x03" * 64,
    b"NOT-HTTP\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /test/@connections/x HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /test/@connections/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET " + b"/a" * 40_000 + b" HTTP/1.1\r\n\r\n",
])
def test_garbage_requests_get_an_error_or_a_close(probe_gateway: RunningGateway, garbage: bytes) -> None:
    reply = _raw(probe_gateway, garbage)
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4")
    _still_serving(probe_gateway)


def test_a_chunk_without_its_crlf_is_refused_not_read_as_the_next_request(probe_gateway: RunningGateway) -> None:
    # h11 < 0.16 accepted any two bytes after a chunk's data (CVE-2025-43859): "XX"
    # here would have been skipped and "GET /smuggled" read as a second request.
    smuggle = (
        b"POST /test/@connections/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nhiXX0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    reply = _raw(probe_gateway, smuggle)
    assert reply.startswith(b"HTTP/1.1 400")
    assert reply.count(b"HTTP/1.1 ") == 1  # no answer to a smuggled second request
    _still_serving(probe_gateway)


def test_oversized_header_block_is_431(probe_gateway: RunningGateway) -> None:
    head = b"GET /test HTTP/1.1\r\nHost: a\r\n" + b"X-Pad: " + b"p" * 70_000 + b"\r\n"
    reply = _raw(probe_gateway, head)
    assert reply.startswith(b"HTTP/1.1 431")
    _still_serving(probe_gateway)


def _until_closed(gateway: RunningGateway, data: bytes) -> bytes:
    """Send ``data`` in one write; everything that came back before the gateway closed
    the connection (AssertionError if it is still open after DEADLINE_S)."""
    with socket.create_connection(_address(gateway), timeout=DEADLINE_S) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except socket.timeout:
            raise AssertionError(f"the connection is still open; got {b''.join(chunks)[:200]!r}") from None
        except ConnectionResetError:
            pass
        return b"".join(chunks)


@pytest.mark.parametrize("head", [
    # A 100 KB header and a 64 KB request line, each in one write: the whole head
    # arrives at once, not a piece at a time.
    b"GET /test/@connections/x HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"p" * 100_000 + b"\r\n\r\n",
    b"GET /test/@connections/" + b"x" * 65_536 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /test HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Pad: " + b"p" * 100_000
    + b"\r\n\r\n",
], ids=["100-kb-header", "64-kb-request-line", "100-kb-upgrade"])
def test_a_head_over_64_kb_arriving_whole_is_431_and_closed(probe_gateway: RunningGateway, head: bytes) -> None:
    reply = _until_closed(probe_gateway, head)
    assert reply.startswith(b"HTTP/1.1 431")
    _still_serving(probe_gateway)


def test_a_later_keep_alive_request_over_64_kb_is_431_and_closed(probe_gateway: RunningGateway) -> None:
    first = b"GET /test/@connections/x HTTP/1.1\r\nHost: a\r\n\r\n"
    second = b"GET /test/@connections/x HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"p" * 100_000 + b"\r\n\r\n"
    reply = _until_closed(probe_gateway, first + second)
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", reply) == [b"403", b"431"]  # 403: an unsigned GetConnection


def _server_side_open(gateway: RunningGateway, sock: socket.socket) -> bool:
    """Whether the gateway has a transport for ``sock`` (its connection timer runs)."""
    listener = gateway.local.listener
    assert listener is not None
    client = sock.getsockname()
    return gateway.background.call(
        lambda: any(t.get_extra_info("peername") == client for t in listener._transports))


def test_truncated_handshake_is_dropped_after_the_handshake_timeout(
    probe_gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A slow-loris client that never finishes its head is cut off after
    # HANDSHAKE_TIMEOUT_S (10 s); others are served meanwhile. The timeout is read
    # when a connection is accepted: one such client gets an hour (it is still there
    # while another is served), the next a quarter second (no 10 s of waiting here).
    head = b"GET /test HTTP/1.1\r\nHost: a\r\n"
    monkeypatch.setattr(listener_module, "HANDSHAKE_TIMEOUT_S", 3600.0)
    with socket.create_connection(_address(probe_gateway), timeout=DEADLINE_S) as lingering:
        lingering.sendall(head)
        wait_until(lambda: _server_side_open(probe_gateway, lingering))
        _still_serving(probe_gateway)
        assert _server_side_open(probe_gateway, lingering)  # not cut off meanwhile
        monkeypatch.setattr(listener_module, "HANDSHAKE_TIMEOUT_S", 0.25)
        with socket.create_connection(_address(probe_gateway), timeout=DEADLINE_S) as sock:
            sock.sendall(head)
            assert sock.recv(1) == b""  # dropped by the gateway
        assert _server_side_open(probe_gateway, lingering)  # its own, longer timeout


def _frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0) -> bytes:
    first = (0x80 if fin else 0) | rsv | opcode
    mask = os.urandom(4) if masked else b""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", first, (0x80 if masked else 0) | length)
    elif length < 65536:
        head = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, length)
    else:
        head = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, length)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if masked else payload
    return head + mask + body


def _close_code(reply: bytes) -> int | None:
    """The code of the first close frame in a server's reply, after the 101."""
    _, _, frames = reply.partition(b"\r\n\r\n")
    while len(frames) >= 2:
        opcode, length = frames[0] & 0x0F, frames[1] & 0x7F
        offset = 2
        if length == 126:
            length, offset = struct.unpack("!H", frames[2:4])[0], 4
        elif length == 127:
            length, offset = struct.unpack("!Q", frames[2:10])[0], 10
        payload = frames[offset:offset + length]
        if opcode == 0x8:
            return int(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else 1005
        frames = frames[offset + length:]
    return None


@pytest.mark.parametrize("frames, code", [
    (_frame(0x1, b'{"action":"echo"}', masked=False), 1002),      # clients must mask
    (_frame(0x3, b"x"), 1002),                                    # reserved opcode
    (_frame(0x1, b"x", rsv=0x40), 1002),                          # RSV1 without an extension
    (_frame(0x0, b"x"), 1002),                                    # continuation with nothing to continue
    (_frame(0x1, b"\xff\xfe"), 1007),                             # invalid UTF-8
    (_frame(0x9, b"p" * 200), 1002),                              # control frame over 125 bytes
    (_frame(0x1, b"a", fin=False) + _frame(0x1, b"b"), 1002),     # new message inside a fragmented one
], ids=["unmasked", "reserved-opcode", "rsv1", "orphan-continuation", "invalid-utf8", "long-control",
        "new-inside-fragmented"])  # named: the frames' masks are random, and ids must not be
def test_malformed_frames_close_with_the_protocol_code(
    probe_gateway: RunningGateway, frames: bytes, code: int,
) -> None:
    with connect(probe_gateway.ws_url) as bystander:
        # The gateway closes: a close frame, then (unanswered) the socket.
        reply = _raw(probe_gateway, _upgrade_head(probe_gateway), after_upgrade=frames, timeout=DEADLINE_S)
        assert reply.startswith(b"HTTP/1.1 101")
        assert _close_code(reply) == code
        bystander.send(json.dumps({"action": "echo", "bystander": 1}))
        assert bystander.recv(timeout=DEADLINE_S) == json.dumps({"action": "echo", "bystander": 1})


def test_fragmented_text_message_is_assembled(probe_gateway: RunningGateway) -> None:
    message = json.dumps({"action": "echo", "parts": 3}).encode()
    frames = _frame(0x1, message[:5], fin=False) + _frame(0x9, b"ping") + _frame(0x0, message[5:10], fin=False) \
        + _frame(0x0, message[10:])
    with socket.create_connection(_address(probe_gateway), timeout=DEADLINE_S) as sock:
        sock.sendall(_upgrade_head(probe_gateway))
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        sock.sendall(frames)
        deadline = time.monotonic() + DEADLINE_S
        while message not in received and time.monotonic() < deadline:
            received += sock.recv(65536)
    assert message in received          # the echo of the reassembled message
    assert b"\x8a\x04ping" in received  # and the pong for the ping in between


@pytest.mark.parametrize("pad", [0, 100, 200, 32_000])  # replies of 7-bit and 16-bit lengths
def test_a_reply_is_on_the_wire_as_websockets_would_frame_it(probe_gateway: RunningGateway, pad: int) -> None:
    # The session writes unfragmented replies itself: the bytes must be exactly the
    # frame websockets' own protocol makes of the same message.
    message = json.dumps({"action": "echo", "pad": "é" * (pad // 2)}, ensure_ascii=False).encode()
    reference = ServerProtocol()
    reference.state = State.OPEN
    reference.send_text(message)
    expected = b"".join(reference.data_to_send())
    with socket.create_connection(_address(probe_gateway), timeout=DEADLINE_S) as sock:
        sock.sendall(_upgrade_head(probe_gateway))
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        received = received.split(b"\r\n\r\n", 1)[1]
        sock.sendall(_frame(0x1, message))
        while len(received) < len(expected):
            chunk = sock.recv(65536)
            assert chunk, "closed before the whole reply arrived"
            received += chunk
    assert received == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes_after_the_handshake_never_break_the_gateway(
    probe_gateway: RunningGateway, body: bytes,
) -> None:
    reply = _raw(probe_gateway, _upgrade_head(probe_gateway), after_upgrade=body or b"\x88\x80\0\0\0\0", timeout=0.3)
    assert reply.startswith(b"HTTP/1.1 101")
    _still_serving(probe_gateway)
