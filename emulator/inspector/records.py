"""What the inspector remembers: one small immutable record per thing that happened,
kept in a bounded :class:`Ring`.

Records (``core/activity.py``, the gateway's one stream of what happened) hold the
values the gateway already made (the :class:`Invoke`, the :class:`Outcome`, the
frame's text): keeping one is a ``deque.append``. Turning records into what a page
shows (JSON, masked secrets, attributed log lines) is :mod:`.views`' job and happens
only when a page asks.

A record's *sequence number* is its position in everything ever recorded; the ring
keeps the newest ``size`` of them, and fewer when their text (frames, log lines,
events' bodies) would weigh more than ``max_bytes``: 10,000 records of 128 KB messages
would otherwise hold over a gigabyte. A reader remembers the next number it wants
(:meth:`Ring.since`) and learns how many it missed when the ring moved past it.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Iterator

# The records are the gateway's one stream of what happened (core/activity.py): the
# ring keeps the newest of them, as the console and the pytest plugin hear the same.
from . import DEFAULT_RING_SIZE
from ..core.activity import (
    AccessLine, Closed, Connected, FrameIn, FrameOut, Invocation, LogLine, Managed, MessageRefused, Opened, Record,
    Refused,
)

__all__ = [
    "AccessLine", "Closed", "Connected", "DEFAULT_RING_BYTES", "DEFAULT_RING_SIZE", "FrameIn", "FrameOut",
    "Invocation", "LogLine", "Managed", "MessageRefused", "Opened", "Record", "Refused", "Ring",
]

DEFAULT_RING_BYTES = 64 * 1024 * 1024
RECORD_OVERHEAD_BYTES = 200  # a record and the values it holds, roughly, besides its text


def weight(record: Record) -> int:
    """Roughly how many bytes ``record`` keeps alive: its text, plus a fixed overhead.
    An invocation's event shares its body with the frame it came from, so only its
    result is counted."""
    if isinstance(record, (FrameIn, FrameOut)):
        return RECORD_OVERHEAD_BYTES + len(record.text)
    if isinstance(record, (LogLine, AccessLine)):
        return RECORD_OVERHEAD_BYTES + len(record.line)
    if isinstance(record, Invocation):
        result = getattr(record.outcome, "result", None)
        body = result.get("body") if isinstance(result, dict) else None
        return RECORD_OVERHEAD_BYTES + (len(body) if isinstance(body, str) else 0)
    return RECORD_OVERHEAD_BYTES


class Ring:
    """The newest records, numbered from 0 in the order they came: at most ``size`` of
    them, weighing at most ``max_bytes`` (:func:`weight`)."""

    def __init__(self, size: int = DEFAULT_RING_SIZE, max_bytes: int = DEFAULT_RING_BYTES) -> None:
        if size < 1:
            raise ValueError("a ring holds at least one record")
        self.size = size
        self.max_bytes = max_bytes
        self._records: deque[Record] = deque()
        self._weights: deque[int] = deque()
        self._bytes = 0
        self._next = 0  # the sequence number the next record gets

    def __len__(self) -> int:
        return len(self._records)

    @property
    def bytes(self) -> int:
        """The weight of the records kept."""
        return self._bytes

    def append(self, record: Record) -> None:
        """Keep ``record``; the oldest ones go while the ring is over its size or weight
        (the newest always stays). The hot path while a page is open."""
        heavy = weight(record)
        self._records.append(record)
        self._weights.append(heavy)
        self._bytes += heavy
        self._next += 1
        while len(self._records) > 1 and (len(self._records) > self.size or self._bytes > self.max_bytes):
            self._records.popleft()
            self._bytes -= self._weights.popleft()

    @property
    def next_seq(self) -> int:
        """The sequence number the next record will get."""
        return self._next

    @property
    def first_seq(self) -> int:
        """The sequence number of the oldest record still kept."""
        return self._next - len(self._records)

    def since(self, seq: int, limit: int | None = None) -> tuple[int, list[tuple[int, Record]]]:
        """``(missed, records)``: the records numbered ``seq`` and later (at most
        ``limit``, oldest first, each with its number), and how many records from
        ``seq`` on are no longer kept. The next call should ask for the number after
        the last one returned, or for ``seq + missed`` when none was."""
        first = self.first_seq
        missed = max(0, first - seq)
        start = max(seq, first)
        stop = self._next if limit is None else min(self._next, start + limit)
        if start >= stop:
            return missed, []
        offset = start - first
        chosen = islice(self._records, offset, offset + (stop - start))
        return missed, list(enumerate(chosen, start))

    def latest(self, count: int) -> list[tuple[int, Record]]:
        """The newest ``count`` records, oldest first, with their numbers."""
        return self.since(max(self.first_seq, self._next - count))[1]

    def __iter__(self) -> Iterator[tuple[int, Record]]:
        return iter(list(enumerate(self._records, self.first_seq)))

    def reversed(self) -> Iterator[tuple[int, Record]]:
        """Newest first (for looking back from the end, e.g. an invocation's lines)."""
        last = self._next - 1
        return ((last - index, record) for index, record in enumerate(reversed(self._records)))

