"""emulator.net.accepting over real loopback sockets, on both event loops: what each new
socket's first byte says, without taking it; silent sockets timed out and closed at
stop; a failed accept retried; a broken callback costing its connection only."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from typing import Any, Callable, Coroutine, TypeVar

import pytest
import uvloop

from emulator.net import accepting
from emulator.net.accepting import Acceptor

T = TypeVar("T")
LOOPS = pytest.mark.parametrize("new_loop", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
Arrival = tuple[socket.socket, bool]


def run(new_loop: Callable[[], asyncio.AbstractEventLoop], coroutine: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(asyncio.wait_for(coroutine, 20))


def listening() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)  # room for the burst test's clients before anything accepts
    sock.setblocking(False)
    return sock


async def connected(server: socket.socket) -> socket.socket:
    loop = asyncio.get_running_loop()
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setblocking(False)
    await loop.sock_connect(client, server.getsockname())
    return client


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.005)


def started(server: socket.socket, timeout_s: float = 30.0) -> tuple[Acceptor, list[Arrival]]:
    arrivals: list[Arrival] = []
    acceptor = Acceptor(server, lambda sock, tls: arrivals.append((sock, tls)), lambda: timeout_s)
    acceptor.start()
    return acceptor, arrivals


async def peer_closed(sock: socket.socket) -> bool:
    """Whether the other end closed ``sock``'s connection: end of file, or a reset (a
    socket closed with bytes unread in it is reset)."""
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.sock_recv(sock, 1), 5) == b""
    except ConnectionResetError:
        return True


@LOOPS
def test_the_first_byte_says_tls_or_plain_and_stays_for_the_transport(new_loop: Callable[[], Any]) -> None:
    async def scenario() -> list[tuple[bool, bytes]]:
        server = listening()
        acceptor, arrivals = started(server)
        plain, tls = await connected(server), await connected(server)
        await until(lambda: acceptor.silent == 2)
        plain.send(b"GET / HTTP/1.1\r\n")
        tls.send(bytes([0x16, 0x03, 0x01]))
        await until(lambda: len(arrivals) == 2)
        found = [(is_tls, sock.recv(100)) for sock, is_tls in sorted(arrivals, key=lambda a: a[1])]
        assert acceptor.silent == 0
        acceptor.stop()
        for sock in (plain, tls, server, *(s for s, _ in arrivals)):
            sock.close()
        return found

    assert run(new_loop, scenario()) == [(False, b"GET / HTTP/1.1\r\n"), (True, bytes([0x16, 0x03, 0x01]))]


@LOOPS
def test_a_silent_socket_is_closed_after_its_timeout_and_one_that_hangs_up_at_once(
    new_loop: Callable[[], Any],
) -> None:
    async def scenario() -> tuple[bool, bool, int]:
        server = listening()
        acceptor, arrivals = started(server, timeout_s=0.2)
        silent = await connected(server)
        leaving = await connected(server)
        leaving.close()
        timed_out = await peer_closed(silent)  # after 0.2 s of silence
        await until(lambda: acceptor.silent == 0)  # and the one that hung up is not kept either
        talking = await connected(server)
        talking.send(b"x")
        await until(lambda: len(arrivals) == 1)
        acceptor.stop()
        for sock in (silent, talking, server, arrivals[0][0]):
            sock.close()
        return timed_out, arrivals[0][1], acceptor.silent

    assert run(new_loop, scenario()) == (True, False, 0)


@LOOPS
def test_stop_closes_the_silent_sockets_and_accepts_no_more(new_loop: Callable[[], Any]) -> None:
    async def scenario() -> tuple[bool, int, int]:
        server = listening()
        acceptor, arrivals = started(server)
        silent = await connected(server)
        await until(lambda: acceptor.silent == 1)
        acceptor.stop()
        closed = await peer_closed(silent)
        late = await connected(server)  # the kernel completes it; nobody takes it
        late.send(b"GET")
        await asyncio.sleep(0.2)
        acceptor.stop()  # a second stop does nothing
        for sock in (silent, late, server):
            sock.close()
        return closed, acceptor.silent, len(arrivals)

    assert run(new_loop, scenario()) == (True, 0, 0)


@LOOPS
def test_more_connections_at_once_than_one_burst_are_all_taken(new_loop: Callable[[], Any]) -> None:
    async def scenario() -> int:
        server = listening()
        clients = [socket.create_connection(server.getsockname()) for _ in range(accepting._BURST * 2 + 5)]
        for client in clients:  # all queued in the backlog before the acceptor starts
            client.send(b"x")
        acceptor, arrivals = started(server)
        await until(lambda: len(arrivals) == len(clients))
        acceptor.stop()
        for sock in (*clients, server, *(s for s, _ in arrivals)):
            sock.close()
        return len(arrivals)

    assert run(new_loop, scenario()) == accepting._BURST * 2 + 5


class _Failing:
    """A listening socket whose accept fails ``times`` times (out of descriptors)."""

    def __init__(self, sock: socket.socket, times: int) -> None:
        self.sock, self.times = sock, times

    def fileno(self) -> int:
        return self.sock.fileno()

    def accept(self) -> tuple[socket.socket, Any]:
        if self.times:
            self.times -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return self.sock.accept()


@LOOPS
def test_a_failed_accept_is_logged_and_tried_again(new_loop: Callable[[], Any], caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> tuple[bool, float]:
        server = listening()
        failing = _Failing(server, times=1)
        arrivals: list[Arrival] = []
        acceptor = Acceptor(failing, lambda sock, tls: arrivals.append((sock, tls)), lambda: 30.0)  # type: ignore[arg-type]
        acceptor.start()
        loop = asyncio.get_running_loop()
        started_at = loop.time()
        client = await connected(server)
        client.send(b"x")
        await until(lambda: len(arrivals) == 1)
        waited = loop.time() - started_at
        acceptor.stop()
        for sock in (client, server, arrivals[0][0]):
            sock.close()
        return failing.times == 0, waited

    with caplog.at_level(logging.WARNING, logger="wsgw.server"):
        retried, waited = run(new_loop, scenario())
    assert retried and waited >= accepting._RETRY_S * 0.9  # not a busy loop: it waited before the retry
    assert "accept failed: [Errno 24] Too many open files" in caplog.text


@LOOPS
def test_a_callback_that_raises_costs_that_connection_only(
    new_loop: Callable[[], Any], caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> tuple[bool, int]:
        server = listening()
        arrivals: list[Arrival] = []

        def arrived(sock: socket.socket, tls: bool) -> None:
            if not arrivals:
                arrivals.append((sock, tls))
                raise RuntimeError("a bug")
            arrivals.append((sock, tls))

        acceptor = Acceptor(server, arrived, lambda: 30.0)
        acceptor.start()
        first, second = await connected(server), await connected(server)
        first.send(b"x")
        dropped = await peer_closed(first)
        second.send(b"y")
        await until(lambda: len(arrivals) == 2)
        acceptor.stop()
        for sock in (first, second, server, arrivals[1][0]):
            sock.close()
        return dropped, len(arrivals)

    with caplog.at_level(logging.ERROR, logger="wsgw.server"):
        assert run(new_loop, scenario()) == (True, 2)
    assert "internal error taking over a connection" in caplog.text
