"""Request validation and route throttling served end to end: a template with
``AWS::ApiGatewayV2::Model`` resources, routes with ``RequestModels`` and a stage with
``RouteSettings``; real WebSocket clients, a real worker running the handler, an HTTP
backend this test starts on 127.0.0.1, and ``wsgw run-local`` itself for
``--no-throttle`` and a throttled ``$connect``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from conftest import DEADLINE_S, FunctionLog, RunLocalProcess, RunningGateway, wait_until
from emulator.app import GatewayOptions, GatewayThread, LocalGateway
from emulator.core.clock import ManualClock
from emulator.core.invocation import Invoke, Outcome
from emulator.template.loader import load_model

API = {"Ref": "Api"}
HANDLER = '''
def handler(event, context):
    body = event.get("body") or ""
    print("handled " + body)
    return {"statusCode": 200, "body": "echo " + body}
'''
ORDER = {"type": "object", "required": ["items"],
         "properties": {"items": {"type": "array", "minItems": 1, "items": {"type": "string"}}}}
USER = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}


class Backend:
    """An HTTP server on 127.0.0.1 that records each request body and echoes it."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                backend.bodies.append(body)
                answer = ("backend " + body).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _route(key: str, integration: str = "Lambda", **props: Any) -> dict[str, Any]:
    return {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
        "ApiId": API, "RouteKey": key, "Target": f"integrations/{integration}",
        "RouteResponseSelectionExpression": "$default", **props}}


def _model(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "AWS::ApiGatewayV2::Model", "Properties": {
        "ApiId": API, "Name": name, "ContentType": "application/json", "Schema": schema}}


def template(backend_port: int, route_settings: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": {
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "echo", "Code": "src", "Handler": "h.handler", "Runtime": "python3.11"}},
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
            "Name": "checked", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}},
        "Lambda": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "ApiId": API, "IntegrationType": "AWS_PROXY", "IntegrationUri": {"Fn::GetAtt": ["Fn", "Arn"]}}},
        "Backend": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "ApiId": API, "IntegrationType": "HTTP_PROXY", "IntegrationMethod": "POST",
            "IntegrationUri": f"http://127.0.0.1:{backend_port}/"}},
        "OrderModel": _model("Order", ORDER),
        "UserModel": _model("User", USER),
        "ConnectRoute": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "ApiId": API, "RouteKey": "$connect", "Target": "integrations/Lambda"}},
        "DefaultRoute": _route("$default"),
        # A Lambda proxy route whose model depends on the message's "kind".
        "CreateRoute": _route("create", ModelSelectionExpression="$request.body.kind",
                              RequestModels={"order": "Order", "user": "User"}),
        # An HTTP_PROXY route with one model for every message.
        "ForwardRoute": _route("forward", "Backend", RequestModels={"$default": "Order"}),
        "LimitedRoute": _route("limited"),
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
            "ApiId": API, "StageName": "dev", "RouteSettings": route_settings}},
    }}


def write_app(folder: Path, backend_port: int, route_settings: dict[str, Any]) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "h.py").write_text(HANDLER)
    path = folder / "template.json"
    path.write_text(json.dumps(template(backend_port, route_settings)))
    return path


class Gateway(RunningGateway):
    """The gateway under test, on a clock the test moves, with every invocation heard."""

    def __init__(self, app: Path, tls_dir: Path) -> None:
        self.clock = ManualClock()
        self.invoked: list[Invoke] = []
        log = FunctionLog()
        local = LocalGateway(load_model(app), GatewayOptions(port=0, tls_dir=tls_dir), function_log=log,
                             clock=self.clock, observer=self._heard)
        background = GatewayThread(local)
        background.start()
        super().__init__(background, log)

    def _heard(self, invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        self.invoked.append(invoke)

    def bodies(self, route_key: str) -> list[str]:
        return [str(invoke.event.get("body")) for invoke in list(self.invoked) if invoke.route_key == route_key]


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    server = Backend()
    yield server
    server.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, tls_dir: Path, backend: Backend) -> Iterator[Gateway]:
    app = write_app(tmp_path_factory.mktemp("admission"), backend.port,
                    {"limited": {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 1}})
    running = Gateway(app, tls_dir)
    yield running
    running.background.stop()


def _frames(client: ClientConnection, count: int) -> list[str]:
    return [str(client.recv(timeout=DEADLINE_S)) for _ in range(count)]


def test_an_invalid_message_gets_bad_request_body_and_the_handler_never_runs(gateway: Gateway) -> None:
    invalid = json.dumps({"action": "create", "kind": "order", "items": []})  # minItems 1
    valid = json.dumps({"action": "create", "kind": "order", "items": ["pen"]})
    with connect(gateway.ws_url) as client:
        client.send(invalid)
        frame = json.loads(client.recv(timeout=DEADLINE_S))
        assert frame["message"] == "Bad request body"
        assert set(frame) == {"message", "connectionId", "messageId"}
        client.send(valid)  # the connection stays open and serves the next message
        assert client.recv(timeout=DEADLINE_S) == "echo " + valid
    gateway.log.wait_for(lambda function, line: line == "handled " + valid)
    assert gateway.bodies("create") == [valid]  # the invalid one was never an invocation
    assert not any(line == "handled " + invalid for _, line in gateway.log.snapshot())


def test_the_model_is_chosen_by_request_body_kind(gateway: Gateway) -> None:
    user = json.dumps({"action": "create", "kind": "user", "name": "ann"})
    user_as_order = json.dumps({"action": "create", "kind": "order", "name": "ann"})
    unknown_kind = json.dumps({"action": "create", "kind": "refund", "name": "ann"})  # no $default model
    with connect(gateway.ws_url) as client:
        for message in (user_as_order, unknown_kind):
            client.send(message)
            assert json.loads(client.recv(timeout=DEADLINE_S))["message"] == "Bad request body"
        client.send(user)
        assert client.recv(timeout=DEADLINE_S) == "echo " + user
    assert user in gateway.bodies("create")
    assert user_as_order not in gateway.bodies("create") and unknown_kind not in gateway.bodies("create")


def test_an_http_proxy_route_is_validated_before_the_backend_is_called(gateway: Gateway, backend: Backend) -> None:
    invalid = json.dumps({"action": "forward", "items": "pen"})
    valid = json.dumps({"action": "forward", "items": ["pen"]})
    with connect(gateway.ws_url) as client:
        client.send(invalid)
        assert json.loads(client.recv(timeout=DEADLINE_S))["message"] == "Bad request body"
        client.send("not json at all")  # routed to $default, which has no model
        assert client.recv(timeout=DEADLINE_S) == "echo not json at all"
        client.send(valid)
        assert client.recv(timeout=DEADLINE_S) == "backend " + valid
    assert backend.bodies == [valid]


def test_a_burst_of_two_throttles_the_third_message_until_the_clock_moves(gateway: Gateway) -> None:
    ping = json.dumps({"action": "limited"})
    with connect(gateway.ws_url) as client:
        for _ in range(3):
            client.send(ping)
        frames = _frames(client, 3)  # the refusal may overtake the two replies
        assert sorted(frames)[:2] == ["echo " + ping, "echo " + ping]
        throttled = json.loads(sorted(frames)[2])
        assert throttled["message"] == "Too Many Requests"
        assert set(throttled) == {"message", "connectionId", "requestId"}
        client.send(json.dumps({"action": "unlimited"}))  # $default: no limits
        assert client.recv(timeout=DEADLINE_S).startswith("echo ")
        client.send(ping)
        assert json.loads(client.recv(timeout=DEADLINE_S))["message"] == "Too Many Requests"
        gateway.clock.advance(1_000)  # rate 1/s: one token back
        client.send(ping)
        assert client.recv(timeout=DEADLINE_S) == "echo " + ping
    wait_until(lambda: len(gateway.bodies("limited")) == 3)
    assert len(gateway.bodies("limited")) == 3  # two of the burst, one after the refill


# -- run-local: a throttled $connect, and --no-throttle -----------------------------------------


@pytest.fixture(scope="module")
def strict_app(tmp_path_factory: pytest.TempPathFactory, backend: Backend) -> Path:
    # Rate 0: a spent token never comes back, so the outcome does not depend on time.
    return write_app(tmp_path_factory.mktemp("strict"), backend.port, {
        "$connect": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0},
        "limited": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0},
    })


def _serve(app: Path, tls_dir: Path, *flags: str) -> tuple[RunLocalProcess, str]:
    server = RunLocalProcess("--template", str(app), "--port", "0", "--no-reload", "--no-inspector",
                             "--tls-dir", str(tls_dir), *flags)
    url = server.wait_for(r"WebSocket URL: (ws://\S+)", timeout=DEADLINE_S).group(1)
    server.wait_for("Ready", timeout=DEADLINE_S)
    return server, url


def test_run_local_refuses_a_throttled_connect_with_429(strict_app: Path, tls_dir: Path) -> None:
    server, url = _serve(strict_app, tls_dir)
    try:
        with connect(url, open_timeout=DEADLINE_S) as client:
            ping = json.dumps({"action": "limited"})
            client.send(ping)
            client.send(ping)
            frames = sorted(_frames(client, 2))
            assert frames[0] == "echo " + ping and json.loads(frames[1])["message"] == "Too Many Requests"
            # run-local says which route refused it and why
            server.wait_for(r"\s+limited\s+refused 429\s+route limited throttled \(burst 1, rate 0/s\)",
                            timeout=DEADLINE_S)
            with pytest.raises(InvalidStatus) as refused:
                connect(url, open_timeout=DEADLINE_S)
            assert refused.value.response.status_code == 429
            assert json.loads(refused.value.response.body or b"") == {"message": "Too Many Requests"}
    finally:
        assert server.close() == 0


def test_no_throttle_switches_route_settings_off(strict_app: Path, tls_dir: Path) -> None:
    server, url = _serve(strict_app, tls_dir, "--no-throttle")
    try:
        ping = json.dumps({"action": "limited"})
        for _ in range(3):  # three connections through a $connect whose burst is 1
            with connect(url, open_timeout=DEADLINE_S) as client:
                for _ in range(3):
                    client.send(ping)
                assert _frames(client, 3) == ["echo " + ping] * 3
                client.send(json.dumps({"action": "create", "kind": "user"}))  # validation stays on
                assert json.loads(client.recv(timeout=DEADLINE_S))["message"] == "Bad request body"
        server.wait_for(r"\s+create\s+refused 400\s+\S", timeout=DEADLINE_S)
    finally:
        assert server.close() == 0


def test_run_local_names_a_malformed_model(tmp_path: Path, backend: Backend) -> None:
    app = write_app(tmp_path, backend.port, {})
    broken = json.loads(app.read_text())
    broken["Resources"]["UserModel"]["Properties"]["Schema"] = {"type": "person"}
    app.write_text(json.dumps(broken))
    server = RunLocalProcess("--template", str(app), "--port", "0", "--no-reload")
    try:
        server.wait_for(r"Resources\.UserModel\.Properties\.Schema: not a valid JSON Schema \(draft 4\)",
                        timeout=DEADLINE_S)
        assert server.process.wait(DEADLINE_S) != 0
    finally:
        server.close()
