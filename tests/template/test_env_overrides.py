"""Environment overrides: SAM-style --env-vars files and FUNCTION.KEY=VALUE pairs."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import pytest
from click.testing import CliRunner

import cli
from emulator.template.env_overrides import EnvOverrides
from emulator.core.errors import ConfigError
from emulator.core.model import ApiModel, FunctionSpec

PROBE_APP = Path(__file__).resolve().parents[1] / "apps" / "probe" / "wsgw.json"


def _model() -> ApiModel:
    functions = {
        "A": FunctionSpec(name="A", handler="a.h", code_dir=Path("."), environment=MappingProxyType({"X": "1", "Y": "t"})),
        "B": FunctionSpec(name="B", handler="b.h", code_dir=Path(".")),
    }
    return ApiModel(name="m", stage="dev", route_selection_expression="$request.body.action",
                    routes=MappingProxyType({}), functions=MappingProxyType(functions))


def test_sam_style_file_for_all_and_one_function(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"Parameters": {"X": "all", "N": 3}, "A": {"Y": "mine"}}))
    model = EnvOverrides.from_file(path).apply(_model())
    assert dict(model.functions["A"].environment) == {"X": "all", "Y": "mine", "N": "3"}
    assert dict(model.functions["B"].environment) == {"X": "all", "N": "3"}  # added, unlike SAM


def test_a_function_with_a_function_name_is_also_found_by_its_logical_id(tmp_path: Path) -> None:
    # sam local's --env-vars keys are logical ids; wsgw's functions go by FunctionName.
    functions = {
        "chat-send": FunctionSpec(name="chat-send", handler="a.h", code_dir=Path("."), logical_id="SendFunction"),
        "Other": FunctionSpec(name="Other", handler="b.h", code_dir=Path("."), logical_id="Other"),
    }
    model = ApiModel(name="m", stage="dev", route_selection_expression="$request.body.action",
                     routes=MappingProxyType({}), functions=MappingProxyType(functions))
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"SendFunction": {"K": "by-id"}, "Other": {"K": "o"}}))
    served = EnvOverrides.from_file(path).apply(model)
    assert served.functions["chat-send"].environment["K"] == "by-id"
    assert served.functions["Other"].environment["K"] == "o"
    both = EnvOverrides.from_pairs([("SendFunction.A", "1"), ("chat-send.B", "2")]).apply(model)
    assert dict(both.functions["chat-send"].environment) == {"A": "1", "B": "2"}


def test_pairs_and_unknown_functions() -> None:
    model = EnvOverrides.from_pairs([("X", "c"), ("B.Z", "z")]).apply(_model())
    assert model.functions["A"].environment["X"] == "c" and model.functions["B"].environment["Z"] == "z"
    with pytest.raises(ConfigError, match="env.Nope: the app has no function 'Nope'; its functions: A, B"):
        EnvOverrides.from_pairs([("Nope.K", "v")]).apply(_model())


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON (line 1"),
    ('["x"]', "must be a JSON object"),
    ('{"A": "x"}', "A: must be an object of KEY: value"),
    ('{"A": {"K": {"nested": 1}}}', "A.K: values must be strings or numbers"),
])
def test_bad_files_name_the_place(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "env.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        EnvOverrides.from_file(path)


def test_run_local_rejects_an_env_file_naming_a_missing_function(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"NoSuchFunction": {"K": "v"}}))
    result = CliRunner().invoke(cli.main, ["run-local", "--template", str(PROBE_APP), "--env-vars", str(path)])
    assert result.exit_code == 1
    assert "the app has no function 'NoSuchFunction'" in result.output


def test_overrides_reach_the_handlers(tmp_path: Path) -> None:
    from conftest import start_gateway
    from websockets.sync.client import connect

    running = start_gateway(PROBE_APP, tmp_path / "tls", env_overrides=EnvOverrides.from_pairs(
        [("EventDump.PROBE_SETTING", "from-override"), ("AWS_REGION", "eu-west-1")]))
    try:
        with connect(running.ws_url) as ws:
            ws.send(json.dumps({"action": "dump"}))
            env = json.loads(ws.recv(timeout=10))["env"]
        assert env["PROBE_SETTING"] == "from-override"
        assert env["AWS_REGION"] == "eu-west-1"
    finally:
        running.background.stop()
