"""Route throttling: the stage's ``ThrottlingBurstLimit``/``ThrottlingRateLimit`` as a
token bucket per route (reference apigw-integrations.md §6, DG-PROTECT).

The loader (``emulator/template/route_settings.py``) turns a stage's
``DefaultRouteSettings`` and ``RouteSettings`` into one :class:`ThrottleLimits` per
route; :class:`Throttles` keeps the buckets of one stage and is asked once per
``$connect`` and per routed message.

Deliberate difference from AWS: only limits written in the template are enforced.
AWS also applies an account-level quota (10,000 requests per second, burst 5,000,
DG-LIMITS) to every API; wsgw does not, so a local load test is never throttled by
a quota the template does not mention. Those account values fill in a dimension the
template leaves out (a rate without a burst, or a burst without a rate), since on AWS
that dimension stays at the account's level [?].

Pure: the caller passes the time (from the injected clock).
"""

from __future__ import annotations

from dataclasses import dataclass

# The account quota: route limits cannot exceed it [doc] DG-PROTECT, DG-LIMITS.
ACCOUNT_RATE_LIMIT = 10_000.0
ACCOUNT_BURST_LIMIT = 5_000


@dataclass(frozen=True)
class ThrottleLimits:
    """One route's limits: ``burst`` tokens at most in the bucket, refilled at ``rate``
    tokens per second; each request takes one [doc] DG-PROTECT ("token bucket")."""

    burst: int
    rate: float


def effective_limits(burst: int | None, rate: float | None) -> ThrottleLimits | None:
    """The limits a route gets from its settings, or ``None`` when it has none.

    A missing dimension is the account's (AWS keeps it at the account level [?]); a
    value above the account's is capped to it, as "route limits cannot exceed account
    limits" [doc] DG-PROTECT (AWS may refuse such a value instead [?]).
    """
    if burst is None and rate is None:
        return None
    return ThrottleLimits(
        burst=min(ACCOUNT_BURST_LIMIT if burst is None else burst, ACCOUNT_BURST_LIMIT),
        rate=min(ACCOUNT_RATE_LIMIT if rate is None else rate, ACCOUNT_RATE_LIMIT),
    )


class TokenBucket:
    """A bucket that starts full and refills continuously."""

    __slots__ = ("limits", "_tokens", "_at_ms")

    def __init__(self, limits: ThrottleLimits, now_ms: int) -> None:
        self.limits = limits
        self._tokens = float(limits.burst)
        self._at_ms = now_ms

    def take(self, now_ms: int) -> bool:
        """Take one token at ``now_ms``: ``True`` if there was one (the request goes on),
        ``False`` if the request is throttled (no token is taken then)."""
        limits = self.limits
        if now_ms > self._at_ms:
            self._tokens = min(float(limits.burst), self._tokens + (now_ms - self._at_ms) * limits.rate / 1000.0)
            self._at_ms = now_ms
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Throttles:
    """The token buckets of one stage, one per route key, made on first use.

    Route throttling is per route of the stage, shared by every client [doc]
    DG-PROTECT. A route whose limits change (hot reload) starts a new, full bucket.
    """

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def admit(self, route_key: str, limits: ThrottleLimits, now_ms: int) -> bool:
        """Call once per request on a throttled route, before its integration runs:
        ``False`` means throttled."""
        bucket = self._buckets.get(route_key)
        if bucket is None or (bucket.limits is not limits and bucket.limits != limits):
            bucket = self._buckets[route_key] = TokenBucket(limits, now_ms)
        return bucket.take(now_ms)
