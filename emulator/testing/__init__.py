"""wsgw for pytest: the plugin (:mod:`.plugin`, loaded through the ``pytest11`` entry
point), the gateways it runs and their clock, its WebSocket clients, fault injection.

May import: anything in ``emulator`` but ``tools`` and ``commands``; nothing else in ``emulator`` imports it.

Import the public types from here (``from emulator.testing import HandshakeRefused``).
The fixtures are not re-exported: pytest registers them once, from the plugin.
"""

from .clients import AsyncWsgwClient, Closed, HandshakeRefused, WsgwClient
from .faults import Fault, InvocationRecord, InvocationView
from .fixture_values import WsgwAws, WsgwClock, WsgwFaults
from .plugin import WsgwGateway

__all__ = [
    "AsyncWsgwClient", "Closed", "Fault", "HandshakeRefused", "InvocationRecord", "InvocationView", "WsgwAws",
    "WsgwClient", "WsgwClock", "WsgwFaults", "WsgwGateway",
]
