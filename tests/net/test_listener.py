"""emulator.net.listener, below the sessions: binding, and sockets accepted while the
listener shuts down. (Serving is covered over real sockets in test_websocket_session,
test_http_session, test_hostile_input and the end-to-end tests.)"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Callable

import pytest

from emulator.core.errors import StartupError
from emulator.core.invocation import Invoke, Outcome, Succeeded
from emulator.net.listener import Listener, bind_listener, exposure_warning


def test_a_socket_whose_adoption_is_cancelled_before_it_ran_is_closed() -> None:
    # Shutdown cancels the tasks that look at newly accepted sockets; one cancelled
    # before its first step never reaches its own close().
    async def scenario() -> tuple[int, int]:
        listener = Listener(None, None, None)  # type: ignore[arg-type]  # adoption needs none of them
        ours, theirs = socket.socketpair()
        try:
            task = listener._start_adopting(ours, secure=False)
            task.cancel()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            return ours.fileno(), len(listener._adopting)
        finally:
            theirs.close()

    fileno, still_adopting = asyncio.run(scenario())
    assert fileno == -1  # closed
    assert still_adopting == 0


def test_bind_listener_names_the_port_in_use() -> None:
    taken = bind_listener("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=f"port {port} on 127.0.0.1 is already in use"):
            bind_listener("127.0.0.1", port)
    finally:
        taken.close()


@pytest.mark.parametrize("host, warned", [
    ("127.0.0.1", False), ("127.0.0.2", False), ("::1", False), ("localhost", False),
    ("0.0.0.0", True), ("::", True), ("192.168.1.10", True), ("myhost.example", True),
])
def test_binding_beyond_loopback_warns(host: str, warned: bool) -> None:
    warning = exposure_warning(host)
    assert (warning is not None) is warned
    if warning:
        assert host in warning and "--host 127.0.0.1" in warning


class _BrokenSession:
    """An established session whose socket fails when written to."""

    connection_id = "AAAAAAAAAAAAAAA="

    def peer(self) -> tuple[str, int] | None:
        return ("127.0.0.1", 1)

    def write_backlog(self) -> int:
        return 0

    def send_data(self, data: bytes, *, text: bool, bounded: bool = True) -> bool:
        raise RuntimeError("transport gone")

    def close(self, code: int, reason: str, *, reported_reason: str | None = None) -> None:
        raise RuntimeError("transport gone")

    def abort(self) -> None:
        pass


def test_a_post_is_answered_before_it_is_delivered_and_a_failed_delivery_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from emulator.core.clock import ManualClock
    from emulator.core.management import ManagementApi, ManagementRequest
    from emulator.core.model import Limits
    from emulator.core.registry import ConnectionRecord, ConnectionRegistry

    registry = ConnectionRegistry()
    registry.add(ConnectionRecord("AAAAAAAAAAAAAAA=", 1, 1, "127.0.0.1", None))
    registry.mark_open("AAAAAAAAAAAAAAA=")
    management = ManagementApi(stage="dev", registry=registry, clock=ManualClock(), limits=Limits())
    listener = Listener(None, management, None)  # type: ignore[arg-type]  # manage() needs only these
    listener.established(_BrokenSession())
    answered: list[int] = []
    signed = "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=x"
    request = ManagementRequest("POST", "/dev/@connections/AAAAAAAAAAAAAAA%3D", b"hi", signed)
    with caplog.at_level("ERROR", logger="wsgw.server"):
        listener.manage(request, "r1", lambda response: answered.append(response.status))
    assert answered == [200]
    assert any("carrying out" in record.getMessage() for record in caplog.records)


class _Starting:
    """Integrations that start every Invoke and let the test finish it."""

    def __init__(self) -> None:
        self.started: list[Callable[[Outcome], None]] = []
        self.cancelled = 0

    async def run(self, invoke: Invoke) -> Outcome:
        raise AssertionError("not awaited: started")

    def run_soon(self, invoke: Invoke, done: Callable[[Outcome], None]) -> Callable[[], None]:
        self.started.append(done)

        def cancel() -> None:
            self.cancelled += 1

        return cancel


def test_a_started_integration_is_tracked_until_done_and_its_callbacks_bug_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> tuple[int, int, int]:
        integrations = _Starting()
        listener = Listener(None, None, integrations)  # type: ignore[arg-type]  # integrate_soon needs no more

        def broken(outcome: Outcome) -> None:
            raise RuntimeError("a bug after the integration")

        assert listener.integrate_soon(Invoke("Fn", {}, "r-1", "c-1", "$default"), broken)
        during = listener.background_tasks
        integrations.started[0](Succeeded(None, 1.0))  # the outcome comes: the callback raises
        # A second one still running when shutdown's deadline passes is cancelled.
        assert listener.integrate_soon(Invoke("Fn", {}, "r-2", "c-1", "$default"), broken)
        cut_short = await listener.shutdown(0.05)
        return during, cut_short, integrations.cancelled

    with caplog.at_level(logging.ERROR, logger="wsgw.server"):
        during, cut_short, cancelled = asyncio.run(scenario())
    assert (during, cut_short, cancelled) == (1, 1, 1)
    assert any(r.getMessage() == "internal error after an integration" for r in caplog.records)
