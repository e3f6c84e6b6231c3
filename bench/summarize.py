"""``python -m bench.summarize FILE...``: one table from several result files.

Each figure in a result file is already the median of that invocation's runs; this
prints, per figure and target, the median over the files and the range, as a
markdown table (what ``BENCHMARKS.md`` shows), with the goals judged on the medians.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .model import TARGETS, WSGW, Figure, Goal, Metric, ScenarioResult
from .report import format_markdown, table_rows


def combine(documents: list[dict[str, Any]]) -> list[ScenarioResult]:
    """Scenario results whose figures' runs are the files' medians."""
    results: dict[str, ScenarioResult] = {}
    for document in documents:
        for key, scenario in document["scenarios"].items():
            result = results.setdefault(key, ScenarioResult(key, scenario["title"]))
            for entry in scenario["metrics"]:
                metric = next((m for m in result.metrics if m.label == entry["label"]), None)
                if metric is None:
                    goal = entry["goal"]
                    metric = Metric(key, entry["label"], entry["unit"], entry["higher_is_better"],
                                    goal=None if goal is None else Goal(goal["text"], goal["limit"], goal["relative_to_bare"]),
                                    decimals=_decimals(key, entry))  # fmt: skip
                    result.metrics.append(metric)
                for target, values in entry["targets"].items():
                    runs = metric.figures[target].runs if target in metric.figures else ()
                    metric.figures[target] = Figure((*runs, float(values["median"])))
                for target, why in entry["not_measured"].items():
                    metric.missing.setdefault(target, why)
    for result in results.values():
        for metric in result.metrics:
            for target in metric.figures:
                metric.missing.pop(target, None)
    return [results[key] for key in sorted(results)]


def _decimals(key: str, entry: dict[str, Any]) -> int:
    """The entry's decimals (older result files have none: the scenarios' own)."""
    if "decimals" in entry:
        return int(entry["decimals"])
    unit, label = entry["unit"], entry["label"]
    if unit in ("msgs/s", "cycles/s") or label.startswith("time until"):
        return 0
    return {"KiB": 1, "s": 2}.get(unit, 3 if key == "a" else 2)


def ranges(results: list[ScenarioResult]) -> list[str]:
    """One line per figure: each target's values over the files (min–max)."""
    lines = []
    for result in results:
        for metric in result.metrics:
            parts = []
            for target in TARGETS:
                if target in metric.figures:
                    runs = metric.figures[target].runs
                    parts.append(f"{target} {min(runs):,.{metric.decimals}f}–{max(runs):,.{metric.decimals}f}")
            lines.append(f"- {result.key} {metric.label} ({metric.unit}), over {len(metric.figures.get(WSGW, Figure((0.0,))).runs)} "
                         f"invocations: " + "; ".join(parts))  # fmt: skip
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.summarize", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path, help="bench/results/bench-*.json files")
    args = parser.parse_args(argv)
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in args.files]
    results = combine(documents)
    print(format_markdown(table_rows(results)))
    print()
    print("\n".join(ranges(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
