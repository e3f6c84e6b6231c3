"""Tests for emulator.template.yaml_cfn: CloudFormation YAML and its short forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.core.errors import ConfigError
from emulator.template import load_template
from emulator.template.yaml_cfn import parse_yaml


def parse(text: str) -> object:
    return parse_yaml(text, "t.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!Ref Table", {"Ref": "Table"}),
        ("!GetAtt Fn.Arn", {"Fn::GetAtt": ["Fn", "Arn"]}),
        # Only the first dot splits: nested-stack outputs keep theirs.
        ("!GetAtt Nested.Outputs.Url", {"Fn::GetAtt": ["Nested", "Outputs.Url"]}),
        ("!GetAtt [Fn, Arn]", {"Fn::GetAtt": ["Fn", "Arn"]}),
        ("!Sub 'arn:${AWS::Partition}:x'", {"Fn::Sub": "arn:${AWS::Partition}:x"}),
        ("!Sub ['${A}-b', {A: !Ref P}]", {"Fn::Sub": ["${A}-b", {"A": {"Ref": "P"}}]}),
        ("!Join ['/', [integrations, !Ref I]]", {"Fn::Join": ["/", ["integrations", {"Ref": "I"}]]}),
        ("!Select [0, !Split [',', 'a,b']]", {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}),
        ("!If [C, 1, !Ref AWS::NoValue]", {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]}),
        ("!Equals [!Ref Env, prod]", {"Fn::Equals": [{"Ref": "Env"}, "prod"]}),
        ("!Not [!Condition IsProd]", {"Fn::Not": [{"Condition": "IsProd"}]}),
        ("!And [!Condition A, !Condition B]", {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!FindInMap [M, !Ref K, V]", {"Fn::FindInMap": ["M", {"Ref": "K"}, "V"]}),
        ("!ImportValue shared", {"Fn::ImportValue": "shared"}),
        ("!Base64 text", {"Fn::Base64": "text"}),
        ("!GetAZs ''", {"Fn::GetAZs": ""}),
        ("!Base64 {'Fn::Sub': x}", {"Fn::Base64": {"Fn::Sub": "x"}}),
    ],
)
def test_short_forms_become_long_forms(text: str, expected: object) -> None:
    assert parse(f"value: {text}\n") == {"value": expected}


def test_block_sequence_short_form() -> None:
    text = "Uri: !Join\n  - ''\n  - - 'arn:'\n    - !Ref AWS::Partition\n"
    assert parse(text) == {"Uri": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}]]}}


def test_format_version_date_stays_a_string() -> None:
    assert parse("AWSTemplateFormatVersion: 2010-09-09\n") == {"AWSTemplateFormatVersion": "2010-09-09"}


def test_route_keys_with_dollar_are_plain_strings() -> None:
    assert parse("RouteKey: $connect\nExpr: $request.body.action\n") == {
        "RouteKey": "$connect", "Expr": "$request.body.action",
    }


def test_json_is_yaml_too() -> None:
    assert parse('{"Resources": {"A": {"Type": "X"}}}') == {"Resources": {"A": {"Type": "X"}}}


def test_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        parse("Resources:\n  Api:\n    Type: a: b\n")
    assert info.value.where == "t.yaml"
    assert info.value.problem == "not valid YAML (line 3, column 12: mapping values are not allowed here)"


def test_bad_indentation_reports_its_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse("Resources:\n  Api:\n    Type: A\n   Properties: {}\n")
    assert info.value.where == "t.yaml"
    assert "line 4" in info.value.problem


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(ConfigError) as info:
        parse("Resources:\n  Api:\n    Type: A\n  Api:\n    Type: B\n")
    assert info.value.where == "t.yaml"
    assert "duplicate key 'Api'" in info.value.problem
    assert "line 4" in info.value.problem


def test_unknown_tag_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse("value: !Reff Table\n")
    assert info.value.where == "t.yaml"
    assert "!Reff" in info.value.problem


def test_yaml_syntax_error_through_load_template(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("Resources:\n  Api:\n    Type: AWS::ApiGatewayV2::Api\n    Properties: {Name: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_template(path)
    assert info.value.where == str(path)
    assert "not valid YAML (line 5" in info.value.problem
