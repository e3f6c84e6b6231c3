"""wsgw as a user installs it: a wheel built from this checkout, installed into a fresh
virtualenv in a temporary folder outside the checkout, used from folders that are not
the checkout either, with nothing of the checkout on PATH or in the environment.

One install per module (about a minute: wsgw's dependencies, then pytest, then the
CDK app's ``aws-cdk-lib`` for the ``wsgw init`` project). The CDK CLI is not on PATH
here: the first CDK synth installs wsgw's pinned copy into the (temporary) user cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from websockets.sync.client import connect

from conftest import DEADLINE_S, RunLocalProcess

ROOT = Path(__file__).resolve().parent.parent
SAM_CHAT = ROOT / "tests" / "templates" / "sam_chat"
NODE_CHAT = ROOT / "tests" / "apps" / "node_chat"
INSTALL_TIMEOUT_S = 900
CDK_S = 300.0  # installing the CDK CLI, then a first synth


class Installed:
    """The fresh virtualenv with wsgw installed from its wheel, and the environment its
    user has: its ``bin`` first on PATH (activated), a cache and state of their own."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.venv = home / "venv"
        self.bin = self.venv / "bin"
        system_path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                      if p and not Path(p).resolve().is_relative_to(ROOT))
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "WSGW_", "VIRTUAL_ENV"))},
            "PATH": f"{self.bin}{os.pathsep}{system_path}", "VIRTUAL_ENV": str(self.venv),
            "WSGW_CACHE_DIR": str(home / "cache"), "XDG_DATA_HOME": str(home / "data"),
        }

    def run(self, *command: str, cwd: Path, timeout: float = INSTALL_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(list(command), cwd=cwd, env=self.env, capture_output=True, text=True,
                                timeout=timeout, check=False)
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def run_local(self, *args: str, cwd: Path) -> RunLocalProcess:
        return RunLocalProcess("--port", "0", *args, cwd=cwd, env=self.env, program=[str(self.bin / "wsgw")])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    home = tmp_path_factory.mktemp("user")
    dist = home / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, timeout=INSTALL_TIMEOUT_S, capture_output=True)
    (wheel,) = dist.glob("wsgw-*.whl")
    base = getattr(sys, "_base_executable", sys.executable)  # not this virtualenv's python
    subprocess.run([base, "-m", "venv", str(home / "venv")], check=True, timeout=120)
    user = Installed(home)
    user.run(str(user.bin / "pip"), "install", "-q", str(wheel), "pytest>=8", "pytest-asyncio>=0.24", cwd=home)
    yield user


def test_the_installed_package_is_outside_the_checkout(installed: Installed) -> None:
    where = installed.run(str(installed.bin / "python"), "-c", "import emulator, cli; print(emulator.__file__)",
                          cwd=installed.home).stdout.strip()
    assert Path(where).is_relative_to(installed.venv) and not Path(where).is_relative_to(ROOT)
    node = Path(where).parent / "runtime" / "node"  # the Node.js worker and the SDK lock ship too
    assert {path.name for path in node.iterdir()} >= {"worker.mjs", "endpoint_redirect.mjs", "fallback_resolve.mjs",
                                                     "package.json", "package-lock.json"}
    help_text = installed.run(str(installed.bin / "wsgw"), "--help", cwd=installed.home).stdout
    assert "init" in help_text and "run-local" in help_text


def test_the_bundled_app_runs_from_an_empty_folder(installed: Installed) -> None:
    folder = installed.home / "empty"
    folder.mkdir()
    server = installed.run_local("--no-reload", cwd=folder)
    try:
        server.wait_for(r"^wsgw: no app in this folder .*: serving the bundled chat app$", timeout=DEADLINE_S)
        server.wait_for(r"^wsgw: the CDK tools are not installed .*pre-synthesized template$", timeout=DEADLINE_S)
        url = server.wait_for(r"WebSocket URL: (ws://\S+)", timeout=DEADLINE_S).group(1)
        server.wait_for("Ready", timeout=DEADLINE_S)
        with connect(url, open_timeout=DEADLINE_S) as alice, connect(url, open_timeout=DEADLINE_S) as bob:
            alice.send(json.dumps({"action": "whoAmI"}))
            alice_id = alice.recv(timeout=DEADLINE_S)
            bob.send(json.dumps({"action": "sendMessage", "connectionId": alice_id, "message": "hi"}))
            assert alice.recv(timeout=DEADLINE_S) == "hi"
            listed = installed.run(str(installed.bin / "wsgw"), "connections", cwd=folder, timeout=60).stdout
            assert alice_id in listed
    finally:
        assert server.close() == 0


def test_a_sam_app_is_served_where_it_stands(installed: Installed) -> None:
    app = installed.home / "sam-app"
    shutil.copytree(SAM_CHAT, app, ignore=shutil.ignore_patterns("__pycache__", ".wsgw"))
    server = installed.run_local("--no-reload", cwd=app)
    try:
        server.wait_for(r"^wsgw: serving template\.yaml, the SAM template here$", timeout=DEADLINE_S)
        url = server.wait_for(r"WebSocket URL: (ws://\S+)", timeout=DEADLINE_S).group(1)
        server.wait_for("Ready", timeout=DEADLINE_S)
        with connect(url, open_timeout=DEADLINE_S) as ws:
            ws.send('{"message": {"type": "sendmessage", "text": "hello"}}')
            assert {ws.recv(timeout=DEADLINE_S), ws.recv(timeout=DEADLINE_S)} == {"hello", "sent: hello"}
    finally:
        assert server.close() == 0


def test_a_node_app_runs_with_the_sdk_installed_from_the_shipped_lock(installed: Installed) -> None:
    app = installed.home / "node-app"
    shutil.copytree(NODE_CHAT, app, ignore=shutil.ignore_patterns("__pycache__", ".wsgw", "node_modules"))
    server = installed.run_local("--no-reload", cwd=app)
    try:
        url = server.wait_for(r"WebSocket URL: (ws://\S+)", timeout=CDK_S).group(1)
        server.wait_for("Ready", timeout=DEADLINE_S)
        with connect(url, open_timeout=DEADLINE_S) as alice, connect(url, open_timeout=DEADLINE_S) as bob:
            alice.send(json.dumps({"action": "sendmessage", "data": "from the wheel"}))
            assert alice.recv(timeout=DEADLINE_S) == bob.recv(timeout=DEADLINE_S) == "from the wheel"
    finally:
        assert server.close() == 0
    assert list((installed.home / "cache" / "node-sdk").glob("*/node_modules/@aws-sdk/client-apigatewaymanagementapi"))


def test_the_pytest_plugin_works_in_the_users_virtualenv(installed: Installed) -> None:
    folder = installed.home / "plugin"
    folder.mkdir()
    (folder / "test_chat.py").write_text(
        "def test_chat(wsgw_connect):\n"
        "    alice, bob = wsgw_connect(), wsgw_connect()\n"
        "    alice.send_json({'action': 'whoAmI'})\n"
        "    bob.send_json({'action': 'sendMessage', 'connectionId': alice.recv_text(), 'message': 'hi'})\n"
        "    assert alice.recv_text(timeout=5) == 'hi'\n", encoding="utf-8")
    result = installed.run(str(installed.bin / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=folder)
    assert "1 passed" in result.stdout


def test_wsgw_init_makes_a_project_that_serves_and_passes_its_tests(installed: Installed) -> None:
    installed.run(str(installed.bin / "wsgw"), "init", "my-chat", cwd=installed.home, timeout=60)
    project = installed.home / "my-chat"
    # As the project's README says, but --no-compile: byte-compiling aws-cdk-lib's
    # thousands of modules took 38 of the install's 47 s here, and the app imports it
    # only in its synths.
    installed.run(str(installed.bin / "pip"), "install", "-q", "--no-compile", "-r", "requirements.txt",
                  "-r", "requirements-dev.txt", cwd=project)
    assert shutil.which("cdk", path=installed.env["PATH"]) is None  # so wsgw installs its own
    result = installed.run(str(installed.bin / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           cwd=project, timeout=INSTALL_TIMEOUT_S)
    assert "7 passed" in result.stdout
    assert list((installed.home / "cache" / "cdk-cli").glob("*/node_modules/.bin/cdk"))

    server = installed.run_local("--no-reload", cwd=project)
    try:
        server.wait_for(r"^wsgw: serving the CDK app here", timeout=DEADLINE_S)
        url = server.wait_for(r"WebSocket URL: (ws://\S+)", timeout=CDK_S).group(1)
        server.wait_for("Ready", timeout=DEADLINE_S)
        with connect(url, open_timeout=DEADLINE_S) as ws:
            ws.send('{"action": "whoAmI"}')
            assert ws.recv(timeout=DEADLINE_S).endswith("=")
    finally:
        assert server.close() == 0

    # aws-cdk-lib is here now (the project's requirements): the bundled app synthesizes.
    synth = installed.run(str(installed.bin / "wsgw"), "synth", cwd=installed.home, timeout=CDK_S).stdout
    assert f"cloud assembly in {installed.home / 'cache' / 'bundled-app' / 'cdk.out'}" in synth
