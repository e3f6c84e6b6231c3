"""``python -m bench`` at tiny sizes: every scenario runs and reports a figure for wsgw,
so the benchmarks cannot rot between the runs that measure (no timing is asserted:
the figures are whatever this machine gives)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "--no-peer", "--runs", "1", "--messages", "20", "--warmup", "5", "--connections", "3",
    "--concurrent-messages", "5", "--clients", "2", "--cycles", "5", "--fanout", "10", "--idle", "20",
    "--plugin-tests", "2",
]


def test_every_scenario_runs_and_reports_wsgw_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--scenario", "a,b,c,d,e,f,g,h", *TINY, "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scenarios = json.loads(out.read_text())["scenarios"]
    assert sorted(scenarios) == ["a", "b", "c", "d", "e", "f", "g", "h"]
    for name, scenario in scenarios.items():
        assert scenario["error"] is None, (name, scenario["error"])
        figures = [metric["targets"]["wsgw"]["median"] for metric in scenario["metrics"] if "wsgw" in metric["targets"]]
        assert figures, f"scenario {name} measured nothing for wsgw"
        assert all(isinstance(value, (int, float)) and math.isfinite(value) and value >= 0 for value in figures), (name, figures)
