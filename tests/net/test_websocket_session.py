"""The WebSocket side of the gateway over real sockets (tests/apps/probe)."""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from emulator.core.ids import is_aws_id

from conftest import DEADLINE_S, RunningGateway, wait_until


def _dump(ws: object, **extra: object) -> dict[str, object]:
    ws.send(json.dumps({"action": "dump", **extra}))  # type: ignore[attr-defined]
    return json.loads(ws.recv(timeout=10))  # type: ignore[attr-defined, no-any-return]


def test_two_way_route_returns_body_verbatim(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        message = json.dumps({"action": "echo", "text": "héllo"})
        ws.send(message)
        assert ws.recv(timeout=10) == message


def test_message_event_matches_aws_shape(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url, user_agent_header="probe-agent/1.0") as ws:
        first = _dump(ws)
        second = _dump(ws)
    event = first["event"]
    assert isinstance(event, dict)
    assert list(event) == ["requestContext", "body", "isBase64Encoded"]
    ctx = event["requestContext"]
    assert ctx["routeKey"] == "dump" and ctx["eventType"] == "MESSAGE"
    assert ctx["stage"] == "test"
    assert ctx["domainName"] == probe_gateway.local.domain_name
    assert ctx["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "probe-agent/1.0"}
    assert ctx["requestId"] == ctx["extendedRequestId"]
    for key in ("connectionId", "requestId", "messageId"):
        assert is_aws_id(ctx[key])
    second_ctx = second["event"]["requestContext"]  # type: ignore[index]
    assert second_ctx["connectionId"] == ctx["connectionId"]
    assert second_ctx["connectedAt"] == ctx["connectedAt"]
    assert second_ctx["requestId"] != ctx["requestId"]
    assert second_ctx["messageId"] != ctx["messageId"]


def test_handlers_get_lambda_context_env_and_warm_state(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        first, second = _dump(ws), _dump(ws)
    context = first["context"]
    assert context["function_name"] == "EventDump"  # type: ignore[index]
    assert context["memory_limit_in_mb"] == "512"  # type: ignore[index]  # str, as on AWS
    assert context["aws_request_id"] == first["event"]["requestContext"]["requestId"]  # type: ignore[index]
    assert 0 < context["remaining"] <= 3000  # type: ignore[index, operator]
    assert first["env"] == {"PROBE_SETTING": "from-config", "AWS_REGION": "us-east-1",
                            "AWS_LAMBDA_FUNCTION_NAME": "EventDump"}
    if first["pid"] == second["pid"]:  # same warm worker: module state survived
        assert second["calls"] == first["calls"] + 1  # type: ignore[operator]


def test_no_matching_route_and_no_default_gets_forbidden_frame(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "ECHO"}))  # case-sensitive: no match
        frame = ws.recv(timeout=10)
        ws.send("not json at all")
        second = ws.recv(timeout=10)
        # The connection stays open: a later message still routes.
        ws.send(json.dumps({"action": "echo"}))
        assert ws.recv(timeout=10) == json.dumps({"action": "echo"})
    parsed = json.loads(frame)
    assert frame == (f'{{"message": "Forbidden", "connectionId":"{parsed["connectionId"]}", '
                     f'"requestId":"{parsed["requestId"]}"}}')
    assert json.loads(second)["message"] == "Forbidden"
    assert json.loads(second)["requestId"] != parsed["requestId"]


def test_crashing_handler_gets_internal_server_error_and_connection_survives(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "crash"}))
        frame = ws.recv(timeout=10)
        ws.send(json.dumps({"action": "echo"}))
        assert ws.recv(timeout=10) == json.dumps({"action": "echo"})
    parsed = json.loads(frame)
    assert frame.startswith('{"message": "Internal server error", "connectionId":"')
    assert is_aws_id(parsed["connectionId"]) and is_aws_id(parsed["requestId"])
    probe_gateway.log.wait_for(lambda f, line: f == "Crash" and "crashed on purpose" in line)


def test_handler_timeout_gets_internal_server_error(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        # The function's 1 s Lambda timeout ends it: not its reply after the 5 s sleep,
        # nor the integration's 29 s timeout ("Endpoint request timed out").
        ws.send(json.dumps({"action": "sleep", "seconds": 5, "reply": "late"}))
        frame = ws.recv(timeout=DEADLINE_S)
        assert json.loads(frame)["message"] == "Internal server error"
        ws.send(json.dumps({"action": "sleep", "seconds": 0, "reply": "fresh worker"}))
        assert ws.recv(timeout=10) == "fresh worker"
    probe_gateway.log.wait_for(lambda f, line: f == "Sleep" and "Task timed out after 1.00 seconds" in line)


def test_integration_timeout_gets_endpoint_request_timed_out(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "slowIntegration", "seconds": 0.6, "reply": "too late"}))
        frame = ws.recv(timeout=10)
        assert frame.startswith('{"message": "Endpoint request timed out", "connectionId":"')
        # The Lambda keeps running and finishes, but its reply is not delivered.
        ws.send(json.dumps({"action": "echo"}))
        assert ws.recv(timeout=10) == json.dumps({"action": "echo"})


def test_worker_exit_is_isolated(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "exit"}))
        assert json.loads(ws.recv(timeout=10))["message"] == "Internal server error"
        ws.send(json.dumps({"action": "exit"}))
        assert json.loads(ws.recv(timeout=10))["message"] == "Internal server error"
        ws.send(json.dumps({"action": "echo"}))
        assert ws.recv(timeout=10) == json.dumps({"action": "echo"})


def test_one_way_route_sends_nothing(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "oneway"}))
        ws.send(json.dumps({"action": "echo", "n": 2}))
        # Only the echo answers; "never sent" must not arrive before or after it: once
        # every invocation of the gateway has ended, the next reply is the next echo's.
        assert ws.recv(timeout=DEADLINE_S) == json.dumps({"action": "echo", "n": 2})
        server = probe_gateway.local.listener
        assert server is not None
        wait_until(lambda: probe_gateway.background.call(lambda: server.background_tasks) == 0)
        ws.send(json.dumps({"action": "echo", "n": 3}))
        assert ws.recv(timeout=DEADLINE_S) == json.dumps({"action": "echo", "n": 3})


def test_slow_handler_does_not_block_other_messages_or_connections(
    probe_gateway: RunningGateway, tmp_path: Path,
) -> None:
    # The slow handler is held until the test opens its gate: both echoes are answered
    # while it certainly still runs, then its own reply comes.
    gate = tmp_path / "gate"
    with connect(probe_gateway.ws_url) as slow_ws, connect(probe_gateway.ws_url) as other:
        tag = slow_ws.id.hex
        slow_ws.send(json.dumps({"action": "hold", "tag": tag, "gate": str(gate), "reply": "slow"}))
        probe_gateway.log.wait_for(lambda f, line: f == "Hold" and line == f"HELD {tag}")
        slow_ws.send(json.dumps({"action": "echo", "n": 1}))
        assert slow_ws.recv(timeout=DEADLINE_S) == json.dumps({"action": "echo", "n": 1})
        other.send(json.dumps({"action": "echo", "n": 2}))
        assert other.recv(timeout=DEADLINE_S) == json.dumps({"action": "echo", "n": 2})
        gate.touch()
        assert slow_ws.recv(timeout=DEADLINE_S) == "slow"


def test_wrong_path_is_refused_with_403(probe_gateway: RunningGateway) -> None:
    url = probe_gateway.ws_url.rsplit("/", 1)[0] + "/prod"
    with pytest.raises(InvalidStatus) as refused:
        connect(url)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("status", [401, 403, 400, 301, 501])
def test_connect_non_2xx_refuses_handshake_with_that_status(probe_gateway: RunningGateway, status: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{probe_gateway.ws_url}?status={status}")
    assert refused.value.response.status_code == status


def test_connect_exception_refuses_with_502(probe_gateway: RunningGateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{probe_gateway.ws_url}?crash=1")
    assert refused.value.response.status_code == 502


def _raw_refusal(gateway: RunningGateway, target: str) -> list[tuple[str, str]]:
    """The header lines of the answer to a raw upgrade request for ``target``."""
    request = (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    with socket.create_connection(("127.0.0.1", gateway.local.port), timeout=DEADLINE_S) as sock:
        sock.sendall(request.encode())
        reply = b""
        while b"\r\n\r\n" not in reply and (chunk := sock.recv(65536)):
            reply += chunk
    lines = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines)]


@pytest.mark.parametrize("target, status, reason", [
    ("/prod", 403, "no such stage: /prod (this API serves /test)"),
    ("/test?status=401", 401, "$connect returned 401"),
    ("/test?status=499", 499, "$connect returned 499"),  # not an IANA status: still answered
    ("/test?crash=1", 502, "$connect failed (RuntimeError)"),
])
def test_a_refusal_has_one_content_type_and_its_reason_is_reported(
    probe_gateway: RunningGateway, target: str, status: int, reason: str,
) -> None:
    headers = _raw_refusal(probe_gateway, target)
    assert [value for name, value in headers if name.lower() == "content-type"] == ["application/json"]
    refusal = wait_until(lambda: next((r for r in list(probe_gateway.refusals) if r.reason == reason), None))
    assert (refusal.path, refusal.source_ip, refusal.status) == (target.partition("?")[0], "127.0.0.1", status)
    # websockets' own client reads the refusal (two Content-Types made it raise
    # MultipleValuesError).
    with pytest.raises(InvalidStatus) as refused:
        connect(probe_gateway.ws_url.rsplit("/", 1)[0] + target)
    assert refused.value.response.status_code == status
    assert refused.value.response.headers["Content-Type"] == "application/json"


def test_an_invalid_upgrade_is_refused_and_reported(probe_gateway: RunningGateway) -> None:
    request = (b"GET /test HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")  # no Sec-WebSocket-Key
    with socket.create_connection(("127.0.0.1", probe_gateway.local.port), timeout=DEADLINE_S) as sock:
        sock.sendall(request)
        assert sock.recv(65536).startswith(b"HTTP/1.1 400")
    refusal = wait_until(lambda: next((r for r in list(probe_gateway.refusals)
                                       if "Sec-WebSocket-Key" in r.reason), None))
    assert refusal.status == 400 and refusal.reason.startswith("not a valid WebSocket upgrade request")


def test_connect_returning_none_is_accepted(probe_gateway: RunningGateway) -> None:
    with connect(f"{probe_gateway.ws_url}?none=1") as ws:
        ws.send(json.dumps({"action": "echo"}))
        assert ws.recv(timeout=10) == json.dumps({"action": "echo"})


def test_connect_event_has_headers_and_query(probe_gateway: RunningGateway) -> None:
    with connect(f"{probe_gateway.ws_url}?room=a%20b&room=c", additional_headers={"X-Custom": "v1"}) as ws:
        ws.send(json.dumps({"action": "dump"}))
        connection_id = json.loads(ws.recv(timeout=10))["event"]["requestContext"]["connectionId"]
    _, line = probe_gateway.log.wait_for(
        lambda f, line: f == "Connect" and line.startswith("CONNECT-EVENT") and connection_id in line)
    event = json.loads(line.split(" ", 1)[1])
    assert list(event) == ["headers", "multiValueHeaders", "queryStringParameters",
                           "multiValueQueryStringParameters", "requestContext", "isBase64Encoded"]
    assert event["queryStringParameters"] == {"room": "c"}
    assert event["multiValueQueryStringParameters"] == {"room": ["a b", "c"]}
    headers = event["headers"]
    assert headers["X-Custom"] == "v1"
    assert "Sec-WebSocket-Key" in headers
    assert not {"connection", "upgrade"} & {k.lower() for k in headers}
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert event["requestContext"]["eventType"] == "CONNECT"


def test_subprotocol_only_when_connect_returns_it(probe_gateway: RunningGateway) -> None:
    with connect(f"{probe_gateway.ws_url}?protocol=chat.v1", subprotocols=["chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v1"
    # Offered but not returned by $connect: no header in the 101 (so Chrome fails
    # the handshake, as it does against AWS; this client tolerates it).
    with connect(probe_gateway.ws_url, subprotocols=["chat.v1"]) as ws:
        assert ws.subprotocol is None
        assert ws.response is not None
        assert "Sec-WebSocket-Protocol" not in ws.response.headers


def test_disconnect_reports_client_close_code_and_reason(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "dump"}))
        connection_id = json.loads(ws.recv(timeout=10))["event"]["requestContext"]["connectionId"]
        ws.close(code=4001, reason="bye now")
        _, line = probe_gateway.log.wait_for(
            lambda f, line: f == "Disconnect" and connection_id in line)
        ctx = json.loads(line.split(" ", 1)[1])["requestContext"]
        assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (4001, "bye now")
        assert connection_id not in probe_gateway.open_connection_ids()


def _tls_connections(gateway: RunningGateway) -> int:
    assert gateway.local.listener is not None
    return gateway.local.listener.tls_connections


def test_wss_on_the_same_port(probe_gateway: RunningGateway) -> None:
    context = ssl.create_default_context(cafile=probe_gateway.ca_cert)
    before = _tls_connections(probe_gateway)
    with connect(probe_gateway.wss_url, ssl=context) as ws:
        ws.send(json.dumps({"action": "echo", "secure": True}))
        assert ws.recv(timeout=10) == json.dumps({"action": "echo", "secure": True})
    assert _tls_connections(probe_gateway) == before + 1


def test_callback_to_https_domain_name_from_handler_comes_in_plain(probe_gateway: RunningGateway) -> None:
    # The handler's boto3 client is made for https://{domainName}/{stage} on each call
    # (a new connection each time); inside the worker it goes over plain HTTP
    # (runtime/endpoint_redirect.py), so the gateway sees no TLS handshake for it.
    before = _tls_connections(probe_gateway)
    with connect(probe_gateway.ws_url) as ws:
        for _ in range(2):
            ws.send(json.dumps({"action": "callback"}))
            assert ws.recv(timeout=10) == "callback:" + json.dumps({"action": "callback"})
    assert _tls_connections(probe_gateway) == before


def test_post_to_self_inside_connect_is_gone(probe_gateway: RunningGateway) -> None:
    with connect(f"{probe_gateway.ws_url}?post_self=1") as ws:
        ws.send(json.dumps({"action": "echo"}))
        assert ws.recv(timeout=10) == json.dumps({"action": "echo"})
    probe_gateway.log.wait_for(lambda f, line: "POST-SELF-IN-CONNECT: GoneException" in line)


def test_many_concurrent_clients(probe_gateway: RunningGateway) -> None:
    def chat(n: int) -> list[str]:
        with connect(probe_gateway.ws_url) as ws:
            for i in range(5):
                ws.send(json.dumps({"action": "echo", "n": n, "i": i}))
            return sorted(ws.recv(timeout=10) for _ in range(5))

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(chat, range(10)))
    for n, got in enumerate(results):
        assert got == sorted(json.dumps({"action": "echo", "n": n, "i": i}) for i in range(5))


def test_binary_frame_closes_with_1003(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        ws.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003


@pytest.mark.parametrize("mode, expected", [
    ("sync", 'sync:{"recorded": "n1"}'),
    ("event", "event:202"),
    ("missing", "missing:ResourceNotFoundException"),
    ("error", "error:Unhandled:ValueError"),
])
def test_handler_invokes_another_function_through_lambda_api(
    probe_gateway: RunningGateway, mode: str, expected: str,
) -> None:
    with connect(probe_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "invoke", "mode": mode, "note": "n1"}))
        assert ws.recv(timeout=20) == expected
    if mode == "event":
        probe_gateway.log.wait_for(lambda f, line: f == "Recorder" and line == 'RECORDER {"note": "n1"}')


def _closed_code(ws: object) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)  # type: ignore[attr-defined]
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_frame_over_32_kb_closes_with_1009(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url, max_size=None) as ws:
        ws.send(json.dumps({"action": "echo", "pad": "x" * 32_000}))  # under 32 KB: fine
        assert len(ws.recv(timeout=10)) > 32_000
        connection_id = json.loads(_dump_id(ws))
        ws.send("x" * (32 * 1024 + 1))
        assert _closed_code(ws) == 1009
    _, line = probe_gateway.log.wait_for(lambda f, line: f == "Disconnect" and connection_id in line)
    assert json.loads(line.split(" ", 1)[1])["requestContext"]["disconnectStatusCode"] == 1009


def test_message_over_128_kb_in_small_frames_closes_with_1009(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        # 128 KB exactly, as four 32 KB fragments: accepted ($default-less app: Forbidden).
        ws.send(iter(["y" * (32 * 1024)] * 4))
        assert json.loads(ws.recv(timeout=10))["message"] == "Forbidden"
        try:
            ws.send(iter(["y" * (32 * 1024)] * 4 + ["y"]))
        except ConnectionClosed as closed:  # the 1009 came before websockets' final empty fragment went out
            assert closed.rcvd is not None and closed.rcvd.code == 1009
        else:
            assert _closed_code(ws) == 1009


def _dump_id(ws: object) -> str:
    ws.send(json.dumps({"action": "dump"}))  # type: ignore[attr-defined]
    return json.dumps(json.loads(ws.recv(timeout=10))["event"]["requestContext"]["connectionId"])  # type: ignore[attr-defined]


def test_configured_frame_limit_applies(tls_dir: Path) -> None:
    from conftest import PROBE_APP, start_gateway

    small = start_gateway(PROBE_APP, tls_dir, frame_bytes=1000)
    try:
        with connect(small.ws_url) as ws:
            ws.send(json.dumps({"action": "echo", "pad": "x" * 900}))
            assert len(ws.recv(timeout=10)) > 900
            ws.send("x" * 1001)
            assert _closed_code(ws) == 1009
    finally:
        small.background.stop()
