"""Tests for emulator.core.registry: the connection table."""

from __future__ import annotations

import dataclasses

import pytest

from emulator.core.registry import TRANSITIONS, ConnectionRecord, ConnectionRegistry, ConnectionStatus, InvalidTransition


def rec(connection_id: str = "AAAAAAAAAAAAAAA=", at: int = 1_000, ua: str | None = "ua") -> ConnectionRecord:
    return ConnectionRecord(
        connection_id=connection_id, connected_at_ms=at, last_active_at_ms=at, source_ip="127.0.0.1", user_agent=ua,
    )


def test_new_record_is_connecting_and_frozen() -> None:
    record = rec()
    assert record.status is ConnectionStatus.CONNECTING
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.last_active_at_ms = 5  # type: ignore[misc]


def test_add_and_get() -> None:
    registry = ConnectionRegistry()
    assert len(registry) == 0
    record = rec()
    registry.add(record)
    assert len(registry) == 1
    assert registry.get("AAAAAAAAAAAAAAA=") == record
    assert registry.get("BBBBBBBBBBBBBBB=") is None
    assert list(registry) == [record]


def test_add_duplicate_raises_and_keeps_original() -> None:
    registry = ConnectionRegistry()
    original = rec(at=1)
    registry.add(original)
    with pytest.raises(ValueError, match="duplicate"):
        registry.add(rec(at=2))
    assert registry.get(original.connection_id) == original
    assert len(registry) == 1


def test_get_open_only_after_mark_open() -> None:
    registry = ConnectionRegistry()
    registry.add(rec())
    assert registry.get_open("AAAAAAAAAAAAAAA=") is None
    assert not registry.is_open("AAAAAAAAAAAAAAA=")
    assert registry.get("AAAAAAAAAAAAAAA=") is not None
    opened = registry.mark_open("AAAAAAAAAAAAAAA=")
    assert opened.status is ConnectionStatus.OPEN
    assert registry.get_open("AAAAAAAAAAAAAAA=") == opened
    assert registry.is_open("AAAAAAAAAAAAAAA=")
    assert registry.get("AAAAAAAAAAAAAAA=") == opened
    assert registry.get_open("unknown") is None
    assert not registry.is_open("unknown")
    registry.mark_closing("AAAAAAAAAAAAAAA=")
    assert registry.get_open("AAAAAAAAAAAAAAA=") is None and not registry.is_open("AAAAAAAAAAAAAAA=")


def test_mark_open_keeps_other_fields_and_unknown_raises() -> None:
    registry = ConnectionRegistry()
    original = rec(at=42, ua=None)
    registry.add(original)
    opened = registry.mark_open(original.connection_id)
    assert dataclasses.replace(opened, status=ConnectionStatus.CONNECTING) == original
    with pytest.raises(KeyError):
        registry.mark_open("BBBBBBBBBBBBBBB=")


def test_touch_updates_last_active_only() -> None:
    registry = ConnectionRegistry()
    original = rec(at=1_000)
    registry.add(original)
    registry.mark_open(original.connection_id)
    registry.touch(original.connection_id, 5_000)
    touched = registry.get(original.connection_id)
    assert touched is not None
    assert touched.last_active_at_ms == 5_000
    assert touched.connected_at_ms == 1_000
    assert touched.status is ConnectionStatus.OPEN
    assert original.last_active_at_ms == 1_000  # records are replaced, never mutated


def test_touch_unknown_is_a_no_op() -> None:
    registry = ConnectionRegistry()
    registry.touch("BBBBBBBBBBBBBBB=", 5)
    assert len(registry) == 0
    assert registry.get("BBBBBBBBBBBBBBB=") is None


def test_remove_returns_last_record_then_none() -> None:
    registry = ConnectionRegistry()
    registry.add(rec())
    registry.touch("AAAAAAAAAAAAAAA=", 7)
    removed = registry.remove("AAAAAAAAAAAAAAA=")
    assert removed is not None and removed.last_active_at_ms == 7
    assert registry.get("AAAAAAAAAAAAAAA=") is None
    assert registry.get_open("AAAAAAAAAAAAAAA=") is None
    assert len(registry) == 0
    assert registry.remove("AAAAAAAAAAAAAAA=") is None
    # The id can be registered again after removal.
    registry.add(rec())
    assert len(registry) == 1


def test_iteration_is_a_snapshot() -> None:
    registry = ConnectionRegistry()
    for i in range(3):
        registry.add(rec(connection_id=f"AAAAAAAAAAAAAA{i}="))
    seen = []
    for record in registry:
        registry.remove(record.connection_id)  # must not break iteration
        seen.append(record.connection_id)
    assert seen == ["AAAAAAAAAAAAAA0=", "AAAAAAAAAAAAAA1=", "AAAAAAAAAAAAAA2="]
    assert len(registry) == 0


def test_mark_gone_hides_an_open_connection_from_get_open() -> None:
    from emulator.core.registry import ConnectionRecord, ConnectionRegistry

    registry = ConnectionRegistry()
    registry.add(ConnectionRecord("AAAAAAAAAAAAAAA=", 1, 1, "127.0.0.1", None))
    registry.mark_open("AAAAAAAAAAAAAAA=")
    assert registry.get_open("AAAAAAAAAAAAAAA=") is not None
    assert registry.mark_gone("AAAAAAAAAAAAAAA=") is True
    assert registry.get_open("AAAAAAAAAAAAAAA=") is None
    assert not registry.is_open("AAAAAAAAAAAAAAA=")
    assert registry.get("AAAAAAAAAAAAAAA=") is not None  # still connected
    assert registry.mark_gone("BBBBBBBBBBBBBBB=") is False


# -- the status table ---------------------------------------------------------------------


def test_a_connection_moves_connecting_open_closing_and_never_back() -> None:
    registry = ConnectionRegistry()
    registry.add(rec())
    registry.mark_closing("AAAAAAAAAAAAAAA=")  # not established yet: nothing to close
    assert registry.get("AAAAAAAAAAAAAAA=").status is ConnectionStatus.CONNECTING  # type: ignore[union-attr]
    registry.mark_open("AAAAAAAAAAAAAAA=")
    registry.mark_closing("AAAAAAAAAAAAAAA=")
    registry.mark_closing("AAAAAAAAAAAAAAA=")  # both sides closing: once is enough
    record = registry.get("AAAAAAAAAAAAAAA=")
    assert record is not None and record.status is ConnectionStatus.CLOSING
    assert registry.get_open("AAAAAAAAAAAAAAA=") is None  # @connections answers 410
    with pytest.raises(InvalidTransition, match="CLOSING -> OPEN"):
        registry.mark_open("AAAAAAAAAAAAAAA=")
    assert registry.remove("AAAAAAAAAAAAAAA=") == record


def test_the_transition_table_covers_every_status_and_allows_only_forward_moves() -> None:
    assert set(TRANSITIONS) == set(ConnectionStatus)
    order = [ConnectionStatus.CONNECTING, ConnectionStatus.OPEN, ConnectionStatus.CLOSING]
    for status, targets in TRANSITIONS.items():
        assert all(order.index(target) == order.index(status) + 1 for target in targets)


def test_the_fault_flag_is_not_a_status() -> None:
    registry = ConnectionRegistry()
    registry.add(rec())
    registry.mark_open("AAAAAAAAAAAAAAA=")
    registry.mark_gone("AAAAAAAAAAAAAAA=")
    record = registry.get("AAAAAAAAAAAAAAA=")
    assert record is not None and record.status is ConnectionStatus.OPEN and record.reported_gone
    registry.mark_closing("AAAAAAAAAAAAAAA=")  # a "gone" connection can still close normally
    assert registry.get("AAAAAAAAAAAAAAA=").status is ConnectionStatus.CLOSING  # type: ignore[union-attr]


def test_identity_has_user_agent_only_when_sent() -> None:
    assert rec(ua="curl/8").identity() == {"sourceIp": "127.0.0.1", "userAgent": "curl/8"}
    assert rec(ua=None).identity() == {"sourceIp": "127.0.0.1"}


def test_activity_is_folded_in_when_read_and_peek_may_lag() -> None:
    registry = ConnectionRegistry()
    registry.add(rec(at=1_000))
    registry.touch("AAAAAAAAAAAAAAA=", 5_000)
    registry.touch("BBBBBBBBBBBBBBB=", 5_000)  # unknown: nothing
    assert registry.peek("AAAAAAAAAAAAAAA=").last_active_at_ms == 1_000  # type: ignore[union-attr]
    assert [r.last_active_at_ms for r in registry] == [5_000]
    registry.touch("AAAAAAAAAAAAAAA=", 6_000)
    registry.mark_open("AAAAAAAAAAAAAAA=")  # a status change keeps the activity
    assert registry.get_open("AAAAAAAAAAAAAAA=").last_active_at_ms == 6_000  # type: ignore[union-attr]
    registry.touch("AAAAAAAAAAAAAAA=", 7_000)
    removed = registry.remove("AAAAAAAAAAAAAAA=")
    assert removed is not None and removed.last_active_at_ms == 7_000
    assert registry.get("AAAAAAAAAAAAAAA=") is None and len(registry) == 0


def test_open_past_finds_idle_and_old_open_connections_from_unfolded_activity() -> None:
    registry = ConnectionRegistry()
    for connection_id, at in (("AAAAAAAAAAAAAAA=", 1_000), ("BBBBBBBBBBBBBBB=", 1_000),
                              ("CCCCCCCCCCCCCCC=", 1_000), ("DDDDDDDDDDDDDDD=", 55_000)):
        registry.add(rec(connection_id, at=at))
    for connection_id in ("AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB=", "DDDDDDDDDDDDDDD="):
        registry.mark_open(connection_id)  # C stays CONNECTING: never swept
    registry.touch("BBBBBBBBBBBBBBB=", 9_000)  # active lately: not idle
    # idle 10 s, at most 60 s old: A idle since 1 s; B active at 9 s; D connected at 55 s.
    assert registry.open_past(15_000, 10_000, 60_000) == ["AAAAAAAAAAAAAAA="]
    assert registry.open_past(19_000, 10_000, 60_000) == ["AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB="]
    # A busy connection still has a maximum age.
    registry.touch("BBBBBBBBBBBBBBB=", 61_000)
    assert registry.open_past(61_000, 10_000, 60_000) == ["AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB="]
    # Reading left the activity unfolded, and nothing changed.
    assert registry.peek("BBBBBBBBBBBBBBB=").last_active_at_ms == 1_000  # type: ignore[union-attr]
    assert registry.get("BBBBBBBBBBBBBBB=").last_active_at_ms == 61_000  # type: ignore[union-attr]
