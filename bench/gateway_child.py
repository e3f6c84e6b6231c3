"""wsgw as a bench child: a :class:`~emulator.app.LocalGateway` on a free port.

Everything ``wsgw run-local`` starts is started here too (worker pool, embedded
moto, TLS material in a throw-away folder), and all of it is stopped with
``await gateway.stop()`` on the way out. Function log lines are not printed (a
terminal printing them would be part of the measurement); only the ``REPORT``
lines' handler durations are kept, with every invocation the gateway observes
(``LocalGateway(observer=...)``), for the ``stats`` command.

Run as ``python -m bench.gateway_child --app PATH``; see :mod:`bench.lifecycle`.
Commands: ``stats`` (invocations by route since the last ``reset``, handler
durations by function, PIDs of workers and moto), ``reset``, ``pids``, ``health``
(what a leak would show: asyncio tasks, open descriptors, sessions, registry
records, resident memory; used by :mod:`bench.soak`).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import os
import statistics
import tracemalloc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from emulator.net import event_loop
from emulator.app import GatewayOptions, LocalGateway, default_max_workers
from emulator.core.errors import WsgwError
from emulator.core.invocation import Invoke, Outcome, Succeeded
from emulator.inspector.server import InspectorOptions
from emulator.template.loader import load_model

from .lifecycle import announce, raise_open_files_limit, wait_for_stop
from .procstats import rss_kib

_REPORT = "REPORT RequestId: "


class Recorder:
    """What the gateway did since the last reset: the observer and the log sink."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> str:
        # route key -> [count, failures, sum of ms, last end (time.monotonic)], and samples
        self.routes: dict[str, list[float]] = {}
        self.samples: dict[str, list[float]] = {}
        self.handler_ms: dict[str, list[float]] = {}
        self.reloads: list[str] = []  # the reloader's report lines
        return "ok"

    def observe(self, invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        entry = self.routes.setdefault(invoke.route_key, [0, 0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += 0 if isinstance(outcome, Succeeded) else 1
        entry[2] += outcome.duration_ms
        entry[3] = time.monotonic()
        self.samples.setdefault(invoke.route_key, []).append(outcome.duration_ms)

    def reload_line(self, line: str) -> None:
        self.reloads.append(line)

    def function_log(self, function: str, line: str) -> None:
        if line.startswith(_REPORT):
            for field in line.split("\t"):
                if field.startswith("Duration: "):
                    self.handler_ms.setdefault(function, []).append(float(field.split()[1]))

    def stats(self) -> dict[str, Any]:
        return {
            "routes": {
                key: {
                    "count": int(count), "failed": int(failed), "mean_ms": total / count if count else 0.0,
                    "median_ms": statistics.median(self.samples[key]), "last_end_monotonic": last,
                }
                for key, (count, failed, total, last) in self.routes.items()
            },
            "handler_ms": {
                name: {"count": len(values), "mean_ms": statistics.fmean(values), "median_ms": statistics.median(values)}
                for name, values in self.handler_ms.items() if values
            },
            "reloads": self.reloads,
        }  # fmt: skip


def _pids(gateway: LocalGateway) -> dict[str, Any]:
    workers = gateway.invoker.worker_pids() if gateway.invoker is not None else {}
    moto = gateway.aws.process.pid if gateway.aws is not None and gateway.aws.process is not None else None
    return {"workers": workers, "moto": moto}


def _malloc_trim() -> None:
    """Ask glibc to give free heap memory back to the kernel, so that resident memory
    shows what is still in use rather than what the allocator keeps for reuse."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the figures then include the allocator's free lists


def _health(gateway: LocalGateway) -> dict[str, Any]:
    """Counts that must come back to their baseline once every client has gone."""
    gc.collect()
    rss_before_trim = rss_kib(os.getpid())
    _malloc_trim()
    server, core = gateway.listener, gateway.lifecycle
    return {
        "asyncio_tasks": len(asyncio.all_tasks()),
        "background_tasks": server.background_tasks if server is not None else None,
        "sessions": len(server.connections) if server is not None else None,
        "transports": len(server._transports) if server is not None else None,
        "registry": len(core.registry) if core is not None else None,
        "open_fds": len(os.listdir("/proc/self/fd")),
        "rss_kib": rss_kib(os.getpid()),  # after giving free heap pages back
        "rss_before_trim_kib": rss_before_trim,
        "aws_endpoint_url": gateway.aws_endpoint_url,
        "top_allocations": _top_allocations(),
        **_pids(gateway),
    }


def _top_allocations(count: int = 12) -> list[str]:
    """The source lines holding the most memory (only with ``--tracemalloc``)."""
    if not tracemalloc.is_tracing():
        return []
    stats = tracemalloc.take_snapshot().statistics("lineno")
    return [str(stat) for stat in stats[:count]]


async def serve_until_stopped(app: Path, *, max_workers: int | None, reload: bool, inspector: bool = False) -> None:
    """Serve ``app`` on 127.0.0.1 (free port) until told to stop; always stop it."""
    model = load_model(app)
    recorder = Recorder()
    with tempfile.TemporaryDirectory(prefix="wsgw-bench-tls-") as tls_dir:
        options = GatewayOptions(port=0, tls_dir=Path(tls_dir), reload=reload,
                                 max_workers_per_function=max_workers or default_max_workers(),
                                 inspector=InspectorOptions() if inspector else None)
        gateway = LocalGateway(model, options, function_log=recorder.function_log, observer=recorder.observe,
                               reload_log=recorder.reload_line)  # fmt: skip

        def command(line: str) -> Any:
            if line == "stats":
                return {**recorder.stats(), **_pids(gateway)}
            if line == "reset":
                return recorder.reset()
            if line == "pids":
                return _pids(gateway)
            if line == "health":
                return _health(gateway)
            raise ValueError(f"unknown command {line!r}")

        try:
            await gateway.start()
            announce(gateway.ws_url)
            await wait_for_stop(command)
        finally:
            await gateway.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_child", description=__doc__)
    parser.add_argument("--app", type=Path, required=True,
                        help="what to serve: a wsgw.json app description, a template or a cdk.out folder")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="event loop")
    parser.add_argument("--max-workers", type=int, default=None,
                        help="worker processes per function at most (default: run-local's, 2 x cores, at least 4)")
    parser.add_argument("--tracemalloc", action="store_true", help="trace allocations (health lists the top lines)")
    parser.add_argument("--reload", action="store_true", help="GatewayOptions(reload=True) (hot reload of the code folders)")
    parser.add_argument("--inspector", action="store_true", help="the live inspector on, as run-local has it")
    args = parser.parse_args(argv)  # fmt: skip
    raise_open_files_limit()
    if args.tracemalloc:
        tracemalloc.start()
    try:
        event_loop.run(serve_until_stopped(args.app, max_workers=args.max_workers, reload=args.reload,
                                            inspector=args.inspector), args.loop)
    except WsgwError as exc:
        sys.stderr.write(f"wsgw: error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
