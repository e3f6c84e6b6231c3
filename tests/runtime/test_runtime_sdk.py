"""The runtime's SDK for handlers (emulator/runtime/runtime_sdk.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from emulator.runtime.runtime_sdk import RUNTIME_DISTRIBUTIONS, minimum_python, runtime_sdk_dir, sdk_versions


def test_the_folder_holds_only_the_sdk_and_is_built_once(tmp_path: Path) -> None:
    folder = runtime_sdk_dir(tmp_path)
    assert runtime_sdk_dir(tmp_path) == folder and len(list(folder.parent.iterdir())) == 1
    names = {entry.name for entry in folder.iterdir()}
    assert {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3"} <= names
    assert {name for name in names if not name.endswith(".dist-info")} == {
        "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3"}
    assert len([name for name in names if name.endswith(".dist-info")]) == len(RUNTIME_DISTRIBUTIONS)


def test_building_one_removes_those_of_virtualenvs_that_are_gone(tmp_path: Path) -> None:
    root = tmp_path / "runtime-sdk"
    gone = root / "0123456789abcdef"  # a folder an earlier, since deleted, virtualenv left
    gone.mkdir(parents=True)
    (gone / "boto3").symlink_to(tmp_path / "deleted-venv" / "boto3")
    alive = root / "fedcba9876543210"  # another virtualenv's, still there
    alive.mkdir()
    (tmp_path / "venv2-boto3").mkdir()
    (alive / "boto3").symlink_to(tmp_path / "venv2-boto3")
    building = root / ".tmp-feedfacecafebeef-x"  # another start, building
    building.mkdir()
    (building / "boto3").symlink_to(tmp_path / "not-yet")
    other = root / "notes"  # not one of ours
    other.mkdir()
    folder = runtime_sdk_dir(tmp_path)
    assert sorted(entry.name for entry in root.iterdir()) == sorted(
        [folder.name, alive.name, building.name, other.name])
    assert (folder / "boto3").exists()


def test_boto3_imports_from_it_alone(tmp_path: Path) -> None:
    folder = runtime_sdk_dir(tmp_path)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import boto3, importlib.metadata as m; "
            "boto3.client('sqs', region_name='us-east-1'); print(m.version('boto3'));"
            "import importlib.util; print(importlib.util.find_spec('websockets'))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(folder)], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [sdk_versions()["boto3"], "None"]


def test_the_oldest_python_it_serves() -> None:
    assert (3, 8) <= minimum_python() <= sys.version_info[:2]
