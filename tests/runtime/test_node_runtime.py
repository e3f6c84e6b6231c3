"""How a Node.js function's worker is planned (emulator/runtime/node_runtime.py), and the
rule that the files running inside a Node.js handler's process use Node's own modules only."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from emulator.core.model import FunctionSpec, LayerSpec
from emulator.runtime.node_runtime import (
    FALLBACK_ENV, LOCK_FOLDER, NodeBinary, NodeMissing, check_versions, find_node, node_major, node_plan_env,
)

NODE = NodeBinary(Path("/usr/bin/node"), (20, 11, 1))
NODE_FILES = sorted(Path(__file__).parents[2].joinpath("emulator", "runtime", "node").glob("*.mjs"))


def spec(name: str, runtime: str, **kwargs: object) -> FunctionSpec:
    return FunctionSpec(name=name, handler="app.handler", code_dir=Path("."), runtime=runtime,
                        **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("runtime", "major"), [("nodejs18.x", 18), ("nodejs20.x", 20), ("nodejs22.x", 22),
                                                ("nodejs24.x", 24), ("python3.12", None), ("nodejs", None)])
def test_node_major(runtime: str, major: int | None) -> None:
    assert node_major(runtime) == major


def test_one_line_per_runtime_whose_major_differs() -> None:
    said: list[str] = []
    check_versions(NODE, [spec("A", "nodejs18.x"), spec("B", "nodejs20.x"), spec("C", "nodejs18.x"),
                          spec("P", "python3.12")], said.append)
    assert said == ["wsgw: nodejs18.x functions (A, C) run on the local Node.js 20.11.1 (/usr/bin/node)"]


def test_no_node_names_the_functions_that_need_it() -> None:
    with pytest.raises(NodeMissing) as info:
        check_versions(None, [spec("A", "nodejs20.x"), spec("P", "python3.12"), spec("B", "nodejs22.x")], print)
    assert "no `node` on PATH, and A, B (Runtime nodejs*) need it" in str(info.value)
    check_versions(None, [spec("P", "python3.12")], print)  # a Python-only app needs none


def test_find_node_reads_the_version(tmp_path: Path) -> None:
    fake = tmp_path / "node"
    fake.write_text("#!/bin/sh\necho v22.3.4\n")
    fake.chmod(0o755)
    found = asyncio.run(find_node(str(tmp_path)))
    assert found == NodeBinary(fake, (22, 3, 4))
    assert asyncio.run(find_node(str(tmp_path / "empty"))) is None


def test_layers_then_the_sdk_in_lambdas_node_path_order(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first / "nodejs" / "node_modules", second / "nodejs" / "node20" / "node_modules",
                   second / "nodejs" / "node_modules"):
        folder.mkdir(parents=True)
    layers = (LayerSpec(name="First", content_dir=first), LayerSpec(name="Second", content_dir=second))
    env = node_plan_env(spec("A", "nodejs20.x", layers=layers), NODE, tmp_path / "sdk")
    assert env["NODE_PATH"].split(os.pathsep) == [
        str(second / "nodejs" / "node20" / "node_modules"), str(second / "nodejs" / "node_modules"),
        str(first / "nodejs" / "node_modules"), str(tmp_path / "sdk" / "node_modules"),
    ]
    assert env[FALLBACK_ENV] == env["NODE_PATH"]  # the same folders for import


def test_the_shipped_lock_pins_every_client_it_lists() -> None:
    import json

    manifest = json.loads((LOCK_FOLDER / "package.json").read_text())
    lock = json.loads((LOCK_FOLDER / "package-lock.json").read_text())
    for name, version in manifest["dependencies"].items():
        assert name.startswith("@aws-sdk/")
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


@pytest.mark.parametrize("path", NODE_FILES, ids=lambda p: p.name)
def test_node_worker_files_import_only_nodes_own_modules_and_siblings(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    specifiers = re.findall(r"""(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)["']([^"']+)["']""", source, re.MULTILINE)
    assert specifiers, "the pattern finds the imports"
    assert [s for s in specifiers if not s.startswith(("node:", "./"))] == []
