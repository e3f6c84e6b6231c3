"""``python -m bench.history``: the committed record of each scenario's figures across
the commits that changed performance (``bench/history.json``), and its chart.

``bench/results/`` is not committed, so each measured commit keeps one entry here:
the commit (``+`` when the tree had uncommitted changes), the date, the machine (its
CPU model: an AMD EPYC figure is not comparable with an Intel Xeon one), the event
loop, the 1-minute load average when the bench started and ended (other work on a
shared machine skews timings; the chart draws such entries hollow), where the
figures come from, and per scenario each figure's medians per target
(bare, wsgw, serverless-offline; in a and b also the floor and, from round nine on,
``wsgw run-local``) with wsgw's ratios to the bare server and to serverless-offline.

- ``add FILE...``: append (or replace, for the same commit and machine) the entry of
  one or more ``bench/results/bench-*.json`` files of one commit; with several files
  each figure is the median of the files' medians, as :mod:`bench.summarize` has it.
- ``chart``: draw ``docs/images/bench-history.png`` from the history (:mod:`bench.history_chart`,
  which needs matplotlib: ``pip install -e '.[bench]'``).

Call ``add`` after a ``make bench`` whose figures belong in BENCHMARKS.md, then
``chart``, and commit the history, the chart and BENCHMARKS.md together.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from .model import BARE, FLOOR, PEER, RUN_LOCAL, WSGW
from .servers import PROJECT_ROOT
from .summarize import combine

HISTORY = PROJECT_ROOT / "bench" / "history.json"
CHART = PROJECT_ROOT / "docs" / "images" / "bench-history.png"
OVER_BARE = "wsgw/bare"
OVER_PEER = "wsgw/sls"
FLOOR_OVER_BARE = "floor/bare"  # a and b: one process hop, without wsgw (bench/relay_echo.py)

Entry = dict[str, Any]


def load(path: Path = HISTORY) -> dict[str, Any]:
    """The history document (``{"about": ..., "entries": [...]}``), oldest entry first."""
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document.get("entries"), list):
        raise ValueError(f"{path}: no 'entries' list")
    return document


def save(document: dict[str, Any], path: Path = HISTORY) -> None:
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def machine_label(cpu_model: str, cpus: int | None) -> str:
    """A short name of the machine that tells apart what does not compare: the CPU
    family and the core count (``AMD EPYC, 2 vCPUs``)."""
    model = cpu_model.replace("(R)", "").replace("(TM)", "").replace(" Processor", "").replace(" CPU", "")
    words = model.split()
    family = " ".join(words[:2]) if words[:1] in (["AMD"], ["Intel"]) else model.strip() or "unknown CPU"
    return f"{family}, {cpus} vCPUs" if cpus else family


def figure_key(label: str, unit: str) -> str:
    return f"{label} ({unit})"


def _rounded(value: float | None) -> float | None:
    if value is None:
        return None
    return float(f"{value:.4g}")


def entry_from_results(documents: list[dict[str, Any]], *, commit: str | None = None) -> Entry:
    """One history entry from result documents of the same commit and machine."""
    first = documents[0]
    machines = {machine_label(d["machine"].get("cpu_model", ""), d["machine"].get("cpu_count")) for d in documents}
    if len(machines) > 1:
        raise ValueError(f"the files come from different machines: {', '.join(sorted(machines))}")
    revision = first.get("revision") or {}
    if commit is None:
        if not revision.get("commit"):
            raise ValueError("the results file does not name its commit (an older one): pass --commit")
        commit = str(revision["commit"]) + ("+" if revision.get("dirty") else "")
    scenarios: dict[str, dict[str, dict[str, float | None]]] = {}
    for result in combine(documents):
        figures = scenarios.setdefault(result.key, {})
        for metric in result.metrics:
            values: dict[str, float | None] = {t: _rounded(metric.median(t)) for t in (BARE, WSGW, PEER, FLOOR, RUN_LOCAL)
                                                 if t in metric.figures}
            if not values:
                continue
            values[OVER_BARE] = _rounded(metric.ratio())
            values[OVER_PEER] = _rounded(metric.ratio(WSGW, PEER))
            values[FLOOR_OVER_BARE] = _rounded(metric.ratio(FLOOR, BARE))
            figures[figure_key(metric.label, metric.unit)] = {k: v for k, v in values.items() if v is not None}
    def load(when: str) -> float | None:
        values = [d["machine"][when][0] for d in documents if d["machine"].get(when)]
        return round(statistics.median(values), 2) if values else None

    runs = first.get("settings", {}).get("runs")
    return {
        "commit": commit,
        "date": str(first["started_at"])[:10],
        "machine": machines.pop(),
        "cpu_model": first["machine"].get("cpu_model", "unknown"),
        "cpus": first["machine"].get("cpu_count"),
        "loop": first.get("settings", {}).get("loop") or first["machine"].get("event_loop", "?"),
        "load_1min_at_start": load("load_average_at_start"),
        "load_1min_at_end": load("load_average_at_end"),
        "source": f"python -m bench, {len(documents)} invocation(s) of {runs} run(s) each, started "
                  + ", ".join(str(d["started_at"]) for d in documents),
        "scenarios": {key: value for key, value in scenarios.items() if value},
    }  # fmt: skip


def add(document: dict[str, Any], entry: Entry) -> str:
    """Put ``entry`` into the history: it replaces an entry of the same commit and
    machine, else it goes last. Returns what was done."""
    entries: list[Entry] = document["entries"]
    for index, old in enumerate(entries):
        if old["commit"] == entry["commit"] and old["machine"] == entry["machine"]:
            entries[index] = entry
            return f"replaced the entry of {entry['commit']} on {entry['machine']}"
    entries.append(entry)
    return f"added {entry['commit']} ({entry['date']}, {entry['machine']}) as entry {len(entries)}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--history", type=Path, default=HISTORY, help="the history file (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="add the figures of bench/results/bench-*.json files of one commit")
    adding.add_argument("files", nargs="+", type=Path)
    adding.add_argument("--commit", help="the commit measured (default: the one the results file names)")
    charting = commands.add_parser("chart", help="draw the history as a PNG")
    charting.add_argument("--out", type=Path, default=CHART, help="the PNG to write (default: %(default)s)")
    args = parser.parse_args(argv)
    document = load(args.history)
    if args.command == "add":
        try:
            entry = entry_from_results([json.loads(p.read_text(encoding="utf-8")) for p in args.files], commit=args.commit)
        except (ValueError, KeyError) as exc:
            parser.error(f"cannot read the results: {exc}")
        print(add(document, entry))
        save(document, args.history)
        return 0
    from .history_chart import render

    size = render(document["entries"], args.out)
    print(f"wrote {args.out} ({size / 1024:.0f} KiB, {len(document['entries'])} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
