"""The connection table: which connections exist and what API Gateway remembers
about each (``connectedAt``, ``lastActiveAt``, the client's identity).

Unlike a ``defaultdict``, an unknown id is simply absent: callers decide what that
means (410 for the management API). A connection's status moves along
:data:`TRANSITIONS` only: ``CONNECTING`` while its authorizer/``$connect`` runs,
``OPEN`` once the 101 is sent, ``CLOSING`` once a closing handshake started from
either side (``@connections`` answers 410 from then on); it leaves the table when its
socket is gone (:meth:`ConnectionRegistry.remove`, from any status).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping, Optional

from .iam_identity import event_identity


class ConnectionStatus(enum.Enum):
    CONNECTING = "CONNECTING"
    OPEN = "OPEN"
    CLOSING = "CLOSING"


TRANSITIONS: Mapping[ConnectionStatus, frozenset[ConnectionStatus]] = {
    ConnectionStatus.CONNECTING: frozenset({ConnectionStatus.OPEN}),
    ConnectionStatus.OPEN: frozenset({ConnectionStatus.CLOSING}),
    ConnectionStatus.CLOSING: frozenset(),
}
"""Which status a connection may move to from each status (removal aside)."""


@dataclass(frozen=True, slots=True)  # one per connection: slots keep it small (bench e)
class ConnectionRecord:
    """What the gateway knows about one connection; replaced, never mutated."""

    connection_id: str
    connected_at_ms: int
    last_active_at_ms: int
    source_ip: str
    user_agent: str | None
    status: ConnectionStatus = ConnectionStatus.CONNECTING
    # Fault injection (the pytest plugin's mark_gone): @connections answers 410 for
    # this connection while its socket stays open, as for a stale id on AWS.
    reported_gone: bool = False
    authorizer: Mapping[str, Any] | None = None  # requestContext.authorizer, if one ran
    # Who signed the upgrade request, when $connect is AWS_IAM (core/iam_identity.py).
    iam_caller: Mapping[str, Optional[str]] | None = None

    def identity(self) -> dict[str, str]:
        """The client's identity as events and GetConnection show it: ``sourceIp``,
        plus ``userAgent`` only if the client sent one [obs] PT-*, GO-*, aws-cli
        example (reference §1.3, §7)."""
        identity = {"sourceIp": self.source_ip}
        if self.user_agent is not None:
            identity["userAgent"] = self.user_agent
        return identity

    def event_identity(self) -> Mapping[str, Optional[str]]:
        """``requestContext.identity`` of this connection's events: :meth:`identity`,
        or for an ``AWS_IAM`` caller the full identity object with the signer's fields,
        on ``$connect`` and every later event (``iam_identity.py``)."""
        if self.iam_caller is None:
            return self.identity()
        return event_identity(self.source_ip, self.user_agent, self.iam_caller)


class InvalidTransition(ValueError):
    """A status change :data:`TRANSITIONS` does not allow: a bug of the caller's."""


class ConnectionRegistry:
    """All connections the gateway currently knows, by connection id.

    Activity (:meth:`touch`, twice per message) is kept apart from the records and
    folded into a record's ``last_active_at_ms`` when it is read: the hot path then
    replaces no record per message."""

    def __init__(self) -> None:
        self._records: dict[str, ConnectionRecord] = {}
        self._active: dict[str, int] = {}  # activity not yet folded into the record

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[ConnectionRecord]:
        return iter([self._current(record) for record in list(self._records.values())])

    def add(self, record: ConnectionRecord) -> None:
        """Register a connection that has just started its handshake."""
        if record.connection_id in self._records:
            raise ValueError(f"duplicate connection id {record.connection_id}")
        self._records[record.connection_id] = record

    def get(self, connection_id: str) -> ConnectionRecord | None:
        record = self._records.get(connection_id)
        return None if record is None else self._current(record)

    def peek(self, connection_id: str) -> ConnectionRecord | None:
        """The record as of its last change other than activity: its
        ``last_active_at_ms`` may be older than :meth:`get`'s. For building events,
        which do not carry ``lastActiveAt`` (every message's hot path)."""
        return self._records.get(connection_id)

    def get_open(self, connection_id: str) -> ConnectionRecord | None:
        """The record if the connection is established (``$connect`` done) and not
        closing (nor reported gone by a test's fault), else None."""
        record = self._records.get(connection_id)
        if record is None or record.status is not ConnectionStatus.OPEN or record.reported_gone:
            return None
        return self._current(record)

    def is_open(self, connection_id: str) -> bool:
        """Whether :meth:`get_open` would find the connection (without bringing its
        record's activity up to date: a post's check, once per post)."""
        record = self._records.get(connection_id)
        return record is not None and record.status is ConnectionStatus.OPEN and not record.reported_gone

    def mark_gone(self, connection_id: str) -> bool:
        """Make the management API treat an open connection as gone (410) while its
        socket stays open: what a stale id looks like on AWS. For fault injection."""
        record = self.get(connection_id)
        if record is None:
            return False
        self._records[connection_id] = replace(record, reported_gone=True)
        return True

    def mark_open(self, connection_id: str) -> ConnectionRecord:
        """Call when the 101 is sent: the connection becomes usable."""
        return self._move(connection_id, ConnectionStatus.OPEN)

    def mark_closing(self, connection_id: str) -> None:
        """Call when a closing handshake starts, from either side (again is fine);
        nothing for a connection that is unknown or not established."""
        record = self._records.get(connection_id)
        if record is not None and record.status is ConnectionStatus.OPEN:
            self._move(connection_id, ConnectionStatus.CLOSING)

    def _move(self, connection_id: str, status: ConnectionStatus) -> ConnectionRecord:
        record = self._current(self._records[connection_id])
        if status not in TRANSITIONS[record.status]:
            raise InvalidTransition(f"{connection_id}: {record.status.value} -> {status.value}")
        record = replace(record, status=status)
        self._records[connection_id] = record
        return record

    def set_authorizer(self, connection_id: str, context: Mapping[str, Any]) -> ConnectionRecord:
        """Remember what the authorizer returned, for every later event."""
        record = replace(self._current(self._records[connection_id]), authorizer=context)
        self._records[connection_id] = record
        return record

    def touch(self, connection_id: str, now_ms: int) -> None:
        """Record activity (an inbound message or an outbound post) for ``lastActiveAt``."""
        if connection_id in self._records:
            self._active[connection_id] = now_ms

    def open_past(self, now_ms: int, idle_ms: int, max_age_ms: int) -> list[str]:
        """Ids of the OPEN connections without activity for ``idle_ms`` or connected
        for ``max_age_ms``, at ``now_ms``. For the timeout sweep, which looks at every
        connection every second: it reads activity without folding it into records
        (folding would replace the record of every connection that was active)."""
        active = self._active
        open_ = ConnectionStatus.OPEN
        return [
            connection_id for connection_id, record in self._records.items()
            if record.status is open_ and (
                now_ms - active.get(connection_id, record.last_active_at_ms) >= idle_ms
                or now_ms - record.connected_at_ms >= max_age_ms
            )
        ]

    def remove(self, connection_id: str) -> ConnectionRecord | None:
        """Forget a connection; returns its last record, or None if it was unknown."""
        record = self._records.get(connection_id)
        if record is None:
            return None
        record = self._current(record)
        del self._records[connection_id]
        return record

    def _current(self, record: ConnectionRecord) -> ConnectionRecord:
        """``record`` with its latest activity folded in (and stored so)."""
        active = self._active.pop(record.connection_id, None)
        if active is None or active == record.last_active_at_ms:
            return record
        record = replace(record, last_active_at_ms=active)
        self._records[record.connection_id] = record
        return record
