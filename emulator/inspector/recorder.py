"""Where the inspector's records come from: the gateway's one stream of what happened.

The composition root (``emulator/app.py``) makes one
:class:`~emulator.core.activity.Activity` per gateway; the core's decisions, the
integrations' observer, the function log sink and the refusal observer publish into
it (``core/activity.py``, ``core/recording.py``). The :class:`Recorder` is one
subscriber among the others (run-local's console, the pytest plugin): it appends what
it hears to the inspector's :class:`~.records.Ring`.

**Recording while watched.** Even a few records per message cost about 5 % of
scenario a's throughput (bench/inspector_overhead.py). So by default the recorder is
subscribed only while a page is open, and for :data:`LINGER_S` after the last one
closed (a reload or a closed tab keeps its history): with no page open (and no other
subscriber of those kinds) the producers make no record at all. ``always=True``
(run-local's ``--inspector-record-always``) records from the start, for a page opened
after the fact.
"""

from __future__ import annotations

import asyncio

from ..core.activity import ALL_KINDS, AccessLine, Activity, Record, Subscription
from ..core.recording import RecordingLifecycle, RecordingManagement
from .records import Ring

__all__ = ["LINGER_S", "Recorder", "RecordingLifecycle", "RecordingManagement"]

LINGER_S = 600.0  # how long recording goes on after the last page closed
# What the page shows: everything but the access log lines (the console has those).
KINDS = ALL_KINDS - {AccessLine}


class Recorder:
    """Appends the records of ``activity`` to ``ring`` while :attr:`recording` (see
    the module docstring)."""

    def __init__(self, ring: Ring, activity: Activity, *, always: bool = False, linger_s: float = LINGER_S) -> None:
        self.ring = ring
        self.activity = activity
        self.always = always
        self.linger_s = linger_s
        self._subscription: Subscription | None = None
        self._stop_later: asyncio.TimerHandle | None = None
        if always:
            self._start()

    @property
    def recording(self) -> bool:
        """Whether records reach the ring now."""
        return self._subscription is not None

    def append(self, record: Record) -> None:
        """The subscriber: keep ``record``."""
        self.ring.append(record)

    def watched_by(self, pages: int) -> None:
        """Tell how many pages are open now (the inspector calls this on every change):
        recording starts with the first page and stops ``linger_s`` after the last."""
        if self._stop_later is not None:
            self._stop_later.cancel()
            self._stop_later = None
        if pages > 0 or self.always:
            self._start()
        elif self.recording:
            try:
                self._stop_later = asyncio.get_running_loop().call_later(self.linger_s, self._stop)
            except RuntimeError:  # no loop: the gateway is gone, nothing more to record
                self._stop()

    def _start(self) -> None:
        if self._subscription is None:
            self._subscription = self.activity.subscribe(self.append, KINDS)

    def _stop(self) -> None:
        self._stop_later = None
        if self._subscription is not None:
            self.activity.unsubscribe(self._subscription)
            self._subscription = None
