"""Tests for emulator.inspector.records: the bounded ring and reading it by number."""

from __future__ import annotations

import pytest

from emulator.inspector.records import LogLine, Ring


def line(n: int) -> LogLine:
    return LogLine(float(n), "F", f"line {n}")


def test_an_empty_ring_has_nothing_and_misses_nothing() -> None:
    ring = Ring(3)
    assert ring.since(0) == (0, [])
    assert ring.first_seq == ring.next_seq == 0
    assert ring.latest(10) == []


def test_records_are_numbered_in_order_and_read_from_a_number() -> None:
    ring = Ring(10)
    for n in range(4):
        ring.append(line(n))
    missed, got = ring.since(1)
    assert missed == 0
    assert [(seq, record.line) for seq, record in got] == [(1, "line 1"), (2, "line 2"), (3, "line 3")]
    assert ring.since(4) == (0, [])  # nothing new yet


def test_a_full_ring_keeps_the_newest_and_says_how_many_a_reader_missed() -> None:
    ring = Ring(3)
    for n in range(10):
        ring.append(line(n))
    assert len(ring) == 3 and ring.first_seq == 7 and ring.next_seq == 10
    missed, got = ring.since(2)
    assert missed == 5  # records 2..6 are gone
    assert [seq for seq, _ in got] == [7, 8, 9]


def test_since_with_a_limit_returns_the_oldest_first_and_the_reader_resumes() -> None:
    ring = Ring(100)
    for n in range(10):
        ring.append(line(n))
    _, first = ring.since(0, limit=4)
    assert [seq for seq, _ in first] == [0, 1, 2, 3]
    _, rest = ring.since(first[-1][0] + 1, limit=100)
    assert [seq for seq, _ in rest] == list(range(4, 10))


def test_latest_and_reversed_and_iteration_agree_on_numbers() -> None:
    ring = Ring(5)
    for n in range(8):
        ring.append(line(n))
    assert [seq for seq, _ in ring.latest(2)] == [6, 7]
    assert [seq for seq, _ in ring.reversed()] == [7, 6, 5, 4, 3]
    assert [(seq, record.line) for seq, record in ring] == [(seq, f"line {seq}") for seq in range(3, 8)]


def test_a_ring_holds_at_least_one_record() -> None:
    with pytest.raises(ValueError):
        Ring(0)
