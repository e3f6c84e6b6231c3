"""Non-Lambda integrations served end to end: a template with MOCK, HTTP, HTTP_PROXY
and AWS-service routes, real WebSocket clients, HTTP backends this test starts on
127.0.0.1, and boto3 against the embedded moto."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import RunningGateway, start_gateway, wait_until

API = {"Ref": "Api"}
QUEUE = "wsgw-integration-queue"
TABLE = "wsgw-integration-items"


class Backend:
    """A small HTTP server on 127.0.0.1 that records each request and answers
    ``{"backend": name, "body": <request body>}``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[dict[str, Any]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                backend.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                answer = json.dumps({"backend": backend.name, "body": body}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
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


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _route(key: str, integration: str, *, two_way: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {"ApiId": API, "RouteKey": key, "Target": f"integrations/{integration}"}
    if two_way:
        props["RouteResponseSelectionExpression"] = "$default"
    return {"Type": "AWS::ApiGatewayV2::Route", "Properties": props}


def _integration(kind: str, **props: Any) -> dict[str, Any]:
    return {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {"ApiId": API, "IntegrationType": kind, **props}}


def _response(integration: str, key: str, templates: dict[str, str] | None = None, **props: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {"ApiId": API, "IntegrationId": {"Ref": integration}, "IntegrationResponseKey": key}
    if templates is not None:
        properties["ResponseTemplates"] = templates
    return {"Type": "AWS::ApiGatewayV2::IntegrationResponse", "Properties": {**properties, **props}}


def template(backend_port: int, down_port: int) -> dict[str, Any]:
    """The app under test; every integration type of reference apigw-integrations.md §1.1."""
    return {"Resources": {
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
            "Name": "integrations", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}},
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
            "ApiId": API, "StageName": "dev",
            "StageVariables": {"backend": f"127.0.0.1:{backend_port}", "env": "dev-stage"}}},
        "Items": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
        # Created by wsgw in the embedded moto, as the tables are (emulator/aws/messaging_setup.py).
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": QUEUE}},
        "Orders": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True, "ContentBasedDeduplication": True}},
        "Alerts": {"Type": "AWS::SNS::Topic"},
        # MOCK $connect: refuses with 403 when ?deny=yes, else 200 (reference §3.5).
        "ConnectRoute": _route("$connect", "ConnectMock"),
        "ConnectMock": _integration("MOCK", TemplateSelectionExpression="\\$default", RequestTemplates={
            "$default": "#if($input.params('deny') == 'yes'){\"statusCode\": 403}#else{\"statusCode\": 200}#end"}),
        "ConnectMockResponse": _response("ConnectMock", "$default"),
        # MOCK two-way route: the integration response's template is the reply.
        "MockRoute": _route("mock", "Mock", two_way=True),
        "Mock": _integration("MOCK", RequestTemplates={"$default": "{\"statusCode\": 200}"},
                             TemplateSelectionExpression="\\$default"),
        "MockOk": _response("Mock", "/2\\d\\d/", {"$default": "{\"mocked\": \"$context.connectionId\", \"route\": \"$context.routeKey\"}"}),
        # HTTP_PROXY through a stage variable, with mapped headers.
        "ProxyRoute": _route("proxy", "Proxy", two_way=True),
        "Proxy": _integration("HTTP_PROXY", IntegrationUri="http://${stageVariables.backend}/proxy",
                              IntegrationMethod="POST", TimeoutInMillis=5000, RequestParameters={
                                  "integration.request.header.connectionId": "context.connectionId",
                                  "integration.request.header.X-Stage": "stageVariables.env",
                                  "integration.request.header.X-Static": "'fixed'"}),
        "DownRoute": _route("down", "Down", two_way=True),
        "Down": _integration("HTTP_PROXY", IntegrationUri=f"http://127.0.0.1:{down_port}/", IntegrationMethod="POST"),
        # HTTP (non-proxy) with a VTL request template: $input.json, $context, $util.
        "VtlRoute": _route("vtl", "Vtl", two_way=True),
        "Vtl": _integration("HTTP", IntegrationUri="http://${stageVariables.backend}/vtl", IntegrationMethod="POST",
                            TemplateSelectionExpression="\\$default", RequestTemplates={"$default": (
                                "{\"who\": \"$context.connectionId\", \"text\": $input.json('$.text'),"
                                " \"enc\": \"$util.urlEncode($input.path('$.text'))\","
                                " \"b64\": \"$util.base64Encode($input.path('$.text'))\"}")}),
        "VtlOk": _response("Vtl", "$default"),
        # AWS service integrations into the embedded moto (reference §1.3).
        "SqsRoute": _route("sqs", "Sqs"),
        "Sqs": _integration("AWS", IntegrationUri=f"arn:aws:apigateway:us-east-1:sqs:path/123456789012/{QUEUE}",
                            IntegrationMethod="POST", CredentialsArn="arn:aws:iam::123456789012:role/ApiSqs",
                            PassthroughBehavior="NEVER", TemplateSelectionExpression="\\$default",
                            RequestParameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
                            RequestTemplates={"$default": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"}),
        "SqsOk": _response("Sqs", "$default"),
        # $disconnect runs its integration too (no frame: the socket is gone) [obs] LS-TEST.
        "ByeRoute": _route("$disconnect", "Bye"),
        "Bye": _integration("AWS", IntegrationUri=f"arn:aws:apigateway:us-east-1:sqs:path/123456789012/{QUEUE}",
                            IntegrationMethod="POST", TemplateSelectionExpression="\\$default",
                            RequestTemplates={"$default": "Action=SendMessage&MessageBody=bye-$context.connectionId"}),
        "ByeOk": _response("Bye", "$default"),
        "DdbRoute": _route("ddb", "Ddb", two_way=True),
        "Ddb": _integration("AWS", IntegrationUri="arn:aws:apigateway:us-east-1:dynamodb:action/PutItem",
                            IntegrationMethod="POST", TemplateSelectionExpression="\\$default",
                            RequestTemplates={"$default": (
                                f"{{\"TableName\": \"{TABLE}\", \"Item\": {{\"id\": {{\"S\": \"$context.connectionId\"}},"
                                " \"text\": {\"S\": \"$util.escapeJavaScript($input.path('$.text')).replaceAll(\"\\\\'\",\"'\")\"}}}")}),
        # escapeJavaScript turns ' into \', which is no JSON escape: AWS's documented
        # idiom undoes it with .replaceAll("\\'","'") [doc] DG-VTLREF.
        "DdbOk": _response("Ddb", "/2\\d\\d/", {"$default": "{\"stored\": \"$context.connectionId\"}"}),
    }}


@pytest.fixture(scope="module")
def backends() -> Iterator[tuple[Backend, Backend]]:
    named, override = Backend("from-template"), Backend("from-option")
    yield named, override
    named.close()
    override.close()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, tls_dir: Path,
            backends: tuple[Backend, Backend]) -> Iterator[RunningGateway]:
    folder = tmp_path_factory.mktemp("integrations")
    (folder / "template.json").write_text(json.dumps(template(backends[0].port, _closed_port())))
    # --stage-variable backend=... overrides the template's: the option's backend serves.
    running = start_gateway(folder / "template.json", tls_dir,
                            stage_variables={"backend": f"127.0.0.1:{backends[1].port}"})
    yield running
    running.background.stop()


def test_the_template_is_read_with_each_integration(gateway: RunningGateway) -> None:
    model = gateway.local.model
    kinds = {key: route.integration.type for key, route in model.routes.items() if route.integration is not None}
    assert kinds == {"$connect": "MOCK", "$disconnect": "AWS", "mock": "MOCK", "proxy": "HTTP_PROXY", "down": "HTTP_PROXY",
                     "vtl": "HTTP", "sqs": "AWS", "ddb": "AWS"}
    assert model.stage_variables["env"] == "dev-stage"


def test_mock_connect_refuses_by_query_parameter(gateway: RunningGateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(gateway.ws_url + "?deny=yes", open_timeout=10)
    assert refused.value.response.status_code == 403
    with connect(gateway.ws_url + "?deny=no", open_timeout=10) as client:
        client.send(json.dumps({"action": "mock"}))
        reply = json.loads(client.recv(timeout=10))
    assert reply["route"] == "mock" and len(reply["mocked"]) > 5


def test_http_proxy_maps_headers_and_replies(gateway: RunningGateway, backends: tuple[Backend, Backend]) -> None:
    named, override = backends
    frame = json.dumps({"action": "proxy", "n": 1})
    with connect(gateway.ws_url) as client:
        client.send(frame)
        reply = json.loads(client.recv(timeout=10))
        mocked = client  # the connection id, from a MOCK reply on the same connection
        mocked.send(json.dumps({"action": "mock"}))
        connection_id = json.loads(mocked.recv(timeout=10))["mocked"]
    # The stage variable override chose the backend; the body went through as-is.
    assert reply == {"backend": "from-option", "body": frame}
    assert named.requests == []
    request = override.requests[-1]
    assert request["path"] == "/proxy"
    assert request["headers"]["connectionid"] == connection_id  # header names: any case
    assert request["headers"]["x-stage"] == "dev-stage" and request["headers"]["x-static"] == "fixed"


def test_backend_down_gives_the_error_frame(gateway: RunningGateway) -> None:
    with connect(gateway.ws_url) as client:
        client.send(json.dumps({"action": "down"}))
        frame = json.loads(client.recv(timeout=10))
        assert frame["message"] == "Internal server error" and set(frame) == {"message", "connectionId", "requestId"}
        client.send(json.dumps({"action": "mock"}))  # the connection stays open
        assert "mocked" in json.loads(client.recv(timeout=10))


def test_vtl_request_template_reaches_the_http_backend(gateway: RunningGateway, backends: tuple[Backend, Backend]) -> None:
    with connect(gateway.ws_url) as client:
        client.send(json.dumps({"action": "vtl", "text": "a b&c"}))
        reply = json.loads(client.recv(timeout=10))
    sent = json.loads(reply["body"])  # the $default integration response has no template: output as is
    assert sent["text"] == "a b&c" and sent["enc"] == "a+b%26c" and sent["b64"] == "YSBiJmM="
    assert sent["who"] and sent["who"] != "$context.connectionId"
    assert backends[1].requests[-1]["path"] == "/vtl"


def test_aws_integrations_write_to_sqs_and_dynamodb(gateway: RunningGateway) -> None:
    import boto3

    endpoint = gateway.local.aws_endpoint_url
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]  # the template's queue, created by wsgw
    with connect(gateway.ws_url) as client:
        client.send("not json & 100%")  # no route matches and there is no $default...
        assert json.loads(client.recv(timeout=10))["message"] == "Forbidden"
        client.send(json.dumps({"action": "sqs", "text": "queued"}))
        client.send(json.dumps({"action": "ddb", "text": "it's \"stored\""}))
        stored = json.loads(client.recv(timeout=10))
    bodies: list[str] = []

    def received(expected: str) -> bool:
        for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1,
                                           MaxNumberOfMessages=10).get("Messages", []):
            bodies.append(message["Body"])
        return expected in bodies

    # The frame went on the queue as it was; the connection's $disconnect said goodbye.
    wait_until(lambda: received(json.dumps({"action": "sqs", "text": "queued"})))
    wait_until(lambda: received(f"bye-{stored['stored']}"))
    item = gateway.dynamodb().get_item(TableName=TABLE, Key={"id": {"S": stored["stored"]}})["Item"]
    assert item["text"] == {"S": "it's \"stored\""}


def test_the_templates_queues_and_topics_exist_with_their_attributes(gateway: RunningGateway) -> None:
    import boto3

    where = dict(endpoint_url=gateway.local.aws_endpoint_url, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")
    sqs = boto3.client("sqs", **where)  # type: ignore[call-overload]
    # No QueueName: the logical id, with the .fifo SQS requires of a FIFO queue.
    orders = sqs.get_queue_url(QueueName="Orders.fifo")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=orders, AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true" and attributes["ContentBasedDeduplication"] == "true"
    topics = boto3.client("sns", **where).list_topics()["Topics"]  # type: ignore[call-overload]
    assert {"TopicArn": "arn:aws:sns:us-east-1:123456789012:Alerts"} in topics
