"""Finding a Python of a function's Runtime version (emulator/runtime/interpreters.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from emulator.runtime.interpreters import InterpreterFinder, candidates, probe, runtime_version


def test_runtime_versions() -> None:
    assert runtime_version("python3.12") == "3.12" and runtime_version("python3.9") == "3.9"
    assert runtime_version("nodejs20.x") is None


def test_candidates_skip_what_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "pyenv" / "versions" / "3.12.1" / "bin").mkdir(parents=True)
    (tmp_path / "pyenv" / "versions" / "3.12.1" / "bin" / "python3.12").touch()
    (tmp_path / "pyenv" / "versions" / "3.12.10" / "bin").mkdir(parents=True)
    (tmp_path / "pyenv" / "versions" / "3.12.10" / "bin" / "python3.12").touch()
    (tmp_path / "pyenv" / "versions" / "3.13.0").mkdir(parents=True)
    environ = {"PATH": str(tmp_path / "empty"), "PYENV_ROOT": str(tmp_path / "pyenv"),
               "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv")}

    assert candidates("3.12", environ) == [tmp_path / "pyenv" / "versions" / f"3.12.{patch}" / "bin" / "python3.12"
                                           for patch in (10, 1)]  # highest patch first
    assert candidates("3.13", environ) == []


@pytest.mark.asyncio
async def test_the_current_interpreter_serves_its_own_version_without_a_probe() -> None:
    finder = InterpreterFinder(environ={"PATH": ""})
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert await finder.find(minor) == finder.current()
    assert finder.current().executable == Path(sys.executable)
    assert await finder.find("3.99") is None  # nowhere: the caller warns and uses the current one


@pytest.mark.asyncio
async def test_a_probe_finds_the_real_executable_and_its_version() -> None:
    found = await probe(sys.executable)
    assert found is not None and found.version == tuple(sys.version_info[:3]) and found.has_pip
    assert found.platform == InterpreterFinder().current().platform
    assert await probe("/no/such/python") is None
