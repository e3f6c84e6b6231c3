"""The established WebSocket sessions by connection id, and the one place where a
``@connections`` decision is carried out on the wire.

The pure rules (:class:`~emulator.core.management.ManagementApi`) decide what a
``POST``/``DELETE`` does; :meth:`OpenConnections.carry_out` does it to the session.
"""

from __future__ import annotations

from typing import Iterator

from ..core.management import Action, Deliver, Disconnect
from .session_host import EstablishedSession

__all__ = ["OpenConnections"]


class OpenConnections:
    """Sessions whose 101 was sent and whose socket is not gone yet."""

    def __init__(self) -> None:
        self._sessions: dict[str, EstablishedSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[EstablishedSession]:
        """A snapshot: sessions may end while the caller iterates."""
        return iter(list(self._sessions.values()))

    def ids(self) -> set[str]:
        return set(self._sessions)

    def add(self, connection_id: str, session: EstablishedSession) -> None:
        self._sessions[connection_id] = session

    def remove(self, connection_id: str) -> None:
        self._sessions.pop(connection_id, None)

    def get(self, connection_id: str) -> EstablishedSession | None:
        return self._sessions.get(connection_id)

    def find(self, peer: tuple[str, int]) -> str | None:
        """The id of the connection whose client socket is ``peer``."""
        for connection_id, session in self._sessions.items():
            if session.peer() == peer:
                return connection_id
        return None

    def peers(self) -> set[tuple[str, int]]:
        return {peer for session in self._sessions.values() if (peer := session.peer()) is not None}

    def backlog(self, connection_id: str) -> int:
        """Bytes written for ``connection_id`` that its client has not taken yet
        (asyncio's write buffer; the kernel's socket buffers come on top)."""
        session = self._sessions.get(connection_id)
        return 0 if session is None else session.write_backlog()

    def carry_out(self, action: Action) -> None:
        """Do what a ``@connections`` request decided; nothing for a connection that
        went away meanwhile (its answer was already computed from the table)."""
        if action is None:
            return
        session = self._sessions.get(action.connection_id)
        if session is None:
            return
        if isinstance(action, Deliver):
            # Valid UTF-8 goes out as a text frame (what every captured client sees);
            # other bytes as a binary frame. AWS's opcode choice for non-UTF-8 Data is
            # unconfirmed [?] (reference §6). Admitted by the rules already (they
            # answer 429 when the client's buffer is full): not bounded again here.
            try:
                action.data.decode("utf-8")
                session.send_data(action.data, text=True, bounded=False)
            except UnicodeDecodeError:
                session.send_data(action.data, text=False, bounded=False)
        elif isinstance(action, Disconnect):
            # AWS closes with 1000; the close frame's reason text is unconfirmed [?],
            # so we send none and report "Connection Closed Normally" to $disconnect
            # as AWS's logs do (chalice#2060).
            session.close(action.code, "", reported_reason=action.reason)
