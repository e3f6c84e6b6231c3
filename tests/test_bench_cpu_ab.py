"""``python -m bench.cpu_ab`` and ``bench.moto_ab`` at tiny sizes: each starts a gateway
(a moto child) per checkout, drives each and prints every figure, so the tools behind
BENCHMARKS.md's side-by-side CPU tables cannot rot (no timing is asserted: the figures are whatever
this machine gives)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cpu_ab import cpu_ns

ROOT = Path(__file__).resolve().parent.parent


def test_cpu_ns_reads_this_process_and_is_none_for_a_gone_one() -> None:
    before = cpu_ns(os.getpid())
    sum(range(200_000))
    after = cpu_ns(os.getpid())
    assert before is not None and after is not None and after >= before > 0
    assert cpu_ns(2**22 + 12345) is None  # beyond pid_max: no such process


@pytest.mark.parametrize(("scenario", "server"), [("a", "gateway"), ("b", "gateway"), ("a", "run-local")])
def test_two_checkouts_side_by_side(scenario: str, server: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.cpu_ab", "--scenario", scenario, "--server", server, "--rounds", "2",
         "--messages", "100", f"one={ROOT}", f"two={ROOT}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = re.findall(r"^round (\d) (one|two): gateway ([\d.]+) µs, workers ([\d.]+) µs", done.stdout, re.MULTILINE)
    assert sorted((r[0], r[1]) for r in runs) == [("1", "one"), ("1", "two"), ("2", "one"), ("2", "two")]
    assert all(float(r[2]) > 0 and float(r[3]) > 0 for r in runs)  # both processes did work
    assert re.search(r"^  two − one, per round: gateway [+-][\d.]+ µs .*, p50 [+-][\d.]+ µs", done.stdout, re.MULTILINE)


def test_a_checkout_without_its_name_is_a_usage_error() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.cpu_ab", str(ROOT)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "NAME=PATH" in done.stderr


def test_two_checkouts_moto_side_by_side() -> None:
    # bench.moto_ab, the same tool for the embedded moto's CPU per DynamoDB call.
    done = subprocess.run(
        [sys.executable, "-m", "bench.moto_ab", "--rounds", "2", "--calls", "5", f"one={ROOT}", f"two={ROOT}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    runs = re.findall(r"^round (\d) (one|two): moto ([\d.]+) ms CPU per call", done.stdout, re.MULTILINE)
    assert sorted((r[0], r[1]) for r in runs) == [("1", "one"), ("1", "two"), ("2", "one"), ("2", "two")]
    assert all(float(r[2]) > 0 for r in runs)  # moto did work for every batch
    assert re.search(r"^  two − one, per round: [+-][\d.]+ ms", done.stdout, re.MULTILINE)
