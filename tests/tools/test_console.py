"""run-local's output (emulator/tools/console.py) and --debug-function."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import DEADLINE_S, wait_until
from websockets.sync.client import connect

import cli
from emulator.app import GatewayOptions, GatewayThread, LocalGateway
from emulator.commands.run_local_serve import debug_overrides
from emulator.core.activity import Invocation, LogLine, MessageRefused, Refused
from emulator.core.invocation import Failed, Invoke, Succeeded, TimedOut
from emulator.core.model import FunctionSpec
from emulator.runtime.invoker import DEBUGPY_ENV, Invoker
from emulator.template.env_overrides import EnvOverrides
from emulator.template.loader import load_model
from emulator.tools.console import Console, use_colour

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "apps" / "probe" / "wsgw.json"
HANDLERS = Path(__file__).parents[1] / "invoker_handlers"
NOW = datetime(2024, 5, 1, 14, 2, 11, 357000).timestamp()


def make_console(**kwargs: Any) -> tuple[Console, list[str]]:
    out: list[str] = []
    return Console(write=lambda text: out.extend(text.split("\n")), clock=lambda: NOW, **kwargs), out


def invoke(request_id: str = "r1", function: str = "Echo", route: str = "echo") -> Invoke:
    return Invoke(function=function, event={"body": "hi"}, request_id=request_id,
                  connection_id="Yx3kQc0BIAMF1hQ=", route_key=route)


def run(console: Console, request_id: str = "r1", function: str = "Echo", *lines: str) -> None:
    console.function_line(function, f"START RequestId: {request_id} Version: $LATEST")
    for line in lines:
        console.function_line(function, line)
    console.function_line(function, f"END RequestId: {request_id}")
    console.function_line(function, f"REPORT RequestId: {request_id}\tDuration: 4.20 ms")


def test_text_line_per_invocation_with_handler_lines_indented_under_it() -> None:
    console, out = make_console()
    run(console, "r1", "Echo", "hello from the handler")
    assert out == []  # held until the outcome
    console.invocation(Invocation(NOW, invoke(), Succeeded({"statusCode": 200}, 4.21), False))
    assert out == [
        "14:02:11.357  Yx3kQc0BIAMF1hQ=  echo  Echo  ok  4.2 ms",
        "    [Echo] START RequestId: r1 Version: $LATEST",
        "    [Echo] hello from the handler",
        "    [Echo] END RequestId: r1",
        "    [Echo] REPORT RequestId: r1\tDuration: 4.20 ms",
    ]


def test_an_invocation_and_its_lines_are_one_write() -> None:
    writes: list[str] = []
    console = Console(write=writes.append, clock=lambda: NOW)
    run(console, "r1", "Echo", "hello from the handler")
    console.invocation(Invocation(NOW, invoke(), Succeeded({"statusCode": 200}, 4.21), False))
    assert len(writes) == 1 and writes[0].count("\n") == 4  # the invocation line and its four lines
    console.invocation(Invocation(NOW, invoke("r2"), Succeeded(None, 1.0), False))  # printed nothing
    assert len(writes) == 2 and "\n" not in writes[1]



def test_print_after_prints_one_turns_records_after_it_in_one_write() -> None:
    writes: list[str] = []
    scheduled: list[Any] = []
    console = Console(write=writes.append, clock=lambda: NOW)
    console.print_after(scheduled.append)
    for line in ("START RequestId: r1 Version: $LATEST", "hello from the handler", "END RequestId: r1",
                 "REPORT RequestId: r1\tDuration: 4.20 ms"):
        console.receive(LogLine(NOW, "Echo", line))
    console.receive(Invocation(NOW, invoke(), Succeeded({"statusCode": 200}, 4.21), False))
    console.receive(Invocation(NOW, invoke("r2"), Succeeded(None, 1.0), False))
    assert writes == [] and len(scheduled) == 1  # one callback for the turn's records
    scheduled.pop()()
    assert writes == [
        "14:02:11.357  Yx3kQc0BIAMF1hQ=  echo  Echo  ok  4.2 ms\n"
        "    [Echo] START RequestId: r1 Version: $LATEST\n"
        "    [Echo] hello from the handler\n"
        "    [Echo] END RequestId: r1\n"
        "    [Echo] REPORT RequestId: r1\tDuration: 4.20 ms\n"
        "14:02:11.357  Yx3kQc0BIAMF1hQ=  echo  Echo  ok  1.0 ms"
    ]
    console.receive(Invocation(NOW, invoke("r3"), Succeeded(None, 1.0), False))
    assert len(scheduled) == 1  # the next turn's records: a callback of their own
    console.flush()
    console.flush()  # nothing left: no write
    assert len(writes) == 2 and "r3" not in writes[1] and writes[1].endswith("1.0 ms")
    scheduled.pop()()  # the callback finds nothing left
    assert len(writes) == 2


def test_a_message_is_printed_after_the_records_heard_before_it() -> None:
    console, out = make_console()
    console.print_after(lambda callback: None)  # a turn that never ends: message() must flush
    console.receive(Invocation(NOW, invoke(), Succeeded(None, 1.0), False))
    console.message("wsgw: stopped.")
    assert out == ["14:02:11.357  Yx3kQc0BIAMF1hQ=  echo  Echo  ok  1.0 ms", "wsgw: stopped."]


def test_a_record_that_cannot_be_printed_does_not_keep_the_others(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    console, out = make_console()
    console.print_after(lambda callback: None)
    printed = console.invocation

    def invocation(record: Invocation) -> None:
        if record.invoke.request_id == "r2":
            raise RuntimeError("a bug")
        printed(record)

    monkeypatch.setattr(console, "invocation", invocation)
    for request_id in ("r1", "r2", "r3"):
        console.receive(Invocation(NOW, invoke(request_id), Succeeded(None, 1.0), False))
    console.flush()
    assert len(out) == 2 and "could not print Invocation" in caplog.text


def test_run_local_writes_a_reply_before_printing_its_invocation(tls_dir: Path) -> None:
    """The console runs after the loop's turn (print_after): when the echo's line is
    written, the reply frame is already in the client's socket."""
    peek: socket.socket | None = None  # the client's socket, never waiting
    seen: list[tuple[str, bytes]] = []  # each write, and what the client's socket held then

    def write(text: str) -> None:
        held = b""
        if peek is not None:
            try:
                held = peek.recv(65536, socket.MSG_PEEK)
            except OSError:  # nothing there (BlockingIOError), or closed at the end
                pass
        seen.append((text, held))

    console = Console(write=write)
    client: socket.socket | None = None
    local = LocalGateway(load_model(PROBE), GatewayOptions(port=0, tls_dir=tls_dir), function_log=None)
    console.subscribe(local.activity)
    background = GatewayThread(local)
    console.print_after(background.loop.call_soon)
    background.start()
    try:
        client = socket.create_connection(("127.0.0.1", local.port), timeout=DEADLINE_S)
        peek = socket.socket(fileno=os.dup(client.fileno()))
        peek.setblocking(False)
        client.sendall(f"GET /{local.model.stage} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(1)
        assert head.startswith(b"HTTP/1.1 101")
        payload = b'{"action": "echo", "n": 1}'
        mask = b"\x01\x02\x03\x04"
        client.sendall(bytes((0x81, 0x80 | len(payload))) + mask
                       + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload)))
        line = wait_until(lambda: next((entry for entry in seen if "  echo  Echo  ok" in entry[0]), None))
        assert line[1] == bytes((0x81, len(payload))) + payload
    finally:
        for sock in (client, peek):
            if sock is not None:
                sock.close()
        background.stop()


@pytest.mark.parametrize(("outcome", "injected", "status"), [
    (Failed("Runtime.ExitError", "boom", 1.0), False, "error Runtime.ExitError"),
    (TimedOut(1.0, 1000.0), False, "timeout"),
    (Succeeded(None, 0.0), True, "injected"),
])
def test_statuses(outcome: Any, injected: bool, status: str) -> None:
    console, out = make_console()
    console.invocation(Invocation(NOW, invoke(), outcome, injected))
    assert out[0].split("  ")[4] == status


def test_colour_only_when_asked_and_no_color_wins() -> None:
    console, out = make_console(colour=True)
    console.invocation(Invocation(NOW, invoke(), Failed("ValueError", "x", 1.0), False))
    assert "\033[31merror ValueError\033[0m" in out[0]
    plain, out = make_console(colour=False)
    plain.invocation(Invocation(NOW, invoke(), Succeeded(None, 1.0), False))
    assert "\033[" not in out[0]

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert use_colour(Tty(), {}) is True
    assert use_colour(Tty(), {"NO_COLOR": ""}) is False  # any value, even empty
    assert use_colour(io.StringIO(), {}) is False


def test_json_lines() -> None:
    console, out = make_console(fmt="json")
    console.message("wsgw: starting")
    run(console, "r1", "Echo", "a line")
    console.invocation(Invocation(NOW, invoke(), Failed("KeyError", "'x'", 2.5), False))
    records = [json.loads(line) for line in out]
    assert [r["type"] for r in records] == ["message", "invocation", "log", "log", "log", "log"]
    event = records[1]
    assert event == {"time": event["time"], "type": "invocation", "connectionId": "Yx3kQc0BIAMF1hQ=",
                     "route": "echo", "function": "Echo", "requestId": "r1", "status": "error",
                     "durationMs": 2.5, "errorType": "KeyError",
                     "integrationType": "AWS_PROXY", "target": "Echo", "integrationStatus": None}
    assert event["time"].endswith("Z")
    assert [r["line"] for r in records[2:]] == [
        "START RequestId: r1 Version: $LATEST", "a line", "END RequestId: r1", "REPORT RequestId: r1\tDuration: 4.20 ms"]
    assert records[3]["requestId"] == "r1" and records[3]["connectionId"] == "Yx3kQc0BIAMF1hQ="


def test_a_refused_handshake_is_one_line_with_its_reason() -> None:
    refusal = Refused(NOW, "/dev", "127.0.0.1", 403, "API key required: no x-api-key header")
    console, out = make_console(quiet=True)  # refusals are not handler lines: quiet keeps them
    console.refusal(refusal)
    assert out == ["14:02:11.357  127.0.0.1  GET /dev  refused 403  API key required: no x-api-key header"]
    console, out = make_console(fmt="json")
    console.refusal(refusal)
    record = json.loads(out[0])
    assert record == {"time": record["time"], "type": "refusal", "sourceIp": "127.0.0.1", "path": "/dev",
                      "status": 403, "reason": "API key required: no x-api-key header"}


def test_a_message_refused_by_its_route_is_one_line_with_its_reason() -> None:
    refusal = MessageRefused(NOW, "Yx3kQc0BIAMF1hQ=", "sendMessage", 429, "route sendMessage throttled (burst 5, rate 2/s)")
    console, out = make_console(quiet=True)
    console.receive(refusal)
    assert out == ["14:02:11.357  Yx3kQc0BIAMF1hQ=  sendMessage  refused 429  route sendMessage throttled (burst 5, rate 2/s)"]
    console, out = make_console(fmt="json")
    console.receive(refusal)
    record = json.loads(out[0])
    assert record == {"time": record["time"], "type": "refusal", "connectionId": "Yx3kQc0BIAMF1hQ=",
                      "route": "sendMessage", "status": 429, "reason": "route sendMessage throttled (burst 5, rate 2/s)"}


def test_quiet_drops_handler_lines_verbose_adds_the_event() -> None:
    quiet, out = make_console(quiet=True)
    run(quiet, "r1", "Echo", "chatter")
    quiet.function_line("Echo", "init output")
    quiet.invocation(Invocation(NOW, invoke(), Succeeded(None, 1.0), False))
    assert len(out) == 1 and "chatter" not in out[0]
    verbose, out = make_console(verbose=True)
    verbose.invocation(Invocation(NOW, invoke(), Succeeded(None, 1.0), False))
    assert out[1] == '    event: {"body": "hi"}'
    verbose_json, out = make_console(fmt="json", verbose=True)
    verbose_json.invocation(Invocation(NOW, invoke(), Succeeded(None, 1.0), False))
    assert json.loads(out[0])["event"] == {"body": "hi"}


def test_a_request_printing_over_1_mb_is_printed_as_it_comes() -> None:
    # A flood is not held until its outcome (run-local's memory stays bounded).
    console, out = make_console()
    line = "x" * 1023
    console.function_line("Echo", "START RequestId: r1 Version: $LATEST")
    for _ in range(1024):
        console.function_line("Echo", line)
    assert out == []  # 1 MB: still held
    console.function_line("Echo", line)
    assert len(out) == 1026 and out[0] == "[Echo] START RequestId: r1 Version: $LATEST"
    console.function_line("Echo", "END RequestId: r1")
    assert out[-1] == "[Echo] END RequestId: r1"  # from now on, as it comes
    console.invocation(Invocation(NOW, invoke(), Succeeded(None, 1.0), False))
    assert out[-2:] == ["14:02:11.357  Yx3kQc0BIAMF1hQ=  echo  Echo  ok  1.0 ms",
                        "    (its output was printed above as it came: 1027 lines, over 1 MB)"]
    as_json, records = make_console(fmt="json")
    as_json.function_line("Echo", "START RequestId: r2 Version: $LATEST")
    as_json.function_line("Echo", "y" * (1024 * 1024 + 1))
    assert [json.loads(record)["requestId"] for record in records] == ["r2", "r2"]


def test_a_killed_quiet_handler_s_timeout_line_is_attributed() -> None:
    console, out = make_console()
    # The worker holds START back until the handler prints; the invoker owes END/REPORT.
    console.function_line("Sleep", "END RequestId: r9")
    console.function_line("Sleep", "REPORT RequestId: r9\tDuration: 1000.00 ms")
    console.function_line("Sleep", "2024-05-01T12:02:12Z r9 Task timed out after 1.00 seconds")
    assert out == []
    console.invocation(Invocation(NOW, invoke("r9", "Sleep", "sleep"), TimedOut(1.0, 1000.0), False))
    assert out[1:] == [
        "    [Sleep] END RequestId: r9", "    [Sleep] REPORT RequestId: r9\tDuration: 1000.00 ms",
        "    [Sleep] 2024-05-01T12:02:12Z r9 Task timed out after 1.00 seconds",
    ]


def test_attribution_by_request_id_and_unattributable_lines() -> None:
    console, out = make_console()
    console.function_line("Echo", "init line")  # no invocation open: printed now
    assert out == ["[Echo] init line"]
    console.function_line("Echo", "START RequestId: r1 Version: $LATEST")
    console.function_line("Other", "START RequestId: r3 Version: $LATEST")
    console.function_line("Echo", "only r1 is open")
    console.function_line("Other", "other's line")
    console.function_line("Echo", "START RequestId: r2 Version: $LATEST")
    console.function_line("Echo", "[INFO]\t2024-05-01T12:02:11.355Z\tr2\tlogged by r2")  # Lambda format
    console.function_line("Echo", "ambiguous")  # two open invocations of Echo
    assert out[-1] == "[Echo] ambiguous"
    for request_id in ("r1", "r2"):
        console.function_line("Echo", f"REPORT RequestId: {request_id}\tDuration: 1 ms")
    console.function_line("Echo", "2024-05-01T12:02:12Z r2 Task timed out after 1.00 seconds")
    console.invocation(Invocation(NOW, invoke("r2"), TimedOut(1.0, 1000.0), False))
    console.invocation(Invocation(NOW, invoke("r1"), Succeeded(None, 1.0), False))
    console.invocation(Invocation(NOW, invoke("r3", "Other", "other"), Succeeded(None, 1.0), False))
    texts = [line.split("  ")[4] if not line.startswith(("    ", "[")) else line for line in out[2:]]
    assert texts == [
        "timeout", "    [Echo] START RequestId: r2 Version: $LATEST",
        "    [Echo] [INFO]\t2024-05-01T12:02:11.355Z\tr2\tlogged by r2", "    [Echo] REPORT RequestId: r2\tDuration: 1 ms",
        "    [Echo] 2024-05-01T12:02:12Z r2 Task timed out after 1.00 seconds",
        "ok", "    [Echo] START RequestId: r1 Version: $LATEST", "    [Echo] only r1 is open",
        "    [Echo] REPORT RequestId: r1\tDuration: 1 ms",
        "ok", "    [Other] START RequestId: r3 Version: $LATEST", "    [Other] other's line",
    ]


# -- --debug-function -----------------------------------------------------------------


def test_debug_env_reaches_only_that_function() -> None:
    model = load_model(PROBE)
    overrides = debug_overrides(EnvOverrides.from_pairs([("Echo.X", "1")]), model, "Echo", 6000)
    served = overrides.apply(model)
    assert served.functions["Echo"].environment[DEBUGPY_ENV] == "127.0.0.1:6000"
    assert served.functions["Echo"].environment["X"] == "1"
    assert [name for name, f in served.functions.items() if DEBUGPY_ENV in f.environment] == ["Echo"]


def test_debug_function_without_debugpy_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "debugpy" else real_find_spec(name, *a))
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(PROBE), "--tls-dir",
                                           str(tmp_path / "tls"), "--debug-function", "Echo"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "wsgw: error: --debug-function needs debugpy, which is not installed: pip install 'wsgw[debug]' (or pip install debugpy)")
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(PROBE), "--debug-function", "Nope"])
    assert result.exit_code == 1 and "no such function" in result.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_debug_worker_listens_alone_with_a_long_timeout() -> None:
    import debugpy  # noqa: F401  (a dev dependency: make test installs it)
    port = free_port()
    debugged = FunctionSpec("Debugged", "basic.echo", HANDLERS, environment={DEBUGPY_ENV: f"127.0.0.1:{port}"})
    plain = FunctionSpec("Plain", "basic.echo", HANDLERS)
    lines: list[tuple[str, str]] = []

    async def scenario() -> None:
        invoker = Invoker({"Debugged": debugged, "Plain": plain}, base_env={"PATH": os.environ["PATH"]},
                          log=lambda f, line: lines.append((f, line)))
        try:
            assert invoker._pools["Debugged"]._limit == 1 and invoker._pools["Plain"]._limit == 16
            await invoker.start()
            deadline = time.monotonic() + DEADLINE_S
            while True:  # debugpy listens once the worker has started
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S):
                        break
                except OSError:
                    assert time.monotonic() < deadline, lines
                    await asyncio.sleep(0.1)
        finally:
            await invoker.close()

    asyncio.run(scenario())
    assert ("Debugged", f"wsgw: debugpy listening on 127.0.0.1:{port}; attach your IDE to run the handler") in lines
    assert not any("debugpy" in line for function, line in lines if function == "Plain")


# -- run-local end to end -------------------------------------------------------------------


def test_run_local_json_output(tmp_path: Path) -> None:
    env = {**os.environ, "WSGW_STATE_FILE": str(tmp_path / "run-local.json"), "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "run-local", "--template", str(PROBE), "--port", "0",
         "--tls-dir", str(tmp_path / "tls"), "--log-format", "json", "--no-reload"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )
    records: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: records.extend(
        json.loads(line) for line in process.stdout or ()), daemon=True)
    reader.start()

    def wait_for(predicate: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in list(records):
                if predicate(record):
                    return record
            assert process.poll() is None, (records, process.stderr and process.stderr.read())
            time.sleep(0.05)
        raise AssertionError(records)

    try:
        url = wait_for(lambda r: "WebSocket URL" in r.get("line", ""))["line"].split()[-1]
        with connect(url) as ws:
            ws.send('{"action": "echo", "n": 1}')
            assert json.loads(ws.recv(timeout=10)) == {"action": "echo", "n": 1}
        echo = wait_for(lambda r: r["type"] == "invocation" and r["route"] == "echo")
        assert echo["function"] == "Echo" and echo["status"] == "ok" and echo["durationMs"] >= 0
        connected = wait_for(lambda r: r["type"] == "invocation" and r["route"] == "$connect")
        log = wait_for(lambda r: r["type"] == "log" and r["line"].startswith("CONNECT-EVENT "))
        assert log["requestId"] == connected["requestId"] and log["function"] == "Connect"
        assert log["connectionId"] == echo["connectionId"]
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        reader.join(5)
        assert records[-1] == {"time": records[-1]["time"], "type": "message", "line": "wsgw: stopped."}
        assert any(r["type"] == "invocation" and r["route"] == "$disconnect" for r in records)
        assert "->" not in (process.stderr.read() if process.stderr else "")  # no server INFO line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        reader.join(5)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
