"""Access rules of $connect and their start-up warnings (emulator/core/access.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.core.access import access_warnings, api_key_refusal, iam_check
from emulator.core.credentials import DEFAULT_IAM_CREDENTIALS
from emulator.core.events import Handshake
from emulator.core.model import ApiModel, FunctionSpec, RouteSpec


@pytest.mark.parametrize("key, reason", [
    ("k1", None),
    (None, "API key required: no x-api-key header"),
    ("", "API key required: no x-api-key header"),
    ("nope", "API key required: x-api-key header 'nope' is unknown (not one of the --api-key keys)"),
    ("a-very-long-key-value", "API key required: x-api-key header 'a-very-l…' is unknown "
                              "(not one of the --api-key keys)"),
])
def test_api_key_refusal(key: str | None, reason: str | None) -> None:
    assert api_key_refusal(key, frozenset({"k1"})) == reason


def test_api_key_refusal_when_no_key_is_configured() -> None:
    assert api_key_refusal("k1", frozenset()) == (
        "API key required: x-api-key header 'k1' is unknown (none is configured (--api-key))")


def _signed(access_key: str, secret: str) -> Handshake:
    request = AWSRequest(method="GET", url="https://h/dev", headers={"Host": "h"})
    SigV4Auth(Credentials(access_key, secret), "execute-api", "us-east-1").add_auth(request)
    return Handshake(path="/dev", query=(), headers=tuple(request.headers.items()), source_ip="127.0.0.1")


def test_iam_check_names_the_signer_or_the_failed_part() -> None:
    now = datetime.now(timezone.utc)
    caller = iam_check(_signed("AK", "s"), credentials={"AK": "s"}, account_id="111122223333", now=now,
                       identities={"AK": {"cognitoIdentityId": "us-east-1:x"}})
    assert not isinstance(caller, str)
    assert (caller["accessKey"], caller["accountId"], caller["cognitoIdentityId"]) == (
        "AK", "111122223333", "us-east-1:x")
    assert iam_check(_signed("AK", "wrong"), credentials={"AK": "s"}, account_id="1", now=now) == (
        "AWS_IAM: SigV4 check failed: the signature does not match")
    assert iam_check(_signed("BK", "s"), credentials={"AK": "s"}, account_id="1", now=now) == (
        "AWS_IAM: SigV4 check failed: unknown access key BK")
    unsigned = Handshake(path="/dev", query=(), headers=(("Host", "h"),), source_ip="127.0.0.1")
    assert iam_check(unsigned, credentials={"AK": "s"}, account_id="1", now=now) == (
        "AWS_IAM: SigV4 check failed: missing or malformed SigV4 Authorization")


def _model(connect: RouteSpec | None, key_source: str | None = None) -> ApiModel:
    routes = {"$connect": connect} if connect is not None else {}
    return ApiModel(
        name="t", stage="dev", route_selection_expression="$request.body.action",
        routes=MappingProxyType(routes), api_key_selection_expression=key_source,
        functions=MappingProxyType({"C": FunctionSpec(name="C", handler="c.h", code_dir=Path("."))}),
    )


def test_access_warnings() -> None:
    keyed = _model(RouteSpec("$connect", "C", api_key_required=True))
    iam = _model(RouteSpec("$connect", "C", authorization_type="AWS_IAM"))
    [warning] = access_warnings(keyed, api_keys=frozenset(), iam_credentials=DEFAULT_IAM_CREDENTIALS)
    assert "requires an API key" in warning and "x-api-key header" in warning and "--api-key" in warning
    assert access_warnings(keyed, api_keys=frozenset({"k"}), iam_credentials=DEFAULT_IAM_CREDENTIALS) == []
    [warning] = access_warnings(iam, api_keys=frozenset(), iam_credentials=DEFAULT_IAM_CREDENTIALS)
    assert "AWS_IAM" in warning and "testing:testing" in warning and "--iam-credentials" in warning
    assert access_warnings(iam, api_keys=frozenset(), iam_credentials={"AK": "s"}) == []
    assert access_warnings(_model(None), api_keys=frozenset(), iam_credentials=DEFAULT_IAM_CREDENTIALS) == []
    by_authorizer = _model(RouteSpec("$connect", "C", api_key_required=True),
                           key_source="$context.authorizer.usageIdentifierKey")
    [warning] = access_warnings(by_authorizer, api_keys=frozenset(), iam_credentials=DEFAULT_IAM_CREDENTIALS)
    assert "usageIdentifierKey" in warning
