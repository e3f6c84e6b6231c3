"""The @connections management API over real sockets, called by boto3's own client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import RunningGateway


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
        url = f"{probe_gateway.gateway.http_management_url}/@connections/{connection_id.replace('=', '%3D')}"
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
    assert list(body) == ["connectedAt", "identity", "lastActiveAt"]
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
        "apigatewaymanagementapi", endpoint_url=probe_gateway.gateway.http_management_url.rsplit("/", 1)[0] + "/prod",
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
