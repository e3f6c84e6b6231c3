"""Tests for emulator.inspector.records: the bounded ring and reading it by number."""

from __future__ import annotations

import pytest

from emulator.inspector.records import RECORD_OVERHEAD_BYTES, FrameIn, Invocation, LogLine, Ring, weight


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


def test_heavy_records_make_the_ring_keep_fewer_within_its_byte_budget() -> None:
    ring = Ring(1000, max_bytes=10 * (RECORD_OVERHEAD_BYTES + 1000))
    for n in range(50):
        ring.append(FrameIn(float(n), "c", "x" * 1000, None))
    assert len(ring) == 10 and ring.first_seq == 40  # 10 of them fit, numbers still count on
    assert ring.bytes == 10 * weight(FrameIn(0.0, "c", "x" * 1000, None)) <= ring.max_bytes
    assert ring.since(0)[0] == 40  # a reader is told what the budget dropped
    ring.append(FrameIn(99.0, "c", "y" * 100_000, None))  # heavier than the budget: kept alone
    assert len(ring) == 1 and ring.bytes > ring.max_bytes


def test_an_invocation_weighs_its_result_not_the_shared_event() -> None:
    from emulator.core.invocation import Invoke, Succeeded

    invoke = Invoke("F", {"body": "z" * 5000}, "req", "conn", "whoAmI")
    assert weight(Invocation(0.0, invoke, Succeeded({"statusCode": 200, "body": "ok"}, 1.0), False)) == (
        RECORD_OVERHEAD_BYTES + 2)
