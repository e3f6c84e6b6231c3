"""A Lambda REQUEST authorizer on $connect, over real sockets (tests/apps/guarded)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import RunningGateway, start_gateway

GUARDED = Path(__file__).resolve().parent / "apps" / "guarded" / "template.yaml"
REFERENCE_EVENTS = Path(__file__).resolve().parent / "fixtures" / "aws-events"


@pytest.fixture(scope="module")
def guarded(tls_dir: Path) -> Iterator[RunningGateway]:
    running = start_gateway(GUARDED, tls_dir)
    yield running
    running.background.stop()


def _refused(gateway: RunningGateway, query: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(gateway.ws_url + query)
    return refused.value.response.status_code


def _event(gateway: RunningGateway, function: str, prefix: str, needle: str) -> dict[str, Any]:
    _, line = gateway.log.wait_for(lambda f, line: f == function and line.startswith(prefix) and needle in line)
    return json.loads(line.split(" ", 1)[1])  # type: ignore[no-any-return]


def test_allow_runs_connect_and_every_event_carries_the_authorizer_context(guarded: RunningGateway) -> None:
    with connect(guarded.ws_url + "?token=allow") as ws:
        ws.send("anything")
        seen_by_default = json.loads(ws.recv(timeout=10))
    assert seen_by_default["principalId"] == "user-42"
    assert (seen_by_default["tenant"], seen_by_default["level"], seen_by_default["admin"]) == ("acme", 3, False)
    assert isinstance(seen_by_default["integrationLatency"], int)
    connect_ctx = _event(guarded, "ConnectFunction", "CONNECT-EVENT", "user-42")["requestContext"]
    connection_id = connect_ctx["connectionId"]
    assert connect_ctx["authorizer"] == seen_by_default
    assert list(connect_ctx)[-1] == "authorizer"
    disconnect_ctx = _event(guarded, "DisconnectFunction", "DISCONNECT-EVENT", connection_id)["requestContext"]
    assert disconnect_ctx["authorizer"] == seen_by_default


def test_authorizer_event_has_the_request_shape(guarded: RunningGateway) -> None:
    with connect(guarded.ws_url + "?token=allow&x=1", additional_headers={"Authorization": "Leo"}):
        pass
    event = _event(guarded, "AuthFunction", "AUTHORIZER-EVENT", '"x": "1"')
    reference = json.loads((REFERENCE_EVENTS / "authorizer-request.json").read_text())
    assert list(event) == list(reference)
    assert event["type"] == "REQUEST"
    assert event["methodArn"].endswith(":wsgwlocal1/live/$connect")
    assert event["headers"]["Authorization"] == "Leo"
    assert {"Connection", "Upgrade", "content-length"} <= set(event["headers"])
    assert event["stageVariables"] == {}
    assert event["queryStringParameters"] == {"token": "allow", "x": "1"}
    assert "authorizer" not in event["requestContext"]


@pytest.mark.parametrize("query, status, reason", [
    # identity source missing: the authorizer is not invoked
    ("", 401, "authorizer AuthFunction: identity source route.request.querystring.token is missing or empty"),
    ("?token=", 401, "authorizer AuthFunction: identity source route.request.querystring.token is missing "
                     "or empty"),  # empty counts as missing
    ("?token=deny", 403, "authorizer AuthFunction denied execute-api:Invoke on "
                         "arn:aws:execute-api:us-east-1:123456789012:wsgwlocal1/live/$connect"),
    ("?token=unauthorized", 401, "authorizer AuthFunction answered Unauthorized"),
    ("?token=boom", 500, "authorizer AuthFunction failed (ValueError)"),
    ("?token=malformed", 500, "authorizer AuthFunction returned no principalId"),
])
def test_refusals(guarded: RunningGateway, query: str, status: int, reason: str) -> None:
    def starts(function: str) -> int:
        return sum(1 for f, line in guarded.log.snapshot() if f == function and line.startswith("START"))

    authorizer_runs, connect_runs = starts("AuthFunction"), starts("ConnectFunction")
    refused_before = len(guarded.refusals)
    assert _refused(guarded, query) == status
    # The gateway says why (run-local prints it); the client only sees the status.
    assert [(r.status, r.reason) for r in guarded.refusals[refused_before:]] == [(status, reason)]
    invoked = query not in ("", "?token=")
    assert starts("AuthFunction") - authorizer_runs == (1 if invoked else 0)
    assert starts("ConnectFunction") == connect_runs  # $connect never ran
