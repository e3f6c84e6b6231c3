"""Node.js handlers end to end: ``tests/apps/node_chat``, an app with the shape of AWS's
"simple websockets chat app" (SAM, ES modules with no dependencies of their own that
import the SDK v3 the Lambda runtime provides), served by a real gateway with real
clients, the SDK installed once per session into ``runtime_cache``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from websockets.sync.client import ClientConnection, connect

from conftest import FunctionLog, wait_until
from emulator.app import GatewayOptions, GatewayThread, LocalGateway
from emulator.reload import ReloadSource
from emulator.runtime.provisioning import RuntimeOptions
from emulator.template.loader import load_model

APP = Path(__file__).resolve().parent / "apps" / "node_chat" / "template.yaml"
TABLE = "node_chat_connections"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")


class Served:
    def __init__(self, tls_dir: Path, cache: Path) -> None:
        self.log = FunctionLog()
        self.said: list[str] = []
        options = GatewayOptions(port=0, tls_dir=tls_dir, runtime=RuntimeOptions(cache_dir=cache))
        self.local = LocalGateway(load_model(APP), options, function_log=self.log, reload_log=self.said.append)
        self.background = GatewayThread(self.local)
        self.background.start(timeout_s=300)

    def dynamodb(self) -> Any:
        import boto3

        return boto3.client("dynamodb", endpoint_url=self.local.aws_endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def rows(self) -> set[str]:
        items = self.dynamodb().scan(TableName=TABLE)["Items"]
        return {item["connectionId"]["S"] for item in items}

    def lines(self, function: str) -> list[str]:
        return [line for name, line in self.log.snapshot() if name == function]


@pytest.fixture(scope="module")
def served(tls_dir: Path, runtime_cache: Path) -> Iterator[Served]:
    running = Served(tls_dir, runtime_cache)
    yield running
    running.background.stop()


@contextlib.contextmanager
def _clients(served: Served, n: int) -> Iterator[list[ClientConnection]]:
    """``n`` connected clients whose ``$connect`` has stored its row; closed after."""
    before = served.rows()
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(served.local.ws_url)) for _ in range(n)]
        wait_until(lambda: len(served.rows() - before) == n, message="every $connect stored its row")
        yield clients


def _tls_connections(served: Served) -> int:
    assert served.local.listener is not None
    return served.local.listener.tls_connections


def test_a_broadcast_reaches_every_client_with_the_execute_api_host(served: Served) -> None:
    before = _tls_connections(served)
    with _clients(served, 3) as clients:
        clients[0].send(json.dumps({"action": "sendmessage", "data": "hello"}))
        assert [client.recv(timeout=30) for client in clients] == ["hello"] * 3  # the sender too
    # Redirected inside the worker to the gateway over plain HTTP (node/endpoint_redirect.mjs).
    assert _tls_connections(served) == before


def test_the_domain_name_form_reaches_every_client(served: Served) -> None:
    before = _tls_connections(served)
    with _clients(served, 2) as clients:
        clients[1].send(json.dumps({"action": "sendviadomain", "data": "via https://{domainName}/{stage}"}))
        assert {client.recv(timeout=30) for client in clients} == {"via https://{domainName}/{stage}"}
    # https://{domainName} is the gateway's own port: the worker sends it plain.
    assert _tls_connections(served) == before


def test_a_stale_row_is_deleted_after_a_410(served: Served) -> None:
    stale = "c3RhbGVjb25uAAA="  # shaped like an id, never connected
    with _clients(served, 3) as clients:
        served.dynamodb().put_item(TableName=TABLE, Item={"connectionId": {"S": stale}})
        clients[2].send(json.dumps({"action": "sendmessage", "data": "anyone?"}))
        assert [client.recv(timeout=30) for client in clients] == ["anyone?"] * 3
        wait_until(lambda: stale not in served.rows(), message="the 410 row was deleted")
    assert any(f"Found stale connection, deleting {stale}" in line for line in served.lines("SendMessageFunction"))


def test_disconnect_deletes_the_row(served: Served) -> None:
    before = served.rows()
    with _clients(served, 1):
        mine = served.rows() - before
    wait_until(lambda: not (mine & served.rows()), message="$disconnect deleted the row")
    lines = served.lines("OnDisconnectFunction")
    assert any("\tINFO\tdisconnected " in line for line in lines)  # console.log in Lambda's format


def test_a_python_function_serves_beside_the_node_ones(served: Served) -> None:
    with connect(served.local.ws_url) as client:
        client.send(json.dumps({"action": "echo", "data": "mixed"}))
        assert json.loads(client.recv(timeout=30)) == {"echo": "mixed", "python": 3}
    workers = served.background.call(served.local.invoker.worker_pids) if served.local.invoker else {}
    assert workers["EchoPythonFunction"] and workers["OnConnectFunction"]  # each in its own pool


def test_node_log_lines_have_lambdas_shape(served: Served) -> None:
    lines = served.lines("OnConnectFunction")
    assert any(line.startswith("START RequestId: ") and line.endswith("Version: $LATEST") for line in lines)
    reports = [line for line in lines if line.startswith("REPORT RequestId: ")]
    assert reports and "\tMemory Size: 256 MB\tMax Memory Used: " in reports[0]
    assert "\tInit Duration: " in reports[0]


def test_the_runtime_sdk_is_installed_once_into_the_cache(served: Served, runtime_cache: Path) -> None:
    installed = list((runtime_cache / "node-sdk").glob("*/node_modules/@aws-sdk/client-dynamodb/package.json"))
    assert len(installed) == 1


def test_stopping_runs_every_disconnect(tls_dir: Path, runtime_cache: Path) -> None:
    # What Ctrl-C does in run-local (GatewayThread.stop is the same LocalGateway.stop).
    running = Served(tls_dir, runtime_cache)
    try:
        with _clients(running, 3):
            running.background.stop()
    finally:
        running.background.stop()
    starts = [line for line in running.lines("OnDisconnectFunction") if line.startswith("START ")]
    assert len(starts) == 3


def test_no_node_is_one_clear_error(tls_dir: Path, runtime_cache: Path, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no node here (and python is not needed)
    with pytest.raises(Exception) as info:
        Served(tls_dir, runtime_cache)
    message = str(info.value)
    assert "no `node` on PATH" in message
    for name in ("OnConnectFunction", "OnDisconnectFunction", "SendMessageFunction", "SendViaDomainFunction"):
        assert name in message
    assert "EchoPythonFunction" not in message


PLUGIN_TESTS = '''
def test_node_chat(wsgw_connect, wsgw_aws):
    clients = [wsgw_connect() for _ in range(3)]  # each $connect stored its row before it opened
    assert len(wsgw_aws("dynamodb").scan(TableName="node_chat_connections")["Items"]) == 3
    clients[0].send_json({"action": "sendmessage", "data": "hi from pytest"})
    assert [client.recv_text(timeout=30) for client in clients] == ["hi from pytest"] * 3
'''


def test_the_pytest_plugin_serves_a_node_app(pytester: pytest.Pytester, runtime_cache: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGW_CACHE_DIR", str(runtime_cache))  # the session's SDK install
    pytester.makepyfile(test_node=PLUGIN_TESTS)
    result = pytester.runpytest_subprocess(f"--wsgw-template={APP}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


HANDLER = "export const handler = async () => ({ statusCode: 200, body: JSON.stringify({ version: VERSION }) });\n"


def test_hot_reload_restarts_a_node_function(tmp_path: Path, tls_dir: Path, runtime_cache: Path) -> None:
    app = tmp_path / "wsgw.json"
    app.write_text(json.dumps({
        "name": "node-reload", "stage": "test",
        "functions": {"Echo": {"handler": "echo.handler", "runtime": "nodejs22.x"}},
        "routes": {"echo": {"function": "Echo", "twoWay": True}},
    }), encoding="utf-8")
    (tmp_path / "echo.mjs").write_text(HANDLER.replace("VERSION", '"v1"'), encoding="utf-8")
    said: list[str] = []
    options = GatewayOptions(port=0, tls_dir=tls_dir, aws_endpoint_url="http://127.0.0.1:9", reload=True,
                             reload_source=ReloadSource(app), runtime=RuntimeOptions(cache_dir=runtime_cache))
    background = GatewayThread(LocalGateway(load_model(app), options, function_log=lambda f, line: None,
                                            reload_log=said.append))
    local = background.start(timeout_s=300)
    try:
        with connect(local.ws_url) as client:
            def version() -> str:
                client.send(json.dumps({"action": "echo"}))
                return str(json.loads(client.recv(timeout=30))["version"])

            assert version() == "v1"
            (tmp_path / "echo.mjs").write_text(HANDLER.replace("VERSION", '"v2"'), encoding="utf-8")
            wait_until(lambda: version() == "v2", message="the edit took effect on the open connection")
            (tmp_path / "echo.mjs").write_text("export const handler = async () => { return (1 + ; };\n")
            line = wait_until(lambda: next((x for x in said if "reload failed" in x), None))
            assert "Runtime.UserCodeSyntaxError" in line
            assert version() == "v2"  # the last good code keeps serving
    finally:
        background.stop()


pytest_plugins = ["pytester"]


def test_ctrl_c_on_run_local_runs_every_node_disconnect(tmp_path: Path, tls_dir: Path, runtime_cache: Path) -> None:
    # A real run-local process and a real SIGINT, as a terminal's Ctrl-C sends.
    import os

    from conftest import DEADLINE_S, RunLocalProcess

    app = tmp_path / "node-chat"
    shutil.copytree(APP.parent, app, ignore=shutil.ignore_patterns("__pycache__", ".wsgw"))
    env = {**os.environ, "WSGW_CACHE_DIR": str(runtime_cache)}
    server = RunLocalProcess("--port", "0", "--no-reload", "--tls-dir", str(tls_dir), cwd=app, env=env)
    try:
        url = server.wait_for(r"WebSocket URL: (ws://\S+)", timeout=120).group(1)
        server.wait_for("Ready", timeout=DEADLINE_S)
        with contextlib.ExitStack() as stack:
            for _ in range(3):
                stack.enter_context(connect(url, open_timeout=DEADLINE_S))
            wait_until(lambda: sum("$connect" in line and " ok " in line for line in server.lines) == 3)
            assert server.close() == 0  # SIGINT while the three are open
    finally:
        server.close()
    disconnects = [line for line in server.lines if "$disconnect" in line and "OnDisconnectFunction" in line and " ok " in line]
    assert len(disconnects) == 3, "\n".join(server.lines)
    assert server.lines.index(next(line for line in server.lines if line.startswith("wsgw: stopped"))) > max(
        server.lines.index(line) for line in disconnects)
