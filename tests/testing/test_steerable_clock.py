"""The gateways' clock in the pytest plugin (emulator/testing/steerable_clock.py)."""

from __future__ import annotations

import time

import pytest

from emulator.testing.steerable_clock import SteerableClock


def test_steerable_clock_holds_advances_and_never_goes_back() -> None:
    clock = SteerableClock()
    assert abs(clock.now_ms() - time.time() * 1000) < 1000
    clock.hold()
    held = clock.now_ms()
    time.sleep(0.02)
    assert clock.now_ms() == held
    clock.advance(600_000)
    assert clock.now_ms() == held + 600_000
    clock.release()
    time.sleep(0.02)
    assert clock.now_ms() >= held + 600_020
    with pytest.raises(ValueError):
        clock.advance(-1)
