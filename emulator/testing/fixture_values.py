"""The values the ``wsgw_faults``, ``wsgw_clock`` and ``wsgw_aws`` fixtures give a test:
thin handles on a :class:`~emulator.testing.gateway_pool.RunningGateway` (its faults,
its steerable clock, boto3 for its embedded AWS services). The plugin (:mod:`.plugin`)
builds one per test; import the types from :mod:`emulator.testing`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .faults import Fault
from .gateway_pool import RunningGateway

__all__ = ["WsgwAws", "WsgwClock", "WsgwFaults"]


class WsgwFaults:
    """Faults for the next invocations (the value of ``wsgw_faults``); every armed
    fault not used up is dropped at the test's end. Function names are the app's."""

    def __init__(self, running: RunningGateway) -> None:
        self._running = running

    def fail_next(self, function: str, error_type: str = "Error", message: str = "Injected failure",
                  *, times: int = 1) -> Fault:
        """The next invocation(s) of ``function`` fail as if it raised: a message route
        answers ``Internal server error``, ``$connect`` refuses the handshake with 502."""
        return self._running.faults.fail_next(function, error_type, message, times=times)

    def time_out_next(self, function: str, *, times: int = 1) -> Fault:
        """The next invocation(s) of ``function`` end as a Lambda timeout, without waiting."""
        return self._running.faults.time_out_next(function, times=times)

    def drop_next_disconnect(self, connection_id: str | None = None, *, times: int = 1) -> Fault:
        """The next ``$disconnect`` (of ``connection_id``, if given) is not run: it is
        best-effort on AWS, and an app must survive a missed one."""
        return self._running.faults.drop_next_disconnect(connection_id, times=times)

    def mark_gone(self, connection_id: str) -> bool:
        """The management API answers 410 Gone for ``connection_id`` while its socket
        stays open (a stale id); False if no such connection."""
        registry = self._running.local.lifecycle.registry if self._running.local.lifecycle is not None else None
        return self._running.background.call(lambda: registry.mark_gone(connection_id) if registry else False)

    def pending(self) -> list[Fault]:
        """The faults armed and not used up yet, in the order armed."""
        return self._running.faults.pending()

    def clear(self) -> None:
        """Disarm every fault now (the test's end does it too)."""
        self._running.faults.clear()


class WsgwClock:
    """The gateway's clock, held still for this test (the value of ``wsgw_clock``)."""

    def __init__(self, running: RunningGateway) -> None:
        self._running = running
        running.clock.hold()

    def now_ms(self) -> int:
        """The gateway's time in epoch milliseconds (what events' timestamps read)."""
        return self._running.clock.now_ms()

    def advance(self, seconds: float | timedelta) -> int:
        """Move time forward, then close the connections past their idle timeout
        (10 min) or maximum duration (2 h) with 1001; returns how many it closed."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        self._running.clock.advance(round(seconds * 1000))
        return self.sweep()

    def sweep(self) -> int:
        """Run the timeout check now (``advance`` does it for you)."""
        return self._running.background.call(self._running.local.sweep)


class WsgwAws:
    """boto3 for the embedded AWS services (the value of ``wsgw_aws``):
    ``wsgw_aws("dynamodb")`` is a client, ``wsgw_aws.resource("dynamodb")`` a resource."""

    def __init__(self, running: RunningGateway) -> None:
        self._running = running
        self.endpoint_url = running.local.aws_endpoint_url
        self.region = running.local.model.region

    def __call__(self, service: str) -> Any:
        return self._running.boto("client", service)

    def resource(self, service: str) -> Any:
        return self._running.boto("resource", service)
