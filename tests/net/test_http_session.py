"""The @connections management API over real sockets, called by boto3's own client."""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import struct
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import DEADLINE_S, RunningGateway, wait_until
from emulator.core.management import ManagementRequest
from emulator.net import http_fast_path


def _connection_id(ws: object) -> str:
    ws.send(json.dumps({"action": "dump"}))  # type: ignore[attr-defined]
    return json.loads(ws.recv(timeout=10))["event"]["requestContext"]["connectionId"]  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("secure", [True, False], ids=["https", "http"])
def test_post_delivers_one_message(probe_gateway: RunningGateway, secure: bool) -> None:
    client = probe_gateway.management(secure=secure)
    with connect(probe_gateway.ws_url) as ws:
        connection_id = _connection_id(ws)
        client.post_to_connection(ConnectionId=connection_id, Data=b"Hi! :)")
        assert ws.recv(timeout=10) == "Hi! :)"


def test_post_to_unknown_connection_raises_gone(probe_gateway: RunningGateway) -> None:
    client = probe_gateway.management()
    with pytest.raises(client.exceptions.GoneException) as gone:
        client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert gone.value.response["ResponseMetadata"]["RequestId"]


def test_post_over_128_kb_raises_payload_too_large(probe_gateway: RunningGateway) -> None:
    client = probe_gateway.management()
    with connect(probe_gateway.ws_url) as ws:
        connection_id = _connection_id(ws)
        with pytest.raises(client.exceptions.PayloadTooLargeException):
            client.post_to_connection(ConnectionId=connection_id, Data=b"x" * 131_073)
        # Exactly the limit is fine, and arrives whole (in ≤32 KB frames).
        client.post_to_connection(ConnectionId=connection_id, Data=b"y" * 131_072)
        assert ws.recv(timeout=10) == "y" * 131_072


def test_get_connection_reports_times_and_identity(probe_gateway: RunningGateway) -> None:
    client = probe_gateway.management()
    before = datetime.now(timezone.utc)
    with connect(probe_gateway.ws_url, user_agent_header="probe-agent/2.0") as ws:
        connection_id = _connection_id(ws)
        info = client.get_connection(ConnectionId=connection_id)
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "probe-agent/2.0"}
    assert before.replace(microsecond=0) <= info["ConnectedAt"] <= info["LastActiveAt"]
    assert info["LastActiveAt"] <= datetime.now(timezone.utc)


def test_get_connection_wire_format(probe_gateway: RunningGateway) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    with connect(probe_gateway.ws_url, user_agent_header=None) as ws:
        connection_id = _connection_id(ws)
        url = f"{probe_gateway.local.http_management_url}/@connections/{connection_id.replace('=', '%3D')}"
        # Unsigned: 403 like AWS's "Missing Authentication Token".
        with pytest.raises(urllib.error.HTTPError) as unsigned:
            urllib.request.urlopen(url, timeout=10)
        unsigned.value.close()
        assert unsigned.value.code == 403
        assert unsigned.value.headers["x-amzn-ErrorType"] == "ForbiddenException"
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(Credentials("AKID", "secret"), "execute-api", "us-east-1").add_auth(request)
        signed = urllib.request.Request(url, headers=dict(request.headers.items()))
        with urllib.request.urlopen(signed, timeout=10) as response:
            body = json.loads(response.read())
            date = response.headers["Date"]
    assert list(body) == ["connectedAt", "identity", "lastActiveAt"]
    # An RFC 9110 IMF-fixdate within a few seconds of now.
    assert abs(email.utils.parsedate_to_datetime(date) - datetime.now(timezone.utc)).total_seconds() < 60
    assert body["identity"] == {"sourceIp": "127.0.0.1"}  # no userAgent when none was sent
    assert body["connectedAt"].endswith("Z") and len(body["connectedAt"]) == 24


def test_delete_closes_with_1000_and_runs_disconnect(probe_gateway: RunningGateway) -> None:
    client = probe_gateway.management()
    with connect(probe_gateway.ws_url) as ws:
        connection_id = _connection_id(ws)
        response = client.delete_connection(ConnectionId=connection_id)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        _, line = probe_gateway.log.wait_for(lambda f, line: f == "Disconnect" and connection_id in line)
        ctx = json.loads(line.split(" ", 1)[1])["requestContext"]
        assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (1000, "Connection Closed Normally")
        with pytest.raises(client.exceptions.GoneException):
            client.get_connection(ConnectionId=connection_id)
        with pytest.raises(client.exceptions.GoneException):
            client.delete_connection(ConnectionId=connection_id)


def test_wrong_stage_is_forbidden(probe_gateway: RunningGateway) -> None:
    import boto3

    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=probe_gateway.local.http_management_url.rsplit("/", 1)[0] + "/prod",
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    with pytest.raises(client.exceptions.ForbiddenException):
        client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")


def test_malformed_connection_id_is_bad_request(probe_gateway: RunningGateway) -> None:
    client = probe_gateway.management()
    with pytest.raises(ClientError) as error:
        client.get_connection(ConnectionId="not-an-id")
    assert error.value.response["Error"]["Code"] == "BadRequestException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _silent_client(running: RunningGateway) -> tuple[socket.socket, str]:
    """A raw WebSocket client with a tiny receive buffer that reads nothing after
    the 101 (until the test says so), and its connection id."""
    gateway = running.local
    before = running.open_connection_ids()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(DEADLINE_S)
    sock.connect(("127.0.0.1", gateway.port))
    sock.sendall(
        f"GET /{gateway.model.stage} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    (connection_id,) = wait_until(lambda: running.open_connection_ids() - before)
    return sock, connection_id


def _read_frame(sock: socket.socket) -> tuple[bool, bytes]:
    """One unmasked server frame: (fin, payload)."""
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "connection closed"
            data += chunk
        return data

    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", exactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", exactly(8))
    return bool(first & 0x80), exactly(length)


def test_posts_to_a_client_that_stopped_reading_get_429_and_lose_nothing(probe_gateway: RunningGateway) -> None:
    # "LimitExceededException: ... the WebSocket client side buffer is full" (429).
    # Every post answered 200 must still arrive, in order, once the client reads again.
    gateway = probe_gateway.local
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=gateway.http_management_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),  # boto3 retries 429s by default
    )
    sock, connection_id = _silent_client(probe_gateway)
    with sock:
        accepted = 0
        with pytest.raises(client.exceptions.LimitExceededException) as full:
            for _ in range(1000):  # 125 MB: far beyond any socket buffer
                client.post_to_connection(ConnectionId=connection_id, Data=b"%06d" % accepted + b"x" * 131_066)
                accepted += 1
        assert full.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert accepted > 0
        # The client reads again: every accepted message, whole and in order.
        for number in range(accepted):
            parts = []
            while True:
                fin, payload = _read_frame(sock)
                parts.append(payload)
                if fin:
                    break
            message = b"".join(parts)
            assert len(message) == 131_072
            assert message[:6] == b"%06d" % number
        # Drained: posting works again.
        client.post_to_connection(ConnectionId=connection_id, Data=b"again")
        assert _read_frame(sock) == (True, b"again")


def test_route_replies_to_a_client_that_stopped_reading_stay_bounded(
    probe_gateway: RunningGateway, caplog: pytest.LogCaptureFixture,
) -> None:
    # 400 echo requests of 30 KB (12 MB of replies) from a client that reads none:
    # the gateway holds at most its client buffer for it, and keeps serving others.
    gateway = probe_gateway.local
    assert gateway.listener is not None
    server = gateway.listener
    limit = gateway.model.limits.client_buffer_bytes
    sock, connection_id = _silent_client(probe_gateway)
    peak = 0

    def backlog() -> int:
        nonlocal peak
        now = probe_gateway.background.call(lambda: server.connections.backlog(connection_id))
        peak = max(peak, now)
        return now

    def said_full() -> bool:
        backlog()
        return any(connection_id in r.getMessage() and "buffer is full" in r.getMessage() for r in caplog.records)

    with sock, caplog.at_level(logging.WARNING, logger="wsgw.server"):
        body = json.dumps({"action": "echo", "pad": "p" * 30_000}).encode()
        masked = struct.pack("!BBH", 0x81, 0x80 | 126, len(body)) + b"\0\0\0\0" + body  # zero mask key
        for _ in range(400):
            sock.sendall(masked)
        # The kernel's socket buffers take the first megabytes; then ours fills, and the
        # gateway says it drops replies (12 MB cannot fit in the socket buffers).
        wait_until(said_full, interval=0.02)
        assert limit // 2 < backlog() <= limit  # full, and never beyond it
        with connect(probe_gateway.ws_url) as other:  # a bystander is served meanwhile
            other.send(json.dumps({"action": "echo"}))
            assert json.loads(other.recv(timeout=DEADLINE_S)) == {"action": "echo"}
        assert peak <= limit


def test_post_to_a_connection_that_is_closing_is_gone(probe_gateway: RunningGateway) -> None:
    # DeleteConnection sends the close frame; this client never answers it, so the
    # socket stays open (up to 2 s) while the connection closes. A post in that window
    # gets 410, never a 200 for a message that can no longer be delivered.
    client = probe_gateway.management(secure=False)
    sock, connection_id = _silent_client(probe_gateway)
    with sock:
        client.delete_connection(ConnectionId=connection_id)
        assert connection_id in probe_gateway.open_connection_ids()  # still closing
        with pytest.raises(client.exceptions.GoneException):
            client.post_to_connection(ConnectionId=connection_id, Data=b"too late")


@pytest.mark.parametrize("secure", [True, False], ids=["https", "http"])
def test_boto3s_posts_are_read_by_the_fast_path_not_h11(
    probe_gateway: RunningGateway, secure: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from emulator.net import http_session

    fast: list[str] = []
    slow: list[object] = []

    def counting_parse(data: bytes, **limits: int) -> object:
        request = http_fast_path.parse_simple_request(data, **limits)
        if isinstance(request, http_fast_path.ManagementRequest):
            fast.append(request.method)
        return request

    def counting_answer(self: http_session.HttpSession) -> None:
        slow.append(self)
        original_answer(self)

    original_answer = http_session.HttpSession._answer
    monkeypatch.setattr(http_session, "parse_simple_request", counting_parse)
    monkeypatch.setattr(http_session.HttpSession, "_answer", counting_answer)
    client = probe_gateway.management(secure=secure)
    with connect(probe_gateway.ws_url) as ws:
        connection_id = _connection_id(ws)
        for index in range(3):
            client.post_to_connection(ConnectionId=connection_id, Data=f"post {index}".encode())
            assert ws.recv(timeout=10) == f"post {index}"
        assert client.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"] == "127.0.0.1"
        with pytest.raises(client.exceptions.GoneException):
            client.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
        client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    assert fast == ["POST"] * 3 + ["GET", "POST", "DELETE"]
    assert slow == []


def _read_answers(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` whole HTTP answers (status line and body) from ``sock``."""
    data = b""
    answers: list[bytes] = []
    while len(answers) < count:
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = data[:end]
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            if len(data) >= end + 4 + length:
                answers.append(head.split(b"\r\n")[0] + b" " + data[end + 4:end + 4 + length])
                data = data[end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"closed after {answers}"
        data += chunk
    return answers


def test_split_and_pipelined_requests_and_the_fast_path_share_a_connection(probe_gateway: RunningGateway) -> None:
    # Unsigned GETs get AWS's 403 (Missing Authentication Token): enough to see
    # the framing. h11 reads the split and pipelined ones, the fast path the whole
    # one in between; every answer arrives, in order, on one keep-alive connection.
    request = f"GET /{probe_gateway.local.model.stage}/@connections/AAAAAAAAAAAAAAA%3D HTTP/1.1\r\nHost: h\r\n\r\n"
    with socket.create_connection(("127.0.0.1", probe_gateway.local.port), timeout=DEADLINE_S) as sock:
        sock.sendall(request.encode())  # whole: the fast path
        assert _read_answers(sock, 1) == [b"HTTP/1.1 403  " + _FORBIDDEN_BODY]
        sock.sendall(request[:20].encode())  # split: h11
        time.sleep(0.2)
        sock.sendall(request[20:].encode())
        assert _read_answers(sock, 1) == [b"HTTP/1.1 403  " + _FORBIDDEN_BODY]
        sock.sendall((request * 2).encode())  # pipelined: h11
        assert _read_answers(sock, 2) == [b"HTTP/1.1 403  " + _FORBIDDEN_BODY] * 2
        sock.sendall(request.encode())  # whole again, after h11's cycles
        assert _read_answers(sock, 1) == [b"HTTP/1.1 403  " + _FORBIDDEN_BODY]
        post = request.replace("GET", "POST").replace("\r\n\r\n", "\r\nContent-Length: 5\r\n\r\n")
        sock.sendall(post.encode())  # the head, then its body: kept by the fast path
        time.sleep(0.2)
        sock.sendall(b"hel")
        time.sleep(0.2)
        sock.sendall(b"lo" + request.encode())  # the body's end and a pipelined request: h11
        assert _read_answers(sock, 2) == [b"HTTP/1.1 403  " + _FORBIDDEN_BODY] * 2


def test_a_body_cut_short_by_the_client_is_a_bad_request_not_an_answer(probe_gateway: RunningGateway) -> None:
    post = (f"POST /{probe_gateway.local.model.stage}/@connections/AAAAAAAAAAAAAAA%3D HTTP/1.1\r\n"
            "Host: h\r\nContent-Length: 10\r\n\r\nhello")
    with socket.create_connection(("127.0.0.1", probe_gateway.local.port), timeout=DEADLINE_S) as sock:
        sock.sendall(post.encode())
        time.sleep(0.2)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")


_FORBIDDEN_BODY = b'{"message": "Missing Authentication Token"}'
