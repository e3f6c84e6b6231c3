"""A keep-alive HTTP/1.1 front for the embedded moto server.

``moto.server.ThreadedMotoServer`` (werkzeug's development server) answers every
request with ``Connection: close``, so each DynamoDB call from a handler costs a new TCP
connection and a new thread on both sides (BENCHMARKS.md § "Profile findings" item 1).
This module replaces it, for the moto child process: :func:`serve` runs a WSGI app
behind an HTTP/1.1 server (h11 parses, on an event loop in a background thread):
keep-alive, ``Expect: 100-continue``, de-chunked request bodies, ``Connection: close``
honoured. A handler's everyday call (a whole ``POST`` with a ``Content-Length``, as
boto3 sends a DynamoDB call) skips h11: :func:`~emulator.net.http_fast_path.parse_simple`
reads it (about 5 % of moto's CPU per call, BENCHMARKS.md), and anything it does not take
goes to h11 as before. The app runs *on the loop thread*, one request at a time: moto's backends
are not written for concurrency, and handing each request to one worker thread
instead cost 9-15 % more moto CPU per call (a variant run through
``bench.moto_front``). The price: a request whose handling calls back into this same
server over HTTP (moto's Lambda in Docker, an SNS HTTP subscription to itself) waits
until that call times out.

The app it serves in the child is moto's dispatcher with its service lookup memoized
and a ``POST /`` answered without Flask
(:class:`~emulator.aws.moto_dispatch.MemoizingDispatcher`). Use in the moto child:
``front = serve(MemoizingDispatcher(), host, 0)``, print ``front.port``, and
``front.stop()`` before exiting.
"""

from __future__ import annotations

import asyncio
import io
import re
import socket
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Callable, Iterable, cast
from urllib.parse import unquote_to_bytes
from wsgiref.types import WSGIApplication, WSGIEnvironment

import h11
from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    environ_key_for_header,
    should_preserve_original_header_name,
)

from ..net.event_loop import LoopChoice
from ..net.event_loop import resolve as resolve_loop
from ..net.http_fast_path import HeldRequest, Incomplete, parse_simple

__all__ = ["RunningFront", "serve"]


class RunningFront:
    """A started front: its ``port``, ``connections_accepted`` so far (tests use it to
    see keep-alive at work), and :meth:`stop`. Returned by :func:`serve`."""

    def __init__(self, app: WSGIApplication, host: str) -> None:
        self.app = app
        self.host = host
        self.port = 0
        self.connections_accepted = 0
        self.requests_read_without_h11 = 0  # tests use it to see the fast path at work
        self._connections: set[_HttpConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._date = (0, b"")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the listener and every open connection, then end the loop thread.
        Call from any thread but the front's own; a request being handled is finished
        first. Calling it again does nothing."""
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(self._shutdown, loop)
            thread.join(timeout_s)

    def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.transport.abort()
        loop.call_soon(loop.stop)  # after the aborts' connection_lost callbacks

    def _http_date(self) -> bytes:
        """The ``Date`` header value, formatted once per second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True).encode("ascii"))
        return self._date[1]


def serve(app: WSGIApplication, host: str = "127.0.0.1", port: int = 0, *,
          loop: LoopChoice = "auto", sock: socket.socket | None = None) -> RunningFront:
    """Serve ``app`` on ``host``:``port`` (0: any free port), or on the listening
    ``sock`` (one the parent process bound and handed down), from a new daemon thread
    running an event loop (``auto``: uvloop if installed, a few % less CPU per request);
    return once it listens. Call :meth:`RunningFront.stop` when done. Raises
    ``OSError`` if the address cannot be bound."""
    front = RunningFront(app, host)
    ready = threading.Event()
    failure: list[BaseException] = []
    if resolve_loop(loop) == "uvloop":
        import uvloop

        new_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop

    def run() -> None:
        event_loop = front._loop = new_loop()
        try:
            front._server = event_loop.run_until_complete(
                event_loop.create_server(lambda: _HttpConnection(front), sock=sock) if sock is not None
                else event_loop.create_server(lambda: _HttpConnection(front), host, port))
            front.port = front._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # re-raised by serve()
            failure.append(exc)
        ready.set()
        try:
            if not failure:
                event_loop.run_forever()
        finally:
            event_loop.close()

    front._thread = threading.Thread(target=run, name=f"moto-front-{host}", daemon=True)
    front._thread.start()
    ready.wait()
    if failure:
        front._thread.join()
        raise failure[0]
    return front


# h11's own limit on a request head (its default max_incomplete_event_size): a longer
# one goes to h11, which answers 431. A simple request's body is held until whole up to
# this size; a bigger one goes to h11 too (it reads bodies as they come).
_MAX_HEAD = 16 * 1024
_MAX_SIMPLE_BODY = 16 * 1024 * 1024  # BatchWriteItem's limit


class _HttpConnection(asyncio.Protocol):
    """One client connection: each request is answered in full (app run inline)
    before the next one is read; the simple ones are read without h11."""

    transport: asyncio.Transport

    def __init__(self, front: RunningFront) -> None:
        self.front = front
        self.h11 = h11.Connection(h11.SERVER)
        self.request: h11.Request | None = None
        self.body: list[bytes] = []
        self.writing_paused = False
        self.held = HeldRequest()  # a simple request while its body arrives

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.front.connections_accepted += 1
        self.front._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.front._connections.discard(self)

    def data_received(self, data: bytes) -> None:
        ready = self.held.feed(data)
        if ready is None:
            return
        data = ready
        parser = self.h11
        if (not self.writing_paused and parser.their_state is h11.IDLE and not parser.trailing_data[0]
                and not self.transport.is_closing()):
            # Between requests with nothing buffered: a whole simple request is
            # answered here, and h11 stays IDLE for whatever comes next.
            simple = parse_simple(data, max_head=_MAX_HEAD, max_body=_MAX_SIMPLE_BODY)
            if isinstance(simple, Incomplete):
                self.held.hold(data, simple.size)
                return
            if simple is not None:
                self.front.requests_read_without_h11 += 1
                # HTTP/1.1 without a Connection header: keep-alive (RFC 9112 §9.3).
                self._respond(simple.method, simple.target, b"1.1", simple.headers, simple.body, keep_alive=True)
                return
        parser.receive_data(data)
        self._process()

    def eof_received(self) -> bool:
        if self.held.holding:  # a body cut short: h11 says what that is
            self.h11.receive_data(self.held.release())
        self.h11.receive_data(b"")
        self._process()
        return False  # close our side too

    def pause_writing(self) -> None:
        # The client does not read its responses: stop reading its requests.
        self.writing_paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.transport.resume_reading()
        self._process()  # pipelined requests h11 already holds

    def _process(self) -> None:
        """Handle every complete event h11 has; answer each request at its end."""
        while not self.writing_paused and not self.transport.is_closing():
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                self._reject(exc.error_status_hint, str(exc))
                return
            if event is h11.NEED_DATA:
                return
            if isinstance(event, h11.Request):
                self.request, self.body = event, []
                if self.h11.they_are_waiting_for_100_continue:  # RFC 9110 §10.1.1
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            elif isinstance(event, h11.Data):
                self.body.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                request, body = self.request, b"".join(self.body)
                assert request is not None
                self.request, self.body = None, []
                keep_alive = request.http_version == b"1.1" and not any(
                    name == b"connection" and b"close" in value.lower() for name, value in request.headers)
                if not self._respond(request.method, request.target, request.http_version,
                                     request.headers.raw_items(), body, keep_alive=keep_alive):
                    return
                # h11 only parses; we write responses ourselves (half its cost per
                # request), so a new parser takes what follows: a pipelined request or EOF.
                data, closed = self.h11.trailing_data
                self.h11 = h11.Connection(h11.SERVER)
                if data:
                    self.h11.receive_data(data)
                if closed:
                    self.h11.receive_data(b"")
            else:  # ConnectionClosed (PAUSED cannot happen: each parser reads one request)
                self.transport.close()
                return

    def _reject(self, status: int, why: str) -> None:
        """Answer a request h11 could not parse, then close (its framing is lost)."""
        body = f"Bad request: {why}\n".encode("utf-8", "replace")
        phrase = HTTPStatus(status).phrase.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, phrase, len(body), body))
        self.transport.close()

    def _respond(self, method: bytes, target: bytes, http_version: bytes, raw_headers: Iterable[tuple[bytes, bytes]],
                 body: bytes, *, keep_alive: bool) -> bool:
        """Run the app on one request and write its whole response; whether the
        connection stays open (RFC 9112 §9.3: ``keep_alive``, unless the response
        forbids it). Closes the connection when it does not."""
        environ = self._environ(method, target, http_version, raw_headers, body)
        status, headers, body = _call_app(self.front.app, environ)
        date = self.front._http_date()
        try:
            head, has_body, keep_alive = _response_head(method, status, headers, len(body), keep_alive, date)
        except (ValueError, UnicodeEncodeError):
            _log(environ, "returned a response HTTP/1.1 cannot carry")
            body = b"Internal Server Error\n"
            head, has_body, keep_alive = _response_head(
                method, "500 Internal Server Error", [], len(body), keep_alive, date)
        if not has_body:
            self.transport.write(head)
        elif len(body) < 65536:
            self.transport.write(head + body)
        else:  # no copy of a big body
            self.transport.write(head)
            self.transport.write(body)
        if not keep_alive:
            self.transport.close()
        return keep_alive

    def _environ(self, method: bytes, target: bytes, http_version: bytes,
                 raw_headers: Iterable[tuple[bytes, bytes]], body: bytes) -> WSGIEnvironment:
        """The WSGI environ werkzeug's dev server (with moto's ``MotoRequestHandler``
        tweak for underscored S3 metadata headers) would build, except that a chunked
        body arrives de-chunked with its ``CONTENT_LENGTH``."""
        path, _, query = target.partition(b"?")
        host: str | None = None
        if path.startswith((b"http://", b"https://")):  # absolute-form (RFC 9112 §3.2.2)
            authority, slash, rest = path.split(b"://", 1)[1].partition(b"/")
            host, path = authority.decode("latin-1"), slash + rest or b"/"
        peer = self.transport.get_extra_info("peername") or ("", 0)
        raw_target = target.decode("latin-1")
        environ: WSGIEnvironment = {
            "REQUEST_METHOD": method.decode("ascii"), "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"), "QUERY_STRING": query.decode("latin-1"),
            "REQUEST_URI": raw_target, "RAW_URI": raw_target,
            "SERVER_NAME": self.front.host, "SERVER_PORT": str(self.front.port),
            "SERVER_PROTOCOL": "HTTP/" + http_version.decode("ascii"),
            "REMOTE_ADDR": peer[0], "REMOTE_PORT": peer[1], "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True, "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        underscored: list[tuple[str, str]] = []
        for raw_name, raw_value in raw_headers:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            if "_" in name:  # X_Foo would pass for X-Foo in WSGI: dropped, as werkzeug does
                if should_preserve_original_header_name(name):
                    underscored.append((name, value))
                continue
            key = environ_key_for_header(name)
            if key in ("CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING"):
                continue  # the body is de-chunked and complete
            if key in environ and key.startswith("HTTP_"):
                value = f"{environ[key]},{value}"
            environ[key] = value
        names: dict[str, str] = {}
        for name, value in underscored:  # S3 metadata keys (moto's MotoRequestHandler)
            key = environ_key_for_header(name)
            if key in environ and key not in names:
                continue  # never let an underscored header stand in for a dashed one
            environ[key] = f"{environ[key]},{value}" if key in names else value
            names.setdefault(key, name)
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
        if host is not None:
            environ["HTTP_HOST"] = host
        return environ


def _call_app(app: WSGIApplication, environ: WSGIEnvironment) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run ``app`` to completion: (status line, headers, body); a 500 if it raises."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if started and exc_info is None:
            raise AssertionError("start_response called twice without exc_info")
        started[:] = [(status, headers)]
        return written.append

    try:
        result = app(environ, start_response)
        try:
            chunks = list(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not started:
            raise AssertionError("the app returned without calling start_response")
        status, headers = started[0]
        return status, list(headers), b"".join(written + chunks)
    except Exception:
        _log(environ, "raised")
        return "500 Internal Server Error", [("Content-Type", "text/plain")], b"Internal Server Error\n"


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.1 field-name
_FIELD_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")  # §5.5: no CR, LF, NUL or other CTLs


def _response_head(method: bytes, status: str, headers: list[tuple[str, str]], body_length: int,
                   keep_alive: bool, date: bytes) -> tuple[bytes, bool, bool]:
    """The response head (status line to blank line) for a complete body; whether the
    body follows it, and whether the connection stays open (the app can close it).
    ``Content-Length`` is ours (but a HEAD response keeps the app's). Raises
    ``ValueError`` for a status or header that cannot go on the wire."""
    code = int(status[:3])
    if not 200 <= code <= 999 or status[3:4] not in ("", " ") or not _FIELD_VALUE.fullmatch(status):
        raise ValueError(f"bad status {status!r}")
    has_body = method != b"HEAD" and code not in (204, 304)
    lines = [f"HTTP/1.1 {status}\r\n"]
    for name, value in headers:
        lower = name.lower()
        value = value.strip()
        if lower == "connection" and "close" in value.lower():
            keep_alive = False
        if lower in ("date", "connection", "keep-alive", "transfer-encoding") or (
                lower == "content-length" and method != b"HEAD"):
            continue  # hop-by-hop, or ours
        if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise ValueError(f"bad header {name!r}: {value!r}")
        lines.append(f"{name}: {value}\r\n")
    if has_body:
        lines.append(f"Content-Length: {body_length}\r\n")
    if not keep_alive:
        lines.append("Connection: close\r\n")
    return b"%sDate: %s\r\n\r\n" % ("".join(lines).encode("latin-1"), date), has_body, keep_alive


def _log(environ: WSGIEnvironment, what: str) -> None:
    """Report a request the app failed on to stderr, with the traceback if any."""
    print(f"moto_front: {environ.get('REQUEST_METHOD')} {environ.get('REQUEST_URI')} {what}",
          file=sys.stderr, flush=True)
    if sys.exc_info()[0] is not None:
        traceback.print_exc(file=sys.stderr)
