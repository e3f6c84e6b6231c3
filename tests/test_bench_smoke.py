"""``python -m bench`` at tiny sizes: every scenario runs and reports a figure for wsgw,
and ``python -m bench.history`` adds that run to a copy of the committed history and
draws its chart, so the benchmarks cannot rot between the runs that measure (no
timing is asserted: the figures are whatever this machine gives)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

from bench import history as bench_history
from bench.plugin_startup import user_plugins

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "--no-peer", "--runs", "1", "--messages", "20", "--warmup", "5", "--connections", "3",
    "--concurrent-messages", "5", "--clients", "2", "--cycles", "5", "--fanout", "10", "--idle", "20",
    "--idle-per-client", "8", "--plugin-tests", "2",
]
SCENARIOS = ["a", "b", "c", "d", "e", "f", "g", "h"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _wsgw_figures(scenario: dict) -> dict[str, float]:
    return {metric["label"]: metric["targets"]["wsgw"]["median"] for metric in scenario["metrics"]
            if "wsgw" in metric["targets"]}


def test_every_scenario_runs_and_its_run_joins_the_history_chart(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    _run("bench", "--scenario", ",".join(SCENARIOS), *TINY, "--json", str(out))
    document = json.loads(out.read_text())
    scenarios = document["scenarios"]
    assert sorted(scenarios) == SCENARIOS
    for name, scenario in scenarios.items():
        assert scenario["error"] is None, (name, scenario["error"])
        figures = _wsgw_figures(scenario)
        assert figures, f"scenario {name} measured nothing for wsgw"
        assert all(isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
                   for value in figures.values()), (name, figures)
    # Issue 18's figures in c: connects without $connect, gateway + moto CPU, the handlers' apart.
    # (d's time over the handler's CPU needs a handler CPU above a clock tick: not at tiny sizes.)
    assert {"connects/s, no $connect route", "server CPU per connect, no $connect route", "gateway + moto CPU per cycle",
            "handler workers CPU per cycle"} <= set(_wsgw_figures(scenarios["c"]))
    # g: start-up with a user's plugins (the goal's figure) and with every one installed here.
    assert {"pytest start → first test body, a user's plugins", "pytest start → first test body",
            "overhead between tests"} <= set(_wsgw_figures(scenarios["g"]))
    # a and b measured the floor (bench/relay_echo.py) and wsgw run-local itself beside the others,
    # and say so under the table.
    for name in ("a", "b"):
        assert all("floor" in metric["targets"] for metric in scenarios[name]["metrics"]), name
        assert any(note.startswith("floor: ") for note in scenarios[name]["notes"]), name
        assert all("wsgw run-local" in metric["targets"] for metric in scenarios[name]["metrics"]
                   if "wsgw" in metric["targets"]), name
        assert any(note.startswith("wsgw run-local: ") for note in scenarios[name]["notes"]), name
    # a: CPU per message of the server and of its handler processes, for wsgw and the floor alike.
    assert {"server CPU per message", "handler processes CPU per message"} <= set(_wsgw_figures(scenarios["a"]))
    # e's 20 idle connections were held by three client processes of at most 8.
    assert [run["connections"] for run in scenarios["e"]["details"]["runs"]["wsgw"]] == [20]
    assert document["revision"]["commit"]

    history = tmp_path / "history.json"
    shutil.copy(ROOT / "bench" / "history.json", history)
    seeded = len(json.loads(history.read_text())["entries"])
    assert bench_history.main(["--history", str(history), "add", str(out)]) == 0
    entries = json.loads(history.read_text())["entries"]
    assert len(entries) == seeded + 1
    added = entries[-1]
    assert added["commit"].rstrip("+") == document["revision"]["commit"]
    assert sorted(added["scenarios"]) == SCENARIOS
    assert added["scenarios"]["a"]["p50 latency (ms)"]["wsgw/bare"] > 0
    assert added["scenarios"]["a"]["p50 latency (ms)"]["wsgw run-local"] > 0
    assert bench_history.main(["--history", str(history), "add", str(out)]) == 0  # the same commit: replaced
    assert len(json.loads(history.read_text())["entries"]) == seeded + 1

    chart = tmp_path / "chart.png"
    assert bench_history.main(["--history", str(history), "chart", "--out", str(chart)]) == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_g_loads_the_plugins_a_user_s_environment_has_not_the_dev_tools() -> None:
    # wsgw's own and pytest-asyncio's, and anyio's (watchfiles, a dependency, needs
    # anyio); not the test tools of wsgw's dev extra, though they are installed here.
    plugins = set(user_plugins())
    assert {"emulator.testing.plugin", "pytest_asyncio.plugin", "anyio.pytest_plugin"} <= plugins
    assert not {"_hypothesis_pytestplugin", "xdist.plugin", "typeguard.pytest_plugin"} & plugins
