"""Idle timeout and maximum connection duration, driven by a manual clock (no waiting)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from emulator.app import GatewayThread, GatewayOptions, LocalGateway
from emulator.core.clock import ManualClock
from emulator.template.wsgw_json import load_app

from conftest import PROBE_APP, FunctionLog

MINUTE = 60_000


@pytest.fixture(scope="module")
def clocked(tls_dir: Path) -> Iterator[tuple[GatewayThread, ManualClock, FunctionLog]]:
    clock, log = ManualClock(), FunctionLog()
    background = GatewayThread(LocalGateway(
        load_app(PROBE_APP), GatewayOptions(port=0, tls_dir=tls_dir, sweep_interval_s=0),
        clock=clock, function_log=log,
    ))
    background.start()
    yield background, clock, log
    background.stop()


def _sweep(background: GatewayThread) -> int:
    return background.call(background.local.sweep)


def _disconnect_context(log: FunctionLog, connection_id: str) -> dict[str, object]:
    _, line = log.wait_for(lambda f, line: f == "Disconnect" and connection_id in line)
    return json.loads(line.split(" ", 1)[1])["requestContext"]  # type: ignore[no-any-return]


def _connection_id(ws: object) -> str:
    ws.send(json.dumps({"action": "dump"}))  # type: ignore[attr-defined]
    return json.loads(ws.recv(timeout=10))["event"]["requestContext"]["connectionId"]  # type: ignore[attr-defined, no-any-return]


def test_idle_connection_closes_with_1001_after_ten_minutes(
    clocked: tuple[GatewayThread, ManualClock, FunctionLog],
) -> None:
    background, clock, log = clocked
    with connect(background.local.ws_url) as ws:
        connection_id = _connection_id(ws)
        clock.advance(10 * MINUTE - 1)
        assert _sweep(background) == 0
        clock.advance(1)
        assert _sweep(background) == 1
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    ctx = _disconnect_context(log, connection_id)
    assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (1001, "Going away")


def test_activity_in_either_direction_resets_the_idle_timeout(
    clocked: tuple[GatewayThread, ManualClock, FunctionLog],
) -> None:
    background, clock, _ = clocked
    gateway = background.local
    with connect(gateway.ws_url) as ws:
        connection_id = _connection_id(ws)
        clock.advance(9 * MINUTE)
        ws.send(json.dumps({"action": "oneway"}))  # inbound, no reply
        ws.send(json.dumps({"action": "echo"}))
        ws.recv(timeout=10)
        clock.advance(9 * MINUTE)
        assert _sweep(background) == 0
        # An outbound management post counts too.
        import boto3

        client = boto3.client("apigatewaymanagementapi", endpoint_url=gateway.http_management_url,
                              region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        client.post_to_connection(ConnectionId=connection_id, Data=b"ping")
        assert ws.recv(timeout=10) == "ping"
        clock.advance(9 * MINUTE)
        assert _sweep(background) == 0
        clock.advance(1 * MINUTE)
        assert _sweep(background) == 1


def test_two_hour_maximum_even_when_active(
    clocked: tuple[GatewayThread, ManualClock, FunctionLog],
) -> None:
    background, clock, log = clocked
    with connect(background.local.ws_url) as ws:
        connection_id = _connection_id(ws)
        for _ in range(12):  # active every 5 minutes, up to 1 h 55 min... then 2 h
            clock.advance(5 * MINUTE)
            ws.send(json.dumps({"action": "echo"}))
            ws.recv(timeout=10)
            assert _sweep(background) == 0
        for _ in range(12):
            clock.advance(5 * MINUTE)
            ws.send(json.dumps({"action": "echo"}))
            ws.recv(timeout=10)
            if _sweep(background):
                break
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    ctx = _disconnect_context(log, connection_id)
    assert ctx["disconnectStatusCode"] == 1001
    assert clock.now_ms() - int(ctx["connectedAt"]) == 120 * MINUTE  # type: ignore[call-overload]


def test_limits_are_configurable(tls_dir: Path) -> None:
    model = LocalGateway(load_app(PROBE_APP), GatewayOptions(idle_timeout_s=5, max_connection_duration_s=30)).model
    assert (model.limits.idle_timeout_ms, model.limits.max_connection_ms) == (5000, 30000)
