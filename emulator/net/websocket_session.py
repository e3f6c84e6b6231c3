"""One client WebSocket connection: websockets' sans-I/O protocol on an asyncio
transport, driven by the gateway core.

The listener (``listener.py``) creates a :class:`WebSocketSession` once it has seen an
upgrade request and feeds it bytes; the session parses the handshake, asks the core
what to do, runs ``$connect`` before answering (the client cannot send until the
101, [doc] DOCS-connect), then turns each complete text message into an invocation
and each close into one ``$disconnect``.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import struct
from urllib.parse import parse_qsl

from websockets.exceptions import InvalidState
from websockets.frames import CloseCode, Frame, Opcode
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from ..core.events import Handshake
from ..core.lifecycle import Accept, Reject, SendText
from ..core.invocation import Invoke, Outcome
from .frame_fast_path import next_text_frame, parser_between_frames
from .session_host import Refusal, SessionHost

log = logging.getLogger("wsgw.server")

# How long a client gets to answer our close frame before the socket is dropped.
CLOSE_TIMEOUT_S = 2.0

# Reason reported to $disconnect for a close frame without a status code
# [obs] PT-Disconnect (reference §1.3).
NO_STATUS_REASON = "Client-side close frame status not set"


class WebSocketSession:
    """The server side of one WebSocket connection, from upgrade request to close."""

    # One per open connection: slots keep an idle one small (bench scenario e).
    __slots__ = (
        "host", "transport", "secure", "_loop", "protocol", "connection_id", "established", "_handshake",
        "_fragments", "_fragmented_binary", "_server_close", "_reported_closed", "_close_timer", "_warned_full",
        "_parser_idle", "_largest_frame",
    )

    def __init__(self, host: SessionHost, transport: asyncio.Transport, *, secure: bool) -> None:
        self.host = host
        self.transport = transport
        self.secure = secure
        self._loop = asyncio.get_running_loop()  # created by the listener, on its loop
        limits = host.lifecycle.model.limits
        # (message, frame) limits: beyond either the protocol fails the connection
        # with 1009 [doc] DOCS-limits ("32 KB frame, 128 KB message").
        self.protocol = ServerProtocol(max_size=(limits.message_bytes, limits.frame_bytes))
        self.connection_id: str | None = None
        self.established = False
        self._handshake: Handshake | None = None  # until the handshake is answered
        self._fragments: list[bytes] = []
        self._fragmented_binary = False
        self._server_close: tuple[int, str] | None = None
        self._reported_closed = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._warned_full = False
        # Whether websockets' parser waits between frames with nothing buffered (set
        # after each read it had): then whole text frames are read by frame_fast_path.
        self._parser_idle = False
        # The largest frame payload websockets accepts outside a fragmented message.
        self._largest_frame = min(limits.message_bytes, limits.frame_bytes)

    # -- bytes in -----------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Call with every chunk of bytes read from the socket."""
        protocol = self.protocol
        messages: list[bytes] = []
        if self._parser_idle and protocol.state is State.OPEN:
            # The everyday message, one whole small text frame, is read here rather
            # than by websockets' parser (every message's hot path); what follows the
            # frames read here, if anything, still goes to the parser.
            offset = 0
            while (frame := next_text_frame(data, offset, self._largest_frame)) is not None:
                payload, offset = frame
                messages.append(payload)
            if offset == len(data):
                for payload in messages:
                    self._on_message(payload, binary=False)
                return
            data = data[offset:]
        protocol.receive_data(data)
        # As websockets would have it: every frame of the read parsed before any is
        # handled (a close later in the read is answered before an earlier message's
        # error closes the connection).
        for payload in messages:
            self._on_message(payload, binary=False)
        self._process()
        self._parser_idle = parser_between_frames(protocol)

    def receive_eof(self) -> None:
        self.protocol.receive_eof()
        self._process()

    def _process(self) -> None:
        for event in self.protocol.events_received():
            if isinstance(event, Request):
                self._on_request(event)
            elif isinstance(event, Frame):
                self._on_frame(event)
        self._flush()

    def _flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)
            else:
                # SEND_EOF: a server closes the TCP connection once the closing
                # handshake is done (RFC 6455 §7.1.1); close() flushes first.
                self.transport.close()
        if self.protocol.close_expected() and self._close_timer is None and not self.transport.is_closing():
            loop = asyncio.get_running_loop()
            self._close_timer = loop.call_later(CLOSE_TIMEOUT_S, self.transport.abort)

    # -- handshake ----------------------------------------------------------------

    def _on_request(self, request: Request) -> None:
        response = self.protocol.accept(request)
        path, _, query = request.path.partition("?")
        peer = self.transport.get_extra_info("peername") or ("", 0)
        if response.status_code != 101:
            # Not a valid upgrade (bad key/version...): refused before any integration.
            exc = self.protocol.handshake_exc
            self.host.refused(Refusal(path, str(peer[0]), response.status_code,
                                      f"not a valid WebSocket upgrade request: {exc}"))
            self.protocol.send_response(response)
            return
        local = self.transport.get_extra_info("sockname") or ("", 0)
        handshake = self._handshake = Handshake(
            path=path,
            query=tuple(parse_qsl(query, keep_blank_values=True)),
            headers=tuple(request.headers.raw_items()),
            source_ip=str(peer[0]),
            secure=self.secure,
            port=int(local[1]),
        )
        # websockets' parser keeps the Request alive for the connection's whole life
        # (a local of its parse generator); the Handshake has what we need, so the
        # header table is emptied rather than held per idle connection (bench e).
        request.headers.clear()
        decision = self.host.lifecycle.open(handshake)
        if isinstance(decision, Invoke):
            self.connection_id = decision.connection_id
            # Nothing may be read before the 101 (AWS keeps the upgrade pending).
            self.transport.pause_reading()
            self.host.spawn(self._run_connect(decision, response))
        else:
            self._answer_handshake(decision, response)

    async def _run_connect(self, invoke: Invoke, response: Response) -> None:
        try:
            await self._finish_connect(invoke, response)
        except Exception:
            # A bug of ours must not leave the client hanging in its handshake.
            log.exception("internal error while completing a handshake")
            self.host.lifecycle.abandon(invoke.connection_id)
            self.transport.abort()

    async def _finish_connect(self, invoke: Invoke, response: Response) -> None:
        decision: Accept | Reject | Invoke = invoke
        while isinstance(decision, Invoke):  # the authorizer, then $connect
            outcome = await self.host.integrate(decision)
            decision = self.host.lifecycle.connect_finished(decision, outcome)
        if self.transport.is_closing():
            # The client left while $connect ran: never established, no $disconnect.
            self.host.lifecycle.abandon(invoke.connection_id)
            return
        self._answer_handshake(decision, response)
        self.transport.resume_reading()
        if self.host.draining and self.established:
            # $connect finished while the gateway shuts down: the connection exists
            # (the app may have stored it), so it is closed like the others and its
            # $disconnect runs.
            self.close(1001, "Going away")

    def _answer_handshake(self, decision: Accept | Reject, response: Response) -> None:
        if isinstance(decision, Reject):
            rejection = _refusal_response(decision)
            if self._handshake is not None:
                self.host.refused(Refusal(self._handshake.path, self._handshake.source_ip,
                                          decision.status, decision.reason))
            self.protocol.send_response(rejection)
            self._flush()
            return
        # Only the Sec-WebSocket-Protocol the $connect handler returned goes into the
        # 101, never one we picked ourselves [doc] DOCS-subproto.
        if "Sec-WebSocket-Protocol" in response.headers:
            del response.headers["Sec-WebSocket-Protocol"]
        if decision.subprotocol:
            response.headers["Sec-WebSocket-Protocol"] = decision.subprotocol
        self.connection_id = decision.connection_id
        self.established = True
        # The registry keeps what events need; an idle connection keeps no copy here
        # (memory per idle connection, bench scenario e).
        self._handshake = None
        self.host.established(self)
        self.protocol.send_response(response)
        self._flush()

    # -- frames -------------------------------------------------------------------

    def _on_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT or frame.opcode is Opcode.BINARY:
            self._fragments = [bytes(frame.data)]
            self._fragmented_binary = frame.opcode is Opcode.BINARY
        elif frame.opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
        else:
            if frame.opcode is Opcode.CLOSE and self.connection_id is not None and self.established:
                self.host.lifecycle.closing(self.connection_id)
            return  # ping (answered by the protocol), pong, close (see connection_lost)
        if not frame.fin:
            return
        data = b"".join(self._fragments)
        self._fragments = []
        self._on_message(data, binary=self._fragmented_binary)

    def _on_message(self, data: bytes, *, binary: bool) -> None:
        """One whole message, its frames joined and unmasked."""
        if binary:
            # Binary frames are not supported: API Gateway closes with 1003
            # [doc] DOCS-binary. Close reason text is unconfirmed [?].
            self.close(CloseCode.UNSUPPORTED_DATA, "Binary frames are not supported")
            return
        try:
            # websockets' sans-I/O layer leaves UTF-8 validation of text messages to
            # the I/O layer: invalid text closes with 1007 (RFC 6455 §8.1).
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.close(CloseCode.INVALID_DATA, "Invalid UTF-8 in a text message")
            return
        if self.connection_id is None or not self.established:
            return
        decision = self.host.lifecycle.message(self.connection_id, text)
        if isinstance(decision, SendText):
            self.send_text(decision.text)
            return
        # Started without a task when it can be (an idle worker for a Lambda proxy:
        # every message's hot path), else awaited in one.
        message = _MessageInFlight(self, decision)
        if not self.host.integrate_soon(decision, message.finished):
            self.host.spawn(self._run_message(message))
        message.arm()  # after the invocation is on its way (every message's hot path)

    async def _run_message(self, message: _MessageInFlight) -> None:
        try:
            outcome = await self.host.integrate(message.invoke)
        except BaseException:
            if message.timer is not None:
                message.timer.cancel()
            raise
        message.finished(outcome)

    # -- bytes out ----------------------------------------------------------------

    def peer(self) -> tuple[str, int] | None:
        """The client socket's (address, port)."""
        name = self.transport.get_extra_info("peername")
        return (str(name[0]), int(name[1])) if name else None

    def write_backlog(self) -> int:
        """Bytes written for this client that it has not taken yet (asyncio's write
        buffer; the kernel's socket buffers come on top)."""
        return self.transport.get_write_buffer_size()

    def abort(self) -> None:
        """Drop the socket now; ``connection_lost`` follows and reports the close."""
        self.transport.abort()

    def send_text(self, text: str) -> bool:
        """Send one text message (a route reply or an error frame); False if the
        connection is no longer open or its client-side buffer is full."""
        return self.send_data(text.encode("utf-8"), text=True)

    def send_data(self, data: bytes, *, text: bool, bounded: bool = True) -> bool:
        """Send one message, split into frames of at most the frame limit.

        Outbound messages over 32 KB are fragmented, never dropped: "larger messages
        must be fragmented into ≤32 KB frames ... This applies to @connections
        commands" [doc] DOCS-limits. ``bounded=False`` for a PostToConnection the
        management API already admitted (it answers 429 when the buffer is full).
        """
        if self.protocol.state is not State.OPEN:
            return False
        limits = self.host.lifecycle.model.limits
        if bounded and self.transport.get_write_buffer_size() + len(data) > limits.client_buffer_bytes:
            # A client that stopped reading must not make the gateway's memory grow
            # without bound. What AWS does with a route reply it cannot buffer is
            # unconfirmed [?]; we drop it (a post in the same state gets 429) and say so.
            if not self._warned_full:
                self._warned_full = True
                log.warning("client of %s is not reading: its buffer is full, route replies are dropped",
                            self.connection_id)
            return False
        if self.connection_id is not None:
            # Before the bytes leave: a client that saw the message must never see an
            # older lastActiveAt.
            self.host.lifecycle.activity(self.connection_id)
        size = limits.frame_bytes
        protocol = self.protocol
        if len(data) <= size and not protocol.extensions and not protocol.expect_continuation_frame:
            # One unfragmented frame (every route reply): written here, as websockets
            # would (RFC 6455 §5.2: FIN + opcode, unmasked from a server, the length),
            # without its Frame object, checks and buffer per message. Its state is
            # untouched by a data frame; its write buffer is always empty here (every
            # call into it is followed by _flush). Nothing is negotiated that would
            # change the bytes: the server offers no extensions (no compression).
            self.transport.write(_frame_head(0x81 if text else 0x82, len(data)) + data)
            return True
        try:
            if len(data) <= size:
                (protocol.send_text if text else protocol.send_binary)(data)
            else:
                first = self.protocol.send_text if text else self.protocol.send_binary
                first(data[:size], fin=False)
                for start in range(size, len(data), size):
                    self.protocol.send_continuation(data[start:start + size], fin=start + size >= len(data))
        except InvalidState:
            return False
        self._flush()
        return True

    def close(self, code: int, reason: str, *, reported_reason: str | None = None) -> None:
        """Start a server-side close with ``code``/``reason`` on the wire;
        ``$disconnect`` reports ``code`` and ``reported_reason`` (default: ``reason``)."""
        if self._server_close is None:
            self._server_close = (code, reason if reported_reason is None else reported_reason)
        if self.connection_id is not None and self.established:
            self.host.lifecycle.closing(self.connection_id)
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self._flush()
        elif self.protocol.state is State.CONNECTING:
            self.transport.abort()

    # -- end ----------------------------------------------------------------------

    def connection_lost(self) -> None:
        """Call once when the transport is gone; reports the close to the core."""
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._reported_closed or self.connection_id is None:
            return
        self._reported_closed = True
        if not self.established:
            # Still inside $connect (or refused): _run_connect abandons it when the
            # integration returns; a connection never established gets no $disconnect.
            return
        self.host.ended(self.connection_id)
        code, reason = self._close_status()
        invoke = self.host.lifecycle.closed(self.connection_id, code, reason)
        if invoke is not None:
            self.host.spawn(self.host.integrate(invoke))

    def _close_status(self) -> tuple[int, str]:
        if self._server_close is not None:
            return self._server_close
        received = self.protocol.close_rcvd
        if received is None:
            # The TCP connection ended without a close frame. What AWS reports then
            # is unconfirmed [?]; 1006 is RFC 6455's code for exactly this case.
            sent = self.protocol.close_sent
            if sent is not None:
                return int(sent.code), sent.reason
            return int(CloseCode.ABNORMAL_CLOSURE), "Connection closed abnormally"
        if received.code == CloseCode.NO_STATUS_RCVD:
            return int(received.code), NO_STATUS_REASON
        return int(received.code), received.reason


class _MessageInFlight:
    """One client message's integration, from its start to the reply frame.

    The integration timeout is a timer, not a task (every message's hot path). When it
    fires first, the client is told now and the invocation goes on, as a Lambda keeps
    running; its outcome is then dropped."""

    __slots__ = ("session", "invoke", "timer", "timed_out")

    def __init__(self, session: WebSocketSession, invoke: Invoke) -> None:
        self.session = session
        self.invoke = invoke
        self.timed_out = False
        self.timer: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        """Start the integration timeout; call once the integration was started (its
        outcome comes later, from the loop, so never before this)."""
        lifecycle = self.session.host.lifecycle
        self.timer = self.session._loop.call_later(lifecycle.integration_timeout_ms(self.invoke) / 1000,
                                                   self._time_out)

    def _time_out(self) -> None:
        self.timed_out = True
        self.session.send_text(self.session.host.lifecycle.integration_timed_out(self.invoke).text)

    def finished(self, outcome: Outcome) -> None:
        """The integration's outcome: the route's reply (or error frame) goes out."""
        if self.timer is not None:
            self.timer.cancel()
        if self.timed_out:
            return
        reply = self.session.host.lifecycle.message_finished(self.invoke, outcome)
        if reply is not None:
            self.session.send_text(reply.text)


def _frame_head(first_byte: int, length: int) -> bytes:
    """A server frame's header (no mask): FIN/opcode byte, then the payload length
    in 7 bits, or 126 and 16 bits, or 127 and 64 bits (RFC 6455 §5.2)."""
    if length < 126:
        return bytes((first_byte, length))
    if length < 65536:
        return struct.pack("!BBH", first_byte, 126, length)
    return struct.pack("!BBQ", first_byte, 127, length)


def _refusal_response(decision: Reject) -> Response:
    """The HTTP answer to a refused upgrade: ``decision``'s status and body with
    exactly one ``Content-Type``, ``application/json``, as API Gateway's error
    responses have (403 ``{"message":"Forbidden"}``) [obs] LS-TEST; that a ``$connect``
    handler's non-2xx with an empty body says so too is [?]. Built here rather than by
    websockets' ``reject()``, which adds a text/plain one and knows only IANA codes
    (a handler may return any status)."""
    try:
        phrase = http.HTTPStatus(decision.status).phrase
    except ValueError:
        phrase = ""
    body = decision.body.encode()
    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Connection", "close"),
        ("Content-Length", str(len(body))),
        ("Content-Type", "application/json"),
    ])
    return Response(decision.status, phrase, headers, body)
