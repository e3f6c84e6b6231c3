"""Access control on $connect over real sockets: AWS_IAM (SigV4 headers and presigned
URLs) and ApiKeyRequired with keys given to the gateway; plus the execute-api hostname
redirect inside workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import RunningGateway, start_gateway

APPS = Path(__file__).resolve().parent
IAM_APP = APPS / "apps" / "iam" / "template.yaml"
KEYED_APP = APPS / "templates" / "authorizer" / "template.yaml"


COGNITO_IDENTITY = {
    "cognitoIdentityId": "us-east-1:0b8a7c6d-1e2f-4a5b-9c8d-7e6f5a4b3c2d",
    "cognitoIdentityPoolId": "us-east-1:5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
    "cognitoAuthenticationType": "authenticated",
    "cognitoAuthenticationProvider": "cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc,"
                                     "cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc:CognitoSignIn:42",
    "caller": "AROAEXAMPLEROLEID1234:CognitoIdentityCredentials",
    "user": "AROAEXAMPLEROLEID1234:CognitoIdentityCredentials",
    "userArn": "arn:aws:sts::123456789012:assumed-role/Cognito_ChatAuth_Role/CognitoIdentityCredentials",
}
# The REST identity object's keys in the order AWS's sample events list them.
IDENTITY_KEYS = ["cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "sourceIp", "principalOrgId",
                 "accessKey", "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "userAgent",
                 "user"]


@pytest.fixture(scope="module")
def iam(tls_dir: Path) -> Iterator[RunningGateway]:
    running = start_gateway(IAM_APP, tls_dir, iam_credentials={"AKIDLOCAL": "s3cr3t", "AKIDCOGNITO": "c0gn1t0"},
                            iam_identities={"AKIDCOGNITO": COGNITO_IDENTITY})
    yield running
    running.background.stop()


def _http_url(ws_url: str) -> str:
    return "http" + ws_url[len("ws"):]


def _signed(gateway: RunningGateway, access_key: str, secret: str, form: str) -> tuple[str, dict[str, str]]:
    """(url, headers) signed by botocore's own signer, in the headers or presigned."""
    request = AWSRequest(method="GET", url=_http_url(gateway.ws_url), headers={"Host": urlsplit(gateway.ws_url).netloc})
    if form == "presigned":
        SigV4QueryAuth(Credentials(access_key, secret), "execute-api", "us-east-1", expires=60).add_auth(request)
        return "ws" + request.url[len("http"):], {}
    SigV4Auth(Credentials(access_key, secret), "execute-api", "us-east-1").add_auth(request)
    return gateway.ws_url, {k: v for k, v in request.headers.items() if k != "Host"}


def _event(gateway: RunningGateway, function: str, prefix: str, connection_id: str) -> dict[str, Any]:
    _, line = gateway.log.wait_for(lambda f, line: f == function and line.startswith(prefix)
                                   and connection_id in line)
    return json.loads(line.split(" ", 1)[1])  # type: ignore[no-any-return]


def _identities(gateway: RunningGateway, access_key: str, secret: str, form: str) -> list[dict[str, Any]]:
    """requestContext.identity of one signed connection's $connect, message and
    $disconnect events."""
    url, headers = _signed(gateway, access_key, secret, form)
    with connect(url, additional_headers=headers) as ws:
        ws.send("hi")
        on_message = json.loads(ws.recv(timeout=10))
        user_agent = ws.request.headers["User-Agent"] if ws.request is not None else None
        connection_id = gateway.open_connection_ids().pop()
    on_connect = _event(gateway, "ConnectFunction", "CONNECT-EVENT", connection_id)["requestContext"]["identity"]
    on_disconnect = _event(gateway, "DisconnectFunction", "DISCONNECT-EVENT", connection_id)
    assert on_message["userAgent"] == user_agent
    return [on_connect, on_message, on_disconnect["requestContext"]["identity"]]


@pytest.mark.parametrize("form", ["headers", "presigned"])
def test_iam_signer_identity_reaches_connect_message_and_disconnect(iam: RunningGateway, form: str) -> None:
    # An IAM user of the local account, named after its key: wsgw's documented default.
    for identity in _identities(iam, "AKIDLOCAL", "s3cr3t", form):
        assert list(identity) == IDENTITY_KEYS
        assert identity["accessKey"] == "AKIDLOCAL"
        assert identity["accountId"] == "123456789012"
        assert identity["userArn"] == "arn:aws:iam::123456789012:user/AKIDLOCAL"
        assert identity["caller"] == identity["user"]
        assert identity["user"].startswith("AIDA") and len(identity["user"]) == 21
        assert identity["sourceIp"] == "127.0.0.1"
        assert [identity[k] for k in IDENTITY_KEYS if k.startswith("cognito")] == [None] * 4
        assert identity["principalOrgId"] is None


@pytest.mark.parametrize("form", ["headers", "presigned"])
def test_configured_cognito_identity_arrives_on_every_event(iam: RunningGateway, form: str) -> None:
    for identity in _identities(iam, "AKIDCOGNITO", "c0gn1t0", form):
        assert {k: identity[k] for k in COGNITO_IDENTITY} == COGNITO_IDENTITY
        assert (identity["accessKey"], identity["accountId"]) == ("AKIDCOGNITO", "123456789012")


def test_get_connection_of_an_iam_connection_shows_only_the_client(iam: RunningGateway) -> None:
    # GetConnection's Identity has SourceIp and UserAgent only [model] BOTO-MGMT.
    url, headers = _signed(iam, "AKIDLOCAL", "s3cr3t", "headers")
    with connect(url, additional_headers=headers):
        connection_id = iam.open_connection_ids().pop()
        identity = iam.management().get_connection(ConnectionId=connection_id)["Identity"]
    assert set(identity) == {"SourceIp", "UserAgent"}


@pytest.mark.parametrize("secret", [None, "wrong"])
def test_iam_unsigned_or_bad_signature_is_403(iam: RunningGateway, secret: str | None) -> None:
    headers: dict[str, str] = {}
    if secret is not None:
        _, headers = _signed(iam, "AKIDLOCAL", secret, "headers")
    with pytest.raises(InvalidStatus) as refused:
        connect(iam.ws_url, additional_headers=headers)
    assert refused.value.response.status_code == 403


@pytest.fixture(scope="module")
def keyed(tls_dir: Path) -> Iterator[RunningGateway]:
    running = start_gateway(KEYED_APP, tls_dir, api_keys=frozenset({"key-1"}))
    yield running
    running.background.stop()


@pytest.mark.parametrize("key, status", [("key-1", None), ("key-2", 403), (None, 403)])
def test_api_key_required(keyed: RunningGateway, key: str | None, status: int | None) -> None:
    headers = {"x-api-key": key} if key else {}
    url = keyed.ws_url + "?token=letmein"
    if status is None:
        with connect(url, additional_headers=headers):
            assert len(keyed.open_connection_ids()) == 1  # the 101 came: $connect allowed it
        # The table with GSI/LSI/TTL from the template exists in the embedded moto.
        games = next(t for t in keyed.local.model.tables if t.global_indexes and t.local_indexes)
        description = keyed.dynamodb().describe_table(TableName=games.table_name)["Table"]
        assert [i["IndexName"] for i in description["GlobalSecondaryIndexes"]] == [i.name for i in games.global_indexes]
        assert [i["IndexName"] for i in description["LocalSecondaryIndexes"]] == [i.name for i in games.local_indexes]
    else:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers)
        assert refused.value.response.status_code == status


def test_handler_using_the_real_execute_api_hostname_reaches_the_gateway(probe_gateway: RunningGateway) -> None:
    with connect(probe_gateway.ws_url) as ws:
        ws.send(json.dumps({"action": "realEndpoint"}))
        assert ws.recv(timeout=20) == "via https://wsgwlocal1.execute-api.us-east-1.amazonaws.com/test"
