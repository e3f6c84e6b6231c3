"""The child side of the bench's server-process protocol.

A server child prints one line ``URL <ws-url>`` on stdout once it accepts
connections, then serves until its stdin reaches end of file (the bench closed it,
or died) or it gets SIGTERM/SIGINT; then it shuts down cleanly and exits.

While it serves, each line the bench writes to its stdin is a command (``stats``,
``reset``...); a child that takes commands answers each with one line
``REPLY <json>`` on stdout (``{"error": ...}`` for one it does not know).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any, Callable

URL_PREFIX = "URL "
REPLY_PREFIX = "REPLY "
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Commands = Callable[[str], Any]
"""Answers one command line (without its newline) with a JSON-able value."""


def announce(url: str) -> None:
    """Tell the bench where to connect (the one line it waits for)."""
    sys.stdout.write(f"{URL_PREFIX}{url}\n")
    sys.stdout.flush()


def reply(value: Any) -> None:
    """Answer a command (the bench reads the next ``REPLY`` line)."""
    sys.stdout.write(f"{REPLY_PREFIX}{json.dumps(value)}\n")
    sys.stdout.flush()


def raise_open_files_limit() -> int:
    """Raise this process's soft open-files limit to its hard limit; returns it.

    Thousands of idle connections need thousands of descriptors, and the usual soft
    limit (1024) is far below the usual hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft)


async def wait_for_stop(commands: Commands | None = None) -> None:
    """Return once stdin is at end of file or a stop signal arrived; meanwhile
    answer each command line on stdin with ``commands`` (ignored if None)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    fd = sys.stdin.fileno()
    pending = bytearray()

    def on_stdin() -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            stop.set()
            return
        pending.extend(data)
        while (end := pending.find(b"\n")) >= 0:
            line = pending[:end].decode("utf-8", "replace").strip()
            del pending[: end + 1]
            if commands is not None and line:
                try:
                    reply(commands(line))
                except Exception as exc:  # a bad command must not stop the server
                    reply({"error": f"{type(exc).__name__}: {exc}"})

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
