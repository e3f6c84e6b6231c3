"""Access control on $connect over real sockets: AWS_IAM (SigV4 headers and presigned
URLs) and ApiKeyRequired with keys given to the gateway; plus the execute-api hostname
redirect inside workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator
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


@pytest.fixture(scope="module")
def iam(tls_dir: Path) -> Iterator[RunningGateway]:
    running = start_gateway(IAM_APP, tls_dir, iam_credentials={"AKIDLOCAL": "s3cr3t"})
    yield running
    running.background.stop()


def _http_url(ws_url: str) -> str:
    return "http" + ws_url[len("ws"):]


def test_iam_signed_headers_connect(iam: RunningGateway) -> None:
    request = AWSRequest(method="GET", url=_http_url(iam.ws_url), headers={"Host": urlsplit(iam.ws_url).netloc})
    SigV4Auth(Credentials("AKIDLOCAL", "s3cr3t"), "execute-api", "us-east-1").add_auth(request)
    headers = {k: v for k, v in request.headers.items() if k != "Host"}
    with connect(iam.ws_url, additional_headers=headers) as ws:
        ws.send("hi")
        assert ws.recv(timeout=10) == "null"  # $default answers (no authorizer context)


def test_iam_presigned_url_connect(iam: RunningGateway) -> None:
    request = AWSRequest(method="GET", url=_http_url(iam.ws_url), headers={"Host": urlsplit(iam.ws_url).netloc})
    SigV4QueryAuth(Credentials("AKIDLOCAL", "s3cr3t"), "execute-api", "us-east-1", expires=60).add_auth(request)
    with connect("ws" + request.url[len("http"):]) as ws:
        ws.send("hi")
        assert ws.recv(timeout=10) == "null"


@pytest.mark.parametrize("secret", [None, "wrong"])
def test_iam_unsigned_or_bad_signature_is_403(iam: RunningGateway, secret: str | None) -> None:
    headers: dict[str, str] = {}
    if secret is not None:
        request = AWSRequest(method="GET", url=_http_url(iam.ws_url), headers={"Host": urlsplit(iam.ws_url).netloc})
        SigV4Auth(Credentials("AKIDLOCAL", secret), "execute-api", "us-east-1").add_auth(request)
        headers = {k: v for k, v in request.headers.items() if k != "Host"}
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
