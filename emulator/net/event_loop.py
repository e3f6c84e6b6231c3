"""Which asyncio event loop runs the gateway: uvloop when it is installed.

uvloop cuts the gateway's per-message overhead markedly (``make bench`` measures
both); behaviour is the same on either loop, and the tests run the gateway on the
standard loop in-process and on uvloop through ``wsgw run-local``. Call :func:`run`
instead of ``asyncio.run`` in entry points.
"""

from __future__ import annotations

import asyncio
import importlib.util
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
    if resolve(choice) == "uvloop":
        import uvloop

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)
