"""emulator.core.clock: the injected clocks and the one ISO-8601 format."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.core.clock import ManualClock, SystemClock, iso8601_ms


@pytest.mark.parametrize(
    ("epoch_ms", "expected"),
    [
        (1_731_324_924_553, "2024-11-11T11:35:24.553Z"),
        (1_588_277_433_236, "2020-04-30T20:10:33.236Z"),
        (1_588_277_442_997, "2020-04-30T20:10:42.997Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
        (1_735_689_599_999, "2024-12-31T23:59:59.999Z"),
        (1_735_689_600_000, "2025-01-01T00:00:00.000Z"),
        (1_000, "1970-01-01T00:00:01.000Z"),
        (7, "1970-01-01T00:00:00.007Z"),
    ],
)
def test_iso8601_ms_known_values(epoch_ms: int, expected: str) -> None:
    assert iso8601_ms(epoch_ms) == expected


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_iso8601_ms_matches_exact_integer_arithmetic(epoch_ms: int) -> None:
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=epoch_ms)
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert iso8601_ms(epoch_ms) == expected


def test_manual_clock_moves_only_forward_and_only_when_told() -> None:
    clock = ManualClock(start_ms=1_000)
    assert clock.now_ms() == 1_000
    clock.advance(250)
    assert clock.now_ms() == 1_250
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    assert clock.now_ms() == 1_250


def test_system_clock_reads_epoch_milliseconds() -> None:
    before = int(datetime.now(timezone.utc).timestamp() * 1000)
    now = SystemClock().now_ms()
    after = int(datetime.now(timezone.utc).timestamp() * 1000)
    assert before - 1 <= now <= after + 1
