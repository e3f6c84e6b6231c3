"""requestContext.identity of an AWS_IAM caller (emulator/core/iam_identity.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from emulator.core.errors import ConfigError
from emulator.core.iam_identity import (
    CALLER_FIELDS, caller_identity, event_identity, identities_from_json, parse_identities,
)

REST_ORDER = ["cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "sourceIp", "principalOrgId",
              "accessKey", "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "userAgent", "user"]


def test_the_default_principal_is_an_iam_user_named_after_its_key() -> None:
    identity = caller_identity("testing", "123456789012")
    assert identity["accessKey"] == "testing"
    assert identity["accountId"] == "123456789012"
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/testing"
    user = identity["user"]
    assert user is not None and user == identity["caller"]
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user)  # an IAM user id's shape
    assert caller_identity("testing", "123456789012") == identity  # the same key is the same user
    assert caller_identity("other", "123456789012")["user"] != user
    for name in ("cognitoIdentityId", "cognitoIdentityPoolId", "cognitoAuthenticationType",
                 "cognitoAuthenticationProvider", "principalOrgId"):
        assert identity[name] is None


def test_configured_fields_replace_the_defaults_for_their_key_only() -> None:
    configured = {"AK": {"cognitoIdentityId": "us-east-1:abc", "userArn": "arn:aws:sts::1:assumed-role/R/s"}}
    identity = caller_identity("AK", "123456789012", configured)
    assert identity["cognitoIdentityId"] == "us-east-1:abc"
    assert identity["userArn"] == "arn:aws:sts::1:assumed-role/R/s"
    assert identity["accountId"] == "123456789012" and identity["accessKey"] == "AK"
    assert caller_identity("BK", "123456789012", configured)["cognitoIdentityId"] is None


@pytest.mark.parametrize("user_agent", ["curl/8", None])
def test_event_identity_is_the_rest_identity_object_in_order(user_agent: str | None) -> None:
    identity = event_identity("10.0.0.1", user_agent, caller_identity("AK", "123456789012"))
    assert list(identity) == REST_ORDER
    assert (identity["sourceIp"], identity["userAgent"]) == ("10.0.0.1", user_agent)


def test_parse_identities() -> None:
    parsed = parse_identities({"AK": {"cognitoIdentityId": "x", "principalOrgId": None}}, "f.json")
    assert dict(parsed["AK"]) == {"cognitoIdentityId": "x", "principalOrgId": None}
    assert "accessKey" not in CALLER_FIELDS and "sourceIp" not in CALLER_FIELDS


@pytest.mark.parametrize("document, where", [
    ([], "f.json"),
    ({"AK": "x"}, "f.json: AK"),
    ({"AK": {"accessKey": "BK"}}, "f.json: AK.accessKey"),  # the key itself is not settable
    ({"AK": {"cognitoIdentityID": "x"}}, "f.json: AK.cognitoIdentityID"),  # a typo is named
    ({"AK": {"accountId": 123456789012}}, "f.json: AK.accountId"),
])
def test_parse_identities_names_the_bad_place(document: Any, where: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_identities(document, "f.json")
    assert error.value.where == where


def test_an_identities_file_is_json_of_accepted_keys() -> None:
    text = '{"AKIDLOCAL": {"cognitoIdentityId": "us-east-1:abc"}}'
    identities = identities_from_json(text, "--iam-identities ids.json", {"AKIDLOCAL": "secret"})
    assert identities["AKIDLOCAL"]["cognitoIdentityId"] == "us-east-1:abc"
    with pytest.raises(ConfigError, match="not JSON"):
        identities_from_json("{", "--iam-identities ids.json", {"AKIDLOCAL": "secret"})
    with pytest.raises(ConfigError, match=r"access key AKIDLOCAL is not accepted .* --iam-credentials AKIDLOCAL:SECRET"):
        identities_from_json(text, "--iam-identities ids.json", {"testing": "testing"})
