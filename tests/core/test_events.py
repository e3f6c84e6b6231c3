"""Contract tests for emulator.core.events against the captured AWS events (reference §1).

The oracle is ``tests/fixtures/aws-events/*.json`` (copied from shared/reference/events): an emitted event must have the
same keys (at every nesting level, in the same order), the same value types and the
same value formats as the capture, not the same values.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.core.events import (
    Handshake,
    StageEndpoint,
    clf_time,
    connect_event,
    disconnect_event,
    message_event,
    trace_id,
)
from emulator.core.registry import ConnectionRecord

EVENTS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "aws-events"
ID_RE = re.compile(r"^[A-Za-z0-9_-]{15}=$")
CLF_RE = re.compile(r"^\d{2}/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")
TRACE_RE = re.compile(r"^Root=1-([0-9a-f]{8})-([0-9a-f]{24})$")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

CONNECTION_ID = "BFHPhfCWIAMCKlQ="
REQUEST_ID = "BFHPhFe3IAMF95g="
MESSAGE_ID = "BFaVtfGSIAMCKug="
CONNECTED_AT = 1_731_324_924_553
NOW = 1_731_324_924_561

# The client headers of the connect capture, plus the hop headers AWS strips.
CAPTURE_CLIENT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Host", "fjnq7njcv2.execute-api.us-east-1.amazonaws.com"),
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
    ("Sec-WebSocket-Key", "+W5xw47OHh3OTFsWKjGu9Q=="),
    ("Sec-WebSocket-Version", "13"),
)


def load_capture(name: str) -> dict[str, Any]:
    data = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def endpoint() -> StageEndpoint:
    return StageEndpoint(api_id="fjnq7njcv2", stage="prod", domain_name="fjnq7njcv2.execute-api.us-east-1.amazonaws.com")


def record(user_agent: str | None = None, connected_at: int = CONNECTED_AT) -> ConnectionRecord:
    return ConnectionRecord(
        connection_id=CONNECTION_ID,
        connected_at_ms=connected_at,
        last_active_at_ms=connected_at,
        source_ip="166.90.225.1",
        user_agent=user_agent,
    )


def handshake(
    headers: tuple[tuple[str, str], ...] = CAPTURE_CLIENT_HEADERS,
    query: tuple[tuple[str, str], ...] = (),
    secure: bool = True,
    port: int = 443,
) -> Handshake:
    return Handshake(path="/prod", query=query, headers=headers, source_ip="166.90.225.1", secure=secure, port=port)


def make_connect(**kwargs: Any) -> dict[str, Any]:
    user_agent = kwargs.pop("user_agent", None)
    return connect_event(endpoint(), record(user_agent), handshake(**kwargs), request_id=REQUEST_ID, now_ms=NOW)


def make_message(route_key: str = "chat", body: str = '{"action": "chat"}') -> dict[str, Any]:
    return message_event(
        endpoint(), record(), route_key=route_key, body=body,
        request_id=REQUEST_ID, message_id=MESSAGE_ID, now_ms=NOW,
    )


def make_disconnect(code: int = 1005, reason: str = "Client-side close frame status not set") -> dict[str, Any]:
    return disconnect_event(endpoint(), record(), status_code=code, reason=reason, request_id=REQUEST_ID, now_ms=NOW)


def assert_same_shape(emitted: Any, captured: Any, where: str = "event", *, check_order: bool = True) -> None:
    """Same keys at every nesting level, same key order, same value types."""
    assert type(emitted) is type(captured), f"{where}: {type(emitted).__name__} != {type(captured).__name__}"
    if isinstance(captured, dict):
        assert set(emitted) == set(captured), f"{where}: keys {sorted(emitted)} != {sorted(captured)}"
        if check_order:
            assert list(emitted) == list(captured), f"{where}: key order {list(emitted)} != {list(captured)}"
        for key in captured:
            assert_same_shape(emitted[key], captured[key], f"{where}.{key}", check_order=check_order)
    elif isinstance(captured, list):
        # zip() would silently drop whatever one list has beyond the other.
        assert len(emitted) == len(captured), f"{where}: {len(emitted)} items != {len(captured)}"
        for i, (e, c) in enumerate(zip(emitted, captured, strict=True)):
            assert_same_shape(e, c, f"{where}[{i}]", check_order=check_order)


def assert_context_formats(ctx: dict[str, Any]) -> None:
    for key in ("connectionId", "requestId", "extendedRequestId"):
        assert ID_RE.match(ctx[key]), (key, ctx[key])
    assert ctx["requestId"] == ctx["extendedRequestId"]
    assert CLF_RE.match(ctx["requestTime"]), ctx["requestTime"]
    assert type(ctx["requestTimeEpoch"]) is int
    assert type(ctx["connectedAt"]) is int
    assert ctx["requestTime"] == clf_time(ctx["requestTimeEpoch"])
    assert ctx["messageDirection"] == "IN"


def english_clf(epoch_ms: int) -> str:
    tm = time.gmtime(epoch_ms // 1000)
    return (
        f"{tm.tm_mday:02d}/{MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000"
    )


# --- the captures themselves satisfy the format assertions (sanity of the oracle) -------


@pytest.mark.parametrize("name", ["connect.json", "message.json", "disconnect.json"])
def test_captures_satisfy_format_checks(name: str) -> None:
    assert_context_formats(load_capture(name)["requestContext"])


# --- CONNECT -----------------------------------------------------------------------------


def test_connect_event_matches_capture_shape_and_order() -> None:
    assert_same_shape(make_connect(), load_capture("connect.json"))


def test_connect_event_headers_key_set_equals_capture() -> None:
    event = make_connect()
    capture = load_capture("connect.json")
    assert set(event["headers"]) == set(capture["headers"])
    assert set(event["multiValueHeaders"]) == set(capture["multiValueHeaders"])


def test_connect_event_values() -> None:
    event = make_connect()
    ctx = event["requestContext"]
    assert_context_formats(ctx)
    assert ctx["routeKey"] == "$connect"
    assert ctx["eventType"] == "CONNECT"
    assert ctx["requestTime"] == "11/Nov/2024:11:35:24 +0000"
    assert ctx["requestTimeEpoch"] == NOW
    assert ctx["connectedAt"] == CONNECTED_AT
    assert ctx["requestId"] == ctx["extendedRequestId"] == REQUEST_ID
    assert ctx["connectionId"] == CONNECTION_ID
    assert ctx["identity"] == {"sourceIp": "166.90.225.1"}
    assert ctx["stage"] == "prod"
    assert ctx["apiId"] == "fjnq7njcv2"
    assert ctx["domainName"] == "fjnq7njcv2.execute-api.us-east-1.amazonaws.com"
    assert "messageId" not in ctx
    assert "disconnectStatusCode" not in ctx and "disconnectReason" not in ctx
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event
    headers = event["headers"]
    assert headers["X-Forwarded-For"] == "166.90.225.1"
    assert headers["X-Forwarded-Port"] == "443"
    assert headers["X-Forwarded-Proto"] == "https"
    assert headers["Sec-WebSocket-Key"] == "+W5xw47OHh3OTFsWKjGu9Q=="


def test_connect_forwarded_port_and_proto_follow_the_local_listener() -> None:
    headers = make_connect(secure=False, port=8080)["headers"]
    assert headers["X-Forwarded-Port"] == "8080"
    assert headers["X-Forwarded-Proto"] == "http"


def test_trace_id_format_and_epoch_seconds() -> None:
    value = make_connect()["headers"]["X-Amzn-Trace-Id"]
    match = TRACE_RE.match(value)
    assert match, value
    assert int(match.group(1), 16) == NOW // 1000
    # The capture's trace id has the same epoch: 6731ebfc == 1731324924.
    assert match.group(1) == "6731ebfc"


@given(st.integers(min_value=0, max_value=2**32 * 1000 - 1), st.text(min_size=1, max_size=20))
def test_trace_id_for_any_epoch(epoch_ms: int, request_id: str) -> None:
    match = TRACE_RE.match(trace_id(epoch_ms, request_id))
    assert match
    assert int(match.group(1), 16) == epoch_ms // 1000


def test_trace_ids_differ_per_request() -> None:
    assert trace_id(NOW, "AAAAAAAAAAAAAAA=") != trace_id(NOW, "AAAAAAAAAAAAAAB=")


@pytest.mark.parametrize(
    "hop",
    [
        ("Connection", "Upgrade"),
        ("connection", "upgrade"),
        ("CONNECTION", "keep-alive, Upgrade"),
        ("Upgrade", "websocket"),
        ("upgrade", "websocket"),
        ("content-length", "0"),
        ("Content-Length", "0"),
    ],
)
def test_connect_excludes_hop_headers_case_insensitively(hop: tuple[str, str]) -> None:
    headers = (("Host", "h"), hop, ("Origin", "https://example.com"))
    event = make_connect(headers=headers)
    assert hop[0] not in event["headers"]
    assert hop[0] not in event["multiValueHeaders"]
    assert event["headers"]["Origin"] == "https://example.com"


def test_connect_keeps_client_header_casing() -> None:
    event = make_connect(headers=(("host", "h"), ("sec-websocket-protocol", "chat, superchat")))
    assert event["headers"]["host"] == "h"
    assert event["headers"]["sec-websocket-protocol"] == "chat, superchat"
    assert "Host" not in event["headers"]


def test_connect_multi_value_headers_mirror_single_headers() -> None:
    headers = (
        ("Host", "h"),
        ("X-Custom", "first"),
        ("Cookie", "a=1"),
        ("X-Custom", "second"),
        ("X-Custom", "third"),
    )
    event = make_connect(headers=headers)
    single, multi = event["headers"], event["multiValueHeaders"]
    assert list(single) == list(multi)
    assert multi["X-Custom"] == ["first", "second", "third"]
    assert single["X-Custom"] == "third"
    for key, values in multi.items():
        assert isinstance(values, list) and values
        assert single[key] == values[-1]
    assert multi["Host"] == ["h"]
    assert multi["X-Forwarded-For"] == ["166.90.225.1"]


def test_connect_query_string_present_only_with_query() -> None:
    event = make_connect(query=(("token", "abc"), ("room", "1"), ("token", "def")))
    assert event["queryStringParameters"] == {"token": "def", "room": "1"}
    assert event["multiValueQueryStringParameters"] == {"token": ["abc", "def"], "room": ["1"]}
    # Query maps sit between the headers and requestContext.
    assert list(event) == [
        "headers", "multiValueHeaders", "queryStringParameters",
        "multiValueQueryStringParameters", "requestContext", "isBase64Encoded",
    ]
    no_query = make_connect()
    assert "queryStringParameters" not in no_query
    assert "multiValueQueryStringParameters" not in no_query


def test_connect_identity_user_agent_only_when_sent() -> None:
    with_ua = make_connect(user_agent="Mozilla/5.0", headers=CAPTURE_CLIENT_HEADERS + (("User-Agent", "Mozilla/5.0"),))
    assert with_ua["requestContext"]["identity"] == {"sourceIp": "166.90.225.1", "userAgent": "Mozilla/5.0"}
    assert list(with_ua["requestContext"]["identity"]) == ["sourceIp", "userAgent"]
    assert with_ua["headers"]["User-Agent"] == "Mozilla/5.0"
    without = make_connect()
    assert "userAgent" not in without["requestContext"]["identity"]


def test_handshake_header_lookup_is_case_insensitive_and_last_wins() -> None:
    hs = handshake(headers=(("user-agent", "a"), ("User-Agent", "b")))
    assert hs.header("USER-AGENT") == "b"
    assert hs.header("Origin") is None


# --- MESSAGE -----------------------------------------------------------------------------


def test_message_event_matches_capture_shape_and_order() -> None:
    assert_same_shape(make_message(), load_capture("message.json"))


def test_message_event_values() -> None:
    body = '{"action": "chat", "message": "Hello from client"}'
    event = make_message(body=body)
    ctx = event["requestContext"]
    assert_context_formats(ctx)
    assert ctx["routeKey"] == "chat"
    assert ctx["eventType"] == "MESSAGE"
    assert ctx["messageId"] == MESSAGE_ID
    assert ID_RE.match(ctx["messageId"])
    assert "disconnectStatusCode" not in ctx and "disconnectReason" not in ctx
    assert event["body"] == body
    assert event["isBase64Encoded"] is False
    for absent in ("headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters"):
        assert absent not in event


def test_message_body_is_passed_verbatim() -> None:
    body = "  not json \u00e9\U0001f600 {\"a\":1}\n"
    assert make_message(route_key="$default", body=body)["body"] == body


# --- DISCONNECT --------------------------------------------------------------------------


def test_disconnect_event_matches_capture_shape_and_order() -> None:
    assert_same_shape(make_disconnect(), load_capture("disconnect.json"))


def test_disconnect_event_values() -> None:
    event = make_disconnect(code=1001, reason="Going away")
    ctx = event["requestContext"]
    assert_context_formats(ctx)
    assert ctx["routeKey"] == "$disconnect"
    assert ctx["eventType"] == "DISCONNECT"
    assert ctx["disconnectStatusCode"] == 1001
    assert type(ctx["disconnectStatusCode"]) is int
    assert ctx["disconnectReason"] == "Going away"
    assert "messageId" not in ctx
    assert ctx["connectedAt"] == CONNECTED_AT
    assert event["headers"] == {
        "Host": "fjnq7njcv2.execute-api.us-east-1.amazonaws.com",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert list(event["headers"]) == ["Host", "x-api-key", "X-Forwarded-For", "x-restapi"]
    assert event["multiValueHeaders"] == {key: [value] for key, value in event["headers"].items()}
    assert list(event["multiValueHeaders"]) == list(event["headers"])
    assert "body" not in event
    assert event["isBase64Encoded"] is False


def test_disconnect_identity_carries_connect_time_user_agent() -> None:
    event = disconnect_event(
        endpoint(), record("curl/8"), status_code=1000, reason="", request_id=REQUEST_ID, now_ms=NOW,
    )
    assert event["requestContext"]["identity"] == {"sourceIp": "166.90.225.1", "userAgent": "curl/8"}
    assert event["requestContext"]["disconnectReason"] == ""


# --- requestTime (CLF) -------------------------------------------------------------------


def test_clf_time_known_epoch() -> None:
    assert clf_time(1_731_324_924_561) == "11/Nov/2024:11:35:24 +0000"
    assert clf_time(1_731_332_746_514) == "11/Nov/2024:13:45:46 +0000"
    assert clf_time(1_731_333_109_875) == "11/Nov/2024:13:51:49 +0000"
    assert clf_time(1_737_995_987_617) == "27/Jan/2025:16:39:47 +0000"
    assert clf_time(0) == "01/Jan/1970:00:00:00 +0000"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ((2024, 2, 29, 12, 0, 0), "29/Feb/2024:12:00:00 +0000"),
        ((2000, 2, 29, 0, 0, 0), "29/Feb/2000:00:00:00 +0000"),
        ((1900 + 100, 12, 31, 23, 59, 59), "31/Dec/2000:23:59:59 +0000"),
        ((2023, 12, 31, 23, 59, 59), "31/Dec/2023:23:59:59 +0000"),
        ((2024, 1, 1, 0, 0, 0), "01/Jan/2024:00:00:00 +0000"),
        ((2024, 12, 31, 23, 59, 59), "31/Dec/2024:23:59:59 +0000"),
        ((2100, 3, 1, 0, 0, 0), "01/Mar/2100:00:00:00 +0000"),
        ((2100, 2, 28, 23, 59, 59), "28/Feb/2100:23:59:59 +0000"),
        ((2038, 1, 19, 3, 14, 8), "19/Jan/2038:03:14:08 +0000"),
    ],
)
def test_clf_time_calendar_edges(when: tuple[int, int, int, int, int, int], expected: str) -> None:
    seconds = calendar.timegm(when + (0, 0, 0))
    assert clf_time(seconds * 1000) == expected
    assert clf_time(seconds * 1000 + 999) == expected  # milliseconds are truncated
    assert english_clf(seconds * 1000) == expected
    tm = time.gmtime(seconds)
    assert time.strftime("%d", tm) + "/" + MONTHS[tm.tm_mon - 1] + time.strftime("/%Y:%H:%M:%S +0000", tm) == expected


def test_clf_time_second_boundary() -> None:
    second = calendar.timegm((2024, 12, 31, 23, 59, 59, 0, 0, 0)) * 1000
    assert clf_time(second + 999) == "31/Dec/2024:23:59:59 +0000"
    assert clf_time(second + 1000) == "01/Jan/2025:00:00:00 +0000"


@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
def test_clf_time_matches_gmtime_for_any_epoch(epoch_ms: int) -> None:
    assert clf_time(epoch_ms) == english_clf(epoch_ms)


# --- properties: any client input builds a well-formed, JSON-safe event ------------------

_TOKEN = st.text(alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                 min_size=1, max_size=20)
_HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                        max_size=40)


@given(
    headers=st.lists(st.tuples(_TOKEN, _HEADER_VALUE), max_size=12),
    query=st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), max_size=6),
)
def test_connect_event_for_any_headers_and_query(
    headers: list[tuple[str, str]], query: list[tuple[str, str]],
) -> None:
    event = make_connect(headers=tuple(headers), query=tuple(query))
    json.loads(json.dumps(event))  # JSON-safe, as the worker pipe needs
    forwarded = [(k, v) for k, v in headers if k.lower() not in ("connection", "upgrade", "content-length")]
    for name, values in event["multiValueHeaders"].items():
        assert event["headers"][name] == values[-1]
    for name, value in forwarded:
        assert value in event["multiValueHeaders"][name]
    assert event["headers"]["X-Forwarded-For"] == "166.90.225.1"
    assert ("queryStringParameters" in event) == bool(query)
    for key, value in query:
        assert value in event["multiValueQueryStringParameters"][key]
    assert event["requestContext"]["eventType"] == "CONNECT"


@given(body=st.text(max_size=200), route_key=st.text(min_size=1, max_size=30))
def test_message_event_carries_any_body_verbatim(body: str, route_key: str) -> None:
    event = make_message(route_key=route_key, body=body)
    assert json.loads(json.dumps(event))["body"] == body
    assert event["requestContext"]["routeKey"] == route_key
    assert "headers" not in event and event["isBase64Encoded"] is False


@given(code=st.integers(min_value=1000, max_value=4999), reason=st.text(max_size=123))
def test_disconnect_event_reports_any_close(code: int, reason: str) -> None:
    context = json.loads(json.dumps(make_disconnect(code, reason)))["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (code, reason)
