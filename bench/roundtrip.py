"""What is timed: sequential round trips on one WebSocket connection.

One run opens a connection, sends the same 44-byte JSON text message ``warmup``
times untimed, then ``messages`` times timed: each round trip is send, then wait
for the reply, then the next, so there is never more than one message in flight.
Each round trip is timed with ``time.perf_counter_ns`` from just before the send to
just after the reply arrived; the run's throughput is ``messages`` divided by the
wall time of the timed loop. Client overhead (this process's websockets client) is
part of every figure, for every target alike.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from dataclasses import dataclass
from typing import Sequence

from websockets.asyncio.client import ClientConnection, connect

# Any message goes to $default; "action" keeps it realistic for route selection.
MESSAGE = '{"action":"echo","payload":"xxxxxxxxxxxxxx"}'
assert len(MESSAGE.encode()) == 44


class UnexpectedReply(Exception):
    """The server answered something other than the message it was sent."""


@dataclass(frozen=True)
class RunResult:
    """One run against one target: latency percentiles and throughput."""

    target: str
    messages: int
    p50_ms: float
    p99_ms: float
    msgs_per_s: float
    elapsed_s: float


@dataclass(frozen=True)
class TargetSummary:
    """A target's runs and the median of each figure over them."""

    target: str
    runs: tuple[RunResult, ...]

    @property
    def p50_ms(self) -> float:
        return statistics.median(run.p50_ms for run in self.runs)

    @property
    def p99_ms(self) -> float:
        return statistics.median(run.p99_ms for run in self.runs)

    @property
    def msgs_per_s(self) -> float:
        return statistics.median(run.msgs_per_s for run in self.runs)


def percentile_ns(sorted_samples: Sequence[int], percent: float) -> int:
    """Nearest-rank percentile of already sorted samples."""
    rank = max(1, math.ceil(percent / 100 * len(sorted_samples)))
    return sorted_samples[rank - 1]


async def measure_run(target: str, url: str, *, messages: int, warmup: int, timeout_s: float) -> RunResult:
    """Open a connection to ``url``, warm up, time ``messages`` round trips, close.

    Raises :class:`UnexpectedReply`, ``TimeoutError`` if the whole run takes longer
    than ``timeout_s``, or websockets' errors if the connection fails.
    """
    async with asyncio.timeout(timeout_s):
        # Same wire for every target: no compression, no keepalive pings mid-run.
        async with connect(url, compression=None, ping_interval=None) as connection:
            await _round_trips(connection, warmup)
            samples, elapsed_ns = await _round_trips(connection, messages)
    samples.sort()
    return RunResult(
        target=target,
        messages=messages,
        p50_ms=percentile_ns(samples, 50) / 1e6,
        p99_ms=percentile_ns(samples, 99) / 1e6,
        msgs_per_s=messages / (elapsed_ns / 1e9),
        elapsed_s=elapsed_ns / 1e9,
    )


async def _round_trips(connection: ClientConnection, count: int) -> tuple[list[int], int]:
    """``count`` sequential round trips; returns each one's duration and the total (ns)."""
    samples = [0] * count
    clock = time.perf_counter_ns
    started = clock()
    for index in range(count):
        sent = clock()
        await connection.send(MESSAGE)
        reply = await connection.recv()
        samples[index] = clock() - sent
        if reply != MESSAGE:
            raise UnexpectedReply(f"sent {MESSAGE!r}, got {reply!r}")
    return samples, clock() - started
