"""emulator.runtime.integrations: the invoker behind the listener's Integrations, and
the test hooks the composition root wraps around it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping

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
