"""The one stream of what happened (emulator/core/activity.py) and the core's decisions
told to it, access log lines included (emulator/core/recording.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from emulator.core.access_log import AccessLogSettings
from emulator.core.activity import (
    ACCESS, INVOCATIONS, LOGS, REFUSALS, TRAFFIC, AccessLine, Activity, Closed, FrameIn, FrameOut, Invocation,
    LogLine, MessageRefused, Opened, Refused,
)
from emulator.core.admission import RouteAdmission
from emulator.core.throttle import ThrottleLimits
from emulator.core.clock import ManualClock
from emulator.core.events import Handshake
from emulator.core.ids import SequentialIds
from emulator.core.integration import HTTP_PROXY, MOCK, IntegrationSpec
from emulator.core.invocation import Failed, Invoke, Succeeded, TimedOut
from emulator.core.lifecycle import Accept, Reject, SendText
from emulator.core.model import ApiModel, AuthorizerSpec, FunctionSpec, RouteSpec
from emulator.core.recording import RecordingLifecycle

START = 1_731_324_924_553
FORMAT = ("$context.requestId $context.connectionId $context.eventType $context.routeKey $context.status "
          "$context.integrationLatency $context.error.messageString $context.authorizer.latency")


def model(routes: list[RouteSpec], access: bool = True) -> ApiModel:
    names = {route.function for route in routes}
    return ApiModel(
        name="t", stage="dev", route_selection_expression="$request.body.action",
        routes=MappingProxyType({route.key: route for route in routes}),
        functions=MappingProxyType({n: FunctionSpec(n, f"{n.lower()}.handler", Path(".")) for n in names}),
        access_log=AccessLogSettings(FORMAT, "arn:aws:logs:us-east-1:123456789012:log-group:g") if access else None,
    )


ROUTES = [RouteSpec("$connect", "Connect"), RouteSpec("$disconnect", "Bye"), RouteSpec("echo", "Echo", two_way=True)]


def stream(routes: list[RouteSpec] = ROUTES, kinds: Any = ACCESS, access: bool = True,
           ) -> tuple[RecordingLifecycle, Activity, list[Any], ManualClock]:
    clock = ManualClock(START)
    activity = Activity(lambda: clock.now_ms() / 1000)
    heard: list[Any] = []
    activity.subscribe(heard.append, kinds)
    lifecycle = RecordingLifecycle(activity, model(routes, access), domain_name="localhost:3001", clock=clock,
                                   ids=SequentialIds())
    return lifecycle, activity, heard, clock


def handshake() -> Handshake:
    return Handshake("/dev", (), (("User-Agent", "ua/1"),), "10.0.0.9")


def lines(heard: list[Any]) -> list[str]:
    return [record.line for record in heard if isinstance(record, AccessLine)]


# -- the stream ------------------------------------------------------------------------------------


def test_producers_make_no_record_without_a_subscriber_of_its_kind() -> None:
    activity = Activity(lambda: 1.0)
    assert not (activity.traffic or activity.invocations or activity.logs or activity.refusals or activity.access)
    heard: list[Any] = []
    subscription = activity.subscribe(heard.append, LOGS)
    assert activity.logs and not activity.invocations and not activity.traffic
    activity.log_line("F", "hello")
    activity.invocation(Invoke("F", {}, "r1", "c1", "$default"), Succeeded(None, 1.0), False)
    activity.refusal("/x", "10.0.0.1", 403, "no")
    assert heard == [LogLine(1.0, "F", "hello")]
    activity.unsubscribe(subscription)
    activity.unsubscribe(subscription)  # twice: nothing happens
    assert not activity.logs and not activity.subscribed


def test_each_subscriber_hears_its_kinds_in_order_and_a_broken_one_does_not_stop_the_others() -> None:
    activity = Activity(lambda: 2.0)
    first: list[Any] = []
    second: list[Any] = []

    def broken(record: Any) -> None:
        raise RuntimeError("a consumer's bug")

    activity.subscribe(first.append)
    activity.subscribe(broken, INVOCATIONS)
    activity.subscribe(second.append, INVOCATIONS)
    invoke = Invoke("F", {}, "r1", "c1", "$default")
    activity.invocation(invoke, Succeeded(None, 1.0), False)
    activity.refusal("/x", "10.0.0.1", 403, "no")
    assert first == [Invocation(2.0, invoke, Succeeded(None, 1.0), False), Refused(2.0, "/x", "10.0.0.1", 403, "no")]
    assert second == first[:1]


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError):
        Activity(lambda: 0.0).subscribe(print, {str})


def test_a_non_lambda_integration_is_named_like_a_lambda_one() -> None:
    spec = IntegrationSpec(HTTP_PROXY, "http://127.0.0.1:9/backend", "PUT")
    proxied = Invocation(1.0, Invoke(spec.label, {}, "r1", "c1", "echo", integration=spec),
                         Succeeded({"statusCode": 202, "body": "ok"}, 3.0), False)
    assert (proxied.integration_type, proxied.target, proxied.integration_status, proxied.status,
            proxied.duration_ms) == ("HTTP_PROXY", "HTTP_PROXY PUT http://127.0.0.1:9/backend", 202, "ok", 3.0)
    mock = IntegrationSpec(MOCK)
    mocked = Invocation(1.0, Invoke("MOCK", {}, "r2", "c1", "$connect", integration=mock),
                        Succeeded({"statusCode": 403, "body": ""}, 0.1), False)
    assert (mocked.integration_type, mocked.target, mocked.integration_status) == ("MOCK", "MOCK", 403)
    failed = dataclasses.replace(proxied, outcome=Failed("IntegrationError", "down", 2.0))
    assert (failed.integration_status, failed.status) == (None, "error")
    lam = Invocation(1.0, Invoke("Echo", {}, "r3", "c1", "echo"), Succeeded({"statusCode": 500}, 1.0), False)
    assert (lam.integration_type, lam.target, lam.integration_status) == ("AWS_PROXY", "Echo", 200)
    assert dataclasses.replace(lam, outcome=TimedOut(3.0, 3000.0)).status == "timeout"


# -- the core's decisions --------------------------------------------------------------------------


def connect(lifecycle: RecordingLifecycle, clock: ManualClock) -> str:
    invoke = lifecycle.open(handshake())
    assert isinstance(invoke, Invoke)
    clock.advance(5)
    decision = lifecycle.connect_finished(invoke, Succeeded({"statusCode": 200}, 4.6))
    assert isinstance(decision, Accept)
    return decision.connection_id


def test_traffic_records_only_when_someone_wants_them() -> None:
    lifecycle, activity, heard, clock = stream(kinds=TRAFFIC, access=False)
    cid = connect(lifecycle, clock)
    invoke = lifecycle.message(cid, '{"action": "echo"}')
    assert isinstance(invoke, Invoke)
    lifecycle.message_finished(invoke, Succeeded({"statusCode": 200, "body": "back"}, 1.0))
    forbidden = lifecycle.message(cid, '{"action": "nope"}')  # no $default in ROUTES
    assert isinstance(forbidden, SendText)
    lifecycle.closed(cid, 1000, "bye")
    assert [type(r).__name__ for r in heard] == ["Opened", "Connected", "FrameIn", "FrameOut", "FrameIn",
                                                 "FrameOut", "Closed"]
    assert heard[5] == FrameOut(heard[5].at, cid, forbidden.text, "error", json.loads(forbidden.text)["requestId"])
    assert not activity.invocations  # no access log: the lifecycle hears no invocations either


def test_one_access_line_per_request() -> None:
    lifecycle, activity, heard, clock = stream()
    cid = connect(lifecycle, clock)
    invoke = lifecycle.message(cid, '{"action": "echo"}')
    assert isinstance(invoke, Invoke)
    lifecycle.message_finished(invoke, Succeeded({"statusCode": 200, "body": "x"}, 2.4))
    failing = lifecycle.message(cid, '{"action": "echo"}')
    assert isinstance(failing, Invoke)
    lifecycle.message_finished(failing, Failed("KeyError", "'x'", 1.2))
    slow = lifecycle.message(cid, '{"action": "echo"}')
    assert isinstance(slow, Invoke)
    lifecycle.integration_timed_out(slow)
    forbidden = lifecycle.message(cid, '{"action": "nope"}')
    assert isinstance(forbidden, SendText)
    bye = lifecycle.closed(cid, 1001, "Going away")
    assert isinstance(bye, Invoke)
    activity.invocation(bye, Succeeded(None, 0.7), False)  # its outcome, heard from the stream
    first = heard[0].request_id  # the $connect's (connect() kept no Invoke)
    assert lines(heard) == [
        f"{first} {cid} CONNECT $connect 200 5 - -",
        f"{invoke.request_id} {cid} MESSAGE echo 200 2 - -",
        f"{failing.request_id} {cid} MESSAGE echo 500 1 \"Internal server error\" -",
        f"{slow.request_id} {cid} MESSAGE echo 504 - \"Endpoint request timed out\" -",
        f"{json.loads(forbidden.text)['requestId']} {cid} MESSAGE - 403 - \"Forbidden\" -",
        f"{bye.request_id} {cid} DISCONNECT $disconnect 200 1 - -",
    ]
    access = [r for r in heard if isinstance(r, AccessLine)]
    assert {r.destination for r in access} == {"arn:aws:logs:us-east-1:123456789012:log-group:g"}
    assert [r.route_key for r in access] == ["$connect", "echo", "echo", "echo", "-", "$disconnect"]


def test_refused_connects_and_routeless_connects_and_closes_have_lines_too() -> None:
    lifecycle, _, heard, clock = stream([RouteSpec("$connect", "Connect")])
    invoke = lifecycle.open(handshake())
    assert isinstance(invoke, Invoke)
    decision = lifecycle.connect_finished(invoke, Succeeded({"statusCode": 401}, 3.0))
    assert isinstance(decision, Reject)
    crashed = lifecycle.open(handshake())
    assert isinstance(crashed, Invoke)
    lifecycle.connect_finished(crashed, Failed("Error", "boom", 1.0))
    assert lines(heard) == [
        f"{invoke.request_id} {invoke.connection_id} CONNECT $connect 401 3 \"Unauthorized\" -",
        f"{crashed.request_id} {crashed.connection_id} CONNECT $connect 502 1 \"Internal server error\" -",
    ]
    plain, _, heard, clock = stream([RouteSpec("echo", "Echo")])  # no $connect, no $disconnect
    accepted = plain.open(handshake())
    assert isinstance(accepted, Accept)
    plain.closed(accepted.connection_id, 1000, "")
    ids = [record.request_id for record in heard]
    assert len(set(ids)) == 2  # each request its own id, minted when no integration ran
    assert lines(heard) == [f"{ids[0]} {accepted.connection_id} CONNECT $connect 200 - - -",
                            f"{ids[1]} {accepted.connection_id} DISCONNECT $disconnect 200 - - -"]


def test_a_throttled_message_is_a_refusal_of_its_route_not_a_forbidden_one() -> None:
    limited = RouteSpec("echo", "Echo", two_way=True, admission=RouteAdmission(throttle=ThrottleLimits(1, 0)))
    lifecycle, activity, heard, clock = stream([RouteSpec("$connect", "Connect"), limited],
                                               kinds=ACCESS | REFUSALS | TRAFFIC)
    cid = connect(lifecycle, clock)
    assert isinstance(lifecycle.message(cid, '{"action": "echo"}'), Invoke)  # the burst's one token
    throttled = lifecycle.message(cid, '{"action": "echo"}')
    assert isinstance(throttled, SendText) and throttled.route_key == "echo"
    request_id = json.loads(throttled.text)["requestId"]
    refused = [r for r in heard if isinstance(r, MessageRefused)]
    assert refused == [MessageRefused(refused[0].at, cid, "echo", 429, "route echo throttled (burst 1, rate 0/s)")]
    frame_in = [r for r in heard if isinstance(r, FrameIn)][-1]
    assert frame_in.invoke is None and frame_in.refused_route == "echo"
    # The access line names the route and AWS's status, not the no-route Forbidden.
    assert lines(heard)[-1] == f"{request_id} {cid} MESSAGE echo 429 - \"Too Many Requests\" -"
    assert activity.refusals


def test_no_subscriber_of_access_lines_no_lines_and_no_ids_spent() -> None:
    counted: list[str] = []

    class Counting(SequentialIds):
        def request_id(self) -> str:
            counted.append(super().request_id())
            return counted[-1]

    clock = ManualClock(START)
    activity = Activity(lambda: 1.0)
    heard: list[Any] = []
    activity.subscribe(heard.append, LOGS)
    lifecycle = RecordingLifecycle(activity, model([RouteSpec("echo", "Echo")]), domain_name="localhost:3001",
                                   clock=clock, ids=Counting())
    accepted = lifecycle.open(handshake())
    assert isinstance(accepted, Accept)
    lifecycle.message(accepted.connection_id, '{"action": "nope"}')
    lifecycle.closed(accepted.connection_id, 1000, "")
    assert heard == [] and len(counted) == 1  # only the Forbidden frame took an id


def test_opened_and_frame_records_keep_the_values_the_core_made() -> None:
    lifecycle, _, heard, clock = stream(kinds=TRAFFIC, access=False)
    cid = connect(lifecycle, clock)
    invoke = lifecycle.message(cid, '{"action": "echo"}')
    assert isinstance(invoke, Invoke)
    assert isinstance(heard[0], Opened) and heard[0].handshake == handshake()
    assert heard[2] == FrameIn(heard[2].at, cid, '{"action": "echo"}', invoke)
    lifecycle.closed(cid, 1005, "")
    assert isinstance(heard[-1], Closed) and heard[-1].code == 1005


def _policy(effect: str) -> dict[str, Any]:
    return {"principalId": "alice", "context": {"room": "7"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": "*"}]}}


def test_an_authorizer_shows_in_the_connect_line_allowed_or_not() -> None:
    routes = [RouteSpec("$connect", "Connect", authorization_type="CUSTOM", authorizer="Auth")]
    clock = ManualClock(START)
    activity = Activity(lambda: 1.0)
    heard: list[Any] = []
    activity.subscribe(heard.append, ACCESS)
    authorized = dataclasses.replace(
        model(routes), authorizers=MappingProxyType({"Auth": AuthorizerSpec("Auth", "AuthFn")}),
        access_log=AccessLogSettings("$context.requestId $context.status $context.authorizer.status "
                                     "$context.authorizer.latency $context.authorizer.principalId "
                                     "$context.authorizer.room $context.error.message"))
    lifecycle = RecordingLifecycle(activity, authorized, domain_name="localhost:3001", clock=clock, ids=SequentialIds())
    asked = lifecycle.open(handshake())
    assert isinstance(asked, Invoke)
    connect_invoke = lifecycle.connect_finished(asked, Succeeded(_policy("Allow"), 7.2))
    assert isinstance(connect_invoke, Invoke)
    assert heard == []  # the request goes on: one line, once $connect decided
    lifecycle.connect_finished(connect_invoke, Succeeded({"statusCode": 200}, 1.0))
    denied = lifecycle.open(handshake())
    assert isinstance(denied, Invoke)
    lifecycle.connect_finished(denied, Succeeded(_policy("Deny"), 2.0))
    assert lines(heard) == [f"{connect_invoke.request_id} 200 200 7 alice 7 -",
                            f"{denied.request_id} 403 403 2 - - Forbidden"]
