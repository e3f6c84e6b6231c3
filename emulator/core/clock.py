"""Time as the pure core sees it: an injected clock, never ``time.time()`` directly.

Pass a :class:`SystemClock` in production and a :class:`ManualClock` in tests, so
timestamps in events are exact and idle/2-hour timeouts fire without waiting.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "iso8601_ms"]


def iso8601_ms(epoch_ms: int) -> str:
    """``2026-11-29T10:00:00.123Z``: UTC, milliseconds, ``Z``. The form AWS uses for
    GetConnection's ``connectedAt``/``lastActiveAt`` (reference §7) and Lambda for
    the timestamps of its own log lines."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


class Clock(Protocol):
    """Anything that can tell the current time in epoch milliseconds."""

    def now_ms(self) -> int:
        """Return the current time as integer milliseconds since the epoch."""
        ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that moves only when told to; for tests and the pytest plugin."""

    def __init__(self, start_ms: int = 1_731_324_924_553) -> None:
        self._now_ms = start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> None:
        """Move the clock forward by ``ms`` milliseconds (never backwards)."""
        if ms < 0:
            raise ValueError("a clock never goes backwards")
        self._now_ms += ms
