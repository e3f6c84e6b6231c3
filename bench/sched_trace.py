"""Where one sequential round trip's time goes, read from the kernel's scheduler events.

A round trip in scenario a is a chain of wake-ups: the client's write wakes the
server, which (in wsgw and the floor) wakes its worker, which wakes the server, which
wakes the client. Linux's ``sched:sched_waking`` tracepoint fires in the waker's
context at the moment it makes the other runnable; ``sched:sched_switch`` says when
the woken task got a CPU. From the two, each round trip splits exactly into

- a *wake* per hop: from ``sched_waking`` to the woken task being on a CPU (the
  kernel's and, on a VM, the hypervisor's part: an idle vCPU must be woken); and
- a *run* per process: from getting the CPU to waking the next process in the chain
  (its own work on the way, its system calls included, and any time it was
  preempted in between).

The segments of one round trip add up to the round trip, measured from one client
wake-up of the server to the next. What a process does after it woke the next one
(the gateway's bookkeeping once the reply is written) is off the chain, as it is off
the client's clock. This module is the pure part: parsing ``perf script`` lines and
cutting them into round trips; :mod:`bench.critical_path` records and prints.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

__all__ = ["Chain", "Hop", "RoundTrip", "SchedEvent", "parse_events", "round_trips", "segment_medians"]

# `perf script --ns -F pid,tid,cpu,time,event,trace` (the tid is the task on the CPU):
#   python  1234/1234 [001] 12707.588975123: sched:sched_waking: comm=python pid=1236 prio=120 target_cpu=000
#   python  1234/1234 [001] 12707.588998456: sched:sched_switch: prev_comm=python prev_pid=1234 prev_prio=120
#       prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120
_LINE = re.compile(r"^.*?\b\d+/(?P<tid>\d+)\s+\[(?P<cpu>\d+)\]\s+(?P<sec>\d+)\.(?P<frac>\d+):\s+sched:(?P<event>sched_\w+):\s+(?P<trace>.*)$")
_WAKING = re.compile(r"\bpid=(?P<pid>\d+)\b")
_SWITCH = re.compile(r"\bprev_pid=(?P<prev>\d+)\b.*\bprev_state=(?P<state>\S+)\s+==>.*\bnext_pid=(?P<next>\d+)\b")


@dataclass(frozen=True)
class SchedEvent:
    """One scheduler event: ``current`` woke ``task`` (``waking``), or the CPU went
    from ``current`` to ``task`` (``switch``; ``preempted``: ``current`` was still
    runnable, not asleep)."""

    at_ns: int
    kind: str  # "waking" or "switch"
    current: int
    task: int
    preempted: bool = False


def parse_events(lines: Iterable[str]) -> Iterator[SchedEvent]:
    """The ``sched_waking`` and ``sched_switch`` events among ``perf script`` lines
    (see the format above; ``--ns``), in their order; other lines are skipped."""
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        at_ns = int(match["sec"]) * 1_000_000_000 + int(match["frac"].ljust(9, "0")[:9])
        trace = match["trace"]
        if match["event"] == "sched_waking":
            woken = _WAKING.search(trace)
            if woken is not None:
                yield SchedEvent(at_ns, "waking", int(match["tid"]), int(woken["pid"]))
        elif match["event"] == "sched_switch":
            switch = _SWITCH.search(trace)
            if switch is not None:
                # R (or R+): switched out while runnable, i.e. preempted, not asleep.
                yield SchedEvent(at_ns, "switch", int(switch["prev"]), int(switch["next"]),
                                 preempted=switch["state"].startswith("R"))


@dataclass(frozen=True)
class Hop:
    """One link of the chain: ``waker`` wakes ``woken`` (role names)."""

    waker: str
    woken: str


@dataclass(frozen=True)
class Chain:
    """A round trip's hops in order, from the client's wake-up of the server back to
    the client; ``roles`` maps each role to its thread id."""

    hops: tuple[Hop, ...]
    roles: dict[str, int]

    def segment_names(self) -> list[str]:
        """Each hop's wake, then the woken role's run until it wakes the next:
        ``wake client→server``, ``run server until worker``, ... ``run client until
        server`` (the client's run closes the round trip)."""
        names = []
        for index, hop in enumerate(self.hops):
            following = self.hops[(index + 1) % len(self.hops)]
            names += [f"wake {hop.waker}→{hop.woken}", f"run {hop.woken} until {following.woken}"]
        return names


@dataclass(frozen=True)
class RoundTrip:
    """One round trip: its segments in :meth:`Chain.segment_names` order (ns), and
    how many times a process of the chain was preempted during it."""

    segments: tuple[int, ...]
    preemptions: int

    @property
    def total_ns(self) -> int:
        return sum(self.segments)


def round_trips(events: Iterable[SchedEvent], chain: Chain) -> list[RoundTrip]:
    """Cut ``events`` into complete round trips along ``chain``. A round trip whose
    events do not follow the chain (a stray wake-up, an event lost) is dropped, and
    the next one starts at the next first hop.

    A process woken while it was preempted (runnable, not asleep: the one it woke took
    its CPU) makes no ``sched_waking`` event; such a hop is taken to happen when the
    waker goes to sleep, which is after it wrote to the other (its own run ends there
    and the hop's wake is counted from there)."""
    hops = [(chain.roles[hop.waker], chain.roles[hop.woken]) for hop in chain.hops]
    tids = set(chain.roles.values())
    on_cpu: set[int] = set()  # threads of the chain running now
    preempted: set[int] = set()  # threads of the chain switched out while runnable
    result: list[RoundTrip] = []
    marks: list[int] = []  # waking, switch-in, waking, switch-in, ... of the current trip
    awaiting: int | None = None  # the thread whose switch-in completes the last waking
    preemptions = 0

    def hop(pair: tuple[int, int], at_ns: int) -> None:
        """``pair[0]`` woke ``pair[1]`` at ``at_ns`` (a waking, or an implied one)."""
        nonlocal marks, awaiting, preemptions
        step = len(marks) // 2
        if pair == hops[0] and (step == len(hops) or not marks):
            if marks:  # the previous trip is whole: close it
                marks.append(at_ns)
                result.append(RoundTrip(_differences(marks), preemptions))
            marks, preemptions = [], 0
        elif not (awaiting is None and marks and step < len(hops) and pair == hops[step]):
            marks, awaiting, preemptions = [], None, 0  # out of order: wait for the next first hop
            return
        marks.append(at_ns)
        if pair[1] in on_cpu:
            marks.append(at_ns)  # still running (it had not gone to sleep yet): no wait
        else:
            awaiting = pair[1]

    for event in events:
        if event.kind == "switch":
            leaving, entering = event.current, event.task
            if leaving in tids:
                on_cpu.discard(leaving)
                if event.preempted:
                    preempted.add(leaving)
                    preemptions += 1 if marks else 0
                elif awaiting is None and marks:
                    expected = hops[len(marks) // 2] if len(marks) // 2 < len(hops) else hops[0]
                    if expected[0] == leaving and expected[1] in preempted:
                        hop(expected, event.at_ns)
            if entering in tids:
                on_cpu.add(entering)
                preempted.discard(entering)
                if entering == awaiting:
                    marks.append(event.at_ns)
                    awaiting = None
        elif (event.current, event.task) in hops:
            hop((event.current, event.task), event.at_ns)
    return result


def _differences(marks: Sequence[int]) -> tuple[int, ...]:
    return tuple(later - earlier for earlier, later in zip(marks, marks[1:]))


def segment_medians(trips: Sequence[RoundTrip]) -> list[float]:
    """Each segment's median over ``trips`` (ns)."""
    return [statistics.median(column) for column in zip(*(trip.segments for trip in trips))]
