"""Tests for emulator/npm.py's lock on a tool's output folder (the npm runs themselves
are tested where they are used: the CDK CLI and the Node.js runtime's SDK)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from emulator.npm import one_at_a_time

ROOT = Path(__file__).resolve().parent.parent


def test_a_second_process_waits_for_the_folder_until_the_first_lets_go(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    probe = ("import sys, time; from pathlib import Path; from emulator.npm import one_at_a_time\n"
             "with one_at_a_time(Path(sys.argv[1])):\n    print('got it', flush=True)\n")
    with one_at_a_time(out):
        other = subprocess.Popen([sys.executable, "-c", probe, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert other.poll() is None  # still waiting for the lock
    assert other.communicate(timeout=30)[0] == "got it\n"
    assert (tmp_path / ".cdk.out.lock").is_file() and not out.exists()  # the folder is the tool's to make


def test_the_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "out"
    try:
        with one_at_a_time(out):
            raise RuntimeError("synth failed")
    except RuntimeError:
        pass
    started = time.monotonic()
    with one_at_a_time(out):  # would block forever if the first were still held
        pass
    assert time.monotonic() - started < 1.0
