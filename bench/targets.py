"""Starting a scenario's servers side by side: bare echo, wsgw, serverless-offline.

:func:`start_targets` starts the bare ``websockets`` echo child and the wsgw gateway
child (:mod:`bench.servers`), with ``floor=True`` the floor (:mod:`bench.relay_echo`), with
``run_local=True`` wsgw's CLI itself (:func:`~bench.servers.running_run_local`),
and serverless-offline (:mod:`bench.peer`) unless it
cannot run here; it launches the peer first, since it takes longest to start, and
waits for it last. A peer that fails to start does not fail the scenario: the
reason (its exact error) is kept in :attr:`Targets.missing` and shown in the table.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Mapping, Sequence, TypeVar

from .model import BARE, FLOOR, PEER, RUN_LOCAL, WSGW
from .peer import PeerProcess, running_peer
from .servers import PROJECT_ROOT, ServerHandle, ServerStartError, running_run_local, running_server

T = TypeVar("T")

BENCH_APP = PROJECT_ROOT / "bench" / "apps" / "echo" / "wsgw.json"


@dataclass
class Context:
    """What every scenario needs to know about this invocation."""

    loop: str  # the event loop of the server children and of this client
    runs: int
    peer_problem: str | None  # why serverless-offline is not run (None: it is)
    options: Mapping[str, int] = field(default_factory=dict)  # sizes from the command line
    # Servers of the bench app shared by the scenarios that only send it messages
    # (a, b, d): started by the first of them, stopped when the stack closes.
    stack: contextlib.AsyncExitStack | None = None
    shared: Targets | None = None

    def progress(self, message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)


@dataclass
class Endpoint:
    """One running target: where to connect and which process is the server."""

    target: str
    url: str
    pid: int
    server: ServerHandle | None = None  # bare and wsgw children
    peer: PeerProcess | None = None


@dataclass
class Targets:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # target -> why it is not running
    # The floor (bench/relay_echo.py) and wsgw run-local itself, if started: only the
    # scenarios that ask for them with items(extras=True) measure them (sequential and
    # concurrent round trips).
    floor: Endpoint | None = None
    run_local: Endpoint | None = None

    def items(self, *, extras: bool = False) -> list[tuple[str, Endpoint]]:
        items = list(self.endpoints.items())
        if extras and self.floor is not None:
            items.append((FLOOR, self.floor))
        if extras and self.run_local is not None:
            items.append((RUN_LOCAL, self.run_local))
        return items

    async def attempt(self, target: str, measurement: Awaitable[T]) -> T | None:
        """Await ``measurement`` of ``target``. If serverless-offline fails it, its
        exact error is kept in :attr:`missing` and it is not run again (None); a
        failure of wsgw or of the bare server propagates."""
        try:
            return await measurement
        except Exception as exc:
            if target != PEER:
                raise
            self.missing[PEER] = f"failed during a run: {type(exc).__name__}: {exc}"
            self.endpoints.pop(PEER, None)
            print(f"  {PEER} failed: {self.missing[PEER]}", file=sys.stderr, flush=True)
            return None


@contextlib.asynccontextmanager
async def shared_targets(ctx: Context) -> AsyncIterator[Targets]:
    """The bench app's servers (the floor and run-local too), started once per invocation and kept running
    until ``ctx.stack`` closes (each start of serverless-offline takes seconds), or
    for the block alone if there is no stack."""
    if ctx.stack is None:
        async with start_targets(ctx, floor=True, run_local=True) as targets:
            yield targets
        return
    if ctx.shared is None:
        ctx.shared = await ctx.stack.enter_async_context(start_targets(ctx, floor=True, run_local=True))
    yield ctx.shared


@contextlib.asynccontextmanager
async def start_targets(
    ctx: Context,
    *,
    app: Path = BENCH_APP,
    wsgw_args: Sequence[str] = (),
    peer_config: str | None = "serverless.yml",
    peer_env: Callable[[], Mapping[str, str]] | None = None,
    bare: bool = True,
    floor: bool = False,
    run_local: bool = False,
) -> AsyncIterator[Targets]:
    """Run the scenario's targets for the duration of the block; stop all of them."""
    targets = Targets()
    async with contextlib.AsyncExitStack() as stack:
        peer: PeerProcess | None = None
        if peer_config is None:
            targets.missing[PEER] = "not run in this scenario"
        elif ctx.peer_problem is not None:
            targets.missing[PEER] = ctx.peer_problem
        else:
            env = peer_env() if peer_env is not None else None
            peer = await stack.enter_async_context(running_peer(peer_config, env=env, wait=False))
        if bare:
            handle = await stack.enter_async_context(running_server("the bare echo server", "bench.bare_echo", ["--loop", ctx.loop]))
            targets.endpoints[BARE] = Endpoint(BARE, handle.url, handle.pid, server=handle)
        if floor:
            handle = await stack.enter_async_context(running_server("the floor", "bench.relay_echo", ["--loop", ctx.loop]))
            targets.floor = Endpoint(FLOOR, handle.url, handle.pid, server=handle)
        handle = await stack.enter_async_context(
            running_server("the wsgw gateway", "bench.gateway_child", ["--app", str(app), "--loop", ctx.loop, *wsgw_args])
        )
        targets.endpoints[WSGW] = Endpoint(WSGW, handle.url, handle.pid, server=handle)
        if run_local:
            handle = await stack.enter_async_context(running_run_local(app, ctx.loop))
            targets.run_local = Endpoint(RUN_LOCAL, handle.url, handle.pid, server=handle)
        if peer is not None:
            try:
                await peer.wait_listening()
                targets.endpoints[PEER] = Endpoint(PEER, peer.url, peer.pid, peer=peer)
            except ServerStartError as exc:
                targets.missing[PEER] = f"did not start: {exc}"
        yield targets
