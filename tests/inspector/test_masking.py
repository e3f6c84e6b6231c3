"""Tests for emulator.inspector.masking: no secret reaches the inspector's page."""

from __future__ import annotations

from emulator.inspector.masking import MASK, mask_pairs, masked


def test_authorization_keeps_its_scheme_only() -> None:
    signed = ("AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/execute-api/aws4_request, "
              "SignedHeaders=host, Signature=abc123")
    event = {"headers": {"Authorization": signed, "Host": "h"}, "multiValueHeaders": {"authorization": [signed]}}
    shown = masked(event)
    assert shown["headers"] == {"Authorization": "AWS4-HMAC-SHA256 ****", "Host": "h"}
    assert shown["multiValueHeaders"] == {"authorization": ["AWS4-HMAC-SHA256 ****"]}
    assert "abc123" not in repr(shown) and "AKID" not in repr(shown)
    assert event["headers"]["Authorization"] == signed  # the original is untouched (replays use it)


def test_keys_named_like_credentials_are_masked_at_any_depth_and_case() -> None:
    event = {"requestContext": {"identity": {"apiKey": "k-123", "sourceIp": "1.2.3.4"},
                                "authorizer": {"principalId": "me"}},
             "queryStringParameters": {"X-Amz-Signature": "sig", "room": "1", "token": "t0k3n"},
             "headers": {"Cookie": "session=s3cret", "x-api-key": "key"}}
    shown = masked(event)
    assert shown["requestContext"]["identity"] == {"apiKey": MASK, "sourceIp": "1.2.3.4"}
    assert shown["requestContext"]["authorizer"] == {"principalId": "me"}
    assert shown["queryStringParameters"] == {"X-Amz-Signature": MASK, "room": "1", "token": MASK}
    assert shown["headers"] == {"Cookie": MASK, "x-api-key": MASK}


def test_non_string_values_and_lists_pass_through() -> None:
    assert masked([1, None, {"a": [True, {"password": 3}]}]) == [1, None, {"a": [True, {"password": MASK}]}]


def test_pairs_keep_their_order() -> None:
    assert mask_pairs([("room", "1"), ("X-Amz-Credential", "AKID/..."), ("Authorization", "Bearer x")]) == [
        ["room", "1"], ["X-Amz-Credential", MASK], ["Authorization", "Bearer ****"],
    ]
