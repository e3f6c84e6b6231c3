"""emulator.template.discovery: which app a folder holds when the user names none."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from websockets.sync.client import connect

from conftest import DEADLINE_S, RunLocalProcess
from emulator.template.discovery import find_app

SAM_CHAT = Path(__file__).resolve().parents[1] / "templates" / "sam_chat"


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}", encoding="utf-8")


@pytest.mark.parametrize(("files", "kind", "path"), [
    (["cdk.json", "cdk.out/manifest.json", "template.yaml"], "cdk", "."),
    (["cdk.json"], "cdk", "."),
    (["template.yaml", "cdk.out/manifest.json", "wsgw.json"], "sam", "template.yaml"),
    (["template.yml"], "sam", "template.yml"),
    (["template.json", "wsgw.json"], "sam", "template.json"),
    (["cdk.out/manifest.json", "wsgw.json"], "cdk.out", "cdk.out"),
    (["wsgw.json"], "wsgw.json", "wsgw.json"),
    (["cdk.out/other.json", "README.md"], "bundled", None),
])
def test_the_order_cdk_sam_cdk_out_wsgw_json_then_bundled(
    tmp_path: Path, files: list[str], kind: str, path: str | None,
) -> None:
    _touch(tmp_path, *files)
    found = find_app(tmp_path)
    assert found.kind == kind
    assert found.path == ((tmp_path / path).resolve() if path else None)
    assert found.describe().startswith("serving" if path else "no app in this folder")


def test_run_local_serves_the_sam_template_where_it_stands(tmp_path: Path, tls_dir: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(SAM_CHAT, app)
    server = RunLocalProcess("--port", "0", "--no-reload", "--tls-dir", str(tls_dir), cwd=app)
    try:
        server.wait_for(r"^wsgw: serving template\.yaml, the SAM template here$", timeout=DEADLINE_S)
        url = server.wait_for(r"WebSocket URL: (ws://\S+)", timeout=DEADLINE_S).group(1)
        server.wait_for("Ready", timeout=DEADLINE_S)
        with connect(url, open_timeout=DEADLINE_S) as ws:
            ws.send('{"message": {"type": "sendmessage", "text": "hello"}}')
            assert {ws.recv(timeout=DEADLINE_S), ws.recv(timeout=DEADLINE_S)} == {"hello", "sent: hello"}
    finally:
        assert server.close() == 0
