"""``python -m bench.startup_ab`` at one round: it launches each checkout's run-local
(f) or pytest project (g) and prints every figure, so the tool behind BENCHMARKS.md's
start-up comparisons cannot rot (no timing is asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.cpu_ab import cpu_ns
from bench.startup_ab import tree_cpu_s

ROOT = Path(__file__).resolve().parent.parent


def test_tree_cpu_counts_the_processes_under_this_one() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 0.3\n"
                                "while time.process_time() < end: pass\ninput()"],
                               stdin=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while (cpu_ns(spinner.pid) or 0) < 0.25e9 and time.monotonic() < deadline:
            time.sleep(0.05)
        own = (cpu_ns(os.getpid()) or 0) / 1e9
        assert tree_cpu_s(os.getpid()) >= own + 0.25  # the spinner's 0.3 s are in the tree's figure
        assert tree_cpu_s(spinner.pid) >= 0.25
    finally:
        spinner.communicate("\n", timeout=30)
    assert tree_cpu_s(2**22 + 12345) == 0  # beyond pid_max: nothing to count


@pytest.mark.parametrize("scenario", ["f", "g"])
def test_two_checkouts_launch_after_launch(scenario: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.startup_ab", "--scenario", scenario, "--rounds", "1", f"one={ROOT}", f"two={ROOT}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    if scenario == "f":
        runs = re.findall(r"^round 1 (one|two): Ready ([\d.]+) s, first answer ([\d.]+) s, CPU ([\d.]+) s "
                          r"\(run-local's own ([\d.]+) s\)", done.stdout, re.MULTILINE)
        assert sorted(r[0] for r in runs) == ["one", "two"]
        for _, ready, first, cpu, own in runs:
            assert 0 < float(ready) <= float(first)
            assert 0 < float(own) < float(cpu)  # the moto child and the workers count in the tree
        assert re.search(r"^  two − one, per round: first answer [+-]\d+ ms .*run-local's own CPU [+-]\d+ ms",
                         done.stdout, re.MULTILINE)
    else:
        runs = re.findall(r"^round 1 (one|two): first test body ([\d.]+) s, CPU ([\d.]+) s", done.stdout, re.MULTILINE)
        assert sorted(r[0] for r in runs) == ["one", "two"] and all(float(r[1]) > 0 and float(r[2]) > 0 for r in runs)
        assert re.search(r"^  two − one, per round: first test body [+-]\d+ ms .*, CPU [+-]\d+ ms", done.stdout, re.MULTILINE)
