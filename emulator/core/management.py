"""The ``@connections`` management API as pure rules (reference §7, BOTO-MGMT).

The HTTP layer parses a request into a :class:`ManagementRequest`, calls
:meth:`ManagementApi.handle`, writes the :class:`HttpResponse` it gets back and
carries out its action (:class:`Deliver` a message or :class:`Disconnect` a client).
Errors are :class:`~emulator.core.errors.ManagementError` values that know their status
and AWS error type, so serialising them is mechanical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Union
from urllib.parse import unquote

from .clock import Clock, iso8601_ms
from .errors import (
    BadRequestException,
    ForbiddenException,
    GoneException,
    LimitExceededException,
    ManagementError,
    PayloadTooLargeException,
)
from .ids import is_aws_id
from .model import Limits
from .registry import ConnectionRecord, ConnectionRegistry


@dataclass(frozen=True)
class ManagementRequest:
    """An HTTP request that is not a WebSocket upgrade. ``target`` is the raw
    (still percent-encoded) request target, query string included."""

    method: str
    target: str
    body: bytes = b""
    authorization: str | None = None  # the Authorization header, if any


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class Deliver:
    """Send ``data`` to the client as one message (PostToConnection)."""

    connection_id: str
    data: bytes


@dataclass(frozen=True)
class Disconnect:
    """Close the client with 1000 and run ``$disconnect`` (DeleteConnection).

    AWS closes with 1000 and reports "Connection Closed Normally" to $disconnect;
    no custom code or reason can be passed [obs] chalice#2060, aws-sdk-js#3636.
    """

    connection_id: str
    code: int = 1000
    reason: str = "Connection Closed Normally"


Action = Union[Deliver, Disconnect, None]

# Bytes already waiting to go out to a connection (the I/O layer knows them).
OutboundBacklog = Callable[[str], int]


def _no_backlog(connection_id: str) -> int:
    return 0


def error_response(error: ManagementError, request_id: str) -> HttpResponse:
    """Serialise a management error the way AWS does.

    Status + ``x-amzn-ErrorType`` header; botocore reads the code from that header
    (BOTO-PARSE). Gone/Forbidden have no members and AWS sends them with an empty
    body [obs] reference §7; errors constructed with a message carry it as JSON.
    """
    body = b"" if error.message is None else json.dumps({"message": error.message}).encode()
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.error_type)]
    if body:
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(error.status, tuple(headers), body)


class ManagementApi:
    """``POST|GET|DELETE /{stage}/@connections/{connectionId}`` for one stage."""

    def __init__(self, *, stage: str, registry: ConnectionRegistry, clock: Clock, limits: Limits) -> None:
        self.stage = stage
        self.registry = registry
        self.clock = clock
        self.limits = limits

    def handle(
        self, request: ManagementRequest, request_id: str, backlog: OutboundBacklog = _no_backlog,
    ) -> tuple[HttpResponse, Action]:
        """Answer one management request; ``request_id`` becomes ``x-amzn-RequestId``;
        ``backlog(connection_id)`` tells how many bytes wait to be sent to a client."""
        try:
            return self._handle(request, request_id, backlog)
        except ManagementError as error:
            return error_response(error, request_id), None

    def connection_id_from(self, target: str) -> str:
        """The URL-decoded connection id of ``/{stage}/@connections/{id}``.

        Clients percent-encode the id (``=`` as ``%3D``) and may encode ``@`` as
        ``%40`` [doc] DOCS-conns; both forms are accepted. Any other path, e.g. a
        missing or wrong stage, is 403 Forbidden [obs] aws-sdk-php#1955.
        """
        path = target.split("?", 1)[0]
        parts = path.split("/")
        # ["", stage, "@connections", id]
        if (
            len(parts) != 4
            or parts[0] != ""
            or unquote(parts[1]) != self.stage
            or unquote(parts[2]) != "@connections"
            or parts[3] == ""
        ):
            raise ForbiddenException("Forbidden")
        return unquote(parts[3])

    def _handle(
        self, request: ManagementRequest, request_id: str, backlog: OutboundBacklog,
    ) -> tuple[HttpResponse, Action]:
        if not _is_sigv4(request.authorization):
            # The @connections API takes only SigV4-signed requests [doc] DOCS-conns;
            # unsigned ones get 403 "Missing Authentication Token" (API Gateway's
            # answer to unauthenticated calls). Deliberate difference: the signature
            # itself is not verified, so any credentials work locally.
            raise ForbiddenException("Missing Authentication Token")
        connection_id = self.connection_id_from(request.target)
        method = request.method.upper()
        if method not in ("POST", "GET", "DELETE"):
            raise ForbiddenException("Forbidden")
        if not is_aws_id(connection_id):
            # Malformed ids get 400 rather than 410 [obs] localstack#4694 (one report).
            raise BadRequestException("Invalid connectionId: " + connection_id)
        if method == "POST" and len(request.body) > self.limits.post_data_bytes:
            # Checked before the connection: the payload is invalid whatever the target.
            raise PayloadTooLargeException(
                f"Request body exceeded the maximum of {self.limits.post_data_bytes} bytes"
            )
        # Unknown, closed, or still inside $connect (not yet established) [doc] KC-410.
        # Only GET needs the record itself (with its lastActiveAt brought up to date).
        record = self.registry.get_open(connection_id) if method == "GET" else None
        if record is None and not self.registry.is_open(connection_id):
            raise GoneException()
        plain = (("x-amzn-RequestId", request_id),)
        if method == "POST":
            if backlog(connection_id) + len(request.body) > self.limits.client_buffer_bytes:
                # "the WebSocket client side buffer is full" is a 429 [model] BOTO-MGMT:
                # the message is refused, never queued without bound or dropped after a 200.
                raise LimitExceededException()
            # Outbound posts count as activity for lastActiveAt and the idle timeout
            # [obs] hotsock.io keep-alive notes, reference §6.
            self.registry.touch(connection_id, self.clock.now_ms())
            return HttpResponse(200, plain, b""), Deliver(connection_id, request.body)
        if record is not None:  # GET
            body = json.dumps(_connection_view(record)).encode()
            headers = plain + (("Content-Type", "application/json"),)
            return HttpResponse(200, headers, body), None
        return HttpResponse(204, plain, b""), Disconnect(connection_id)


def _is_sigv4(authorization: str | None) -> bool:
    """Whether an Authorization header has SigV4's shape (algorithm, credential
    scope, signed headers and signature)."""
    if not authorization or not authorization.startswith("AWS4-HMAC-SHA256 "):
        return False
    return all(part in authorization for part in ("Credential=", "SignedHeaders=", "Signature="))


def _connection_view(record: ConnectionRecord) -> dict[str, object]:
    # Wire keys are camelCase locationNames (reference §7).
    return {
        "connectedAt": iso8601_ms(record.connected_at_ms),
        "identity": record.identity(),
        "lastActiveAt": iso8601_ms(record.last_active_at_ms),
    }
