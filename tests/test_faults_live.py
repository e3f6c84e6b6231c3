"""Faults and security against a LIVE gateway (tests/apps/faulty): real sockets, real
worker processes, the real embedded moto, run-local's own console.

Worker faults (SIGKILL mid-invocation, an endless loop, sys.exit/os._exit, floods of
output), a client that vanishes without a close frame, the embedded AWS services
dying under the gateway, and what must never be reachable or printed: paths outside
the API, the functions' secret environment, the local CA's private key.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from emulator.app import GatewayThread, GatewayOptions, LocalGateway
from emulator.tools.console import Console
from emulator.core.ids import is_aws_id
from emulator.core.invocation import Failed, Invoke, Outcome, Succeeded, TimedOut
from emulator.template.loader import load_model

from conftest import DEADLINE_S, wait_until

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = Path(__file__).resolve().parent / "apps" / "faulty"
FAULTY = APP_DIR / "wsgw.json"
SECRETS = APP_DIR / "secrets.json"

MB = 1024 * 1024
LOG_LINE_LIMIT = 256 * 1024  # CloudWatch's largest log event; longer lines are cut there
KEPT_LINE = 300_000  # the recorder keeps lines up to this long whole


# -- a gateway wired like run-local, with bounded recorders ------------------------------


class Recorder:
    """The gateway's function log and invocation observer for these tests.

    Bounded on purpose: flood lines are counted, not kept, and an over-long line is
    kept as its head and tail (the test process is the gateway's process, so what
    the recorder keeps would count in the gateway's RSS)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.longest = 0
        self.flood_lines = 0
        self.invocations: list[tuple[Invoke, Outcome]] = []
        self._lock = threading.Lock()

    def line(self, function: str, line: str) -> None:
        with self._lock:
            self.longest = max(self.longest, len(line))
            if line.startswith("FLOOD "):
                self.flood_lines += 1
            elif len(line) <= KEPT_LINE:
                self.lines.append((function, line))
            else:
                self.lines.append((function, f"{line[:100]}<<{len(line)} characters>>{line[-100:]}"))

    def observe(self, invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        with self._lock:
            self.invocations.append((invoke, outcome))

    def text(self) -> str:
        with self._lock:
            return "\n".join(line for _, line in self.lines)

    def outcome(self, request_id: str, timeout: float = DEADLINE_S) -> Outcome:
        invoke, outcome = self.wait_invocation(lambda i: i.request_id == request_id, timeout)
        return outcome

    def wait_invocation(self, predicate: Callable[[Invoke], bool], timeout: float = DEADLINE_S) -> tuple[Invoke, Outcome]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for invoke, outcome in self.invocations:
                    if predicate(invoke):
                        return invoke, outcome
            time.sleep(0.01)
        raise AssertionError("no such invocation within the timeout")

    def wait_line(self, predicate: Callable[[str], bool], timeout: float = DEADLINE_S) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for _, line in self.lines:
                    if predicate(line):
                        return line
            time.sleep(0.01)
        raise AssertionError("no matching function log line within the timeout")


class ConsoleOutput:
    """What run-local's console writes, bounded like :class:`Recorder`."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            for line in text.split("\n"):  # an invocation's lines come in one write
                self.count += 1
                if "FLOOD " not in line:
                    self.lines.append(line if len(line) <= KEPT_LINE else line[:100] + "<<long>>")

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)


@dataclass
class Live:
    background: GatewayThread
    recorder: Recorder
    console: ConsoleOutput
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def local(self) -> LocalGateway:
        return self.background.local

    @property
    def ws_url(self) -> str:
        return self.local.ws_url

    def open_connection_ids(self) -> set[str]:
        server = self.local.listener
        assert server is not None
        return self.background.call(server.connections.ids)

    def worker_pids(self, function: str) -> list[int]:
        invoker = self.local.invoker
        assert invoker is not None
        return self.background.call(lambda: invoker.worker_pids()[function])


def _start(app: Path, tls_dir: Path) -> Live:
    """Serve ``app`` with run-local's console (verbose) and a recorder on every sink."""
    recorder, output = Recorder(), ConsoleOutput()
    console = Console(verbose=True, write=output.write)

    local = LocalGateway(load_model(app), GatewayOptions(port=0, tls_dir=tls_dir),
                         function_log=recorder.line, observer=recorder.observe, reload_log=console.message)
    console.subscribe(local.activity)  # as run-local wires it: the console hears the records
    background = GatewayThread(local)
    background.start()
    return Live(background, recorder, output)


@pytest.fixture(scope="module")
def faulty(tls_dir: Path) -> Iterator[Live]:
    live = _start(FAULTY, tls_dir)
    yield live
    live.background.stop()
    print("\nfault figures:", json.dumps({k: round(v, 3) for k, v in live.figures.items()}))  # shown with -s


# -- helpers -------------------------------------------------------------------------------


def _send(ws: ClientConnection, action: str, **body: Any) -> None:
    ws.send(json.dumps({"action": action, **body}))


def _call(ws: ClientConnection, action: str, timeout: float = DEADLINE_S, **body: Any) -> str:
    _send(ws, action, **body)
    reply = ws.recv(timeout=timeout)
    assert isinstance(reply, str)
    return reply


def _connection_id(ws: ClientConnection) -> str:
    connection_id = json.loads(_call(ws, "whoami"))["connectionId"]
    assert isinstance(connection_id, str)
    return connection_id


def _error_frame(frame: str, message: str, connection_id: str) -> str:
    """Check ``frame`` is API Gateway's error frame, byte for byte; return its requestId."""
    request_id = json.loads(frame)["requestId"]
    assert is_aws_id(request_id)
    assert frame == f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'
    return str(request_id)


def _wait_pid(path: Path, timeout: float = DEADLINE_S) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return int(path.read_text(encoding="ascii"))
        time.sleep(0.01)
    raise AssertionError(f"the handler never wrote {path}")


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited and been reaped (a zombie still has /proc/<pid>)."""
    return not Path(f"/proc/{pid}").exists()


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class _RssSampler:
    """The peak RSS of this process (the gateway runs in it) while it runs."""

    def __init__(self) -> None:
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, _rss_bytes())


@dataclass
class Served:
    """What :func:`_serve_bystander_until` saw: the victim's message, the bystander's
    round trips (``before_reply`` of them checked done while the victim still had
    nothing), and the slowest round trip in seconds (a figure, not asserted)."""

    reply: str
    round_trips: int
    before_reply: int
    slowest: float


def _serve_bystander_until(
    bystander: ClientConnection, victim: ClientConnection, timeout: float = DEADLINE_S,
) -> Served:
    """Echo round trips on ``bystander`` until ``victim`` receives a message."""
    deadline = time.monotonic() + timeout
    round_trips, before_reply, slowest = 0, 0, 0.0
    while True:
        assert time.monotonic() < deadline, f"no reply within {timeout} s ({round_trips} round trips)"
        message = json.dumps({"action": "echo", "n": round_trips})
        started = time.monotonic()
        bystander.send(message)
        assert bystander.recv(timeout=DEADLINE_S) == message
        slowest = max(slowest, time.monotonic() - started)
        round_trips += 1
        try:
            reply = victim.recv(timeout=0.02)
        except TimeoutError:
            before_reply += 1  # this round trip was over while the victim still waited
            continue
        assert isinstance(reply, str)
        return Served(reply, round_trips, before_reply, slowest)


# -- 1. SIGKILL of a worker mid-invocation -------------------------------------------------


def test_sigkilled_worker_is_an_internal_server_error_and_is_replaced(faulty: Live, tmp_path: Path) -> None:
    with connect(faulty.ws_url) as ws:
        connection_id = _connection_id(ws)
        pidfile = tmp_path / "block.pid"
        _send(ws, "block", pidfile=str(pidfile), seconds=30)
        pid = _wait_pid(pidfile)
        assert pid in faulty.worker_pids("Block")
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        frame = ws.recv(timeout=DEADLINE_S)
        faulty.figures["sigkill_to_error_frame_s"] = time.monotonic() - killed_at
        assert isinstance(frame, str)
        request_id = _error_frame(frame, "Internal server error", connection_id)
        outcome = faulty.recorder.outcome(request_id)
        assert isinstance(outcome, Failed) and outcome.error_type == "Runtime.ExitError"
        assert outcome.error_message == f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
        faulty.recorder.wait_line(lambda line: line == outcome.error_message)
        assert _gone(pid) and pid not in faulty.worker_pids("Block")

        # The same connection and function again: a new worker (cold start) serves it.
        started = time.monotonic()
        reply = _call(ws, "block", seconds=0)
        faulty.figures["replacement_worker_first_reply_s"] = time.monotonic() - started
        assert reply.startswith("pid:") and int(reply[4:]) != pid
        assert faulty.worker_pids("Block") == [int(reply[4:])]
    with connect(faulty.ws_url) as other:
        assert _call(other, "block", seconds=0) == reply  # the warm replacement


# -- 2. a handler that never returns -----------------------------------------------------


def test_endless_loop_times_out_while_other_connections_are_served(faulty: Live, tmp_path: Path) -> None:
    with connect(faulty.ws_url) as spinner, connect(faulty.ws_url) as bystander:
        connection_id = _connection_id(spinner)
        assert _call(bystander, "echo") == json.dumps({"action": "echo"})
        pidfile = tmp_path / "spin.pid"
        sent_at = time.monotonic()
        _send(spinner, "spin", pidfile=str(pidfile), spin=True)
        pid = _wait_pid(pidfile)
        served = _serve_bystander_until(bystander, spinner)
        elapsed = time.monotonic() - sent_at
        faulty.figures.update(spin_round_trips=served.round_trips, spin_slowest_round_trip_s=served.slowest,
                              spin_error_frame_s=elapsed)
        # The function's 1 s timeout ended it ("Internal server error"; the 29 s
        # integration timeout would say "Endpoint request timed out"), not earlier.
        request_id = _error_frame(served.reply, "Internal server error", connection_id)
        outcome = faulty.recorder.outcome(request_id)
        assert isinstance(outcome, TimedOut) and outcome.timeout_s == 1.0
        assert elapsed >= 1.0
        # The gateway kept serving while the loop spun (one core burnt by it): a round
        # trip was over while the spinner still waited for its frame.
        assert served.before_reply >= 1, served
        faulty.recorder.wait_line(lambda line: line.endswith(f"{request_id} Task timed out after 1.00 seconds"))
        assert _gone(pid)  # killed and reaped before the frame was sent
        reply = _call(spinner, "spin")
        assert reply.startswith("pid:") and int(reply[4:]) != pid


# -- 3. handlers that end their own process ---------------------------------------------


@pytest.mark.parametrize("how, status", [("sys.exit", 3), ("os._exit", 1)])
def test_handler_that_exits_is_an_internal_server_error(faulty: Live, how: str, status: int) -> None:
    with connect(faulty.ws_url) as ws:
        connection_id = _connection_id(ws)
        before = faulty.worker_pids("Exit")
        request_id = _error_frame(_call(ws, "exit", how=how), "Internal server error", connection_id)
        outcome = faulty.recorder.outcome(request_id)
        assert isinstance(outcome, Failed) and outcome.error_type == "Runtime.ExitError"
        assert outcome.error_message.endswith(f"Runtime exited with error: exit status {status}")
        faulty.recorder.wait_line(lambda line: line == f"exiting with {how}")
        reply = _call(ws, "exit")
        assert reply.startswith("alive:") and int(reply[6:]) not in before
    with connect(faulty.ws_url) as other:
        assert _call(other, "exit") == reply


# -- 4. floods of output -------------------------------------------------------------------

# The bound on the gateway's RSS growth while a handler floods it. With output handled
# line by line (a line cut at 256 KB, the console holding at most ~1 MB per request)
# the gateway needs a few MB: pipe reads of 256 KB, one capped line, websockets
# buffers. Holding the flood (50 MB of lines, or a 20 MB line, copied while it is
# assembled and decoded) costs more than 40 MB, so 32 MB tells the two apart with
# room for allocator noise on a loaded machine.
RSS_GROWTH_BOUND = 32 * MB


@pytest.mark.parametrize("mode, mb", [("lines", 50), ("oneline", 20)])
def test_output_flood_keeps_the_gateway_responsive_and_bounded(faulty: Live, mode: str, mb: int) -> None:
    size = mb * MB
    with connect(faulty.ws_url) as flooder, connect(faulty.ws_url) as bystander:
        assert _call(flooder, "echo") and _call(bystander, "echo")  # both connected and warm
        flood_lines_before = faulty.recorder.flood_lines
        with _RssSampler() as rss:
            baseline = _rss_bytes()
            started = time.monotonic()
            _send(flooder, "flood", mode=mode, mb=mb)
            # Round trips are answered while the flood goes on (how many, and how fast,
            # depends on the machine: figures for bench/, not asserted).
            served = _serve_bystander_until(bystander, flooder, timeout=120)
            took = time.monotonic() - started
    growth = rss.peak - baseline
    faulty.figures.update({f"flood_{mode}_rss_growth_mb": growth / MB, f"flood_{mode}_s": took,
                           f"flood_{mode}_round_trips": served.round_trips, f"flood_{mode}_slowest_s": served.slowest})
    assert served.reply == f"wrote:{size}"  # the invocation completed
    assert growth < RSS_GROWTH_BOUND, f"RSS grew by {growth / MB:.1f} MB"
    invoke, outcome = faulty.recorder.wait_invocation(
        lambda i: i.route_key == "flood" and json.loads(str(i.event["body"]))["mode"] == mode)
    assert isinstance(outcome, Succeeded)
    request_id = invoke.request_id
    # Every line reached the function log, and the invocation's own lines follow it.
    faulty.recorder.wait_line(lambda line: line.startswith(f"REPORT RequestId: {request_id}\t"))
    assert f"END RequestId: {request_id}" in faulty.recorder.text().splitlines()
    assert faulty.recorder.longest <= LOG_LINE_LIMIT + 100
    if mode == "lines":
        assert faulty.recorder.flood_lines - flood_lines_before == size // 1024
    else:
        cut = f"…[truncated {size - LOG_LINE_LIMIT} bytes]"
        line = faulty.recorder.wait_line(lambda line: line.startswith("LLL"))
        assert line == "L" * LOG_LINE_LIMIT + cut
    # run-local's console printed the invocation too (after whatever it had to let go).
    assert any("  flood  Flood  ok  " in line for line in faulty.console.snapshot())


# -- 5. a client that vanishes without a close frame ---------------------------------------


def _upgrade(port: int, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall((
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode())
    return sock


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The response head and whatever came after it."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


def _masked_text(payload: bytes) -> bytes:
    assert len(payload) < 126
    mask = os.urandom(4)
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("vanish", ["reset", "fin"])
def test_client_gone_without_close_frame_is_1006_for_disconnect(faulty: Live, vanish: str) -> None:
    sock = _upgrade(faulty.local.port, f"/{faulty.local.model.stage}")
    try:
        head, received = _read_head(sock)
        assert head.startswith(b"HTTP/1.1 101")
        sock.sendall(_masked_text(b'{"action": "whoami"}'))
        while b"}" not in received:
            received += sock.recv(65536)
        assert received[0] == 0x81  # one unmasked text frame, short enough for a 1-byte length
        connection_id = json.loads(received[2:2 + received[1]])["connectionId"]
        if vanish == "reset":
            # SO_LINGER (on, 0 s): close() sends a TCP RST instead of a FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_WR)  # a FIN, still no close frame
    finally:
        sock.close()
    invoke, outcome = faulty.recorder.wait_invocation(
        lambda i: i.route_key == "$disconnect" and i.connection_id == connection_id)
    context = invoke.event["requestContext"]
    assert context["eventType"] == "DISCONNECT"
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1006, "Connection closed abnormally")
    assert isinstance(outcome, Succeeded)
    faulty.recorder.wait_line(lambda line: line == f"DISCONNECT {connection_id} 1006 Connection closed abnormally")
    assert connection_id not in faulty.open_connection_ids()


# -- 6. the embedded AWS services die under the gateway ------------------------------------


def test_unreachable_moto_is_the_handler_s_own_boto3_error(faulty: Live) -> None:
    # Kills the module gateway's moto for good: no other test here needs AWS, and
    # each of them, run after this one, shows the gateway still serving.
    aws = faulty.local.aws
    assert aws is not None and aws.process is not None
    with connect(faulty.ws_url) as ws:
        connection_id = _connection_id(ws)
        assert json.loads(_call(ws, "dynamo")) == ["faulty_items"]  # reachable first
        moto_pid = aws.process.pid
        os.kill(moto_pid, signal.SIGKILL)
        wait_until(lambda: _gone(moto_pid), message="moto was not reaped")
        started = time.monotonic()
        frame = _call(ws, "dynamo")
        faulty.figures["dynamo_error_s"] = time.monotonic() - started
        request_id = _error_frame(frame, "Internal server error", connection_id)
        outcome = faulty.recorder.outcome(request_id)
        assert isinstance(outcome, Failed) and outcome.error_type == "EndpointConnectionError"
        assert outcome.error_message.startswith(f'Could not connect to the endpoint URL: "{aws.endpoint_url}/"')
        faulty.recorder.wait_line(lambda line: line.startswith("[ERROR] EndpointConnectionError: "))
        # Routes that need no AWS keep working, on this connection and new ones.
        assert _call(ws, "echo", n=1) == json.dumps({"action": "echo", "n": 1})
    with connect(faulty.ws_url) as other:
        assert _call(other, "echo", n=2) == json.dumps({"action": "echo", "n": 2})


# -- 7a. nothing outside the API is reachable ----------------------------------------------

_SIGNED = ("AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/execute-api/aws4_request, "
           "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
_OUTSIDE = [
    "/", "/other-stage/@connections/x", "/../etc/passwd", "/%2e%2e/", "/%2e%2e/%2e%2e/etc/passwd",
    "/test/@connections/../../x", "/test/../../../../etc/passwd", "//etc/passwd",
    "/test/@connections/x/../../../../etc/passwd", "/etc/passwd", "/tests/apps/faulty/faulty.py",
    "http://127.0.0.1/../etc/passwd",
]


def _http(port: int, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target, body=b"{}" if method == "POST" else None, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("target", _OUTSIDE)
def test_http_paths_outside_the_api_are_forbidden(faulty: Live, method: str, target: str) -> None:
    port = faulty.local.port
    # Unsigned: API Gateway's answer to any unauthenticated call on the host.
    status, headers, body = _http(port, method, target, {})
    assert (status, headers.get("x-amzn-errortype")) == (403, "ForbiddenException")
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    # Signed (any SigV4-shaped header is accepted locally): a wrong path is Forbidden.
    status, headers, body = _http(port, method, target, {"Authorization": _SIGNED})
    assert (status, headers.get("x-amzn-errortype"), json.loads(body)) == (
        403, "ForbiddenException", {"message": "Forbidden"})


def test_encoded_traversal_in_a_connection_id_is_only_a_bad_id(faulty: Live) -> None:
    target = f"/{faulty.local.model.stage}/@connections/..%2F..%2Fetc%2Fpasswd"
    status, headers, body = _http(faulty.local.port, "GET", target, {"Authorization": _SIGNED})
    assert (status, headers.get("x-amzn-errortype")) == (400, "BadRequestException")
    assert json.loads(body) == {"message": "Invalid connectionId: ../../etc/passwd"}


def test_lambda_api_path_traversal_is_an_unknown_function(faulty: Live) -> None:
    target = "/2015-03-31/functions/..%2F..%2F..%2Fetc%2Fpasswd/invocations"
    status, headers, body = _http(faulty.local.port, "POST", target, {})
    assert (status, headers.get("x-amzn-errortype")) == (404, "ResourceNotFoundException")
    assert b"root:" not in body and json.loads(body)["message"].startswith("Function not found: ")


@pytest.mark.parametrize("path", ["/", "/other-stage", "/test/x", "/../etc/passwd", "/test/../other",
                                  "/%2e%2e/etc/passwd", "/test/@connections/x", "/etc/passwd"])
def test_websocket_upgrade_outside_the_stage_is_403(faulty: Live, path: str) -> None:
    sock = _upgrade(faulty.local.port, path)
    try:
        head, rest = _read_head(sock)
        deadline = time.monotonic() + DEADLINE_S
        while len(rest) < len(b'{"message":"Forbidden"}') and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 403 ")
    assert rest == b'{"message":"Forbidden"}'


def test_websocket_client_upgrade_to_another_stage_is_refused(faulty: Live) -> None:
    with pytest.raises(InvalidStatus) as refused:
        with connect(faulty.ws_url.rsplit("/", 1)[0] + "/prod"):
            pass
    assert refused.value.response.status_code == 403


# -- 7b/7c. secrets never reach run-local's output -------------------------------------------


class _RunLocal:
    """``cli.py run-local -v`` in a child process; stdout and stderr collected apart."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "run-local", "-v", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(pipe, into), daemon=True)
                         for pipe, into in ((self.process.stdout, self.out), (self.process.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(pipe: Any, into: list[str]) -> None:
        for line in pipe:
            into.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join([*self.out, *self.err])

    def wait_for(self, needle: str, timeout: float = 30.0, after: int = 0) -> int:
        """Wait for a stdout line containing ``needle`` (from line ``after`` on); its index."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, line in enumerate(list(self.out)[after:], after):
                if needle in line:
                    return index
            assert self.process.poll() is None, self.text()
            time.sleep(0.02)
        raise AssertionError(f"no line with {needle!r} in:\n{self.text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
            for reader in self._readers:
                reader.join(5)
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()
        return status


def test_secrets_and_the_ca_key_never_reach_run_local_output(faulty: Live, tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    definition = app / SECRETS.name
    config = json.loads(definition.read_text(encoding="utf-8"))
    secrets = {"s3cr3t-value", config["functions"]["Secrets"]["environment"]["AWS_SECRET_ACCESS_KEY"],
               "tok-9f8e7d6c-from-env-vars", "n3w-s3cr3t-after-reload"}
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"Secrets": {"API_TOKEN": "tok-9f8e7d6c-from-env-vars"}}), encoding="utf-8")
    env = {**os.environ, "WSGW_STATE_FILE": str(tmp_path / "state.json"), "NO_COLOR": "1"}
    tls = tmp_path / "tls"
    # The faulty gateway's AWS endpoint (its moto may be dead by now: these handlers
    # never call AWS) spares run-local starting a moto of its own.
    endpoint = faulty.local.aws_endpoint_url
    assert endpoint is not None
    server = _RunLocal("--template", str(definition), "--port", "0", "--tls-dir", str(tls),
                       "--env-vars", str(env_vars), "--aws-endpoint-url", endpoint, env=env)
    try:
        url_line = server.out[server.wait_for("WebSocket URL:")]
        server.wait_for("Ready.")
        url = url_line.split()[-1]
        with connect(url, additional_headers={"X-Probe": "verbose"}) as ws:
            reply = json.loads(_call(ws, "secrets"))
            assert reply == {"db_password_sha256": hashlib.sha256(b"s3cr3t-value").hexdigest(),
                             "api_token_length": len("tok-9f8e7d6c-from-env-vars")}
            assert json.loads(_call(ws, "crash"))["message"] == "Internal server error"
            assert json.loads(_call(ws, "spin", spin=True))["message"] == "Internal server error"
            # A hot reload with a new secret in the definition.
            mark = len(server.out)
            for spec in config["functions"].values():
                spec["environment"]["DB_PASSWORD"] = "n3w-s3cr3t-after-reload"
            definition.write_text(json.dumps(config), encoding="utf-8")
            server.wait_for("wsgw: reloaded the app definition", after=mark)

            reply = json.loads(_call(ws, "secrets"))
            assert reply["db_password_sha256"] == hashlib.sha256(b"n3w-s3cr3t-after-reload").hexdigest()
        assert server.stop() == 0
    finally:
        server.stop()
    output = server.text()
    # It did print what -v prints, the crash's traceback, the timeout and the reloads...
    for expected in ("  secrets  Secrets  ok  ", "event: {", "X-Probe", "[ERROR] RuntimeError: crashed on purpose",
                     "Task timed out after 1.00 seconds", "wsgw: reloaded", "using the database password",
                     "wsgw: stopped."):
        assert expected in output, expected
    # ...and never a secret value of the functions' environment,
    for secret in secrets:
        assert secret not in output, secret
    # nor the local CA's private key (mode 0600, created by this run).
    ca_key = tls / "ca-key.pem"
    assert ca_key.stat().st_mode & 0o777 == 0o600
    pem = ca_key.read_text(encoding="ascii")
    assert "PRIVATE KEY" not in output
    for line in pem.splitlines():
        if not line.startswith("-----"):
            assert line not in output
