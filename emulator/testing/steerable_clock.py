"""The clock of every gateway the pytest plugin starts: real time until a test steers it.

A shared gateway should behave like ``wsgw run-local``, so its clock follows real time;
a test that requests ``wsgw_clock`` calls :meth:`SteerableClock.hold`, moves time with
:meth:`SteerableClock.advance`, and the fixture calls :meth:`SteerableClock.release` at
the test's end (why this is safe on a shared gateway: :mod:`emulator.testing.plugin`).
"""

from __future__ import annotations

import threading
import time

__all__ = ["SteerableClock"]


class SteerableClock:
    """Real time plus an offset, or held still while a test drives it.
    Satisfies :class:`emulator.core.clock.Clock`; never goes back."""

    def __init__(self) -> None:
        self._offset_ms = 0
        self._held_ms: int | None = None
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        held = self._held_ms
        return held if held is not None else time.time_ns() // 1_000_000 + self._offset_ms

    def hold(self) -> None:
        """Stop following real time (a test takes control)."""
        with self._lock:
            if self._held_ms is None:
                self._held_ms = self.now_ms()

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("a clock never goes backwards")
        with self._lock:
            self._held_ms = (self._held_ms if self._held_ms is not None else self.now_ms()) + ms

    def release(self) -> None:
        """Follow real time again, from the current reading."""
        with self._lock:
            if self._held_ms is not None:
                self._offset_ms = self._held_ms - time.time_ns() // 1_000_000
                self._held_ms = None
