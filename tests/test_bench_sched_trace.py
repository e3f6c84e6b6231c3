"""bench/sched_trace.py and bench/critical_path.py: ``perf script`` lines parsed, round
trips cut into wake-ups and runs along a chain, the table's rows; and the tool itself
at a tiny size (or its clear refusal where perf cannot trace)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import critical_path
from bench.critical_path import Measured, busiest_wakee, chain_of, report_rows, targets
from bench.sched_trace import Chain, Hop, SchedEvent, parse_events, round_trips, segment_medians

ROOT = Path(__file__).resolve().parent.parent
C, S, W = 100, 200, 300  # client, server, worker thread ids
BARE = Chain((Hop("client", "server"), Hop("server", "client")), {"client": C, "server": S})
RELAYED = Chain((Hop("client", "server"), Hop("server", "worker"), Hop("worker", "server"), Hop("server", "client")),
                {"client": C, "server": S, "worker": W})


def waking(at: int, waker: int, woken: int) -> SchedEvent:
    return SchedEvent(at, "waking", waker, woken)


def switch(at: int, leaving: int, entering: int, *, preempted: bool = False) -> SchedEvent:
    return SchedEvent(at, "switch", leaving, entering, preempted)


def test_perf_script_lines_become_events() -> None:
    lines = [
        "          python  1234/1234  [001] 12707.588975123: sched:sched_waking: comm=python pid=1236 prio=120 target_cpu=000",
        "         python 1234/1234 [001] 12707.588998456: sched:sched_switch: prev_comm=python prev_pid=1234 prev_prio=120 "
        "prev_state=S ==> next_comm=swapper/1 next_pid=0 next_prio=120",
        "         python 1236/1236 [000] 12707.589100000: sched:sched_switch: prev_comm=python prev_pid=1236 prev_prio=120 "
        "prev_state=R+ ==> next_comm=python next_pid=1234 next_prio=120",
        "            perf 99/99 [000] 12707.5891: raw_syscalls:sys_enter: NR 1 (3, 0, 0)",  # not a scheduler event
        "garbage",
    ]
    assert list(parse_events(lines)) == [
        SchedEvent(12707_588975123, "waking", 1234, 1236),
        SchedEvent(12707_588998456, "switch", 1234, 0, preempted=False),
        SchedEvent(12707_589100000, "switch", 1236, 1234, preempted=True),
    ]


def test_microsecond_times_are_read_as_nanoseconds() -> None:
    line = "x 5/5 [000] 10.000002: sched:sched_waking: comm=y pid=6 prio=120 target_cpu=000"
    assert [event.at_ns for event in parse_events([line])] == [10_000_002_000]


def bare_trip(start: int) -> list[SchedEvent]:
    """One bare round trip from ``start``: the client wakes the server (10 µs to get a
    CPU), the server runs 40 and wakes the client, which gets its CPU 30 later."""
    return [
        waking(start, C, S), switch(start + 5, C, 0), switch(start + 10, 0, S),
        waking(start + 50, S, C), switch(start + 55, S, 0), switch(start + 80, 0, C),
    ]


def test_a_bare_round_trip_splits_into_its_wakes_and_runs() -> None:
    events = bare_trip(1000) + bare_trip(1200) + [waking(1400, C, S)]
    trips = round_trips(events, BARE)
    # wake C→S, run S, wake S→C, run C (until the next trip's first waking)
    assert [trip.segments for trip in trips] == [(10, 40, 30, 120), (10, 40, 30, 120)]
    assert all(trip.total_ns == 200 and trip.preemptions == 0 for trip in trips)
    assert BARE.segment_names() == ["wake client→server", "run server until client", "wake server→client",
                                    "run client until server"]


def test_the_last_trip_counts_only_once_the_next_one_begins() -> None:
    assert round_trips(bare_trip(1000), BARE) == []


def test_a_wakee_still_on_its_cpu_waits_for_nothing() -> None:
    events = [
        waking(1000, C, S), switch(1010, 0, S),
        waking(1050, S, C),  # the client had not gone to sleep yet: still on the other CPU
        waking(1100, C, S),  # ... and sends the next message
    ]
    events.insert(0, switch(990, 0, C))  # the client got its CPU before
    assert [trip.segments for trip in round_trips(events, BARE)] == [(10, 40, 0, 50)]


def test_a_hop_to_a_preempted_process_happens_when_the_waker_sleeps() -> None:
    """The worker, woken on the server's CPU, takes it (the server is preempted, still
    runnable): its reply makes no waking event; the server runs again once it sleeps."""
    events = [
        waking(1000, C, S), switch(1010, 0, S),
        waking(1050, S, W), switch(1055, S, W, preempted=True),
        switch(1075, W, S),  # the worker wrote its reply and went to sleep: the hop is here
        waking(1100, S, C), switch(1110, S, 0), switch(1130, 0, C),
        waking(1200, C, S),
    ]
    trips = round_trips(events, RELAYED)
    assert [trip.segments for trip in trips] == [(10, 40, 5, 20, 0, 25, 30, 70)]
    assert trips[0].preemptions == 1 and trips[0].total_ns == 200


def test_a_trip_off_the_chain_is_dropped_and_the_next_counted() -> None:
    events = [
        waking(1000, C, S), switch(1010, 0, S),
        waking(1050, S, C),  # the server answered without its worker: not this chain
        switch(1060, S, 0), switch(1070, 0, C),
        waking(2000, C, S), switch(2005, C, 0), switch(2010, 0, S),
        waking(2050, S, W), switch(2055, S, 0), switch(2060, 0, W),
        waking(2080, W, S), switch(2085, W, 0), switch(2090, 0, S), waking(2100, S, C), switch(2105, S, 0),
        switch(2110, 0, C), waking(2200, C, S),
    ]
    assert [trip.segments for trip in round_trips(events, RELAYED)] == [(10, 40, 10, 20, 10, 10, 10, 90)]


def test_segment_medians_are_per_column() -> None:
    late = [waking(1400, C, S), switch(1405, C, 0), switch(1430, 0, S), waking(1470, S, C), switch(1475, S, 0),
            switch(1500, 0, C)]
    trips = round_trips(bare_trip(1000) + bare_trip(1200) + late + [waking(1700, C, S)], BARE)
    assert [trip.segments[0] for trip in trips] == [10, 10, 30]
    assert segment_medians(trips) == [10, 40, 30, 120]


def test_the_worker_is_the_thread_the_server_woke_most_other_than_the_client() -> None:
    events = [waking(1, S, C), waking(2, S, W), waking(3, S, C), waking(4, S, W), waking(5, S, 7),
              waking(6, C, 8), waking(7, C, 8), waking(8, C, 8)]
    assert busiest_wakee(events, S, exclude=C) == W
    assert busiest_wakee(events, 999, exclude=C) is None


def test_chains_of_the_three_targets() -> None:
    bare, floor, wsgw = targets("uvloop")
    assert chain_of(bare, C, S, None) == BARE
    assert chain_of(floor, C, S, W) == RELAYED and chain_of(wsgw, C, S, W) == RELAYED


def test_the_table_sums_wakes_runs_and_the_servers_runs() -> None:
    bare_names, relayed_names = BARE.segment_names(), RELAYED.segment_names()
    runs = {
        "bare": [Measured("bare", 0.2, bare_names, [10e3, 40e3, 30e3, 120e3], 9, 0.0),
                 Measured("bare", 0.4, bare_names, [20e3, 60e3, 30e3, 100e3], 9, 0.5)],
        "wsgw": [Measured("wsgw", 0.3, relayed_names, [1e3, 2e3, 3e3, 4e3, 5e3, 6e3, 7e3, 8e3], 9, 0.25)],
    }
    rows = report_rows(runs)
    assert list(rows)[:8] == relayed_names  # the longest chain's order
    assert rows["wake client→server"] == {"bare": 15.0, "wsgw": 1.0}
    assert rows["run server until worker"] == {"wsgw": 2.0}
    assert rows["sum of wake-ups"] == {"bare": 45.0, "wsgw": 16.0}
    assert rows["sum of runs"] == {"bare": 160.0, "wsgw": 20.0}
    assert rows["server's runs"] == {"bare": 50.0, "wsgw": 8.0}
    assert rows["client's p50 (traced)"] == {"bare": pytest.approx(300.0), "wsgw": pytest.approx(300.0)}
    assert rows["trips with a preemption %"] == {"bare": 25.0, "wsgw": 25.0}


def test_without_perf_the_tool_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert critical_path.main(["--runs", "1", "--messages", "10"]) == 2
    assert "perf is not installed" in capsys.readouterr().err


def test_the_tool_at_a_tiny_size() -> None:
    """Where perf may trace the scheduler (CI runs as root): every target traced and
    the table printed; elsewhere, the refusal names perf (no figure is asserted)."""
    done = subprocess.run([sys.executable, "-m", "bench.critical_path", "--runs", "1", "--messages", "300"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode == 2:
        assert re.search(r"perf (is not installed|record failed)", done.stderr), done.stderr
        return
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.findall(r"^  (\w+): p50 [\d.]+ µs, \d+ round trips traced$", done.stdout, re.MULTILINE) == [
        "bare", "floor", "wsgw"]
    for row in ("wake client→server", "run worker until server", "sum of wake-ups", "server's runs"):
        assert re.search(rf"^{row}\s+[\d. ]+$", done.stdout, re.MULTILINE), row
