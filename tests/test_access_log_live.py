"""The stage's access log, live: a template with ``AccessLogSettings`` served by a real
``run-local``, real clients; one line per ``$connect``, message and ``$disconnect``,
in the text output (after ``[access]``) and in ``--log-format json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from conftest import DEADLINE_S, RunLocalProcess, wait_until
from emulator.core.activity import AccessLine, FrameIn, FrameOut, Invocation
from emulator.template.loader import load_model
from emulator.testing.gateway_pool import RunningGateway

FORMAT = ("$context.requestId $context.connectionId $context.eventType $context.routeKey $context.status "
          "$context.identity.sourceIp $context.error.messageString $context.httpMethod")
HANDLERS = '''
def connect(event, context):
    return {"statusCode": 200}


def echo(event, context):
    return {"statusCode": 200, "body": event["body"]}


def bye(event, context):
    return None
'''


def _function(handler: str) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function",
            "Properties": {"Code": "src", "Handler": f"handlers.{handler}", "Runtime": "python3.12"}}


def _route(key: str, function: str) -> dict[str, dict[str, Any]]:
    name = function.removesuffix("Function")
    return {
        f"{name}Route": {"Type": "AWS::ApiGatewayV2::Route",
                         "Properties": {"ApiId": {"Ref": "Api"}, "RouteKey": key,
                                        "Target": {"Fn::Sub": f"integrations/${{{name}Integ}}"},
                                        # echo is two-way: its result is the reply
                                        **({"RouteResponseSelectionExpression": "$default"} if key == "echo" else {})}},
        f"{name}Integ": {"Type": "AWS::ApiGatewayV2::Integration",
                         "Properties": {"ApiId": {"Ref": "Api"}, "IntegrationType": "AWS_PROXY",
                                        "IntegrationUri": {"Fn::GetAtt": [function, "Arn"]}}},
    }


def _app(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "handlers.py").write_text(HANDLERS)
    resources: dict[str, Any] = {
        "Api": {"Type": "AWS::ApiGatewayV2::Api",
                "Properties": {"Name": "logged", "ProtocolType": "WEBSOCKET",
                               "RouteSelectionExpression": "$request.body.action"}},
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage",
                  "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "live", "AutoDeploy": True,
                                 "AccessLogSettings": {
                                     "DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:ws-access",
                                     "Format": FORMAT}}},
        "ConnectFunction": _function("connect"), "EchoFunction": _function("echo"), "ByeFunction": _function("bye"),
        **_route("$connect", "ConnectFunction"), **_route("echo", "EchoFunction"),
        **_route("$disconnect", "ByeFunction"),
        # A MOCK route: recorded like the Lambda ones (issue 17 item 7).
        "MockRoute": {"Type": "AWS::ApiGatewayV2::Route",
                      "Properties": {"ApiId": {"Ref": "Api"}, "RouteKey": "mock", "Target": "integrations/MockInteg"}},
        "MockInteg": {"Type": "AWS::ApiGatewayV2::Integration",
                      "Properties": {"ApiId": {"Ref": "Api"}, "IntegrationType": "MOCK",
                                     "RequestTemplates": {"$default": '{"statusCode": 200}'},
                                     "TemplateSelectionExpression": "\\$default"}},
    }
    template = tmp_path / "template.json"
    template.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}))
    return template


def _start(tmp_path: Path, tls_dir: Path, *args: str) -> tuple[RunLocalProcess, str]:
    server = RunLocalProcess("--template", str(_app(tmp_path)), "--port", "0", "--no-reload", "--no-inspector",
                             "--tls-dir", str(tls_dir), *args)
    url = server.wait_for(r"WebSocket URL: (ws://[^\s\"]+)", timeout=DEADLINE_S).group(1)
    server.wait_for("Ready", timeout=DEADLINE_S)
    return server, url


def _json_lines(server: RunLocalProcess) -> list[dict[str, Any]]:
    found = []
    for line in list(server.lines):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def test_one_access_line_per_connect_message_and_disconnect_in_json(tmp_path: Path, tls_dir: Path) -> None:
    server, url = _start(tmp_path, tls_dir, "--log-format", "json")
    try:
        with connect(url, open_timeout=DEADLINE_S) as client:
            client.send(json.dumps({"action": "echo", "n": 1}))
            assert json.loads(client.recv(timeout=DEADLINE_S)) == {"action": "echo", "n": 1}
            client.send(json.dumps({"action": "nothing"}))  # no such route, no $default: Forbidden
            forbidden = json.loads(client.recv(timeout=DEADLINE_S))
        wait_until(lambda: len([r for r in _json_lines(server) if r.get("type") == "access"]) == 4)
        records = _json_lines(server)
        invocations = {r["route"]: r for r in records if r.get("type") == "invocation"}
        connection_id = invocations["$connect"]["connectionId"]
        access = [r for r in records if r.get("type") == "access"]
        assert [(r["route"], r["connectionId"]) for r in access] == [
            ("$connect", connection_id), ("echo", connection_id), ("-", connection_id),
            ("$disconnect", connection_id)]
        assert {r["destination"] for r in access} == {"arn:aws:logs:us-east-1:123456789012:log-group:ws-access"}
        lines = [r["line"] for r in access]
        assert lines == [
            f"{invocations['$connect']['requestId']} {connection_id} CONNECT $connect 200 127.0.0.1 - -",
            f"{invocations['echo']['requestId']} {connection_id} MESSAGE echo 200 127.0.0.1 - -",
            f'{forbidden["requestId"]} {connection_id} MESSAGE - 403 127.0.0.1 "Forbidden" -',
            f"{invocations['$disconnect']['requestId']} {connection_id} DISCONNECT $disconnect 200 127.0.0.1 - -",
        ]
        # The traffic is in the same stream: the frames in and out, the connect, the close.
        kinds = [r["type"] for r in records if r.get("connectionId") == connection_id]
        assert {"opened", "connected", "received", "sent", "closed"} <= set(kinds)
    finally:
        server.close()


def test_access_lines_are_marked_in_the_text_output(tmp_path: Path, tls_dir: Path) -> None:
    server, url = _start(tmp_path, tls_dir)
    try:
        server.wait_for(r"^  Access log:    .*\(arn:aws:logs:us-east-1:123456789012:log-group:ws-access\)$")
        with connect(url, open_timeout=DEADLINE_S) as client:
            client.send(json.dumps({"action": "echo"}))
            client.recv(timeout=DEADLINE_S)
        connect_line = server.wait_for(r"^\[access\] (\S+) (\S+) CONNECT \$connect 200 127\.0\.0\.1 - -$")
        connection_id = connect_line.group(2)
        server.wait_for(rf"^\[access\] \S+ {connection_id} MESSAGE echo 200 127\.0\.0\.1 - -$")
        server.wait_for(rf"^\[access\] \S+ {connection_id} DISCONNECT \$disconnect 200 127\.0\.0\.1 - -$")
        server.wait_for(rf"  {connection_id}  \$connect  \S+  ok  ")  # the invocation lines as before
    finally:
        server.close()


def test_the_pytest_plugin_sees_the_same_records(tmp_path: Path, tls_dir: Path) -> None:
    """``wsgw_invocations`` (the plugin's InvocationLog, subscribed to the gateway's
    stream): the access lines, the frames and the invocations, from one stream."""
    running = RunningGateway(load_model(_app(tmp_path)), tls_dir)
    running.background.start()
    try:
        view = running.log.view()
        with connect(running.local.ws_url, open_timeout=DEADLINE_S) as client:
            client.send(json.dumps({"action": "echo"}))
            assert client.recv(timeout=DEADLINE_S) == '{"action": "echo"}'
            client.send(json.dumps({"action": "mock"}))
            mock = view.wait_for(route_key="mock", timeout=DEADLINE_S)
        wait_until(lambda: len(view.access_log()) == 4)
        assert (mock.integration_type, mock.target, mock.integration_status, mock.status) == (
            "MOCK", "MOCK", 200, "succeeded")
        assert view.access_log()[2] == f"{mock.request_id} {mock.connection_id} MESSAGE mock 200 127.0.0.1 - -"
        echo = view.wait_for(route_key="echo")
        assert (echo.integration_type, echo.target, echo.integration_status) == ("AWS_PROXY", "EchoFunction", 200)
        assert view.access_log()[1] == (
            f"{echo.request_id} {echo.connection_id} MESSAGE echo 200 127.0.0.1 - -")
        frames = view.records(FrameIn, FrameOut)
        assert [(type(r).__name__, r.text) for r in frames] == [
            ("FrameIn", '{"action": "echo"}'), ("FrameOut", '{"action": "echo"}'),
            ("FrameIn", '{"action": "mock"}')]  # a one-way MOCK route: nothing goes back
        assert [r.invoke.route_key for r in view.records(Invocation)] == ["$connect", "echo", "mock", "$disconnect"]
        assert all(isinstance(r, AccessLine) for r in view.records(AccessLine))
    finally:
        running.stop()
