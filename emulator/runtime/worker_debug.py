"""run-local ``--debug-function``: a worker that waits for a debugger (debugpy).

Loaded by ``worker.py`` by path, and only when ``WSGW_DEBUGPY`` is set: it runs
inside the handler's process, so it imports only the standard library (and debugpy,
when installed).
"""

from __future__ import annotations

import os
import sys
from typing import Callable


def debugpy_hook() -> Callable[[], None] | None:
    """``WSGW_DEBUGPY=host:port`` (run-local ``--debug-function``): listen for a debugger
    now, before the handler is imported, and return a hook that waits for one to attach
    before the first invocation runs (init has a 10 s limit; an invocation's is raised).
    If the port is still held (a hot reload starts this worker beside the old one),
    listening is tried again before each invocation."""
    address = os.environ.get("WSGW_DEBUGPY")
    if not address:
        return None
    host, _, port = address.rpartition(":")
    # Its warning about frozen modules concerns only the standard library's.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # A worker that sees only its declared packages (provisioning.py) finds debugpy
    # beside wsgw, for this import only.
    beside = [folder for folder in os.environ.get("WSGW_HOST_PATH", "").split(os.pathsep) if folder]
    sys.path.extend(beside)
    try:
        import debugpy  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print(f"wsgw: debugpy is not installed (pip install debugpy); not listening on {address}")
        return None
    finally:
        for folder in beside:
            sys.path.remove(folder)
    state = {"listening": False, "attached": False}

    def listen() -> None:
        if not state["listening"]:
            try:
                debugpy.listen((host or "127.0.0.1", int(port)))
            except Exception as exc:  # e.g. the old worker still holds the port
                print(f"wsgw: debugpy cannot listen on {address} yet: {exc}")
                return
            state["listening"] = True
            print(f"wsgw: debugpy listening on {address}; attach your IDE to run the handler")

    def before_invoke() -> None:
        listen()
        if state["listening"] and not state["attached"]:
            debugpy.wait_for_client()
            state["attached"] = True

    listen()
    return before_invoke
