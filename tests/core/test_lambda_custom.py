"""The rules of Lambda custom (non-proxy) integrations (emulator/core/lambda_custom.py)."""

from __future__ import annotations

import json

import pytest

from emulator.core.integration import IntegrationResponseSpec, IntegrationSpec, select_response
from emulator.core.invocation import Failed, Succeeded, TimedOut
from emulator.core.lambda_custom import (
    InvalidLambdaPayload, LambdaAnswer, event_from_payload, invocation_answer, selection_value,
)


def test_the_payload_is_the_event() -> None:
    assert event_from_payload('{"a": [1, 2]}') == {"a": [1, 2]}
    assert event_from_payload('"text"') == "text"  # any JSON value is an event
    assert event_from_payload("  ") == {}  # [?] the Invoke API's default payload
    with pytest.raises(InvalidLambdaPayload, match="Could not parse request body into json"):
        event_from_payload("plain text")


def test_a_return_value_is_compact_json_with_status_200() -> None:
    answer = invocation_answer(Succeeded({"statusCode": 200, "body": "é"}, 1.0), "r1")
    assert answer == LambdaAnswer(200, '{"statusCode":200,"body":"é"}', None)
    assert invocation_answer(Succeeded(None, 1.0), "r1").body == "null"
    assert selection_value(answer) is None


def test_a_function_error_is_a_200_answer_with_the_error_payload() -> None:
    answer = invocation_answer(Failed("ValueError", "bad input", 2.0), "r2")
    assert answer.status == 200 and answer.error_message == "bad input"
    assert json.loads(answer.body) == {"errorMessage": "bad input", "errorType": "ValueError",
                                       "requestId": "r2", "stackTrace": []}
    assert selection_value(answer) == "bad input"


def test_a_timeout_is_lambdas_timeout_error() -> None:
    answer = invocation_answer(TimedOut(3.0, 3000.0), "r3")
    payload = json.loads(answer.body)
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"] == "RequestId: r3 Error: Task timed out after 3.00 seconds"
    assert answer.error_message == payload["errorMessage"]


def test_responses_are_selected_by_the_error_message() -> None:
    spec = IntegrationSpec(type="AWS", function="f", responses=(
        IntegrationResponseSpec(key="/.*/"), IntegrationResponseSpec(key="/bad.*/"),
        IntegrationResponseSpec(key="$default")))
    # A handler that returned has no errorMessage: even /.*/ does not match [?].
    assert select_response(spec, None) == spec.responses[2]
    assert select_response(spec, "bad input") == spec.responses[0]  # the first match, in order
    only_bad = IntegrationSpec(type="AWS", function="f", responses=(
        IntegrationResponseSpec(key="/bad.*/"), IntegrationResponseSpec(key="$default")))
    assert select_response(only_bad, "bad input") == only_bad.responses[0]
    assert select_response(only_bad, "other") == only_bad.responses[1]
    assert spec.label == "f"
