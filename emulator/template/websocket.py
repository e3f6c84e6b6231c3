"""The ``AWS::ApiGatewayV2::*`` resources of one WebSocket API -> routes, authorizers, stage.

Call :func:`select_api` to pick the API, then :func:`read_api`, :func:`build_routes`
and :func:`stage_name`. This is the parsing recipe of reference §9: every
``AWS::ApiGatewayV2::Route`` whose ``ApiId`` is the API; ``Target``
(``integrations/<id>``) -> ``AWS::ApiGatewayV2::Integration`` -> ``IntegrationUri`` ->
the Lambda function (``AWS_PROXY``, or ``AWS`` with a Lambda URI; a URI naming it by
stage variable is bound later, core/stage_targets.py) or an ``IntegrationSpec`` for the
other types (MOCK, HTTP, HTTP_PROXY, AWS services); two-way iff the route has a
``RouteResponseSelectionExpression`` or an ``AWS::ApiGatewayV2::RouteResponse``;
``AuthorizerId`` -> ``AWS::ApiGatewayV2::Authorizer`` (reference §8).

``Ref`` of an integration, route or authorizer gives its logical id locally, so
``Target: !Join ['/', [integrations, !Ref Integ]]`` resolves to ``integrations/Integ``.

Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..core.access_log import AccessLogSettings, check_access_log_format
from ..core.errors import ConfigError
from ..core.content_handling import CONTENT_HANDLING_STRATEGIES
from ..core.integration import (
    AWS, HTTP, HTTP_PROXY, MOCK, PASSTHROUGH_BEHAVIORS, IntegrationResponseSpec, IntegrationSpec,
    check_selection_expression, check_stage_variable,
)
from ..core.model import (
    API_KEY_SELECTION_EXPRESSIONS, CONNECT, DEFAULT, DISCONNECT, AuthorizerSpec, RouteSpec,
    check_integration_timeout, check_stage_name,
)
from ..core.selection import RouteSelector
from ..core.stage_targets import StageTarget
from .document import Document, Resource
from .intrinsics import Resolver
from .lambda_uris import function_of, is_invocation_uri, lambda_target
from .references import WEBSOCKET_API

_ROUTE = "AWS::ApiGatewayV2::Route"
_INTEGRATION = "AWS::ApiGatewayV2::Integration"
_AUTHORIZER = "AWS::ApiGatewayV2::Authorizer"
_ROUTE_RESPONSE = "AWS::ApiGatewayV2::RouteResponse"
_STAGE = "AWS::ApiGatewayV2::Stage"
_INTEGRATION_RESPONSE = "AWS::ApiGatewayV2::IntegrationResponse"
# `arn:aws:apigateway:{region}:{service}:action/{Action}` or `...:path/{path}` [doc]
# DG-INTREQ; the Lambda form below is a Lambda custom integration (core/lambda_custom.py).
_SERVICE_URI = re.compile(r"arn:[^:]+:apigateway:[^:]*:([a-z0-9.-]+):(action|path)/(.+)")
_NON_PROXY = (MOCK, HTTP, HTTP_PROXY, AWS)
# Identity sources of WebSocket REQUEST authorizers (reference §8).
_IDENTITY_PREFIXES = ("route.request.header.", "route.request.querystring.", "stageVariables.", "context.")


@dataclass(frozen=True)
class ApiSettings:
    """The API-level fields of the served API."""

    name: str
    route_selection_expression: str
    api_key_selection_expression: str | None


def _optional_string(resolver: Resolver, resource: Resource, prop: str) -> str | None:
    value = resolver.optional(resource, prop)
    if value is not None and not isinstance(value, str):
        raise ConfigError(resource.where(prop), "must be a string")
    return value


def _api_name(resolver: Resolver, api: Resource) -> str:
    return _optional_string(resolver, api, "Name") or api.logical_id


def select_api(resolver: Resolver, document: Document, wanted: str | None) -> Resource:
    """The WebSocket API to serve: the only one, or the one whose logical id or
    ``Name`` is ``wanted``. HTTP APIs (``ProtocolType: HTTP``) are ignored."""
    candidates = [
        api for api in document.of_type(WEBSOCKET_API)
        if resolver.creates(api) and resolver.optional(api, "ProtocolType") == "WEBSOCKET"
    ]
    listing = ", ".join(f"{api.logical_id} (Name {_api_name(resolver, api)!r})" for api in candidates)
    if wanted is not None:
        for api in candidates:
            if wanted in (api.logical_id, _api_name(resolver, api)):
                return api
        raise ConfigError(
            "api", f"no WebSocket API {wanted!r} in the template (candidates: {listing or 'none'})"
        )
    if not candidates:
        raise ConfigError("Resources", "no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET")
    if len(candidates) > 1:
        raise ConfigError("api", f"the template has several WebSocket APIs, choose one: {listing}")
    return candidates[0]


def read_api(resolver: Resolver, api: Resource) -> ApiSettings:
    """Name and selection expressions of the served API, validated."""
    expression = _optional_string(resolver, api, "RouteSelectionExpression")
    if expression is None:
        raise ConfigError(api.where("RouteSelectionExpression"), "is required for WebSocket APIs")
    try:
        RouteSelector.parse(expression)  # fail at load time, not at the first message
    except ConfigError as exc:
        raise ConfigError(api.where("RouteSelectionExpression"), exc.problem) from None
    api_key = _optional_string(resolver, api, "ApiKeySelectionExpression")
    if api_key is not None and api_key not in API_KEY_SELECTION_EXPRESSIONS:
        raise ConfigError(
            api.where("ApiKeySelectionExpression"), f"must be one of {', '.join(API_KEY_SELECTION_EXPRESSIONS)}"
        )
    return ApiSettings(_api_name(resolver, api), expression, api_key)


def _belongs(resolver: Resolver, resource: Resource, api_ref: Any) -> bool:
    return bool(resolver.optional(resource, "ApiId") == api_ref)


def build_routes(
    resolver: Resolver, document: Document, api: Resource, functions: Mapping[str, Resource]
) -> tuple[dict[str, RouteSpec], dict[str, AuthorizerSpec]]:
    """Routes keyed by route key, and the authorizers they use keyed by logical id.

    ``functions`` maps local function names to resources (functions.py).
    """
    api_ref = resolver.ref(api.logical_id, f"Resources.{api.logical_id}")
    with_response = {
        resolver.resolve(response.properties.get("RouteId"), response.where("RouteId"))
        for response in document.of_type(_ROUTE_RESPONSE)
        if resolver.creates(response) and _belongs(resolver, response, api_ref)
    }
    routes: dict[str, RouteSpec] = {}
    owners: dict[str, str] = {}
    authorizers: dict[str, AuthorizerSpec] = {}
    for resource in document.of_type(_ROUTE):
        if not resolver.creates(resource) or not _belongs(resolver, resource, api_ref):
            continue
        route, authorizer = _route(resolver, document, resource, functions, with_response)
        if route.key in routes:
            raise ConfigError(
                resource.where("RouteKey"), f"route {route.key!r} is also defined by {owners[route.key]}"
            )
        routes[route.key], owners[route.key] = route, resource.logical_id
        if authorizer is not None and route.authorizer is not None:
            authorizers[route.authorizer] = authorizer
    return routes, authorizers


def _route(
    resolver: Resolver, document: Document, resource: Resource, functions: Mapping[str, Resource],
    with_response: set[Any],
) -> tuple[RouteSpec, AuthorizerSpec | None]:
    key = _optional_string(resolver, resource, "RouteKey")
    if not key:
        raise ConfigError(resource.where("RouteKey"), "is required")
    if key.startswith("$") and key not in (CONNECT, DISCONNECT, DEFAULT):
        # Custom route keys must not start with $ [doc] DOCS-routes.
        raise ConfigError(resource.where("RouteKey"), f"{key!r}: custom route keys must not start with '$'")
    target = _optional_string(resolver, resource, "Target")
    if target is None:
        raise ConfigError(
            resource.where("Target"),
            "is required: wsgw serves routes through an AWS_PROXY Lambda integration",
        )
    function, timeout, integration, stage_target = _integration(
        resolver, document, target, resource.where("Target"), functions)
    authorization = _optional_string(resolver, resource, "AuthorizationType") or "NONE"
    if authorization not in ("NONE", "AWS_IAM", "CUSTOM"):
        # JWT authorizers exist only for HTTP APIs (reference §8).
        raise ConfigError(
            resource.where("AuthorizationType"), f"{authorization!r} is not NONE, AWS_IAM or CUSTOM"
        )
    if authorization != "NONE" and key != CONNECT:
        # API Gateway rejects authorization on any other route (reference §8, LS-TEST).
        raise ConfigError(
            resource.where("AuthorizationType"), "only the $connect route can have authorization"
        )
    authorizer_key: str | None = None
    authorizer: AuthorizerSpec | None = None
    if authorization == "CUSTOM":
        authorizer_key, authorizer = _authorizer(resolver, document, resource, functions)
    api_key = resolver.optional(resource, "ApiKeyRequired")
    if api_key not in (None, True, False, "true", "false"):
        raise ConfigError(resource.where("ApiKeyRequired"), "must be true or false")
    two_way = (
        resolver.optional(resource, "RouteResponseSelectionExpression") is not None
        or resource.logical_id in with_response
    )
    route = RouteSpec(
        key=key, function=function, two_way=two_way, integration_timeout_ms=timeout,
        authorization_type=authorization, authorizer=authorizer_key,
        api_key_required=api_key in (True, "true"), integration=integration, stage_target=stage_target,
    )
    return route, authorizer


def _integration(
    resolver: Resolver, document: Document, target: str, where: str, functions: Mapping[str, Resource]
) -> tuple[str, int | None, IntegrationSpec | None, StageTarget | None]:
    prefix, _, integration_id = target.partition("/")
    integration = document.get(integration_id)
    if prefix != "integrations" or not integration_id:
        raise ConfigError(where, f"{target!r} is not of the form integrations/<IntegrationId>")
    if integration is None or integration.type != _INTEGRATION:
        raise ConfigError(where, f"{target!r} names no AWS::ApiGatewayV2::Integration of this template")
    kind = _optional_string(resolver, integration, "IntegrationType")
    timeout = resolver.optional(integration, "TimeoutInMillis")
    if timeout is not None:
        if isinstance(timeout, str) and timeout.isdigit():
            timeout = int(timeout)
        timeout = check_integration_timeout(timeout, integration.where("TimeoutInMillis"))
    if kind in _NON_PROXY:
        spec, stage_target = _non_proxy(resolver, document, integration, kind, timeout, functions)
        return spec.label, timeout, spec, stage_target
    if kind != "AWS_PROXY":
        raise ConfigError(
            integration.where("IntegrationType"),
            f"{kind or 'missing'} is not AWS_PROXY, AWS, HTTP, HTTP_PROXY or MOCK",
        )
    uri = _optional_string(resolver, integration, "IntegrationUri")
    if uri is None:
        raise ConfigError(integration.where("IntegrationUri"), "is required for AWS_PROXY integrations")
    function, stage_target = lambda_target(uri, integration.where("IntegrationUri"), functions)
    return function, timeout, None, stage_target



def _string_map(resolver: Resolver, resource: Resource, prop: str) -> dict[str, str]:
    value = resolver.optional(resource, prop) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(resource.where(prop), "must be a map of strings")
    return {str(k): v for k, v in value.items()}


def _selection(resolver: Resolver, resource: Resource, prop: str) -> str | None:
    expression = _optional_string(resolver, resource, prop)
    if expression is not None:
        check_selection_expression(expression, resource.where(prop))
    return expression


def _content_handling(resolver: Resolver, resource: Resource) -> str | None:
    strategy = _optional_string(resolver, resource, "ContentHandlingStrategy")
    if strategy is not None and strategy not in CONTENT_HANDLING_STRATEGIES:
        # CONVERT_TO_BINARY | CONVERT_TO_TEXT [code] BOTO-V2 (reference §1.2).
        raise ConfigError(resource.where("ContentHandlingStrategy"),
                          f"{strategy!r} is not {' or '.join(CONTENT_HANDLING_STRATEGIES)}")
    return strategy


def _non_proxy(
    resolver: Resolver, document: Document, integration: Resource, kind: str, timeout: int | None,
    functions: Mapping[str, Resource],
) -> tuple[IntegrationSpec, StageTarget | None]:
    """A MOCK, HTTP, HTTP_PROXY or AWS integration with its integration responses; an
    AWS integration whose URI is a Lambda invocation ARN is a Lambda custom
    integration (its function, and its :class:`StageTarget` if a stage variable
    names it)."""
    uri = _optional_string(resolver, integration, "IntegrationUri") or ""
    where = integration.where("IntegrationUri")
    function: str | None = None
    stage_target: StageTarget | None = None
    if kind in (HTTP, HTTP_PROXY) and not uri.startswith(("http://", "https://", "${stageVariables.")):
        raise ConfigError(where, f"{uri!r} is not an http(s) URL, which {kind} integrations need")
    if kind == AWS:
        if is_invocation_uri(uri):
            # A Lambda custom (non-proxy) integration [code] BOTO-V2 (reference §1.1).
            function, stage_target = lambda_target(uri, where, functions)
        elif not _SERVICE_URI.fullmatch(uri):
            raise ConfigError(where, f"{uri!r} is not arn:aws:apigateway:{{region}}:{{service}}:action/... or path/...")
    passthrough = _optional_string(resolver, integration, "PassthroughBehavior") or "WHEN_NO_MATCH"
    if passthrough not in PASSTHROUGH_BEHAVIORS:
        raise ConfigError(integration.where("PassthroughBehavior"), f"must be one of {', '.join(PASSTHROUGH_BEHAVIORS)}")
    method = _optional_string(resolver, integration, "IntegrationMethod") or "POST"
    if method == "ANY":
        method = "POST"  # the verb AWS uses for ANY is unconfirmed [?] (reference §1.7)
    spec = IntegrationSpec(
        type=kind, uri=uri, method=method.upper(),
        request_parameters=_string_map(resolver, integration, "RequestParameters"),
        request_templates=_string_map(resolver, integration, "RequestTemplates"),
        template_selection_expression=_selection(resolver, integration, "TemplateSelectionExpression"),
        passthrough_behavior=passthrough,
        responses=_responses(resolver, document, integration),
        credentials_arn=_optional_string(resolver, integration, "CredentialsArn"),
        timeout_ms=timeout, function=function, content_handling=_content_handling(resolver, integration),
    )
    return spec, stage_target


def _responses(resolver: Resolver, document: Document, integration: Resource) -> tuple[IntegrationResponseSpec, ...]:
    """The ``AWS::ApiGatewayV2::IntegrationResponse`` resources of ``integration``, in
    template order; a ``Ref`` of the integration gives its logical id locally."""
    found: list[IntegrationResponseSpec] = []
    for resource in document.of_type(_INTEGRATION_RESPONSE):
        if not resolver.creates(resource):
            continue
        if resolver.optional(resource, "IntegrationId") != integration.logical_id:
            continue
        key = _optional_string(resolver, resource, "IntegrationResponseKey")
        if key is None or not (key == "$default" or (len(key) > 2 and key.startswith("/") and key.endswith("/"))):
            # $default or a /regex/ [doc] DG-INTRESP, CFN-IRESP.
            raise ConfigError(resource.where("IntegrationResponseKey"), f"{key!r} is not $default or /regex/")
        try:
            re.compile(key[1:-1])
        except re.error as exc:
            raise ConfigError(resource.where("IntegrationResponseKey"), f"bad regex: {exc}") from None
        found.append(IntegrationResponseSpec(
            key=key, templates=_string_map(resolver, resource, "ResponseTemplates"),
            template_selection_expression=_selection(resolver, resource, "TemplateSelectionExpression"),
            content_handling=_content_handling(resolver, resource),
        ))
    return tuple(found)



def _authorizer(
    resolver: Resolver, document: Document, route: Resource, functions: Mapping[str, Resource]
) -> tuple[str, AuthorizerSpec]:
    where = route.where("AuthorizerId")
    reference = _optional_string(resolver, route, "AuthorizerId")
    if reference is None:
        raise ConfigError(where, "is required when AuthorizationType is CUSTOM")
    resource = document.get(reference)
    if resource is None or resource.type != _AUTHORIZER:
        raise ConfigError(where, f"{reference!r} is not an AWS::ApiGatewayV2::Authorizer of this template")
    kind = _optional_string(resolver, resource, "AuthorizerType")
    if kind != "REQUEST":
        # WebSocket APIs have only Lambda REQUEST authorizers (JWT is HTTP-only, §8).
        raise ConfigError(
            resource.where("AuthorizerType"), f"{kind or 'missing'}: only REQUEST authorizers are supported"
        )
    uri = _optional_string(resolver, resource, "AuthorizerUri")
    if uri is None:
        raise ConfigError(resource.where("AuthorizerUri"), "is required for REQUEST authorizers")
    sources = resolver.optional(resource, "IdentitySource") or []
    if not isinstance(sources, list):
        raise ConfigError(resource.where("IdentitySource"), "must be a list")
    for i, source in enumerate(sources):
        if not isinstance(source, str) or not source.startswith(_IDENTITY_PREFIXES) or source.endswith("."):
            http_form = isinstance(source, str) and source.startswith("$")
            hint = " ($request... is the HTTP API form)" if http_form else ""
            raise ConfigError(
                f"{resource.where('IdentitySource')}[{i}]",
                f"{source!r} is not route.request.header.<name>, route.request.querystring.<name>, "
                f"stageVariables.<name> or context.<name>{hint}",
            )
    spec = AuthorizerSpec(
        name=_optional_string(resolver, resource, "Name") or resource.logical_id,
        function=function_of(uri, resource.where("AuthorizerUri"), functions),
        identity_source=tuple(sources),
        authorizer_type=kind,
    )
    return resource.logical_id, spec


def stage_variables(resolver: Resolver, document: Document, api: Resource) -> dict[str, str]:
    """The ``StageVariables`` of the stage :func:`stage_name` serves."""
    api_ref = resolver.ref(api.logical_id, f"Resources.{api.logical_id}")
    for stage in document.of_type(_STAGE):
        if resolver.creates(stage) and _belongs(resolver, stage, api_ref):
            variables = _string_map(resolver, stage, "StageVariables")
            for name, value in variables.items():
                check_stage_variable(name, value, stage.where("StageVariables"))
            return variables
    return {}


def access_log_settings(resolver: Resolver, document: Document, api: Resource) -> AccessLogSettings | None:
    """The ``AccessLogSettings`` of the stage :func:`stage_name` serves (None: none)
    [doc] CFN-STAGE; its ``Format`` checked as AWS checks it (core/access_log.py)."""
    api_ref = resolver.ref(api.logical_id, f"Resources.{api.logical_id}")
    for stage in document.of_type(_STAGE):
        if not (resolver.creates(stage) and _belongs(resolver, stage, api_ref)):
            continue
        raw = stage.properties.get("AccessLogSettings")
        if raw is None:
            return None
        where = stage.where("AccessLogSettings")
        if not isinstance(raw, dict):
            raise ConfigError(where, "must be an object with Format and DestinationArn")
        text = resolver.resolve(raw["Format"], f"{where}.Format") if "Format" in raw else None
        if not isinstance(text, str):
            raise ConfigError(f"{where}.Format", "is required and must be a string")
        try:  # only named in run-local's output: a log group ARN wsgw cannot resolve is left out
            destination = resolver.resolve(raw["DestinationArn"], f"{where}.DestinationArn") \
                if "DestinationArn" in raw else None
        except ConfigError:
            destination = None
        return AccessLogSettings(check_access_log_format(text, f"{where}.Format"),
                                 destination if isinstance(destination, str) else None)
    return None


def stage_name(resolver: Resolver, document: Document, api: Resource) -> str:
    """The name of the API's stage: the first ``AWS::ApiGatewayV2::Stage`` of the API
    in template order (deliberate: wsgw serves one stage; with or without a
    ``Deployment``, since CDK relies on ``AutoDeploy``)."""
    api_ref = resolver.ref(api.logical_id, f"Resources.{api.logical_id}")
    for stage in document.of_type(_STAGE):
        if resolver.creates(stage) and _belongs(resolver, stage, api_ref):
            name = _optional_string(resolver, stage, "StageName")
            if name is None:
                raise ConfigError(stage.where("StageName"), "is required")
            return check_stage_name(name, stage.where("StageName"))
    raise ConfigError(
        f"Resources.{api.logical_id}", "has no AWS::ApiGatewayV2::Stage; wsgw serves the API at its stage"
    )
