"""``wsgw init``: the project it writes is complete, its SAM variant is the CDK stack's
twin, and in the new folder the project's own tests pass against wsgw's plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from emulator.commands.init import stack_name_for, write_project
from emulator.core.errors import WsgwError
from emulator.template import bundled_app
from emulator.template.loader import load_model

COMMON = {".gitignore", "README.md", "pytest.ini", "requirements-dev.txt", "tests/test_chat.py",
          "handlers/connect.py", "handlers/disconnect.py", "handlers/whoami.py", "handlers/send_message.py",
          "handlers/default.py", "handlers/connection_table.py", "handlers/callbacks.py"}


def written(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_the_cdk_project_has_the_stack_the_handlers_and_the_tests(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.main, ["init", str(tmp_path / "my-chat")])
    assert result.exit_code == 0, result.output
    project = tmp_path / "my-chat"
    assert written(project) == COMMON | {"cdk.json", "requirements.txt", "deploy/app.py", "deploy/stack.py"}
    assert "python3 deploy/app.py" in (project / "cdk.json").read_text(encoding="utf-8")
    assert '"stackName": "MyChatStack"' in (project / "cdk.json").read_text(encoding="utf-8")
    assert (project / "handlers" / "whoami.py").read_bytes() == (bundled_app.app_root() / "handlers" / "whoami.py").read_bytes()
    assert "wsgw run-local" in (project / "README.md").read_text(encoding="utf-8")
    assert "-m pip install -r requirements.txt -r requirements-dev.txt" in result.output


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(WsgwError, match="is not an empty folder"):
        write_project(tmp_path, "cdk")
    result = CliRunner().invoke(cli.main, ["init", str(tmp_path)])
    assert result.exit_code == 1 and (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert CliRunner().invoke(cli.main, ["init", str(tmp_path / "x"), "--template", "terraform"]).exit_code == 2


@pytest.mark.parametrize(("folder", "stack"), [
    ("my-chat", "MyChatStack"), ("chat_app2", "ChatApp2Stack"), ("2fast", "App2fastStack"), ("---", "ChatStack")])
def test_stack_names_come_from_the_folder(folder: str, stack: str) -> None:
    assert stack_name_for(Path(folder)) == stack


def test_the_sam_template_is_the_cdk_stacks_twin(tmp_path: Path) -> None:
    write_project(tmp_path / "sam", "sam")
    assert written(tmp_path / "sam") == COMMON | {"template.yaml"}
    sam = load_model(tmp_path / "sam" / "template.yaml")
    cdk = load_model(bundled_app.snapshot_path())
    assert {key: (route.function, route.two_way) for key, route in sam.routes.items()} == {
        key: (route.function, route.two_way) for key, route in cdk.routes.items()}
    assert {name: (spec.handler, spec.runtime, spec.timeout_s, spec.memory_mb, sorted(spec.environment))
            for name, spec in sam.functions.items()} == {
        name: (spec.handler, spec.runtime, spec.timeout_s, spec.memory_mb, sorted(spec.environment))
        for name, spec in cdk.functions.items()}
    assert sam.tables == cdk.tables and sam.stage == cdk.stage
    assert sam.route_selection_expression == cdk.route_selection_expression


@pytest.mark.parametrize("kind", ["cdk", "sam"])
def test_the_new_projects_own_tests_pass(tmp_path: Path, kind: str) -> None:
    project = tmp_path / f"{kind}-chat"
    write_project(project, kind)
    # As in the project's virtualenv: its python3 (for the CDK app) is the one with wsgw.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout
    if kind == "cdk":
        assert (project / ".wsgw" / "cdk.out" / f"{stack_name_for(project)}.template.json").is_file()
