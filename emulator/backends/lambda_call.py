"""An ``AWS`` integration's call to Lambda (a custom, non-proxy Lambda integration).

Call :func:`call_lambda` with the request payload (the rendered template or the frame
passed through): it runs the function in the invoker's workers, the same pool, with
the same environment, timeout and log lines as a Lambda proxy route, and returns what
Lambda's Invoke API would answer API Gateway (core/lambda_custom.py's rules). A
function error is an answer, not a failure: API Gateway selects an integration
response by its ``errorMessage`` (reference apigw-integrations.md §3.1).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..core.invocation import InvocationService, Invoke
from ..core.lambda_custom import (
    CONTENT_TYPE, InvalidLambdaPayload, LambdaAnswer, event_from_payload, invocation_answer,
)
from .http_call import BackendResponse

__all__ = ["call_lambda"]

log = logging.getLogger("wsgw.server")


async def call_lambda(invoker: InvocationService, function: str, payload: bytes, invoke: Invoke) -> tuple[
        BackendResponse, str | None]:
    """Invoke ``function`` with ``payload`` as the event; return Lambda's answer as a
    backend response (status 200, ``Content-Type: application/json``) and the
    function error's message (None when the handler returned). Raises
    :class:`InvalidLambdaPayload` for a payload that is not JSON; the invoker's own
    errors propagate (the caller turns them into a failed integration)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidLambdaPayload(f"Could not parse request body into json: {exc}") from None
    event: Any = event_from_payload(text)
    # Shielded: past the integration timeout the client is answered and the function
    # runs on, as a Lambda does (its outcome is dropped); it is not killed.
    outcome = await asyncio.shield(invoker.invoke(function, event, invoke.request_id))
    answer: LambdaAnswer = invocation_answer(outcome, invoke.request_id)
    if answer.error_message is not None:
        # The integration succeeds with the error payload, so the invocation's own log
        # line says ok: this line tells the function error.
        log.info("%s %s %s -> %s function error (Lambda custom integration): %s", invoke.connection_id,
                 invoke.route_key, invoke.request_id, function, answer.error_message)
    response = BackendResponse(answer.status, answer.body, {"Content-Type": CONTENT_TYPE})
    return response, answer.error_message
