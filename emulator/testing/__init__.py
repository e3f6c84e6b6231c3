"""wsgw for pytest: the plugin (:mod:`.plugin`, loaded through the ``pytest11`` entry
point), the gateways it runs and their clock, its WebSocket clients, fault injection.

May import: anything in ``emulator`` but ``tools`` and ``commands``; nothing else in ``emulator`` imports it.

Import the public types from here (``from emulator.testing import HandshakeRefused``).
The fixtures are not re-exported: pytest registers them once, from the plugin.
The names are loaded on first use: pytest imports this package in every session of an
environment with wsgw installed (for the plugin), and what they need costs ~0.5 s.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clients import AsyncWsgwClient, Closed, HandshakeRefused, WsgwClient
    from .faults import Fault, InvocationRecord, InvocationView
    from .fixture_values import WsgwAws, WsgwClock, WsgwFaults
    from .wsgw_gateway import WsgwGateway

_HOMES = {
    "AsyncWsgwClient": "clients", "Closed": "clients", "HandshakeRefused": "clients", "WsgwClient": "clients",
    "Fault": "faults", "InvocationRecord": "faults", "InvocationView": "faults",
    "WsgwAws": "fixture_values", "WsgwClock": "fixture_values", "WsgwFaults": "fixture_values",
    "WsgwGateway": "wsgw_gateway",
}
__all__ = [
    "AsyncWsgwClient", "Closed", "Fault", "HandshakeRefused", "InvocationRecord", "InvocationView", "WsgwAws",
    "WsgwClient", "WsgwClock", "WsgwFaults", "WsgwGateway",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)
