"""Tests for emulator.inspector.recorder: the core's decisions, unchanged, each
leaving one record (no sockets: the lifecycle is driven by hand, as in tests/core)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import MappingProxyType

import pytest

from emulator.core.clock import ManualClock
from emulator.core.events import Handshake
from emulator.core.ids import SequentialIds
from emulator.core.invocation import Failed, Invoke, Succeeded
from emulator.core.lifecycle import Accept, Reject, SendText
from emulator.core.management import Deliver, ManagementRequest
from emulator.core.model import ApiModel, FunctionSpec, RouteSpec
from emulator.inspector.records import (
    Closed, Connected, FrameIn, FrameOut, Invocation, LogLine, Managed, Opened, Refused, Ring,
)
from emulator.inspector.recorder import Recorder, RecordingLifecycle, RecordingManagement
from emulator.core.activity import Activity

START = 1_731_324_924_553
SIGNED = ("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/execute-api/aws4_request, "
          "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def make_model(routes: list[RouteSpec]) -> ApiModel:
    names = {route.function for route in routes}
    return ApiModel(
        name="test", stage="dev", route_selection_expression="$request.body.action",
        routes=MappingProxyType({route.key: route for route in routes}),
        functions=MappingProxyType({name: FunctionSpec(name, f"{name.lower()}.handler", Path(".")) for name in names}),
    )


ROUTES = [RouteSpec("$connect", "Connect"), RouteSpec("$disconnect", "Disconnect"),
          RouteSpec("whoAmI", "WhoAmI", two_way=True), RouteSpec("sendMessage", "Send")]


def recording(routes: list[RouteSpec] = ROUTES) -> tuple[RecordingLifecycle, Ring, ManualClock]:
    clock = ManualClock(START)
    ring = Ring(100)
    recorder = Recorder(ring, Activity(lambda: clock.now_ms() / 1000), always=True)
    lifecycle = RecordingLifecycle(recorder.activity, make_model(routes), domain_name="localhost:3001", clock=clock,
                                   ids=SequentialIds())
    return lifecycle, ring, clock


def handshake() -> Handshake:
    return Handshake("/dev", (("room", "1"),), (("Host", "localhost"), ("User-Agent", "ua/1")), "127.0.0.1")


def connect(lifecycle: RecordingLifecycle) -> str:
    invoke = lifecycle.open(handshake())
    assert isinstance(invoke, Invoke)
    decision = lifecycle.connect_finished(invoke, Succeeded({"statusCode": 200}, 1.0))
    assert isinstance(decision, Accept)
    return decision.connection_id


def kinds(ring: Ring) -> list[str]:
    return [type(record).__name__ for _, record in ring]


def test_a_connection_a_message_a_reply_and_a_close_are_recorded_in_order() -> None:
    lifecycle, ring, clock = recording()
    cid = connect(lifecycle)
    clock.advance(5)
    invoke = lifecycle.message(cid, '{"action": "whoAmI"}')
    assert isinstance(invoke, Invoke) and invoke.route_key == "whoAmI"
    reply = lifecycle.message_finished(invoke, Succeeded({"statusCode": 200, "body": cid}, 2.0))
    assert isinstance(reply, SendText) and reply.text == cid  # the decision is the core's, unchanged
    lifecycle.closed(cid, 1000, "bye")
    assert kinds(ring) == ["Opened", "Connected", "FrameIn", "FrameOut", "Closed"]
    records = [record for _, record in ring]
    assert isinstance(records[0], Opened) and records[0].connection_id == cid
    assert isinstance(records[2], FrameIn) and records[2].invoke == invoke and records[2].at == (START + 5) / 1000
    assert isinstance(records[3], FrameOut) and (records[3].cause, records[3].request_id) == ("reply", invoke.request_id)
    assert isinstance(records[4], Closed) and (records[4].code, records[4].reason) == (1000, "bye")


def test_an_unrouted_message_records_the_forbidden_frame() -> None:
    lifecycle, ring, _ = recording()
    cid = connect(lifecycle)
    decision = lifecycle.message(cid, '{"action": "nope"}')
    assert isinstance(decision, SendText)
    frame_in, frame_out = [record for _, record in ring][-2:]
    assert isinstance(frame_in, FrameIn) and frame_in.invoke is None
    assert isinstance(frame_out, FrameOut) and frame_out.cause == "error" and "Forbidden" in frame_out.text


def test_a_failed_invocation_and_an_integration_timeout_record_error_frames() -> None:
    lifecycle, ring, _ = recording()
    cid = connect(lifecycle)
    invoke = lifecycle.message(cid, '{"action": "sendMessage"}')
    assert isinstance(invoke, Invoke)
    lifecycle.message_finished(invoke, Failed("Error", "boom", 1.0))
    lifecycle.integration_timed_out(invoke)
    outs = [record for _, record in ring if isinstance(record, FrameOut)]
    assert [out.cause for out in outs] == ["error", "error"]
    assert "Internal server error" in outs[0].text and "Endpoint request timed out" in outs[1].text


def test_refusals_are_left_to_the_listener_and_no_connect_route_connects_at_once() -> None:
    lifecycle, ring, _ = recording([RouteSpec("whoAmI", "WhoAmI")])
    decision = lifecycle.open(handshake())
    assert isinstance(decision, Accept)
    assert kinds(ring) == ["Opened", "Connected"]
    wrong = lifecycle.open(Handshake("/prod", (), (), "127.0.0.1"))
    assert isinstance(wrong, Reject)
    assert kinds(ring) == ["Opened", "Connected"]  # the listener's refusal hook records it


def test_the_recorder_hooks_record_invocations_log_lines_and_refusals() -> None:
    ring = Ring(10)
    recorder = Recorder(ring, Activity(lambda: 1.5), always=True)
    invoke = Invoke("F", {}, "r1", "c1", "$default")
    recorder.activity.log_line("F", "START RequestId: r1 Version: $LATEST")
    recorder.activity.invocation(invoke, Succeeded(None, 1.0), False)
    recorder.activity.refusal("/x", "10.0.0.1", 403, "no such stage")
    assert [record for _, record in ring] == [
        LogLine(1.5, "F", "START RequestId: r1 Version: $LATEST"),
        Invocation(1.5, invoke, Succeeded(None, 1.0), False),
        Refused(1.5, "/x", "10.0.0.1", 403, "no such stage"),
    ]


def test_management_calls_are_recorded_with_their_status_and_target() -> None:
    lifecycle, ring, clock = recording()
    cid = connect(lifecycle)
    api = RecordingManagement(Recorder(ring, Activity(lambda: 2.0), always=True).activity, stage="dev", registry=lifecycle.registry, clock=clock,
                              limits=lifecycle.model.limits)
    response, action = api.handle(ManagementRequest("POST", f"/dev/@connections/{cid}", b"hi", SIGNED), "rid")
    assert response.status == 200 and action == Deliver(cid, b"hi")
    response, _ = api.handle(ManagementRequest("GET", "/favicon.ico"), "rid")
    assert response.status == 403
    managed = [record for _, record in ring if isinstance(record, Managed)]
    assert [(m.status, m.connection_id, m.request.body) for m in managed] == [(200, cid, b"hi"), (403, None, b"")]
    assert isinstance([record for _, record in ring][1], Connected)


def test_by_default_nothing_is_recorded_until_a_page_watches() -> None:
    ring = Ring(100)
    clock = ManualClock(START)
    recorder = Recorder(ring, Activity(lambda: clock.now_ms() / 1000))
    lifecycle = RecordingLifecycle(recorder.activity, make_model(ROUTES), domain_name="localhost:3001", clock=clock,
                                   ids=SequentialIds())
    cid = connect(lifecycle)
    invoke = lifecycle.message(cid, '{"action": "whoAmI"}')
    assert isinstance(invoke, Invoke)  # the core decides as always...
    recorder.activity.invocation(invoke, Succeeded({"statusCode": 200}, 1.0), False)
    recorder.activity.log_line("WhoAmI", "START RequestId: x")
    assert len(ring) == 0  # ...and no page open: nothing kept, nothing paid for it


@pytest.mark.asyncio
async def test_recording_follows_the_pages_and_lingers_after_the_last() -> None:
    ring = Ring(100)
    recorder = Recorder(ring, Activity(lambda: 1.0), linger_s=0.05)
    recorder.watched_by(1)
    recorder.activity.log_line("F", "one")
    recorder.watched_by(0)  # the last page closed: still recording for linger_s
    recorder.activity.log_line("F", "two")
    recorder.watched_by(1)  # back within the linger: the stop is called off
    await asyncio.sleep(0.1)
    recorder.activity.log_line("F", "three")
    recorder.watched_by(0)
    await asyncio.sleep(0.1)
    recorder.activity.log_line("F", "gone")
    assert [record.line for _, record in ring if isinstance(record, LogLine)] == ["one", "two", "three"]


def test_always_records_with_no_page() -> None:
    ring = Ring(10)
    recorder = Recorder(ring, Activity(lambda: 1.0), always=True)
    recorder.watched_by(0)
    recorder.activity.log_line("F", "kept")
    assert len(ring) == 1
