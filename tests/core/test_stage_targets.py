"""Lambda integration URIs naming the function by stage variable (emulator/core/stage_targets.py)."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import pytest

from emulator.core.errors import ConfigError
from emulator.core.integration import IntegrationSpec
from emulator.core.model import ApiModel, FunctionSpec, RouteSpec
from emulator.core.stage_targets import StageTarget, bind_stage_targets, function_of_arn

PREFIX = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"


def _model(routes: dict[str, RouteSpec], variables: dict[str, str]) -> ApiModel:
    functions = {name: FunctionSpec(name=name, handler="app.handler", code_dir=Path("src")) for name in ("chat", "other")}
    return ApiModel(name="t", stage="dev", route_selection_expression="$request.body.action",
                    routes=MappingProxyType(routes), functions=MappingProxyType(functions),
                    stage_variables=MappingProxyType(variables))


def test_function_of_arn() -> None:
    assert function_of_arn(PREFIX + "arn:aws:lambda:us-east-1:1:function:chat:live/invocations") == "chat"
    assert function_of_arn("arn:aws:lambda:us-east-1:1:function:chat") == "chat"
    assert function_of_arn("arn:aws:s3:::bucket") is None


def test_name_and_qualifier_from_stage_variables() -> None:
    by_name = StageTarget(PREFIX + "arn:aws:lambda:us-east-1:1:function:${stageVariables.fn}/invocations", "Resources.A")
    by_alias = StageTarget(PREFIX + "arn:aws:lambda:us-east-1:1:function:chat:${stageVariables.alias}/invocations",
                           "Resources.B")
    custom = IntegrationSpec(type="AWS", uri=by_name.uri, function="")
    model = _model({
        "a": RouteSpec(key="a", function="", stage_target=by_name),
        "b": RouteSpec(key="b", function="chat", stage_target=by_alias),
        "c": RouteSpec(key="c", function="", integration=custom, stage_target=by_name),
        "d": RouteSpec(key="d", function="chat"),
    }, {"fn": "other", "alias": "live"})
    bound = bind_stage_targets(model)
    assert {key: route.function for key, route in bound.routes.items()} == {"a": "other", "b": "chat", "c": "other",
                                                                           "d": "chat"}
    assert bound.routes["c"].integration is not None and bound.routes["c"].integration.function == "other"
    unbound = _model({"d": RouteSpec(key="d", function="chat")}, {})
    assert bind_stage_targets(unbound) is unbound


def test_undefined_variable_or_unknown_function_is_a_config_error() -> None:
    target = StageTarget(PREFIX + "arn:aws:lambda:us-east-1:1:function:${stageVariables.fn}/invocations",
                         "Resources.I.Properties.IntegrationUri")
    routes = {"a": RouteSpec(key="a", function="", stage_target=target)}
    with pytest.raises(ConfigError) as undefined:
        bind_stage_targets(_model(routes, {}))
    assert undefined.value.where == "Resources.I.Properties.IntegrationUri"
    assert "'fn' is not defined" in undefined.value.problem
    with pytest.raises(ConfigError) as unknown:
        bind_stage_targets(_model(routes, {"fn": "nope"}))
    assert "function 'nope' (from a stage variable) is not an AWS::Lambda::Function" in unknown.value.problem
