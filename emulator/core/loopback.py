"""Which addresses are this machine's own: the one loopback test.

Used where wsgw decides something by it: warning when the gateway listens beyond
loopback, trusting the local CA or skipping proxies for a local URL, creating tables
only in a local endpoint, signing with the dummy credentials.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_NAMES", "is_loopback_host", "is_loopback_url"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
"""The names the local certificate covers and handlers reach the gateway by."""


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine: ``localhost``,
    127.0.0.0/8 or ::1. Any other name may resolve anywhere, so it is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine (see :func:`is_loopback_host`)."""
    return is_loopback_host(urlsplit(url).hostname or "")
