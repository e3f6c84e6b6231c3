"""``wsgw connect`` against real gateways: the bundled chat app and the probe app.

Uses the session's shared gateways from conftest (``chat_gateway``, ``probe_gateway``);
these tests only add their own short-lived connections.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import cli
from conftest import DEADLINE_S, RunningGateway, async_wait_until
from emulator.tools import local_state
from emulator.core.ids import is_aws_id
from emulator.tools.interactive_client import ClientOptions, parse_header, run_client

STAMP = r"\d\d:\d\d:\d\d\.\d{3}"
WHO_AM_I = '{"action":"whoAmI"}'


def wsgw_connect(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli.main, ["connect", *args], input=stdin)


def received(result: Result) -> list[str]:
    """The messages printed as ``HH:MM:SS.mmm < text``."""
    return [match.group(1) for line in result.stdout.splitlines()
            if (match := re.fullmatch(rf"{STAMP} < (.*)", line))]


@pytest.fixture(scope="module")
def state_file(chat_gateway: RunningGateway, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("state") / "run-local.json"
    return local_state.write_state(local_state.state_for(chat_gateway.local), path)


def test_execute_prints_the_reply_with_a_timestamp(chat_gateway: RunningGateway) -> None:
    result = wsgw_connect(chat_gateway.ws_url, "--execute", WHO_AM_I, "--wait", "1")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"{STAMP} > {re.escape(WHO_AM_I)}", result.stdout.splitlines()[0])
    [connection_id] = received(result)
    assert is_aws_id(connection_id), connection_id
    assert f"wsgw: connected to {chat_gateway.ws_url}" in result.stderr


def test_stdin_lines_are_sent(chat_gateway: RunningGateway) -> None:
    result = wsgw_connect(chat_gateway.ws_url, "--wait", "1", stdin=f"{WHO_AM_I}\n\nnot json\n")
    assert result.exit_code == 0, result.output
    replies = received(result)
    assert len(replies) == 2  # the blank line was not sent; replies come in either order
    assert sum(map(is_aws_id, replies)) == 1 and sum("UnknownAction" in reply for reply in replies) == 1
    assert "Ctrl-D" in result.stderr


def test_the_local_gateway_is_found_and_its_ca_trusted(chat_gateway: RunningGateway, state_file: Path) -> None:
    default_url = wsgw_connect("--state-file", str(state_file), "--execute", WHO_AM_I, "--wait", "0.5")
    assert f"connected to {chat_gateway.ws_url}" in default_url.stderr and len(received(default_url)) == 1

    secure = wsgw_connect(chat_gateway.wss_url, "--state-file", str(state_file), "--execute", WHO_AM_I,
                          "--wait", "0.5")
    assert secure.exit_code == 0, secure.output
    assert len(received(secure)) == 1

    untrusted = wsgw_connect(chat_gateway.wss_url, "--state-file", str(state_file.with_name("none.json")),
                             "--execute", WHO_AM_I)
    assert untrusted.exit_code == 1
    assert untrusted.stderr.startswith(f"wsgw: error: TLS verification failed for {chat_gateway.wss_url}")
    assert "--ca PATH" in untrusted.stderr and len(untrusted.stderr.splitlines()) == 1

    with_ca = wsgw_connect(chat_gateway.wss_url, "--ca", chat_gateway.ca_cert, "--execute", WHO_AM_I, "--wait", "0.5")
    assert with_ca.exit_code == 0 and len(received(with_ca)) == 1


def test_a_refused_handshake_is_one_line_and_exit_1(probe_gateway: RunningGateway) -> None:
    result = wsgw_connect(f"{probe_gateway.ws_url}?status=401", "--execute", "hi")
    assert result.exit_code == 1
    assert result.stderr.strip() == "wsgw: error: the server refused the handshake: HTTP 401 Unauthorized"
    assert "Traceback" not in result.output


def test_headers_and_subprotocol_reach_connect(probe_gateway: RunningGateway) -> None:
    result = wsgw_connect(f"{probe_gateway.ws_url}?protocol=chat.v1&tag=hdr", "--subprotocol", "chat.v1",
                          "--header", "X-Probe: from-wsgw-connect", "--execute", '{"action":"echo","n":1}',
                          "--wait", "0.5")
    assert result.exit_code == 0, result.output
    assert "(subprotocol chat.v1)" in result.stderr
    assert received(result) == ['{"action":"echo","n":1}']
    _, line = probe_gateway.log.wait_for(lambda _f, text: "CONNECT-EVENT" in text and '"tag": "hdr"' in text)
    event = json.loads(line.split("CONNECT-EVENT ", 1)[1])
    assert event["headers"]["X-Probe"] == "from-wsgw-connect"


def test_bad_flags_and_unreachable_servers_are_one_line() -> None:
    with pytest.raises(ValueError, match="expected NAME:VALUE"):
        parse_header("no-colon")
    assert parse_header("Authorization: Bearer a:b") == ("Authorization", "Bearer a:b")
    bad_header = wsgw_connect("ws://127.0.0.1:1/dev", "--header", "nope")
    assert bad_header.exit_code == 2 and "Invalid value for --header: 'nope': expected NAME:VALUE" in bad_header.stderr
    refused = wsgw_connect("ws://127.0.0.1:1/dev", "--execute", "x")
    assert refused.exit_code == 1 and refused.stderr.startswith("wsgw: error: cannot connect to ws://127.0.0.1:1/dev")
    not_ws = wsgw_connect("http://127.0.0.1:1/dev")
    assert not_ws.exit_code == 1 and "is not a ws:// or wss:// URL" in not_ws.stderr


def test_a_server_close_is_reported_with_its_code(chat_gateway: RunningGateway) -> None:
    out: list[str] = []
    err: list[str] = []

    async def disconnected_by_the_backend() -> int:
        options = ClientOptions(chat_gateway.ws_url, execute=(WHO_AM_I,), wait_s=DEADLINE_S)
        client = asyncio.create_task(run_client(options, out=out.append, err=err.append))
        await async_wait_until(lambda: any(" < " in line for line in out))
        connection_id = out[-1].split(" < ", 1)[1]
        await asyncio.to_thread(chat_gateway.management().delete_connection, ConnectionId=connection_id)
        return await asyncio.wait_for(client, DEADLINE_S)

    assert asyncio.run(disconnected_by_the_backend()) == 0  # 1000: a normal close
    assert err[-1].startswith("wsgw: the server closed the connection: 1000")

    too_big = ClientOptions(chat_gateway.ws_url, execute=("x" * 40_000,), wait_s=5)  # over AWS's 32 KB frame
    assert asyncio.run(run_client(too_big, out=out.append, err=err.append)) == 1
    assert err[-1].startswith("wsgw: the server closed the connection: 1009")
