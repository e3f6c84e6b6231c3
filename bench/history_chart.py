"""The chart of ``bench/history.json``: one small panel per scenario, the measured
commits along x (short sha and date), so a regression is seen, not read.

Ratio panels plot wsgw ÷ the bare ``websockets`` server (the ceiling) and wsgw ÷
serverless-offline (the peer); the others plot the figure itself, wsgw's beside the
peer's. The marker says the machine (figures of an AMD EPYC and of an Intel Xeon do
not compare, so lines do not join across machines), a hollow one that the machine
was busy with other work when the bench started; a dotted line is issue 18's target. Drawn headless (matplotlib's Agg backend) into a small palette PNG.

Called by ``python -m bench.history chart``; needs matplotlib (``.[bench]``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from PIL import Image  # noqa: E402  (matplotlib's own dependency)

from .history import FLOOR_OVER_BARE, OVER_BARE, OVER_PEER  # noqa: E402
from .model import PEER, WSGW  # noqa: E402

_MARKERS = ("o", "s", "^", "D", "v", "P")
_COLOURS = ("#1f5fa8", "#e07b00")


@dataclass(frozen=True)
class Series:
    figure: str  # a figure key of the history: "label (unit)"
    value: str  # wsgw, serverless-offline, wsgw/bare or wsgw/sls
    label: str


@dataclass(frozen=True)
class Panel:
    scenario: str
    title: str
    unit: str
    series: tuple[Series, ...]
    target: float | None = None
    target_text: str = ""


_FLOOR_LABEL = "floor ÷ bare (one process hop, no wsgw)"


def _ratios(figure: str) -> tuple[Series, ...]:
    return (Series(figure, OVER_BARE, "wsgw ÷ bare"), Series(figure, OVER_PEER, "wsgw ÷ serverless-offline"))


def _absolute(figure: str) -> tuple[Series, ...]:
    return (Series(figure, WSGW, "wsgw"), Series(figure, PEER, "serverless-offline"))


PANELS = (
    Panel("a", "a: sequential round trips, p50 latency (lower is better)", "ratio",
          _ratios("p50 latency (ms)") + (Series("p50 latency (ms)", FLOOR_OVER_BARE, _FLOOR_LABEL),),
          2.0, "target ≤ ×2.0 bare"),
    Panel("b", "b: 50 connections, msgs/s (higher is better)", "ratio",
          _ratios("throughput (msgs/s)") + (Series("throughput (msgs/s)", FLOOR_OVER_BARE, _FLOOR_LABEL),),
          0.45, "target ≥ 45 % of bare"),
    Panel("c", "c: connects/s, no $connect route (higher is better)", "ratio",
          _ratios("connects/s, no $connect route (connects/s)")
          + (Series("server CPU per connect, no $connect route (ms)", OVER_BARE, "server CPU per connect ÷ bare's"),),
          0.95, "target ≥ 95 % of bare"),
    Panel("c", "c: chat app cycles/s (higher is better)", "ratio", _ratios("cycles/s (cycles/s)")),
    Panel("c", "c: gateway + moto CPU per cycle (lower is better)", "ms",
          _absolute("gateway + moto CPU per cycle (ms)")
          + (Series("handler workers CPU per cycle (ms)", WSGW, "wsgw's handlers (not ours)"),), 3.5, "target ≤ 3.5 ms"),
    Panel("d", "d: 1,000 posts, time ÷ the handler's own CPU (lower is better)", "ratio",
          (Series("time until all received / the handler's own CPU (×)", WSGW, "wsgw ÷ handler CPU floor"),
           Series("time until all received (ms)", OVER_PEER, "wsgw ÷ serverless-offline (time)")),
          1.15, "target ≤ ×1.15 floor"),
    Panel("e", "e: memory per idle connection (lower is better)", "KiB", _absolute("memory per idle connection (KiB)"),
          6.0, "target ≤ 6 KiB"),
    Panel("f", "f: start-up, launch → first answer (lower is better)", "s",
          _absolute("start-up: launch → first answer (s)"), 1.2, "target ≤ 1.2 s"),
    Panel("g", "g: pytest plugin, start → first test body (lower is better)", "s",
          (Series("pytest start → first test body, a user's plugins (s)", WSGW, "wsgw, a user's plugins"),
           Series("pytest start → first test body (s)", WSGW, "wsgw, every plugin of its dev environment")),
          1.5, "target ≤ 1.5 s"),
    Panel("h", "h: Node.js handler, p50 latency (lower is better)", "ratio", _ratios("p50 latency (ms)")),
)  # fmt: skip


def _value(entry: dict[str, Any], scenario: str, series: Series) -> float | None:
    figure = entry.get("scenarios", {}).get(scenario, {}).get(series.figure, {})
    value = figure.get(series.value)
    return float(value) if isinstance(value, (int, float)) else None


def _busy(entry: dict[str, Any]) -> bool:
    """Whether other work kept the machine's cores busy as the bench started (its
    1-minute load above the core count): timings then read high, CPU and RSS less so."""
    load, cpus = entry.get("load_1min_at_start"), entry.get("cpus") or 2
    return isinstance(load, (int, float)) and load > cpus


def _draw(axes: Axes, panel: Panel, entries: Sequence[dict[str, Any]], markers: dict[str, str]) -> None:
    for index, series in enumerate(panel.series):
        colour = _COLOURS[index % 2] if index < 2 else "#888888"
        style = ("-", "--", ":")[min(index, 2)]
        points = [(x, _value(e, panel.scenario, series), e["machine"]) for x, e in enumerate(entries)]
        present = [(x, y, machine) for x, y, machine in points if y is not None]
        # Lines join one machine's points only, and not the hollow ones (a busy machine).
        joined = [(x, y, machine) for x, y, machine in present if not _busy(entries[x])]
        run: list[tuple[int, float]] = []
        for position, (x, y, machine) in enumerate(joined):
            run.append((x, y))
            if position == len(joined) - 1 or joined[position + 1][2] != machine:
                axes.plot([p[0] for p in run], [p[1] for p in run], style, color=colour, linewidth=1.2)
                run = []
        for x, y, machine in present:
            if _busy(entries[x]):  # hollow: the machine was busy with other work when it started
                axes.plot([x], [y], markers[machine], color=colour, markersize=4.5, markerfacecolor="white",
                          markeredgewidth=1.0)  # fmt: skip
            else:
                axes.plot([x], [y], markers[machine], color=colour, markersize=4.5, markeredgecolor="white",
                          markeredgewidth=0.5)  # fmt: skip
        axes.plot([], [], style, color=colour, label=series.label + ("" if present else " (not measured yet)"))
    if panel.target is not None:
        axes.axhline(panel.target, color="#2a9d3c", linestyle=":", linewidth=1.1)
        axes.annotate(panel.target_text, (1.0, panel.target), xycoords=("axes fraction", "data"), ha="right",
                      va="bottom", fontsize=6, color="#2a9d3c")  # fmt: skip
    axes.set_title(panel.title, fontsize=7.5, loc="left")
    axes.set_ylabel(panel.unit, fontsize=6.5)
    axes.tick_params(labelsize=6)
    axes.grid(True, axis="y", linewidth=0.4, alpha=0.5)
    axes.legend(fontsize=5.5, loc="best", frameon=False, handlelength=2.2)
    axes.set_ylim(bottom=0)


def render(entries: Sequence[dict[str, Any]], out: Path, *, dpi: int = 90) -> int:
    """Draw the chart of ``entries`` into ``out`` (a palette PNG); returns its size in bytes."""
    machines = list(dict.fromkeys(e["machine"] for e in entries))
    markers = {machine: _MARKERS[i % len(_MARKERS)] for i, machine in enumerate(machines)}
    columns = 2
    rows = (len(PANELS) + columns - 1) // columns
    figure, grid = plt.subplots(rows, columns, figsize=(11, 2.05 * rows + 0.6), sharex=True, squeeze=False)
    labels = [f"{e['commit']}\n{e['date'][5:]}" for e in entries]
    for index, panel in enumerate(PANELS):
        axes = grid[index // columns][index % columns]
        _draw(axes, panel, entries, markers)
        axes.set_xticks(range(len(entries)), labels)
        axes.tick_params(axis="x", labelbottom=True, labelsize=5.5)
        axes.set_xlim(-0.5, len(entries) - 0.5)
    for index in range(len(PANELS), rows * columns):
        grid[index // columns][index % columns].set_visible(False)
    handles = [Line2D([], [], linestyle="", marker=markers[m], color="#444444", label=m) for m in machines]
    handles.append(Line2D([], [], linestyle="", marker="o", color="#444444", markerfacecolor="white",
                          label="hollow: machine busy (load > cores) at start; not joined"))  # fmt: skip
    figure.legend(handles=handles, loc="upper right", ncols=len(handles), fontsize=7, frameon=False,
                  title="machine (lines do not join across machines)", title_fontsize=7)  # fmt: skip
    figure.suptitle("wsgw benchmarks by commit (python -m bench.history chart)", x=0.01, ha="left", fontsize=9)
    figure.tight_layout(rect=(0, 0, 1, 0.97), h_pad=0.8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(figure)
    buffer.seek(0)
    with Image.open(buffer) as image:  # 64 colours are plenty for lines, and a third of the bytes
        image.convert("RGB").quantize(colors=64).save(out, format="PNG", optimize=True)
    return out.stat().st_size
