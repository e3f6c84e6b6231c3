"""API Gateway's rules for an ``AWS`` integration with Lambda (a "custom", non-proxy
Lambda integration), as data in and out.

The backends (``emulator/backends/runner.py``) call these for each request of a route
whose :class:`~emulator.core.integration.IntegrationSpec` has a ``function``:

* :func:`event_from_payload` — the rendered request template (or the frame passed
  through) becomes the Lambda event (reference apigw-integrations.md §1.1);
* :func:`invocation_answer` — the invocation's outcome as the answer Lambda's Invoke
  API gives API Gateway: status 200, the return value as JSON text, or the function
  error's payload;
* :func:`selection_value` — what the integration responses' ``/regex/`` keys are
  matched against: ``$integration.response.body.errorMessage`` (§3.1).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .invocation import Failed, Outcome, Succeeded

__all__ = ["InvalidLambdaPayload", "LambdaAnswer", "event_from_payload", "invocation_answer", "selection_value"]

# Lambda's Invoke API answers 200 for a function error too (the error is in the
# payload, flagged by X-Amz-Function-Error); integration-response templates selected by
# `$integration.response.statuscode` chose `200` for a normal and an error message
# alike [obs] LS-TEST test_websocket_non_proxy_response_integration (reference §3.2).
INVOKE_STATUS = 200
# Lambda responses carry this type: a `$integration.response.header.Content-Type`
# selection chose the `application/json` template [obs] LS-TEST (reference §3.2).
CONTENT_TYPE = "application/json"


class InvalidLambdaPayload(Exception):
    """The request payload is not JSON, so Lambda's Invoke API refuses it
    (``InvalidRequestContentException``, "Could not parse request body into json"):
    the integration fails, and the client gets the ``Internal server error`` frame [?]."""


@dataclass(frozen=True)
class LambdaAnswer:
    """What Lambda answered API Gateway: ``status``, the payload as JSON text, and the
    function error's message (None when the handler returned)."""

    status: int
    body: str
    error_message: str | None = None


def event_from_payload(payload: str) -> Any:
    """The Lambda event for ``payload`` (the template's output or the frame): any JSON
    value; an empty payload is ``{}`` (the Invoke API's default payload [?]). Raise
    :class:`InvalidLambdaPayload` for text that is not JSON."""
    if not payload.strip():
        return {}
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise InvalidLambdaPayload(f"Could not parse request body into json: {exc}") from None


def _json_text(value: Any) -> str:
    # Compact, as in the reference's example of a passed-through return value
    # (`{"statusCode":…,"body":"…"}`, reference §1.1); the runtimes' own spacing [?].
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def invocation_answer(outcome: Outcome, request_id: str) -> LambdaAnswer:
    """``outcome`` as the Invoke API's answer. A handler that raised, died or timed out
    is a function error: its payload ``{"errorMessage", "errorType", "requestId",
    "stackTrace"}`` (the Python runtime's error shape, lambda-runtime.md) is the body,
    still with status 200 (see INVOKE_STATUS). Deliberate difference: ``stackTrace``
    is empty (the traceback is in the function's log lines)."""
    if isinstance(outcome, Succeeded):
        return LambdaAnswer(INVOKE_STATUS, _json_text(outcome.result))
    if isinstance(outcome, Failed):
        error_type, message = outcome.error_type, outcome.error_message
    else:
        # Lambda's timeout error (lambda-runtime.md): type Sandbox.Timedout.
        error_type = "Sandbox.Timedout"
        message = f"RequestId: {request_id} Error: Task timed out after {outcome.timeout_s:.2f} seconds"
    payload = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": []}
    return LambdaAnswer(INVOKE_STATUS, _json_text(payload), message)


def selection_value(answer: LambdaAnswer) -> str | None:
    """The value the integration responses' ``/regex/`` keys are matched against:
    the function error's ``errorMessage`` [doc] DG-XFORM (reference §3.1). None when
    the handler returned: there is no ``errorMessage``, so only ``$default`` applies
    (REST's rule for Lambda custom integrations; on WebSocket [?])."""
    return answer.error_message
