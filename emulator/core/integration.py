"""Integrations other than a Lambda proxy, as data, and API Gateway's rules for them.

A route whose ``RouteSpec.integration`` is None is a Lambda proxy (``AWS_PROXY``), the
fast path that never looks here. Any other route carries an :class:`IntegrationSpec`
(``MOCK``, ``HTTP``, ``HTTP_PROXY`` or ``AWS``: a service, or Lambda when ``function``
is set, core/lambda_custom.py), built by the template loader; the
backends (``emulator/backends``) call the pure rules below for each request:

* :func:`choose_request_template` — which request template applies, and
  ``PassthroughBehavior`` when none does (reference apigw-integrations.md §1.6);
* :func:`map_request_parameters` — ``RequestParameters`` into backend headers (§1.5);
* :func:`substitute_stage_variables` — ``${stageVariables.x}`` in URIs (§5);
* :func:`select_response` and :func:`choose_response_template` — integration responses
  and their templates (§3.1, §3.2).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .errors import ConfigError
from .selection import RouteSelector

__all__ = [
    "AWS", "HTTP", "HTTP_PROXY", "MOCK", "PASSTHROUGH_BEHAVIORS", "REFUSED", "IntegrationResponseSpec",
    "IntegrationSpec", "StageVariableMissing", "check_selection_expression", "check_stage_variable", "choose_request_template", "choose_response_template",
    "map_request_parameters", "select_response", "substitute_stage_variables",
]

MOCK = "MOCK"
HTTP = "HTTP"
HTTP_PROXY = "HTTP_PROXY"
AWS = "AWS"
# WHEN_NO_MATCH is the default (CLI output, moto) [code] BOTO-V2, reference §1.2.
PASSTHROUGH_BEHAVIORS = ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER")
DEFAULT_KEY = "$default"

_EMPTY: Mapping[str, str] = MappingProxyType({})
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_STATUS_EXPRESSIONS = ("$integration.response.statuscode", "${integration.response.statuscode}")
_HEADER_EXPRESSION = re.compile(r"\$\{?integration\.response\.(?:multivalue)?header\.([^}]+)\}?")


class _Refused:
    def __repr__(self) -> str:
        return "REFUSED"


REFUSED = _Refused()
""":func:`choose_request_template`'s answer when ``PassthroughBehavior`` refuses the
request (AWS: HTTP 415 Unsupported Media Type, reference §1.6)."""


@dataclass(frozen=True)
class IntegrationResponseSpec:
    """One ``AWS::ApiGatewayV2::IntegrationResponse``: its key (``$default`` or a
    ``/regex/``), ``ResponseTemplates`` and their ``TemplateSelectionExpression``."""

    key: str
    templates: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    template_selection_expression: str | None = None
    # ContentHandlingStrategy: CONVERT_TO_TEXT gives a binary answer as base64
    # (core/content_handling.py) [doc] DG-BINARY.
    content_handling: str | None = None

    def matches(self, value: str) -> bool:
        """Whether this response's ``/regex/`` key matches ``value`` (``$default`` never
        does: it is the fallback). The whole value must match (REST's rule; for
        WebSocket unconfirmed [?], reference §3.1)."""
        if self.key == DEFAULT_KEY or len(self.key) < 2:
            return False
        return re.fullmatch(self.key[1:-1], value, re.DOTALL) is not None


@dataclass(frozen=True)
class IntegrationSpec:
    """An ``AWS::ApiGatewayV2::Integration`` that is not a Lambda proxy.

    ``uri`` may hold ``${stageVariables.x}``; ``request_parameters`` maps a destination
    (``integration.request.header.X``) to a source (``context.connectionId``,
    ``'static'``...); ``timeout_ms`` is ``TimeoutInMillis`` (None: 29 s).
    ``function`` is set for an ``AWS`` integration with Lambda (a custom, non-proxy
    Lambda integration, core/lambda_custom.py): the local function it invokes.
    ``content_handling`` is ``ContentHandlingStrategy`` (core/content_handling.py).
    """

    type: str
    uri: str = ""
    method: str = "POST"
    request_parameters: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    request_templates: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    template_selection_expression: str | None = None
    passthrough_behavior: str = "WHEN_NO_MATCH"
    responses: tuple[IntegrationResponseSpec, ...] = ()
    credentials_arn: str | None = None
    timeout_ms: int | None = None
    function: str | None = None
    content_handling: str | None = None

    @property
    def label(self) -> str:
        """What the logs, the inspector and test records name as the target: the
        function of a Lambda custom integration, as for a Lambda proxy."""
        if self.function is not None:
            return self.function
        return self.type if self.type == MOCK else f"{self.type} {self.method} {self.uri}"


def check_selection_expression(expression: str, where: str) -> None:
    """Raise :class:`ConfigError` (naming ``where``) if a template selection expression
    is not the selection-expression grammar (``$request.body...`` or static) [doc]
    DG-SELEXPR. Call at load time; expressions naming ``integration.response`` are
    checked by :func:`choose_response_template`'s forms."""
    if expression in _STATUS_EXPRESSIONS or _HEADER_EXPRESSION.fullmatch(expression):
        return
    try:
        RouteSelector.parse(expression)
    except ConfigError as exc:
        raise ConfigError(where, exc.problem) from None


def choose_request_template(spec: IntegrationSpec, body: str, content_type: str | None) -> str | None | _Refused:
    """The request template to render for ``body``, None to pass ``body`` through
    unchanged, or :data:`REFUSED` (reference §1.6).

    With a ``TemplateSelectionExpression`` its value is the key ([doc] DG-SELEXPR:
    ``\\$default`` gives ``$default``); a key with no template falls back to the
    ``$default`` template [doc] DG-ROUTESINT. Without one the key is the upgrade
    request's ``Content-Type``, defaulting to ``application/json`` (the REST rule;
    unconfirmed on WebSocket [?], reference §1.6 item 4).
    """
    templates = spec.request_templates
    if templates:
        if spec.template_selection_expression is not None:
            key = RouteSelector.parse(spec.template_selection_expression).evaluate(body)
        else:
            key = content_type or "application/json"
        if key is not None and key in templates:
            return templates[key]
        if DEFAULT_KEY in templates:
            return templates[DEFAULT_KEY]
    behaviour = spec.passthrough_behavior
    if behaviour == "NEVER" or (behaviour == "WHEN_NO_TEMPLATES" and templates):
        return REFUSED  # [doc] DG-PASSTHRU (REST-shared)
    return None  # WHEN_NO_MATCH, or WHEN_NO_TEMPLATES without templates: pass through


# Stage variable names: alphanumerics and _; values: [A-Za-z0-9-._~:/?#&=,]+ [doc] CFN-STAGE.
_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_]+")
_VARIABLE_VALUE = re.compile(r"[A-Za-z0-9\-._~:/?#&=,]+")


def check_stage_variable(name: str, value: str, where: str) -> None:
    """Raise :class:`ConfigError` (naming ``where``) unless AWS would accept this stage
    variable [doc] CFN-STAGE. Call for the template's and ``--stage-variable``'s."""
    if not _VARIABLE_NAME.fullmatch(name):
        raise ConfigError(where, f"stage variable name {name!r}: letters, digits and _ only")
    if not _VARIABLE_VALUE.fullmatch(value):
        raise ConfigError(where, f"stage variable {name}={value!r}: the value allows only A-Za-z0-9-._~:/?#&=,")


class StageVariableMissing(Exception):
    """A ``${stageVariables.x}`` names a variable the stage does not define (REST
    answers "Invalid stage variable value: null."; on WebSocket unconfirmed [?],
    reference §5): the integration fails."""


def substitute_stage_variables(text: str, stage_variables: Mapping[str, str]) -> str:
    """``text`` with every ``${stageVariables.x}`` replaced by its value [doc] DG-STAGES."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in stage_variables:
            raise StageVariableMissing(f"stage variable {name!r} is not defined")
        return stage_variables[name]
    return _STAGE_VARIABLE.sub(value, text)


def _lookup(document: Any, dotted: str) -> Any:
    for step in dotted.split("."):
        if not isinstance(document, Mapping) or step not in document:
            return None
        document = document[step]
    return document


def _body_value(body: str, path: str) -> Any:
    # route.request.body.<JSONPath>: dotted members only here [?] (AWS takes JSONPath).
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return _lookup(document, path[2:] if path.startswith("$.") else path)


def map_request_parameters(
    parameters: Mapping[str, str], *, context: Mapping[str, Any], stage_variables: Mapping[str, str],
    headers: Mapping[str, str], query: Mapping[str, str], body: str,
) -> tuple[dict[str, str], dict[str, str]]:
    """``RequestParameters`` evaluated: (headers, query string) for the backend.

    Destinations ``integration.request.header.N`` [doc] DG-DATAMAP and
    ``integration.request.querystring.N`` (unconfirmed on WebSocket [?]); sources
    ``'static'``, ``context.*``, ``stageVariables.*``, ``route.request.header.*`` /
    ``route.request.querystring.*`` ($connect only) and ``route.request.body.*``
    [doc] DG-DATAMAP. A source without a value leaves the destination out [?].
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    out_headers: dict[str, str] = {}
    out_query: dict[str, str] = {}
    for destination, source in parameters.items():
        value: Any
        if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
            value = source[1:-1]
        elif source.startswith("context."):
            value = _lookup(context, source[len("context."):])
        elif source.startswith("stageVariables."):
            value = stage_variables.get(source[len("stageVariables."):])
        elif source.startswith("route.request.header."):
            value = lowered.get(source[len("route.request.header."):].lower())
        elif source.startswith("route.request.querystring."):
            value = query.get(source[len("route.request.querystring."):])
        elif source.startswith("route.request.body."):
            value = _body_value(body, source[len("route.request.body."):])
        else:
            value = None
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        if destination.startswith("integration.request.header."):
            out_headers[destination[len("integration.request.header."):]] = text
        elif destination.startswith("integration.request.querystring."):
            out_query[destination[len("integration.request.querystring."):]] = text
    return out_headers, out_query


def select_response(spec: IntegrationSpec, value: str | None) -> IntegrationResponseSpec | None:
    """The integration response for ``value`` (the status code for MOCK, HTTP and AWS
    services; a Lambda custom integration's ``errorMessage`` [doc] DG-XFORM): the first
    ``/regex/`` key that matches, else ``$default`` [doc] DG-INTRESP; None when
    neither exists (then the raw output is the reply [?]). A None ``value`` (a Lambda
    that returned: no ``errorMessage``) matches no regex [?]."""
    fallback = None
    for response in spec.responses:
        if response.key == DEFAULT_KEY:
            fallback = response
        elif value is not None and response.matches(value):
            return response
    return fallback


def choose_response_template(
    response: IntegrationResponseSpec, *, status: int, headers: Mapping[str, str], request_body: str,
) -> str | None:
    """The response template of ``response`` to render, or None to send the
    integration's output as it is (no templates) [doc] DG-INTRESP.

    The ``TemplateSelectionExpression`` may name ``integration.response.statuscode``,
    ``integration.response.header.N``, ``request.body...`` or be static; no matching key
    falls back to ``$default`` [doc] DG-XFORM. Not set: the only template if there is one
    [obs] LS-TEST, else ``$default`` [?] (reference §3.2).
    """
    templates = response.templates
    if not templates:
        return None
    expression = response.template_selection_expression
    key: str | None
    if expression is None:
        if len(templates) == 1:
            return next(iter(templates.values()))
        key = None
    elif expression in _STATUS_EXPRESSIONS:
        key = str(status)
    elif (header := _HEADER_EXPRESSION.fullmatch(expression)) is not None:
        lowered = {name.lower(): value for name, value in headers.items()}
        key = lowered.get(header.group(1).lower())
    else:
        key = RouteSelector.parse(expression).evaluate(request_body)
    if key is not None and key in templates:
        return templates[key]
    return templates.get(DEFAULT_KEY)
