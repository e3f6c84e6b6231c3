"""How results are shown: a table on stdout and a JSON document on disk.

The table has one row per figure: each target's median (bare ``websockets``, wsgw,
serverless-offline), wsgw's ratio to the bare server and to serverless-offline, the
issue's goal and whether wsgw meets it, and for each scenario's headline figure
whether wsgw is ahead of serverless-offline. The JSON holds every run of every figure,
the settings, the command line and the machine, so a result file can be compared
with another later.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

from .model import BARE, PEER, WSGW, Metric, ScenarioResult


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (other work on the machine skews results)."""
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def machine_info(load_at_start: list[float] | None) -> dict[str, Any]:
    """The facts about this machine that move the numbers."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version,
        "python_implementation": platform.python_implementation(),
        "websockets": importlib.metadata.version("websockets"),
        "load_average_at_start": load_at_start,
        "load_average_at_end": load_average(),
    }


def source_revision() -> dict[str, Any]:
    """The commit measured and whether the working tree had uncommitted changes to
    tracked files (``bench.history`` marks such an entry ``<sha>+``); empty outside git."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short=7", "HEAD")
    if commit is None:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status)}


def _number(value: float | None, decimals: int) -> str:
    if value is None:
        return "—"
    return f"{value:,.{decimals}f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"×{value:.2f}"


def _verdict(flag: bool | None, yes: str, no: str) -> str:
    return "n/a" if flag is None else (yes if flag else no)


def table_rows(results: Sequence[ScenarioResult]) -> list[list[str]]:
    """Header and one row per metric (and per scenario that failed)."""
    rows = [["", "figure", "bare", "wsgw", "wsgw/bare", PEER, "wsgw/sls", "goal (wsgw)", "goal", "vs sls"]]
    for result in results:
        if result.error is not None:
            rows.append([result.key, f"ERROR: {result.error}"] + [""] * 8)
        for metric in result.metrics:
            rows.append(_row(metric))
    return rows


def _row(metric: Metric) -> list[str]:
    cells = [metric.scenario, f"{metric.label} ({metric.unit})"]
    for target in (BARE, WSGW):
        cells.append(_number(metric.median(target), metric.decimals) if target in metric.figures
                     else _short(metric.missing.get(target, "—")))  # fmt: skip
    cells.append(_ratio(metric.ratio()))
    cells.append(_number(metric.median(PEER), metric.decimals) if PEER in metric.figures
                 else _short(metric.missing.get(PEER, "—")))  # fmt: skip
    cells.append(_ratio(metric.ratio(WSGW, PEER)))
    cells.append(metric.goal.text if metric.goal is not None else "")
    cells.append("" if metric.goal is None else _verdict(metric.goal_met(), "met", "NOT MET"))
    # "Ahead of serverless-offline" is judged on each scenario's headline figure (the
    # one with a goal); the other rows show the ratio only.
    headline = metric.goal is not None and PEER in metric.figures
    cells.append(_verdict(metric.ahead_of_peer(), "ahead", "BEHIND") if headline else "")
    return cells


def _short(reason: str) -> str:
    if reason.startswith("not available yet"):
        return "not available yet"
    return "n/a" if reason else "—"


def format_text(rows: list[list[str]]) -> str:
    """Rows as aligned columns (text columns left, numbers right)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            left = i in (0, 1, 7) or index == 0
            cells.append(cell.ljust(widths[i]) if left else cell.rjust(widths[i]))
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(rows: list[list[str]]) -> str:
    """Rows as a GitHub markdown table."""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def format_report(results: Sequence[ScenarioResult], machine: dict[str, Any], runs: int) -> str:
    """The human-readable report: the table, then each scenario's notes and
    the reasons for every figure not measured."""
    lines = [f"wsgw benchmark: median of {runs} run(s) per figure; bare = websockets echo server (the ceiling)", ""]
    lines.append(format_text(table_rows(results)))
    for result in results:
        lines += ["", f"{result.key}. {result.title}"]
        reasons = {(target, why) for metric in result.metrics for target, why in metric.missing.items()}
        for target, why in sorted(reasons):
            lines.append(f"   {target}: not measured: {why}")
        lines += [f"   {note}" for note in result.notes]
        if result.error is not None:
            lines.append(f"   ERROR: {result.error}")
    load = machine["load_average_at_start"]
    lines += [
        "",
        f"Machine: {machine['cpu_count']} CPUs ({machine['cpu_model']}), {machine['platform']}, "
        f"Python {platform.python_version()}, websockets {machine['websockets']}, "
        f"event loop {machine.get('event_loop', '?')} (servers and client); "
        + (f"load average before the run {load[0]:.2f}" if load else "load average unknown"),
    ]
    if "peer_versions" in machine:
        lines.append("Peer: " + ", ".join(f"{k} {v}" for k, v in machine["peer_versions"].items()))
    return "\n".join(lines)


def build_document(
    results: Sequence[ScenarioResult],
    *,
    command: list[str],
    started: datetime.datetime,
    machine: dict[str, Any],
    settings: dict[str, Any],
) -> dict[str, Any]:
    """The JSON result document."""
    return {
        "benchmark": "wsgw",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "revision": source_revision(),
        "settings": settings,
        "machine": machine,
        "scenarios": {result.key: result.to_json() for result in results},
        "summary_markdown": format_markdown(table_rows(results)),
    }


def write_document(document: dict[str, Any], path: Path) -> None:
    """Write ``document`` to ``path`` (folders created as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
