"""Running one :class:`~emulator.core.invocation.Invoke`: the invoker behind the
:class:`~emulator.core.invocation.Integrations` contract the listener uses.

:class:`InvokerIntegrations` is what ``run-local`` serves with: it runs the function
through the invoker, turns a broken invoker into a ``Failed`` outcome (the gateway
keeps serving), and logs one line per invocation. The composition root wraps it in
:class:`HookedIntegrations` when there are faults or an observer (the pytest
plugin's; run-local's console observes every invocation), so the listener's path has
no hooks of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ..core.invocation import (
    Cancel, Failed, FaultSource, Integrations, InvocationObserver, InvocationService, Invoke, Outcome,
    OutcomeCallback, StartableIntegrations, StartableInvocations, Succeeded,
)

log = logging.getLogger("wsgw.server")

__all__ = ["HookedIntegrations", "InvokerIntegrations", "log_outcome"]


def log_outcome(invoke: Invoke, outcome: Outcome, *, injected: bool = False) -> None:
    """The one log line of a finished invocation (logger ``wsgw.server``, INFO)."""
    status = "ok" if isinstance(outcome, Succeeded) else type(outcome).__name__.lower()
    log.info(
        "%s %s %s -> %s %s%s (%.1f ms)", invoke.connection_id, invoke.route_key, invoke.request_id,
        invoke.function, status, " (injected)" if injected else "", outcome.duration_ms,
    )


class InvokerIntegrations:
    """Lambda proxy calls through ``invoker``; Invokes of routes with another
    integration (``invoke.integration``: MOCK, HTTP, AWS services) go to ``others``
    (``emulator/backends``), so a Lambda route pays one attribute test for them."""

    def __init__(self, invoker: InvocationService, others: Integrations | None = None) -> None:
        self.invoker = invoker
        self.others = others
        self._starter = invoker if isinstance(invoker, StartableInvocations) else None

    async def run(self, invoke: Invoke) -> Outcome:
        """Run ``invoke``'s function; never raises for handler or invoker faults."""
        started = time.perf_counter()
        try:
            if invoke.integration is not None and self.others is not None:
                outcome = await self.others.run(invoke)
            else:
                outcome = await self.invoker.invoke(invoke.function, invoke.event, invoke.request_id)
        except Exception as exc:  # the invoker itself broke: report, keep serving
            log.exception("invoking %s failed", invoke.function)
            outcome = Failed("Runtime.Unknown", str(exc), (time.perf_counter() - started) * 1000)
        log_outcome(invoke, outcome)
        return outcome

    def run_soon(self, invoke: Invoke, done: OutcomeCallback) -> Cancel | None:
        """:meth:`run` without a coroutine, for a Lambda proxy the invoker can start
        now (an idle worker, or a place in the queue of a function whose workers are
        all busy); None (nothing started) otherwise, or if the invoker raised."""
        starter = self._starter
        if starter is None or (invoke.integration is not None and self.others is not None):
            return None

        def finished(outcome: Outcome) -> None:
            log_outcome(invoke, outcome)
            done(outcome)

        try:
            return starter.invoke_soon(invoke.function, invoke.event, invoke.request_id, finished)
        except Exception:  # run() meets it again, and reports it as a Failed outcome
            return None


class HookedIntegrations:
    """``inner`` with test hooks: ``faults`` may supply an outcome instead (the
    handler does not run), ``observer`` hears of every outcome."""

    def __init__(self, inner: Integrations, *, faults: FaultSource | None, observer: InvocationObserver | None) -> None:
        self.inner = inner
        self.faults = faults
        self.observer = observer
        self._starter = inner if isinstance(inner, StartableIntegrations) else None

    async def run(self, invoke: Invoke) -> Outcome:
        injected = self.faults.before(invoke) if self.faults is not None else None
        if injected is not None:
            outcome: Outcome = injected  # a test's fault: the handler does not run
            log_outcome(invoke, outcome, injected=True)
        else:
            outcome = await self.inner.run(invoke)
        self._observe(invoke, outcome, injected is not None)
        return outcome

    def run_soon(self, invoke: Invoke, done: OutcomeCallback) -> Cancel | None:
        """:meth:`run` without a coroutine: an injected outcome is delivered on the
        loop's next turn, else ``inner`` starts ``invoke``. None (``inner`` declined):
        nothing was started and no fault used up."""
        starter = self._starter
        if starter is None:
            return None
        injected = self.faults.before(invoke) if self.faults is not None else None
        if injected is not None:
            log_outcome(invoke, injected, injected=True)
            self._observe(invoke, injected, True)
            return asyncio.get_running_loop().call_soon(done, injected).cancel

        def finished(outcome: Outcome) -> None:
            self._observe(invoke, outcome, False)
            done(outcome)

        return starter.run_soon(invoke, finished)

    def _observe(self, invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        if self.observer is not None:
            try:
                self.observer(invoke, outcome, injected)
            except Exception:
                log.exception("invocation observer failed")
