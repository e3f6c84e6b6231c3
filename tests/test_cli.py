"""``wsgw`` as a user runs it: a real subprocess, stopped with SIGINT/SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import boto3
import pytest
import click
from click.testing import CliRunner
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

import cli
from conftest import RunLocalProcess

ROOT = Path(__file__).resolve().parent.parent


class RunLocal(RunLocalProcess):
    """run-local from the project folder, killed at the end of the test."""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def run_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[RunLocal]]:
    started: list[RunLocal] = []
    local_state_env = "WSGW_STATE_FILE"
    monkeypatch.setenv(local_state_env, str(tmp_path / "run-local.json"))

    class Tracked(RunLocal):
        def __init__(self, *args: str) -> None:
            super().__init__(*args, "--tls-dir", str(tmp_path / "tls"))
            started.append(self)

    yield Tracked
    for process in started:
        process.stop()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_local_serves_and_stops_cleanly(run_local: type[RunLocal], signum: int) -> None:
    server = run_local("--port", "0")
    url = server.wait_for(r"WebSocket URL: (ws://127\.0\.0\.1:\d+/dev)").group(1)
    port = url.rsplit(":", 1)[1].split("/")[0]
    server.wait_for(rf"Secure URL: +wss://127\.0\.0\.1:{port}/dev")
    server.wait_for(rf"@connections: +https://127\.0\.0\.1:{port}/dev/@connections/")
    ca_path = server.wait_for(r"Local CA: +(\S+ca\.pem)").group(1)
    assert Path(ca_path).is_file()
    with connect(url) as ws:
        ws.send('{"action": "whoAmI"}')
        connection_id = ws.recv(timeout=10)
        server.process.send_signal(signum)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert server.process.wait(30) == 0
    server.wait_for(r"wsgw: stopped\.")
    # $disconnect ran for the open connection before exit: its event line, and the
    # handler's CloudWatch-style lines indented under it.
    events = [i for i, line in enumerate(server.lines)
              if re.search(rf"  {re.escape(connection_id)}  \$disconnect  DisconnectFunction  ok  [\d.]+ ms$", line)]
    assert len(events) == 1
    assert server.lines[events[0] + 1].startswith("    [DisconnectFunction] START RequestId: ")
    assert any(line.startswith("    [DisconnectFunction] END RequestId: ") for line in server.lines[events[0]:])


def test_handler_output_is_prefixed_with_the_function(run_local: type[RunLocal]) -> None:
    server = run_local("--port", "0")
    url = server.wait_for(r"WebSocket URL: (ws://\S+)").group(1)
    with connect(url) as ws:
        ws.send('{"action": "whoAmI"}')
        ws.recv(timeout=10)
    server.wait_for(r"^\d\d:\d\d:\d\d\.\d{3}  \S+  whoAmI  WhoAmIFunction  ok  [\d.]+ ms$")
    server.wait_for(r"^    \[WhoAmIFunction\] START RequestId: \S+ Version: \$LATEST")
    server.wait_for(r"^    \[WhoAmIFunction\] REPORT RequestId: \S+\s+Duration: [\d.]+ ms")


def test_port_in_use_is_one_clear_line(run_local: type[RunLocal]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        server = run_local("--port", str(port))
        assert server.process.wait(30) == 1
    server._reader.join(5)
    assert server.lines == [line for line in server.lines if "Traceback" not in line]
    assert any(f"wsgw: error: port {port} on 127.0.0.1 is already in use" in line for line in server.lines)


def test_bad_app_file_errors_name_the_field(tmp_path: Path) -> None:
    app = tmp_path / "wsgw.json"
    (tmp_path / "code").mkdir()
    app.write_text(json.dumps({"functions": {"F": {"handler": "missing.handler", "codeUri": "code"}}}))
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(app), "--tls-dir", str(tmp_path / "tls")])
    assert result.exit_code == 1
    assert "wsgw: error: functions.F.handler: no file missing.py in" in result.output
    app.write_text("{not json")
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(app)])
    assert result.exit_code == 1 and "not valid JSON (line 1" in result.output


def test_help_lists_run_local() -> None:
    result = CliRunner().invoke(cli.main, ["--help"])
    assert result.exit_code == 0 and "run-local" in result.output
    result = CliRunner().invoke(cli.main, ["run-local", "--help"])
    for flag in ("--host", "--port", "--stage", "--aws-endpoint-url", "--no-reload", "--template"):
        assert flag in result.output


def test_console_script_is_installed() -> None:
    wsgw = Path(sys.executable).parent / "wsgw"
    result = subprocess.run([str(wsgw), "--help"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0 and "run-local" in result.stdout



@pytest.mark.usefixtures("no_aws")
def test_deploy_without_credentials_fails_fast_and_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fast: nothing that can take long is tried (no network connection, no cdk run).
    from emulator.template import cdk_cli

    attempts: list[object] = []

    def no_network(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("the test forbids network connections")

    def no_cdk(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"cdk ran: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(cdk_cli, "deploy", no_cdk)
    monkeypatch.setattr(subprocess, "run", no_cdk)
    result = CliRunner().invoke(cli.main, ["deploy"])
    assert result.exit_code == 1
    assert "wsgw: error: cannot deploy yet: no AWS credentials" in result.output
    assert "Traceback" not in result.output
    assert attempts == []


@pytest.mark.usefixtures("no_aws")
def test_destroy_without_credentials_fails_clearly() -> None:
    result = CliRunner().invoke(cli.main, ["destroy"])
    assert result.exit_code == 1 and "cannot destroy: no AWS credentials" in result.output


def test_access_flags_are_checked(tmp_path: Path) -> None:
    app = ROOT / "tests" / "apps" / "probe" / "wsgw.json"
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(app), "--iam-credentials", "nosecret"])
    assert result.exit_code == 2 and "--iam-credentials 'nosecret': expected ACCESS_KEY:SECRET" in result.output
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(app),
                                           "--api-keys-file", str(tmp_path / "missing.txt")])
    assert result.exit_code == 1 and "--api-keys-file" in result.output and "No such file" in result.output


def test_shutdown_waits_for_disconnect_and_a_second_signal_stops_waiting(
    run_local: type[RunLocal], tmp_path: Path,
) -> None:
    # A $disconnect that takes 30 s: run-local reports what it waits for, still
    # answers @connections (here 410 for an id that is gone) and refuses new WebSocket
    # connections (503) meanwhile; a second SIGINT ends the wait, exit status 0, while
    # the $disconnect has not finished (it would write ``finished``).
    code = tmp_path / "code"
    code.mkdir()
    finished = tmp_path / "finished"
    (code / "slow.py").write_text(
        "import time\n\ndef disconnect(event, context):\n    time.sleep(30)\n"
        f"    open({str(finished)!r}, 'w').close()\n    return {{'statusCode': 200}}\n"
    )
    (tmp_path / "wsgw.json").write_text(json.dumps({
        "name": "slow", "stage": "dev",
        "functions": {"Disconnect": {"handler": "slow.disconnect", "codeUri": "code", "timeout": 60}},
        "routes": {"$disconnect": {"function": "Disconnect"}},
    }))
    server = run_local("--port", "0", "--no-reload", "--template", str(tmp_path / "wsgw.json"))
    url = server.wait_for(r"WebSocket URL: (ws://\S+)").group(1)
    management_url = url.replace("ws://", "http://")
    with connect(url) as ws:
        server.process.send_signal(signal.SIGINT)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=20)
    server.wait_for(r"wsgw: waiting for 1 invocation\(s\) to finish \(Ctrl-C again to stop waiting\)", timeout=20)
    assert server.process.poll() is None
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10)
    assert refused.value.response.status_code == 503
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=management_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(60) == 0
    assert not finished.exists()  # it stopped waiting: the $disconnect was cut short
    server.wait_for(r"wsgw: stopped; 1 invocation\(s\) cut short")


def _help_examples() -> list[str]:
    """The ``wsgw ...`` lines of the commands' example blocks (click's ``\\b`` paragraphs)."""
    found = []
    for command in cli.commands().values():
        for paragraph in (command.help or "").split("\n\n"):
            if paragraph.lstrip().startswith("\b"):
                for line in paragraph.splitlines():
                    line = line.split(" # ")[0].strip()
                    if "wsgw " in line:
                        found.append(line[line.index("wsgw "):])
    return found


@pytest.mark.parametrize("example", _help_examples())
def test_every_example_in_the_help_is_a_valid_command_line(example: str) -> None:
    import shlex

    name, *args = shlex.split(example)[1:]
    command = cli.commands()[name]
    root = click.Context(cli.main, info_name="wsgw", **cli.main.context_settings)  # as `wsgw` itself builds it
    command.make_context(name, args, parent=root)  # raises UsageError for a bad option or argument


def test_every_command_has_an_example_and_takes_h() -> None:
    for name, command in cli.commands().items():
        assert "Example" in (command.help or ""), name
        assert CliRunner().invoke(cli.main, [name, "-h"]).exit_code == 0, name


def test_a_command_imports_only_its_own_module() -> None:
    # `wsgw post` must not pay for importing the gateway, nor `wsgw run-local` for the
    # admin commands' modules: the group imports a command's module when it is asked for.
    probe = ("import sys, click, cli; ctx = click.Context(cli.main); "
             "before = sorted(m for m in ('emulator.app', 'emulator.commands.admin') if m in sys.modules); "
             "cli.main.get_command(ctx, 'post'); "
             "after = sorted(m for m in ('emulator.app', 'emulator.commands.admin') if m in sys.modules); "
             "print(before, after)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["[]", "['emulator.commands.admin']"]
    assert [name for name, _ in cli.commands().items()][:2] == ["run-local", "init"]  # the docs' order
    assert cli.main.get_command(click.Context(cli.main), "no-such-command") is None
