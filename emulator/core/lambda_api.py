"""Lambda's ``Invoke`` for the app's functions, as pure rules.

Handler workers get ``AWS_ENDPOINT_URL_LAMBDA`` pointing at the gateway's port, so a
handler that calls ``boto3.client("lambda").invoke(FunctionName=..., ...)`` (a common
pattern: ``$connect`` hands slow work to another function with
``InvocationType="Event"``) reaches the same warm worker pools. The HTTP layer calls
:func:`parse_invoke`; for a :class:`LambdaInvoke` it runs the function and answers
with :func:`invoke_response` (or 202 at once for ``Event``).

Wire format (botocore ``lambda`` service model, Invoke): ``POST
/2015-03-31/functions/{FunctionName}/invocations``, raw payload body,
``X-Amz-Invocation-Type`` header; errors carry ``x-amzn-ErrorType``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote

from .arns import lambda_function_arn
from .errors import (
    InvalidParameterValueException, InvalidRequestContentException, LambdaApiError, ResourceNotFoundException,
)
from .invocation import Failed, Outcome, Succeeded, TimedOut
from .management import HttpResponse

INVOKE_PREFIX = "/2015-03-31/functions/"
_INVOKE_SUFFIX = "/invocations"
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


@dataclass(frozen=True)
class LambdaInvoke:
    """A valid Invoke request: which function, with what event, how."""

    function: str
    event: Any
    invocation_type: str


def is_lambda_path(target: str) -> bool:
    """Whether an HTTP request target belongs to the Lambda API (not @connections)."""
    return target.startswith(INVOKE_PREFIX)


def error_response(error: LambdaApiError, request_id: str) -> HttpResponse:
    """Serialise a Lambda API error the way Lambda does."""
    body = json.dumps({"Type": "User", "message": error.message or error.error_type}).encode()
    headers = (
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", error.error_type),
        ("Content-Type", "application/json"),
    )
    return HttpResponse(error.status, headers, body)


def resolve_function_name(
    raw: str, functions: Mapping[str, Any], *, region: str, account_id: str
) -> str | None:
    """The app function that ``FunctionName`` names, or None.

    Lambda accepts a name, a partial ARN (``123456789012:function:name``) or a full
    ARN, each optionally with a qualifier; only ``$LATEST`` exists locally.
    """
    name = raw
    if name.startswith("arn:"):
        parts = name.split(":")
        # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
            return None
        if parts[3] != region or parts[4] != account_id:
            return None
        name = ":".join(parts[6:])
    elif name.count(":") >= 2:
        account, kind, rest = name.split(":", 2)
        if account != account_id or kind != "function":
            return None
        name = rest
    name, _, qualifier = name.partition(":")
    if qualifier not in ("", "$LATEST"):
        return None
    return name if name in functions else None


def parse_invoke(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    functions: Mapping[str, Any],
    *,
    region: str,
    account_id: str,
    request_id: str,
) -> LambdaInvoke | HttpResponse:
    """Check an Invoke request; an :class:`HttpResponse` means answer with that error.

    ``headers`` keys are lower-case.
    """
    try:
        return _parse_invoke(method, target, headers, body, functions, region=region, account_id=account_id)
    except LambdaApiError as error:
        return error_response(error, request_id)


def _parse_invoke(
    method: str, target: str, headers: Mapping[str, str], body: bytes, functions: Mapping[str, Any],
    *, region: str, account_id: str,
) -> LambdaInvoke:
    path = target.split("?", 1)[0]
    if method.upper() != "POST" or not path.endswith(_INVOKE_SUFFIX):
        raise ResourceNotFoundException(f"Unsupported Lambda API path {path}")
    raw_name = unquote(path[len(INVOKE_PREFIX):-len(_INVOKE_SUFFIX)])
    function = resolve_function_name(raw_name, functions, region=region, account_id=account_id)
    if function is None:
        raise ResourceNotFoundException(f"Function not found: {lambda_function_arn(region, account_id, raw_name)}")
    invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type not in INVOCATION_TYPES:
        raise InvalidParameterValueException(f"Unsupported invocation type {invocation_type}")
    try:
        # An empty payload is an empty event object, as with the CLI's invoke.
        event = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestContentException("Could not parse request body into json") from None
    return LambdaInvoke(function, event, invocation_type)


def accepted_response(invocation_type: str, request_id: str) -> HttpResponse:
    """202 for ``Event`` (queued), 204 for ``DryRun`` (validated only)."""
    status = 202 if invocation_type == "Event" else 204
    return HttpResponse(status, (("x-amzn-RequestId", request_id),), b"")


def invoke_response(outcome: Outcome, request_id: str) -> HttpResponse:
    """The answer to a ``RequestResponse`` invoke.

    A handler error is still HTTP 200, flagged by ``X-Amz-Function-Error:
    Unhandled`` with Lambda's ``errorMessage``/``errorType`` body; a timeout reports
    "Task timed out after N seconds" the same way.
    """
    headers: tuple[tuple[str, str], ...] = (
        ("x-amzn-RequestId", request_id),
        ("X-Amz-Executed-Version", "$LATEST"),
        ("Content-Type", "application/json"),
    )
    if isinstance(outcome, Succeeded):
        return HttpResponse(200, headers, json.dumps(outcome.result).encode())
    error: dict[str, object]
    if isinstance(outcome, TimedOut):
        error = {"errorMessage": f"{request_id} Task timed out after {outcome.timeout_s:.2f} seconds"}
    else:
        assert isinstance(outcome, Failed)
        error = {"errorMessage": outcome.error_message, "errorType": outcome.error_type, "stackTrace": []}
    return HttpResponse(200, headers + (("X-Amz-Function-Error", "Unhandled"),), json.dumps(error).encode())
