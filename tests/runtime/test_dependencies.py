"""The dependency cache's keys and requirement names (emulator/runtime/dependencies.py);
the installs themselves are tested through the provisioner (test_provisioning.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from emulator.runtime.dependencies import Requirements, cache_key, read_requirements
from emulator.runtime.interpreters import InterpreterFinder


def test_the_key_follows_content_python_version_and_platform() -> None:
    python = InterpreterFinder().current()
    other_version = dataclasses.replace(python, version=(3, 99, 0))
    other_platform = dataclasses.replace(python, platform="cpython-311-darwin-arm64")
    keys = {cache_key(text, interp) for text in (b"six\n", b"six==1.17\n") for interp in (python, other_version,
                                                                                        other_platform)}
    assert len(keys) == 6
    assert cache_key(b"six\n", python) == cache_key(b"six\n", dataclasses.replace(python, version=(*python.version[:2], 99)))


def test_requirement_names_for_the_progress_line(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "# comment\n-i https://example.invalid/simple\nrequests>=2 ; python_version > '3'\n\nPyYAML==6.0  # yaml\n"
        "git+https://example.invalid/x.git\n")
    found = read_requirements(tmp_path)
    assert found is not None and found.names() == ["requests", "PyYAML", "git"]
    assert read_requirements(tmp_path / "nothing") is None
    assert Requirements(None, b"").names() == []
