"""The shape of results: figures per target, the issue's goals, one result per scenario.

Every scenario measures the same figures on up to three targets: the bare
``websockets`` echo server (the ceiling), wsgw, and serverless-offline (the peer).
Scenarios a and b measure two more, each shown in a note, not in the table's columns:
the floor (:mod:`bench.relay_echo`: the bare server relaying each message through a
child process; :func:`floor_notes`) and ``wsgw run-local`` itself, its console printing
every invocation to a file as a user's terminal would (:func:`run_local_notes`; the wsgw
column is the bench's gateway child, which prints nothing).
A :class:`Metric` holds one figure's runs per target and, for wsgw, the goal it is
held to: either relative to the bare server (``p50 ≤ 2.5× bare``) or absolute
(``≥ 200 cycles/s``); "ahead of serverless-offline" compares medians.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

BARE = "bare"
WSGW = "wsgw"
PEER = "serverless-offline"
TARGETS = (BARE, WSGW, PEER)
FLOOR = "floor"
RUN_LOCAL = "wsgw run-local"


@dataclass(frozen=True)
class Figure:
    """One figure of one target: its value in each run, and their median."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)


@dataclass(frozen=True)
class Goal:
    """What the issue asks of wsgw for a metric: ``limit`` on wsgw's own median, or
    on wsgw's median divided by the bare server's (``relative``)."""

    text: str
    limit: float
    relative: bool = False


@dataclass
class Metric:
    """One figure of a scenario across the targets."""

    scenario: str
    label: str
    unit: str
    higher_is_better: bool
    figures: dict[str, Figure] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # target -> why there is no figure
    goal: Goal | None = None
    decimals: int = 3

    def median(self, target: str) -> float | None:
        figure = self.figures.get(target)
        return figure.median if figure is not None else None

    def ratio(self, numerator: str = WSGW, denominator: str = BARE) -> float | None:
        top, bottom = self.median(numerator), self.median(denominator)
        if top is None or bottom is None or bottom == 0:
            return None
        return top / bottom

    def goal_met(self) -> bool | None:
        """Whether wsgw meets the goal (None: no goal, or not measured)."""
        if self.goal is None:
            return None
        value = self.ratio() if self.goal.relative else self.median(WSGW)
        if value is None:
            return None
        return value >= self.goal.limit if self.higher_is_better else value <= self.goal.limit

    def ahead_of_peer(self) -> bool | None:
        """Whether wsgw's median beats serverless-offline's (None: not both measured)."""
        ours, theirs = self.median(WSGW), self.median(PEER)
        if ours is None or theirs is None:
            return None
        return ours > theirs if self.higher_is_better else ours < theirs

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label, "unit": self.unit, "higher_is_better": self.higher_is_better, "decimals": self.decimals,
            "targets": {
                target: {"median": figure.median, "runs": list(figure.runs)} for target, figure in self.figures.items()
            },
            "not_measured": self.missing,
            "ratio_wsgw_over_bare": self.ratio(),
            "ratio_wsgw_over_serverless_offline": self.ratio(WSGW, PEER),
            "goal": None if self.goal is None else {
                "text": self.goal.text, "limit": self.goal.limit, "relative_to_bare": self.goal.relative,
                "met": self.goal_met(),
            },
            "ahead_of_serverless_offline": self.ahead_of_peer(),
        }  # fmt: skip


@dataclass
class ScenarioResult:
    """What one scenario measured: its metrics, settings, notes and extra detail."""

    key: str
    title: str
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # printed under the table
    details: dict[str, Any] = field(default_factory=dict)  # JSON only (breakdowns, raw runs)
    error: str | None = None  # the scenario could not finish

    def metric(self, label: str, unit: str, *, higher_is_better: bool, goal: Goal | None = None,
               decimals: int = 3) -> Metric:  # fmt: skip
        """Add and return a new metric of this scenario."""
        metric = Metric(self.key, label, unit, higher_is_better, goal=goal, decimals=decimals)
        self.metrics.append(metric)
        return metric

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title, "settings": self.settings, "error": self.error,
            "metrics": [metric.to_json() for metric in self.metrics], "notes": self.notes, "details": self.details,
        }  # fmt: skip


FLOOR_TEXT = "floor: the bare server with one round trip to a child process per message (bench/relay_echo.py)"


def floor_notes(*metrics: Metric) -> list[str]:
    """What the floor says about each of ``metrics`` (times or rates): its median
    (against the bare server's, if measured), and wsgw's own share above it. Empty
    if neither the floor nor wsgw was measured for any of them."""
    lines = []
    for metric in metrics:
        floor, bare, ours = metric.median(FLOOR), metric.median(BARE), metric.median(WSGW)
        if not (floor and ours):
            continue
        value = f"{floor:,.{metric.decimals}f} {metric.unit}" + (f", ×{floor / bare:.2f} bare" if bare else "")
        if metric.higher_is_better:
            lines.append(f"  {metric.label}: {value}; wsgw reaches {ours / floor:.0%} of the floor's")
        else:
            share = ours - floor
            lines.append(f"  {metric.label}: {value}; wsgw's own share above it: "
                         f"{share:,.{metric.decimals}f} {metric.unit} ({share / ours:.0%} of wsgw's)")
    return [FLOOR_TEXT, *lines] if lines else []


RUN_LOCAL_TEXT = ("wsgw run-local: the CLI as a user runs it, its console printing each invocation to a file "
                  "(the wsgw column: the bench's gateway, no console; serverless-offline prints its lines too)")


def run_local_notes(*metrics: Metric) -> list[str]:
    """``wsgw run-local``'s median for each of ``metrics``, against the bare server,
    the wsgw column and serverless-offline (those measured). Empty if it was not measured."""
    lines = []
    for metric in metrics:
        ours = metric.median(RUN_LOCAL)
        if not ours:
            continue
        ratios = [f"×{ours / other:.2f} {name}" for name, other in (
            ("bare", metric.median(BARE)), ("the wsgw column", metric.median(WSGW)), (PEER, metric.median(PEER))
        ) if other]  # fmt: skip
        lines.append(f"  {metric.label}: {ours:,.{metric.decimals}f} {metric.unit}" + (f", {', '.join(ratios)}" if ratios else ""))
    return [RUN_LOCAL_TEXT, *lines] if lines else []
