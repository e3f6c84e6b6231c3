"""Tests for emulator.template.cdk_assembly: loading a CDK cloud assembly (cdk.out).

tests/templates/cdk_assembly is written by hand in the shape ``cdk synth`` produces
(manifest.json, a stack template with asset metadata, a staged ``asset.*`` folder,
a second stack without an API); variants are copied to tmp_path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from emulator.core.errors import ConfigError
from emulator.core.model import KeyAttribute
from emulator.template import load_template

ASSEMBLY = Path(__file__).resolve().parents[1] / "templates" / "cdk_assembly"
STAGED = (ASSEMBLY / "asset.4f2d0c1e9b7a").resolve()
TEMPLATE = "LobbyStack.template.json"


def test_staged_assembly() -> None:
    model = load_template(ASSEMBLY)
    assert (model.name, model.stage, model.route_selection_expression) == ("lobby", "dev", "$request.body.action")
    assert set(model.routes) == {"$connect", "join", "$default"}
    connect, join, default = model.routes["$connect"], model.routes["join"], model.routes["$default"]
    assert (connect.function, connect.authorization_type) == ("ConnectHandler11AA22BB", "CUSTOM")
    assert connect.authorizer == "LobbyApiLobbyAuthorizer7A8B9C0D"
    assert (join.function, join.two_way, join.integration_timeout_ms) == ("JoinHandler33CC44DD", True, 10000)
    # One Integration per route even for a shared function.
    assert (default.function, default.two_way) == ("JoinHandler33CC44DD", False)
    authorizer = model.authorizers["LobbyApiLobbyAuthorizer7A8B9C0D"]
    assert (authorizer.name, authorizer.function) == ("LobbyAuthorizer", "AuthorizeHandler55EE66FF")
    assert authorizer.identity_source == ("route.request.header.Authorization",)


def test_staged_assembly_functions_and_table() -> None:
    model = load_template(ASSEMBLY)
    # The Node.js custom-resource provider is not a Python function: skipped.
    assert set(model.functions) == {"ConnectHandler11AA22BB", "JoinHandler33CC44DD", "AuthorizeHandler55EE66FF"}
    for function in model.functions.values():
        assert function.code_dir == STAGED  # Metadata aws:asset:path, relative to the assembly
        assert function.module == "lobby"
    join = model.functions["JoinHandler33CC44DD"]
    assert dict(join.environment) == {
        "TABLE": "LobbyTable0A1B2C3D",  # Ref of a table without TableName: its logical id
        "CALLBACK": "https://wsgwlocal1.execute-api.us-east-1.amazonaws.com/dev",
    }
    (table,) = model.tables
    assert (table.table_name, table.partition_key, table.ttl_attribute) == (
        "LobbyTable0A1B2C3D", KeyAttribute("connectionId", "S"), "ttl",
    )


def copy_assembly(tmp_path: Path) -> Path:
    target = tmp_path / "cdk.out"
    shutil.copytree(ASSEMBLY, target)
    return target


def edit_template(assembly: Path, name: str, edit: Any) -> None:
    path = assembly / name
    template = json.loads(path.read_text(encoding="utf-8"))
    edit(template)
    path.write_text(json.dumps(template), encoding="utf-8")


def test_no_staging_absolute_asset_path(tmp_path: Path) -> None:
    assembly = copy_assembly(tmp_path)
    source = tmp_path / "lambda_src"
    shutil.copytree(ASSEMBLY / "asset.4f2d0c1e9b7a", source)
    shutil.rmtree(assembly / "asset.4f2d0c1e9b7a")  # nothing staged with --no-staging

    def absolute(template: dict[str, Any]) -> None:
        for body in template["Resources"].values():
            if "aws:asset:path" in body.get("Metadata", {}):
                body["Metadata"]["aws:asset:path"] = str(source)

    edit_template(assembly, TEMPLATE, absolute)
    model = load_template(assembly)
    assert {f.code_dir for f in model.functions.values()} == {source.resolve()}


def test_stack_name_is_the_pseudo_parameter(tmp_path: Path) -> None:
    assembly = copy_assembly(tmp_path)

    def add_variable(template: dict[str, Any]) -> None:
        variables = template["Resources"]["ConnectHandler11AA22BB"]["Properties"]["Environment"]["Variables"]
        variables["STACK"] = {"Ref": "AWS::StackName"}

    edit_template(assembly, TEMPLATE, add_variable)
    model = load_template(assembly)
    assert model.functions["ConnectHandler11AA22BB"].environment["STACK"] == "lobby-dev"  # properties.stackName


def test_missing_asset_folder(tmp_path: Path) -> None:
    assembly = copy_assembly(tmp_path)
    shutil.rmtree(assembly / "asset.4f2d0c1e9b7a")
    with pytest.raises(ConfigError) as info:
        load_template(assembly)
    assert info.value.where.endswith(".Metadata.aws:asset:path")
    assert info.value.where.startswith("Resources.")
    assert "does not exist" in info.value.problem


def add_second_api_stack(assembly: Path) -> None:
    manifest = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))
    manifest["artifacts"]["OtherStack"] = {
        "type": "aws:cloudformation:stack",
        "properties": {"templateFile": "OtherStack.template.json"},
        "displayName": "OtherStack",
    }
    (assembly / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    shutil.copy(assembly / TEMPLATE, assembly / "OtherStack.template.json")

    def rename(template: dict[str, Any]) -> None:
        template["Resources"]["LobbyApi5E1F2A3B"]["Properties"]["Name"] = "other"

    edit_template(assembly, "OtherStack.template.json", rename)


def test_several_stacks_with_apis(tmp_path: Path) -> None:
    assembly = copy_assembly(tmp_path)
    add_second_api_stack(assembly)
    with pytest.raises(ConfigError) as info:
        load_template(assembly)
    assert info.value.where == "stack"
    assert info.value.problem == "several stacks have a WebSocket API, choose one: LobbyStack, OtherStack"
    assert load_template(assembly, stack="OtherStack").name == "other"
    assert load_template(assembly, stack="lobby-dev").name == "lobby"  # by stackName too


def test_unknown_stack(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_template(ASSEMBLY, stack="Nope")
    assert info.value.where == "stack"
    assert "stacks: LobbyStack, MonitoringStack" in info.value.problem


def test_chosen_stack_without_api() -> None:
    with pytest.raises(ConfigError) as info:
        load_template(ASSEMBLY, stack="MonitoringStack")
    assert info.value.where == "Resources"


def test_nested_stage_assembly(tmp_path: Path) -> None:
    root = tmp_path / "cdk.out"
    root.mkdir()
    nested = root / "assembly-Prod"
    shutil.copytree(ASSEMBLY, nested)
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": {
        "assembly-Prod": {"type": "cdk:cloud-assembly", "properties": {
            "directoryName": "assembly-Prod", "displayName": "Prod"}},
    }}), encoding="utf-8")
    model = load_template(root)
    assert model.name == "lobby"
    assert {f.code_dir for f in model.functions.values()} == {(nested / "asset.4f2d0c1e9b7a").resolve()}


def test_not_an_assembly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_template(tmp_path)
    assert info.value.where == str(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_template(tmp_path)
    assert info.value.where == str(tmp_path / "manifest.json")
    assert info.value.problem.startswith("not valid JSON")
