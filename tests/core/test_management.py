"""Tests for emulator.core.management: the @connections API as pure rules (reference §7)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.core.clock import ManualClock
from emulator.core.management import (
    Deliver,
    Disconnect,
    HttpResponse,
    ManagementApi,
    ManagementRequest,
)
from emulator.core.model import Limits
from emulator.core.registry import ConnectionRecord, ConnectionRegistry

CID = "R0oXAdfD0kwCH6w="
CID_PATH = "/dev/@connections/R0oXAdfD0kwCH6w%3D"
RID = "d184b96c-bd65-42f4-855b-ccd53c5049f4"
CONNECTED_AT = 1_731_324_924_553
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SIGNED = ("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/execute-api/aws4_request, "
          "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def make_api(*, ua: str | None = "Mozilla/5.0", open_: bool = True) -> tuple[ManagementApi, ConnectionRegistry, ManualClock]:
    registry = ConnectionRegistry()
    registry.add(
        ConnectionRecord(
            connection_id=CID, connected_at_ms=CONNECTED_AT, last_active_at_ms=CONNECTED_AT,
            source_ip="192.0.2.1", user_agent=ua,
        )
    )
    if open_:
        registry.mark_open(CID)
    clock = ManualClock(CONNECTED_AT)
    api = ManagementApi(stage="dev", registry=registry, clock=clock, limits=Limits())
    return api, registry, clock


def header(response: HttpResponse, name: str) -> str | None:
    values = [value for key, value in response.headers if key.lower() == name.lower()]
    assert len(values) <= 1, f"header {name} repeated"
    return values[0] if values else None


def call(api: ManagementApi, method: str, target: str, body: bytes = b"",
         authorization: str | None = SIGNED) -> tuple[HttpResponse, object]:
    response, action = api.handle(ManagementRequest(method, target, body, authorization), RID)
    assert header(response, "x-amzn-RequestId") == RID
    return response, action


def assert_error(response: HttpResponse, status: int, error_type: str) -> None:
    assert response.status == status
    assert header(response, "x-amzn-ErrorType") == error_type


# --- paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/dev/@connections/R0oXAdfD0kwCH6w%3D",
        "/dev/%40connections/R0oXAdfD0kwCH6w%3D",
        "/dev/%40connections/R0oXAdfD0kwCH6w=",
        "/dev/@connections/R0oXAdfD0kwCH6w=",
        "/dev/@connections/R0oXAdfD0kwCH6w%3d",
        "/dev/@connections/R0oXAdfD0kwCH6w%3D?x=1",
        "/%64ev/@connections/R0oXAdfD0kwCH6w%3D",
    ],
)
def test_path_forms_decode_to_the_connection(target: str) -> None:
    api, _, _ = make_api()
    assert api.connection_id_from(target) == CID
    response, action = call(api, "GET", target)
    assert response.status == 200
    assert action is None


@given(st.from_regex(r"\A[A-Za-z0-9_-]{15}=\Z"), st.booleans())
def test_path_decoding_round_trip(connection_id: str, encode_at: bool) -> None:
    api = ManagementApi(stage="dev", registry=ConnectionRegistry(), clock=ManualClock(), limits=Limits())
    at = "%40connections" if encode_at else "@connections"
    target = f"/dev/{at}/{quote(connection_id, safe='')}"
    assert api.connection_id_from(target) == connection_id


@pytest.mark.parametrize(
    "target",
    [
        "/prod/@connections/R0oXAdfD0kwCH6w%3D",  # wrong stage
        "/@connections/R0oXAdfD0kwCH6w%3D",  # missing stage
        "/dev/@connections/R0oXAdfD0kwCH6w%3D/extra",  # extra segment
        "/dev/@connections/R0oXAdfD0kwCH6w%3D/",  # trailing slash
        "/dev/@connections/",  # missing id
        "/dev/@connections",  # missing id
        "/dev/connections/R0oXAdfD0kwCH6w%3D",
        "/dev/@Connections/R0oXAdfD0kwCH6w%3D",
        "/Dev/@connections/R0oXAdfD0kwCH6w%3D",
        "/x/dev/@connections/R0oXAdfD0kwCH6w%3D",
        "dev/@connections/R0oXAdfD0kwCH6w%3D",
        "/",
        "",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_bad_paths_are_forbidden(target: str, method: str) -> None:
    api, registry, _ = make_api()
    response, action = call(api, method, target, b"data")
    assert_error(response, 403, "ForbiddenException")
    assert action is None
    assert registry.get_open(CID) is not None


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_connection_is_gone_with_empty_body(method: str) -> None:
    api, _, _ = make_api()
    response, action = call(api, method, "/dev/@connections/AAAAAAAAAAAAAAA%3D", b"hello")
    assert_error(response, 410, "GoneException")
    assert response.body == b""
    assert action is None


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_connection_still_in_connect_is_gone(method: str) -> None:
    api, registry, clock = make_api(open_=False)
    clock.advance(100)
    response, action = call(api, method, CID_PATH, b"hello")
    assert_error(response, 410, "GoneException")
    assert response.body == b""
    assert action is None
    record = registry.get(CID)
    assert record is not None and record.last_active_at_ms == CONNECTED_AT


def test_removed_connection_is_gone() -> None:
    api, registry, _ = make_api()
    registry.remove(CID)
    response, _ = call(api, "POST", CID_PATH, b"x")
    assert_error(response, 410, "GoneException")


@pytest.mark.parametrize(
    "encoded_id",
    ["not-an-id", "R0oXAdfD0kwCH6w", "R0oXAdfD0kwCH6w%3D%3D", "R0oXAdfD0kw%2BH6w%3D", "%20R0oXAdfD0kwCH6w%3D"],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_malformed_connection_id_is_bad_request(encoded_id: str, method: str) -> None:
    api, _, _ = make_api()
    response, action = call(api, method, f"/dev/@connections/{encoded_id}", b"x")
    assert_error(response, 400, "BadRequestException")
    assert action is None


def test_id_with_trailing_newline_is_bad_request() -> None:
    # "%0A" decodes to a newline after the pad: not an AWS id, so 400, not 410.
    api, _, _ = make_api()
    response, action = call(api, "POST", "/dev/@connections/R0oXAdfD0kwCH6w%3D%0A", b"x")
    assert_error(response, 400, "BadRequestException")
    assert action is None


@pytest.mark.parametrize("method", ["PUT", "PATCH", "HEAD", "OPTIONS"])
def test_other_methods_are_forbidden(method: str) -> None:
    api, registry, _ = make_api()
    response, action = call(api, method, CID_PATH, b"x")
    assert_error(response, 403, "ForbiddenException")
    assert action is None
    assert registry.get_open(CID) is not None


def test_post_over_limit_is_payload_too_large() -> None:
    api, registry, clock = make_api()
    clock.advance(10)
    response, action = call(api, "POST", CID_PATH, b"x" * 131_073)
    assert_error(response, 413, "PayloadTooLargeException")
    assert action is None
    record = registry.get(CID)
    assert record is not None and record.last_active_at_ms == CONNECTED_AT


def test_post_exactly_at_limit_is_delivered() -> None:
    api, _, _ = make_api()
    data = b"y" * 131_072
    response, action = call(api, "POST", CID_PATH, data)
    assert response.status == 200
    assert action == Deliver(CID, data)


@pytest.mark.parametrize("waiting, size, status", [
    (1024 * 1024 - 131_072, 131_072, 200),  # fills the buffer exactly
    (1024 * 1024 - 10, 10, 200),
    (1024 * 1024 - 10, 11, 429),      # one byte over
    (5 * 1024 * 1024, 1, 429),
])
def test_post_to_a_full_client_buffer_is_limit_exceeded(waiting: int, size: int, status: int) -> None:
    api, registry, clock = make_api()
    clock.advance(10)
    response, action = api.handle(
        ManagementRequest("POST", CID_PATH, b"z" * size, SIGNED), RID, lambda connection_id: waiting,
    )
    assert response.status == status
    if status == 429:
        assert_error(response, 429, "LimitExceededException")
        assert action is None
        record = registry.get(CID)  # refused: not activity
        assert record is not None and record.last_active_at_ms == CONNECTED_AT
    else:
        assert action == Deliver(CID, b"z" * size)


def test_get_and_delete_ignore_body_size() -> None:
    api, _, _ = make_api()
    response, _ = call(api, "GET", CID_PATH, b"x" * 200_000)
    assert response.status == 200


# --- success ------------------------------------------------------------------------------


def test_post_delivers_and_touches() -> None:
    api, registry, clock = make_api()
    clock.advance(2_500)
    data = "h\u00e9llo".encode()
    response, action = call(api, "post", CID_PATH, data)
    assert response.status == 200
    assert response.body == b""
    assert action == Deliver(CID, data)
    record = registry.get(CID)
    assert record is not None
    assert record.last_active_at_ms == CONNECTED_AT + 2_500
    assert record.connected_at_ms == CONNECTED_AT


def test_get_connection_json() -> None:
    api, _, clock = make_api()
    clock.advance(1_000)
    call(api, "POST", CID_PATH, b"x")  # lastActiveAt moves to +1000 ms
    clock.advance(5_000)
    response, action = call(api, "GET", CID_PATH)
    assert response.status == 200
    assert action is None
    assert header(response, "x-amzn-ErrorType") is None
    assert (header(response, "Content-Type") or "").startswith("application/json")
    body = json.loads(response.body)
    assert body == {
        "connectedAt": "2024-11-11T11:35:24.553Z",
        "identity": {"sourceIp": "192.0.2.1", "userAgent": "Mozilla/5.0"},
        "lastActiveAt": "2024-11-11T11:35:25.553Z",
    }
    assert list(body) == ["connectedAt", "identity", "lastActiveAt"]


def test_get_connection_omits_user_agent_when_none() -> None:
    api, _, _ = make_api(ua=None)
    response, _ = call(api, "GET", CID_PATH)
    body = json.loads(response.body)
    assert body["identity"] == {"sourceIp": "192.0.2.1"}
    for key in ("ConnectedAt", "Identity", "LastActiveAt"):
        assert key not in body
    assert ISO_RE.match(body["connectedAt"]) and ISO_RE.match(body["lastActiveAt"])


def test_get_does_not_touch() -> None:
    api, registry, clock = make_api()
    clock.advance(9_000)
    call(api, "GET", CID_PATH)
    record = registry.get(CID)
    assert record is not None and record.last_active_at_ms == CONNECTED_AT


def test_delete_disconnects_with_1000() -> None:
    api, registry, _ = make_api()
    response, action = call(api, "DELETE", CID_PATH)
    assert response.status == 204
    assert response.body == b""
    assert action == Disconnect(CID, 1000, "Connection Closed Normally")
    assert isinstance(action, Disconnect)
    assert action.code == 1000 and action.reason == "Connection Closed Normally"
    # The HTTP layer closes the socket; the gateway then removes the record.
    assert registry.get(CID) is not None


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [
    None, "", "Basic dXNlcjpwYXNz", "AWS4-HMAC-SHA256 Credential=AKID/x",
    "AWS AKID:signature",
])
def test_unsigned_requests_are_forbidden(authorization: str | None) -> None:
    api, _, _ = make_api()
    for method in ("POST", "GET", "DELETE"):
        response, action = call(api, method, CID_PATH, b"x", authorization=authorization)
        assert_error(response, 403, "ForbiddenException")
        assert json.loads(response.body) == {"message": "Missing Authentication Token"}
        assert action is None
