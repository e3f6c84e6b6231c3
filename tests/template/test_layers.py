"""A function's ``Layers`` (emulator/template/layers.py): local layer versions of
CloudFormation, SAM and CDK templates, layers given by ARN, and what cannot be used."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from emulator.core.errors import ConfigError
from emulator.core.model import LayerSpec
from emulator.template import load_template

RUNTIME_APP = Path(__file__).resolve().parents[1] / "apps" / "runtime_sam"
POWERTOOLS = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7"

TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
            "Name": "t", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}},
        "DefaultRoute": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
            "ApiId": {"Ref": "Api"}, "RouteKey": "$default", "Target": {"Fn::Sub": "integrations/${Integ}"}}},
        "Integ": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
            "ApiId": {"Ref": "Api"}, "IntegrationType": "AWS_PROXY",
            "IntegrationUri": {"Fn::GetAtt": ["ChatFunction", "Arn"]}}},
        "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "dev"}},
        "ChatFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "Code": "src", "Handler": "app.handler", "Runtime": "python3.12",
            "Layers": [{"Ref": "Shared"}, POWERTOOLS]}},
        "Shared": {"Type": "AWS::Lambda::LayerVersion", "Properties": {"Content": "layer", "LayerName": "shared"}},
    }
}


def write(tmp_path: Path, template: dict[str, Any]) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return None\n")
    (tmp_path / "layer" / "python").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    return path


def layers_of(path: Path) -> tuple[LayerSpec, ...]:
    return load_template(path).functions["ChatFunction"].layers


def test_a_cloudformation_layer_with_local_content_and_an_arn(tmp_path: Path) -> None:
    assert layers_of(write(tmp_path, TEMPLATE)) == (
        LayerSpec("shared", (tmp_path / "layer").resolve()), LayerSpec(POWERTOOLS),
    )


def test_a_cdk_layer_is_read_from_its_asset_folder(tmp_path: Path) -> None:
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["Shared"] = {
        "Type": "AWS::Lambda::LayerVersion",
        "Properties": {"Content": {"S3Bucket": "cdk-hnb659fds-assets", "S3Key": "abc.zip"}},
        "Metadata": {"aws:asset:path": "asset.abc", "aws:asset:property": "Content"},
    }
    (tmp_path / "asset.abc" / "python").mkdir(parents=True)
    assert layers_of(write(tmp_path, template))[0] == LayerSpec("Shared", (tmp_path / "asset.abc").resolve())


def test_layer_content_in_s3_or_missing_is_a_config_error(tmp_path: Path) -> None:
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["Shared"]["Properties"]["Content"] = {"S3Bucket": "b", "S3Key": "k.zip"}
    with pytest.raises(ConfigError, match=r"Resources\.Shared\.Properties\.Content: layer content in S3"):
        load_template(write(tmp_path, template))
    template["Resources"]["Shared"]["Properties"]["Content"] = "nowhere"
    with pytest.raises(ConfigError, match=r"layer folder .*nowhere does not exist"):
        load_template(write(tmp_path, template))


def test_a_layers_entry_must_be_a_layer(tmp_path: Path) -> None:
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["ChatFunction"]["Properties"]["Layers"] = [{"Ref": "Stage"}]
    with pytest.raises(ConfigError, match=r"Layers\[0\]: 'dev' is neither a layer version of the template nor"):
        load_template(write(tmp_path, template))
    template["Resources"]["ChatFunction"]["Properties"]["Layers"] = ["Stage"]
    with pytest.raises(ConfigError, match=r"Layers\[0\]: Stage is a AWS::ApiGatewayV2::Stage, not a layer version"):
        load_template(write(tmp_path, template))


def test_sam_layers_with_content_uri_in_function_order() -> None:
    model = load_template(RUNTIME_APP / "template.yaml")
    assert model.functions["LayerFunction"].layers == (
        LayerSpec("shared", RUNTIME_APP / "layer"), LayerSpec(POWERTOOLS),
    )
    assert model.functions["DepsFunction"].layers == ()


def test_sam_globals_layers_and_a_build_method(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return None\n")
    (tmp_path / "built").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(f"""
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Layers: [!Ref Built]
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {{Name: t, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {{ApiId: !Ref Api, RouteKey: $default, Target: !Sub "integrations/${{Integ}}"}}
  Integ:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{ChatFunction.Arn}}/invocations
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {{ApiId: !Ref Api, StageName: dev}}
  Built:
    Type: AWS::Serverless::LayerVersion
    Properties: {{ContentUri: built/}}
    Metadata: {{BuildMethod: python3.12}}
  ChatFunction:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: src/, Handler: app.handler, Runtime: python3.12, Layers: ["{POWERTOOLS}"]}}
""")
    # SAM puts the Globals layers first; a BuildMethod layer's folder is python/ itself.
    assert layers_of(path) == (LayerSpec("Built", (tmp_path / "built").resolve(), built=True), LayerSpec(POWERTOOLS))
