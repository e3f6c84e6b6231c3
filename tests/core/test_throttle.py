"""Tests for emulator.core.throttle: route limits and their token buckets, on a
clock the test moves."""

from __future__ import annotations

from emulator.core.clock import ManualClock
from emulator.core.throttle import (
    ACCOUNT_BURST_LIMIT, ACCOUNT_RATE_LIMIT, ThrottleLimits, Throttles, TokenBucket, effective_limits,
)


def test_no_settings_means_no_limits() -> None:
    # Deliberate: the account quota is not applied when the template sets nothing.
    assert effective_limits(None, None) is None


def test_a_missing_dimension_is_the_accounts_and_values_are_capped() -> None:
    assert effective_limits(2, None) == ThrottleLimits(2, ACCOUNT_RATE_LIMIT)
    assert effective_limits(None, 1.5) == ThrottleLimits(ACCOUNT_BURST_LIMIT, 1.5)
    assert effective_limits(1_000_000, 1e9) == ThrottleLimits(ACCOUNT_BURST_LIMIT, ACCOUNT_RATE_LIMIT)


def test_a_full_bucket_lets_burst_requests_through_then_refills_at_the_rate() -> None:
    clock = ManualClock()
    bucket = TokenBucket(ThrottleLimits(burst=2, rate=1.0), clock.now_ms())
    assert [bucket.take(clock.now_ms()) for _ in range(3)] == [True, True, False]
    clock.advance(999)
    assert bucket.take(clock.now_ms()) is False  # 0.999 of a token
    clock.advance(1)
    assert bucket.take(clock.now_ms()) is True
    assert bucket.take(clock.now_ms()) is False


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    clock = ManualClock()
    bucket = TokenBucket(ThrottleLimits(burst=2, rate=100.0), clock.now_ms())
    clock.advance(3_600_000)
    assert [bucket.take(clock.now_ms()) for _ in range(3)] == [True, True, False]


def test_fractional_rates_and_a_zero_burst() -> None:
    clock = ManualClock()
    slow = TokenBucket(ThrottleLimits(burst=1, rate=0.5), clock.now_ms())
    assert slow.take(clock.now_ms()) is True
    clock.advance(1_000)
    assert slow.take(clock.now_ms()) is False
    clock.advance(1_000)
    assert slow.take(clock.now_ms()) is True
    closed = TokenBucket(ThrottleLimits(burst=0, rate=10.0), clock.now_ms())
    clock.advance(10_000)
    assert closed.take(clock.now_ms()) is False  # a bucket of size 0 admits nothing


def test_each_route_has_its_own_bucket_and_new_limits_start_a_new_one() -> None:
    clock = ManualClock()
    throttles = Throttles()
    one = ThrottleLimits(burst=1, rate=0.0)
    assert throttles.admit("a", one, clock.now_ms()) is True
    assert throttles.admit("a", one, clock.now_ms()) is False
    assert throttles.admit("b", one, clock.now_ms()) is True  # another route's bucket
    # A reload that changes the route's limits: a fresh, full bucket.
    assert throttles.admit("a", ThrottleLimits(burst=2, rate=0.0), clock.now_ms()) is True
