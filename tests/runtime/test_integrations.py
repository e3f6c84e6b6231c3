"""emulator.runtime.integrations: the invoker behind the listener's Integrations, and
the test hooks the composition root wraps around it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Mapping

import pytest

from emulator.core.invocation import Failed, Invoke, Outcome, Succeeded
from emulator.runtime.integrations import HookedIntegrations, InvokerIntegrations
from emulator.testing.faults import FaultPlan, InvocationLog


def _invoke(function: str = "Echo") -> Invoke:
    return Invoke(function, {"body": "x"}, "req-1", "c1", "echo")


class _CountingInvoker:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Mapping[str, Any], str]] = []

    async def invoke(self, function: str, event: Mapping[str, Any], request_id: str) -> Outcome:
        self.calls.append((function, event, request_id))
        return Succeeded("ran", 1.0)


class _BrokenInvoker:
    async def invoke(self, function: str, event: Mapping[str, Any], request_id: str) -> Outcome:
        raise RuntimeError("pool gone")


def test_invoker_integrations_pass_the_invoke_through_and_log_one_line(caplog: pytest.LogCaptureFixture) -> None:
    invoker = _CountingInvoker()
    with caplog.at_level(logging.INFO, logger="wsgw.server"):
        outcome = asyncio.run(InvokerIntegrations(invoker).run(_invoke()))
    assert outcome == Succeeded("ran", 1.0)
    assert invoker.calls == [("Echo", {"body": "x"}, "req-1")]
    assert [r.getMessage() for r in caplog.records] == ["c1 echo req-1 -> Echo ok (1.0 ms)"]


def test_a_broken_invoker_is_a_failed_outcome_not_an_exception(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="wsgw.server"):
        outcome = asyncio.run(InvokerIntegrations(_BrokenInvoker()).run(_invoke()))
    assert isinstance(outcome, Failed)
    assert (outcome.error_type, outcome.error_message) == ("Runtime.Unknown", "pool gone")
    assert any("invoking Echo failed" in r.getMessage() for r in caplog.records)


def test_hooks_inject_without_running_and_report_every_outcome(caplog: pytest.LogCaptureFixture) -> None:
    invoker, plan, log = _CountingInvoker(), FaultPlan({"Echo": 3.0}), InvocationLog()
    hooked = HookedIntegrations(InvokerIntegrations(invoker), faults=plan, observer=log)
    view = log.view()
    plan.fail_next("Echo")
    with caplog.at_level(logging.INFO, logger="wsgw.server"):
        assert isinstance(asyncio.run(hooked.run(_invoke())), Failed)
        assert asyncio.run(hooked.run(_invoke())) == Succeeded("ran", 1.0)
    assert len(invoker.calls) == 1
    assert [(r.status, r.injected) for r in view] == [("failed", True), ("succeeded", False)]
    assert ["(injected)" in r.getMessage() for r in caplog.records] == [True, False]


def test_a_failing_observer_does_not_lose_the_outcome() -> None:
    def observer(invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        raise ValueError("observer bug")

    hooked = HookedIntegrations(InvokerIntegrations(_CountingInvoker()), faults=None, observer=observer)
    assert asyncio.run(hooked.run(_invoke())) == Succeeded("ran", 1.0)


class _StartingInvoker(_CountingInvoker):
    """Starts every invocation (``invoke_soon``) and answers on the loop's next turn,
    or declines them all (``decline``)."""

    def __init__(self, *, decline: bool = False) -> None:
        super().__init__()
        self.decline = decline
        self.started: list[str] = []

    def invoke_soon(
        self, function: str, event: Mapping[str, Any], request_id: str, done: Callable[[Outcome], None],
    ) -> Callable[[], None] | None:
        if self.decline:
            return None
        self.started.append(request_id)
        return asyncio.get_running_loop().call_soon(done, Succeeded("started", 2.0)).cancel


def _run_soon(integrations: Any, invoke: Invoke) -> tuple[bool, list[Outcome]]:
    """run_soon on a loop: whether it started, and what its callback heard."""
    heard: list[Outcome] = []

    async def scenario() -> bool:
        started = integrations.run_soon(invoke, heard.append) is not None
        await asyncio.sleep(0.01)
        return started

    return asyncio.run(scenario()), heard


def test_run_soon_starts_through_the_invoker_and_logs_the_same_line(caplog: pytest.LogCaptureFixture) -> None:
    invoker = _StartingInvoker()
    with caplog.at_level(logging.INFO, logger="wsgw.server"):
        assert _run_soon(InvokerIntegrations(invoker), _invoke()) == (True, [Succeeded("started", 2.0)])
    assert invoker.started == ["req-1"] and invoker.calls == []
    assert [r.getMessage() for r in caplog.records] == ["c1 echo req-1 -> Echo ok (2.0 ms)"]


def test_run_soon_declines_what_only_run_can_do() -> None:
    # An invoker that cannot start, one that declines, one that raises (run() reports
    # that as a Failed outcome), and a route with another integration.
    assert _run_soon(InvokerIntegrations(_CountingInvoker()), _invoke()) == (False, [])
    assert _run_soon(InvokerIntegrations(_StartingInvoker(decline=True)), _invoke()) == (False, [])

    class Raising(_StartingInvoker):
        def invoke_soon(self, *args: Any) -> None:
            raise KeyError("no function")

    assert _run_soon(InvokerIntegrations(Raising()), _invoke()) == (False, [])
    other = Invoke("Echo", {}, "req-1", "c1", "echo", integration=object())  # type: ignore[arg-type]
    assert _run_soon(InvokerIntegrations(_StartingInvoker(), others=_BrokenInvoker()), other) == (False, [])  # type: ignore[arg-type]


def test_hooked_run_soon_injects_and_observes_and_declines_with_its_inner() -> None:
    plan, log = FaultPlan({"Echo": 3.0}), InvocationLog()
    view = log.view()
    invoker = _StartingInvoker()
    hooked = HookedIntegrations(InvokerIntegrations(invoker), faults=plan, observer=log)
    plan.fail_next("Echo")
    started, heard = _run_soon(hooked, _invoke())
    assert started and len(heard) == 1 and isinstance(heard[0], Failed)  # injected: the handler did not run
    assert invoker.started == []
    assert _run_soon(hooked, _invoke()) == (True, [Succeeded("started", 2.0)])
    assert [(r.status, r.injected) for r in view] == [("failed", True), ("succeeded", False)]
    # An inner that declines: so does the hook (run() will run it), unless a fault
    # is injected, which needs no worker.
    declining = HookedIntegrations(InvokerIntegrations(_CountingInvoker()), faults=plan, observer=log)
    assert _run_soon(declining, _invoke()) == (False, [])
    plan.fail_next("Echo")
    started, heard = _run_soon(declining, _invoke())
    assert started and len(heard) == 1 and isinstance(heard[0], Failed)
    assert len(view) == 3
