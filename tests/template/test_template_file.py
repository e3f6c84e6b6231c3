"""AWS::StackName of a loaded template (emulator/template/template_file.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.core.errors import ConfigError
from emulator.template.template_file import check_stack_name, default_stack_name, load_template

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CFN_PLAIN = TEMPLATES / "cfn_plain" / "template.json"


@pytest.mark.parametrize("folder, name", [
    ("chat-app", "chat-app"),
    ("my_chat app", "my-chat-app"),  # characters a stack name cannot have become "-"
    ("2024_chat", "chat"),  # a stack name starts with a letter
    ("___", "stack"),
])
def test_the_default_is_the_template_folder_made_a_stack_name(tmp_path: Path, folder: str, name: str) -> None:
    template = tmp_path / folder / "template.yaml"
    template.parent.mkdir()
    assert default_stack_name(template) == name
    assert check_stack_name(name, "x") == name


def _stack_env(**kwargs: str) -> str:
    model = load_template(CFN_PLAIN, **kwargs)  # its functions get {"Ref": "AWS::StackName"} as STACK
    return next(spec.environment["STACK"] for spec in model.functions.values() if "STACK" in spec.environment)


def test_stack_name_feeds_aws_stack_name() -> None:
    assert _stack_env() == "cfn-plain"
    assert _stack_env(stack_name="chat-prod") == "chat-prod"


def test_stack_name_overrides_a_cloud_assembly_stack_name(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    out.mkdir()
    template = json.loads(CFN_PLAIN.read_text())
    for resource in template["Resources"].values():
        code = resource.get("Properties", {}).get("Code")
        if isinstance(code, str):
            resource["Properties"]["Code"] = str((CFN_PLAIN.parent / code).resolve())
    (out / "Chat.template.json").write_text(json.dumps(template))
    (out / "manifest.json").write_text(json.dumps({"version": "36.0.0", "artifacts": {"Chat": {
        "type": "aws:cloudformation:stack", "properties": {"templateFile": "Chat.template.json",
                                                           "stackName": "ChatStack"}}}}))
    assert next(s.environment["STACK"] for s in load_template(out).functions.values()
                if "STACK" in s.environment) == "ChatStack"
    assert next(s.environment["STACK"] for s in load_template(out, stack_name="Other").functions.values()
                if "STACK" in s.environment) == "Other"


@pytest.mark.parametrize("name", ["my_stack", "1stack", "", "a" * 129, "with space"])
def test_invalid_stack_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_stack_name(name, "--stack-name")
    assert error.value.where == "--stack-name"
