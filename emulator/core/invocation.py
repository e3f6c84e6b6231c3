"""Values that cross between the gateway core and the invoker.

The core asks for an :class:`Invoke`; the invoker answers with one outcome:
:class:`Succeeded` (the handler returned), :class:`Failed` (it raised, its worker
died, or its module could not be imported) or :class:`TimedOut` (it ran past its
Lambda timeout and its worker was killed).

Two ways to run one: await a coroutine (``run``, ``invoke``), or, on every message's
hot path, start it and be called back with its outcome (``run_soon``, ``invoke_soon``),
which spares the gateway a task and a chain of coroutines per message. A starter may
decline (returns None, having started nothing): the caller awaits the coroutine instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Union, runtime_checkable

from .integration import IntegrationSpec


@dataclass(frozen=True)
class Invoke:
    """Run ``function`` with ``event``; ``request_id`` becomes ``aws_request_id``.

    With an ``integration`` (a route that is not a Lambda proxy) nothing runs in a
    worker: the backends serve ``integration`` from ``event``'s values, ``function``
    is only its label, and the outcome's result is shaped like a proxy result
    (``statusCode``, ``body``) so the lifecycle's rules read it unchanged."""

    function: str
    event: Mapping[str, Any]
    request_id: str
    connection_id: str
    route_key: str
    two_way: bool = False  # a message route with a route response: its result is the reply
    integration: IntegrationSpec | None = None


@dataclass(frozen=True)
class Succeeded:
    """The handler returned ``result`` (any JSON value, ``None`` included)."""

    result: Any
    duration_ms: float


@dataclass(frozen=True)
class Failed:
    """The invocation failed the way Lambda reports it: ``errorType``/``errorMessage``."""

    error_type: str
    error_message: str
    duration_ms: float


@dataclass(frozen=True)
class TimedOut:
    """The handler ran past its timeout; Lambda says "Task timed out after N seconds"."""

    timeout_s: float
    duration_ms: float


Outcome = Union[Succeeded, Failed, TimedOut]


OutcomeCallback = Callable[[Outcome], None]
"""Hears a started invocation's outcome, once, on the event loop."""

Cancel = Callable[[], None]
"""Stops a started invocation (out of its queue, or its worker killed); its callback
is not called."""


class InvocationService(Protocol):
    """What runs a function: the invoker's pools of worker processes."""

    async def invoke(self, function: str, event: Mapping[str, Any], request_id: str) -> Outcome:
        ...


@runtime_checkable
class StartableInvocations(InvocationService, Protocol):
    """An :class:`InvocationService` that can also start an invocation and call back
    with its outcome, or decline with None (the invoker)."""

    def invoke_soon(
        self, function: str, event: Mapping[str, Any], request_id: str, done: OutcomeCallback,
    ) -> Cancel | None:
        ...


class Integrations(Protocol):
    """What the listener needs to run one :class:`Invoke`: an outcome, never an
    exception (a broken invoker is a :class:`Failed` too)."""

    async def run(self, invoke: Invoke) -> Outcome:
        ...


@runtime_checkable
class StartableIntegrations(Integrations, Protocol):
    """:class:`Integrations` that can also start an :class:`Invoke` and call back with
    its outcome (never an exception either), or decline with None."""

    def run_soon(self, invoke: Invoke, done: OutcomeCallback) -> Cancel | None:
        ...


class FaultSource(Protocol):
    """Consulted before each invocation: an outcome to use instead of running the
    handler, or None to run it (the pytest plugin's ``wsgw_faults``)."""

    def before(self, invoke: Invoke) -> Outcome | None:
        ...


InvocationObserver = Callable[[Invoke, Outcome, bool], None]
"""Told of every finished invocation: ``(invoke, outcome, injected)``."""
