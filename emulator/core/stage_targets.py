"""Lambda integrations whose ``IntegrationUri`` names the function through a stage
variable, bound to a function of the model.

AWS resolves ``${stageVariables.x}`` in a Lambda integration URI per request
[doc] DG-STAGES (reference apigw-integrations.md §5): the function name itself
(``...function:${stageVariables.fn}/invocations``) or a version/alias qualifier
(``...function:chat:${stageVariables.alias}/invocations``). wsgw binds them once the
stage's variables are known, with the ``--stage-variable`` overrides: the template
loader records the URI as a :class:`StageTarget` on the route, and the composition
root calls :func:`bind_stage_targets` before serving (and after each reload).

Deliberate differences (documented in docs/your-app/integrations.md): an undefined
variable, or one naming no function of the template, is a load error (a
:class:`~emulator.core.errors.ConfigError` naming the integration) instead of
AWS's ``Internal server error`` frame per request, so the mistake shows at start; a
qualifier (alias or version) runs the same local function, since wsgw has one
version of each function.

Pure.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping

from .errors import ConfigError
from .integration import StageVariableMissing, substitute_stage_variables

if TYPE_CHECKING:
    from .model import ApiModel

__all__ = ["StageTarget", "bind_stage_targets", "function_of_arn", "has_stage_variables", "is_invocation_uri"]

# `arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{fnArn}/invocations`
_INVOCATION = re.compile(r"arn:[^:]+:apigateway:[^:]*:lambda:path/2015-03-31/functions/(.+)/invocations")


@dataclass(frozen=True)
class StageTarget:
    """A Lambda integration URI holding ``${stageVariables.x}``, and where the
    template gave it (for the error)."""

    uri: str
    where: str


def has_stage_variables(text: str) -> bool:
    """Whether ``text`` holds a ``${stageVariables.x}`` reference."""
    return "${stageVariables." in text


def is_invocation_uri(uri: str) -> bool:
    """Whether ``uri`` is ``arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/
    functions/{functionArn}/invocations`` (a Lambda integration's URI) [doc] DG-INTREQ."""
    return _INVOCATION.fullmatch(uri) is not None


def function_of_arn(uri: str) -> str | None:
    """The function name in an API Gateway invocation ARN around a function ARN, or a
    plain function ARN (either possibly qualified with a version or alias); None when
    ``uri`` is neither."""
    match = _INVOCATION.fullmatch(uri)
    arn = match.group(1) if match else uri
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function" or not parts[6]:
        return None
    return parts[6]


def _bound(target: StageTarget, variables: Mapping[str, str], functions: Mapping[str, object]) -> str:
    try:
        uri = substitute_stage_variables(target.uri, variables)
    except StageVariableMissing as exc:
        raise ConfigError(target.where, f"{exc}: define it in the stage's StageVariables or with "
                          "--stage-variable NAME=VALUE") from None
    name = function_of_arn(uri)
    if name is None:
        raise ConfigError(target.where, f"{uri!r} (with the stage variables) is not a Lambda function ARN")
    if name not in functions:
        known = ", ".join(sorted(functions)) or "none"
        raise ConfigError(target.where, f"{uri!r}: function {name!r} (from a stage variable) is not an "
                          f"AWS::Lambda::Function of this template (functions: {known})")
    return name


def bind_stage_targets(model: ApiModel) -> ApiModel:
    """``model`` with each route whose Lambda integration URI has a stage variable
    (``RouteSpec.stage_target``) bound to its function, using ``model.stage_variables``
    (the template's with the overrides). Raise :class:`ConfigError` for an undefined
    variable or a name that is no function of the model. Call after the overrides are
    applied, before serving."""
    routes = dict(model.routes)
    changed = False
    for key, route in model.routes.items():
        target = route.stage_target
        if target is None:
            continue
        name = _bound(target, model.stage_variables, model.functions)
        integration = route.integration
        if integration is not None:  # a Lambda custom integration (AWS)
            integration = dataclasses.replace(integration, function=name)
        routes[key] = dataclasses.replace(route, function=name, integration=integration)
        changed = True
    if not changed:
        return model
    return dataclasses.replace(model, routes=MappingProxyType(routes))
