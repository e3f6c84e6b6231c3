"""The composition root: addresses, worker environments, --aws-endpoint-url."""

from __future__ import annotations

import asyncio
from pathlib import Path

import boto3
import pytest
from websockets.sync.client import connect

from emulator.app import GatewayThread, GatewayOptions, LocalGateway, is_loopback_url
from emulator.aws.embedded import EmbeddedAws
from emulator.template.loader import load_model

ROOT = Path(__file__).resolve().parent.parent
CHAT_MODEL = load_model(ROOT / "tests" / "apps" / "chat" / "wsgw.json")


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:8000", True), ("http://localhost:4566", True), ("http://[::1]:8000", True),
    ("http://127.9.9.9", True), ("https://dynamodb.us-east-1.amazonaws.com", False),
    ("http://10.0.0.1:8000", False), ("not a url", False),
])
def test_is_loopback_url(url: str, expected: bool) -> None:
    assert is_loopback_url(url) is expected


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


def test_frame_and_message_limits_are_configurable() -> None:
    model = LocalGateway(CHAT_MODEL, GatewayOptions(frame_bytes=1000, message_bytes=4000)).model
    assert (model.limits.frame_bytes, model.limits.message_bytes) == (1000, 4000)


@pytest.mark.parametrize("host, warned", [
    ("127.0.0.1", False), ("127.0.0.2", False), ("::1", False), ("localhost", False),
    ("0.0.0.0", True), ("::", True), ("192.168.1.10", True), ("myhost.example", True),
])
def test_binding_beyond_loopback_warns(host: str, warned: bool) -> None:
    from emulator.net.listener import exposure_warning

    warning = exposure_warning(host)
    assert (warning is not None) is warned
    if warning:
        assert host in warning and "--host 127.0.0.1" in warning


def test_shutdown_returns_as_soon_as_the_last_invocation_is_done(tls_dir: Path) -> None:
    # The wait for in-flight invocations and $disconnect handlers wakes up as each
    # ends, not on its 2 s progress tick: an invocation of 0.4 s in flight, shutdown
    # is over well before 2 s, and nothing was reported or cut short.
    import json
    import time

    from conftest import PROBE_APP, start_gateway
    from websockets.exceptions import ConnectionClosed

    running = start_gateway(PROBE_APP, tls_dir)
    try:
        server = running.local.listener
        assert server is not None
        reports: list[int] = []
        with connect(running.ws_url) as ws:
            ws.send(json.dumps({"action": "sleep", "seconds": 0.4, "reply": "done"}))
            time.sleep(0.1)  # the invocation is running
            started = time.monotonic()
            cut_short = running.background.run(server.shutdown(progress=reports.append))
            elapsed = time.monotonic() - started
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
        assert cut_short == 0 and reports == []
        assert 0.2 < elapsed < 1.5, f"shutdown took {elapsed:.2f} s"
        assert any(line.startswith("DISCONNECT-EVENT ") for _, line in running.log.snapshot())
    finally:
        running.background.stop()


def test_shutdown_closes_a_connection_whose_connect_was_running_and_runs_its_disconnect(
    tls_dir: Path,
) -> None:
    # $connect takes 1 s; shutdown starts while it runs. The handshake is answered,
    # then closed with 1001, and its $disconnect runs before shutdown returns. A socket
    # that never sends a byte does not hold the shutdown up meanwhile.
    import socket
    import threading
    import time

    from conftest import PROBE_APP, start_gateway
    from websockets.exceptions import ConnectionClosed

    running = start_gateway(PROBE_APP, tls_dir)
    try:
        server = running.local.listener
        assert server is not None
        idle = socket.create_connection(("127.0.0.1", running.local.port))
        codes: list[int | None] = []

        def client() -> None:
            with connect(running.ws_url + "?sleep=1", open_timeout=10) as ws:
                try:
                    ws.recv(timeout=10)
                except ConnectionClosed as closed:
                    codes.append(closed.rcvd.code if closed.rcvd else None)

        thread = threading.Thread(target=client)
        thread.start()
        time.sleep(0.4)  # inside $connect
        started = time.monotonic()
        cut_short = running.background.run(server.shutdown())
        elapsed = time.monotonic() - started
        thread.join(10)
        idle.close()
        assert codes == [1001]
        assert cut_short == 0
        assert elapsed < 5, f"shutdown took {elapsed:.2f} s"  # not the idle socket's 10 s
        assert any(line.startswith("DISCONNECT-EVENT ") for _, line in running.log.snapshot())
    finally:
        running.background.stop()
