"""emulator.template.cdk_app: a user's own CDK app (tests/apps/cdk_python, a small Python
CDK app) synthesized offline into wsgw's folder, skipped when unchanged, watched like
``cdk watch``, and served by run-local with hot re-synthesis.

The app runs with ``python3`` from PATH (its cdk.json says so, as ``cdk init`` writes
it), so these tests put this interpreter's folder first on PATH, as an activated
virtualenv would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from websockets.sync.client import connect

from conftest import DEADLINE_S, RunLocalProcess, start_gateway
from emulator.core.errors import ConfigError
from emulator.template import cdk_app
from emulator.template.cdk_app import WatchPatterns, synth_app
from emulator.template.cdk_toolkit import CdkError, find_cli
from emulator.template.loader import load_model

APP = Path(__file__).resolve().parents[1] / "apps" / "cdk_python"
TYPESCRIPT_APP = Path(__file__).resolve().parents[1] / "apps" / "cdk_typescript"
SYNTH_S = 120.0  # a Python CDK synth takes 3-15 s on a loaded 2-core machine


@pytest.fixture
def venv_on_path(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """PATH as in an activated virtualenv: this interpreter's ``python3`` comes first."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    monkeypatch.setenv("PATH", path)
    return {**os.environ, "PATH": path}


def copy_app(destination: Path) -> Path:
    shutil.copytree(APP, destination, ignore=shutil.ignore_patterns("__pycache__", ".wsgw"))
    return destination


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One real synth of a copy of the app, shared by the module's quick tests."""
    app = copy_app(tmp_path_factory.mktemp("cdk") / "app")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
            patch.setenv(name, "must-not-be-used")  # the synth runs without credentials
        synth_app(app)
    yield app


# --- what cdk watch watches -------------------------------------------------------------------


def test_watch_patterns_follow_cdk_json(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps({
        "app": "python3 app.py",
        "watch": {"include": ["**"], "exclude": ["README.md", "cdk*.json", "**/__init__.py", "tests"]},
    }), encoding="utf-8")
    patterns = WatchPatterns.of(tmp_path)
    yes = ["app.py", "stacks/chat.py", "functions/echo.py", "cdk.json"]
    no = ["README.md", "cdk.context.json", "stacks/__init__.py", "tests/test_x.py", ".venv/lib/x.py",
          ".hidden", "node_modules/x/index.js", "cdk.out/manifest.json", ".wsgw/cdk.out/manifest.json",
          "stacks/__pycache__/chat.cpython-311.pyc"]
    assert [name for name in yes if patterns.matches(tmp_path / name)] == yes
    assert [name for name in no if patterns.matches(tmp_path / name)] == []
    assert not patterns.matches(tmp_path.parent / "elsewhere.py")


def test_include_narrows_what_is_watched(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "npx ts-node bin/app.ts",
                                                   "watch": {"include": ["bin/*.ts", "lib/**/*.ts"]}}))
    patterns = WatchPatterns.of(tmp_path)
    assert patterns.matches(tmp_path / "bin" / "app.ts") and patterns.matches(tmp_path / "lib" / "a" / "b.ts")
    assert not patterns.matches(tmp_path / "bin" / "deep" / "app.ts")
    assert not patterns.matches(tmp_path / "lambda" / "handler.py")


@pytest.mark.parametrize(("settings", "field"), [
    ({"watch": {}}, "app"),
    ({"app": ""}, "app"),
    ({"app": "python3 app.py", "watch": ["**"]}, "watch"),
    ({"app": "python3 app.py", "watch": {"include": 3}}, "watch.include"),
])
def test_a_malformed_cdk_json_names_the_field(tmp_path: Path, settings: dict[str, Any], field: str) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps(settings), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        WatchPatterns.of(tmp_path)
    assert raised.value.where == f"{tmp_path / 'cdk.json'}: {field}"


# --- synth --------------------------------------------------------------------------------------


def test_the_app_synthesizes_into_wsgws_folder_with_function_code_in_place(synthesized: Path) -> None:
    assembly = cdk_app.assembly_dir(synthesized)
    assert assembly == synthesized / ".wsgw" / "cdk.out" and (assembly / "manifest.json").is_file()
    assert not (synthesized / "cdk.out").exists()  # the user's own cdk.out is not touched
    model = load_model(synthesized)
    assert set(model.routes) == {"$connect", "$default", "ping"} and model.stage == "local"
    assert {spec.code_dir for spec in model.functions.values()} == {(synthesized / "functions").resolve()}


def test_an_unchanged_app_is_not_synthesized_again(synthesized: Path, monkeypatch: pytest.MonkeyPatch,
                                                    venv_on_path: dict[str, str]) -> None:
    def no_cdk(*args: Any, **kwargs: Any) -> str:
        raise AssertionError(f"cdk ran: {args}")

    monkeypatch.setattr(cdk_app, "run_cdk", no_cdk)
    handler = synthesized / "functions" / "echo.py"
    handler.write_text(handler.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # code: no synth
    (synthesized / "README.md").write_text("excluded by cdk.json\n", encoding="utf-8")
    assert synth_app(synthesized) == cdk_app.assembly_dir(synthesized)

    app_py = synthesized / "app.py"
    app_py.write_text(app_py.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="cdk ran"):
        synth_app(synthesized)


def test_a_failing_app_is_one_line_with_its_exception(tmp_path: Path, venv_on_path: dict[str, str]) -> None:
    app = copy_app(tmp_path / "app")
    source = (app / "app.py").read_text(encoding="utf-8")
    (app / "app.py").write_text(source.replace("app.synth()", "raise ValueError('stack is broken')"), encoding="utf-8")
    with pytest.raises(CdkError, match=r"^cdk synth failed: ValueError: stack is broken$"):
        synth_app(app)


def test_an_app_without_its_cdk_library_says_to_use_its_virtualenv(tmp_path: Path, venv_on_path: dict[str, str]) -> None:
    app = copy_app(tmp_path / "app")
    (app / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} -c 'import aws_cdk.no_such_module'"}))
    with pytest.raises(CdkError, match=r"No module named 'aws_cdk.no_such_module'.*run wsgw from its virtualenv"):
        synth_app(app)


def test_a_typescript_app_synthesizes_with_its_own_cli(tmp_path: Path, tls_dir: Path) -> None:
    app = tmp_path / "ts-app"
    shutil.copytree(TYPESCRIPT_APP, app, ignore=shutil.ignore_patterns("node_modules", ".wsgw", "__pycache__"))
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=app, check=True,
                   capture_output=True, timeout=600)
    assert find_cli(app) == app / "node_modules" / ".bin" / "cdk"  # the app's devDependency first
    model = load_model(app)
    assert set(model.routes) == {"$connect", "$default", "shout"} and model.stage == "local"
    python_code = {spec.code_dir for spec in model.functions.values() if spec.runtime.startswith("python")}
    assert python_code == {(app / "functions").resolve()}
    # The NodejsFunction's TypeScript was bundled by esbuild at synth into wsgw's assembly:
    # a plain .js folder, served by the Node.js worker.
    shout = model.functions[model.routes["shout"].function]
    assert shout.runtime == "nodejs20.x" and shout.code_dir.is_relative_to(cdk_app.assembly_dir(app))
    running = start_gateway(app, tls_dir)
    try:
        with connect(running.ws_url, open_timeout=DEADLINE_S) as ws:
            ws.send('{"action": "shout", "text": "hello typescript"}')
            assert json.loads(ws.recv(timeout=DEADLINE_S)) == {"shouted": "HELLO TYPESCRIPT", "route": "shout"}
    finally:
        running.background.stop()


# --- run-local on the app where it stands -----------------------------------------------------


def test_run_local_synthesizes_serves_and_resynthesizes_the_app(
    tmp_path: Path, tls_dir: Path, venv_on_path: dict[str, str],
) -> None:
    app = copy_app(tmp_path / "app")
    server = RunLocalProcess("--port", "0", "--tls-dir", str(tls_dir), cwd=app, env=venv_on_path)
    try:
        server.wait_for(r"^wsgw: serving the CDK app here \(cdk\.json; synthesized by wsgw into \.wsgw/cdk\.out\)$")
        server.wait_for(r"^wsgw: synthesizing the CDK app in .*: done in \d+\.\d s$", timeout=SYNTH_S)
        url = server.wait_for(r"WebSocket URL: (ws://\S+)", timeout=DEADLINE_S).group(1)
        server.wait_for("Ready", timeout=DEADLINE_S)
        with connect(url, open_timeout=DEADLINE_S) as ws:
            ws.send('{"action": "ping"}')
            assert json.loads(ws.recv(timeout=DEADLINE_S)) == {"route": "ping"}

            app_py = app / "app.py"
            app_py.write_text(app_py.read_text(encoding="utf-8").replace('ROUTES = ["ping"]', 'ROUTES = ["ping", "pong"]'))
            server.wait_for(r"^wsgw: the CDK app changed: re-synthesizing it\.\.\.$", timeout=DEADLINE_S)
            server.wait_for(r"^wsgw: reloaded the app definition in \d+ ms", timeout=SYNTH_S)
            ws.send('{"action": "pong"}')
            assert json.loads(ws.recv(timeout=DEADLINE_S)) == {"route": "pong"}

            app_py.write_text(app_py.read_text(encoding="utf-8").replace("app.synth()", "raise ValueError('oops')"))
            failed = server.wait_for(r"^wsgw: reload failed: (.*); still serving the previous version$", timeout=SYNTH_S)
            assert failed.group(1) == "cdk synth failed: ValueError: oops"
            ws.send('{"action": "pong"}')  # the last good version still serves
            assert json.loads(ws.recv(timeout=DEADLINE_S)) == {"route": "pong"}

            handler = app / "functions" / "echo.py"
            handler.write_text(handler.read_text(encoding="utf-8").replace('{"route":', '{"edited": True, "route":'))
            server.wait_for(r"^wsgw: reloaded .*PingFn.* \(code\)", timeout=DEADLINE_S)
            ws.send('{"action": "ping"}')
            assert json.loads(ws.recv(timeout=DEADLINE_S)) == {"edited": True, "route": "ping"}
        assert sum("re-synthesizing" in line for line in server.lines) == 2  # not for the handler edit
    finally:
        assert server.close() == 0
