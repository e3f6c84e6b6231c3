"""``run-local --stage-variable``: checked like the template's StageVariables before
anything starts (the live override is tests/backends/test_integrations_live.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import cli

APP = Path(__file__).resolve().parent.parent / "apps" / "probe" / "wsgw.json"


def test_a_stage_variable_must_be_key_equals_value() -> None:
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(APP), "--stage-variable", "novalue"])
    assert result.exit_code == 1 and "--stage-variable: 'novalue' is not KEY=VALUE" in result.output


def test_a_stage_variable_value_follows_aws_rules() -> None:
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(APP), "--stage-variable", "url=a b"])
    assert result.exit_code == 1 and "the value allows only" in result.output
