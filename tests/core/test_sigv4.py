"""SigV4 verification of upgrade requests against botocore's own signers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.core.sigv4 import verify

CREDENTIALS = {"AKIDLOCAL": "secret/key+1"}
URL = "https://127.0.0.1:3001/dev?room=a%20b&x=1"


def _header_signed(url: str = URL, secret: str = "secret/key+1", service: str = "execute-api",
                   extra: dict[str, str] | None = None) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]]:
    request = AWSRequest(method="GET", url=url, headers={"Host": "127.0.0.1:3001", **(extra or {})})
    SigV4Auth(Credentials("AKIDLOCAL", secret), service, "us-east-1").add_auth(request)
    parts = urlsplit(url)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True), list(request.headers.items())


def _presigned(url: str = URL, expires: int = 60) -> tuple[str, list[tuple[str, str]]]:
    request = AWSRequest(method="GET", url=url, headers={"Host": "127.0.0.1:3001"})
    SigV4QueryAuth(Credentials("AKIDLOCAL", "secret/key+1"), "execute-api", "us-east-1", expires=expires).add_auth(request)
    parts = urlsplit(request.url)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def _now(offset_s: float = 0) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=offset_s)


def test_header_signature_verifies() -> None:
    path, query, headers = _header_signed()
    assert verify("GET", path, query, headers, credentials=CREDENTIALS, now=_now()) is None


def test_presigned_url_verifies_until_it_expires() -> None:
    path, query = _presigned(expires=60)
    headers = [("Host", "127.0.0.1:3001"), ("Upgrade", "websocket")]
    assert verify("GET", path, query, headers, credentials=CREDENTIALS, now=_now()) is None
    assert verify("GET", path, query, headers, credentials=CREDENTIALS, now=_now(61)) == "the presigned URL has expired"


@pytest.mark.parametrize("mutate, reason", [
    (lambda p, q, h: (p + "x", q, h), "the signature does not match"),
    (lambda p, q, h: (p, q + [("y", "2")], h), "the signature does not match"),
    (lambda p, q, h: (p, q, [(k, "evil:1" if k == "Host" else v) for k, v in h]), "the signature does not match"),
    (lambda p, q, h: (p, q, [(k, v) for k, v in h if k != "Authorization"]), "missing or malformed SigV4 Authorization"),
    (lambda p, q, h: (p, q, [(k, v) for k, v in h if k != "X-Amz-Date"]), "missing or malformed X-Amz-Date"),
])
def test_tampering_is_detected(mutate: object, reason: str) -> None:
    path, query, headers = mutate(*_header_signed())  # type: ignore[operator]
    assert verify("GET", path, query, headers, credentials=CREDENTIALS, now=_now()) == reason


def test_wrong_secret_service_key_or_time() -> None:
    path, query, headers = _header_signed(secret="wrong")
    assert verify("GET", path, query, headers, credentials=CREDENTIALS, now=_now()) == "the signature does not match"
    path, query, headers = _header_signed(service="s3")
    assert verify("GET", path, query, headers, credentials=CREDENTIALS, now=_now()) == \
        "credential scope is not for execute-api"
    path, query, headers = _header_signed()
    assert verify("GET", path, query, headers, credentials={"OTHER": "x"}, now=_now()) == \
        "unknown access key AKIDLOCAL"
    assert verify("GET", path, query, headers, credentials=CREDENTIALS, now=_now(16 * 60)) == \
        "the signature is too old or from the future"
