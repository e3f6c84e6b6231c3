"""Tests for emulator.core.admission and the lifecycle's use of it: throttled and
invalid requests are answered without an Invoke (no integration runs)."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

from emulator.core.admission import Gate, Refusal, RouteAdmission
from emulator.core.clock import ManualClock
from emulator.core.events import Handshake
from emulator.core.ids import SequentialIds
from emulator.core.invocation import Invoke
from emulator.core.lifecycle import Accept, ConnectionLifecycle, Reject, SendText
from emulator.core.model import ApiModel, FunctionSpec, RouteSpec
from emulator.core.throttle import ThrottleLimits
from emulator.core.validation import ModelValidation, RequestModel

DOMAIN = "localhost:8443"


def _has_name(document: object) -> str | None:
    return None if isinstance(document, dict) and isinstance(document.get("name"), str) else "name is required"


NAMED = ModelValidation(models={"$default": RequestModel("Named", "application/json", "{}", _has_name)})


def lifecycle(*routes: RouteSpec) -> tuple[ConnectionLifecycle, ManualClock]:
    clock = ManualClock()
    functions = {route.function: FunctionSpec(route.function, "h.handler", Path(".")) for route in routes}
    model = ApiModel(name="t", stage="dev", route_selection_expression="$request.body.action",
                     routes=MappingProxyType({route.key: route for route in routes}),
                     functions=MappingProxyType(functions))
    return ConnectionLifecycle(model, domain_name=DOMAIN, clock=clock, ids=SequentialIds()), clock


def handshake() -> Handshake:
    return Handshake(path="/dev", query=(), headers=(("Host", DOMAIN),), source_ip="127.0.0.1", secure=True, port=8443)


def connected(gateway: ConnectionLifecycle) -> str:
    decision = gateway.open(handshake())
    assert isinstance(decision, Accept)
    return decision.connection_id


def test_the_gate_throttles_first_then_validates() -> None:
    gate = Gate()
    both = RouteAdmission(throttle=ThrottleLimits(burst=1, rate=0.0), validation=NAMED)
    # The first request takes the only token even though it fails validation [?].
    refused = gate.check("r", both, "{}", 0)
    assert refused is not None and (refused.status, refused.message) == (400, "Bad request body")
    assert refused.reason == "model Named: name is required"
    assert gate.check("r", both, '{"name": "x"}', 0) == Refusal(
        429, "Too Many Requests", "route r throttled (burst 1, rate 0/s)")
    assert gate.check("s", RouteAdmission(validation=NAMED), '{"name": "x"}', 0) is None
    # $connect has no body: only its throttle applies.
    assert gate.check("$connect", RouteAdmission(validation=NAMED), None, 0) is None


def test_an_invalid_message_gets_the_bad_request_frame_and_no_invoke() -> None:
    gateway, _ = lifecycle(RouteSpec("save", "Save", admission=RouteAdmission(validation=NAMED)))
    connection = connected(gateway)
    refused = gateway.message(connection, json.dumps({"action": "save"}))
    assert isinstance(refused, SendText) and refused.connection_id == connection
    frame = json.loads(refused.text)
    assert frame["message"] == "Bad request body" and frame["connectionId"] == connection
    assert set(frame) == {"message", "connectionId", "messageId"}
    accepted = gateway.message(connection, json.dumps({"action": "save", "name": "ann"}))
    assert isinstance(accepted, Invoke) and accepted.route_key == "save"


def test_a_throttled_message_gets_the_too_many_requests_frame_until_the_bucket_refills() -> None:
    limits = RouteAdmission(throttle=ThrottleLimits(burst=2, rate=1.0))
    gateway, clock = lifecycle(RouteSpec("ping", "Ping", admission=limits), RouteSpec("other", "Other"))
    connection = connected(gateway)
    ping = json.dumps({"action": "ping"})
    decisions = [gateway.message(connection, ping) for _ in range(3)]
    assert [type(d) for d in decisions] == [Invoke, Invoke, SendText]
    throttled = decisions[2]
    assert isinstance(throttled, SendText)
    assert throttled.text.startswith('{"message": "Too Many Requests", "connectionId":"' + connection + '", "requestId":"')
    # Another route has no limits: not affected.
    assert isinstance(gateway.message(connection, json.dumps({"action": "other"})), Invoke)
    clock.advance(1_000)
    assert isinstance(gateway.message(connection, ping), Invoke)
    assert isinstance(gateway.message(connection, ping), SendText)


def test_the_bucket_is_the_routes_not_the_connections() -> None:
    limits = RouteAdmission(throttle=ThrottleLimits(burst=1, rate=0.0))
    gateway, _ = lifecycle(RouteSpec("ping", "Ping", admission=limits))
    first, second = connected(gateway), connected(gateway)
    assert isinstance(gateway.message(first, '{"action": "ping"}'), Invoke)
    assert isinstance(gateway.message(second, '{"action": "ping"}'), SendText)


def test_a_throttled_connect_is_refused_with_429_before_its_integration() -> None:
    limits = RouteAdmission(throttle=ThrottleLimits(burst=1, rate=1.0))
    gateway, clock = lifecycle(RouteSpec("$connect", "Connect", admission=limits))
    assert isinstance(gateway.open(handshake()), Invoke)  # $connect runs
    refused = gateway.open(handshake())
    assert isinstance(refused, Reject)
    assert (refused.status, refused.body) == (429, '{"message":"Too Many Requests"}')
    assert len(gateway.registry) == 1  # the refused handshake left no record
    clock.advance(1_000)
    assert isinstance(gateway.open(handshake()), Invoke)


def test_without_throttling_keeps_validation() -> None:
    gateway, _ = lifecycle(
        RouteSpec("ping", "Ping", admission=RouteAdmission(throttle=ThrottleLimits(0, 0.0))),
        RouteSpec("save", "Save", admission=RouteAdmission(throttle=ThrottleLimits(0, 0.0), validation=NAMED)),
    )
    model = gateway.model.without_throttling()
    assert model.routes["ping"].admission is None
    assert model.routes["save"].admission == RouteAdmission(validation=NAMED)
