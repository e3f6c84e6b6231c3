"""emulator.template.parameters: parameter overrides in the forms ``sam`` takes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from emulator.core.errors import ConfigError
from emulator.template.parameters import parse_overrides

SAM_CHAT = Path(__file__).resolve().parents[1] / "templates" / "sam_chat" / "template.yaml"


@pytest.mark.parametrize(("items", "expected"), [
    (["A=1"], {"A": "1"}),
    (["A=1 B=2"], {"A": "1", "B": "2"}),
    (["A=1", "B=2"], {"A": "1", "B": "2"}),
    (["ParameterKey=A,ParameterValue=1 ParameterKey=B,ParameterValue=x=y"], {"A": "1", "B": "x=y"}),
    (['Name="a b" List=a,b,c Empty='], {"Name": "a b", "List": "a,b,c", "Empty": ""}),
    (["ParameterKey=Name,ParameterValue='p q'"], {"Name": "p q"}),
    (["A=1 A=2"], {"A": "2"}),
    ([], {}),
])
def test_the_forms_sam_takes(items: list[str], expected: dict[str, str]) -> None:
    assert parse_overrides(items) == expected


@pytest.mark.parametrize("item", ["novalue", "=1", "ParameterKey=A", 'A="unclosed'])
def test_a_bad_item_names_itself(item: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_overrides([item])
    assert raised.value.where == "--parameter-overrides"


@pytest.mark.parametrize("args", [
    ["--parameter-overrides", "TableName=from_flag Bogus=1"],
    ["--parameter-overrides", "TableName=from_flag", "Bogus=1"],
    ["--parameter-overrides", "ParameterKey=TableName,ParameterValue=x", "--parameter-overrides", "Bogus=1"],
])
def test_run_local_reads_every_form_up_to_the_template(args: list[str], tmp_path: Path) -> None:
    # Bogus is not declared: the template loader names it, so every value arrived.
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(SAM_CHAT), "--tls-dir", str(tmp_path), *args])
    assert result.exit_code == 1
    assert "parameters.Bogus: the template declares no such parameter" in result.output


def test_a_stray_argument_without_the_flag_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli.main, ["run-local", "TableName=x"])
    assert result.exit_code == 2 and "unexpected extra argument (TableName=x)" in result.output
