"""The gateway's one listening port: WebSocket and HTTP, plain and TLS.

Like API Gateway, one host:port serves both the WebSocket endpoint
(``ws[s]://host:port/{stage}``) and the management API
(``http[s]://host:port/{stage}/@connections/{id}``). Each accepted socket is sniffed
(:mod:`emulator.net.accepting`): a first byte of 0x16 is a TLS ClientHello (→ TLS, so
``https://{domainName}/{stage}`` callbacks work), anything else is plain. Then the
first request head decides between a :class:`WebSocketSession` (upgrade) and an
:class:`HttpSession` (anything else).
The listener is the sessions' :class:`~emulator.net.session_host.SessionHost`: it
holds the open connections, runs integrations and tracks background work.

Call :meth:`Listener.start`, then :meth:`Listener.shutdown` to close every
connection with 1001 and wait for their ``$disconnect`` invocations.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
import ssl
import time
from typing import Any, Callable, Coroutine, Union, cast

from ..core.errors import StartupError
from ..core.invocation import Cancel, Integrations, Invoke, Outcome, OutcomeCallback, StartableIntegrations
from ..core.lifecycle import ConnectionLifecycle
from ..core.loopback import is_loopback_host
from ..core.management import HttpResponse, ManagementApi, ManagementRequest
from .accepting import Acceptor
from .http_mount import HttpMount
from .http_session import MAX_HEAD_BYTES, HttpSession
from .open_connections import OpenConnections
from .session_host import EstablishedSession, Refusal, RefusalObserver
from .websocket_session import CLOSE_TIMEOUT_S, WebSocketSession

log = logging.getLogger("wsgw.server")

HANDSHAKE_TIMEOUT_S = 10.0
PROGRESS_INTERVAL_S = 2.0  # how often shutdown reports the invocations it waits for
_UPGRADE = re.compile(rb"^upgrade[ \t]*:[^\r\n]*websocket", re.IGNORECASE | re.MULTILINE)

Session = Union[WebSocketSession, HttpSession]


def exposure_warning(host: str) -> str | None:
    """A warning when ``host`` makes the gateway reachable beyond this machine."""
    if is_loopback_host(host):
        return None
    return (f"listening on {host}: the gateway (and the @connections API) can be reached from "
            "other machines; use --host 127.0.0.1 unless you mean it")


def bind_listener(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` (0 picks a free port); one-line errors. Warns
    (log level WARNING) when the address is not loopback."""
    warning = exposure_warning(host)
    if warning is not None:
        log.warning("wsgw: warning: %s", warning)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use; choose another with --port"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class Listener:
    """Accepts sockets and hands each to a WebSocket or HTTP session; the sessions'
    :class:`~emulator.net.session_host.SessionHost`."""

    def __init__(
        self,
        lifecycle: ConnectionLifecycle,
        management: ManagementApi,
        integrations: Integrations,
        *,
        ssl_context: ssl.SSLContext | None = None,
        on_refusal: RefusalObserver | None = None,
        mount: HttpMount | None = None,
    ) -> None:
        self._lifecycle = lifecycle
        self.mount = mount  # a plain-HTTP application under a path prefix (the inspector)
        self.on_refusal = on_refusal  # hears every handshake answered without a 101
        self.management = management
        self.integrations = integrations
        self._starter = integrations if isinstance(integrations, StartableIntegrations) else None
        self.ssl_context = ssl_context
        self.connections = OpenConnections()
        # Connections that began with a TLS handshake, since the start (diagnostics;
        # tests check that a handler's botocore calls to us come in plain).
        self.tls_connections = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        # Integrations started without a task (integrate_soon): their futures are in
        # _tasks too; shutdown cancels them through these.
        self._started: dict[asyncio.Future[None], Cancel] = {}
        self._listener: socket.socket | None = None
        self._acceptor: Acceptor | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self._transports: set[asyncio.Transport] = set()
        self._draining = False  # shutting down: no new WebSocket connections
        self._adopting: set[asyncio.Future[None]] = set()  # sockets becoming connections
        self._abandoned = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None  # the one it serves on, once known

    # -- the sessions' host (emulator/net/session_host.py) -------------------------

    @property
    def lifecycle(self) -> ConnectionLifecycle:
        return self._lifecycle

    @property
    def draining(self) -> bool:
        return self._draining

    @property
    def background_tasks(self) -> int:
        """Invocations and other background work still running."""
        return len(self._tasks)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` in the background, tracked so shutdown can wait for it."""
        # Once per message: the loop is kept, since asyncio.get_running_loop() (and
        # ensure_future, which calls it) asks the kernel for the process id each time.
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        task = loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("internal error in a background task", exc_info=task.exception())

    def integrate(self, invoke: Invoke) -> Coroutine[Any, Any, Outcome]:
        """Run one integration; never raises for handler faults. (The integrations'
        own coroutine, not one wrapping it: one frame less on every message.)"""
        return self.integrations.run(invoke)

    def integrate_soon(self, invoke: Invoke, done: OutcomeCallback) -> bool:
        """Start one integration now if the integrations can (see
        :class:`~emulator.core.invocation.StartableIntegrations`), tracked like a
        spawned task so shutdown waits for it, and cancels it at its deadline."""
        starter = self._starter
        if starter is None:
            return False
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        tracked: asyncio.Future[None] = loop.create_future()  # what shutdown waits for

        def finished(outcome: Outcome) -> None:
            self._tasks.discard(tracked)
            self._started.pop(tracked, None)
            if not tracked.done():
                tracked.set_result(None)
                try:
                    done(outcome)
                except Exception:  # a bug of ours, as a spawned task's would be: logged
                    log.exception("internal error after an integration")

        cancel = starter.run_soon(invoke, finished)
        if cancel is None:
            return False
        if not tracked.done():  # (the contract: done is called later, from the loop)
            self._tasks.add(tracked)
            self._started[tracked] = cancel
        return True

    def established(self, session: EstablishedSession) -> None:
        assert session.connection_id is not None
        self.connections.add(session.connection_id, session)

    def ended(self, connection_id: str) -> None:
        self.connections.remove(connection_id)

    def refused(self, refusal: Refusal) -> None:
        log.debug("refused %s from %s: %d %s", refusal.path, refusal.source_ip, refusal.status, refusal.reason)
        if self.on_refusal is not None:
            try:
                self.on_refusal(refusal)
            except Exception:  # a broken observer must not cost the client its answer
                log.exception("the refusal observer failed")

    def manage(self, request: ManagementRequest, request_id: str, respond: Callable[[HttpResponse], None]) -> None:
        response, action = self.management.handle(request, request_id, self.connections.backlog)
        log.debug("%s %s -> %d", request.method, request.target, response.status)
        respond(response)
        try:
            self.connections.carry_out(action)
        except Exception:  # a bug of ours, or a socket gone mid-write: the poster has its answer
            assert action is not None  # carry_out does nothing for None
            log.exception("carrying out %s for %s failed", type(action).__name__, action.connection_id)

    @property
    def port(self) -> int:
        assert self._listener is not None, "start() first"
        return int(self._listener.getsockname()[1])

    def start(self, listener: socket.socket, *, sweep_interval_s: float = 1.0) -> None:
        """Start accepting on ``listener`` (from :func:`bind_listener`) and checking the
        idle/maximum-duration timeouts every ``sweep_interval_s`` (0: never by itself;
        call :meth:`sweep`, as tests with a manual clock do)."""
        listener.setblocking(False)
        self._listener = listener
        loop = asyncio.get_running_loop()
        # The timeout is read as each socket is accepted (tests change it meanwhile).
        self._acceptor = Acceptor(listener, self._arrived, lambda: HANDSHAKE_TIMEOUT_S)
        self._acceptor.start()
        if sweep_interval_s > 0:
            self._sweep_task = loop.create_task(self._sweep_loop(sweep_interval_s))

    def sweep(self) -> int:
        """Close every connection past its idle timeout or maximum duration; returns
        how many were closed (their ``$disconnect`` runs as they go)."""
        expired = self._lifecycle.expired()
        for close in expired:
            session = self.connections.get(close.connection_id)
            if session is not None:
                session.close(close.code, close.reason)
        return len(expired)

    async def _sweep_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self.sweep()

    # -- accepting --------------------------------------------------------------

    def _arrived(self, sock: socket.socket, tls: bool) -> None:
        """The acceptor's callback: a new socket sent its first byte."""
        self._start_adopting(sock, secure=tls and self.ssl_context is not None)

    def _start_adopting(self, sock: socket.socket, *, secure: bool) -> asyncio.Future[None]:
        """Make ``sock`` a connection (its TLS handshake first if ``secure``), in the
        background. Tracked apart from invocations: a socket whose TLS handshake stalls
        must not hold up a shutdown for its timeout. Shutdown cancels these; a task
        cancelled before it ever ran would leave its socket open, so the socket is
        closed here."""
        adopting = asyncio.ensure_future(self._adopt(sock, secure))
        self._adopting.add(adopting)
        adopting.add_done_callback(self._adopting.discard)
        adopting.add_done_callback(lambda task: sock.close() if task.cancelled() else None)
        return adopting

    async def _adopt(self, sock: socket.socket, secure: bool) -> None:
        loop = asyncio.get_running_loop()
        if secure:
            self.tls_connections += 1
        try:
            await loop.connect_accepted_socket(
                lambda: _Connection(self, secure=secure), sock,
                ssl=self.ssl_context if secure else None,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S if secure else None,
            )
        except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as exc:
            log.debug("connection dropped during TLS handshake: %s", exc)
            sock.close()

    # -- stopping ---------------------------------------------------------------

    async def shutdown(self, timeout_s: float = 60.0, *, progress: Callable[[int], None] | None = None) -> int:
        """Close every connection with 1001 "Going away" and wait for every
        ``$disconnect`` and in-flight invocation; returns how many were cut short.

        Clients get :data:`CLOSE_TIMEOUT_S` to answer the close frame, then their sockets
        are dropped (their ``$disconnect`` still runs). The port keeps serving HTTP
        (``@connections``, Lambda Invoke) while ``$disconnect`` handlers run, so one that
        notifies the others gets 410 as in AWS, not a refused connection; new WebSocket
        upgrades get 503. Invocations still running after ``timeout_s`` in all, or once
        :meth:`abandon` is called (a second Ctrl-C), are cancelled. ``progress(n)``
        hears how many are still running every :data:`PROGRESS_INTERVAL_S`."""
        self._draining = True
        deadline = time.monotonic() + timeout_s
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            self._sweep_task = None
        for session in self.connections:
            session.close(1001, "Going away")
        close_by = min(deadline, time.monotonic() + CLOSE_TIMEOUT_S + 0.5)
        while self.connections and time.monotonic() < close_by and not self._abandoned.is_set():
            await asyncio.sleep(0.01)
        for session in self.connections:
            session.abort()  # did not answer our close frame: $disconnect runs now
        abandoned = asyncio.ensure_future(self._abandoned.wait())
        next_report = time.monotonic() + PROGRESS_INTERVAL_S
        try:
            # Wakes up as each invocation ends (new ones join the next round), on
            # abandon(), and to report. Open sessions count too: a handshake whose
            # $connect was still running is answered and closed with 1001 when it ends,
            # and a dropped socket's $disconnect starts on the loop's next turn; both
            # are waited for.
            while (self._tasks or self.connections) and not self._abandoned.is_set():
                now = time.monotonic()
                if now >= deadline:
                    break
                wake = min(deadline, next_report) - now
                if not self._tasks:
                    wake = min(wake, 0.01)  # only sessions left: their $disconnect is next
                await asyncio.wait({*self._tasks, abandoned}, timeout=wake, return_when=asyncio.FIRST_COMPLETED)
                if time.monotonic() >= next_report:
                    next_report += PROGRESS_INTERVAL_S
                    if self._tasks and progress is not None and not self._abandoned.is_set():
                        progress(len(self._tasks))
        finally:
            abandoned.cancel()
        cut_short = len(self._tasks)
        for task in [*self._tasks, *self._adopting]:
            task.cancel()
        for tracked, cancel in [*self._started.items()]:
            cancel()  # its worker is killed; its outcome never comes
            self._tasks.discard(tracked)
        self._started.clear()
        if self._acceptor is not None:
            self._acceptor.stop()  # and the sockets that never sent a byte are closed
            self._acceptor = None
        if self._listener is not None:
            self._listener.close()
        for transport in list(self._transports):
            transport.abort()
        return cut_short

    def abandon(self) -> None:
        """Make a running :meth:`shutdown` stop waiting and cancel what still runs."""
        self._abandoned.set()


class _Connection(asyncio.Protocol):
    """Buffers the first request head, then forwards bytes to the right session."""

    def __init__(self, listener: Listener, *, secure: bool) -> None:
        self.listener = listener
        self.secure = secure
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self._head = bytearray()
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)
        self.listener._transports.add(self.transport)
        # A client that never completes its request head is dropped (slow loris).
        self._timer = asyncio.get_running_loop().call_later(HANDSHAKE_TIMEOUT_S, self._head_timeout)

    def _head_timeout(self) -> None:
        if self.session is None and self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        try:
            self._data_received(data)
        except Exception:
            # A bug of ours must cost this connection only, never the gateway.
            log.exception("internal error on a connection; dropping it")
            if self.transport is not None:
                self.transport.abort()

    def _data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.receive(data)
            return
        assert self.transport is not None
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        # The head's limit holds however its bytes arrive: in many reads (no end
        # yet) or in one (end found past the limit) — RELIABILITY.md promises 431.
        if (end < 0 and len(self._head) > MAX_HEAD_BYTES) or end + 4 > MAX_HEAD_BYTES:
            self._refuse_head(431, "Request Header Fields Too Large",
                              f"the request head is over {MAX_HEAD_BYTES // 1024} KB")
            return
        if end < 0:
            return
        if self._timer is not None:
            self._timer.cancel()
        head = bytes(self._head[:end])
        if _UPGRADE.search(head):
            if self.listener.draining:
                self._refuse_head(503, "Service Unavailable", "the gateway is shutting down")
                return
            self.session = WebSocketSession(self.listener, self.transport, secure=self.secure)
        else:
            self.session = HttpSession(self.listener, self.transport, mount=self.listener.mount, secure=self.secure)
        buffered = bytes(self._head)
        self._head = bytearray()
        self.session.receive(buffered)

    def _refuse_head(self, status: int, phrase: str, reason: str) -> None:
        """Answer the first request with ``status`` and close, before any session;
        an upgrade request's refusal is reported like the others."""
        assert self.transport is not None
        head = bytes(self._head[:MAX_HEAD_BYTES])
        self._head = bytearray()
        self.transport.write(f"HTTP/1.1 {status} {phrase}\r\nContent-Length: 0\r\n"
                             "Connection: close\r\n\r\n".encode())
        self.transport.close()
        if _UPGRADE.search(head):
            target = head.split(b"\r\n", 1)[0].split(b" ")
            path = target[1].decode("latin-1").partition("?")[0][:200] if len(target) > 1 else ""
            peer = self.transport.get_extra_info("peername") or ("", 0)
            self.listener.refused(Refusal(path, str(peer[0]), status, reason))

    def eof_received(self) -> bool | None:
        if self.session is not None:
            self.session.receive_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.transport is not None:
            self.listener._transports.discard(self.transport)
        if isinstance(self.session, WebSocketSession):
            self.session.connection_lost()
