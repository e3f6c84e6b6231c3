"""Which asyncio event loop runs the gateway: uvloop when it is installed.

uvloop cuts the gateway's per-message overhead markedly (``make bench`` measures
both); behaviour is the same on either loop, and the tests run the gateway on the
standard loop in-process and on uvloop through ``wsgw run-local``. Call :func:`run`
instead of ``asyncio.run`` in entry points.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from typing import Any, Coroutine, Literal, TypeVar

T = TypeVar("T")

LoopChoice = Literal["auto", "asyncio", "uvloop"]


def resolve(choice: LoopChoice) -> Literal["asyncio", "uvloop"]:
    """The loop ``choice`` means on this machine; ``auto`` prefers uvloop."""
    if choice == "auto":
        return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    return choice


def run(coroutine: Coroutine[Any, Any, T], choice: LoopChoice = "auto") -> T:
    """Run ``coroutine`` to completion on the chosen loop, like ``asyncio.run``."""
    with runner(choice) as loop_runner:
        return loop_runner.run(coroutine)


def runner(choice: LoopChoice = "auto") -> asyncio.Runner:
    """An ``asyncio.Runner`` on the chosen loop: for an entry point that starts something
    on the loop (a child process), does synchronous work while it runs, then serves."""
    if resolve(choice) == "uvloop":
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    return asyncio.Runner()


class LoopThread:
    """A new asyncio event loop for a daemon thread, for synchronous callers (the pytest
    plugin, tests): :meth:`start` it, :meth:`run` coroutines on it and wait for their
    results, :meth:`close` it. What is started on it (a gateway, a child process) stays
    bound to its loop."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once; later calls do nothing)."""
        if self._thread.ident is None:
            self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
        """Run ``coroutine`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def close(self, timeout_s: float = 60.0) -> None:
        """Stop the loop, join the thread and close the loop."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout_s)
        if not self.loop.is_running():
            self.loop.close()
