"""Tests for emulator.core.lifecycle: the WebSocket lifecycle as plain decisions."""

from __future__ import annotations

import dataclasses

import json
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from emulator.core.clock import ManualClock
from emulator.core.events import Handshake
from emulator.core.lifecycle import Accept, ConnectionLifecycle, Reject, SendText, error_frame
from emulator.core.ids import SequentialIds
from emulator.core.invocation import Failed, Invoke, Succeeded, TimedOut
from emulator.core.model import ApiModel, FunctionSpec, Limits, RouteSpec
from emulator.core.registry import ConnectionStatus

ID_RE = re.compile(r"^[A-Za-z0-9_-]{15}=$")
START = 1_731_324_924_553
DOMAIN = "localhost:8443"


def function(name: str) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"{name.lower()}.handler", code_dir=Path("."))


def make_model(routes: list[RouteSpec], *, limits: Limits | None = None, expression: str = "$request.body.action") -> ApiModel:
    names = {route.function for route in routes}
    return ApiModel(
        name="test",
        stage="dev",
        route_selection_expression=expression,
        routes=MappingProxyType({route.key: route for route in routes}),
        functions=MappingProxyType({name: function(name) for name in names}),
        limits=limits if limits is not None else Limits(),
    )


FULL_ROUTES = [
    RouteSpec("$connect", "Connect"),
    RouteSpec("$disconnect", "Disconnect"),
    RouteSpec("$default", "Default", two_way=True),
    RouteSpec("whoAmI", "WhoAmI", two_way=True),
    RouteSpec("sendMessage", "Send"),
]


def make_gateway(routes: list[RouteSpec] | None = None, **kwargs: Any) -> tuple[ConnectionLifecycle, ManualClock]:
    clock = ManualClock(START)
    model = make_model(FULL_ROUTES if routes is None else routes, **kwargs)
    return ConnectionLifecycle(model, domain_name=DOMAIN, clock=clock, ids=SequentialIds()), clock


def handshake(path: str = "/dev", headers: tuple[tuple[str, str], ...] = (("Host", DOMAIN),)) -> Handshake:
    return Handshake(path=path, query=(), headers=headers, source_ip="127.0.0.1", secure=True, port=8443)


def ok(result: Any = None) -> Succeeded:
    return Succeeded(result=result, duration_ms=1.0)


def connected(gateway: ConnectionLifecycle) -> str:
    """Open a connection through $connect (if any) and return its id."""
    decision = gateway.open(handshake())
    if isinstance(decision, Invoke):
        decision = gateway.connect_finished(decision, ok({"statusCode": 200}))
    assert isinstance(decision, Accept)
    return decision.connection_id


def message_invoke(gateway: ConnectionLifecycle, connection_id: str, text: str) -> Invoke:
    action = gateway.message(connection_id, text)
    assert isinstance(action, Invoke), action
    return action


# --- open / $connect ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/prod", "/dev/", "/dev/x", "/Dev", ""])
def test_open_on_wrong_path_is_rejected_403(path: str) -> None:
    gateway, _ = make_gateway()
    decision = gateway.open(handshake(path=path))
    assert isinstance(decision, Reject)
    assert decision.status == 403
    assert len(gateway.registry) == 0


def test_open_without_connect_route_accepts_and_opens() -> None:
    gateway, _ = make_gateway([RouteSpec("$default", "Default")])
    decision = gateway.open(handshake())
    assert isinstance(decision, Accept)
    assert ID_RE.match(decision.connection_id)
    assert decision.subprotocol is None
    record = gateway.registry.get(decision.connection_id)
    assert record is not None and record.status is ConnectionStatus.OPEN
    assert record.connected_at_ms == START


def test_open_with_connect_route_invokes_connect_event() -> None:
    gateway, _ = make_gateway()
    ua_headers = (("Host", DOMAIN), ("Connection", "Upgrade"), ("user-agent", "pytest/1"))
    decision = gateway.open(handshake(headers=ua_headers))
    assert isinstance(decision, Invoke)
    assert decision.function == "Connect"
    assert decision.route_key == "$connect"
    event = decision.event
    ctx = event["requestContext"]
    assert ctx["eventType"] == "CONNECT"
    assert ctx["routeKey"] == "$connect"
    assert ctx["connectionId"] == decision.connection_id
    assert ctx["requestId"] == decision.request_id == ctx["extendedRequestId"]
    assert ctx["connectedAt"] == ctx["requestTimeEpoch"] == START
    assert ctx["requestTime"] == "11/Nov/2024:11:35:24 +0000"
    assert ctx["stage"] == "dev"
    assert ctx["apiId"] == "wsgwlocal1"
    assert ctx["domainName"] == DOMAIN
    assert ctx["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "pytest/1"}
    assert "Connection" not in event["headers"]
    trace = event["headers"]["X-Amzn-Trace-Id"]
    assert trace.startswith(f"Root=1-{START // 1000:08x}-")
    assert decision.connection_id != decision.request_id
    # While $connect runs the connection exists but is not established.
    record = gateway.registry.get(decision.connection_id)
    assert record is not None and record.status is ConnectionStatus.CONNECTING
    assert gateway.registry.get_open(decision.connection_id) is None


def test_connect_200_accepts_and_opens() -> None:
    gateway, _ = make_gateway()
    invoke = gateway.open(handshake())
    assert isinstance(invoke, Invoke)
    decision = gateway.connect_finished(invoke, ok({"statusCode": 200, "body": "ignored"}))
    assert decision == Accept(invoke.connection_id, None)
    assert gateway.registry.get_open(invoke.connection_id) is not None


@pytest.mark.parametrize("status", [201, 204, 299, "200", " 202 "])
def test_connect_any_2xx_accepts(status: Any) -> None:
    gateway, _ = make_gateway()
    invoke = gateway.open(handshake())
    assert isinstance(invoke, Invoke)
    assert isinstance(gateway.connect_finished(invoke, ok({"statusCode": status})), Accept)


@pytest.mark.parametrize(("status", "expected"), [(401, 401), (403, 403), ("403", 403), (400, 400), (500, 500), (301, 301), (302, 302)])
def test_connect_non_2xx_rejects_with_that_status_and_forgets(status: Any, expected: int) -> None:
    gateway, _ = make_gateway()
    invoke = gateway.open(handshake())
    assert isinstance(invoke, Invoke)
    decision = gateway.connect_finished(invoke, ok({"statusCode": status}))
    assert isinstance(decision, Reject)
    assert decision.status == expected
    assert gateway.registry.get(invoke.connection_id) is None
    assert len(gateway.registry) == 0
    # Nothing to report on close: the connection never existed.
    assert gateway.closed(invoke.connection_id, 1006, "") is None


@pytest.mark.parametrize("result", [None, {}, {"body": "x"}, {"headers": {}}])
def test_connect_without_status_code_accepts(result: Any) -> None:
    gateway, _ = make_gateway()
    invoke = gateway.open(handshake())
    assert isinstance(invoke, Invoke)
    decision = gateway.connect_finished(invoke, ok(result))
    assert isinstance(decision, Accept)
    assert gateway.registry.get_open(invoke.connection_id) is not None


@pytest.mark.parametrize("status", ["abc", "", "2e2", "\u00b2"])
def test_connect_unparseable_status_code_is_a_decision_not_a_crash(status: str) -> None:
    # Whatever the handler returns, connect_finished must decide (the server answers
    # the handshake from the decision); "\u00b2" (superscript two) passes str.isdigit()
    # but not int().
    gateway, _ = make_gateway()
    invoke = gateway.open(handshake())
    assert isinstance(invoke, Invoke)
    decision = gateway.connect_finished(invoke, ok({"statusCode": status}))
    assert isinstance(decision, (Accept, Reject))
    record = gateway.registry.get(invoke.connection_id)
    assert (record is not None) == isinstance(decision, Accept)


@pytest.mark.parametrize(
    "outcome",
    [Failed("Exception", "boom", 3.0), TimedOut(3.0, 3000.0)],
)
def test_connect_failure_or_timeout_rejects_502(outcome: Failed | TimedOut) -> None:
    gateway, _ = make_gateway()
    invoke = gateway.open(handshake())
    assert isinstance(invoke, Invoke)
    decision = gateway.connect_finished(invoke, outcome)
    assert isinstance(decision, Reject)
    assert decision.status == 502
    assert gateway.registry.get(invoke.connection_id) is None


@pytest.mark.parametrize("name", ["Sec-WebSocket-Protocol", "sec-websocket-protocol", "SEC-WEBSOCKET-PROTOCOL"])
def test_connect_subprotocol_header_any_case(name: str) -> None:
    gateway, _ = make_gateway()
    invoke = gateway.open(handshake())
    assert isinstance(invoke, Invoke)
    result = {"statusCode": 200, "headers": {"X-Other": "1", name: "chat"}}
    decision = gateway.connect_finished(invoke, ok(result))
    assert decision == Accept(invoke.connection_id, "chat")


def test_connect_without_subprotocol_header() -> None:
    gateway, _ = make_gateway()
    invoke = gateway.open(handshake())
    assert isinstance(invoke, Invoke)
    decision = gateway.connect_finished(invoke, ok({"statusCode": 200, "headers": {"X-Other": "1"}}))
    assert decision == Accept(invoke.connection_id, None)


def test_abandon_forgets_without_disconnect() -> None:
    gateway, _ = make_gateway()
    invoke = gateway.open(handshake())
    assert isinstance(invoke, Invoke)
    gateway.abandon(invoke.connection_id)
    assert gateway.registry.get(invoke.connection_id) is None
    assert gateway.closed(invoke.connection_id, 1006, "") is None


def test_each_connection_gets_a_new_id() -> None:
    gateway, _ = make_gateway()
    ids = {connected(gateway) for _ in range(20)}
    assert len(ids) == 20
    assert len(gateway.registry) == 20


# --- messages -----------------------------------------------------------------------------


def test_message_exact_key_selects_route() -> None:
    gateway, _ = make_gateway()
    cid = connected(gateway)
    body = '{"action": "whoAmI"}'
    invoke = message_invoke(gateway, cid, body)
    assert invoke.route_key == "whoAmI"
    assert invoke.function == "WhoAmI"
    assert invoke.connection_id == cid
    ctx = invoke.event["requestContext"]
    assert ctx["routeKey"] == "whoAmI"
    assert ctx["eventType"] == "MESSAGE"
    assert ctx["connectionId"] == cid
    assert ctx["requestId"] == invoke.request_id == ctx["extendedRequestId"]
    assert ID_RE.match(ctx["messageId"])
    assert ctx["messageId"] not in (invoke.request_id, cid)
    assert invoke.event["body"] == body
    assert "headers" not in invoke.event


@pytest.mark.parametrize(
    "body",
    [
        '{"action": "WHOAMI"}',
        '{"action": "whoami"}',
        '{"action": " whoAmI"}',
        '{"action": "whoAmI "}',
        '{"action": "unknown"}',
        '{"other": "whoAmI"}',
        "whoAmI",
        "not json at all",
        "",
        "[1, 2]",
        '{"action": "$connect"}',
        '{"action": "$disconnect"}',
    ],
)
def test_unmatched_or_non_json_goes_to_default(body: str) -> None:
    gateway, _ = make_gateway()
    cid = connected(gateway)
    invoke = message_invoke(gateway, cid, body)
    assert invoke.route_key == "$default"
    assert invoke.function == "Default"
    assert invoke.event["requestContext"]["routeKey"] == "$default"
    assert invoke.event["body"] == body


@pytest.mark.parametrize("body", ['{"action": "$connect"}', '{"action": "$disconnect"}', "not json", '{"action": "nope"}'])
def test_no_default_route_sends_forbidden_frame(body: str) -> None:
    gateway, _ = make_gateway([RouteSpec("$connect", "Connect"), RouteSpec("$disconnect", "Disconnect"), RouteSpec("whoAmI", "WhoAmI")])
    cid = connected(gateway)
    action = gateway.message(cid, body)
    assert isinstance(action, SendText)
    assert action.connection_id == cid
    match = re.fullmatch(r'\{"message": "Forbidden", "connectionId":"([^"]+)", "requestId":"([^"]+)"\}', action.text)
    assert match, action.text
    assert match.group(1) == cid
    assert ID_RE.match(match.group(2))
    assert match.group(2) != cid
    assert json.loads(action.text) == {"message": "Forbidden", "connectionId": cid, "requestId": match.group(2)}
    # The connection stays open.
    assert gateway.registry.get_open(cid) is not None


def test_forbidden_frame_bytes_with_sequential_ids() -> None:
    gateway, _ = make_gateway([RouteSpec("whoAmI", "WhoAmI")])
    cid = connected(gateway)
    action = gateway.message(cid, "hi")
    assert isinstance(action, SendText)
    request_id = json.loads(action.text)["requestId"]
    assert action.text == f'{{"message": "Forbidden", "connectionId":"{cid}", "requestId":"{request_id}"}}'


def test_error_frame_bytes() -> None:
    assert error_frame("Forbidden", "XDmENcnwIE0CFEQ=", "XDmGEE2RoE0FRdQ=") == (
        '{"message": "Forbidden", "connectionId":"XDmENcnwIE0CFEQ=", "requestId":"XDmGEE2RoE0FRdQ="}'
    )


def test_message_request_ids_are_fresh_per_message() -> None:
    gateway, _ = make_gateway()
    cid = connected(gateway)
    first = message_invoke(gateway, cid, "a")
    second = message_invoke(gateway, cid, "b")
    assert first.request_id != second.request_id
    assert first.event["requestContext"]["messageId"] != second.event["requestContext"]["messageId"]


def test_message_updates_last_active_and_event_time() -> None:
    gateway, clock = make_gateway()
    cid = connected(gateway)
    clock.advance(12_345)
    invoke = message_invoke(gateway, cid, '{"action": "sendMessage"}')
    record = gateway.registry.get(cid)
    assert record is not None
    assert record.last_active_at_ms == START + 12_345
    assert record.connected_at_ms == START
    ctx = invoke.event["requestContext"]
    assert ctx["requestTimeEpoch"] == START + 12_345
    assert ctx["connectedAt"] == START
    clock.advance(1_000)
    message_invoke(gateway, cid, "x")
    record = gateway.registry.get(cid)
    assert record is not None and record.last_active_at_ms == START + 13_345


def test_message_on_unknown_connection_raises() -> None:
    gateway, _ = make_gateway()
    with pytest.raises(KeyError):
        gateway.message("AAAAAAAAAAAAAAA=", "x")


# --- message_finished ---------------------------------------------------------------------


def finished(gateway: ConnectionLifecycle, body: str, outcome: Succeeded | Failed | TimedOut) -> tuple[Invoke, SendText | None]:
    cid = connected(gateway)
    invoke = message_invoke(gateway, cid, body)
    return invoke, gateway.message_finished(invoke, outcome)


def test_two_way_route_sends_body_verbatim() -> None:
    gateway, _ = make_gateway()
    body = '  {"x": 1}\n\u00e9 '
    invoke, action = finished(gateway, '{"action": "whoAmI"}', ok({"statusCode": 200, "headers": {"a": "b"}, "body": body}))
    assert action == SendText(invoke.connection_id, body)


def test_two_way_route_sends_body_even_with_error_status() -> None:
    gateway, _ = make_gateway()
    invoke, action = finished(gateway, '{"action": "whoAmI"}', ok({"statusCode": 500, "body": "oops"}))
    assert action == SendText(invoke.connection_id, "oops")


@pytest.mark.parametrize("result", [{"statusCode": 200}, {"statusCode": 200, "body": None}, {}])
def test_two_way_route_missing_body_sends_empty_text(result: Any) -> None:
    gateway, _ = make_gateway()
    invoke, action = finished(gateway, '{"action": "whoAmI"}', ok(result))
    assert action == SendText(invoke.connection_id, "")


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"a": 1}, {"a": 1}), ([1, "x"], [1, "x"]), (5, 5), (True, True)],
)
def test_two_way_route_non_string_body_is_json_text(body: Any, expected: Any) -> None:
    gateway, _ = make_gateway()
    _, action = finished(gateway, "anything", ok({"statusCode": 200, "body": body}))  # $default is two-way
    assert action is not None
    assert json.loads(action.text) == expected


def test_one_way_route_sends_nothing() -> None:
    gateway, _ = make_gateway()
    _, action = finished(gateway, '{"action": "sendMessage"}', ok({"statusCode": 200, "body": "hidden"}))
    assert action is None


@pytest.mark.parametrize("outcome", [Failed("Exception", "boom", 1.0), TimedOut(3.0, 3000.0)])
@pytest.mark.parametrize("body", ['{"action": "sendMessage"}', '{"action": "whoAmI"}'])
def test_failure_sends_internal_server_error_frame(outcome: Failed | TimedOut, body: str) -> None:
    gateway, _ = make_gateway()
    invoke, action = finished(gateway, body, outcome)
    cid, rid = invoke.connection_id, invoke.request_id
    assert action == SendText(cid, f'{{"message": "Internal server error", "connectionId":"{cid}", "requestId":"{rid}"}}')


def test_integration_timed_out_frame() -> None:
    gateway, _ = make_gateway()
    cid = connected(gateway)
    invoke = message_invoke(gateway, cid, '{"action": "sendMessage"}')
    action = gateway.integration_timed_out(invoke)
    rid = invoke.request_id
    assert action == SendText(cid, f'{{"message": "Endpoint request timed out", "connectionId":"{cid}", "requestId":"{rid}"}}')


def test_integration_timeout_ms_route_value_capped_at_limit() -> None:
    routes = [
        RouteSpec("$default", "Default"),
        RouteSpec("fast", "Fast", integration_timeout_ms=500),
        RouteSpec("slow", "Slow", integration_timeout_ms=60_000),
    ]
    gateway, _ = make_gateway(routes, limits=Limits(integration_timeout_ms=10_000))
    cid = connected(gateway)
    assert gateway.integration_timeout_ms(message_invoke(gateway, cid, '{"action": "fast"}')) == 500
    assert gateway.integration_timeout_ms(message_invoke(gateway, cid, '{"action": "slow"}')) == 10_000
    assert gateway.integration_timeout_ms(message_invoke(gateway, cid, "x")) == 10_000


def test_integration_timeout_ms_default_limit_is_29s() -> None:
    gateway, _ = make_gateway([RouteSpec("$default", "Default")])
    cid = connected(gateway)
    assert gateway.integration_timeout_ms(message_invoke(gateway, cid, "x")) == 29_000


# --- closed / $disconnect -----------------------------------------------------------------


def test_closed_invokes_disconnect_and_removes_record() -> None:
    gateway, clock = make_gateway()
    decision = gateway.open(handshake(headers=(("Host", DOMAIN), ("User-Agent", "ua/1"))))
    assert isinstance(decision, Invoke)
    cid = decision.connection_id
    assert isinstance(gateway.connect_finished(decision, ok({"statusCode": 200})), Accept)
    clock.advance(5_000)
    invoke = gateway.closed(cid, 1005, "Client-side close frame status not set")
    assert isinstance(invoke, Invoke)
    assert invoke.function == "Disconnect"
    assert invoke.route_key == "$disconnect"
    assert invoke.connection_id == cid
    ctx = invoke.event["requestContext"]
    assert ctx["eventType"] == "DISCONNECT"
    assert ctx["routeKey"] == "$disconnect"
    assert ctx["disconnectStatusCode"] == 1005
    assert ctx["disconnectReason"] == "Client-side close frame status not set"
    assert ctx["connectedAt"] == START
    assert ctx["requestTimeEpoch"] == START + 5_000
    assert ctx["requestId"] == invoke.request_id
    assert ctx["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "ua/1"}
    assert invoke.event["headers"] == {"Host": DOMAIN, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    assert gateway.registry.get(cid) is None
    assert gateway.closed(cid, 1000, "") is None


def test_closed_without_disconnect_route_removes_record() -> None:
    gateway, _ = make_gateway([RouteSpec("$default", "Default")])
    cid = connected(gateway)
    assert gateway.closed(cid, 1000, "bye") is None
    assert gateway.registry.get(cid) is None


def test_closed_unknown_connection_is_none() -> None:
    gateway, _ = make_gateway()
    assert gateway.closed("AAAAAAAAAAAAAAA=", 1000, "") is None


def test_a_reply_in_flight_follows_the_route_it_was_routed_by_not_a_reload() -> None:
    # A hot reload that removes the two-way route while its invocation runs must not
    # drop the reply (in-flight invocations finish on the old definition).
    gateway, _ = make_gateway()
    connection_id = connected(gateway)
    invoke = message_invoke(gateway, connection_id, '{"action": "whoAmI"}')
    assert invoke.two_way
    gateway.swap_model(make_model([route for route in FULL_ROUTES if route.key != "whoAmI"]))
    assert gateway.message_finished(invoke, ok({"body": "late"})) == SendText(connection_id, "late")


def test_a_route_made_one_way_by_a_reload_still_answers_the_message_routed_before() -> None:
    gateway, _ = make_gateway()
    connection_id = connected(gateway)
    invoke = message_invoke(gateway, connection_id, '{"action": "whoAmI"}')
    one_way = [dataclasses.replace(route, two_way=False) for route in FULL_ROUTES]
    gateway.swap_model(make_model(one_way))
    assert gateway.message_finished(invoke, ok({"body": "late"})) == SendText(connection_id, "late")
    later = message_invoke(gateway, connection_id, '{"action": "whoAmI"}')
    assert not later.two_way and gateway.message_finished(later, ok({"body": "x"})) is None
