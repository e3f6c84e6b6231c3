"""Scenario g: the pytest plugin as a user's test run meets it.

A throw-away project (a temporary folder outside the repository) holds one test file
of ``--plugin-tests`` tests, each connecting a client to the bundled chat app
(``--wsgw-template`` = the bench's cached cloud assembly, so no synth is timed) and
doing one ``whoAmI`` round trip. Every test body appends ``[start|end, time.time()]``
to a marks file. Timed, per ``pytest`` run (a real subprocess, as a user runs it):

- start-up: from just before ``python -m pytest`` is launched to the first test
  body's start (interpreter, pytest, the plugin, the gateway's start), and the CPU
  that pytest and the processes under it had used by then;
- per-test overhead: the median gap between one test body's end and the next one's
  start (the plugin's settling: clients closed, ``$disconnect`` done, fresh handles).

The goal's figure loads the pytest plugins a user's environment has: those that wsgw
and its dependencies register (``pytest11`` entry points: wsgw's own, anyio's through
watchfiles) and pytest-asyncio, which async tests need (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``
with ``-p`` for each, :func:`user_plugins`). wsgw's development environment adds its own
test tools' plugins: hypothesis's alone takes about a second to import here, before any
test is collected. The same start-up with every plugin installed here is kept as a
second figure (the one this scenario reported until 2026-12-07).

Only wsgw has a pytest plugin: the other targets are not measured.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import re
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
import glob, json, os, time

MARKS = os.environ["WSGW_BENCH_MARKS"]


def _tree_cpu_s(pid):
    # On-CPU seconds of pid and the processes under it (the moto child, the workers):
    # Linux's schedstat; 0 elsewhere.
    total = 0
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            total += int(open(f"{task}/schedstat").read().split()[0])
            children = open(f"{task}/children").read().split()
        except OSError:
            continue
        total += sum(_tree_cpu_s(int(child)) * 1e9 for child in children)
    return total / 1e9


def _mark(what):
    with open(MARKS, "a", encoding="utf-8") as marks:
        cpu = _tree_cpu_s(os.getpid()) if what == "start" else None
        marks.write(json.dumps([what, time.time(), cpu]) + "\\n")

'''
_ONE_TEST = '''

def test_{index}(wsgw_connect):
    _mark("start")
    client = wsgw_connect()
    client.send_json({{"action": "whoAmI"}})
    assert client.recv_text(timeout=30)
    _mark("end")
'''


def write_project(folder: Path, tests: int, assembly: Path) -> None:
    test_file = _TEST_FILE + "".join(_ONE_TEST.format(index=index) for index in range(tests))
    (folder / "test_plugin_bench.py").write_text(textwrap.dedent(test_file), encoding="utf-8")
    (folder / "pytest.ini").write_text(
        f"[pytest]\nwsgw_template = {assembly}\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8",
    )


def user_plugins() -> list[str]:
    """The modules of the pytest plugins a user's environment has: the ``pytest11``
    entry points of wsgw's installed dependency closure (the extras it asks for
    included, its own optional ones not) and of pytest-asyncio's."""
    from packaging.requirements import Requirement  # pytest's own dependency

    def key(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    seen: set[tuple[str, frozenset[str]]] = set()
    pending: list[tuple[str, frozenset[str]]] = [("wsgw", frozenset()), ("pytest-asyncio", frozenset())]
    while pending:
        name, extras = pending.pop()
        if (key(name), extras) in seen:
            continue
        seen.add((key(name), extras))
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""}))
            if wanted:
                pending.append((requirement.name, frozenset(requirement.extras)))
    names = {name for name, _ in seen}
    return sorted({point.value for dist in importlib.metadata.distributions()
                   if key(dist.metadata["Name"]) in names
                   for point in dist.entry_points if point.group == "pytest11"})


def one_run(folder: Path, tests: int, plugins: list[str] | None, *, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One ``pytest`` run of the project (:func:`write_project`): with only ``plugins``
    loaded, or (None) every one installed; ``env`` is added to ours."""
    marks = folder / "marks.jsonl"
    marks.unlink(missing_ok=True)
    env = {**os.environ, **(env or {}), "WSGW_BENCH_MARKS": str(marks)}
    loads: list[str] = []
    if plugins is not None:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        loads = [argument for plugin in plugins for argument in ("-p", plugin)]
    launched = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *loads, "test_plugin_bench.py"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )
    finished = time.time()
    if done.returncode != 0:
        raise RuntimeError(f"the plugin's test run failed: {(done.stdout + done.stderr)[-1500:]}")
    rows = [json.loads(line) for line in marks.read_text(encoding="utf-8").splitlines()]
    starts = [at for what, at, _ in rows if what == "start"]
    ends = [at for what, at, _ in rows if what == "end"]
    if len(starts) != tests or len(ends) != tests:
        raise RuntimeError(f"expected {tests} tests' marks, got {len(starts)} starts and {len(ends)} ends")
    gaps = [(start - end) * 1000 for end, start in zip(ends, starts[1:])]
    return {
        "first_test_s": starts[0] - launched,
        # CPU of pytest and every process under it by then (Linux; bench.startup_ab).
        "first_test_cpu_s": next(cpu for what, _, cpu in rows if what == "start"),
        "per_test_overhead_ms": statistics.median(gaps) if gaps else 0.0,
        "test_body_ms": statistics.median((end - start) * 1000 for start, end in zip(starts, ends)),
        "whole_run_s": finished - launched,
    }


FIRST_TEST = "pytest start → first test body, a user's plugins"
# Every plugin installed here (wsgw's dev environment): the label this figure had before
# the user's-plugins one came, so its history goes on.
FIRST_TEST_DEV = "pytest start → first test body"


async def scenario(ctx: Context) -> ScenarioResult:
    tests = ctx.options.get("plugin_tests", 20)
    plugins = user_plugins()
    result = ScenarioResult(
        "g", "the pytest plugin, bundled app (synth cached): `pytest` start → first test body, and per-test overhead",
        settings={"tests": tests, "runs": ctx.runs, "user_plugins": plugins},
    )
    ctx.progress("g: synthesizing the bundled app (cached after the first time)")
    assembly = await ensure_synth()
    runs: list[dict[str, Any]] = []
    dev_runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="wsgw-bench-plugin-") as temporary:
        folder = Path(temporary)
        write_project(folder, tests, assembly)
        await asyncio.to_thread(one_run, folder, tests, None)  # untimed: caches, bytecode
        for index in range(ctx.runs):
            run = await asyncio.to_thread(one_run, folder, tests, plugins)
            dev_run = await asyncio.to_thread(one_run, folder, tests, None)
            runs.append(run)
            dev_runs.append(dev_run)
            ctx.progress(f"g run {index + 1}/{ctx.runs} wsgw: first test body after {run['first_test_s']:.2f} s "
                         f"({dev_run['first_test_s']:.2f} s with every plugin installed here), "
                         f"{run['per_test_overhead_ms']:.1f} ms between tests")  # fmt: skip
    not_there = {BARE: "no pytest plugin", PEER: "no pytest plugin"}
    first = result.metric(FIRST_TEST, "s", higher_is_better=False, decimals=2, goal=Goal("≤ 1.5 s", 1.5))
    first.figures[WSGW] = Figure(tuple(run["first_test_s"] for run in runs))
    first.missing.update(not_there)
    first_dev = result.metric(FIRST_TEST_DEV, "s", higher_is_better=False, decimals=2)
    first_dev.figures[WSGW] = Figure(tuple(run["first_test_s"] for run in dev_runs))
    first_dev.missing.update(not_there)
    between = result.metric("overhead between tests", "ms", higher_is_better=False, decimals=1,
                            goal=Goal("≤ 20 ms", 20.0))  # fmt: skip
    between.figures[WSGW] = Figure(tuple(run["per_test_overhead_ms"] for run in runs))
    between.missing.update(not_there)
    result.details["runs"] = runs
    result.details["runs_every_plugin"] = dev_runs
    return result
