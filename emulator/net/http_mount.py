"""A plain-HTTP application mounted on the gateway's port under a path prefix.

The gateway's port answers ``@connections`` and Lambda Invoke; a mount (the live
inspector, ``emulator/inspector``) answers the requests it :meth:`~HttpMount.claims`
instead, over http and https alike, through an :class:`Exchange`: a whole response
now, one later (after awaiting something), or a stream of chunks
(Server-Sent Events). The listener takes at most one mount; it never imports one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Protocol

from ..core.management import HttpResponse
from .session_host import SessionHost

__all__ = ["Exchange", "HttpMount", "MountedRequest", "Stream"]


@dataclass(frozen=True)
class MountedRequest:
    """One request for a mount: ``target`` as sent (percent-encoded, query included),
    header names lower-cased."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    secure: bool = False

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (give it lower-cased), if sent."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


class Stream(Protocol):
    """A response whose body is written piece by piece (chunked) until :meth:`end`."""

    @property
    def closed(self) -> bool:
        """True once the client went away (or :meth:`end` was called): stop writing."""
        ...

    def backlog(self) -> int:
        """Bytes written that the client has not taken yet: a slow reader shows here."""
        ...

    def write(self, data: bytes) -> None:
        ...

    def end(self) -> None:
        ...


class Exchange(Protocol):
    """How a mount answers the request it was handed: call exactly one of these."""

    def respond(self, response: HttpResponse) -> None:
        ...

    def respond_later(self, answer: Awaitable[HttpResponse]) -> None:
        """Answer with what ``answer`` returns (tracked like an invocation: shutdown waits)."""
        ...

    def stream(self, status: int, headers: tuple[tuple[str, str], ...]) -> Stream:
        ...


class HttpMount(Protocol):
    """What the listener needs from a mounted application."""

    def claims(self, target: str) -> bool:
        """Whether a request for ``target`` is this mount's (checked on every plain
        HTTP request: keep it to a prefix test)."""
        ...

    def handle(self, request: MountedRequest, exchange: Exchange, host: SessionHost) -> None:
        """Answer ``request`` through ``exchange``; ``host`` gives the gateway's side
        (the lifecycle, integrations, ``@connections``)."""
        ...


