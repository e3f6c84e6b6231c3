"""Functions run as Lambda would run them (emulator/runtime/provisioning.py), end to
end: ``tests/apps/runtime_sam`` served by a real gateway, run-local and the pytest
plugin, with real pip installs into the session's temporary cache (``runtime_cache``).

The app's functions: ``deps`` declares a package wsgw does not have (inflection),
``undeclared`` imports PyYAML (installed beside wsgw) without declaring it, ``layer``
imports from a local layer and lists a public layer by ARN, ``version`` has
``Runtime: python3.12``, ``broken`` declares a package that does not exist.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from websockets.sync.client import ClientConnection, connect

from conftest import FunctionLog, RunLocalProcess, wait_until
from emulator.app import GatewayOptions, GatewayThread, LocalGateway
from emulator.runtime.interpreters import InterpreterFinder
from emulator.runtime.provisioning import RuntimeOptions
from emulator.runtime.runtime_sdk import sdk_versions
from emulator.template.loader import load_model

APP = Path(__file__).resolve().parent / "apps" / "runtime_sam" / "template.yaml"
POWERTOOLS = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:7"


class Served:
    """A gateway serving the app, with its function log and its start-up lines."""

    def __init__(self, app: Path, tls_dir: Path, runtime: RuntimeOptions, **options: Any) -> None:
        self.log = FunctionLog()
        self.said: list[str] = []
        local = LocalGateway(load_model(app), GatewayOptions(port=0, tls_dir=tls_dir, runtime=runtime, **options),
                             function_log=self.log, reload_log=self.said.append)
        self.background = GatewayThread(local)
        started = time.perf_counter()
        self.background.start(timeout_s=300)
        self.start_s = time.perf_counter() - started
        self.local = local

    def ask(self, client: ClientConnection, action: str) -> Any:
        client.send(json.dumps({"action": action}))
        return json.loads(client.recv(timeout=30))


@pytest.fixture(scope="module")
def served(tls_dir: Path, runtime_cache: Path) -> Iterator[Served]:
    running = Served(APP, tls_dir, RuntimeOptions(cache_dir=runtime_cache))
    yield running
    running.background.stop()


def test_a_declared_package_is_installed_and_importable(served: Served, runtime_cache: Path) -> None:
    with connect(served.local.ws_url) as client:
        body = served.ask(client, "deps")
    assert body["camelized"] == "WebSocketGateway"
    assert body["from"].startswith(str(runtime_cache / "deps"))  # from the cache, not wsgw's environment


def test_an_undeclared_import_fails_as_on_lambda_with_a_hint(served: Served) -> None:
    with connect(served.local.ws_url) as client:
        assert served.ask(client, "undeclared")["message"] == "Internal server error"
    lines = [line for function, line in served.log.snapshot() if function == "UndeclaredFunction"]
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'yaml'" in lines
    assert ("wsgw: 'yaml' is installed beside wsgw but not declared for this function: add PyYAML to its "
            "requirements.txt (or a layer), or run wsgw with --deps inherit") in lines


def test_a_local_layer_is_importable_and_an_arn_layer_is_one_line(served: Served) -> None:
    with connect(served.local.ws_url) as client:
        assert served.ask(client, "layer") == {"greeting": "hello from the layer"}
    assert [line for line in served.said if POWERTOOLS in line] == [
        f"wsgw: layer {POWERTOOLS} (of LayerFunction) is only an ARN and cannot be fetched; "
        "its packages are missing locally: add them to the function's requirements.txt"
    ]


def test_the_runtimes_python_runs_the_function_with_only_what_lambda_gives(served: Served) -> None:
    has_312 = asyncio.run(InterpreterFinder().find("3.12")) is not None
    with connect(served.local.ws_url) as client:
        body = served.ask(client, "version")
        again = served.ask(client, "version")
    assert body["version"] == ([3, 12] if has_312 else list(sys.version_info[:2]))
    assert body["boto3"] == sdk_versions()["boto3"]  # the runtime's SDK: wsgw's copy
    assert body["websockets"] is False  # wsgw's own packages are not importable
    assert body["exit"] is True  # the builtins that site adds are there
    # _X_AMZN_TRACE_ID is set per invocation (a message event has no header: a new Root).
    assert body["trace"].startswith("Root=1-") and again["trace"].startswith("Root=1-")
    assert body["trace"] != again["trace"]


def test_a_function_whose_install_failed_fails_alone(served: Served) -> None:
    failures = [line for line in served.said if line.startswith("wsgw: cannot install")]
    assert len(failures) == 1 and "BrokenFunction" in failures[0]
    assert "No matching distribution found for wsgw-test-no-such-package-4c1d==1.0" in failures[0]
    with connect(served.local.ws_url) as client:
        assert served.ask(client, "broken")["message"] == "Internal server error"
        assert served.ask(client, "deps")["camelized"] == "WebSocketGateway"  # the others serve
    lines = [line for function, line in served.log.snapshot() if function == "BrokenFunction"]
    assert any(line.startswith("[ERROR] Runtime.ImportModuleError: Unable to import module 'app': wsgw could not "
                               "install the dependencies of BrokenFunction") for line in lines)


def test_a_second_start_reuses_the_cache(served: Served, tls_dir: Path, runtime_cache: Path) -> None:
    # The module's gateway installed inflection; a second start installs only what
    # failed before (the broken requirement is tried again: it may have been the network).
    second = Served(APP, tls_dir, RuntimeOptions(cache_dir=runtime_cache))
    try:
        installs = [line for line in second.said if line.startswith("wsgw: installing")]
        assert [line for line in installs if "BrokenFunction" not in line] == []
        with connect(second.local.ws_url) as client:
            assert second.ask(client, "deps")["camelized"] == "WebSocketGateway"
    finally:
        second.background.stop()
    print(f"first start {served.start_s:.2f} s, second start {second.start_s:.2f} s")


def test_run_local_deps_inherit_imports_from_wsgws_environment(runtime_cache: Path, tls_dir: Path) -> None:
    env = {**os.environ, "WSGW_CACHE_DIR": str(runtime_cache)}
    run = RunLocalProcess("--template", str(APP), "--port", "0", "--tls-dir", str(tls_dir), "--no-reload",
                          "--deps", "inherit", env=env)
    try:
        url = run.wait_for(r"WebSocket URL: (ws://\S+)", timeout=120).group(1)
        run.wait_for("wsgw: --deps inherit: functions run on wsgw's Python")
        with connect(url) as client:
            client.send(json.dumps({"action": "undeclared"}))
            assert json.loads(client.recv(timeout=30)) == {"yaml": __import__("yaml").__version__}
            client.send(json.dumps({"action": "deps"}))  # requirements.txt still counts
            assert json.loads(client.recv(timeout=30))["camelized"] == "WebSocketGateway"
    finally:
        assert run.close() == 0


def test_hot_reload_installs_an_edited_requirements_file(tmp_path: Path, tls_dir: Path, runtime_cache: Path) -> None:
    code = tmp_path / "app"
    code.mkdir()
    (code / "requirements.txt").write_text("# nothing yet\n")
    (code / "handler.py").write_text(textwrap.dedent('''
        import importlib.util

        def handler(event, context):
            found = importlib.util.find_spec("inflection") is not None
            return {"statusCode": 200, "body": "inflection" if found else "none"}
    '''))
    (code / "wsgw.json").write_text(json.dumps({
        "name": "reloading", "routeSelectionExpression": "$request.body.action",
        "functions": {"Fn": {"handler": "handler.handler", "codeUri": ".", "runtime": "python3.11"}},
        "routes": {"$default": {"function": "Fn", "twoWay": True}},
    }))
    served = Served(code / "wsgw.json", tls_dir, RuntimeOptions(cache_dir=runtime_cache), reload=True)
    try:
        with connect(served.local.ws_url) as client:
            client.send("{}")
            assert client.recv(timeout=30) == "none"
            (code / "requirements.txt").write_text("inflection==0.5.1\n")
            wait_until(lambda: any(line.startswith("wsgw: reloaded Fn") for line in served.said), timeout=120,
                       message="\n".join(served.said))

            client.send("{}")
            assert client.recv(timeout=30) == "inflection"
    finally:
        served.background.stop()


PLUGIN_TESTS = '''
import json

def ask(client, action):
    client.send_json({"action": action})
    return json.loads(client.recv_text(timeout=30))

def test_declared(wsgw_connect):
    client = wsgw_connect()
    assert ask(client, "deps")["camelized"] == "WebSocketGateway"
    assert ask(client, "layer") == {"greeting": "hello from the layer"}
    assert ask(client, "undeclared")["message"] == "Internal server error"
    assert ask(client, "version")["version"] == EXPECTED_VERSION
'''


@pytest.mark.parametrize("deps", ["declared", "inherit"])
def test_the_pytest_plugin_runs_functions_the_same_way(
    deps: str, pytester: pytest.Pytester, runtime_cache: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WSGW_CACHE_DIR", str(runtime_cache))
    has_312 = asyncio.run(InterpreterFinder().find("3.12")) is not None
    version = [3, 12] if has_312 and deps == "declared" else list(sys.version_info[:2])
    tests = PLUGIN_TESTS.replace("EXPECTED_VERSION", repr(version))
    if deps == "inherit":  # wsgw's environment has PyYAML
        tests = tests.replace('assert ask(client, "undeclared")["message"] == "Internal server error"',
                              'assert ask(client, "undeclared")["yaml"]')
    pytester.makepyfile(test_runtime=tests)
    result = pytester.runpytest_subprocess(f"--wsgw-template={APP}", f"--wsgw-deps={deps}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


pytest_plugins = ["pytester"]
