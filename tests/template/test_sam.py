"""Tests for emulator.template.sam: SAM templates through aws-sam-translator, offline."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.core.errors import ConfigError
from emulator.core.model import KeyAttribute
from emulator.template import load_template
from emulator.template.yaml_cfn import parse_yaml

FIXTURE = Path(__file__).resolve().parents[1] / "templates" / "sam_chat"
CHAT = FIXTURE / "template.yaml"


@pytest.fixture(autouse=True)
def _no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # The transform must work on a machine without any AWS configuration.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def test_chat_app_routes() -> None:
    model = load_template(CHAT)
    assert model.name == "SimpleChatWebSocket"
    assert model.stage == "Prod"  # explicit Stage with a Deployment, StageName from a parameter
    assert model.route_selection_expression == "$request.body.message.type"  # nested path
    assert set(model.routes) == {"$connect", "$disconnect", "sendmessage"}
    assert model.routes["$connect"].function == "OnConnectFunction"
    assert model.routes["$disconnect"].function == "OnDisconnectFunction"
    send = model.routes["sendmessage"]
    assert send.function == "sam-chat-send"  # FunctionName: !Sub ${AWS::StackName}-send
    assert send.two_way is True  # a RouteResponse references the route
    assert send.integration_timeout_ms == 5000
    assert model.routes["$connect"].two_way is False


def test_chat_app_globals_are_applied_as_sam_does() -> None:
    model = load_template(CHAT)
    assert set(model.functions) == {"OnConnectFunction", "OnDisconnectFunction", "sam-chat-send"}
    connect = model.functions["OnConnectFunction"]
    assert connect.code_dir == (FIXTURE / "onconnect").resolve()
    assert (connect.handler, connect.runtime) == ("app.handler", "python3.12")
    assert (connect.timeout_s, connect.memory_mb) == (10.0, 128)  # function value wins over Globals
    # Environment.Variables merged, the function's LOG_LEVEL wins.
    assert dict(connect.environment) == {"LOG_LEVEL": "DEBUG", "TABLE_NAME": "simplechat_connections"}
    disconnect = model.functions["OnDisconnectFunction"]
    assert (disconnect.timeout_s, disconnect.memory_mb) == (10.0, 256)
    assert dict(disconnect.environment) == {"LOG_LEVEL": "INFO", "TABLE_NAME": "simplechat_connections"}
    send = model.functions["sam-chat-send"]
    assert send.timeout_s == 20.0
    assert dict(send.environment) == {
        "LOG_LEVEL": "INFO",
        "TABLE_NAME": "simplechat_connections",
        "TABLE_ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/simplechat_connections",
        "SESSIONS_TABLE": "SessionsTable",
        "API_ENDPOINT": "wss://wsgwlocal1.execute-api.us-east-1.amazonaws.com",
        "CALLBACK_URL": "https://wsgwlocal1.execute-api.us-east-1.amazonaws.com/Prod",
    }


def test_chat_app_tables_include_the_simple_table() -> None:
    connections, sessions = load_template(CHAT).tables
    assert (connections.logical_id, connections.table_name) == ("ConnectionsTable", "simplechat_connections")
    assert connections.partition_key == KeyAttribute("connectionId", "S")
    # AWS::Serverless::SimpleTable -> AWS::DynamoDB::Table, PrimaryKey Type String -> S.
    assert (sessions.logical_id, sessions.table_name) == ("SessionsTable", "SessionsTable")
    assert sessions.partition_key == KeyAttribute("sessionId", "S")


def test_parameters_reach_globals_and_stage() -> None:
    model = load_template(CHAT, parameters={"TableName": "other_table", "StageName": "dev"}, region="ap-south-1")
    assert model.stage == "dev"
    assert model.functions["OnConnectFunction"].environment["TABLE_NAME"] == "other_table"
    assert model.tables[0].table_name == "other_table"
    assert model.functions["sam-chat-send"].environment["API_ENDPOINT"] == (
        "wss://wsgwlocal1.execute-api.ap-south-1.amazonaws.com"
    )


def test_parameter_pattern_is_checked() -> None:
    with pytest.raises(ConfigError) as info:
        load_template(CHAT, parameters={"TableName": "no-dashes"})
    assert info.value.where == "Parameters.TableName"


# --- variants written to tmp_path -------------------------------------------------------------


def chat_template() -> dict[str, Any]:
    loaded = parse_yaml(CHAT.read_text(encoding="utf-8"), str(CHAT))
    assert isinstance(loaded, dict)
    return copy.deepcopy(loaded)


def write(tmp_path: Path, template: dict[str, Any]) -> Path:
    for folder in ("onconnect", "ondisconnect", "sendmessage"):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "app.py").write_text("def handler(e, c):\n    return None\n", encoding="utf-8")
    path = tmp_path / "template.yml"
    # The long forms are valid YAML too: CloudFormation accepts both.
    path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return path


def test_transform_as_a_list_and_globals_code_uri(tmp_path: Path) -> None:
    template = chat_template()
    template["Transform"] = ["AWS::Serverless-2016-10-31"]
    template["Globals"]["Function"]["CodeUri"] = "onconnect"
    del template["Resources"]["OnDisconnectFunction"]["Properties"]["CodeUri"]
    model = load_template(write(tmp_path, template))
    assert model.functions["OnDisconnectFunction"].code_dir == (tmp_path / "onconnect").resolve()
    assert model.functions["OnConnectFunction"].code_dir == (tmp_path / "onconnect").resolve()


def test_unsupported_sam_runtime_on_a_route(tmp_path: Path) -> None:
    template = chat_template()
    template["Resources"]["OnConnectFunction"]["Properties"]["Runtime"] = "java21"
    with pytest.raises(ConfigError) as info:
        load_template(write(tmp_path, template))
    assert info.value.where == "Resources.OnConnectFunction.Properties.Runtime"


def test_node_sam_function_on_a_route(tmp_path: Path) -> None:
    template = chat_template()
    template["Resources"]["OnConnectFunction"]["Properties"]["Runtime"] = "nodejs20.x"
    path = write(tmp_path, template)
    (tmp_path / "onconnect" / "app.mjs").write_text("export const handler = async () => ({statusCode: 200});\n")
    model = load_template(path)
    assert model.functions["OnConnectFunction"].runtime == "nodejs20.x"


def test_missing_sam_handler_file(tmp_path: Path) -> None:
    template = chat_template()
    template["Resources"]["SendMessageFunction"]["Properties"]["Handler"] = "send.handler"
    with pytest.raises(ConfigError) as info:
        load_template(write(tmp_path, template))
    # The transformed resource keeps its logical id, so the place is the same.
    assert info.value.where == "Resources.SendMessageFunction.Properties.Handler"


def test_inline_code_cannot_run(tmp_path: Path) -> None:
    template = chat_template()
    props = template["Resources"]["OnConnectFunction"]["Properties"]
    del props["CodeUri"]
    props["InlineCode"] = "def handler(e, c): pass"
    with pytest.raises(ConfigError) as info:
        load_template(write(tmp_path, template))
    assert info.value.where == "Resources.OnConnectFunction.Properties.Code"
    assert "inline ZipFile" in info.value.problem


def test_invalid_sam_resource_is_reported_by_the_translator(tmp_path: Path) -> None:
    template = chat_template()
    template["Resources"]["OnConnectFunction"]["Properties"]["Events"] = {"Bad": {"Type": "Nope"}}
    with pytest.raises(ConfigError) as info:
        load_template(write(tmp_path, template))
    assert info.value.where == "Resources.OnConnectFunction"
    assert info.value.problem.startswith("SAM transform failed")


def test_repository_application_is_refused_before_any_network_call(tmp_path: Path) -> None:
    template = chat_template()
    template["Resources"]["Shared"] = {"Type": "AWS::Serverless::Application", "Properties": {
        "Location": {"ApplicationId": "arn:aws:serverlessrepo:us-east-1:123456789012:applications/x",
                     "SemanticVersion": "1.0.0"}}}
    with pytest.raises(ConfigError) as info:
        load_template(write(tmp_path, template))
    assert info.value.where == "Resources.Shared.Properties.Location"


def test_functions_remember_their_logical_ids() -> None:
    # SendMessageFunction has a FunctionName (${AWS::StackName}-send): it is served under
    # that name, and --env-vars may still name it by its logical id, as sam local does.
    functions = load_template(CHAT).functions
    named = next(spec for spec in functions.values() if spec.name.endswith("-send"))
    assert named.logical_id == "SendMessageFunction"
    assert all(spec.logical_id for spec in functions.values())
