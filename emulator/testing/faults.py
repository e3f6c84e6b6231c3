"""The test side of the integration hooks: a fault plan and an invocation log.

Every integration (``$connect``, a message route, ``$disconnect``, a Lambda Invoke)
runs through :class:`~emulator.runtime.integrations.HookedIntegrations` when the
plugin starts a gateway. It asks the :class:`FaultPlan` first
(:meth:`FaultPlan.before`): ``None`` means "run the handler", an outcome means "act
as if the handler had produced this" (the handler does not run); then it reports
every finished invocation to the observer (an :class:`InvocationLog`).

Both are plain thread-safe objects: a test arms faults and reads the log from its own
thread while the gateway runs on its loop in another. Pure: the standard library and
:mod:`emulator.core.invocation` only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from ..core.activity import AccessLine, Invocation, LogLine, Record
from ..core.invocation import Failed, Invoke, Outcome, Succeeded, TimedOut

DISCONNECT_ROUTE = "$disconnect"


@dataclass(frozen=True)
class Dropped(Succeeded):
    """A ``$disconnect`` that never ran: AWS delivers it on a best-effort basis
    [doc] DOCS-disconnect ("$disconnect is a best-effort event")."""


@dataclass
class Fault:
    """One armed fault: what it matches and the outcome it injects, ``remaining`` times."""

    kind: str  # "fail", "timeout" or "drop"
    outcome: Outcome
    function: str | None = None
    route_key: str | None = None
    connection_id: str | None = None
    remaining: int = 1

    def matches(self, invoke: Invoke) -> bool:
        return (
            (self.function is None or self.function == invoke.function)
            and (self.route_key is None or self.route_key == invoke.route_key)
            and (self.connection_id is None or self.connection_id == invoke.connection_id)
        )


class FaultPlan:
    """Faults to inject into the next matching invocations, in the order armed.

    ``timeouts`` maps each function of the app to its Lambda timeout (seconds): it
    names the functions a fault may target and what a timed-out outcome reports.
    """

    def __init__(self, timeouts: Mapping[str, float]) -> None:
        self._timeouts = dict(timeouts)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def fail_next(self, function: str, error_type: str = "Error",
                  message: str = "Injected failure", *, times: int = 1) -> Fault:
        """The next ``times`` invocations of ``function`` fail as if the handler raised."""
        self._check(function)
        return self._arm(Fault("fail", Failed(error_type, message, 0.0), function=function, remaining=times))

    def time_out_next(self, function: str, *, times: int = 1) -> Fault:
        """The next ``times`` invocations of ``function`` end as Lambda timeouts, at once."""
        timeout_s = self._check(function)
        outcome = TimedOut(timeout_s, timeout_s * 1000)
        return self._arm(Fault("timeout", outcome, function=function, remaining=times))

    def drop_next_disconnect(self, connection_id: str | None = None, *, times: int = 1) -> Fault:
        """Skip the next ``times`` ``$disconnect`` invocations (of ``connection_id`` only,
        if given): the connection closes, its handler never hears of it."""
        return self._arm(Fault("drop", Dropped(None, 0.0), route_key=DISCONNECT_ROUTE,
                               connection_id=connection_id, remaining=times))

    def pending(self) -> list[Fault]:
        """Armed faults not yet used up."""
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def before(self, invoke: Invoke) -> Outcome | None:
        """The hook: the outcome to inject instead of running ``invoke``, or None."""
        if not self._faults:  # the common case, without taking the lock
            return None
        with self._lock:
            for fault in self._faults:
                if fault.matches(invoke):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault.outcome
        return None

    def _arm(self, fault: Fault) -> Fault:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)
        return fault

    def _check(self, function: str) -> float:
        if function not in self._timeouts:
            known = ", ".join(sorted(self._timeouts)) or "none"
            raise ValueError(f"the app has no function {function!r}; its functions: {known}")
        return self._timeouts[function]


@dataclass(frozen=True)
class InvocationRecord:
    """One finished invocation as the gateway saw it.

    ``status`` is ``"succeeded"``, ``"failed"``, ``"timed_out"`` or ``"dropped"`` (a
    ``$disconnect`` skipped by a fault); ``injected`` tells a fault's outcome from a
    real one. ``result`` is what the handler returned (None unless it succeeded).
    """

    function: str
    route_key: str
    connection_id: str
    request_id: str
    event: Mapping[str, Any]
    outcome: Outcome
    injected: bool
    index: int
    # What ran, named alike for a Lambda function and a MOCK/HTTP/AWS integration
    # (core/activity.Invocation): AWS_PROXY and the function, or the integration's
    # type, what it called and the status it answered.
    integration_type: str = "AWS_PROXY"
    target: str = ""
    integration_status: int | None = None

    @property
    def status(self) -> str:
        if isinstance(self.outcome, Dropped):
            return "dropped"
        if isinstance(self.outcome, Succeeded):
            return "succeeded"
        return "failed" if isinstance(self.outcome, Failed) else "timed_out"

    @property
    def result(self) -> Any:
        return self.outcome.result if isinstance(self.outcome, Succeeded) else None

    @property
    def duration_ms(self) -> float:
        return self.outcome.duration_ms

    @property
    def body(self) -> Any:
        """The event's ``body`` (message routes), else None."""
        return self.event.get("body")


class InvocationLog:
    """Every invocation of one gateway, every line its functions printed, and every
    other record of what happened (frames, connects, closes, ``@connections`` calls,
    access log lines: ``core/activity.py``).

    Subscribe it to the gateway's stream (:meth:`receive`; the pool does), or pass it
    as the server's observer and log sink; read it through :meth:`view`, which only
    shows what happened after the view was made.
    """

    def __init__(self) -> None:
        self._records: list[InvocationRecord] = []
        self._lines: list[tuple[str, str]] = []
        self._activity: list[Record] = []
        self._base = self._line_base = self._activity_base = 0  # how many were forgotten by forget()
        self._changed = threading.Condition()

    def receive(self, record: Record) -> None:
        """The stream's subscriber: called on the gateway's loop for each record."""
        if isinstance(record, Invocation):
            self._invocation(record.invoke, record.outcome, record.injected, record)
            with self._changed:
                self._activity.append(record)
        elif isinstance(record, LogLine):
            self.add_line(record.function, record.line)
            with self._changed:
                self._activity.append(record)
        else:
            with self._changed:
                self._activity.append(record)
                self._changed.notify_all()

    def __call__(self, invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        """The observer hook: called on the gateway's loop after each invocation."""
        self._invocation(invoke, outcome, injected, Invocation(0.0, invoke, outcome, injected))

    def _invocation(self, invoke: Invoke, outcome: Outcome, injected: bool, record: Invocation) -> None:
        with self._changed:
            self._records.append(InvocationRecord(
                invoke.function, invoke.route_key, invoke.connection_id, invoke.request_id,
                invoke.event, outcome, injected, self._base + len(self._records),
                record.integration_type, record.target, record.integration_status,
            ))
            self._changed.notify_all()

    def add_line(self, function: str, line: str) -> None:
        """A log sink: one line a function printed."""
        with self._changed:
            self._lines.append((function, line))

    def view(self) -> InvocationView:
        """A view of what happens from now on."""
        with self._changed:
            return InvocationView(self, self._base + len(self._records), self._line_base + len(self._lines),
                                  self._activity_base + len(self._activity))

    def forget(self) -> None:
        """Drop everything so far (views made earlier see nothing more of it): a
        long test session must not keep every event it ever saw."""
        with self._changed:
            self._base += len(self._records)
            self._line_base += len(self._lines)
            self._activity_base += len(self._activity)
            self._records.clear()
            self._lines.clear()
            self._activity.clear()

    def _since(self, start: int) -> list[InvocationRecord]:
        with self._changed:
            return self._records[max(0, start - self._base):]

    def _activity_since(self, start: int) -> list[Record]:
        with self._changed:
            return self._activity[max(0, start - self._activity_base):]

    def _lines_since(self, start: int) -> list[tuple[str, str]]:
        with self._changed:
            return self._lines[max(0, start - self._line_base):]

    def _wait(self, ready: Callable[[], Any], timeout: float) -> Any:
        """Wait until ``ready()`` is truthy (called with the lock held); return it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = ready()
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self._changed.wait(remaining)


class InvocationView:
    """The invocations since a point in time (a test's start), with filters and waits.

    Filters: ``function``, ``route_key``, ``connection_id``, ``status`` (see
    :class:`InvocationRecord`), and ``where``, any predicate on a record.
    """

    def __init__(self, log: InvocationLog, start: int, line_start: int, activity_start: int = 0) -> None:
        self._log = log
        self._start = start
        self._line_start = line_start
        self._activity_start = activity_start

    def __iter__(self) -> Iterator[InvocationRecord]:
        return iter(self._log._since(self._start))

    def __len__(self) -> int:
        return len(self._log._since(self._start))

    def filter(self, *, function: str | None = None, route_key: str | None = None,
               connection_id: str | None = None, status: str | None = None,
               where: Callable[[InvocationRecord], bool] | None = None) -> list[InvocationRecord]:
        """The matching invocations so far, oldest first."""
        return [r for r in self._log._since(self._start)
                if _matches(r, function, route_key, connection_id, status, where)]

    def wait_for(self, *, function: str | None = None, route_key: str | None = None,
                 connection_id: str | None = None, status: str | None = None,
                 where: Callable[[InvocationRecord], bool] | None = None,
                 timeout: float = 5.0) -> InvocationRecord:
        """The first matching invocation, waiting up to ``timeout`` seconds for it
        (``$disconnect`` runs after the close, so wait rather than look)."""
        return self.wait_for_count(1, function=function, route_key=route_key, connection_id=connection_id,
                                   status=status, where=where, timeout=timeout)[0]

    def wait_for_count(self, count: int, *, function: str | None = None, route_key: str | None = None,
                       connection_id: str | None = None, status: str | None = None,
                       where: Callable[[InvocationRecord], bool] | None = None,
                       timeout: float = 5.0) -> list[InvocationRecord]:
        """The first ``count`` matching invocations, waiting for them; AssertionError
        (listing what did happen) if they do not all come within ``timeout``."""
        def ready() -> list[InvocationRecord]:
            found = [r for r in self._log._since(self._start)
                     if _matches(r, function, route_key, connection_id, status, where)]
            return found[:count] if len(found) >= count else []

        found: list[InvocationRecord] = self._log._wait(ready, timeout)
        if not found:
            wanted = {k: v for k, v in dict(function=function, route_key=route_key, connection_id=connection_id,
                                            status=status).items() if v is not None}
            seen = [f"{r.route_key}->{r.function} {r.status}" for r in self]
            raise AssertionError(f"expected {count} invocation(s) matching {wanted} within {timeout} s; "
                                 f"saw: {seen or 'none'}")
        return found

    def logs(self, function: str | None = None) -> list[str]:
        """Lines the functions printed since the view was made (``START``/``END``/
        ``REPORT`` included), of ``function`` only if given."""
        return [line for name, line in self._log._lines_since(self._line_start)
                if function is None or name == function]

    def records(self, *kinds: type) -> list[Record]:
        """Everything that happened since the view was made, oldest first, as the
        gateway's records (``emulator.core.activity``: ``FrameIn``, ``FrameOut``,
        ``Invocation``, ``LogLine``, ``Managed``, ``Opened``, ``Connected``, ``Closed``,
        ``Refused``, ``AccessLine``): the same ones run-local's json log and the
        inspector show. ``kinds``: only records of these classes."""
        found = self._log._activity_since(self._activity_start)
        return [r for r in found if isinstance(r, kinds)] if kinds else found

    def access_log(self) -> list[str]:
        """The stage's access log lines since the view was made (a stage with
        ``AccessLogSettings``), one per ``$connect``, message and ``$disconnect``."""
        return [r.line for r in self.records(AccessLine) if isinstance(r, AccessLine)]

    def clear(self) -> None:
        """Forget everything so far: later calls see only what happens next."""
        fresh = self._log.view()
        self._start, self._line_start = fresh._start, fresh._line_start
        self._activity_start = fresh._activity_start


def _matches(record: InvocationRecord, function: str | None, route_key: str | None,
             connection_id: str | None, status: str | None,
             where: Callable[[InvocationRecord], bool] | None) -> bool:
    return (
        (function is None or record.function == function)
        and (route_key is None or record.route_key == route_key)
        and (connection_id is None or record.connection_id == connection_id)
        and (status is None or record.status == status)
        and (where is None or where(record))
    )
