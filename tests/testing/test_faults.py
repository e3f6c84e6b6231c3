"""The fault plan and the invocation log (emulator/testing/faults.py), without a gateway."""

from __future__ import annotations

import pytest

from emulator.core.invocation import Failed, Invoke, Succeeded, TimedOut
from emulator.testing.faults import Dropped, FaultPlan, InvocationLog


def _event(route_key: str = "echo", function: str = "Echo", connection_id: str = "c1") -> Invoke:
    return Invoke(function, {"body": "{}"}, "req-1", connection_id, route_key)


def test_fault_plan_injects_in_order_and_only_as_often_as_asked() -> None:
    plan = FaultPlan({"Echo": 3.0, "Disconnect": 1.0})
    assert plan.before(_event()) is None
    plan.fail_next("Echo", "KeyError", "boom", times=2)
    plan.time_out_next("Echo")
    assert plan.before(_event()) == Failed("KeyError", "boom", 0.0)
    assert plan.before(_event(function="Other")) is None
    assert isinstance(plan.before(_event()), Failed)
    assert plan.before(_event()) == TimedOut(3.0, 3000.0)
    assert plan.before(_event()) is None and plan.pending() == []


def test_fault_plan_drops_disconnects_of_one_connection_or_any() -> None:
    plan = FaultPlan({"Disconnect": 1.0})
    plan.drop_next_disconnect("c2")
    assert plan.before(_event("$disconnect", "Disconnect", "c1")) is None
    assert isinstance(plan.before(_event("$disconnect", "Disconnect", "c2")), Dropped)
    plan.drop_next_disconnect()
    plan.clear()
    assert plan.before(_event("$disconnect", "Disconnect")) is None


def test_fault_plan_names_the_functions_when_one_is_unknown() -> None:
    plan = FaultPlan({"Echo": 3.0})
    with pytest.raises(ValueError, match="no function 'Ecko'; its functions: Echo"):
        plan.fail_next("Ecko")
    with pytest.raises(ValueError, match="at least 1"):
        plan.time_out_next("Echo", times=0)


def test_invocation_view_filters_and_waits() -> None:
    log = InvocationLog()
    log(_event(), Succeeded("old", 1.0), False)
    view = log.view()
    log(_event("$disconnect", "Disconnect"), Dropped(None, 0.0), True)
    log(_event(), Failed("E", "m", 2.0), True)
    log.add_line("Echo", "hello")
    assert [r.status for r in view] == ["dropped", "failed"]
    assert view.filter(function="Echo")[0].injected
    assert view.wait_for(route_key="$disconnect").status == "dropped"
    assert view.logs("Echo") == ["hello"] and view.logs("Other") == []
    with pytest.raises(AssertionError, match="expected 2 invocation"):
        view.wait_for_count(2, status="failed", timeout=0.05)
    view.clear()
    assert len(view) == 0
    log(_event(), Succeeded("new", 1.0), False)
    log.forget()
    assert len(view) == 0 and log.view().filter() == []
    log(_event(), Succeeded("newer", 1.0), False)
    assert [r.result for r in view] == ["newer"] and view.filter()[0].index == 4
