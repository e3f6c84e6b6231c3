"""Lambda integration and authorizer URIs -> the local function they name.

Call :func:`function_of` for an ``AuthorizerUri`` or a Lambda ``IntegrationUri`` without
stage variables, and :func:`lambda_target` for an integration URI that may hold
``${stageVariables.x}`` [doc] DG-STAGES (then the function is bound before serving,
core/stage_targets.py). Both raise :class:`~emulator.core.errors.ConfigError` naming
``where``. Pure.
"""

from __future__ import annotations

from typing import Mapping

from ..core.errors import ConfigError
from ..core.stage_targets import StageTarget, function_of_arn, has_stage_variables, is_invocation_uri
from .document import Resource

__all__ = ["function_of", "is_invocation_uri", "lambda_target"]


def function_of(uri: str, where: str, functions: Mapping[str, Resource]) -> str:
    """The local function name in an integration/authorizer URI: an API Gateway
    invocation ARN around a function ARN, or (accepted by AWS for AWS_PROXY, reference
    §9) a plain function ARN, possibly qualified with a version or alias."""
    name = function_of_arn(uri)
    if name is None:
        raise ConfigError(where, f"{uri!r} is not a Lambda function ARN or invocation ARN")
    if name not in functions:
        known = ", ".join(sorted(functions)) or "none"
        raise ConfigError(
            where, f"function {name!r} is not an AWS::Lambda::Function of this template (functions: {known})"
        )
    return name


def lambda_target(uri: str, where: str, functions: Mapping[str, Resource]) -> tuple[str, StageTarget | None]:
    """The local function of a Lambda integration URI, and its :class:`StageTarget`
    when the URI holds ``${stageVariables.x}`` [doc] DG-STAGES: then a function name
    from a stage variable is bound before serving (core/stage_targets.py; "" until
    then), and a qualifier from one (an alias) changes nothing locally."""
    if not has_stage_variables(uri):
        return function_of(uri, where, functions), None
    name = function_of_arn(uri)
    if name is None:
        raise ConfigError(where, f"{uri!r} is not a Lambda function ARN or invocation ARN")
    if has_stage_variables(name):
        return "", StageTarget(uri, where)
    return function_of(uri, where, functions), StageTarget(uri, where)
