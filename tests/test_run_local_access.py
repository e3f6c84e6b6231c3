"""What run-local says about access control, asserted on its real output: a start-up
warning when $connect needs a key or a signature nobody configured, one line per
refused handshake with the status and the reason, and --iam-identities / --stack-name."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import DEADLINE_S, RunLocalProcess

TESTS = Path(__file__).resolve().parent
KEYED_APP = TESTS / "templates" / "authorizer" / "template.yaml"  # ApiKeyRequired + a token authorizer
IAM_APP = TESTS / "apps" / "iam" / "template.yaml"


def _start(*args: str, tls_dir: Path) -> tuple[RunLocalProcess, str]:
    server = RunLocalProcess("--port", "0", "--no-reload", "--tls-dir", str(tls_dir), *args)
    url = server.wait_for(r"WebSocket URL: (ws://[^\s\"]+)", timeout=DEADLINE_S).group(1)
    server.wait_for("Ready", timeout=DEADLINE_S)
    return server, url


def _refused(url: str, headers: dict[str, str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers=headers or {}, open_timeout=DEADLINE_S)
    return refused.value.response.status_code


def test_api_key_app_without_keys_warns_and_logs_each_refusal(tls_dir: Path) -> None:
    server, url = _start("--template", str(KEYED_APP), tls_dir=tls_dir)
    try:
        warning = server.wait_for(r"^wsgw: warning: \$connect requires an API key .*--api-key", timeout=DEADLINE_S)
        ready = server.lines.index("Ready. Press Ctrl-C to stop.")
        assert server.lines.index(warning.string) < ready  # seen before the first 403
        assert _refused(url + "?token=letmein") == 403
        server.wait_for(r"  127\.0\.0\.1  GET /live  refused 403  API key required: no x-api-key header$")
        assert _refused(url + "?token=letmein", {"x-api-key": "guess"}) == 403
        server.wait_for(r"  GET /live  refused 403  API key required: x-api-key header 'guess' is unknown "
                        r"\(none is configured \(--api-key\)\)$")
        assert _refused(url.rsplit("/", 1)[0] + "/prod") == 403
        server.wait_for(r"  GET /prod  refused 403  no such stage: /prod \(this API serves /live\)$")
    finally:
        assert server.close() == 0


def test_api_key_app_with_a_key_does_not_warn_and_logs_the_authorizer_refusal(tls_dir: Path) -> None:
    server, url = _start("--template", str(KEYED_APP), "--api-key", "key-1", tls_dir=tls_dir)
    try:
        assert _refused(url + "?token=wrong", {"x-api-key": "key-1"}) == 403
        server.wait_for(r"  GET /live  refused 403  authorizer \S+ denied execute-api:Invoke on arn:aws:execute-api:"
                        r"us-east-1:123456789012:\w+/live/\$connect$")
        with connect(url + "?token=letmein", additional_headers={"x-api-key": "key-1"}, open_timeout=DEADLINE_S):
            pass
        assert not [line for line in server.lines if "warning" in line]
    finally:
        assert server.close() == 0


def _signed_headers(url: str, access_key: str, secret: str) -> dict[str, str]:
    request = AWSRequest(method="GET", url="http" + url[len("ws"):], headers={"Host": urlsplit(url).netloc})
    SigV4Auth(Credentials(access_key, secret), "execute-api", "us-east-1").add_auth(request)
    return {k: v for k, v in request.headers.items() if k != "Host"}


def test_iam_app_json_log_warns_refuses_and_passes_the_configured_identity(tmp_path: Path, tls_dir: Path) -> None:
    identities = tmp_path / "identities.json"
    identities.write_text(json.dumps({"testing": {"cognitoIdentityId": "us-east-1:4242",
                                                  "cognitoIdentityPoolId": "us-east-1:pool"}}))
    server, url = _start("--template", str(IAM_APP), "--log-format", "json", "--iam-identities", str(identities),
                         tls_dir=tls_dir)
    try:
        server.wait_for(r'"type": "message", "line": "wsgw: warning: \$connect uses AWS_IAM and no '
                        r'--iam-credentials were given: .*testing:testing')
        assert _refused(url, _signed_headers(url, "testing", "wrong")) == 403
        line = server.wait_for(r'"type": "refusal"').string
        refusal = json.loads(line)
        assert {k: refusal[k] for k in ("sourceIp", "path", "status", "reason")} == {
            "sourceIp": "127.0.0.1", "path": "/iam", "status": 403,
            "reason": "AWS_IAM: SigV4 check failed: the signature does not match"}
        with connect(url, additional_headers=_signed_headers(url, "testing", "testing"),
                     open_timeout=DEADLINE_S) as ws:
            ws.send("hi")
            identity = json.loads(ws.recv(timeout=DEADLINE_S))
        assert (identity["accessKey"], identity["cognitoIdentityId"], identity["cognitoIdentityPoolId"]) == (
            "testing", "us-east-1:4242", "us-east-1:pool")
    finally:
        assert server.close() == 0


@pytest.mark.parametrize("content, message", [
    ('{"nobody": {"cognitoIdentityId": "x"}}', "access key nobody is not accepted for AWS_IAM"),
    ('{"testing": {"cognitoIdentityID": "x"}}', "testing.cognitoIdentityID: not an identity field"),
    ("{", "not JSON"),
])
def test_a_bad_identities_file_is_one_error_line(tmp_path: Path, content: str, message: str) -> None:
    identities = tmp_path / "identities.json"
    identities.write_text(content)
    server = RunLocalProcess("--template", str(IAM_APP), "--port", "0", "--no-reload",
                             "--iam-identities", str(identities))
    try:
        server.wait_for(rf"^wsgw: error: --iam-identities {identities}.*{message}", timeout=DEADLINE_S)
        assert server.process.wait(DEADLINE_S) == 1
    finally:
        server.close()
