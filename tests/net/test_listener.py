"""emulator.net.listener, below the sessions: binding, and sockets accepted while the
listener shuts down. (Serving is covered over real sockets in test_websocket_session,
test_http_session, test_hostile_input and the end-to-end tests.)"""

from __future__ import annotations

import asyncio
import socket

import pytest

from emulator.core.errors import StartupError
from emulator.net.listener import Listener, bind_listener, exposure_warning


def test_a_socket_whose_adoption_is_cancelled_before_it_ran_is_closed() -> None:
    # Shutdown cancels the tasks that look at newly accepted sockets; one cancelled
    # before its first step never reaches its own close().
    async def scenario() -> tuple[int, int]:
        listener = Listener(None, None, None)  # type: ignore[arg-type]  # adoption needs none of them
        ours, theirs = socket.socketpair()
        try:
            task = listener._start_adopting(ours)
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
