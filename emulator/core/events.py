"""Lambda proxy events for the three WebSocket event types (reference §1).

Call :func:`connect_event`, :func:`message_event` or :func:`disconnect_event` with
the connection's record and a fresh request id; each returns a plain dict shaped
exactly like the captured AWS events in ``shared/reference/events/`` (same keys,
same nesting, same key order, same value formats). Pure: time and ids come in as
arguments.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any, Iterable

from .registry import ConnectionRecord

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Request headers API Gateway does not pass to the $connect integration: the
# integration event lacks Connection, Upgrade and content-length (only the
# authorizer event has them) [obs] PT-Connect vs PT-authorizer, reference §1.1.
_HOP_HEADERS = frozenset({"connection", "upgrade", "content-length"})


@dataclass(frozen=True)
class StageEndpoint:
    """Where the API lives: the values every event repeats.

    ``domain_name`` is the emulator's own ``host:port`` (AWS: the API's hostname), so
    the callback URL ``https://{domainName}/{stage}`` reaches the local gateway.
    """

    api_id: str
    stage: str
    domain_name: str


@dataclass(frozen=True)
class Handshake:
    """What the client sent in its WebSocket upgrade request, already parsed.

    ``headers`` keep the client's order and casing; ``query`` holds URL-decoded
    pairs in order; ``secure`` tells whether it came over TLS; ``port`` is the local
    port it reached.
    """

    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    source_ip: str
    secure: bool = False
    port: int = 443

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (case-insensitive), if sent."""
        wanted = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == wanted:
                found = value
        return found


@functools.lru_cache(maxsize=4)
def _clf_second(seconds: int) -> str:
    # Cached: every event within one second shares its requestTime (hot path).
    days, rem = divmod(seconds, 86_400)
    hour, rem = divmod(rem, 3600)
    minute, second = divmod(rem, 60)
    year, month, day = _civil_from_days(days)
    return f"{day:02d}/{_MONTHS[month - 1]}/{year:04d}:{hour:02d}:{minute:02d}:{second:02d} +0000"


def clf_time(epoch_ms: int) -> str:
    """``requestTime`` in CLF, English month, UTC: ``11/Nov/2024:11:35:24 +0000``."""
    return _clf_second(epoch_ms // 1000)


def _civil_from_days(days: int) -> tuple[int, int, int]:
    # Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
    # (H. Hinnant's algorithm); avoids the locale-dependent %b of strftime.
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return (year + 1 if month <= 2 else year), month, day


# A fresh SHA-1 by copying an empty one: ``hashlib.sha1()`` looks the algorithm up
# in OpenSSL on every call, which showed in the profile of every message.
_sha1_copy = hashlib.sha1().copy


def trace_id(epoch_ms: int, request_id: str) -> str:
    """``X-Amzn-Trace-Id``: ``Root=1-<8 hex epoch seconds>-<24 hex>`` (reference §1.1).

    The 24 hex digits are derived from the request id, so events stay deterministic
    under injected ids.
    """
    digest = _sha1_copy()
    digest.update(request_id.encode())
    return f"Root=1-{epoch_ms // 1000:08x}-{digest.hexdigest()[:24]}"


def single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    # Single-value maps keep the last value of a repeated name, multi-value maps
    # every value in order, as API Gateway's proxy events do for REST payloads
    # (repeated names are not in any WebSocket capture [?]).
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


def request_context(
    endpoint: StageEndpoint,
    record: ConnectionRecord,
    *,
    route_key: str,
    event_type: str,
    request_id: str,
    now_ms: int,
    message_id: str | None = None,
    disconnect: tuple[int, str] | None = None,
) -> dict[str, Any]:
    # Key order as observed in captures (reference §1.2): routeKey,
    # [disconnectStatusCode], [messageId], eventType, extendedRequestId, requestTime,
    # messageDirection, [disconnectReason], stage, connectedAt, requestTimeEpoch,
    # identity, requestId, domainName, connectionId, apiId, [authorizer].
    ctx: dict[str, Any] = {"routeKey": route_key}
    if disconnect is not None:
        ctx["disconnectStatusCode"] = disconnect[0]
    if message_id is not None:
        ctx["messageId"] = message_id  # MESSAGE only in the current format [doc] DOCS-ctxvars
    ctx["eventType"] = event_type
    ctx["extendedRequestId"] = request_id  # == requestId [doc] DOCS-ctxvars
    ctx["requestTime"] = clf_time(now_ms)
    ctx["messageDirection"] = "IN"
    if disconnect is not None:
        ctx["disconnectReason"] = disconnect[1]
    ctx["stage"] = endpoint.stage
    ctx["connectedAt"] = record.connected_at_ms
    ctx["requestTimeEpoch"] = now_ms
    ctx["identity"] = record.event_identity()
    ctx["requestId"] = request_id
    ctx["domainName"] = endpoint.domain_name
    ctx["connectionId"] = record.connection_id
    ctx["apiId"] = endpoint.api_id
    if record.authorizer is not None:
        # Set by a Lambda authorizer on $connect; present on every later event of the
        # connection (reference §1.2, LS-TEST validated).
        ctx["authorizer"] = dict(record.authorizer)
    return ctx


def added_headers(handshake: Handshake, now_ms: int, request_id: str) -> list[tuple[str, str]]:
    """The four headers API Gateway adds to ``$connect`` and authorizer events
    [obs] PT-Connect, PT-authorizer.

    Deliberate difference: AWS always says port 443 / https; we say the port and
    scheme the client really used, so code that rebuilds URLs from them reaches the
    local gateway.
    """
    return [
        ("X-Amzn-Trace-Id", trace_id(now_ms, request_id)),
        ("X-Forwarded-For", handshake.source_ip),
        ("X-Forwarded-Port", str(handshake.port)),
        ("X-Forwarded-Proto", "https" if handshake.secure else "http"),
    ]


def connect_event(
    endpoint: StageEndpoint,
    record: ConnectionRecord,
    handshake: Handshake,
    *,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The CONNECT event for ``$connect`` (reference §1.3, ``connect.json``)."""
    forwarded = [(k, v) for k, v in handshake.headers if k.lower() not in _HOP_HEADERS]
    headers, multi_headers = single_and_multi(forwarded + added_headers(handshake, now_ms, request_id))
    event: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi_headers}
    if handshake.query:
        # Query keys only when the upgrade URL had a query string [obs] PT-Connect.
        query, multi_query = single_and_multi(handshake.query)
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    event["requestContext"] = request_context(
        endpoint, record, route_key="$connect", event_type="CONNECT",
        request_id=request_id, now_ms=now_ms,
    )
    event["isBase64Encoded"] = False
    return event


def message_event(
    endpoint: StageEndpoint,
    record: ConnectionRecord,
    *,
    route_key: str,
    body: str,
    request_id: str,
    message_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The MESSAGE event for ``$default`` and custom routes (``message.json``).

    No headers at all: message events carry none [obs] PT-Message, GO-send-message.
    """
    return {
        "requestContext": request_context(
            endpoint, record, route_key=route_key, event_type="MESSAGE",
            request_id=request_id, now_ms=now_ms, message_id=message_id,
        ),
        "body": body,
        "isBase64Encoded": False,
    }


def disconnect_event(
    endpoint: StageEndpoint,
    record: ConnectionRecord,
    *,
    status_code: int,
    reason: str,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The DISCONNECT event for ``$disconnect`` (``disconnect.json``).

    Its headers are AWS's synthetic set, not the client's: ``Host`` and three empty
    values [obs] PT-Disconnect, GO-disconnect.
    """
    headers = {
        "Host": endpoint.domain_name,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    return {
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "requestContext": request_context(
            endpoint, record, route_key="$disconnect", event_type="DISCONNECT",
            request_id=request_id, now_ms=now_ms, disconnect=(status_code, reason),
        ),
        "isBase64Encoded": False,
    }
