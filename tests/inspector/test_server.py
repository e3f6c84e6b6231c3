"""Tests for emulator.inspector.server over real sockets: the page, its API, the live
stream, acting on connections, and the safety rules; plus the push round alone, with
a stream that stops reading (a slow page)."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from emulator.core.ids import is_aws_id
from emulator.inspector.records import LogLine, Ring
from emulator.inspector.server import MAX_BACKLOG, PREFIX, Inspector, InspectorOptions, _Page
from emulator.inspector.views import Views

from conftest import ROOT, RunningGateway, start_gateway, wait_until

ACT = {"X-Wsgw-Inspector": "1"}


def request(gateway: RunningGateway, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", gateway.local.port, timeout=30)
    try:
        conn.request(method, PREFIX + path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def api(gateway: RunningGateway, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    status, _, raw = request(gateway, method, "/api/" + path, data, ACT)
    return status, json.loads(raw) if raw else None


class EventStream:
    """A raw Server-Sent Events reader on a plain socket."""

    def __init__(self, gateway: RunningGateway, start: int, last_event_id: int | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", gateway.local.port), timeout=30)
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.sock.sendall(f"GET {PREFIX}/api/events?from={start} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
        self.buffer = b""

    def rows_until(self, done: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.buffer.split(b"\n"):
                if line.startswith(b"data: "):
                    message = json.loads(line[6:])
                    rows += message.get("rows", [])
            self.buffer = self.buffer[self.buffer.rfind(b"\n") + 1:] if b"\n" in self.buffer else self.buffer
            if done(rows):
                return rows
            self.buffer += self.sock.recv(65536)
        raise AssertionError(f"the stream did not show it: {rows}")

    def close(self) -> None:
        self.sock.close()


def test_the_page_and_its_assets_are_served_with_a_strict_policy(inspected_gateway: RunningGateway) -> None:
    status, headers, body = request(inspected_gateway, "GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"inspector.js" in body and b"http" not in body.replace(b"http-equiv", b"")  # nothing fetched elsewhere
    assert "default-src 'self'" in headers["content-security-policy"]
    for asset, kind in (("/inspector.js", "text/javascript"), ("/inspector.css", "text/css")):
        status, headers, body = request(inspected_gateway, "GET", asset)
        assert status == 200 and headers["content-type"].startswith(kind) and body
    status, headers, _ = request(inspected_gateway, "GET", "?token=x")
    assert status == 301 and headers["location"] == PREFIX + "/?token=x"
    assert request(inspected_gateway, "GET", "/nothing")[0] == 404


def test_the_stream_shows_a_conversation_and_the_detail_its_event(inspected_gateway: RunningGateway) -> None:
    status, state = api(inspected_gateway, "GET", "state")
    assert status == 200 and state["stage"] == inspected_gateway.local.model.stage
    stream = EventStream(inspected_gateway, state["next"])
    try:
        with connect(inspected_gateway.ws_url) as alice, connect(inspected_gateway.ws_url) as bob:
            alice.send('{"action": "whoAmI"}')
            alice_id = str(alice.recv(timeout=10))
            bob.send(json.dumps({"action": "sendMessage", "connectionId": alice_id, "message": "hi"}))
            assert alice.recv(timeout=10) == "hi"

            def seen(rows: list[dict[str, Any]]) -> bool:
                kinds = {(row["kind"], row.get("route")) for row in rows}
                return {("in", "whoAmI"), ("invoke", "whoAmI"), ("out", None), ("post", None),
                        ("invoke", "sendMessage")} <= kinds
            rows = stream.rows_until(seen)
    finally:
        stream.close()
    frame = next(row for row in rows if row["kind"] == "in" and row["route"] == "whoAmI")
    assert frame["cid"] == alice_id and frame["selection"] == "whoAmI" and frame["size"] == 20
    reply = next(row for row in rows if row["kind"] == "out" and row["requestId"] == frame["requestId"])
    assert reply["text"] == alice_id and reply["cause"] == "reply"
    status, detail = api(inspected_gateway, "GET", "invocations/" + frame["requestId"])
    assert status == 200 and detail["event"]["body"] == '{"action": "whoAmI"}'
    assert detail["result"]["body"] == alice_id
    assert detail["logs"][0].startswith("START RequestId: " + frame["requestId"])
    assert detail["logs"][-1].startswith("REPORT RequestId: " + frame["requestId"])


def test_a_reconnecting_page_resumes_after_its_last_event(inspected_gateway: RunningGateway) -> None:
    _, state = api(inspected_gateway, "GET", "state")
    with connect(inspected_gateway.ws_url) as client:
        client.send('{"action": "whoAmI"}')
        client.recv(timeout=10)
    # Names the record before last as the last one it got: only what followed comes.
    next_seq = state["next"]
    stream = EventStream(inspected_gateway, 0, last_event_id=next_seq - 1)
    try:
        rows = stream.rows_until(lambda rows: any(row["kind"] == "in" for row in rows))
    finally:
        stream.close()
    assert min(row["seq"] for row in rows) >= next_seq


def test_replay_post_and_disconnect_from_the_api(inspected_gateway: RunningGateway) -> None:
    with connect(inspected_gateway.ws_url) as client:
        client.send('{"action": "whoAmI"}')
        connection_id = str(client.recv(timeout=10))
        _, state = api(inspected_gateway, "GET", "state")
        original = next(row for row in reversed(state["rows"]) if row["kind"] == "invoke" and row["route"] == "whoAmI")
        status, replayed = api(inspected_gateway, "POST", "replay", {"requestId": original["requestId"]})
        assert status == 200 and replayed["status"] == "ok" and replayed["result"]["body"] == connection_id
        assert replayed["requestId"] != original["requestId"]
        _, detail = api(inspected_gateway, "GET", "invocations/" + original["requestId"])
        edited = {**detail["event"], "requestContext": {**detail["event"]["requestContext"], "connectionId": "EDITED"}}
        status, replayed = api(inspected_gateway, "POST", "replay", {"requestId": original["requestId"], "event": edited})
        assert status == 200 and replayed["result"]["body"] == "EDITED"
        status, posted = api(inspected_gateway, "POST", "connections/" + connection_id, b"from the page")
        assert (status, posted["status"]) == (200, 200)
        assert client.recv(timeout=10) == "from the page"
        status, deleted = api(inspected_gateway, "DELETE", "connections/" + connection_id)
        assert (status, deleted["status"]) == (200, 204)
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=10)
        assert client.close_code == 1000
    status, gone = api(inspected_gateway, "POST", "connections/" + connection_id, b"late")
    assert (status, gone["status"]) == (200, 410)
    assert is_aws_id(connection_id)


def test_safety_rules(inspected_gateway: RunningGateway) -> None:
    # DNS rebinding: a page of another site reaching 127.0.0.1 carries its own Host.
    status, _, _ = request(inspected_gateway, "GET", "/api/state", headers={"Host": "evil.example"})
    assert status == 403
    # Changing something needs the custom header, and a same-origin Origin.
    assert request(inspected_gateway, "POST", "/api/replay", b"{}")[0] == 403
    assert request(inspected_gateway, "POST", "/api/replay", b"{}",
                   {**ACT, "Origin": "http://evil.example"})[0] == 403
    assert api(inspected_gateway, "POST", "replay", {"nothing": 1})[0] == 400
    assert api(inspected_gateway, "POST", "replay", {"requestId": "unknown"})[0] == 404


class SlowStream:
    """A page whose socket stopped taking bytes."""

    def __init__(self, backlog: int) -> None:
        self.written: list[bytes] = []
        self.pending = backlog
        self.closed = False

    def backlog(self) -> int:
        return self.pending

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def end(self) -> None:
        self.closed = True


def test_a_slow_page_is_skipped_then_told_what_it_missed() -> None:
    ring = Ring(10)
    inspector = Inspector(ring, InspectorOptions())
    views = Views(ring, select=lambda text: None, functions=dict, region="r", account_id="a")
    stream = SlowStream(backlog=MAX_BACKLOG + 1)
    inspector._pages.append(_Page(stream, 0, 0.0))
    for n in range(25):
        ring.append(LogLine(float(n), "F", f"line {n}"))
    inspector.push(views)
    assert stream.written == []  # skipped: the gateway never waits for it
    stream.pending = 0
    inspector.push(views)
    (data,) = stream.written
    assert b'"type": "missed", "count": 15' in data  # 25 recorded, the ring keeps 10
    inspector.push(views)
    assert len(stream.written) == 1  # nothing new
    stream.closed = True
    inspector.push(views)
    assert inspector.pages == 0


def _tiny_app(tmp_path: Path) -> Path:
    app = tmp_path / "wsgw.json"
    app.write_text(json.dumps({
        "name": "tiny", "stage": "dev", "routeSelectionExpression": "$request.body.action",
        "functions": {"Echo": {"handler": "probe.echo", "codeUri": str(ROOT / "tests" / "apps" / "probe")}},
        "routes": {"$default": {"function": "Echo", "twoWay": True}},
    }))
    return app


def test_run_local_makes_a_token_only_beyond_loopback() -> None:
    assert InspectorOptions.for_host("127.0.0.1").token is None
    assert InspectorOptions.for_host("localhost", 500) == InspectorOptions(500, None)
    first, second = InspectorOptions.for_host("0.0.0.0"), InspectorOptions.for_host("0.0.0.0")
    assert first.token and second.token and first.token != second.token


def test_with_a_token_every_call_needs_it(tmp_path: Path, tls_dir: Path) -> None:
    running = start_gateway(_tiny_app(tmp_path), tls_dir, inspector=InspectorOptions(token="s3cret"))
    try:
        assert running.local.inspector_url is not None and running.local.inspector_url.endswith("/?token=s3cret")
        assert request(running, "GET", "/api/state")[0] == 401
        assert request(running, "GET", "/api/state?token=wrong")[0] == 401
        assert request(running, "GET", "/api/state?token=s3cret", headers={"Host": "192.0.2.9:3001"})[0] == 200
        assert request(running, "GET", "/api/state", headers={"X-Wsgw-Token": "s3cret"})[0] == 200
        assert request(running, "GET", "/")[0] == 200  # the page itself holds nothing
    finally:
        running.background.stop()


def test_with_the_inspector_off_its_path_is_just_another_request(tmp_path: Path, tls_dir: Path) -> None:
    running = start_gateway(_tiny_app(tmp_path), tls_dir)
    try:
        assert running.local.inspector_url is None and running.local.recorder is None
        status, _, _ = request(running, "GET", "/")
        assert status == 403  # the management API's answer to a path that is not its own
    finally:
        running.background.stop()


def test_by_default_it_records_only_while_a_page_is_open(tmp_path: Path, tls_dir: Path) -> None:
    running = start_gateway(_tiny_app(tmp_path), tls_dir, inspector=InspectorOptions())
    try:
        with connect(running.ws_url) as client:
            client.send("unwatched")
            assert client.recv(timeout=10)
            _, state = api(running, "GET", "state")
            assert not any("unwatched" in json.dumps(row) for row in state["rows"])  # no page: not recorded
            page = EventStream(running, 0)
            try:
                wait_until(lambda: running.local.recorder is not None and running.local.recorder.recording)
                client.send("watched")
                assert client.recv(timeout=10)
                rows = page.rows_until(lambda rows: any("watched" in json.dumps(row) for row in rows))
                assert not any("unwatched" in json.dumps(row) for row in rows)
            finally:
                page.close()
    finally:
        running.background.stop()


def _mock_template(tmp_path: Path) -> Path:
    api_ref = {"Ref": "Api"}
    template = {"Resources": {
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
            "Name": "mocked", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}},
        "Route": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "ApiId": api_ref, "RouteKey": "$default", "Target": "integrations/Mock",
            "RouteResponseSelectionExpression": "$default"}},
        "Mock": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "ApiId": api_ref, "IntegrationType": "MOCK", "RequestTemplates": {"$default": '{"statusCode": 200}'},
            "TemplateSelectionExpression": "\\$default"}},
        "MockOk": {"Type": "AWS::ApiGatewayV2::IntegrationResponse", "Properties": {
            "ApiId": api_ref, "IntegrationId": {"Ref": "Mock"}, "IntegrationResponseKey": "$default",
            "ResponseTemplates": {"$default": '{"mocked": "$context.requestId"}'}}},
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"ApiId": api_ref, "StageName": "dev"}},
    }}
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    return path


def test_a_mock_invocation_has_no_lambda_context_and_replays_as_a_mock(tmp_path: Path, tls_dir: Path) -> None:
    running = start_gateway(_mock_template(tmp_path), tls_dir, inspector=InspectorOptions(record_always=True))
    try:
        with connect(running.ws_url) as client:
            client.send("hello")
            first = json.loads(client.recv(timeout=10))
        _, state = api(running, "GET", "state")
        original = next(row for row in state["rows"] if row["kind"] == "invoke")
        _, detail = api(running, "GET", "invocations/" + original["requestId"])
        assert detail["context"] is None and detail["function"] == "MOCK"
        status, replayed = api(running, "POST", "replay", {"requestId": original["requestId"]})
        assert status == 200 and replayed["status"] == "ok", replayed
        # The same event through the same MOCK: the same answer ($context is the event's).
        assert json.loads(replayed["result"]["body"]) == first and replayed["requestId"] != original["requestId"]
    finally:
        running.background.stop()
