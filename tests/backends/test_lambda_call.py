"""Lambda custom (``AWS``, non-proxy) integrations and Lambda integration URIs that
name the function through a stage variable, served end to end: a template with
real worker processes, real WebSocket clients, and the records the gateway keeps."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator

import pytest
from websockets.sync.client import connect

from conftest import FunctionLog, RunningGateway
from emulator.app import GatewayOptions, GatewayThread, LocalGateway
from emulator.core.errors import ConfigError
from emulator.core.invocation import Invoke, Outcome
from emulator.template.loader import load_model

API = {"Ref": "Api"}
HANDLERS = '''
import json
import os


def echo(event, context):
    print("echo got", json.dumps(event))
    return {"got": event, "greeting": os.environ["GREETING"], "requestId": context.aws_request_id}


def fails(event, context):
    raise ValueError("bad input: " + json.dumps(event))


def slow(event, context):
    import time
    time.sleep(0.5)
    print("slow done", event["n"])
    return {"late": True}


def proxy_a(event, context):
    return {"statusCode": 200, "body": json.dumps({"fn": "proxy-a", "route": event["requestContext"]["routeKey"]})}


def proxy_b(event, context):
    return {"statusCode": 200, "body": json.dumps({"fn": "proxy-b", "route": event["requestContext"]["routeKey"]})}
'''
# CDK's form of the invocation URI (Fn::Join) and SAM's (Fn::Sub).
ECHO_URI_JOIN = {"Fn::Join": ["", [
    "arn:", {"Ref": "AWS::Partition"}, ":apigateway:", {"Ref": "AWS::Region"}, ":lambda:path/2015-03-31/functions/",
    {"Fn::GetAtt": ["Echo", "Arn"]}, "/invocations"]]}


def _uri(function_arn: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/{function_arn}/invocations"}


def _function(handler: str, **env: str) -> dict[str, Any]:
    props: dict[str, Any] = {"Code": "src", "Handler": f"app.{handler}", "Runtime": "python3.12", "Timeout": 10}
    if env:
        props["Environment"] = {"Variables": env}
    return {"Type": "AWS::Lambda::Function", "Properties": props}


def _route(key: str, integration: str, *, two_way: bool = True) -> dict[str, Any]:
    props: dict[str, Any] = {"ApiId": API, "RouteKey": key, "Target": f"integrations/{integration}"}
    if two_way:
        props["RouteResponseSelectionExpression"] = "$default"
    return {"Type": "AWS::ApiGatewayV2::Route", "Properties": props}


def _integration(kind: str, uri: Any, **props: Any) -> dict[str, Any]:
    return {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
        "ApiId": API, "IntegrationType": kind, "IntegrationUri": uri, **props}}


def _response(integration: str, key: str, templates: dict[str, str] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"ApiId": API, "IntegrationId": {"Ref": integration}, "IntegrationResponseKey": key}
    if templates is not None:
        props["ResponseTemplates"] = templates
    return {"Type": "AWS::ApiGatewayV2::IntegrationResponse", "Properties": props}


def template() -> dict[str, Any]:
    return {"Resources": {
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
            "Name": "custom", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}},
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
            "ApiId": API, "StageName": "dev", "StageVariables": {"fn": "ProxyA", "alias": "live"}}},
        "Echo": _function("echo", GREETING="hello"),
        "Fails": _function("fails"),
        "ProxyA": _function("proxy_a"),
        "ProxyB": _function("proxy_b"),
        "Slow": _function("slow"),
        # A Lambda custom $connect whose handler raises: Lambda answers 200 with the
        # error payload, so the handshake is accepted [?] (core/lambda_custom.py).
        "ConnectRoute": _route("$connect", "ConnectFails", two_way=False),
        "ConnectFails": _integration("AWS", _uri("${Fails.Arn}"), IntegrationMethod="POST"),
        "ConnectOk": _response("ConnectFails", "$default"),
        # The request template's output is the event; a $default response without
        # templates sends the whole return value as JSON text (reference §1.1).
        "CustomRoute": _route("custom", "Custom"),
        "Custom": _integration("AWS", _uri("${Echo.Arn}"), IntegrationMethod="POST",
                               TemplateSelectionExpression="\\$default", RequestTemplates={
                                   "$default": "{\"text\": $input.json('$.text'), \"cid\": \"$context.connectionId\"}"}),
        "CustomOk": _response("Custom", "$default"),
        # No template: the frame passes through (WHEN_NO_MATCH) and is the event.
        "PassRoute": _route("pass", "Pass"),
        "Pass": _integration("AWS", ECHO_URI_JOIN, IntegrationMethod="POST"),
        "PassOk": _response("Pass", "$default", {"$default": "{\"n\": $input.json('$.got.n'), \"hi\": \"$input.path('$.greeting')\"}"}),
        # A function error: integration responses selected by errorMessage (§3.1).
        "FailsRoute": _route("fails", "FailsInt"),
        "FailsInt": _integration("AWS", _uri("${Fails.Arn}"), IntegrationMethod="POST"),
        "FailsBad": _response("FailsInt", "/bad input.*/", {
            "$default": "{\"error\": $input.json('$.errorMessage'), \"type\": \"$input.path('$.errorType')\"}"}),
        "FailsOk": _response("FailsInt", "$default", {"$default": "{\"ok\": true}"}),
        "RawFailsRoute": _route("rawfails", "RawFails"),
        "RawFails": _integration("AWS", _uri("${Fails.Arn}"), IntegrationMethod="POST"),
        "RawFailsOk": _response("RawFails", "$default"),
        # Non-JSON frames reach $default, passed through: Lambda cannot take them.
        "DefaultRoute": _route("$default", "NotJson"),
        "NotJson": _integration("AWS", _uri("${Echo.Arn}"), IntegrationMethod="POST"),
        "NotJsonOk": _response("NotJson", "$default"),
        # Past TimeoutInMillis the client is answered; the function runs on.
        "SlowRoute": _route("slow", "SlowInt"),
        "SlowInt": _integration("AWS", _uri("${Slow.Arn}"), IntegrationMethod="POST", TimeoutInMillis=100),
        "SlowOk": _response("SlowInt", "$default"),
        # AWS_PROXY URIs with stage variables: the function's name, an alias qualifier.
        "PickRoute": _route("pick", "Pick"),
        "Pick": _integration("AWS_PROXY", _uri(
            "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${!stageVariables.fn}")),
        "AliasRoute": _route("alias", "Alias"),
        "Alias": _integration("AWS_PROXY", _uri("${ProxyA.Arn}:${!stageVariables.alias}")),
    }}


def write_app(folder: Path, document: dict[str, Any]) -> Path:
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "app.py").write_text(HANDLERS)
    path = folder / "template.json"
    path.write_text(json.dumps(document))
    return path


class Records:
    """What the gateway's observer heard: (invoke, outcome) per invocation."""

    def __init__(self) -> None:
        self.seen: list[tuple[Invoke, Outcome]] = []

    def __call__(self, invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        self.seen.append((invoke, outcome))


@pytest.fixture(scope="module")
def records() -> Records:
    return Records()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, tls_dir: Path, records: Records) -> Iterator[RunningGateway]:
    path = write_app(tmp_path_factory.mktemp("lambda-custom"), template())
    log = FunctionLog()
    # --stage-variable fn=ProxyB overrides the template's fn=ProxyA.
    local = LocalGateway(load_model(path), GatewayOptions(port=0, tls_dir=tls_dir, stage_variables={"fn": "ProxyB"}),
                         function_log=log, observer=records)
    background = GatewayThread(local)
    background.start()
    yield RunningGateway(background, log)
    background.stop()


def test_the_template_is_read_as_lambda_custom_integrations(gateway: RunningGateway) -> None:
    routes = gateway.local.model.routes
    assert routes["custom"].integration is not None and routes["custom"].integration.function == "Echo"
    assert routes["custom"].function == "Echo" and routes["pass"].function == "Echo"
    assert routes["fails"].integration is not None and routes["fails"].integration.type == "AWS"
    # The stage-variable proxy is bound with the override; the alias runs ProxyA.
    assert routes["pick"].function == "ProxyB" and routes["pick"].integration is None
    assert routes["alias"].function == "ProxyA"


def test_request_template_output_is_the_event_and_the_return_value_the_reply(
        gateway: RunningGateway, records: Records, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="wsgw.server"), connect(gateway.ws_url, open_timeout=20) as client:
        client.send(json.dumps({"action": "custom", "text": "hi there"}))
        reply = json.loads(client.recv(timeout=20))
    event = reply["got"]
    assert event["text"] == "hi there" and event["cid"] and event["cid"] != "$context.connectionId"
    assert reply["greeting"] == "hello"  # the function's own environment
    # Compact JSON text of the whole return value (reference §1.1).
    invoke, _ = next((inv, out) for inv, out in records.seen if inv.route_key == "custom")
    assert invoke.function == "Echo" and invoke.request_id == reply["requestId"]
    # The worker's log lines and the gateway's invocation line name the function.
    gateway.log.wait_for(lambda function, line: function == "Echo" and "echo got" in line and "hi there" in line)
    assert any(f"custom {invoke.request_id} -> Echo ok" in message for message in caplog.messages)


def test_pass_through_frame_is_the_event(gateway: RunningGateway) -> None:
    with connect(gateway.ws_url, open_timeout=20) as client:
        client.send(json.dumps({"action": "pass", "n": [1, 2]}))
        assert json.loads(client.recv(timeout=20)) == {"n": [1, 2], "hi": "hello"}


def test_function_error_selects_the_response_by_error_message(
        gateway: RunningGateway, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="wsgw.server"), connect(gateway.ws_url, open_timeout=20) as client:
        client.send(json.dumps({"action": "fails", "x": 1}))
        reply = json.loads(client.recv(timeout=20))
        client.send(json.dumps({"action": "rawfails"}))
        raw = json.loads(client.recv(timeout=20))
    assert reply["type"] == "ValueError" and reply["error"].startswith("bad input: ")
    assert json.loads(reply["error"][len("bad input: "):]) == {"action": "fails", "x": 1}
    # Only $default, without templates: the error payload itself is the reply.
    assert raw["errorType"] == "ValueError" and raw["errorMessage"].startswith("bad input")
    assert set(raw) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert any("Fails function error (Lambda custom integration): bad input" in m for m in caplog.messages)


def test_connect_with_a_failing_custom_integration_is_accepted(gateway: RunningGateway) -> None:
    # [?] Lambda answers 200 for a function error; the $connect integration succeeds.
    with connect(gateway.ws_url, open_timeout=20) as client:
        client.send(json.dumps({"action": "pass", "n": 0}))
        assert json.loads(client.recv(timeout=20))["n"] == 0


def test_a_payload_that_is_not_json_gives_the_error_frame(gateway: RunningGateway) -> None:
    with connect(gateway.ws_url, open_timeout=20) as client:
        client.send("plain text, not JSON")
        frame = json.loads(client.recv(timeout=20))
    assert frame["message"] == "Internal server error"


def test_stage_variables_choose_the_proxy_function(gateway: RunningGateway) -> None:
    with connect(gateway.ws_url, open_timeout=20) as client:
        client.send(json.dumps({"action": "pick"}))
        picked = json.loads(client.recv(timeout=20))
        client.send(json.dumps({"action": "alias"}))
        aliased = json.loads(client.recv(timeout=20))
    assert picked == {"fn": "proxy-b", "route": "pick"}  # --stage-variable fn=ProxyB
    assert aliased == {"fn": "proxy-a", "route": "alias"}  # :live runs the same function


def test_an_undefined_or_unknown_stage_variable_function_is_a_load_error(tmp_path: Path, tls_dir: Path) -> None:
    path = write_app(tmp_path, template())
    with pytest.raises(ConfigError) as unknown:
        LocalGateway(load_model(path), GatewayOptions(port=0, tls_dir=tls_dir, stage_variables={"fn": "Nope"}))
    assert "Resources.Pick.Properties.IntegrationUri" in str(unknown.value) and "'Nope'" in str(unknown.value)
    document = template()
    del document["Resources"]["Stage"]["Properties"]["StageVariables"]["alias"]
    with pytest.raises(ConfigError) as undefined:
        LocalGateway(load_model(write_app(tmp_path, document)), GatewayOptions(port=0, tls_dir=tls_dir))
    assert "Resources.Alias.Properties.IntegrationUri" in str(undefined.value)
    assert "'alias' is not defined" in str(undefined.value) and "--stage-variable" in str(undefined.value)


def test_a_reload_binds_the_stage_variables_again(gateway: RunningGateway, tmp_path: Path) -> None:
    document = template()
    del document["Resources"]["Stage"]["Properties"]["StageVariables"]["alias"]
    with pytest.raises(ConfigError, match="'alias' is not defined"):
        gateway.background.run(gateway.local.apply_model(load_model(write_app(tmp_path, document))))
    # Refused with the routes unchanged: the alias route still serves.
    assert gateway.local.model.routes["alias"].function == "ProxyA"
    with connect(gateway.ws_url, open_timeout=20) as client:
        client.send(json.dumps({"action": "alias"}))
        assert json.loads(client.recv(timeout=20))["fn"] == "proxy-a"


def test_past_the_integration_timeout_the_client_is_answered_and_the_function_runs_on(
        gateway: RunningGateway) -> None:
    with connect(gateway.ws_url, open_timeout=20) as client:
        client.send(json.dumps({"action": "slow", "n": 42}))
        frame = json.loads(client.recv(timeout=20))
    assert frame["message"] == "Endpoint request timed out"
    # Not killed at the timeout: the handler finishes, as a Lambda does.
    gateway.log.wait_for(lambda function, line: function == "Slow" and "slow done 42" in line)
