"""Keep the design's dependency arrows one way, by walking imports with ``ast``.

* Pure modules import only the standard library and each other.
* Nothing in ``emulator/`` imports ``handlers`` or ``deploy``.
* No file in ``handlers/`` imports ``emulator``.
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
PURE = ("model", "selection", "events", "ids", "clock", "registry", "gateway", "management", "errors", "invocation", "config", "lambda_api", "authorizer", "sigv4")


@dataclass(frozen=True)
class Imported:
    """One imported module, resolved to an absolute dotted name."""

    module: str
    line: int


def _package_of(path: Path) -> list[str]:
    # emulator/gateway.py and emulator/__init__.py both resolve `.` to emulator.
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
                if node.module == "emulator":  # from emulator import a: the submodule a
                    found += [Imported(f"emulator.{alias.name}", node.lineno) for alias in node.names]
                else:
                    found.append(Imported(node.module, node.lineno))
                continue
            up = node.level - 1
            base = ["<outside>"] if up > len(package) else package[: len(package) - up]
            if node.module:
                found.append(Imported(".".join(base + [node.module]), node.lineno))
            else:  # from . import a, b
                found += [Imported(".".join(base + [alias.name]), node.lineno) for alias in node.names]
    return found


def imports_of(path: Path) -> list[Imported]:
    return imports_in(path.read_text(encoding="utf-8"), _package_of(path))


def _python_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


# --- self-tests of the walker -------------------------------------------------------------


def test_walker_resolves_relative_and_absolute_imports() -> None:
    pkg = ROOT / "emulator" / "gateway.py"
    names = {imp.module for imp in imports_of(pkg)}
    assert "emulator.events" in names and "emulator.registry" in names and "json" in names


def test_pure_modules_exist() -> None:
    for name in PURE:
        assert (EMULATOR / f"{name}.py").is_file(), name


# --- the rules ----------------------------------------------------------------------------


def pure_violations(imports: list[Imported]) -> list[str]:
    bad = []
    for imp in imports:
        parts = imp.module.split(".")
        if parts[0] in sys.stdlib_module_names:
            continue
        if parts[0] == "emulator" and len(parts) >= 2 and parts[1] in PURE:
            continue
        bad.append(f"line {imp.line} imports {imp.module}")
    return bad


@pytest.mark.parametrize("name", PURE)
def test_pure_module_imports_only_stdlib_and_pure_modules(name: str) -> None:
    assert pure_violations(imports_of(EMULATOR / f"{name}.py")) == []


def test_pure_rule_catches_third_party_and_io_imports() -> None:
    # The check itself can fail: a would-be pure module with forbidden imports.
    source = (
        "import json\n"
        "import boto3\n"
        "from .server import GatewayServer\n"
        "from . import tls, model\n"
        "from .model import ApiModel\n"
        "from emulator.errors import ConfigError\n"
        "from emulator import app, ids\n"
        "def f():\n"
        "    import websockets.frames\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .invoker import Invoker\n"
    )
    assert sorted(pure_violations(imports_in(source, ["emulator"]))) == [
        "line 12 imports emulator.invoker",
        "line 2 imports boto3",
        "line 3 imports emulator.server",
        "line 4 imports emulator.tls",
        "line 7 imports emulator.app",
        "line 9 imports websockets.frames",
    ]


def test_relative_imports_resolve_outside_packages() -> None:
    assert [imp.module for imp in imports_in("from .. import emulator\nfrom ...x import y\n", ["handlers"])] == [
        "emulator",
        "<outside>.x",
    ]


@pytest.mark.parametrize("path", _python_files(EMULATOR), ids=lambda p: p.name)
def test_emulator_never_imports_handlers_or_deploy(path: Path) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{imp.line} imports {imp.module}"
        for imp in imports_of(path)
        if imp.module.split(".")[0] in ("handlers", "deploy")
    ]
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
