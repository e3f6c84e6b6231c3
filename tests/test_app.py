"""The composition root: addresses, worker environments, --aws-endpoint-url."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
from conftest import DEADLINE_S, start_gateway, wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from emulator.app import GatewayOptions, GatewayThread, LocalGateway
from emulator.aws.embedded import EmbeddedAws
from emulator.net import listener as listener_module
from emulator.template.loader import load_model

ROOT = Path(__file__).resolve().parent.parent
CHAT_MODEL = load_model(ROOT / "tests" / "apps" / "chat" / "wsgw.json")


@pytest.mark.parametrize("host, domain", [
    ("127.0.0.1", "127.0.0.1:3001"), ("0.0.0.0", "127.0.0.1:3001"),
    ("::", "[::1]:3001"), ("::1", "[::1]:3001"), ("localhost", "localhost:3001"),
])
def test_domain_name_is_reachable_host_and_port(host: str, domain: str) -> None:
    gateway = LocalGateway(CHAT_MODEL, GatewayOptions(host=host, port=3001))
    assert gateway.domain_name == domain
    assert gateway.ws_url == f"ws://{domain}/dev"
    assert gateway.management_url == f"https://{domain}/dev"


def test_worker_environment_is_built_not_inherited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "my-real-account")
    monkeypatch.setenv("SECRET_OF_THE_SHELL", "do-not-leak")
    gateway = LocalGateway(CHAT_MODEL, GatewayOptions(port=0, tls_dir=tmp_path))
    from emulator.net.tls import ensure_tls_material

    gateway.tls = ensure_tls_material(tmp_path)
    gateway.aws = EmbeddedAws()
    gateway.aws.port = 9999
    env = gateway._worker_env()
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9999"
    assert env["AWS_CA_BUNDLE"] == str(gateway.tls.ca_bundle)
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in env and "SECRET_OF_THE_SHELL" not in env
    assert env["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"].endswith("/dev")


def test_aws_endpoint_url_sends_handlers_elsewhere(tmp_path: Path) -> None:
    # A second moto stands in for DynamoDB Local: the chat app's table is created
    # there and $connect writes its row there.
    other = EmbeddedAws()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(other.start())
    try:
        background = GatewayThread(LocalGateway(
            CHAT_MODEL,
            GatewayOptions(port=0, tls_dir=tmp_path, aws_endpoint_url=other.endpoint_url),
            function_log=lambda function, line: None,
        ))
        gateway = background.start()
        try:
            assert gateway.aws is None and gateway.aws_endpoint_url == other.endpoint_url
            with connect(gateway.ws_url) as ws:
                ws.send('{"action": "whoAmI"}')
                connection_id = ws.recv(timeout=10)
                dynamodb = boto3.client("dynamodb", endpoint_url=other.endpoint_url, region_name="us-east-1",
                                        aws_access_key_id="testing", aws_secret_access_key="testing")
                item = dynamodb.get_item(TableName="wsgw-chat-connections",
                                         Key={"connectionId": {"S": connection_id}})
                assert "Item" in item
        finally:
            background.stop()
    finally:
        loop.run_until_complete(other.stop())
        loop.close()


def test_a_reload_creates_the_new_tables_queues_and_topics(tmp_path: Path) -> None:
    from dataclasses import replace

    from emulator.core.model import QueueSpec, TopicSpec

    background = GatewayThread(LocalGateway(CHAT_MODEL, GatewayOptions(port=0, tls_dir=tmp_path),
                                            function_log=lambda function, line: None))
    gateway = background.start()
    try:
        table = replace(CHAT_MODEL.tables[0], table_name="wsgw-chat-added")
        edited = replace(CHAT_MODEL, tables=(*CHAT_MODEL.tables, table),
                         queues=(QueueSpec("Added", "added-queue", (("VisibilityTimeout", "45"),)),),
                         topics=(TopicSpec("Told", "told-topic"),))
        background.run(gateway.apply_model(edited))
        where = dict(endpoint_url=gateway.aws_endpoint_url, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing")
        assert "wsgw-chat-added" in boto3.client("dynamodb", **where).list_tables()["TableNames"]
        sqs = boto3.client("sqs", **where)
        url = sqs.get_queue_url(QueueName="added-queue")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
        assert attributes["VisibilityTimeout"] == "45"
        topics = [topic["TopicArn"] for topic in boto3.client("sns", **where).list_topics()["Topics"]]
        assert any(arn.endswith(":told-topic") for arn in topics)
    finally:
        background.stop()


def test_frame_and_message_limits_are_configurable() -> None:
    model = LocalGateway(CHAT_MODEL, GatewayOptions(frame_bytes=1000, message_bytes=4000)).model
    assert (model.limits.frame_bytes, model.limits.message_bytes) == (1000, 4000)


GATED_HANDLERS = """\
import json, os, time


def _wait(gate):
    for _ in range(6000):  # at most a minute
        if os.path.exists(gate):
            return
        time.sleep(0.01)


def connect(event, context):
    gate = (event.get("queryStringParameters") or {}).get("gate")
    if gate:
        print("CONNECT-HELD", flush=True)
        _wait(gate)
    return {"statusCode": 200}


def hold(event, context):
    body = json.loads(event["body"])
    print("HELD " + body["tag"], flush=True)
    _wait(body["gate"])
    return {"statusCode": 200, "body": "released"}


def disconnect(event, context):
    print("DISCONNECT-EVENT " + json.dumps(event))
    return {"statusCode": 200}
"""


def _gated_app(folder: Path) -> Path:
    """An app whose $connect (``?gate=PATH``) and ``hold`` route wait until the test
    creates the gate file: an invocation that is certainly still running."""
    (folder / "gated.py").write_text(GATED_HANDLERS, encoding="utf-8")
    functions = {name: {"handler": f"gated.{handler}", "codeUri": ".", "timeout": 60}
                 for name, handler in (("Connect", "connect"), ("Hold", "hold"), ("Disconnect", "disconnect"))}
    app = folder / "wsgw.json"
    app.write_text(json.dumps({
        "name": "gated", "stage": "test", "functions": functions,
        "routes": {"$connect": {"function": "Connect"}, "$disconnect": {"function": "Disconnect"},
                   "hold": {"function": "Hold", "twoWay": True}},
    }), encoding="utf-8")
    return app


def test_shutdown_returns_as_soon_as_the_last_invocation_is_done(
    tls_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The wait for in-flight invocations and $disconnect handlers wakes up as each
    # ends, not on its progress tick: shutdown waits while an invocation is held, and
    # once it is released returns although the tick (and the shutdown timeout) is an
    # hour away; nothing was reported or cut short.
    running = start_gateway(_gated_app(tmp_path), tls_dir)
    monkeypatch.setattr(listener_module, "PROGRESS_INTERVAL_S", 3600.0)
    gate = tmp_path / "gate"
    try:
        server = running.local.listener
        assert server is not None
        reports: list[int] = []
        with connect(running.ws_url) as ws:
            ws.send(json.dumps({"action": "hold", "tag": "one", "gate": str(gate)}))
            running.log.wait_for(lambda f, line: f == "Hold" and line == "HELD one")  # in flight
            shutdown = asyncio.run_coroutine_threadsafe(
                server.shutdown(3600.0, progress=reports.append), running.background.loop)
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=DEADLINE_S)  # closed with 1001 while the invocation runs
        running.log.wait_for(lambda f, line: line.startswith("DISCONNECT-EVENT "))
        assert not shutdown.done()  # still waiting for the held invocation
        gate.touch()
        cut_short = shutdown.result(DEADLINE_S)
        assert cut_short == 0 and reports == []
    finally:
        gate.touch()
        running.background.stop()


def test_shutdown_cuts_short_a_message_invocation_past_its_deadline_and_kills_its_worker(
    tls_dir: Path, tmp_path: Path,
) -> None:
    # A message's invocation runs without a task of its own (the listener's
    # integrate_soon); shutdown still waits for it, counts it as cut short at its
    # deadline, and kills its worker, as it cancels a task's.
    running = start_gateway(_gated_app(tmp_path), tls_dir)
    gate = tmp_path / "gate"
    try:
        server, invoker = running.local.listener, running.local.invoker
        assert server is not None and invoker is not None
        (hold_pid,) = running.background.call(invoker.worker_pids)["Hold"]
        with connect(running.ws_url) as ws:
            ws.send(json.dumps({"action": "hold", "tag": "two", "gate": str(gate)}))
            running.log.wait_for(lambda f, line: f == "Hold" and line == "HELD two")  # in flight
            assert running.background.call(lambda: server.background_tasks) == 1
            shutdown = asyncio.run_coroutine_threadsafe(server.shutdown(1.0), running.background.loop)
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=DEADLINE_S)  # closed with 1001, no reply
        assert shutdown.result(DEADLINE_S) == 1
        wait_until(lambda: hold_pid not in running.background.call(invoker.worker_pids)["Hold"])
        assert running.background.call(lambda: server.background_tasks) == 0
    finally:
        gate.touch()
        running.background.stop()


def test_shutdown_closes_a_connection_whose_connect_was_running_and_runs_its_disconnect(
    tls_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Shutdown starts while $connect runs (held at its gate). The handshake is
    # answered once $connect ends, then closed with 1001, and its $disconnect runs
    # before shutdown returns. A socket that never sends a byte does not hold the
    # shutdown up meanwhile (its handshake timeout is an hour here).
    running = start_gateway(_gated_app(tmp_path), tls_dir)
    monkeypatch.setattr(listener_module, "HANDSHAKE_TIMEOUT_S", 3600.0)
    gate = tmp_path / "gate"
    try:
        server = running.local.listener
        assert server is not None
        codes: list[int | None] = []

        def client() -> None:
            with connect(f"{running.ws_url}?gate={quote(str(gate))}", open_timeout=DEADLINE_S) as ws:
                try:
                    ws.recv(timeout=DEADLINE_S)
                except ConnectionClosed as closed:
                    codes.append(closed.rcvd.code if closed.rcvd else None)

        thread = threading.Thread(target=client)
        thread.start()
        running.log.wait_for(lambda f, line: f == "Connect" and line == "CONNECT-HELD")  # inside $connect
        idle = socket.create_connection(("127.0.0.1", running.local.port))
        acceptor = server._acceptor
        assert acceptor is not None
        wait_until(lambda: running.background.call(lambda: acceptor.silent) > 0)  # accepted, silent
        shutdown = asyncio.run_coroutine_threadsafe(server.shutdown(), running.background.loop)
        wait_until(lambda: running.background.call(lambda: server.draining))
        assert not shutdown.done()  # waiting for $connect
        gate.touch()
        cut_short = shutdown.result(DEADLINE_S)
        thread.join(DEADLINE_S)
        idle.close()
        assert codes == [1001]
        assert cut_short == 0
        assert any(line.startswith("DISCONNECT-EVENT ") for _, line in running.log.snapshot())
    finally:
        gate.touch()
        running.background.stop()
