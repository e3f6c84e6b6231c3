"""Lambda Invoke rules (emulator/core/lambda_api.py), without sockets."""

from __future__ import annotations

import json

import pytest

from emulator.core.invocation import Failed, Succeeded, TimedOut
from emulator.core.lambda_api import (
    LambdaInvoke, accepted_response, invoke_response, is_lambda_path, parse_invoke, resolve_function_name,
)
from emulator.core.management import HttpResponse

FUNCTIONS = {"Chat": object(), "Worker": object()}
REGION, ACCOUNT = "us-east-1", "123456789012"


def _parse(target: str, body: bytes = b"{}", **headers: str) -> LambdaInvoke | HttpResponse:
    return parse_invoke("POST", target, headers, body, FUNCTIONS, region=REGION, account_id=ACCOUNT,
                        request_id="rid")


@pytest.mark.parametrize("raw, expected", [
    ("Chat", "Chat"),
    ("Chat:$LATEST", "Chat"),
    ("arn:aws:lambda:us-east-1:123456789012:function:Chat", "Chat"),
    ("arn:aws:lambda:us-east-1:123456789012:function:Chat:$LATEST", "Chat"),
    ("123456789012:function:Worker", "Worker"),
    ("Chat:prod", None),
    ("arn:aws:lambda:eu-west-1:123456789012:function:Chat", None),
    ("arn:aws:lambda:us-east-1:999999999999:function:Chat", None),
    ("arn:aws:s3:::bucket", None),
    ("Nope", None),
])
def test_function_names_arns_and_qualifiers(raw: str, expected: str | None) -> None:
    assert resolve_function_name(raw, FUNCTIONS, region=REGION, account_id=ACCOUNT) == expected


def test_parse_valid_invoke_with_encoded_arn() -> None:
    parsed = _parse("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3AChat/invocations",
                    b'{"a": 1}', **{"x-amz-invocation-type": "Event"})
    assert parsed == LambdaInvoke("Chat", {"a": 1}, "Event")
    assert is_lambda_path("/2015-03-31/functions/Chat/invocations")
    assert not is_lambda_path("/dev/@connections/x")


def test_empty_payload_is_an_empty_event() -> None:
    assert _parse("/2015-03-31/functions/Chat/invocations", b"") == LambdaInvoke("Chat", {}, "RequestResponse")


@pytest.mark.parametrize("target, body, headers, status, error_type", [
    ("/2015-03-31/functions/Nope/invocations", b"{}", {}, 404, "ResourceNotFoundException"),
    ("/2015-03-31/functions/Chat/invocations", b"{not json", {}, 400, "InvalidRequestContentException"),
    ("/2015-03-31/functions/Chat/invocations", b"{}", {"x-amz-invocation-type": "Later"}, 400,
     "InvalidParameterValueException"),
    ("/2015-03-31/functions/Chat/configuration", b"{}", {}, 404, "ResourceNotFoundException"),
])
def test_errors_carry_status_and_type(target: str, body: bytes, headers: dict[str, str], status: int,
                                      error_type: str) -> None:
    response = _parse(target, body, **headers)
    assert isinstance(response, HttpResponse)
    assert response.status == status
    assert ("x-amzn-ErrorType", error_type) in response.headers
    assert json.loads(response.body)["message"]


def test_invoke_response_shapes() -> None:
    ok = invoke_response(Succeeded({"x": [1, 2]}, 1.0), "rid")
    assert ok.status == 200 and json.loads(ok.body) == {"x": [1, 2]}
    assert not any(name == "X-Amz-Function-Error" for name, _ in ok.headers)
    failed = invoke_response(Failed("ValueError", "boom", 1.0), "rid")
    assert failed.status == 200 and ("X-Amz-Function-Error", "Unhandled") in failed.headers
    assert json.loads(failed.body) == {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}
    timed_out = invoke_response(TimedOut(3.0, 3000.0), "rid")
    assert json.loads(timed_out.body)["errorMessage"] == "rid Task timed out after 3.00 seconds"
    assert accepted_response("Event", "rid").status == 202
    assert accepted_response("DryRun", "rid").status == 204
