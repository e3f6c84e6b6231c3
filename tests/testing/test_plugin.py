"""The pytest plugin (emulator/testing/plugin.py): its options, fixtures and public names.

The parsing of its ini lines is tested in this process. The fixtures are tested the way
users meet them: ``pytester`` writes a test project and runs pytest on it in a
subprocess (the plugin comes in through its ``pytest11`` entry point), then we check
the outcomes and that nothing outlived the run (worker processes, moto, the port).
"""

from __future__ import annotations

import json
import shutil
import socket
import textwrap
import time
from pathlib import Path
from typing import Any, Mapping

import pytest

from emulator.testing.plugin import parse_env

pytest_plugins = ["pytester"]

PROBE_DIR = Path(__file__).resolve().parents[1] / "apps" / "probe"
PROBE_APP = PROBE_DIR / "wsgw.json"

# Shared by the inner projects: children of the pytest process, from /proc.
INNER_CONFTEST = '''
import json, os
from pathlib import Path

OUT = Path(__file__).parent / "observed.json"

def children():
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == os.getpid() and state != "Z":
                found.add(int(entry))
    return found

def record(**values):
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data.update(values)
    OUT.write_text(json.dumps(data))

def recorded():
    return json.loads(OUT.read_text())
'''


# -- the ini lines --------------------------------------------------------------------


def test_env_lines_become_overrides_and_a_malformed_one_is_a_usage_error() -> None:
    lines = ["# comment", "", "PROBE_SETTING = everywhere", "EventDump.PROBE_SETTING=only-dump"]
    assert parse_env(lines) == {"PROBE_SETTING": "everywhere", "EventDump.PROBE_SETTING": "only-dump"}
    with pytest.raises(pytest.UsageError, match="FUNCTION.KEY=VALUE"):
        parse_env(["no-equals-sign"])
    with pytest.raises(pytest.UsageError, match="FUNCTION.KEY=VALUE"):
        parse_env([" =value"])


# -- the fixtures in user projects ---------------------------------------------------------


def _assert_nothing_left(observed: Mapping[str, Any]) -> None:
    """Processes the inner run saw as its children are gone; its ports are closed."""
    deadline = time.monotonic() + 5
    alive = set(observed["children"])
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if _running(pid)}
        time.sleep(0.05)
    assert not alive, f"processes left running: {alive}"
    for port in observed["ports"]:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


SYNC_AND_STRICT_TESTS = '''
import asyncio, json, socket
import pytest
from emulator.testing import HandshakeRefused
from conftest import children, record, recorded

def test_echo_and_addresses(wsgw_gateway, wsgw_connect):
    assert wsgw_gateway.stage == "test"
    assert wsgw_gateway.url.startswith("ws://127.0.0.1:") and wsgw_gateway.url.endswith("/test")
    assert wsgw_gateway.wss_url.startswith("wss://") and wsgw_gateway.ca_path.is_file()
    assert wsgw_gateway.management_url.startswith("https://")
    client = wsgw_connect()
    client.send_json({"action": "echo", "n": 1})
    assert client.recv_json() == {"action": "echo", "n": 1}
    record(session_port=int(wsgw_gateway.url.rsplit(":", 1)[1].split("/")[0]))

def test_a_failing_user_test_still_cleans_up(wsgw_connect):
    client = wsgw_connect()
    client.send_json({"action": "echo"})
    assert client.recv_text() == "something else"

def test_the_previous_tests_connection_was_closed(wsgw_gateway, wsgw_invocations):
    assert wsgw_gateway.open_connection_ids() == set()
    assert len(wsgw_invocations) == 0   # its $disconnect ran before this test began

def test_wss_headers_query_subprotocol(wsgw_connect, wsgw_invocations):
    client = wsgw_connect(secure=True, headers={"X-Test": "yes"}, query={"protocol": "chat.v1"},
                          subprotocols=["chat.v1"])
    assert client.subprotocol == "chat.v1"
    connect = wsgw_invocations.wait_for(route_key="$connect")
    assert connect.connection_id == client.connection_id and connect.function == "Connect"
    assert connect.event["headers"]["X-Test"] == "yes"
    assert connect.event["queryStringParameters"] == {"protocol": "chat.v1"}
    assert connect.status == "succeeded" and connect.result["statusCode"] == 200
    assert any(line.startswith("CONNECT-EVENT") for line in wsgw_invocations.logs("Connect"))

def test_refused_handshake(wsgw_connect):
    with pytest.raises(HandshakeRefused) as refused:
        wsgw_connect(query={"status": "401"})
    assert refused.value.status == 401

def test_management_client(wsgw_connect, wsgw_management):
    client = wsgw_connect()
    wsgw_management.post_to_connection(ConnectionId=client.connection_id, Data=b"pushed")
    assert client.recv_text() == "pushed"
    assert "ConnectedAt" in wsgw_management.get_connection(ConnectionId=client.connection_id)
    wsgw_management.delete_connection(ConnectionId=client.connection_id)
    assert client.expect_close(1000).code == 1000

def test_fail_and_time_out_next(wsgw_connect, wsgw_faults, wsgw_invocations):
    client = wsgw_connect()
    wsgw_faults.fail_next("Echo", "KeyError", "boom")
    client.send_json({"action": "echo"})
    assert client.recv_json()["message"] == "Internal server error"
    failed = wsgw_invocations.wait_for(function="Echo")
    assert (failed.status, failed.injected, failed.outcome.error_type) == ("failed", True, "KeyError")
    wsgw_faults.time_out_next("Echo")
    client.send_json({"action": "echo"})
    assert client.recv_json()["message"] == "Internal server error"
    assert wsgw_invocations.wait_for(function="Echo", status="timed_out").injected
    client.send_json({"action": "echo", "again": True})
    assert client.recv_json() == {"action": "echo", "again": True}
    assert not wsgw_faults.pending()
    with pytest.raises(ValueError, match="its functions"):
        wsgw_faults.fail_next("NoSuchFunction")

def test_fail_next_connect_refuses_with_502(wsgw_connect, wsgw_faults):
    wsgw_faults.fail_next("Connect")
    with pytest.raises(HandshakeRefused) as refused:
        wsgw_connect()
    assert refused.value.status == 502 and "Internal server error" in refused.value.body
    wsgw_connect().close()

def test_unused_faults_end_with_the_test(wsgw_faults):
    wsgw_faults.fail_next("Echo")

def test_faults_do_not_leak_into_the_next_test(wsgw_connect):
    client = wsgw_connect()
    client.send_json({"action": "echo"})
    assert client.recv_json() == {"action": "echo"}

def test_drop_next_disconnect(wsgw_connect, wsgw_faults, wsgw_invocations):
    dropped, kept = wsgw_connect(), wsgw_connect()
    dropped_id, kept_id = dropped.connection_id, kept.connection_id
    wsgw_faults.drop_next_disconnect(dropped_id)
    dropped.close()
    assert wsgw_invocations.wait_for(route_key="$disconnect", connection_id=dropped_id).status == "dropped"
    kept.close(4000, "bye")
    ran = wsgw_invocations.wait_for(route_key="$disconnect", connection_id=kept_id)
    assert ran.status == "succeeded" and ran.event["requestContext"]["disconnectStatusCode"] == 4000
    printed = wsgw_invocations.logs("Disconnect")
    assert any(kept_id in line for line in printed) and not any(dropped_id in line for line in printed)

def test_mark_gone(wsgw_connect, wsgw_faults, wsgw_management):
    client = wsgw_connect()
    assert wsgw_faults.mark_gone(client.connection_id)
    with pytest.raises(wsgw_management.exceptions.GoneException):
        wsgw_management.post_to_connection(ConnectionId=client.connection_id, Data=b"x")
    client.send_json({"action": "echo"})
    assert client.recv_json() == {"action": "echo"}
    assert not wsgw_faults.mark_gone("NoSuchConnId=")

def test_idle_timeout_with_the_clock(wsgw_connect, wsgw_clock, wsgw_invocations):
    client = wsgw_connect()
    assert wsgw_clock.advance(599.999) == 0
    assert wsgw_clock.advance(0.001) == 1
    assert client.expect_close(1001) == (1001, "Going away")
    event = wsgw_invocations.wait_for(route_key="$disconnect").event
    assert event["requestContext"]["disconnectStatusCode"] == 1001

def test_two_hour_limit_with_the_clock(wsgw_connect, wsgw_clock):
    client = wsgw_connect()
    for _ in range(23):
        wsgw_clock.advance(5 * 60)
        client.send_json({"action": "echo"})
        client.recv_text()
    assert wsgw_clock.advance(5 * 60) == 1
    assert client.expect_close().code == 1001

def test_children_before_isolation():
    record(before=sorted(children()))

@pytest.mark.wsgw(isolated=True)
def test_isolated_gateway(wsgw_gateway, wsgw_connect):
    port = int(wsgw_gateway.url.rsplit(":", 1)[1].split("/")[0])
    assert port != recorded()["session_port"]
    wsgw_connect().send_json({"action": "echo"})
    pids = [pid for pids in wsgw_gateway.worker_pids().values() for pid in pids]
    assert set(pids) <= children()
    record(isolated_children=sorted(children() - set(recorded()["before"])), isolated_port=port)

def test_isolated_gateway_is_gone():
    data = recorded()
    assert children() == set(data["before"])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", data["isolated_port"]), timeout=2)

@pytest.mark.wsgw(template="no/such/app.json")
def test_bad_template_is_one_error(wsgw_gateway):
    pass

@pytest.mark.asyncio
async def test_async_strict(wsgw_connect_async, wsgw_invocations):
    async with wsgw_connect_async() as a:
        b = await wsgw_connect_async(secure=True)
        await a.send_json({"action": "echo", "from": "a"})
        await b.send_json({"action": "echo", "from": "b"})
        assert await a.recv_json() == {"action": "echo", "from": "a"}
        assert await b.recv_text() == '{"action": "echo", "from": "b"}'
        with pytest.raises(TimeoutError):
            await a.recv_text(timeout=0.05)
        b_id = b.connection_id
        await b.close()
    wsgw_invocations.wait_for(route_key="$disconnect", connection_id=b_id)

@pytest.mark.asyncio(loop_scope="module")
async def test_async_on_a_module_loop_and_failing(wsgw_connect_async):
    client = await wsgw_connect_async()
    await client.send_json({"action": "echo"})
    assert await client.recv_text() == "not this"

def test_last_records_the_session_children(wsgw_gateway):
    record(children=sorted(children()), ports=[recorded()["session_port"]])
'''


def _inner_project(pytester: pytest.Pytester, ini: str, **files: str) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n" + textwrap.dedent(ini))
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(**files)


def test_sync_and_strict_async_tests_with_the_template_flag(pytester: pytest.Pytester) -> None:
    _inner_project(pytester, "asyncio_mode = strict\n", test_probe=SYNC_AND_STRICT_TESTS)
    # The "=" form: pytest guesses the rootdir from bare path arguments before plugins load.
    result = pytester.runpytest_subprocess(f"--wsgw-template={PROBE_APP}", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=18, failed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*test_a_failing_user_test_still_cleans_up FAILED*",
        "*test_async_on_a_module_loop_and_failing FAILED*",
        "*ERROR at setup of test_bad_template_is_one_error*",
        "wsgw: */no/such/app.json: not found*",
    ])
    _assert_nothing_left(json.loads((pytester.path / "observed.json").read_text()))


INI_AND_AUTO_TESTS = '''
import asyncio

async def test_auto_mode_async_with_ini_template_stage_and_env(wsgw_gateway, wsgw_connect_async):
    assert wsgw_gateway.stage == "qa" and wsgw_gateway.url.endswith("/qa")
    client = await wsgw_connect_async()
    await client.send_json({"action": "dump"})
    dump = await client.recv_json()
    assert dump["env"]["PROBE_SETTING"] == "only-dump"
    assert dump["event"]["requestContext"]["stage"] == "qa"
    echo_env = wsgw_gateway.model.functions["Echo"].environment
    assert echo_env["PROBE_SETTING"] == "everywhere" and echo_env["FROM_FIXTURE"] == "yes"

async def test_auto_mode_concurrent_clients(wsgw_connect_async):
    clients = [await wsgw_connect_async() for _ in range(3)]
    await asyncio.gather(*(c.send_json({"action": "echo", "i": i}) for i, c in enumerate(clients)))
    answers = await asyncio.gather(*(c.recv_json() for c in clients))
    assert [a["i"] for a in answers] == [0, 1, 2]

def test_sync_in_the_same_session(wsgw_connect):
    client = wsgw_connect()
    client.send_json({"action": "echo"})
    assert client.recv_json() == {"action": "echo"}
'''

FIXTURE_OVERRIDE = '''
import pytest

@pytest.fixture
def wsgw_env(wsgw_env):
    return {**wsgw_env, "FROM_FIXTURE": "yes"}
'''


def test_auto_mode_with_the_ini_template_relative_to_the_rootdir(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = pytester.path / "apps" / "probe"
    app.mkdir(parents=True)
    for name in ("wsgw.json", "probe.py"):
        shutil.copy(PROBE_DIR / name, app / name)
    pytester.makeini("""
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        wsgw_template = apps/probe/wsgw.json
        wsgw_stage = qa
        wsgw_env =
            PROBE_SETTING=everywhere
            EventDump.PROBE_SETTING=only-dump
    """)
    tests = pytester.mkpydir("suite")
    (tests / "conftest.py").write_text(FIXTURE_OVERRIDE)
    (tests / "test_ini.py").write_text(INI_AND_AUTO_TESTS)
    monkeypatch.chdir(tests)  # the ini path resolves against the rootdir, not here
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


BUNDLED_APP_TESTS = '''
def test_chat(wsgw_gateway, wsgw_connect):
    alice = wsgw_connect()
    bob = wsgw_connect()
    alice.send_json({"action": "whoAmI"})
    alice_id = alice.recv_text()
    bob.send_json({"action": "sendMessage", "connectionId": alice_id, "message": "hi"})
    assert alice.recv_text(timeout=2) == "hi"

def test_a_dropped_disconnect_leaves_the_row(wsgw_gateway, wsgw_connect, wsgw_aws, wsgw_faults, wsgw_invocations):
    (table,) = wsgw_gateway.model.tables
    client = wsgw_connect()
    connection_id = client.connection_id
    key = {"connectionId": {"S": connection_id}}
    wsgw_faults.drop_next_disconnect()
    client.close()
    wsgw_invocations.wait_for(route_key="$disconnect", status="dropped")
    assert "Item" in wsgw_aws("dynamodb").get_item(TableName=table.table_name, Key=key)
    assert wsgw_aws.resource("dynamodb").Table(table.table_name).get_item(Key={"connectionId": connection_id})["Item"]
'''


def test_the_bundled_app_by_default(pytester: pytest.Pytester) -> None:
    _inner_project(pytester, "", test_chat=BUNDLED_APP_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_malformed_env_line_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nwsgw_env = not-a-pair\n")
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "wsgw_env: expected FUNCTION.KEY=VALUE" in result.stderr.str()


def test_the_plugin_is_registered_and_its_marker_known(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_inprocess("--markers", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*@pytest.mark.wsgw(isolated=False, template=None, stage=None, env=None)*"])


PUBLIC_NAMES_TESTS = """
from emulator.testing import HandshakeRefused, WsgwGateway

def test_the_names_a_user_imports(wsgw_gateway):
    assert isinstance(wsgw_gateway, WsgwGateway) and issubclass(HandshakeRefused, Exception)
"""


def test_public_names_import_from_the_package_and_fixtures_register_once(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest("from emulator.testing import *\n")  # classes only: no fixture comes along
    pytester.makepyfile(test_names=PUBLIC_NAMES_TESTS)
    listing = pytester.runpytest_inprocess("--fixtures", "-p", "no:cacheprovider")
    assert listing.ret == pytest.ExitCode.OK
    assert [line.split(" ")[0] for line in listing.stdout.lines].count("wsgw_gateway") == 1
    result = pytester.runpytest_subprocess(f"--wsgw-template={PROBE_APP}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_app_in_the_project_folder_is_found(pytester: pytest.Pytester) -> None:
    # A SAM app laid out as `sam init` lays it out: template.yaml at the rootdir.
    sam_chat = Path(__file__).resolve().parents[1] / "templates" / "sam_chat"
    shutil.copytree(sam_chat, pytester.path, dirs_exist_ok=True)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_found='''
def test_serves_the_sam_app(wsgw_gateway, wsgw_connect):
    assert "sendmessage" in wsgw_gateway.model.routes and "sendMessage" not in wsgw_gateway.model.routes
    client = wsgw_connect()
    client.send_json({"message": {"type": "sendmessage", "text": "found"}})
    assert {client.recv_text(timeout=30), client.recv_text(timeout=30)} == {"found", "sent: found"}
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


# -- AWS_IAM: signed clients and identities ---------------------------------------------------

COGNITO_APP_TEMPLATE = '''
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: sessions, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $connect, AuthorizationType: AWS_IAM,
                 Target: !Join [/, [integrations, !Ref ConnectIntegration]]}
  ConnectIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt ConnectFunction.Arn}
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: $default, RouteResponseSelectionExpression: $default,
                 Target: !Join [/, [integrations, !Ref DefaultIntegration]]}
  DefaultIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt DefaultFunction.Arn}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: prod}
  ConnectFunction:
    Type: AWS::Lambda::Function
    Properties: {Code: src, Handler: sessions.connect, Runtime: python3.12}
  DefaultFunction:
    Type: AWS::Lambda::Function
    Properties: {Code: src, Handler: sessions.whoami, Runtime: python3.12}
'''

# The pattern of AWS's session-management sample: $connect admits Cognito identities only.
COGNITO_APP_HANDLERS = '''
import json

def connect(event, context):
    if not event["requestContext"]["identity"].get("cognitoIdentityId"):
        return {"statusCode": 403}
    return {"statusCode": 200}

def whoami(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"]["identity"])}
'''

COGNITO_APP_TESTS = '''
import pytest
from emulator.testing import HandshakeRefused

@pytest.mark.parametrize("sign", [True, "query"])
def test_a_signed_client_with_a_cognito_identity_gets_in(wsgw_connect, sign):
    client = wsgw_connect(sign=sign)  # the first wsgw_iam_credentials line signs
    client.send_text("who")
    identity = client.recv_json()
    assert identity["accessKey"] == "AKIDCOGNITO"
    assert identity["cognitoIdentityId"] == "us-east-1:1234"
    assert identity["cognitoAuthenticationType"] == "authenticated"

def test_a_key_without_a_cognito_identity_is_refused_by_the_app(wsgw_connect):
    with pytest.raises(HandshakeRefused) as refused:
        wsgw_connect(sign=True, credentials=("AKIDPLAIN", "plain"))
    assert refused.value.status == 403

def test_an_unsigned_client_is_refused(wsgw_connect):
    with pytest.raises(HandshakeRefused) as refused:
        wsgw_connect()
    assert refused.value.status == 403 and refused.value.headers["Content-Type"] == "application/json"
'''


def test_signed_clients_and_configured_identities(pytester: pytest.Pytester) -> None:
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "sessions.py").write_text(COGNITO_APP_HANDLERS)
    (pytester.path / "template.yaml").write_text(COGNITO_APP_TEMPLATE)
    (pytester.path / "identities.json").write_text(json.dumps({"AKIDCOGNITO": {
        "cognitoIdentityId": "us-east-1:1234", "cognitoIdentityPoolId": "us-east-1:pool",
        "cognitoAuthenticationType": "authenticated"}}))
    pytester.makeini("""
        [pytest]
        asyncio_default_fixture_loop_scope = function
        wsgw_iam_credentials =
            AKIDCOGNITO:c0gn1t0
            AKIDPLAIN:plain
        wsgw_iam_identities = identities.json
    """)
    pytester.makepyfile(test_sessions=COGNITO_APP_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_a_malformed_iam_ini_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n"
                     "wsgw_iam_credentials = no-colon\n")
    pytester.makepyfile(test_x="def test_x(wsgw_gateway):\n    pass\n")
    result = pytester.runpytest_subprocess(f"--wsgw-template={PROBE_APP}", "-p", "no:cacheprovider")
    assert "wsgw_iam_credentials: expected ACCESS_KEY:SECRET" in result.stderr.str() + result.stdout.str()
    assert result.ret != 0


def test_every_public_name_is_where_init_says_and_loading_the_plugin_imports_no_gateway() -> None:
    # The plugin is loaded in every pytest session of an environment with wsgw: it must
    # not import the gateway (emulator.app and the rest, ~0.5 s) until a test asks.
    import subprocess
    import sys

    import emulator.testing as testing

    for name in testing.__all__:
        assert getattr(testing, name).__name__ == name
    probe = ("import sys, emulator.testing.plugin as p; "
             "print(sorted(m for m in ('emulator.app', 'emulator.testing.gateway_pool', 'boto3', 'botocore') "
             "if m in sys.modules)); print(p.WsgwClient.__name__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "WsgwClient"]


CA_TESTS = """
import json, os, sys
from pathlib import Path

def test_where_the_ca_is(wsgw_gateway, wsgw_connect):
    client = wsgw_connect(secure=True)  # the CA really serves wss://
    client.close()
    line = {"ca": str(wsgw_gateway.ca_path), "pem": wsgw_gateway.ca_path.read_text(),
            "cryptography": "cryptography" in sys.modules}
    with open(os.environ["CA_OUT"], "a") as out:
        out.write(json.dumps(line) + "\\n")
"""


def test_the_ca_is_kept_in_the_cache_folder_between_sessions(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_ca=CA_TESTS)
    out = tmp_path / "ca.jsonl"
    monkeypatch.setenv("CA_OUT", str(out))
    monkeypatch.setenv("WSGW_CACHE_DIR", str(tmp_path / "cache"))
    for _ in range(2):
        pytester.runpytest_subprocess(f"--wsgw-template={PROBE_APP}", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    first, second = (json.loads(line) for line in out.read_text().splitlines())
    assert first["ca"] == second["ca"] == str(tmp_path / "cache" / "pytest-tls" / "ca.pem")
    assert first["pem"] == second["pem"]  # the same CA, kept
    assert first["cryptography"] and not second["cryptography"]  # made once; then taken as it is

    # Where the folder cannot be made (here: a file in its place): a session folder, as before.
    other_cache = tmp_path / "other-cache"
    other_cache.mkdir()
    (other_cache / "pytest-tls").write_text("")
    monkeypatch.setenv("WSGW_CACHE_DIR", str(other_cache))
    pytester.runpytest_subprocess(f"--wsgw-template={PROBE_APP}", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    third = json.loads(out.read_text().splitlines()[2])
    assert "wsgw-tls" in third["ca"] and not third["ca"].startswith(str(other_cache))
