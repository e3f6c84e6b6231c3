"""Tests for emulator.inspector.views: what the page shows, made from records."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from emulator.core.events import Handshake
from emulator.core.invocation import Failed, Invoke, Succeeded, TimedOut
from emulator.core.management import ManagementRequest
from emulator.core.model import FunctionSpec
from emulator.core.registry import ConnectionRecord, ConnectionRegistry
from emulator.core.selection import RouteSelector
from emulator.inspector.records import (
    Closed, Connected, FrameIn, FrameOut, Invocation, LogLine, Managed, Opened, Record, Refused, Ring,
)
from emulator.inspector.views import INSPECTOR_AUTHORIZATION, TEXT_LIMIT, Views

FUNCTIONS = MappingProxyType({"Echo": FunctionSpec("Echo", "echo.handler", Path("."), memory_mb=256, timeout_s=6)})
SECRET = "AWS4-HMAC-SHA256 Credential=AKID/x, SignedHeaders=host, Signature=deadbeef"


def views_of(*records: Record, size: int = 100) -> Views:
    ring = Ring(size)
    for record in records:
        ring.append(record)
    selector = RouteSelector.parse("$request.body.action")
    return Views(ring, select=selector.evaluate, functions=lambda: FUNCTIONS, region="eu-west-1",
                 account_id="111122223333")


def invoke(request_id: str = "r1", route: str = "echo", cid: str = "c1") -> Invoke:
    event = {"requestContext": {"connectionId": cid}, "headers": {"Authorization": SECRET}, "body": "{}"}
    return Invoke("Echo", event, request_id, cid, route, two_way=True)


def test_a_frame_in_row_says_its_size_route_and_why() -> None:
    views = views_of(FrameIn(1.0, "c1", '{"action": "echo", "x": "é"}', invoke()))
    (row,) = views.rows(views.ring)
    assert row == {"seq": 0, "t": 1000.0, "kind": "in", "cid": "c1", "size": 29, "text": '{"action": "echo", "x": "é"}',
                   "selection": "echo", "route": "echo", "function": "Echo", "requestId": "r1"}


def test_an_unrouted_frame_and_a_long_frame() -> None:
    long = "x" * (TEXT_LIMIT + 10)
    views = views_of(FrameIn(1.0, "c1", "not json", None), FrameOut(1.0, "c1", long, "error", None))
    unrouted, out = views.rows(views.ring)
    assert unrouted["route"] is None and unrouted["selection"] is None
    assert out["kind"] == "out" and out["cut"] == 10 and len(out["text"]) == TEXT_LIMIT and out["size"] == TEXT_LIMIT + 10


def test_invocation_rows_give_outcome_duration_and_cold_start_from_the_report_line() -> None:
    views = views_of(
        LogLine(1.0, "Echo", "REPORT RequestId: r1\tDuration: 1.00 ms\tInit Duration: 80.00 ms"),
        Invocation(1.0, invoke("r1"), Succeeded({"statusCode": 200}, 1.23456), False),
        LogLine(2.0, "Echo", "REPORT RequestId: r2\tDuration: 1.00 ms"),
        Invocation(2.0, invoke("r2"), Failed("KeyError", "'x'", 2.0), False),
        Invocation(3.0, invoke("r3"), TimedOut(6.0, 6000.0), False),
        Invocation(4.0, invoke("r4"), Failed("Error", "injected", 0.0), True),
    )
    rows = views.rows(views.ring)
    assert [row["kind"] for row in rows] == ["invoke"] * 4  # log lines have no row
    assert [(row["status"], row["cold"]) for row in rows] == [("ok", True), ("error", False), ("timeout", None),
                                                              ("injected", None)]
    assert rows[0]["durationMs"] == 1.235 and rows[1]["errorType"] == "KeyError"
    # A row made alone (a later push) finds its REPORT line by looking back.
    (seq, first), = [(seq, record) for seq, record in views.ring if isinstance(record, Invocation)][:1]
    assert views.row(seq, first)["cold"] is True


def test_connection_rows_and_management_rows() -> None:
    hello = Handshake("/dev", (("X-Amz-Signature", "sig"),), (("User-Agent", "ua"),), "10.0.0.7", secure=True)
    views = views_of(
        Opened(1.0, "c1", hello), Connected(1.1, "c1", "chat"),
        Managed(1.2, ManagementRequest("POST", "/dev/@connections/c1%3D?x=1", b"hi", INSPECTOR_AUTHORIZATION), 200, "c1="),
        Managed(1.3, ManagementRequest("DELETE", "/dev/@connections/c1", b"", SECRET), 410, "c1"),
        Closed(1.4, "c1", 1001, "Going away"), Refused(1.5, "/prod", "10.0.0.8", 403, "no such stage"),
    )
    opened, connected, post, delete, closed, refused = views.rows(views.ring)
    assert opened["sourceIp"] == "10.0.0.7" and opened["userAgent"] == "ua" and opened["query"] == [["X-Amz-Signature", "****"]]
    assert connected["subprotocol"] == "chat"
    assert post["kind"] == "post" and post["target"] == "/dev/@connections/c1%3D" and post["viaInspector"] is True
    assert post["text"] == "hi" and post["status"] == 200
    assert delete["kind"] == "manage" and delete["status"] == 410 and delete["viaInspector"] is False
    assert "deadbeef" not in repr(views.rows(views.ring))
    assert (closed["code"], closed["reason"]) == (1001, "Going away")
    assert refused == {"seq": 5, "t": 1500.0, "kind": "refused", "path": "/prod", "sourceIp": "10.0.0.8", "status": 403,
                       "reason": "no such stage"}


def test_detail_has_the_event_masked_the_context_the_result_and_only_its_own_lines() -> None:
    views = views_of(
        LogLine(1.0, "Echo", "START RequestId: r1 Version: $LATEST"),
        LogLine(1.0, "Echo", "printed by r1 alone"),
        LogLine(1.1, "Echo", "START RequestId: r2 Version: $LATEST"),
        LogLine(1.1, "Echo", "[INFO]\t2026-01-01T00:00:00Z\tr2\tr2's own line"),
        LogLine(1.1, "Echo", "nobody knows whose"),  # two running: not attributed
        LogLine(1.1, "Other", "START RequestId: r9 Version: $LATEST"),
        LogLine(1.2, "Echo", "[INFO]\t2026-01-01T00:00:00Z\tr1\tr1's own line"),
        LogLine(1.3, "Echo", "END RequestId: r1"),
        LogLine(1.3, "Echo", "REPORT RequestId: r1\tDuration: 3.00 ms\tInit Duration: 9.00 ms"),
        Invocation(1.3, invoke("r1"), Succeeded({"statusCode": 200, "body": "ok"}, 3.0), False),
        LogLine(1.4, "Echo", "REPORT RequestId: r2\tDuration: 3.00 ms"),
    )
    detail = views.detail("r1")
    assert detail is not None
    assert detail["logs"] == [
        "START RequestId: r1 Version: $LATEST", "printed by r1 alone", "[INFO]\t2026-01-01T00:00:00Z\tr1\tr1's own line",
        "END RequestId: r1", "REPORT RequestId: r1\tDuration: 3.00 ms\tInit Duration: 9.00 ms",
    ]
    assert detail["event"]["headers"]["Authorization"] == "AWS4-HMAC-SHA256 ****"
    assert detail["result"] == {"statusCode": 200, "body": "ok"} and detail["cold"] is True
    assert detail["context"] == {
        "function_name": "Echo", "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:eu-west-1:111122223333:function:Echo", "memory_limit_in_mb": "256",
        "aws_request_id": "r1", "log_group_name": "/aws/lambda/Echo", "timeout_ms": 6000,
    }
    assert views.detail("gone") is None


def test_detail_of_a_failure_and_a_timeout() -> None:
    views = views_of(Invocation(1.0, invoke("r1"), Failed("KeyError", "'x'", 1.0), False),
                     Invocation(2.0, invoke("r2"), TimedOut(6.0, 6000.0), False))
    failed, timed_out = views.detail("r1"), views.detail("r2")
    assert failed is not None and failed["error"] == {"errorType": "KeyError", "errorMessage": "'x'"}
    assert timed_out is not None and timed_out["error"]["errorMessage"] == "Task timed out after 6.00 seconds"


def test_connections_are_the_table_plus_recently_closed_ones_from_the_ring() -> None:
    registry = ConnectionRegistry()
    registry.add(ConnectionRecord("open1", 5000, 6000, "10.0.0.1", "ua"))
    registry.mark_open("open1")
    registry.set_authorizer("open1", {"principalId": "alice", "token": "t"})
    hello = Handshake("/dev", (), (("User-Agent", "old"),), "10.0.0.2")
    views = views_of(Opened(1.0, "gone1", hello), Connected(1.0, "gone1", "chat"), Closed(2.0, "gone1", 1006, "x"),
                     Opened(4.0, "open1", hello), Connected(4.0, "open1", "json"))
    table: list[dict[str, Any]] = views.connections(registry)
    assert [entry["cid"] for entry in table] == ["open1", "gone1"]
    assert table[0]["state"] == "OPEN" and table[0]["subprotocol"] == "json" and table[0]["lastActiveAt"] == 6000
    assert table[0]["authorizer"] == {"principalId": "alice", "token": "****"}
    assert table[1]["state"] == "CLOSED" and (table[1]["code"], table[1]["subprotocol"]) == (1006, "chat")


def test_detail_of_a_lambda_custom_integration_has_the_lambda_context_and_a_mock_none() -> None:
    from dataclasses import replace

    from emulator.core.integration import IntegrationSpec

    custom = replace(invoke("r1"), integration=IntegrationSpec(type="AWS", function="Echo"))
    mock = replace(invoke("r2"), function="MOCK", integration=IntegrationSpec(type="MOCK"))
    views = views_of(Invocation(1.0, custom, Succeeded({"statusCode": 200, "body": "{}"}, 1.0), False),
                     Invocation(2.0, mock, Succeeded({"statusCode": 200, "body": ""}, 1.0), False))
    detail, mocked = views.detail("r1"), views.detail("r2")
    assert detail is not None and detail["context"]["function_name"] == "Echo"
    assert mocked is not None and mocked["context"] is None
