"""Keep the design's dependency arrows one way, by walking imports with ``ast``.

The packages of ``emulator/`` are the one list of what may import what
(:data:`MAY_IMPORT`, below); ``emulator/core`` is the pure core: every module in it
imports only the standard library and ``core``. Beside the layer table:

* Nothing in ``emulator/`` imports ``handlers`` or ``deploy``.
* No file in ``handlers/`` imports ``emulator``.
* The files that run inside a handler's process (the worker and the endpoint redirect)
  import only the standard library: user code must not see wsgw there.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EMULATOR = ROOT / "emulator"
HANDLERS = ROOT / "handlers"

# Which parts of emulator/ each part may import (its own always). A part is a
# subpackage, or a top-level module (app, reload); "emulator" is the package's own
# __init__. This table is the architecture: change it only with ARCHITECTURE.md.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "net": frozenset({"core"}),
    "runtime": frozenset({"core", "npm"}),
    "aws": frozenset({"core", "net"}),
    "template": frozenset({"core", "npm"}),
    # Running npm and Node tools (npm ci of a shipped lock into the cache): the CDK CLI
    # (template) and the Node.js runtime's AWS SDK (runtime) share it.
    "npm": frozenset({"core"}),
    "reload": frozenset({"core", "runtime", "template"}),
    # The live inspector: its records wrap the core's decisions; its page is a mount
    # on net's listener (net never imports it: the app passes it in).
    "inspector": frozenset({"core", "net"}),
    # Non-Lambda integrations (MOCK, HTTP, AWS services) and mapping templates.
    "backends": frozenset({"core"}),
    "app": frozenset({"core", "net", "runtime", "aws", "template", "reload", "inspector", "backends"}),
    "tools": frozenset({"core", "net", "runtime", "aws", "template", "app", "inspector"}),
    "testing": frozenset({"core", "net", "runtime", "aws", "template", "app", "reload", "inspector"}),
    "commands": frozenset({"core", "net", "runtime", "aws", "template", "tools", "app", "reload", "inspector"}),
    "emulator": frozenset(),
}

# Loaded by path into a handler's process (python -I): standard library only, but for
# two optional imports guarded by ImportError (orjson decodes the invoker's frames
# faster; debugpy serves --debug-function).
HANDLER_PROCESS_FILES = (
    "emulator/runtime/worker.py", "emulator/runtime/endpoint_redirect.py", "emulator/runtime/worker_debug.py",
    "emulator/runtime/import_hint.py",
)
GUARDED_IN_HANDLER_PROCESS = frozenset({"orjson", "debugpy"})


@dataclass(frozen=True)
class Imported:
    """One imported module, resolved to an absolute dotted name."""

    module: str
    line: int


def _package_of(path: Path) -> list[str]:
    # emulator/core/lifecycle.py and emulator/core/__init__.py both resolve `.` to emulator.core.
    return list(path.relative_to(ROOT).parts[:-1])


def imports_in(source: str, package: list[str]) -> list[Imported]:
    """Every module ``source`` imports (also under TYPE_CHECKING or inside functions),
    relative imports resolved against ``package``."""
    tree = ast.parse(source)
    found: list[Imported] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Imported(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                found += _from_import(node.module, node)
                continue
            up = node.level - 1
            base = ["<outside>"] if up > len(package) else package[: len(package) - up]
            found += _from_import(".".join(base + ([node.module] if node.module else [])), node)
    return found


def _from_import(module: str, node: ast.ImportFrom) -> list[Imported]:
    # `from emulator import core` and `from . import tls` import the submodules named.
    if module == "emulator" or not node.module:
        return [Imported(".".join(filter(None, (module, alias.name))), node.lineno) for alias in node.names]
    return [Imported(module, node.lineno)]


def imports_of(path: Path) -> list[Imported]:
    return imports_in(path.read_text(encoding="utf-8"), _package_of(path))


def _python_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def part_of(module: str) -> str | None:
    """The part of emulator/ (a key of MAY_IMPORT) that dotted ``module`` belongs to,
    or None when it is not wsgw's emulator."""
    parts = module.split(".")
    if parts[0] != "emulator":
        return None
    return parts[1] if len(parts) > 1 else "emulator"


def _part_of_file(path: Path) -> str:
    rel = path.relative_to(EMULATOR)
    return rel.parts[0] if len(rel.parts) > 1 else ("emulator" if rel.stem == "__init__" else rel.stem)


# --- self-tests of the walker -------------------------------------------------------------


def test_walker_resolves_relative_and_absolute_imports() -> None:
    names = {imp.module for imp in imports_of(EMULATOR / "core" / "lifecycle.py")}
    assert {"emulator.core.events", "emulator.core.registry", "emulator.core.access", "dataclasses"} <= names
    # `from . import sigv4` names the module, not the package.
    assert "emulator.core.sigv4" in {imp.module for imp in imports_of(EMULATOR / "core" / "access.py")}


def test_every_part_of_emulator_is_in_the_table() -> None:
    parts = {_part_of_file(path) for path in _python_files(EMULATOR)}
    assert parts == set(MAY_IMPORT)


# --- the rules ----------------------------------------------------------------------------


def layer_violations(part: str, imports: list[Imported]) -> list[str]:
    bad = []
    for imp in imports:
        first = imp.module.split(".")[0]
        target = part_of(imp.module)
        if target is None:
            if part == "core" and first not in sys.stdlib_module_names:
                bad.append(f"line {imp.line} imports {imp.module} (core is stdlib only)")
            continue
        if target != part and target not in MAY_IMPORT[part]:
            bad.append(f"line {imp.line} imports {imp.module} ({part} may not import {target})")
    return bad


@pytest.mark.parametrize("path", _python_files(EMULATOR), ids=lambda p: str(p.relative_to(EMULATOR)))
def test_module_imports_follow_the_layers(path: Path) -> None:
    assert layer_violations(_part_of_file(path), imports_of(path)) == []


def test_layer_rule_catches_third_party_and_upward_imports() -> None:
    # The check itself can fail: a would-be pure module with forbidden imports.
    source = (
        "import json\n"
        "import boto3\n"
        "from ..net.listener import Listener\n"
        "from .. import tools, core\n"
        "from .model import ApiModel\n"
        "from emulator.core.errors import ConfigError\n"
        "from emulator import app\n"
        "def f():\n"
        "    import websockets.frames\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ..runtime.invoker import Invoker\n"
    )
    assert sorted(layer_violations("core", imports_in(source, ["emulator", "core"]))) == [
        "line 12 imports emulator.runtime.invoker (core may not import runtime)",
        "line 2 imports boto3 (core is stdlib only)",
        "line 3 imports emulator.net.listener (core may not import net)",
        "line 4 imports emulator.tools (core may not import tools)",
        "line 7 imports emulator.app (core may not import app)",
        "line 9 imports websockets.frames (core is stdlib only)",
    ]


def test_layer_rule_keeps_io_packages_off_tools_and_testing() -> None:
    source = "from ..tools.console import Console\nfrom emulator.testing.faults import FaultPlan\nfrom ..core import ids\n"
    for part in ("net", "runtime", "aws"):
        assert len(layer_violations(part, imports_in(source, ["emulator", part]))) == 2


def test_relative_imports_resolve_outside_packages() -> None:
    assert [imp.module for imp in imports_in("from .. import emulator\nfrom ...x import y\n", ["handlers"])] == [
        "emulator",
        "<outside>.x",
    ]


@pytest.mark.parametrize("path", _python_files(EMULATOR), ids=lambda p: str(p.relative_to(EMULATOR)))
def test_emulator_never_imports_handlers_or_deploy(path: Path) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}"
        for imp in imports_of(path)
        if imp.module.split(".")[0] in ("handlers", "deploy")
    ]
    assert bad == []


@pytest.mark.parametrize("name", HANDLER_PROCESS_FILES)
def test_handler_process_files_import_only_the_standard_library(name: str) -> None:
    allowed = sys.stdlib_module_names | GUARDED_IN_HANDLER_PROCESS
    bad = [imp.module for imp in imports_of(ROOT / name) if imp.module.split(".")[0] not in allowed]
    assert bad == []


@pytest.mark.parametrize("path", _python_files(HANDLERS), ids=lambda p: p.name)
def test_handlers_never_import_emulator(path: Path) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}"
        for imp in imports_of(path)
        if imp.module.split(".")[0] == "emulator" or imp.module.startswith("<outside>")
    ]
    assert bad == []


def test_there_are_handlers_to_check() -> None:
    assert _python_files(HANDLERS), "handlers/ is empty: the rule would check nothing"


@pytest.mark.parametrize("package", sorted(p.parent for p in EMULATOR.glob("*/__init__.py")), ids=lambda p: p.name)
def test_each_package_says_what_lives_there_and_what_it_may_import(package: Path) -> None:
    tree = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree) or ""
    assert "May import" in docstring, f"{package.name}/__init__.py: say what the package may import"
    exported = [node for node in tree.body if isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)]
    assert exported, f"{package.name}/__init__.py has no __all__"
