"""The child side of the bench's server-process protocol.

A server child prints one line ``URL <ws-url>`` on stdout once it accepts
connections, then serves until its stdin reaches end of file (the bench closed it,
or died) or it gets SIGTERM/SIGINT; then it shuts down cleanly and exits.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

URL_PREFIX = "URL "
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def announce(url: str) -> None:
    """Tell the bench where to connect (the one line it waits for)."""
    sys.stdout.write(f"{URL_PREFIX}{url}\n")
    sys.stdout.flush()


async def wait_for_stop() -> None:
    """Return once stdin is at end of file or a stop signal arrived."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    fd = sys.stdin.fileno()

    def on_stdin() -> None:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            stop.set()

    try:
        loop.add_reader(fd, on_stdin)
        watching = True
    except (PermissionError, ValueError):  # stdin is a regular file or /dev/null
        watching = False
    try:
        await stop.wait()
    finally:
        if watching:
            loop.remove_reader(fd)
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
