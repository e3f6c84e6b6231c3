"""What the kernel knows about a process: resident memory, CPU time, children.

Linux only (``/proc``); the bench reports "unknown" where these return None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def rss_kib(pid: int) -> int | None:
    """``VmRSS`` of ``pid`` in KiB (None if it is gone or not on Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time ``pid`` has used so far (not its children's)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, grandchildren...)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                parents.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found += children
        frontier += children
    return found


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds used so far, per group of processes."""

    seconds: dict[str, float]

    def minus(self, earlier: CpuSample) -> dict[str, float]:
        return {key: value - earlier.seconds.get(key, 0.0) for key, value in self.seconds.items()}


def cpu_by_group(root: int, classify: dict[str, str], own: bool = True) -> CpuSample:
    """CPU seconds of ``root`` ("server") and of its descendants grouped by the first
    ``classify`` key (a substring of the command line) that matches ("other" if
    none); with ``own``, this process too ("bench client"). Processes that exited
    meanwhile are missing, so take samples while they all still run."""
    seconds: dict[str, float] = {"server": cpu_seconds(root) or 0.0}
    for child in descendants(root):
        line = cmdline(child)
        group = next((name for needle, name in classify.items() if needle in line), "other")
        seconds[group] = seconds.get(group, 0.0) + (cpu_seconds(child) or 0.0)
    if own:
        seconds["bench client"] = cpu_seconds(os.getpid()) or 0.0
    return CpuSample(seconds)


def open_files(pid: int) -> tuple[int, int] | None:
    """How many descriptors ``pid`` has open and its soft ``RLIMIT_NOFILE`` (None if
    it is gone or not on Linux): the room a server has for more connections."""
    try:
        count = len(os.listdir(f"/proc/{pid}/fd"))
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                soft = line.split()[3]
                return count, (1 << 30) if soft == "unlimited" else int(soft)
    except (OSError, ValueError, IndexError):
        return None
    return None
