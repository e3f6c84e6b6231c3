"""Scenario g: the pytest plugin as a user's test run meets it.

A throw-away project (a temporary folder outside the repository) holds one test file
of ``--plugin-tests`` tests, each connecting a client to the bundled chat app
(``--wsgw-template`` = the bench's cached cloud assembly, so no synth is timed) and
doing one ``whoAmI`` round trip. Every test body appends ``[start|end, time.time()]``
to a marks file. Timed, per ``pytest`` run (a real subprocess, as a user runs it):

- start-up: from just before ``python -m pytest`` is launched to the first test
  body's start (interpreter, pytest, the plugin, the gateway's start);
- per-test overhead: the median gap between one test body's end and the next one's
  start (the plugin's settling: clients closed, ``$disconnect`` done, fresh handles).

Only wsgw has a pytest plugin: the other targets are not measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from .bundled import ensure_synth
from .model import BARE, PEER, WSGW, Figure, Goal, ScenarioResult
from .targets import Context

RUN_TIMEOUT_S = 600.0

_TEST_FILE = '''
import json, os, time

MARKS = os.environ["WSGW_BENCH_MARKS"]


def _mark(what):
    with open(MARKS, "a", encoding="utf-8") as marks:
        marks.write(json.dumps([what, time.time()]) + "\\n")

'''
_ONE_TEST = '''

def test_{index}(wsgw_connect):
    _mark("start")
    client = wsgw_connect()
    client.send_json({{"action": "whoAmI"}})
    assert client.recv_text(timeout=30)
    _mark("end")
'''


def _write_project(folder: Path, tests: int, assembly: Path) -> None:
    test_file = _TEST_FILE + "".join(_ONE_TEST.format(index=index) for index in range(tests))
    (folder / "test_plugin_bench.py").write_text(textwrap.dedent(test_file), encoding="utf-8")
    (folder / "pytest.ini").write_text(
        f"[pytest]\nwsgw_template = {assembly}\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8",
    )


def _one_run(folder: Path, tests: int) -> dict[str, Any]:
    marks = folder / "marks.jsonl"
    marks.unlink(missing_ok=True)
    env = {**os.environ, "WSGW_BENCH_MARKS": str(marks)}
    launched = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_plugin_bench.py"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )
    finished = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"the plugin's test run failed: {(done.stdout + done.stderr)[-1500:]}")
    rows = [json.loads(line) for line in marks.read_text(encoding="utf-8").splitlines()]
    starts = [at for what, at in rows if what == "start"]
    ends = [at for what, at in rows if what == "end"]
    if len(starts) != tests or len(ends) != tests:
        raise RuntimeError(f"expected {tests} tests' marks, got {len(starts)} starts and {len(ends)} ends")
    gaps = [(start - end) * 1000 for end, start in zip(ends, starts[1:])]
    return {
        "first_test_s": starts[0] - launched,
        "per_test_overhead_ms": statistics.median(gaps) if gaps else 0.0,
        "test_body_ms": statistics.median((end - start) * 1000 for start, end in zip(starts, ends)),
        "whole_run_s": finished - launched,
    }


async def scenario(ctx: Context) -> ScenarioResult:
    tests = ctx.options.get("plugin_tests", 20)
    result = ScenarioResult(
        "g", "the pytest plugin, bundled app (synth cached): `pytest` start → first test body, and per-test overhead",
        settings={"tests": tests, "runs": ctx.runs},
    )
    ctx.progress("g: synthesizing the bundled app (cached after the first time)")
    assembly = await ensure_synth()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="wsgw-bench-plugin-") as temporary:
        folder = Path(temporary)
        _write_project(folder, tests, assembly)
        await asyncio.to_thread(_one_run, folder, tests)  # untimed: caches, bytecode
        for index in range(ctx.runs):
            run = await asyncio.to_thread(_one_run, folder, tests)
            runs.append(run)
            ctx.progress(f"g run {index + 1}/{ctx.runs} wsgw: first test body after {run['first_test_s']:.2f} s, "
                         f"{run['per_test_overhead_ms']:.1f} ms between tests")  # fmt: skip
    not_there = {BARE: "no pytest plugin", PEER: "no pytest plugin"}
    first = result.metric("pytest start → first test body", "s", higher_is_better=False, decimals=2,
                          goal=Goal("≤ 1.5 s", 1.5))  # fmt: skip
    first.figures[WSGW] = Figure(tuple(run["first_test_s"] for run in runs))
    first.missing.update(not_there)
    between = result.metric("overhead between tests", "ms", higher_is_better=False, decimals=1,
                            goal=Goal("≤ 20 ms", 20.0))  # fmt: skip
    between.figures[WSGW] = Figure(tuple(run["per_test_overhead_ms"] for run in runs))
    between.missing.update(not_there)
    result.details["runs"] = runs
    return result
