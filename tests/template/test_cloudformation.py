"""Tests for emulator.template: plain CloudFormation templates -> ApiModel.

The fixtures under tests/templates/ are read as they are; malformed variants are
written to tmp_path from :data:`MINIMAL` so each test changes one thing.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from emulator.core.errors import ConfigError
from emulator.core.model import IndexSpec, KeyAttribute
from emulator.template import load_template

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
PLAIN = TEMPLATES / "cfn_plain" / "template.json"
AUTHORIZER = TEMPLATES / "authorizer" / "template.yaml"
TWO_APIS = TEMPLATES / "two_apis" / "template.yaml"


# --- the plain JSON fixture ---------------------------------------------------------------


def test_plain_template_routes() -> None:
    model = load_template(PLAIN)
    assert model.name == "echo-dev"  # Fn::Sub of two parameters
    assert model.stage == "dev"  # the first stage in template order, a Ref to a parameter
    assert model.route_selection_expression == "${request.body.action}"
    assert model.api_id == "wsgwlocal1"
    assert set(model.routes) == {"$connect", "echo", "$default"}  # the HTTP API's route is not ours
    connect, echo, default = model.routes["$connect"], model.routes["echo"], model.routes["$default"]
    assert (connect.function, connect.two_way, connect.authorization_type) == ("ConnectFunction", False, "NONE")
    # IntegrationUri is a plain function ARN (Fn::GetAtt Arn, or Fn::Sub of the name).
    assert (echo.function, echo.two_way, echo.integration_timeout_ms) == ("echo-echo", True, 3000)
    assert (default.function, default.two_way) == ("fallback", False)


def test_plain_template_functions() -> None:
    model = load_template(PLAIN)
    src = (TEMPLATES / "cfn_plain" / "src").resolve()
    # NodeHelper (nodejs, inline code) is skipped; ToolsFunction is included though no
    # route uses it (handlers may invoke it), and its handler is a package.
    assert set(model.functions) == {"ConnectFunction", "echo-echo", "fallback", "ToolsFunction"}
    connect = model.functions["ConnectFunction"]
    assert (connect.handler, connect.code_dir, connect.runtime) == ("handlers.connect", src, "python3.11")
    assert (connect.timeout_s, connect.memory_mb) == (3.0, 128)  # Lambda's defaults
    assert dict(connect.environment) == {
        "ROLE_ARN": "arn:aws:iam::123456789012:role/FunctionRole",
        "ROLE": "FunctionRole",
        "ORIGIN": "https://b.example",
        "HOSTS": "https://a.example;https://b.example",
        "DEBUG": "1",
        "STACK": "cfn-plain",  # AWS::StackName: the template's folder name (cfn_plain), made a stack name
        "GREETING": "aGk=",
        "PRICE": "3",
    }
    echo = model.functions["echo-echo"]
    assert (echo.name, echo.timeout_s, echo.memory_mb) == ("echo-echo", 5.0, 256)  # Fn::FindInMap
    assert model.functions["fallback"].code_dir == src  # "./src/" normalised
    tools = model.functions["ToolsFunction"]
    assert tools.code_dir == (TEMPLATES / "cfn_plain" / "tools").resolve()
    assert tools.handler == "jobs.run"
    assert model.tables == ()
    assert dict(model.authorizers) == {}


def test_plain_template_parameter_overrides() -> None:
    model = load_template(PLAIN, parameters={"Env": "prod", "Prefix": "tools"}, region="eu-central-1",
                          account_id="999988887777")
    assert (model.name, model.stage) == ("tools-prod", "prod")
    assert (model.region, model.account_id) == ("eu-central-1", "999988887777")
    assert model.routes["echo"].integration_timeout_ms == 29000  # Fn::If on IsProd
    assert model.routes["echo"].function == "tools-echo"
    echo = model.functions["tools-echo"]
    assert (echo.timeout_s, echo.memory_mb) == (29.0, 1024)
    env = model.functions["ConnectFunction"].environment
    assert "DEBUG" not in env  # Fn::If -> AWS::NoValue removes the variable
    assert env["ROLE_ARN"] == "arn:aws:iam::999988887777:role/FunctionRole"
    assert "ToolsFunction" in model.functions  # Condition WantsTools: Prefix == tools


def test_resource_with_false_condition_is_left_out() -> None:
    model = load_template(PLAIN, parameters={"Env": "prod"})
    assert "ToolsFunction" not in model.functions


def test_parameter_override_must_be_allowed() -> None:
    with pytest.raises(ConfigError) as info:
        load_template(PLAIN, parameters={"Env": "staging"})
    assert info.value.where == "Parameters.Env"


# --- authorizers, API keys, tables -------------------------------------------------------------


def test_authorizer_and_api_key() -> None:
    model = load_template(AUTHORIZER)
    assert (model.name, model.stage) == ("guarded", "live")
    assert model.api_key_selection_expression == "$request.header.x-api-key"
    connect = model.routes["$connect"]
    assert connect.authorization_type == "CUSTOM"
    assert connect.authorizer == "TokenAuthorizer"
    assert connect.api_key_required is True
    assert model.routes["$default"].api_key_required is False
    assert model.routes["$default"].function == "DefaultFunction"  # plain GetAtt Arn as IntegrationUri
    authorizer = model.authorizers["TokenAuthorizer"]
    assert authorizer.name == "token-authorizer"
    assert authorizer.function == "AuthFunction"
    assert authorizer.identity_source == ("route.request.querystring.token",)
    assert authorizer.authorizer_type == "REQUEST"
    assert model.functions[connect.function].handler == "app.connect"
    assert model.functions["AuthFunction"].handler == "auth.handler"


def test_table_with_indexes_and_ttl() -> None:
    model = load_template(AUTHORIZER)
    games, audit = model.tables
    assert games.logical_id == "GamesTable" and games.table_name == "games"
    assert games.partition_key == KeyAttribute("pk", "S")
    assert games.sort_key == KeyAttribute("sk", "S")
    assert games.ttl_attribute == "expiresAt"
    assert games.attributes == (KeyAttribute("player", "S"), KeyAttribute("score", "N"), KeyAttribute("createdAt", "N"))
    assert games.global_indexes == (
        IndexSpec("byPlayer", "player", "score", "INCLUDE", ("title",)),
        IndexSpec("byScore", "score", None, "KEYS_ONLY"),
    )
    assert games.local_indexes == (IndexSpec("byCreation", "pk", "createdAt", "ALL"),)
    assert (audit.table_name, audit.partition_key, audit.ttl_attribute) == ("AuditTable", KeyAttribute("id", "B"), None)
    env = model.functions["ConnectFunction"].environment
    assert env["GAMES_TABLE"] == "games"
    assert env["GAMES_STREAM"].startswith("arn:aws:dynamodb:us-east-1:123456789012:table/games/stream/")


# --- several APIs ----------------------------------------------------------------------------


def test_two_websocket_apis_are_ambiguous() -> None:
    with pytest.raises(ConfigError) as info:
        load_template(TWO_APIS)
    assert info.value.where == "api"
    assert "AlphaApi (Name 'alpha-ws'), BetaApi (Name 'beta-ws')" in info.value.problem
    assert "RestOfTheWorld" not in info.value.problem  # the HTTP API is no candidate


@pytest.mark.parametrize("choice", ["AlphaApi", "alpha-ws"])
def test_api_picks_alpha_by_logical_id_or_name(choice: str) -> None:
    model = load_template(TWO_APIS, api=choice)
    assert (model.name, model.stage, model.route_selection_expression) == ("alpha-ws", "alpha", "$request.body.action")
    assert set(model.routes) == {"$default"}
    assert model.routes["$default"].function == "AlphaFunction"
    env = model.functions["AlphaFunction"].environment
    assert (env["SELF_API"], env["OTHER_API"]) == ("wsgwlocal1", "BetaApi")  # another API: its logical id


@pytest.mark.parametrize("choice", ["BetaApi", "beta-ws"])
def test_api_picks_beta(choice: str) -> None:
    model = load_template(TWO_APIS, api=choice)
    assert (model.name, model.stage, model.route_selection_expression) == ("beta-ws", "beta", "$request.body.kind")
    assert set(model.routes) == {"ping"}
    assert model.routes["ping"].two_way is True
    assert model.routes["ping"].function == "BetaFunction"


def test_unknown_api_choice_lists_candidates() -> None:
    with pytest.raises(ConfigError) as info:
        load_template(TWO_APIS, api="gamma")
    assert info.value.where == "api"
    assert "AlphaApi (Name 'alpha-ws')" in info.value.problem


# --- malformed templates -------------------------------------------------------------------------

MINIMAL: dict[str, Any] = {
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
            "Environment": {"Variables": {"TABLE_NAME": {"Ref": "Table"}}}}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
    }
}


def write(tmp_path: Path, template: dict[str, Any]) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "app.py").write_text("def handler(event, context):\n    return None\n", encoding="utf-8")
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template, indent=1), encoding="utf-8")
    return path


def minimal() -> dict[str, Any]:
    return copy.deepcopy(MINIMAL)


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    result: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return result


def config_error(tmp_path: Path, template: dict[str, Any], **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_template(write(tmp_path, template), **kwargs)
    return info.value


def test_minimal_template_loads(tmp_path: Path) -> None:
    model = load_template(write(tmp_path, minimal()))
    assert model.routes["$default"].function == "ChatFunction"
    assert dict(model.functions["ChatFunction"].environment) == {"TABLE_NAME": "Table"}
    assert model.tables[0].table_name == "Table"


def test_dangling_ref_in_environment(tmp_path: Path) -> None:
    template = minimal()
    props(template, "ChatFunction")["Environment"]["Variables"]["TABLE_NAME"] = {"Ref": "Tabel"}
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.ChatFunction.Properties.Environment.Variables.TABLE_NAME"
    assert failure.problem == "Ref to unknown resource 'Tabel'"
    assert str(failure) == (
        "Resources.ChatFunction.Properties.Environment.Variables.TABLE_NAME: Ref to unknown resource 'Tabel'"
    )


def test_import_value_in_environment(tmp_path: Path) -> None:
    template = minimal()
    props(template, "ChatFunction")["Environment"]["Variables"]["SHARED"] = {"Fn::ImportValue": "shared-table"}
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.ChatFunction.Properties.Environment.Variables.SHARED"
    assert failure.problem.startswith("Fn::ImportValue cannot be resolved locally")


def test_unsupported_intrinsics_elsewhere_do_not_matter(tmp_path: Path) -> None:
    template = minimal()
    template["Resources"]["Policy"] = {"Type": "AWS::IAM::Policy", "Properties": {
        "PolicyDocument": {"Statement": [{"Resource": {"Fn::ImportValue": "x"}}]},
        "Roles": [{"Fn::GetAZs": ""}, {"Ref": "Nowhere"}]}}
    template["Outputs"] = {"Broken": {"Value": {"Fn::GetAtt": ["Nowhere", "Arn"]}}}
    assert load_template(write(tmp_path, template)).routes["$default"].function == "ChatFunction"


def test_mock_integration(tmp_path: Path) -> None:
    template = minimal()
    template["Resources"]["MockInteg"] = {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
        "ApiId": {"Ref": "Api"}, "IntegrationType": "MOCK", "TemplateSelectionExpression": "\\$default",
        "RequestTemplates": {"$default": '{"statusCode": 200}'}}}
    template["Resources"]["MockOk"] = {"Type": "AWS::ApiGatewayV2::IntegrationResponse", "Properties": {
        "ApiId": {"Ref": "Api"}, "IntegrationId": {"Ref": "MockInteg"}, "IntegrationResponseKey": "/2\\d\\d/",
        "ResponseTemplates": {"$default": "ok"}}}
    props(template, "DefaultRoute")["Target"] = "integrations/MockInteg"
    route = load_template(write(tmp_path, template)).routes["$default"]
    assert route.integration is not None and route.function == "MOCK"
    assert route.integration.template_selection_expression == "\\$default"
    assert [(r.key, dict(r.templates)) for r in route.integration.responses] == [("/2\\d\\d/", {"$default": "ok"})]


def test_unknown_integrations_and_unknown_lambda_custom_functions_are_refused(tmp_path: Path) -> None:
    template = minimal()
    template["Resources"]["Odd"] = {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
        "ApiId": {"Ref": "Api"}, "IntegrationType": "VPC_LINK"}}
    props(template, "DefaultRoute")["Target"] = "integrations/Odd"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.Odd.Properties.IntegrationType"
    assert failure.problem == "VPC_LINK is not AWS_PROXY, AWS, HTTP, HTTP_PROXY or MOCK"
    props(template, "Odd").update(IntegrationType="AWS", IntegrationUri=(
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:f/invocations"))
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.Odd.Properties.IntegrationUri"
    assert failure.problem.startswith("function 'f' is not an AWS::Lambda::Function of this template")
    props(template, "Odd").update(IntegrationType="HTTP_PROXY", IntegrationUri="ftp://x")
    assert "is not an http(s) URL" in config_error(tmp_path, template).problem


def test_lambda_custom_integration_with_content_handling(tmp_path: Path) -> None:
    template = minimal()
    template["Resources"]["Custom"] = {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
        "ApiId": {"Ref": "Api"}, "IntegrationType": "AWS", "IntegrationMethod": "POST",
        "ContentHandlingStrategy": "CONVERT_TO_BINARY", "IntegrationUri": {"Fn::Sub": (
            "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${ChatFunction.Arn}/invocations")}}}
    template["Resources"]["CustomOk"] = {"Type": "AWS::ApiGatewayV2::IntegrationResponse", "Properties": {
        "ApiId": {"Ref": "Api"}, "IntegrationId": {"Ref": "Custom"}, "IntegrationResponseKey": "$default",
        "ContentHandlingStrategy": "CONVERT_TO_TEXT"}}
    props(template, "DefaultRoute")["Target"] = "integrations/Custom"
    route = load_template(write(tmp_path, template)).routes["$default"]
    assert route.function == "ChatFunction" and route.integration is not None
    assert route.integration.function == "ChatFunction" and route.integration.type == "AWS"
    assert route.integration.content_handling == "CONVERT_TO_BINARY"
    assert route.integration.responses[0].content_handling == "CONVERT_TO_TEXT"
    props(template, "CustomOk")["ContentHandlingStrategy"] = "CONVERT_TO_JSON"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.CustomOk.Properties.ContentHandlingStrategy"
    assert failure.problem == "'CONVERT_TO_JSON' is not CONVERT_TO_BINARY or CONVERT_TO_TEXT"


def test_route_without_target(tmp_path: Path) -> None:
    template = minimal()
    del props(template, "DefaultRoute")["Target"]
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.DefaultRoute.Properties.Target"
    assert failure.problem.startswith("is required")


def test_target_naming_no_integration(tmp_path: Path) -> None:
    template = minimal()
    props(template, "DefaultRoute")["Target"] = "integrations/Stage"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.DefaultRoute.Properties.Target"
    assert "names no AWS::ApiGatewayV2::Integration" in failure.problem


def test_integration_uri_of_unknown_function(tmp_path: Path) -> None:
    template = minimal()
    props(template, "Integ")["IntegrationUri"] = "arn:aws:lambda:us-east-1:123456789012:function:elsewhere"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.Integ.Properties.IntegrationUri"
    assert "function 'elsewhere' is not an AWS::Lambda::Function of this template" in failure.problem


def test_integration_timeout_out_of_range(tmp_path: Path) -> None:
    template = minimal()
    props(template, "Integ")["TimeoutInMillis"] = 30000
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.Integ.Properties.TimeoutInMillis"


def test_missing_handler_file(tmp_path: Path) -> None:
    template = minimal()
    props(template, "ChatFunction")["Handler"] = "chat.handler"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.ChatFunction.Properties.Handler"
    assert failure.problem.startswith("no file chat.py")


def test_handler_without_function_part(tmp_path: Path) -> None:
    template = minimal()
    props(template, "ChatFunction")["Handler"] = "app"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.ChatFunction.Properties.Handler"


def test_missing_code_folder(tmp_path: Path) -> None:
    template = minimal()
    props(template, "ChatFunction")["Code"] = "nowhere"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.ChatFunction.Properties.Code"
    assert "does not exist" in failure.problem


@pytest.mark.parametrize(
    ("code", "words"),
    [({"ZipFile": "def handler(e, c): pass"}, "inline ZipFile"),
     ({"S3Bucket": "b", "S3Key": "k.zip"}, "code in S3"),
     ({"ImageUri": "x"}, "container images")],
)
def test_code_that_cannot_run_locally(tmp_path: Path, code: Any, words: str) -> None:
    template = minimal()
    props(template, "ChatFunction")["Code"] = code
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.ChatFunction.Properties.Code"
    assert words in failure.problem


def test_unsupported_runtime(tmp_path: Path) -> None:
    template = minimal()
    props(template, "ChatFunction")["Runtime"] = "java21"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.ChatFunction.Properties.Runtime"
    assert failure.problem == "'java21' is not supported; wsgw runs a python3.x or nodejs<N>.x runtime"


def test_node_runtime_needs_a_handler_file_with_a_node_extension(tmp_path: Path) -> None:
    template = minimal()
    props(template, "ChatFunction")["Runtime"] = "nodejs20.x"
    props(template, "ChatFunction")["Handler"] = "src/app.handler"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.ChatFunction.Properties.Handler"
    assert failure.problem.startswith("no file src/app.js, .mjs or .cjs in ")


def test_unused_broken_python_function_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    template = minimal()
    template["Resources"]["Spare"] = {"Type": "AWS::Lambda::Function", "Properties": {
        "Code": "src", "Handler": "missing.handler", "Runtime": "python3.12"}}
    with caplog.at_level(logging.WARNING, logger="wsgw.template"):
        model = load_template(write(tmp_path, template))
    assert set(model.functions) == {"ChatFunction"}
    assert "Resources.Spare.Properties.Handler" in caplog.text


def test_no_stage(tmp_path: Path) -> None:
    template = minimal()
    del template["Resources"]["Stage"]
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.Api"
    assert "has no AWS::ApiGatewayV2::Stage" in failure.problem


def test_bad_stage_name(tmp_path: Path) -> None:
    template = minimal()
    props(template, "Stage")["StageName"] = "my stage"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.Stage.Properties.StageName"


def test_bad_route_selection_expression(tmp_path: Path) -> None:
    template = minimal()
    props(template, "Api")["RouteSelectionExpression"] = "$request.header.action"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.Api.Properties.RouteSelectionExpression"
    assert "unsupported variable" in failure.problem


def test_bad_api_key_selection_expression(tmp_path: Path) -> None:
    template = minimal()
    props(template, "Api")["ApiKeySelectionExpression"] = "$request.header.key"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.Api.Properties.ApiKeySelectionExpression"


def test_no_websocket_api(tmp_path: Path) -> None:
    template = minimal()
    props(template, "Api")["ProtocolType"] = "HTTP"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources"
    assert "no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET" in failure.problem


def test_authorization_on_a_message_route(tmp_path: Path) -> None:
    template = minimal()
    props(template, "DefaultRoute")["AuthorizationType"] = "AWS_IAM"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.DefaultRoute.Properties.AuthorizationType"
    assert failure.problem == "only the $connect route can have authorization"


def test_iam_authorization_on_connect(tmp_path: Path) -> None:
    template = minimal()
    props(template, "DefaultRoute").update(RouteKey="$connect", AuthorizationType="AWS_IAM")
    route = load_template(write(tmp_path, template)).routes["$connect"]
    assert (route.authorization_type, route.authorizer) == ("AWS_IAM", None)


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        ({"AuthorizerType": "JWT"}, "Resources.Auth.Properties.AuthorizerType", "only REQUEST"),
        ({"IdentitySource": ["$request.header.Authorization"]}, "Resources.Auth.Properties.IdentitySource[0]",
         "HTTP API form"),
        ({"AuthorizerUri": "not-an-arn"}, "Resources.Auth.Properties.AuthorizerUri", "not a Lambda function ARN"),
    ],
)
def test_bad_authorizers(tmp_path: Path, change: dict[str, Any], where: str, words: str) -> None:
    template = minimal()
    template["Resources"]["Auth"] = {"Type": "AWS::ApiGatewayV2::Authorizer", "Properties": {
        "ApiId": {"Ref": "Api"}, "Name": "auth", "AuthorizerType": "REQUEST",
        "IdentitySource": ["route.request.header.Authorization"],
        "AuthorizerUri": {"Fn::GetAtt": ["ChatFunction", "Arn"]}, **change}}
    props(template, "DefaultRoute").update(RouteKey="$connect", AuthorizationType="CUSTOM", AuthorizerId={"Ref": "Auth"})
    failure = config_error(tmp_path, template)
    assert failure.where == where
    assert words in failure.problem


def test_duplicate_route_keys(tmp_path: Path) -> None:
    template = minimal()
    template["Resources"]["AgainRoute"] = copy.deepcopy(template["Resources"]["DefaultRoute"])
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.AgainRoute.Properties.RouteKey"
    assert "also defined by DefaultRoute" in failure.problem


def test_custom_route_key_with_dollar(tmp_path: Path) -> None:
    template = minimal()
    props(template, "DefaultRoute")["RouteKey"] = "$custom"
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.DefaultRoute.Properties.RouteKey"


def test_table_key_without_attribute_definition(tmp_path: Path) -> None:
    template = minimal()
    props(template, "Table")["KeySchema"].append({"AttributeName": "sk", "KeyType": "RANGE"})
    failure = config_error(tmp_path, template)
    assert failure.where == "Resources.Table.Properties.KeySchema"
    assert "'sk' is not in AttributeDefinitions" in failure.problem


def test_parameter_without_default(tmp_path: Path) -> None:
    template = minimal()
    template["Parameters"] = {"Stage": {"Type": "String"}}
    props(template, "Stage")["StageName"] = {"Ref": "Stage"}
    failure = config_error(tmp_path, template)
    assert failure.where == "Parameters.Stage"
    assert load_template(write(tmp_path, template), parameters={"Stage": "qa"}).stage == "qa"


def test_unsupported_transform(tmp_path: Path) -> None:
    template = minimal()
    template["Transform"] = ["AWS::LanguageExtensions"]
    failure = config_error(tmp_path, template)
    assert failure.where == "Transform"


def test_not_a_template(tmp_path: Path) -> None:
    path = tmp_path / "template.json"
    path.write_text('{"Resources": ', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_template(path)
    assert info.value.where == str(path)
    assert info.value.problem.startswith("not valid JSON (line 1")
    with pytest.raises(ConfigError) as info:
        load_template(tmp_path / "missing.yaml")
    assert info.value.where == str(tmp_path / "missing.yaml")
