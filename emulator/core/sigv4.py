"""SigV4 verification of a WebSocket upgrade request, for ``AWS_IAM`` on ``$connect``.

API Gateway accepts an IAM-authorized connection when the upgrade request is signed
for service ``execute-api`` (DOCS-iam), either in headers (``Authorization`` +
``X-Amz-Date``) or in the query string (a presigned URL: ``X-Amz-Algorithm``,
``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``, ``X-Amz-SignedHeaders``,
``X-Amz-Signature``) — browsers can only do the latter. Call :func:`verify`; it
returns None when the signature is valid for one of the known credentials, else the
reason (the gateway answers 403 either way). Deliberate difference: the IAM policy
itself is not evaluated; valid local credentials are enough.

Pure: the current time comes in as an argument.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from typing import Mapping, Sequence
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW_S = 15 * 60  # SigV4's allowed clock skew for header signatures
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _canonical_query(query: Sequence[tuple[str, str]], *, without: str | None = None) -> str:
    pairs = sorted((_encode(k), _encode(v)) for k, v in query if k != without)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _signing_key(secret: str, date: str, region: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, SERVICE, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _parse_authorization(value: str) -> dict[str, str] | None:
    if not value.startswith(ALGORITHM + " "):
        return None
    fields: dict[str, str] = {}
    for item in value[len(ALGORITHM) + 1:].split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            fields[key] = val
    if not {"Credential", "SignedHeaders", "Signature"} <= set(fields):
        return None
    return fields


def access_key_of(query: Sequence[tuple[str, str]], headers: Sequence[tuple[str, str]]) -> str | None:
    """The access key id a request is signed with (``X-Amz-Credential`` of a presigned
    URL, else the ``Credential`` of the ``Authorization`` header); call it once
    :func:`verify` accepted the request, to know who signed it."""
    params = dict(query)
    if "X-Amz-Signature" in params:
        credential = params.get("X-Amz-Credential", "")
    else:
        authorization = ""
        for name, value in headers:
            if name.lower() == "authorization":
                authorization = value
        parsed = _parse_authorization(authorization)
        credential = parsed["Credential"] if parsed is not None else ""
    access_key = credential.split("/", 1)[0]
    return access_key or None


def verify(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    *,
    credentials: Mapping[str, str],
    now: datetime,
) -> str | None:
    """None if the request is validly signed for ``execute-api``, else why not.

    ``query`` holds the decoded query pairs and ``headers`` the raw header pairs of
    the upgrade request; ``credentials`` maps access key ids to secret keys.
    """
    lowered: dict[str, list[str]] = {}
    for name, value in headers:
        lowered.setdefault(name.lower(), []).append(value)
    params = dict(query)
    presigned = "X-Amz-Signature" in params
    if presigned:
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            return "unsupported X-Amz-Algorithm"
        fields = {"Credential": params.get("X-Amz-Credential", ""),
                  "SignedHeaders": params.get("X-Amz-SignedHeaders", ""),
                  "Signature": params["X-Amz-Signature"]}
        amz_date = params.get("X-Amz-Date", "")
        # botocore hashes the (empty) body for execute-api; S3-style signers send
        # UNSIGNED-PAYLOAD. Both are accepted.
        payload_hashes = [EMPTY_SHA256, "UNSIGNED-PAYLOAD"]
        canonical_query = _canonical_query(query, without="X-Amz-Signature")
    else:
        authorization = (lowered.get("authorization") or [""])[-1]
        parsed = _parse_authorization(authorization)
        if parsed is None:
            return "missing or malformed SigV4 Authorization"
        fields = parsed
        amz_date = (lowered.get("x-amz-date") or [""])[-1]
        payload_hashes = [(lowered.get("x-amz-content-sha256") or [EMPTY_SHA256])[-1]]
        canonical_query = _canonical_query(query)
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[3] != SERVICE or scope[4] != "aws4_request":
        return "credential scope is not for execute-api"
    access_key, date, region = scope[0], scope[1], scope[2]
    secret = credentials.get(access_key)
    if secret is None:
        return f"unknown access key {access_key}"
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "missing or malformed X-Amz-Date"
    if not amz_date.startswith(date):
        return "X-Amz-Date does not match the credential scope"
    age = (now - signed_at).total_seconds()
    if presigned:
        try:
            expires = int(params.get("X-Amz-Expires", ""))
        except ValueError:
            return "missing X-Amz-Expires"
        if age > expires or age < -MAX_SKEW_S:
            return "the presigned URL has expired"
    elif abs(age) > MAX_SKEW_S:
        return "the signature is too old or from the future"
    signed_headers = fields["SignedHeaders"].split(";")
    if "host" not in signed_headers:
        return "the host header is not signed"
    canonical_headers = ""
    for name in signed_headers:
        values = lowered.get(name)
        if values is None:
            return f"signed header {name} is missing"
        canonical_headers += f"{name}:{','.join(' '.join(v.split()) for v in values)}\n"
    key = _signing_key(secret, date, region)
    for payload_hash in payload_hashes:
        canonical_request = "\n".join((
            method.upper(), quote(path or "/", safe="/~"), canonical_query,
            canonical_headers, fields["SignedHeaders"], payload_hash,
        ))
        string_to_sign = "\n".join((
            ALGORITHM, amz_date, f"{date}/{region}/{SERVICE}/aws4_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ))
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, fields["Signature"]):
            return None
    return "the signature does not match"
