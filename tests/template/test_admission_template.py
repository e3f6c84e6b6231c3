"""Tests for emulator.template.admission (and json_schema): request models and the
stage's route throttling read from a CloudFormation template, and the ConfigErrors
that name what to fix."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from emulator.core.admission import RouteAdmission
from emulator.core.errors import ConfigError
from emulator.core.throttle import ACCOUNT_RATE_LIMIT, ThrottleLimits
from emulator.core.validation import validation_error
from emulator.template import load_template

API = {"Ref": "Api"}
ITEM_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["action", "name"],
    "properties": {"name": {"type": "string", "minLength": 1}, "count": {"type": "integer", "minimum": 1}},
}


def _route(key: str, **props: Any) -> dict[str, Any]:
    return {"Type": "AWS::ApiGatewayV2::Route",
            "Properties": {"ApiId": API, "RouteKey": key, "Target": "integrations/Lambda", **props}}


def base() -> dict[str, Any]:
    """An API with a Lambda proxy integration, two models and a validated route."""
    return {"Resources": {
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "fn", "Code": "src", "Handler": "h.handler", "Runtime": "python3.12"}},
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
            "Name": "checked", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}},
        "Lambda": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "ApiId": API, "IntegrationType": "AWS_PROXY", "IntegrationUri": {"Fn::GetAtt": ["Fn", "Arn"]}}},
        "ItemModel": {"Type": "AWS::ApiGatewayV2::Model", "Properties": {
            "ApiId": API, "Name": "Item", "ContentType": "application/json", "Schema": ITEM_SCHEMA}},
        # Schema given as JSON text, which CloudFormation also takes.
        "AnyModel": {"Type": "AWS::ApiGatewayV2::Model", "Properties": {
            "ApiId": API, "Name": "Anything", "Schema": json.dumps({"type": "object"})}},
        "Save": _route("save", ModelSelectionExpression="$request.body.kind",
                       RequestModels={"item": "Item", "$default": {"Ref": "AnyModel"}}),
        "Plain": _route("plain"),
        "Default": _route("$default"),
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"ApiId": API, "StageName": "dev"}},
    }}


def load(tmp_path: Path, template: dict[str, Any], api: str | None = None) -> Any:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "h.py").write_text("def handler(event, context):\n    return None\n")
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    return load_template(path, api=api)


def error_of(tmp_path: Path, template: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, template)
    return caught.value


def test_models_are_chosen_by_the_selection_expression_and_checked_as_draft_4(tmp_path: Path) -> None:
    model = load(tmp_path, base())
    assert model.routes["plain"].admission is None and model.routes["$default"].admission is None
    admission = model.routes["save"].admission
    assert admission is not None and admission.throttle is None and admission.validation is not None
    validation = admission.validation
    assert {key: m.name for key, m in validation.models.items()} == {"item": "Item", "$default": "Anything"}
    assert validation.models["item"].content_type == "application/json"
    assert validation_error(validation, json.dumps({"action": "save", "kind": "item", "name": "pen"})) is None
    assert validation_error(validation, json.dumps({"action": "save", "kind": "item", "name": "pen", "count": 0})) == (
        "model Item: 0 is less than the minimum of 1 at $.count")
    assert validation_error(validation, json.dumps({"action": "save", "kind": "item"})) == (
        "model Item: 'name' is a required property at $")
    # Any other kind: the $default model (an object is enough).
    assert validation_error(validation, json.dumps({"action": "save", "kind": "note"})) is None
    assert validation_error(validation, json.dumps([1])) is not None


def test_route_settings_give_each_route_its_limits(tmp_path: Path) -> None:
    template = base()
    template["Resources"]["Stage"]["Properties"].update({
        "DefaultRouteSettings": {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50, "LoggingLevel": "INFO"},
        "RouteSettings": {
            "plain": {"ThrottlingBurstLimit": "2", "ThrottlingRateLimit": 1},  # a parameter's string counts
            "$default": {"ThrottlingRateLimit": 0.5},  # the burst comes from the default [?]
        },
    })
    model = load(tmp_path, template)
    assert model.routes["plain"].admission == RouteAdmission(throttle=ThrottleLimits(2, 1.0))
    assert model.routes["$default"].admission == RouteAdmission(throttle=ThrottleLimits(100, 0.5))
    save = model.routes["save"].admission
    assert save is not None and save.throttle == ThrottleLimits(100, 50.0) and save.validation is not None


def test_a_burst_alone_keeps_the_accounts_rate_and_no_settings_no_limits(tmp_path: Path) -> None:
    template = base()
    template["Resources"]["Stage"]["Properties"]["RouteSettings"] = {"plain": {"ThrottlingBurstLimit": 3}}
    model = load(tmp_path, template)
    assert model.routes["plain"].admission == RouteAdmission(throttle=ThrottleLimits(3, ACCOUNT_RATE_LIMIT))
    assert model.routes["$default"].admission is None  # nothing set: no quota applied (deliberate)


@pytest.mark.parametrize(("change", "where", "problem"), [
    (lambda r: r["ItemModel"]["Properties"].update(Schema={"type": "nope"}),
     "Resources.ItemModel.Properties.Schema", "not a valid JSON Schema (draft 4)"),
    (lambda r: r["ItemModel"]["Properties"].update(Schema="{not json"),
     "Resources.ItemModel.Properties.Schema", "is not JSON"),
    (lambda r: r["ItemModel"]["Properties"].pop("Schema"),
     "Resources.ItemModel.Properties.Schema", "is required"),
    (lambda r: r["ItemModel"]["Properties"].update(Schema={"description": "x" * 40_000}),
     "Resources.ItemModel.Properties.Schema", "at most 32768"),
    (lambda r: r["ItemModel"]["Properties"].update(Name="item-model"),
     "Resources.ItemModel.Properties.Name", "not a model name"),
    (lambda r: r["AnyModel"]["Properties"].update(Name="Item"),
     "Resources.AnyModel.Properties.Name", "also defined by ItemModel"),
    (lambda r: r["Save"]["Properties"].update(RequestModels={"item": "Missing"}),
     "Resources.Save.Properties.RequestModels.item", "'Missing' is not an AWS::ApiGatewayV2::Model"),
    (lambda r: r["Save"]["Properties"].update(RequestModels=["Item"]),
     "Resources.Save.Properties.RequestModels", "must be a map"),
    (lambda r: r["Save"]["Properties"].update(ModelSelectionExpression="$request.header.kind"),
     "Resources.Save.Properties.ModelSelectionExpression", "unsupported variable"),
    (lambda r: r["Stage"]["Properties"].update(RouteSettings={"nosuch": {"ThrottlingBurstLimit": 1}}),
     "Resources.Stage.Properties.RouteSettings.nosuch", "the API has no route 'nosuch'"),
    (lambda r: r["Stage"]["Properties"].update(DefaultRouteSettings={"ThrottlingBurstLimit": -1}),
     "Resources.Stage.Properties.DefaultRouteSettings.ThrottlingBurstLimit", "non-negative integer"),
    (lambda r: r["Stage"]["Properties"].update(DefaultRouteSettings={"ThrottlingBurstLimit": 1.5}),
     "Resources.Stage.Properties.DefaultRouteSettings.ThrottlingBurstLimit", "must be an integer"),
    (lambda r: r["Stage"]["Properties"].update(RouteSettings={"plain": {"ThrottlingRateLimit": "fast"}}),
     "Resources.Stage.Properties.RouteSettings.plain.ThrottlingRateLimit", "non-negative number"),
    (lambda r: r["Stage"]["Properties"].update(RouteSettings={"plain": 5}),
     "Resources.Stage.Properties.RouteSettings.plain", "must be an object"),
])
def test_malformed_models_and_settings_name_the_resource_and_field(
        tmp_path: Path, change: Any, where: str, problem: str) -> None:
    template = copy.deepcopy(base())
    change(template["Resources"])
    error = error_of(tmp_path, template)
    assert error.where == where
    assert problem in error.problem


def test_a_model_of_another_api_is_not_this_apis(tmp_path: Path) -> None:
    template = base()
    template["Resources"]["Other"] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
        "Name": "other", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.a"}}
    template["Resources"]["ItemModel"]["Properties"]["ApiId"] = {"Ref": "Other"}
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, template, api="checked")
    assert caught.value.where == "Resources.Save.Properties.RequestModels.item"
    assert "models: Anything" in caught.value.problem
