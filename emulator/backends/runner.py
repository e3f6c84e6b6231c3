"""Running one non-proxy :class:`~emulator.core.invocation.Invoke`.

:class:`BackendIntegrations` serves every route whose ``RouteSpec.integration`` is set
(``MOCK``, ``HTTP``, ``HTTP_PROXY``, ``AWS``: services, and Lambda custom
integrations, whose function runs in the invoker's workers through ``lambda_call``).
The invoker's integrations hand it those Invokes (``emulator/runtime/integrations.py``);
Lambda proxy routes never come here.

Its answer is an outcome shaped like a Lambda proxy's, so the lifecycle's rules apply
unchanged: ``Succeeded({"statusCode": status, "body": reply})`` where ``status`` decides
a ``$connect`` (non-2xx refuses the handshake with it, as for a Lambda proxy [?],
reference apigw-integrations.md §3.5; a Lambda custom integration answers 200 even for
a function error [?], so its ``$connect`` is accepted) and ``body`` is what a two-way
route sends;
``Failed`` (backend unreachable, bad template, refused pass-through) gives the
``Internal server error`` frame or a 502 handshake; ``TimedOut`` past
``TimeoutInMillis``.

The request's values come from the proxy event the lifecycle built for it: its
``requestContext`` is ``$context``, its ``body`` the frame, its ``headers`` and
``queryStringParameters`` the ``$connect`` upgrade request's.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from typing import Any, Callable, Mapping

from ..core.integration import (
    AWS, HTTP_PROXY, MOCK, REFUSED, IntegrationSpec, StageVariableMissing, choose_request_template,
    choose_response_template, map_request_parameters, select_response, substitute_stage_variables,
)
from ..core.content_handling import ConversionFailed, request_bytes, response_text
from ..core.invocation import Failed, InvocationService, Invoke, Outcome, Succeeded, TimedOut
from ..core.lambda_custom import InvalidLambdaPayload
from ..core.model import MAX_INTEGRATION_TIMEOUT_MS
from . import vtl
from .aws_service import UnsupportedService, json_answer, service_request
from .http_call import USER_AGENT, BackendFailed, BackendResponse, send
from .lambda_call import call_lambda

__all__ = ["BackendIntegrations"]


class _IntegrationFailed(Exception):
    """The integration failed before or without a backend answer (error type, message)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class BackendIntegrations:
    """MOCK, HTTP, HTTP_PROXY, AWS-service and Lambda custom integrations.

    ``stage_variables()`` gives the stage's variables now (hot reload may change
    them); ``aws_endpoint_url()`` where AWS integrations send (the embedded moto or
    ``--aws-endpoint-url``); ``invoker`` runs the functions of Lambda custom
    integrations (None: they fail)."""

    def __init__(
        self, *, stage_variables: Callable[[], Mapping[str, str]], aws_endpoint_url: Callable[[], str | None],
        region: str, api_id: str, invoker: InvocationService | None = None,
    ) -> None:
        self.invoker = invoker
        self.stage_variables = stage_variables
        self.aws_endpoint_url = aws_endpoint_url
        self.region = region
        self.api_id = api_id

    async def run(self, invoke: Invoke) -> Outcome:
        """Serve ``invoke`` (which has an ``integration``); never raises."""
        spec = invoke.integration
        assert spec is not None, "Lambda proxy Invokes go to the invoker"
        started = time.perf_counter()
        timeout_s = (spec.timeout_ms or MAX_INTEGRATION_TIMEOUT_MS) / 1000

        def elapsed() -> float:
            return (time.perf_counter() - started) * 1000

        try:
            result = await asyncio.wait_for(self._serve(spec, invoke, timeout_s), timeout_s)
        except (asyncio.TimeoutError, TimeoutError):
            return TimedOut(timeout_s, elapsed())
        except BackendFailed as exc:
            if exc.timed_out:
                return TimedOut(timeout_s, elapsed())
            return Failed("IntegrationError", str(exc), elapsed())
        except _IntegrationFailed as exc:
            return Failed(exc.error_type, str(exc), elapsed())
        return Succeeded(result, elapsed())

    async def _serve(self, spec: IntegrationSpec, invoke: Invoke, timeout_s: float) -> dict[str, Any]:
        event = invoke.event
        context: Mapping[str, Any] = event.get("requestContext") or {}
        body = event.get("body") or ""
        headers: Mapping[str, str] = event.get("headers") or {}
        query: Mapping[str, str] = event.get("queryStringParameters") or {}
        variables = self.stage_variables()
        params = {"header": dict(headers), "querystring": dict(query), "path": {}}
        try:
            if spec.type == HTTP_PROXY:
                payload = body  # passed through "as-is" [doc] DG-XFORM
            else:
                payload = self._request_payload(spec, body, headers, context, variables, params)
            mapped_headers, mapped_query = map_request_parameters(
                spec.request_parameters, context=context, stage_variables=variables,
                headers=headers, query=query, body=body,
            )
            # ContentHandlingStrategy: CONVERT_TO_BINARY sends the bytes of a base64
            # payload [doc] DG-BINARY (core/content_handling.py).
            data = b"" if spec.type == MOCK else request_bytes(payload, spec.content_handling)
            # A Lambda custom integration's responses are selected by the function
            # error's errorMessage, the others' by the status code [doc] DG-XFORM.
            selection: str | None
            if spec.type == MOCK:
                answer = _mock_answer(payload)
                selection = str(answer.status)
            elif spec.function is not None:
                if self.invoker is None:
                    raise _IntegrationFailed("IntegrationError", "no invoker runs Lambda custom integrations here")
                answer, selection = await call_lambda(self.invoker, spec.function, data, invoke)
            elif spec.type == AWS:
                answer = await self._call_service(spec, data, mapped_headers, timeout_s)
                selection = str(answer.status)
            else:
                answer = await self._call_http(spec, data, mapped_headers, mapped_query, variables, timeout_s)
                selection = str(answer.status)
            if spec.type == HTTP_PROXY:
                # The backend's body is the reply, with or without an integration
                # response [obs] LS-TEST (reference §1.1).
                return {"statusCode": answer.status, "body": answer.body}
            reply = self._reply(spec, answer, selection, body, context, variables, params)
            return {"statusCode": answer.status, "body": reply}
        except StageVariableMissing as exc:
            raise _IntegrationFailed("StageVariableMissing", str(exc)) from None
        except vtl.TemplateError as exc:
            raise _IntegrationFailed("MappingTemplateError", str(exc)) from None
        except ConversionFailed as exc:
            raise _IntegrationFailed("IntegrationError", str(exc)) from None
        except InvalidLambdaPayload as exc:
            # Lambda refuses a payload that is not JSON; the integration fails [?].
            raise _IntegrationFailed("InvalidRequestContentException", str(exc)) from None

    def _request_payload(
        self, spec: IntegrationSpec, body: str, headers: Mapping[str, str], context: Mapping[str, Any],
        variables: Mapping[str, str], params: Mapping[str, Mapping[str, str]],
    ) -> str:
        content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
        template = choose_request_template(spec, body, content_type)
        if template is REFUSED:
            # PassthroughBehavior refused: AWS answers 415 Unsupported Media Type
            # [doc] DG-PASSTHRU; what a WebSocket client sees is unconfirmed [?]:
            # the integration fails (error frame / 502 handshake).
            raise _IntegrationFailed("UnsupportedMediaType", "no request template matched and "
                                     f"PassthroughBehavior is {spec.passthrough_behavior}")
        if template is None:
            return body
        assert isinstance(template, str)
        return vtl.render(template, body=body, context=context, stage_variables=variables, params=params)

    def _reply(
        self, spec: IntegrationSpec, answer: BackendResponse, selection: str | None, request_body: str,
        context: Mapping[str, Any], variables: Mapping[str, str], params: Mapping[str, Mapping[str, str]],
    ) -> str:
        # The integration response for `selection` (status code or errorMessage)
        # [doc] DG-XFORM; no template: the output as it is [doc] DG-INTRESP.
        response = select_response(spec, selection)
        if response is None:
            return answer.body
        # CONVERT_TO_TEXT: the answer as base64, before its template [doc] DG-BINARY
        # (REST converts before mapping; on WebSocket [?]).
        output = response_text(answer.raw, response.content_handling)
        template = choose_response_template(
            response, status=answer.status, headers=answer.headers, request_body=request_body,
        )
        if template is None:
            return output
        return vtl.render(template, body=output, context=context, stage_variables=variables, params=params)

    async def _call_http(
        self, spec: IntegrationSpec, payload: bytes, headers: dict[str, str], query: Mapping[str, str],
        variables: Mapping[str, str], timeout_s: float,
    ) -> BackendResponse:
        url = substitute_stage_variables(spec.uri, variables)  # [doc] DG-STAGES
        if query:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        headers.setdefault("User-Agent", USER_AGENT.format(api_id=self.api_id))
        headers.setdefault("x-amzn-apigateway-api-id", self.api_id)
        data = payload if payload or spec.method not in ("GET", "HEAD") else None
        if data is not None:
            headers.setdefault("Content-Type", "application/json")  # [?] reference §1.7
        return await asyncio.to_thread(send, spec.method, url, data, headers, timeout_s)

    async def _call_service(
        self, spec: IntegrationSpec, payload: bytes, headers: Mapping[str, str], timeout_s: float,
    ) -> BackendResponse:
        endpoint = self.aws_endpoint_url()
        if endpoint is None:
            raise _IntegrationFailed("IntegrationError", "no AWS endpoint (the embedded moto is not running)")
        try:
            request = service_request(
                substitute_stage_variables(spec.uri, self.stage_variables()), spec.method, payload,
                {"Accept": "application/json", **headers}, endpoint_url=endpoint, region=self.region,
            )
        except UnsupportedService as exc:
            raise _IntegrationFailed("IntegrationError", str(exc)) from None
        answer = await asyncio.to_thread(send, request.method, request.url, request.body, request.headers, timeout_s)
        if not request.query_protocol:
            return answer
        body = json_answer(answer.body)
        if body is answer.body:
            return answer
        return BackendResponse(answer.status, body, {**answer.headers, "Content-Type": "application/json"})


def _mock_answer(payload: str) -> BackendResponse:
    """A MOCK's answer: the request template's ``statusCode`` [doc] DG-MOCK, DG-INTREQ."""
    try:
        status = json.loads(payload)["statusCode"]
        status = int(status)
    except (ValueError, TypeError, KeyError) as exc:
        # A MOCK needs {"statusCode": N} from its template; without it the integration
        # fails [?] (REST's behaviour without a template is unconfirmed on WebSocket).
        raise _IntegrationFailed("IntegrationError", f"MOCK request template gave no statusCode: {payload!r}") from exc
    if not 100 <= status <= 599:
        raise _IntegrationFailed("IntegrationError", f"MOCK statusCode {status} is not an HTTP status")
    return BackendResponse(status, "")
