"""Accepting connections on the gateway's port, and telling TLS from plain by the first byte.

:class:`Acceptor` accepts from a reader callback on the listening socket, up to a burst
per readiness, and then watches each new socket until its first byte arrives. It peeks
at that byte (``MSG_PEEK``: the transport still reads it): 0x16 is a TLS record's
handshake type, a ClientHello, so that ``wss://`` and ``https://`` share the port with
``ws://`` and ``http://`` as :mod:`emulator.net.listener` describes. It hands the socket
on with what it found; a socket that stays silent for the first-byte timeout is closed.

Every connection's path, so without a task or a future per socket: an accept loop
awaiting ``sock_accept`` and a task per socket awaiting its first byte under
``asyncio.wait_for`` cost 8–13 µs more of the gateway's CPU per connect, of 280–310 in
all (scenario c's connects; BENCHMARKS.md, round eleven).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Callable

log = logging.getLogger("wsgw.server")

__all__ = ["Acceptor", "TLS_RECORD_HANDSHAKE"]

TLS_RECORD_HANDSHAKE = 0x16
_BURST = 64  # accepts per readiness of the listening socket, so a flood cannot starve the loop
_RETRY_S = 0.1  # after a failed accept (EMFILE: out of descriptors), before the next try


class Acceptor:
    """Accepts on ``listening`` (non-blocking, bound and listening) from :meth:`start` to
    :meth:`stop`. ``arrived(sock, tls)`` hears each socket once its first byte is in
    (``tls``: it begins a TLS handshake), from the event loop; ``first_byte_timeout()``
    is read as each socket is accepted."""

    def __init__(self, listening: socket.socket, arrived: Callable[[socket.socket, bool], None],
                 first_byte_timeout: Callable[[], float]) -> None:
        self._listening = listening
        self._arrived = arrived
        self._first_byte_timeout = first_byte_timeout
        self._silent: set[_Silent] = set()  # accepted, no byte yet
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry: asyncio.TimerHandle | None = None

    @property
    def silent(self) -> int:
        """Sockets accepted that have not sent a byte yet."""
        return len(self._silent)

    def start(self) -> None:
        """Accept on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._listening.fileno(), self._accept)

    def stop(self) -> None:
        """Accept no more, and close the sockets still silent (shutdown: none of them
        has asked for anything). The listening socket is the caller's to close."""
        if self._loop is None:
            return
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._loop.remove_reader(self._listening.fileno())
        for silent in list(self._silent):
            silent.drop()
        self._loop = None

    def _accept(self) -> None:
        loop = self._loop
        if loop is None:
            return
        for _ in range(_BURST):
            try:
                sock, _ = self._listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: keep serving the open connections, retry soon
                log.warning("accept failed: %s", exc)
                loop.remove_reader(self._listening.fileno())
                self._retry = loop.call_later(_RETRY_S, self._resume)
                return
            try:
                self._silent.add(_Silent(self, loop, sock))
            except OSError:  # the peer is already gone (setsockopt on a reset socket)
                sock.close()

    def _resume(self) -> None:
        self._retry = None
        if self._loop is not None:
            self._loop.add_reader(self._listening.fileno(), self._accept)

    def _spoke(self, silent: _Silent, first: bytes) -> None:
        self._silent.discard(silent)
        if not first:  # closed without a byte
            silent.sock.close()
            return
        try:
            self._arrived(silent.sock, first[0] == TLS_RECORD_HANDSHAKE)
        except Exception:  # a bug of ours: this connection is lost, the gateway serves on
            log.exception("internal error taking over a connection; dropping it")
            silent.sock.close()


class _Silent:
    """One accepted socket until its first byte (or its timeout, or a shutdown)."""

    __slots__ = ("acceptor", "loop", "sock", "fd", "timer")

    def __init__(self, acceptor: Acceptor, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.acceptor, self.loop, self.sock, self.fd = acceptor, loop, sock, sock.fileno()
        loop.add_reader(self.fd, self._readable)
        self.timer = loop.call_later(acceptor._first_byte_timeout(), self.drop)

    def _readable(self) -> None:
        try:
            first = self.sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return  # not readable after all: still waiting
        except OSError:  # reset before its first byte
            first = b""
        self.loop.remove_reader(self.fd)
        self.timer.cancel()
        self.acceptor._spoke(self, first)

    def drop(self) -> None:
        """Stop waiting and close the socket (its timeout, or shutdown)."""
        self.loop.remove_reader(self.fd)
        self.timer.cancel()
        self.acceptor._silent.discard(self)
        self.sock.close()
