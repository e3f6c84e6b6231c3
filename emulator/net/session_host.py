"""The contract between the listener and the sessions it creates.

A session (:class:`~emulator.net.websocket_session.WebSocketSession`,
:class:`~emulator.net.http_session.HttpSession`) moves bytes for one client socket
and asks its :class:`SessionHost` for everything else: the connection lifecycle's
decisions, running an integration, answering ``@connections``, tracking background
work. The listener is the host; sessions never import it, so one message's path reads
straight down (socket → session → core decision → integration → session → socket).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Coroutine, Protocol

from ..core.invocation import Invoke, Outcome, OutcomeCallback
from ..core.lifecycle import ConnectionLifecycle
from ..core.management import HttpResponse, ManagementRequest

__all__ = ["EstablishedSession", "Refusal", "RefusalObserver", "SessionHost"]


@dataclass(frozen=True)
class Refusal:
    """A WebSocket upgrade request answered without a 101: where it came from and
    went, the ``status`` sent and the ``reason`` (for the operator: the client only
    sees the status and AWS's body)."""

    path: str
    source_ip: str
    status: int
    reason: str


RefusalObserver = Callable[[Refusal], None]
"""Hears every :class:`Refusal` (run-local prints one line each); called on the
gateway's event loop, so it must not block."""


class EstablishedSession(Protocol):
    """What the host may do with a WebSocket session once its 101 is sent."""

    @property
    def connection_id(self) -> str | None:
        ...

    def peer(self) -> tuple[str, int] | None:
        """The client socket's (address, port)."""
        ...

    def write_backlog(self) -> int:
        """Bytes written for this client that it has not taken yet."""
        ...

    def send_data(self, data: bytes, *, text: bool, bounded: bool = True) -> bool:
        ...

    def close(self, code: int, reason: str, *, reported_reason: str | None = None) -> None:
        ...

    def abort(self) -> None:
        """Drop the socket now (a client that did not answer our close frame)."""
        ...


class SessionHost(Protocol):
    """What a session needs from the listener that created it."""

    @property
    def lifecycle(self) -> ConnectionLifecycle:
        """The API's connection rules (routes, events, the connection table)."""
        ...

    @property
    def draining(self) -> bool:
        """True once shutdown began: new WebSocket connections are refused."""
        ...

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` in the background, tracked so shutdown can wait for it."""
        ...

    async def integrate(self, invoke: Invoke) -> Outcome:
        """Run one integration (authorizer, route, Lambda Invoke); never raises."""
        ...

    def integrate_soon(self, invoke: Invoke, done: OutcomeCallback) -> bool:
        """Start one integration now and have ``done`` hear its outcome, without a
        task (every message's hot path); False, having started nothing, when it must
        be awaited with :meth:`integrate` instead."""
        ...

    def established(self, session: EstablishedSession) -> None:
        """Call when a session's 101 is sent: it can be posted to from then on."""
        ...

    def ended(self, connection_id: str) -> None:
        """Call once when an established session's socket is gone."""
        ...

    def refused(self, refusal: Refusal) -> None:
        """Call once when a session answered its upgrade request without a 101."""
        ...

    def manage(self, request: ManagementRequest, request_id: str, respond: Callable[[HttpResponse], None]) -> None:
        """Answer one ``@connections`` request through ``respond``, then carry out what
        it decided (deliver a message, close a connection): the caller has its
        answer even if the target's socket fails meanwhile."""
        ...
