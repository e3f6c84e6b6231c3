"""What each route checks before its integration runs, read from the template:

* request validation: a route's ``RequestModels`` and ``ModelSelectionExpression``
  (``AWS::ApiGatewayV2::Route``) and the ``AWS::ApiGatewayV2::Model`` resources they
  name (``Name``, ``Schema``, ``ContentType``) [doc] CFN-ROUTE, CFN-MODEL, DG-VALID;
* throttling: the stage's ``DefaultRouteSettings`` and ``RouteSettings`` (per route key)
  ``ThrottlingBurstLimit`` and ``ThrottlingRateLimit`` [doc] CFN-STAGE, CFN-RS,
  DG-PROTECT (reference apigw-integrations.md §4, §6).

Call :func:`with_admissions` on the routes ``websocket.build_routes`` made; each route
that has a model or limits gets a :class:`~emulator.core.admission.RouteAdmission`.
A malformed model, schema or setting is a :class:`ConfigError` naming the resource
and field.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Mapping

from ..core.admission import RouteAdmission
from ..core.errors import ConfigError
from ..core.model import RouteSpec
from ..core.selection import RouteSelector
from ..core.throttle import ThrottleLimits, effective_limits
from ..core.validation import ModelValidation, RequestModel
from .document import Document, Resource
from .intrinsics import NO_VALUE, Resolver
from .json_schema import compile_schema

_ROUTE = "AWS::ApiGatewayV2::Route"
_MODEL = "AWS::ApiGatewayV2::Model"
_STAGE = "AWS::ApiGatewayV2::Stage"
# Model names are alphanumeric; a schema is at most 32,768 characters [doc] CFN-MODEL,
# [code] BOTO-V2.
_MODEL_NAME = re.compile(r"[A-Za-z0-9]+")
MAX_SCHEMA_CHARS = 32_768


def with_admissions(
    resolver: Resolver, document: Document, api: Resource, routes: Mapping[str, RouteSpec],
) -> dict[str, RouteSpec]:
    """``routes`` with each one's request models and throttle limits attached."""
    api_ref = resolver.ref(api.logical_id, f"Resources.{api.logical_id}")
    models = _models(resolver, document, api_ref)
    validations: dict[str, ModelValidation] = {}
    for resource in document.of_type(_ROUTE):
        if resolver.creates(resource) and resolver.optional(resource, "ApiId") == api_ref:
            key = resolver.optional(resource, "RouteKey")
            validation = _validation(resolver, resource, models)
            if validation is not None and isinstance(key, str):
                validations[key] = validation
    limits = _stage_limits(resolver, document, api_ref, routes)
    checked: dict[str, RouteSpec] = {}
    for key, route in routes.items():
        throttle, validation = limits.get(key), validations.get(key)
        if throttle is not None or validation is not None:
            route = replace(route, admission=RouteAdmission(throttle=throttle, validation=validation))
        checked[key] = route
    return checked


# -- the resources' properties ------------------------------------------------------


# -- request models -----------------------------------------------------------------


def _models(resolver: Resolver, document: Document, api_ref: Any) -> dict[str, RequestModel]:
    """The API's models by ``Name``, and by logical id (what ``Ref`` gives locally)."""
    found: dict[str, RequestModel] = {}
    owners: dict[str, str] = {}
    for resource in document.of_type(_MODEL):
        if not resolver.creates(resource) or resolver.optional(resource, "ApiId") != api_ref:
            continue
        model = _model(resolver, resource)
        if model.name in owners:
            raise ConfigError(resource.where("Name"), f"model {model.name!r} is also defined by {owners[model.name]}")
        owners[model.name] = resource.logical_id
        found[model.name] = found[resource.logical_id] = model
    return found


def _model(resolver: Resolver, resource: Resource) -> RequestModel:
    name = resolver.optional(resource, "Name")
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise ConfigError(resource.where("Name"), f"{name!r} is not a model name (letters and digits, required)")
    content_type = resolver.optional(resource, "ContentType")
    if content_type is not None and not isinstance(content_type, str):
        raise ConfigError(resource.where("ContentType"), "must be a string")
    where = resource.where("Schema")
    raw = resolver.optional(resource, "Schema")
    if isinstance(raw, str):
        # Schema is "Json" in CloudFormation: an object, or the same as JSON text.
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(where, f"is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(where, "is required: a JSON Schema (draft 4) object, or its JSON text")
    text = json.dumps(raw, separators=(",", ":"), sort_keys=True)
    if len(text) > MAX_SCHEMA_CHARS:
        raise ConfigError(where, f"is {len(text)} characters; API Gateway takes at most {MAX_SCHEMA_CHARS}")
    return RequestModel(name=name, content_type=content_type or "application/json", schema=text,
                        check=compile_schema(raw, where))


def _validation(resolver: Resolver, route: Resource, models: Mapping[str, RequestModel]) -> ModelValidation | None:
    """The route's validation, or ``None`` when it has no ``RequestModels``."""
    requested = resolver.optional(route, "RequestModels")
    if requested is None or requested == {}:
        return None
    where = route.where("RequestModels")
    if not isinstance(requested, dict):
        raise ConfigError(where, "must be a map of model selection key -> model name")
    chosen: dict[str, RequestModel] = {}
    for key, name in requested.items():
        model = models.get(name) if isinstance(name, str) else None
        if model is None:
            known = ", ".join(sorted({m.name for m in models.values()})) or "none"
            raise ConfigError(f"{where}.{key}", f"{name!r} is not an AWS::ApiGatewayV2::Model of this API "
                              f"(models: {known})")
        chosen[str(key)] = model
    expression = resolver.optional(route, "ModelSelectionExpression")
    selector: RouteSelector | None = None
    if expression is not None:
        try:
            # Evaluated like a route selection expression [doc] DG-SELEXPR.
            selector = RouteSelector.parse(expression)
        except ConfigError as exc:
            raise ConfigError(route.where("ModelSelectionExpression"), exc.problem) from None
    return ModelValidation(models=chosen, selector=selector)


# -- throttling ---------------------------------------------------------------------


def _stage_limits(
    resolver: Resolver, document: Document, api_ref: Any, routes: Mapping[str, RouteSpec],
) -> dict[str, ThrottleLimits]:
    """Each route's limits from the served stage (the API's first, as
    ``websocket.stage_name`` chooses it)."""
    for stage in document.of_type(_STAGE):
        if resolver.creates(stage) and resolver.optional(stage, "ApiId") == api_ref:
            break
    else:
        return {}
    default = _settings(resolver.optional(stage, "DefaultRouteSettings"), stage.where("DefaultRouteSettings"))
    per_route = resolver.optional(stage, "RouteSettings") or {}
    if not isinstance(per_route, dict):
        raise ConfigError(stage.where("RouteSettings"), "must be a map of route key -> route settings")
    overrides: dict[str, tuple[int | None, float | None]] = {}
    for key, settings in per_route.items():
        where = stage.where("RouteSettings", str(key))
        if key not in routes:
            # AWS refuses route settings for a route key the API does not have
            # (NotFoundException "Unable to find Route by key ...") [?] for WebSocket.
            raise ConfigError(where, f"the API has no route {key!r} (routes: {', '.join(sorted(routes))})")
        overrides[str(key)] = _settings(settings, where)
    limits: dict[str, ThrottleLimits] = {}
    for key in routes:
        burst, rate = overrides.get(key, (None, None))
        # A field a route's settings leave out is the stage default's [?] (how
        # RouteSettings merge with DefaultRouteSettings is unconfirmed, §6).
        found = effective_limits(default[0] if burst is None else burst, default[1] if rate is None else rate)
        if found is not None:
            limits[key] = found
    return limits


def _settings(raw: Any, where: str) -> tuple[int | None, float | None]:
    """``(ThrottlingBurstLimit, ThrottlingRateLimit)`` of one RouteSettings object; the
    other fields (logging, metrics, data trace) are accepted and not emulated."""
    if raw is None:
        return None, None
    if not isinstance(raw, dict):
        raise ConfigError(where, "must be an object (RouteSettings)")
    burst = _number(raw.get("ThrottlingBurstLimit"), f"{where}.ThrottlingBurstLimit", integer=True)
    rate = _number(raw.get("ThrottlingRateLimit"), f"{where}.ThrottlingRateLimit", integer=False)
    return (None if burst is None else int(burst)), rate


def _number(value: Any, where: str, *, integer: bool) -> float | None:
    """A non-negative number (an integer for the burst); numeric strings, as template
    parameters give them, count. ``ThrottlingBurstLimit`` is an integer and
    ``ThrottlingRateLimit`` a double [code] BOTO-V2."""
    if value is None or value is NO_VALUE:
        return None
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise ConfigError(where, f"must be a non-negative {'integer' if integer else 'number'}")
    if integer and value != int(value):
        raise ConfigError(where, "must be an integer")
    return float(value)
