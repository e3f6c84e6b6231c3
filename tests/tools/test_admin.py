"""``wsgw connections|post|broadcast|disconnect`` against a real local gateway.

The bundled chat app runs in-process (its own gateway: broadcast counts depend on the
connections table holding only this module's rows); the commands find it through a
state file written with :mod:`emulator.tools.local_state`, as ``wsgw run-local`` writes it.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner, Result
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

import cli
from conftest import DEADLINE_S, RunningGateway, start_gateway, wait_until
from emulator.tools import local_state
from emulator.tools.admin import AdminError, iso_utc, parse_stack_outputs
from emulator.core.model import ApiModel, KeyAttribute, TableSpec

ROOT = Path(__file__).resolve().parents[2]
TABLE = "ConnectionsTable"
STALE = "ZZZZZZZZZZZZZZZ="  # well-formed, never connected: the management API answers 410
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    running = start_gateway(None, tmp_path_factory.mktemp("tls"))
    yield running
    running.background.stop()


@pytest.fixture(scope="module")
def state_file(gateway: RunningGateway, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("state") / "run-local.json"
    return local_state.write_state(local_state.state_for(gateway.local), path)


@pytest.fixture
def clients(gateway: RunningGateway) -> Iterator[list[tuple[ClientConnection, str]]]:
    """Two open chat clients and their connection ids; closed and gone from the table after."""
    with contextlib.ExitStack() as stack:
        opened = []
        for _ in range(2):
            client = stack.enter_context(connect(gateway.ws_url))
            client.send('{"action": "whoAmI"}')
            opened.append((client, str(client.recv(timeout=DEADLINE_S))))
        yield opened
    table = gateway.dynamodb()
    wait_until(lambda: not table.scan(TableName=TABLE)["Items"] and not gateway.open_connection_ids(),
               interval=0.05, message="rows or connections left behind")


def wsgw(*args: str, state_file: Path | None = None, env: dict[str, str] | None = None) -> Result:
    extra = ["--state-file", str(state_file)] if state_file is not None else []
    return CliRunner().invoke(cli.main, [*args[:1], *extra, *args[1:]], env=env)  # before any "--"



def assert_one_error_line(result: Result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [result.stderr.strip()] and text in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # not an uncaught error


# --- against the local gateway -------------------------------------------------------------


def test_connections_lists_open_connections_with_their_times(
        clients: list[tuple[ClientConnection, str]], state_file: Path) -> None:
    result = wsgw("connections", state_file=state_file)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for _, connection_id in clients:
        assert any(re.fullmatch(rf"{re.escape(connection_id)}  connected {TIME}  last active {TIME}  from 127\.0\.0\.1",
                                line) for line in lines), lines
    assert "wsgw: 2 open, 0 gone" in result.stderr


def test_connections_reports_gone_rows_and_prunes_them_on_request(
        clients: list[tuple[ClientConnection, str]], gateway: RunningGateway, state_file: Path) -> None:
    table = gateway.dynamodb()
    table.put_item(TableName=TABLE, Item={"connectionId": {"S": STALE}, "connectedAt": {"N": "1"}})
    listed = wsgw("connections", state_file=state_file)
    assert f"{STALE}  gone (stale row in {TABLE})" in listed.stdout.splitlines()
    assert "2 open, 1 gone; --prune deletes gone rows" in listed.stderr
    assert "Item" in table.get_item(TableName=TABLE, Key={"connectionId": {"S": STALE}})  # only listed

    pruned = wsgw("connections", "--prune", state_file=state_file)
    assert f"{STALE}  gone (row deleted in {TABLE})" in pruned.stdout
    assert "Item" not in table.get_item(TableName=TABLE, Key={"connectionId": {"S": STALE}})


def test_post_delivers(clients: list[tuple[ClientConnection, str]], state_file: Path) -> None:
    (client, connection_id), _ = clients
    # Local calls use dummy credentials: the user's AWS profile, even a broken one, has no say.
    result = wsgw("post", connection_id, "hello from admin", state_file=state_file,
                  env={"AWS_PROFILE": "no-such-profile"})
    assert result.exit_code == 0, result.output
    assert client.recv(timeout=DEADLINE_S) == "hello from admin"
    assert f"posted 16 bytes to {connection_id}" in result.stdout


def test_broadcast_delivers_to_all_and_prunes_a_stale_row(
        clients: list[tuple[ClientConnection, str]], gateway: RunningGateway, state_file: Path) -> None:
    table = gateway.dynamodb()
    table.put_item(TableName=TABLE, Item={"connectionId": {"S": STALE}, "connectedAt": {"N": "1"}})
    result = wsgw("broadcast", "news for everyone", state_file=state_file)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "delivered 2, gone 1, failed 0"
    for client, _ in clients:
        assert client.recv(timeout=DEADLINE_S) == "news for everyone"
    assert "Item" not in table.get_item(TableName=TABLE, Key={"connectionId": {"S": STALE}})


def test_disconnect_closes_with_1000(clients: list[tuple[ClientConnection, str]], state_file: Path) -> None:
    (client, connection_id), (other, _) = clients
    result = wsgw("disconnect", connection_id, state_file=state_file)
    assert result.exit_code == 0, result.output
    with pytest.raises(ConnectionClosed) as closed:
        client.recv(timeout=DEADLINE_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    other.send('{"action": "whoAmI"}')  # the other one is untouched
    assert other.recv(timeout=DEADLINE_S)


@pytest.mark.parametrize("command", [["post", "{id}", "--", "-1 degrees"], ["disconnect", "{id}"],
                                     ["disconnect", "--", "{id}"]], ids=["post", "disconnect", "disconnect--"])
@pytest.mark.parametrize("connection_id", [STALE, "-NotAnOption12X=", "--NotOption123X="])  # ids may start with "-"
def test_a_gone_connection_is_one_clear_line(command: list[str], connection_id: str, state_file: Path) -> None:
    assert_one_error_line(wsgw(*[connection_id if arg == "{id}" else arg for arg in command], state_file=state_file),
                          f"wsgw: error: connection {connection_id} is gone (410 GoneException)")


@pytest.mark.parametrize("args", [
    ["disconnect", "--deplyed"], ["post", "--deplyed", "x", "y"], ["connections", "--prnue"], ["broadcast", "-1"],
])
def test_an_option_typo_is_a_usage_error_not_a_connection_id(args: list[str], state_file: Path) -> None:
    result = wsgw(*args, state_file=state_file)
    assert result.exit_code == 2
    assert "No such option" in result.stderr and "no running wsgw run-local" not in result.output


def test_endpoint_url_and_table_target_any_api(
        clients: list[tuple[ClientConnection, str]], gateway: RunningGateway, no_aws: None) -> None:
    local = gateway.local
    flags = ["--endpoint-url", local.management_url, "--ca", gateway.ca_cert,
             "--table", TABLE, "--aws-endpoint-url", str(local.aws_endpoint_url)]
    # The usual chain finds nothing: one line, before any request.
    assert_one_error_line(wsgw("broadcast", "x", *flags), "wsgw: error: no AWS credentials")
    assert_one_error_line(wsgw("broadcast", "x", *flags, env={"AWS_PROFILE": "no-such-profile"}),
                          "wsgw: error: AWS profile problem: The config profile (no-such-profile) could not be found")
    dummy = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # the local gateway takes any
    result = wsgw("broadcast", "via endpoint", *flags, env=dummy)
    assert result.stdout.strip() == "delivered 2, gone 0, failed 0", result.output
    assert clients[0][0].recv(timeout=DEADLINE_S) == "via endpoint"


def test_without_a_running_gateway_the_commands_say_what_to_do(tmp_path: Path) -> None:
    missing = wsgw("connections", state_file=tmp_path / "none.json")
    assert_one_error_line(missing, "no running wsgw run-local found")
    dead = local_state.LocalState(pid=2**22 + 12345, ws_url="ws://x", wss_url="wss://x", management_url="https://x",
                                  http_management_url="http://x", ca_path="ca.pem", aws_endpoint_url=None,
                                  region="us-east-1", connection_tables=(TABLE,))
    stale = local_state.write_state(dead, tmp_path / "stale.json")
    assert_one_error_line(wsgw("broadcast", "x", state_file=stale), "no running wsgw run-local found")


def test_run_local_writes_the_state_file_and_removes_it_on_exit(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "run-local", "--port", "0", "--tls-dir", str(tmp_path / "tls")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("Ready."):
                break
        path = tmp_path / ".wsgw" / "run-local.json"  # the default: relative to run-local's folder
        state = local_state.live_state(path)
        assert state is not None and state.pid == process.pid and state.connection_tables == (TABLE,)
        listed = wsgw("connections", state_file=path)
        assert listed.exit_code == 0 and "wsgw: 0 open, 0 gone" in listed.stderr, listed.output
        with connect(state.ws_url) as client:
            client.send('{"action": "whoAmI"}')
            connection_id = str(client.recv(timeout=DEADLINE_S))
            assert connection_id in wsgw("connections", state_file=path).stdout
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        assert not path.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


# --- the deployed stack --------------------------------------------------------------------


def test_deployed_without_credentials_is_one_clean_line(no_aws: None) -> None:
    result = wsgw("connections", "--deployed", "--region", "eu-west-1")
    assert_one_error_line(result, "wsgw: error: no AWS credentials: set AWS_PROFILE or run aws configure")


def test_stack_outputs_are_read_from_describe_stacks() -> None:
    response = {"Stacks": [{"StackName": "WsgwChatStack", "StackStatus": "UPDATE_COMPLETE", "Outputs": [
        {"OutputKey": "WebSocketUrl", "OutputValue": "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev"},
        {"OutputKey": "CallbackUrl", "OutputValue": "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/"},
        {"OutputKey": "ConnectionsTableName", "OutputValue": "WsgwChatStack-ConnectionsTable-1X2Y3Z"},
    ]}]}
    outputs = parse_stack_outputs(response, "WsgwChatStack")
    assert outputs.callback_url == "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"
    assert outputs.connections_table == "WsgwChatStack-ConnectionsTable-1X2Y3Z"

    older = {"Stacks": [{"StackStatus": "CREATE_COMPLETE", "Outputs": response["Stacks"][0]["Outputs"][:2]}]}
    assert parse_stack_outputs(older, "S").connections_table is None  # then --table NAME is needed
    with pytest.raises(AdminError, match="stack S has no CallbackUrl output .status ROLLBACK_COMPLETE"):
        parse_stack_outputs({"Stacks": [{"StackStatus": "ROLLBACK_COMPLETE"}]}, "S")
    with pytest.raises(AdminError, match="stack S not found"):
        parse_stack_outputs({"Stacks": []}, "S")


# --- the state file ------------------------------------------------------------------------


def test_state_file_round_trip_and_ownership(tmp_path: Path, gateway: RunningGateway) -> None:
    path = tmp_path / ".wsgw" / "run-local.json"
    state = local_state.state_for(gateway.local)
    assert local_state.write_state(state, path) == path
    assert (path.parent / ".gitignore").read_text() == "*\n"  # never in the user's git status
    assert local_state.read_state(path) == local_state.live_state(path) == state
    assert state.connection_tables == (TABLE,) and Path(state.ca_path).is_file()
    assert state.management_url.startswith("https://") and state.http_management_url.startswith("http://")

    local_state.remove_state(path, pid=state.pid + 1)  # another run-local's file stays
    assert path.exists()
    local_state.remove_state(path)
    assert not path.exists()

    path.write_text("{not json")
    assert local_state.read_state(path) is None


def test_connection_tables_of_a_model() -> None:
    def model(*tables: TableSpec) -> ApiModel:
        return ApiModel(name="m", stage="dev", route_selection_expression="$request.body.action",
                        routes={}, functions={}, tables=tables)

    connections = TableSpec("Conns", "conns", KeyAttribute("connectionId"))
    other = TableSpec("Data", "data", KeyAttribute("pk"))
    assert local_state.connection_tables(model(other, connections)) == ("conns",)
    assert local_state.connection_tables(model(other)) == ("data",)  # the only table
    assert local_state.connection_tables(model(other, TableSpec("More", "more", KeyAttribute("pk")))) == ()


def test_times_print_as_the_management_api_sends_them() -> None:
    from datetime import datetime, timezone
    assert iso_utc(datetime(2026, 1, 31, 12, 0, 0, 123456, tzinfo=timezone.utc)) == "2026-01-31T12:00:00.123Z"
