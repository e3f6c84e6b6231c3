"""A stage's ``AccessLogSettings`` read from a CloudFormation template
(emulator/template/websocket.py ``access_log_settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.core.access_log import AccessLogSettings
from emulator.core.errors import ConfigError
from emulator.template.cloudformation import build_model


def template(settings: Any = None) -> dict[str, Any]:
    stage: dict[str, Any] = {"ApiId": {"Ref": "Api"}, "StageName": "live"}
    if settings is not None:
        stage["AccessLogSettings"] = settings
    return {"Resources": {
        "Api": {"Type": "AWS::ApiGatewayV2::Api",
                "Properties": {"Name": "a", "ProtocolType": "WEBSOCKET",
                               "RouteSelectionExpression": "$request.body.action"}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": stage},
        "Route": {"Type": "AWS::ApiGatewayV2::Route",
                  "Properties": {"ApiId": {"Ref": "Api"}, "RouteKey": "$default",
                                 "Target": "integrations/Mock"}},
        "Mock": {"Type": "AWS::ApiGatewayV2::Integration",
                 "Properties": {"ApiId": {"Ref": "Api"}, "IntegrationType": "MOCK",
                                "RequestTemplates": {"$default": '{"statusCode": 200}'},
                                "TemplateSelectionExpression": "\\$default"}},
    }}


def build(raw: dict[str, Any]) -> Any:
    return build_model(raw, base_dir=Path("."), stack_name="s")


def test_no_settings_no_access_log() -> None:
    assert build(template()).access_log is None


def test_format_and_destination_with_intrinsics() -> None:
    model = build(template({"Format": {"Fn::Sub": "$context.requestId ${AWS::Region} $context.status"},
                            "DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:g"}))
    assert model.access_log == AccessLogSettings("$context.requestId us-east-1 $context.status",
                                                 "arn:aws:logs:us-east-1:123456789012:log-group:g")


def test_a_destination_wsgw_cannot_resolve_is_left_out() -> None:
    model = build(template({"Format": "$context.requestId", "DestinationArn": {"Fn::GetAtt": ["Logs", "Arn"]}}))
    assert model.access_log is not None and model.access_log.format == "$context.requestId"


@pytest.mark.parametrize(("settings", "where", "message"), [
    ({"Format": "$context.status"}, "AccessLogSettings.Format", "must include $context.requestId"),
    ({"DestinationArn": "arn:aws:logs:us-east-1:1:log-group:g"}, "AccessLogSettings.Format", "is required"),
    ("text", "AccessLogSettings", "must be an object"),
])
def test_a_format_aws_refuses_names_the_stage_and_field(settings: Any, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        build(template(settings))
    assert f"Resources.Stage.Properties.{where}" in str(refused.value) and message in str(refused.value)
