"""Time as the pure core sees it: an injected clock, never ``time.time()`` directly.

Pass a :class:`SystemClock` in production and a :class:`ManualClock` in tests, so
timestamps in events are exact and idle/2-hour timeouts fire without waiting.
"""

from __future__ import annotations

import time
from typing import Protocol


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
