"""Plain HTTP on the gateway's port: the ``@connections`` management API.

Any request that is not a WebSocket upgrade lands here (the listener decides from
the first request head). HTTP/1.1 framing and keep-alive are h11's, except for the
everyday ``@connections`` request that arrives whole in one read, which
``http_fast_path.py`` reads and answers byte for byte as h11 would; what to answer is
:class:`~emulator.core.management.ManagementApi`'s; this module only moves bytes.
Requests a mount claims (the inspector, ``http_mount.py``) go to it instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from email.utils import formatdate
from typing import Awaitable

import h11

from ..core.ids import RandomUuids
from ..core.invocation import Invoke
from ..core.lambda_api import accepted_response, invoke_response, is_lambda_path, parse_invoke
from ..core.management import HttpResponse, ManagementRequest
from .http_fast_path import HeldRequest, Incomplete, format_response, parse_simple_request
from .http_mount import HttpMount, MountedRequest
from .session_host import SessionHost

log = logging.getLogger("wsgw.server")

# Far above the 128 KB PostToConnection limit (answered with 413 by the rules), but
# a bound: a larger declared body is refused without reading it.
MAX_BODY_BYTES = 1024 * 1024
# A request head (request line and headers) over 64 KB gets 431, on the first request
# of a connection (the listener checks it) and on every later one (checked here).
MAX_HEAD_BYTES = 64 * 1024
# x-amzn-RequestId values (UUIDs, as AWS's): one getrandom call per few hundred.
_request_ids = RandomUuids()


class HttpSession:
    """One HTTP/1.1 client connection (possibly several requests, keep-alive)."""

    def __init__(self, host: SessionHost, transport: asyncio.Transport, *,
                 mount: HttpMount | None = None, secure: bool = False) -> None:
        self.host = host
        self.transport = transport
        self.mount = mount  # answers the requests it claims (the inspector)
        self.secure = secure
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._request: h11.Request | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._held = HeldRequest()  # a simple request while its body arrives

    def receive(self, data: bytes) -> None:
        """Call with every chunk of bytes read from the socket."""
        ready = self._held.feed(data)
        if ready is None:
            return
        data = ready
        conn = self.conn
        if conn.our_state is h11.IDLE and conn.their_state is h11.IDLE and not conn.trailing_data[0]:
            # Between requests with nothing buffered: a whole simple request in
            # ``data`` is answered here, and h11 stays IDLE for whatever comes next.
            request = parse_simple_request(data, max_head=MAX_HEAD_BYTES, max_body=MAX_BODY_BYTES)
            if isinstance(request, Incomplete):
                self._held.hold(data, request.size)
                return
            if request is not None and self._answer_simple(request):
                return
        conn.receive_data(data)
        self._process()

    def _answer_simple(self, request: ManagementRequest) -> bool:
        """Answer a ``@connections`` request read by the fast path; False (nothing
        done) for the requests h11's path answers (the mount's, Lambda Invoke's)."""
        target = request.target
        if is_lambda_path(target) or (self.mount is not None and self.mount.claims(target)):
            return False
        if not self.transport.is_closing():
            self.host.manage(request, _request_ids.next(), self._send_simple)
        return True

    def _send_simple(self, response: HttpResponse) -> None:
        self.transport.write(format_response(response, _http_date()))

    def receive_eof(self) -> None:
        if self._held.holding:  # a body cut short: h11 says what that is
            self.conn.receive_data(self._held.release())
        self.conn.receive_data(b"")
        self._process()

    def _process(self) -> None:
        while not self.transport.is_closing():
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._fail(exc.error_status_hint, "Bad Request")
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                if event is h11.PAUSED and self.conn.our_state is h11.DONE:
                    self._next_cycle()
                    continue
                return  # PAUSED while an asynchronous answer is pending: resumed later
            if isinstance(event, h11.Request):
                if _head_size(event) > MAX_HEAD_BYTES:
                    # h11 bounds only a head that is still incomplete; one that
                    # arrived whole in a read is measured here.
                    self._fail(431, "Request Header Fields Too Large")
                    return
                self._request = event
                self._body = []
                self._size = 0
                if _declared_length(event) > MAX_BODY_BYTES:
                    self._fail(413, "Request Entity Too Large")
                    return
            elif isinstance(event, h11.Data):
                self._size += len(event.data)
                if self._size > MAX_BODY_BYTES:
                    self._fail(413, "Request Entity Too Large")
                    return
                self._body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._answer()
                self._next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                self.transport.close()
                return

    def _answer(self) -> None:
        request = self._request
        assert request is not None
        method = request.method.decode("ascii", "replace")
        target = request.target.decode("ascii", "replace")
        body = b"".join(self._body)
        if self.mount is not None and self.mount.claims(target):
            headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers)
            self.mount.handle(MountedRequest(method, target, headers, body, self.secure), _MountExchange(self),
                              self.host)
            return
        if is_lambda_path(target):
            self._answer_lambda(method, target, request, body)
            return
        authorization = next(
            (value.decode("latin-1") for name, value in request.headers if name == b"authorization"), None,
        )
        management = ManagementRequest(method=method, target=target, body=body, authorization=authorization)
        self.host.manage(management, _request_ids.next(), self._send)

    def _answer_lambda(self, method: str, target: str, request: h11.Request, body: bytes) -> None:
        request_id = _request_ids.next()  # Lambda request ids are UUIDs
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.headers}
        model = self.host.lifecycle.model
        parsed = parse_invoke(
            method, target, headers, body, model.functions,
            region=model.region, account_id=model.account_id, request_id=request_id,
        )
        if isinstance(parsed, HttpResponse):
            self._send(parsed)
            return
        invoke = Invoke(parsed.function, parsed.event, request_id, "-", "lambda:Invoke")
        if parsed.invocation_type == "RequestResponse":
            # Answered when the function returns; h11 holds later pipelined requests.
            self.host.spawn(self._finish_lambda(invoke))
            return
        if parsed.invocation_type == "Event":
            self.host.spawn(self.host.integrate(invoke))  # runs on; nobody waits
        self._send(accepted_response(parsed.invocation_type, request_id))

    async def _finish_lambda(self, invoke: Invoke) -> None:
        outcome = await self.host.integrate(invoke)
        if self.transport.is_closing():
            return
        self._send(invoke_response(outcome, invoke.request_id))
        self._next_cycle()
        self._process()  # requests that arrived meanwhile

    def _send(self, response: HttpResponse) -> None:
        headers = [
            ("Date", _http_date()),
            ("Content-Length", str(len(response.body))),
            *response.headers,
        ]
        # One write for the whole answer: over TLS that is one record and one send,
        # not three (every post of a broadcast waits for this answer).
        chunks = [self.conn.send(h11.Response(status_code=response.status, headers=headers))]
        if response.body:
            chunks.append(self.conn.send(h11.Data(data=response.body)))
        chunks.append(self.conn.send(h11.EndOfMessage()))
        self.transport.write(b"".join(chunk for chunk in chunks if chunk))

    def _write(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            self.transport.write(data)

    def _next_cycle(self) -> None:
        if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is h11.MUST_CLOSE:
            self.transport.close()
            return
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()

    def _fail(self, status: int, text: str) -> None:
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            body = text.encode()
            try:
                self._write(h11.Response(
                    status_code=status,
                    headers=[("Content-Length", str(len(body))), ("Connection", "close")],
                ))
                self._write(h11.Data(data=body))
                self._write(h11.EndOfMessage())
            except h11.LocalProtocolError:
                pass
        self.transport.close()


class _MountExchange:
    """How a mount answers on an :class:`HttpSession` (emulator/net/http_mount.py)."""

    def __init__(self, session: HttpSession) -> None:
        self.session = session
        self._ended = False

    def respond(self, response: HttpResponse) -> None:
        self.session._send(response)

    def respond_later(self, answer: Awaitable[HttpResponse]) -> None:
        async def finish() -> None:
            response = await answer
            if not self.session.transport.is_closing():
                self.session._send(response)
                self.session._next_cycle()
                self.session._process()  # requests that arrived meanwhile
        self.session.host.spawn(finish())

    def stream(self, status: int, headers: tuple[tuple[str, str], ...]) -> _MountExchange:
        # No Content-Length: h11 sends the body chunked (HTTP/1.1) or until close.
        self._write(h11.Response(status_code=status, headers=[("Date", _http_date()), *headers]))
        return self

    @property
    def closed(self) -> bool:
        return self._ended or self.session.transport.is_closing()

    def backlog(self) -> int:
        return self.session.transport.get_write_buffer_size()

    def write(self, data: bytes) -> None:
        if not self.closed:
            self._write(h11.Data(data=data))

    def end(self) -> None:
        if not self.closed:
            self._write(h11.EndOfMessage())
            self._ended = True
            self.session._next_cycle()

    def _write(self, event: h11.Event) -> None:
        try:
            self.session._write(event)
        except h11.LocalProtocolError:
            self.session.transport.close()


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The ``Date`` header's value (RFC 9110 IMF-fixdate), formatted once a second:
    every ``@connections`` answer carries one (a broadcast sends thousands)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def _declared_length(request: h11.Request) -> int:
    for name, value in request.headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _head_size(request: h11.Request) -> int:
    """The size of ``request``'s head as sent: request line, header lines, blank line."""
    line = len(request.method) + len(request.target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers) + 2
