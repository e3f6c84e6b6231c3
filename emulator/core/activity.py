"""What happened on the gateway: one record per happening, in one stream.

Every consumer of "what happened" reads the same records: the inspector's ring
(``emulator/inspector``), run-local's console and its ``--log-format json``
(``emulator/tools/console.py``), and the pytest plugin's ``wsgw_invocations``
(``emulator/testing/faults.py``). Each is a *subscriber* of one :class:`Activity`,
naming the kinds of record it wants; the gateway *produces* each record once, from the
places it already reports what it did:

* the core's decisions (``core/recording.py``: the lifecycle and ``@connections``
  rules with one publish after each decision): :class:`Opened`, :class:`Connected`,
  :class:`FrameIn`, :class:`FrameOut`, :class:`Closed`, :class:`Managed`, and the
  stage's access log lines (:class:`AccessLine`, ``core/access_log.py``);
* the integrations' observer (:meth:`Activity.invocation`): :class:`Invocation`;
* the function log sink (:meth:`Activity.log_line`): :class:`LogLine`;
* the listener's refusal observer (:meth:`Activity.refusal`): :class:`Refused`; a
  route's throttling or model (``core/recording.py``): :class:`MessageRefused`.

**Free when unused.** A producer checks one boolean (:attr:`Activity.traffic`,
:attr:`~Activity.invocations`, :attr:`~Activity.logs`, ...) before it builds a record:
no subscriber for a kind, no record of it. The flags change only when a subscription
does (an inspector page opens, a test subscribes), never per message.

Records hold the values the gateway already made (the :class:`Invoke`, the
:class:`Outcome`, a frame's text); turning them into rows, JSON or lines is each
consumer's job, done when it reads them. Pure: no I/O; the wall clock is injected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Union

from .events import Handshake
from .invocation import Failed, Invoke, Outcome, Succeeded
from .management import ManagementRequest

__all__ = [
    "ACCESS", "ALL_KINDS", "AccessLine", "Activity", "Closed", "Connected", "FrameIn", "FrameOut", "INVOCATIONS",
    "Invocation", "LOGS", "LogLine", "Managed", "MessageRefused", "Opened", "REFUSALS", "Record", "Refused",
    "Subscriber", "Subscription", "TRAFFIC", "outcome_status",
]

LAMBDA_PROXY = "AWS_PROXY"


@dataclass(frozen=True, slots=True)
class Opened:
    """An upgrade request was accepted for its authorizer/``$connect`` (not refused yet)."""

    at: float  # seconds since the epoch
    connection_id: str
    handshake: Handshake


@dataclass(frozen=True, slots=True)
class Connected:
    """The 101 was decided: the connection is established."""

    at: float
    connection_id: str
    subprotocol: str | None


@dataclass(frozen=True, slots=True)
class FrameIn:
    """A complete text message from a client, and where it was routed (``invoke``
    None: no route matched and the Forbidden frame went back, or ``refused_route``
    refused it: throttled or invalid, see :class:`MessageRefused`)."""

    at: float
    connection_id: str
    text: str
    invoke: Invoke | None
    refused_route: str | None = None


@dataclass(frozen=True, slots=True)
class FrameOut:
    """A message the gateway itself sent: ``cause`` is ``reply`` (a two-way route's
    result) or ``error`` (Forbidden, Internal server error, Endpoint request timed out)."""

    at: float
    connection_id: str
    text: str
    cause: str
    request_id: str | None


def outcome_status(outcome: Outcome, injected: bool) -> str:
    """``ok``, ``error``, ``timeout`` or ``injected``: how every view names an outcome."""
    if injected:
        return "injected"
    if isinstance(outcome, Succeeded):
        return "ok"
    return "error" if isinstance(outcome, Failed) else "timeout"


@dataclass(frozen=True, slots=True)
class Invocation:
    """A finished invocation (route, authorizer, Lambda Invoke or a replay): of a
    Lambda function or of another integration (MOCK, HTTP, HTTP_PROXY, AWS), named
    alike by :attr:`integration_type`, :attr:`target` and :attr:`integration_status`."""

    at: float
    invoke: Invoke
    outcome: Outcome
    injected: bool

    @property
    def integration_type(self) -> str:
        """``AWS_PROXY`` for a Lambda function (authorizers included), else the
        integration's ``IntegrationType``."""
        spec = self.invoke.integration
        return LAMBDA_PROXY if spec is None else spec.type

    @property
    def target(self) -> str:
        """The function's name, or what the integration calls (``MOCK``, the method and
        URI of an HTTP or AWS-service integration)."""
        spec = self.invoke.integration
        return self.invoke.function if spec is None else spec.label

    @property
    def integration_status(self) -> int | None:
        """The status the integration answered: a non-Lambda integration's HTTP status
        (MOCK: its template's ``statusCode``); for a Lambda proxy, 200 when the
        function returned and None otherwise (Lambda's own Invoke status, as in
        ``$context.integration.integrationStatus`` [doc] DG-LOG)."""
        outcome = self.outcome
        if not isinstance(outcome, Succeeded):
            return None
        if self.invoke.integration is None:
            return 200
        result = outcome.result
        status = result.get("statusCode") if isinstance(result, dict) else None
        return status if isinstance(status, int) else None

    @property
    def status(self) -> str:
        """See :func:`outcome_status`."""
        return outcome_status(self.outcome, self.injected)

    @property
    def duration_ms(self) -> float:
        return self.outcome.duration_ms


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line a function's worker printed (``START``/``END``/``REPORT`` included)."""

    at: float
    function: str
    line: str


@dataclass(frozen=True, slots=True)
class Managed:
    """One ``@connections`` request and the status it got."""

    at: float
    request: ManagementRequest
    status: int
    connection_id: str | None  # None when the target was not a connection path


@dataclass(frozen=True, slots=True)
class Closed:
    """An established connection is gone, with the code and reason ``$disconnect`` sees."""

    at: float
    connection_id: str
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """An upgrade request answered without a 101: where it came from and went, the
    ``status`` sent and the ``reason`` (for the operator; the client sees only the
    status and AWS's body)."""

    at: float
    path: str
    source_ip: str
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class MessageRefused:
    """A message that ran no integration because its route refused it: throttled
    (429) or invalid for the route's model (400). The client got the error frame;
    ``reason`` says why, for the operator."""

    at: float
    connection_id: str
    route_key: str
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class AccessLine:
    """One line of the stage's access log (``AccessLogSettings.Format`` rendered for
    one request: a ``$connect``, a message or a ``$disconnect``), as CloudWatch Logs
    would receive it in ``destination``."""

    at: float
    connection_id: str | None
    request_id: str
    route_key: str
    line: str
    destination: str | None


Record = Union[
    Opened, Connected, FrameIn, FrameOut, Invocation, LogLine, Managed, Closed, Refused, MessageRefused, AccessLine,
]
Subscriber = Callable[[Any], None]
"""Hears each record of the kinds it subscribed to, on the gateway's event loop, as it
happens: it must not block (the plugin's takes a lock; the inspector's appends to a
ring; the console prints a line)."""

TRAFFIC: frozenset[type] = frozenset({Opened, Connected, FrameIn, FrameOut, Managed, Closed})
"""The records the core's decisions produce (``core/recording.py``)."""
INVOCATIONS: frozenset[type] = frozenset({Invocation})
LOGS: frozenset[type] = frozenset({LogLine})
REFUSALS: frozenset[type] = frozenset({Refused, MessageRefused})
ACCESS: frozenset[type] = frozenset({AccessLine})
ALL_KINDS: frozenset[type] = TRAFFIC | INVOCATIONS | LOGS | REFUSALS | ACCESS


@dataclass(eq=False)
class Subscription:
    """A subscriber and the kinds it hears; :meth:`Activity.unsubscribe` ends it."""

    subscriber: Subscriber
    kinds: frozenset[type]


class Activity:
    """The stream of records of one gateway. Make one per gateway (the composition
    root does), subscribe the consumers, hand its producer methods to the gateway's
    report points. ``now()`` stamps records (seconds since the epoch: what a person
    reading a log or a page lives by)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self._subscriptions: list[Subscription] = []
        self._routes: dict[type, tuple[Subscriber, ...]] = {}
        # What producers check before making a record (see the module docstring).
        self.traffic = self.invocations = self.logs = self.refusals = self.access = False

    # -- subscribers -------------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber, kinds: Iterable[type] = ALL_KINDS) -> Subscription:
        """From now on, ``subscriber(record)`` hears every record of ``kinds``."""
        subscription = Subscription(subscriber, frozenset(kinds))
        unknown = subscription.kinds - ALL_KINDS
        if unknown:
            raise ValueError(f"not record kinds: {sorted(kind.__name__ for kind in unknown)}")
        self._subscriptions.append(subscription)
        self._route()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop ``subscription`` (nothing happens if it already stopped)."""
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
            self._route()

    @property
    def subscribed(self) -> bool:
        """Whether anyone is subscribed (to anything) now."""
        return bool(self._subscriptions)

    def _route(self) -> None:
        self._routes = {
            kind: tuple(s.subscriber for s in self._subscriptions if kind in s.kinds) for kind in ALL_KINDS
        }
        self.traffic = any(self._routes[kind] for kind in TRAFFIC)
        self.invocations = bool(self._routes[Invocation])
        self.logs = bool(self._routes[LogLine])
        self.refusals = any(self._routes[kind] for kind in REFUSALS)
        self.access = bool(self._routes[AccessLine])

    # -- producers ---------------------------------------------------------------------

    def publish(self, record: Record) -> None:
        """Hand ``record`` to its kind's subscribers, in the order they subscribed. A
        subscriber that raises does not keep the others (or the gateway) from going on."""
        for subscriber in self._routes.get(type(record), ()):
            try:
                subscriber(record)
            except Exception:  # a consumer's bug must not break the message path
                _report_broken(subscriber)

    def invocation(self, invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        """The integrations' observer (:data:`~emulator.core.invocation.InvocationObserver`)."""
        if self.invocations:
            self.publish(Invocation(self.now(), invoke, outcome, injected))

    def log_line(self, function: str, line: str) -> None:
        """The invoker's function log sink."""
        if self.logs:
            self.publish(LogLine(self.now(), function, line))

    def refusal(self, path: str, source_ip: str, status: int, reason: str) -> None:
        """A handshake answered without a 101 (the listener's refusal observer, through
        the composition root, which unpacks net's ``Refusal``)."""
        if self.refusals:
            self.publish(Refused(self.now(), path, source_ip, status, reason))


def _report_broken(subscriber: Subscriber) -> None:
    logging.getLogger("wsgw.server").exception("a record subscriber (%r) failed", subscriber)
