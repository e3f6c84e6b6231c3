"""Finding a Python of a function's Runtime version (emulator/runtime/interpreters.py)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from emulator.runtime.interpreters import InterpreterFinder, ProbeCache, candidates, probe, runtime_version


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


def _pythons_beside_this_one() -> list[Path]:
    """Interpreters of another minor version than ours on this machine (pyenv's)."""
    ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
    minors = [f"3.{minor}" for minor in range(9, 15) if f"3.{minor}" != ours]
    return [found[0] for minor in minors if (found := candidates(minor, os.environ))]


@pytest.mark.asyncio
async def test_a_cached_probe_is_taken_while_the_interpreter_is_the_same(tmp_path: Path) -> None:
    # A copy of a real interpreter (it runs as a program of its own: the cache keys on
    # its file), so that it can be touched and replaced here.
    source = Path(sys.executable).resolve()
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    shutil.copy2(source, python)
    cache_file = tmp_path / "cache" / "interpreters.json"

    first = await probe(python, ProbeCache(cache_file))
    assert first is not None and first.version == tuple(sys.version_info[:3])
    document = json.loads(cache_file.read_text())
    assert document["format"] == 1 and str(python) in document["entries"]

    # A new start (a new cache object): the probe's answer is taken without running it,
    # which shows as the same answer while the program no longer runs at all.
    python.chmod(0o644)  # not executable: a real probe would fail
    os.utime(python, ns=(python.stat().st_atime_ns, python.stat().st_mtime_ns))  # mtime kept
    assert await probe(python, ProbeCache(cache_file)) == first
    assert await probe(python) is None  # without the cache: it really does not run

    # The file changed (a new build installed over it): probed again.
    python.chmod(0o755)
    os.utime(python, ns=(python.stat().st_atime_ns, python.stat().st_mtime_ns + 10**9))
    python.chmod(0o644)
    assert await probe(python, ProbeCache(cache_file)) is None


@pytest.mark.asyncio
async def test_a_package_added_to_site_packages_means_a_new_probe(tmp_path: Path) -> None:
    cache_file = tmp_path / "interpreters.json"
    found = await probe(sys.executable, ProbeCache(cache_file))
    assert found is not None
    entry = json.loads(cache_file.read_text())["entries"][sys.executable]
    purelib = Path(entry["found"]["purelib"])
    cache = ProbeCache(cache_file)
    assert cache.get(sys.executable) == found
    # As if pip had installed or removed a package there: the folder's mtime moves.
    before = purelib.stat()
    os.utime(purelib, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    try:
        assert ProbeCache(cache_file).get(sys.executable) is None
    finally:
        os.utime(purelib, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.asyncio
async def test_a_shim_is_never_cached(tmp_path: Path) -> None:
    shim = tmp_path / "python-shim"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    shim.chmod(0o755)
    cache_file = tmp_path / "interpreters.json"
    found = await probe(shim, ProbeCache(cache_file))
    assert found is not None and found.executable == Path(sys.executable)  # the real one behind it
    assert not cache_file.exists()  # what the shim runs may change without the shim changing


def test_a_damaged_cache_file_is_ignored(tmp_path: Path) -> None:
    cache_file = tmp_path / "interpreters.json"
    for text in ("{not json", json.dumps({"format": 99, "entries": {}}), json.dumps({"format": 1, "entries": []}),
                 json.dumps({"format": 1, "entries": {sys.executable: {"identity": "x"}}})):
        cache_file.write_text(text)
        assert ProbeCache(cache_file).get(sys.executable) is None


@pytest.mark.asyncio
async def test_the_finder_probes_another_version_once_per_cache(tmp_path: Path) -> None:
    others = _pythons_beside_this_one()
    if not others:
        pytest.skip("no Python of another minor version on this machine")  # CI machines have pyenv's four
    python = others[0]
    minor = python.name.removeprefix("python")
    cache_file = tmp_path / "interpreters.json"
    found = await InterpreterFinder(cache=ProbeCache(cache_file)).find(minor)
    assert found is not None and found.minor == minor
    assert str(python) in json.loads(cache_file.read_text())["entries"]
    assert await InterpreterFinder(cache=ProbeCache(cache_file)).find(minor) == found
