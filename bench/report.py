"""How results are shown: a table on stdout and a JSON document on disk.

The JSON holds every run, the medians, the wsgw/bare ratios, the settings, the
command line and the machine, so a result file can be compared with another later.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .roundtrip import MESSAGE, TargetSummary


@dataclass(frozen=True)
class Reference:
    """A figure measured elsewhere, shown for context only (never by this run)."""

    label: str
    p50_ms: float
    msgs_per_s: float
    note: str


SERVERLESS_OFFLINE = Reference(
    label="serverless-offline",
    p50_ms=0.498,
    msgs_per_s=1583,
    note="warm Python echo, sequential; reference measurement on this kind of machine",
)


@dataclass(frozen=True)
class Settings:
    """What was asked for."""

    messages: int
    warmup: int
    runs: int


def ratios(bare: TargetSummary, wsgw: TargetSummary) -> dict[str, float]:
    """wsgw's medians divided by the bare server's (p50 > 1 and msgs/s < 1 mean slower)."""
    return {
        "p50": wsgw.p50_ms / bare.p50_ms,
        "p99": wsgw.p99_ms / bare.p99_ms,
        "msgs_per_s": wsgw.msgs_per_s / bare.msgs_per_s,
    }


def format_table(settings: Settings, bare: TargetSummary, wsgw: TargetSummary, machine: dict[str, Any]) -> str:
    """The human-readable report (``machine`` from :func:`machine_info`)."""
    ratio = ratios(bare, wsgw)
    ref = SERVERLESS_OFFLINE
    width = 36
    lines = [
        f"Sequential round trips on one connection, {len(MESSAGE.encode())}-byte text message: "
        f"{settings.warmup:,} warm-up + {settings.messages:,} timed, median of {settings.runs} run(s)",
        "",
        f"{'target':<{width}}{'p50 ms':>9}{'p99 ms':>9}{'msgs/s':>10}",
    ]
    for summary in (bare, wsgw):
        lines.append(
            f"{summary.target:<{width}}{summary.p50_ms:>9.3f}{summary.p99_ms:>9.3f}{summary.msgs_per_s:>10,.0f}"
        )
    lines.append(
        f"{'wsgw / bare':<{width}}{'x' + format(ratio['p50'], '.2f'):>9}{'x' + format(ratio['p99'], '.2f'):>9}"
        f"{'x' + format(ratio['msgs_per_s'], '.2f'):>10}"
    )
    lines += [
        "",
        "Per run (p50 ms / msgs/s):",
        *(
            f"  {summary.target:<{width - 2}}"
            + "   ".join(f"{run.p50_ms:.3f} / {run.msgs_per_s:,.0f}" for run in summary.runs)
            for summary in (bare, wsgw)
        ),
        "",
        f"Reference figure, NOT measured in this run: {ref.label} ({ref.note}):",
        f"  p50 {ref.p50_ms:.3f} ms, {ref.msgs_per_s:,.0f} msgs/s"
        f"  -> wsgw here: p50 x{wsgw.p50_ms / ref.p50_ms:.2f}, msgs/s x{wsgw.msgs_per_s / ref.msgs_per_s:.2f}",
        "",
        f"Machine: {machine['cpu_count']} CPUs, {machine['platform']}, Python {platform.python_version()}, "
        f"websockets {machine['websockets']}, event loop {machine.get('event_loop', '?')} (both servers); load average before the run "
        + (f"{machine['load_average_at_start'][0]:.2f}" if machine["load_average_at_start"] else "unknown"),
    ]
    return "\n".join(lines)


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (other work on the machine skews results)."""
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def machine_info(load_at_start: list[float] | None) -> dict[str, Any]:
    """The facts about this machine that move the numbers."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version,
        "python_implementation": platform.python_implementation(),
        "websockets": importlib.metadata.version("websockets"),
        "load_average_at_start": load_at_start,
        "load_average_at_end": load_average(),
    }


def build_document(
    settings: Settings,
    bare: TargetSummary,
    wsgw: TargetSummary,
    *,
    command: list[str],
    started: datetime.datetime,
    machine: dict[str, Any],
) -> dict[str, Any]:
    """The JSON result document."""
    return {
        "benchmark": "roundtrip",
        "scenario": "sequential round trips on one connection through a two-way $default route "
                    "with a trivial Python handler, vs a bare websockets echo server",
        "started_at": started.isoformat(timespec="seconds"),
        "command": command,
        "settings": {**asdict(settings), "message": MESSAGE, "message_bytes": len(MESSAGE.encode())},
        "machine": machine,
        "targets": {
            key: {
                "name": summary.target,
                "median": {"p50_ms": summary.p50_ms, "p99_ms": summary.p99_ms, "msgs_per_s": summary.msgs_per_s},
                "runs": [asdict(run) for run in summary.runs],
            }
            for key, summary in (("bare", bare), ("wsgw", wsgw))
        },
        "ratio_wsgw_over_bare": ratios(bare, wsgw),
        "reference_not_measured_here": asdict(SERVERLESS_OFFLINE),
    }  # fmt: skip


def write_document(document: dict[str, Any], path: Path) -> None:
    """Write ``document`` to ``path`` (folders created as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
