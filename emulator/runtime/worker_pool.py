"""The workers of one function: a pool that starts them, lends them out one caller at
a time, and stops them.

The invoker (``invoker.py``) keeps one :class:`WorkerPool` per function. A caller
takes a ready worker with :meth:`~WorkerPool.acquire` (or, on every message's hot path,
:meth:`~WorkerPool.take_or_queue`, which never awaits) and gives it back with
:meth:`~WorkerPool.release`, or stops it with :meth:`~WorkerPool.drop`. A hot reload
boots the next generation's worker beside the serving ones (:meth:`~WorkerPool.boot`)
and makes it serve (:meth:`~WorkerPool.adopt`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Callable, Mapping

from ..core.model import FunctionSpec
from . import wire_json
from .environment import worker_environment
from .provisioning import Provision
from .worker_process import LogSink, WorkerProcess

__all__ = ["StartFailed", "WorkerPool"]


class StartFailed(Exception):
    """A worker exited with ``status`` (or hung: ``timed_out``) before it was ready."""

    def __init__(self, status: int | None, *, timed_out: bool) -> None:
        super().__init__(status)
        self.status = status
        self.timed_out = timed_out


class WorkerPool:
    """The workers of one function: at most ``limit``, idle ones reused LIFO, callers
    beyond the limit served FIFO as workers come free.

    A reload bumps ``generation`` (:meth:`adopt`, :meth:`retire`): workers of an older
    one stop instead of going back to the idle list."""

    def __init__(
        self, spec: FunctionSpec, env: dict[str, str], log: LogSink, limit: int, arn: str,
        provision: Provision | None = None,
    ) -> None:
        self.spec = spec
        self.env = env
        self.context_json = wire_json.dumps({"invokedFunctionArn": arn})
        self.workers: set[WorkerProcess] = set()
        self.closed = False
        self.retired = False  # its function was removed: no worker goes back to idle
        self.generation = 0
        self._log = log
        self._limit = limit
        self._provision = provision
        self._idle: list[WorkerProcess] = []
        self._slots = 0  # workers alive or starting, plus slots handed to waiters
        self._waiters: deque[asyncio.Future[WorkerProcess | None]] = deque()
        self._stopping: set[asyncio.Task[int | None]] = set()
        # Kept once known: asyncio.get_running_loop() asks the kernel for the process id
        # (CPython 3.11), and a busy function's callers wait here on every message.
        self._loop: asyncio.AbstractEventLoop | None = None

    async def prewarm(self) -> None:
        if not self.workers:
            with contextlib.suppress(StartFailed):  # logged; invocations try again
                self.release(await self.acquire())

    async def acquire(self) -> WorkerProcess:
        """A ready worker for this caller alone; give it back with :meth:`release`
        or :meth:`drop`. Raises :class:`StartFailed` if a new one could not start."""
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
            await self.drop(worker)  # died while idle
        if self._slots < self._limit:
            self._slots += 1
            return await self.start_in_slot()
        waiter = self._queue_up()
        try:
            handed = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            raise
        return handed if handed is not None else await self.start_in_slot()

    async def drop(self, worker: WorkerProcess, *, kill: bool = False) -> int | None:
        """Stop a worker for good and free its slot; return its exit status."""
        status = await worker.stop(kill=kill)
        self.workers.discard(worker)
        self.release(None)
        return status

    def release(self, worker: WorkerProcess | None) -> None:
        """Give back a worker ready for its next invocation (``None``: a free slot);
        the caller that has waited longest gets it. A worker of an older generation
        (or of a retired pool) is stopped instead, in the background."""
        if worker is not None and (self.retired or worker.generation != self.generation):
            self.stop_worker(worker)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        if worker is not None:
            self._idle.append(worker)
        else:
            self._slots -= 1

    def adopt(self, worker: WorkerProcess, spec: FunctionSpec, env: dict[str, str]) -> None:
        """Make ``worker`` (booted by :meth:`boot` with ``generation + 1``) and its
        spec current: it serves the next invocation, idle workers of the old
        generation stop now, busy ones when they are released."""
        self.spec, self.env, self.generation = spec, env, worker.generation
        stale, self._idle = self._idle, []
        self._slots += 1  # the new worker's; briefly one over the limit if all were busy
        self.release(worker)
        for old in stale:
            self.stop_worker(old)

    def retire(self) -> None:
        """The function was removed: stop idle workers now, busy ones once released."""
        self.retired = True
        stale, self._idle = self._idle, []
        for old in stale:
            self.stop_worker(old)

    def take_or_queue(
        self, handed: Callable[[asyncio.Future[WorkerProcess | None]], None],
    ) -> WorkerProcess | asyncio.Future[WorkerProcess | None] | None:
        """:meth:`acquire` without awaiting, for every message's hot path: a ready
        worker if one is idle and alive now; else, when all the pool's workers are
        busy, the caller's place in the queue: a future that ``handed`` hears when it
        is set (a worker; None: a freed slot to start one in with
        :meth:`start_in_slot`; ``RuntimeError``: the pool closed), and that the caller
        may cancel to leave the queue. None where :meth:`acquire` would start a
        worker or first drop a dead one: nothing was taken or queued."""
        idle = self._idle
        if idle:
            return idle.pop() if idle[-1].alive else None
        if self._slots < self._limit:
            return None
        waiter = self._queue_up()
        waiter.add_done_callback(handed)
        return waiter

    def _queue_up(self) -> asyncio.Future[WorkerProcess | None]:
        """A place at the end of the queue that :meth:`release` hands workers to."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter: asyncio.Future[WorkerProcess | None] = loop.create_future()
        self._waiters.append(waiter)
        return waiter

    def stop_worker(self, worker: WorkerProcess, *, kill: bool = False) -> None:
        """:meth:`drop` ``worker`` in the background (its slot is freed once it exited)."""
        task = asyncio.ensure_future(self.drop(worker, kill=kill))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def boot(self, spec: FunctionSpec, env: Mapping[str, str], generation: int) -> WorkerProcess:
        """Launch a worker of ``spec`` and wait for its init, outside the slot count;
        raise :class:`StartFailed` (logged as ``INIT_REPORT``) if it died or hung.
        A worker whose handler failed to import is returned (see ``init_error``)."""
        plan = await self._provision(spec) if self._provision is not None else None
        started = time.perf_counter()
        environment = worker_environment(env, spec)
        if plan is not None:
            environment.update(plan.env)
        worker = await WorkerProcess.launch(spec.name, environment, self._log, plan.command if plan else ())
        worker.generation, worker.spec = generation, spec
        self.workers.add(worker)  # so that close() stops it while it starts
        try:
            await worker.wait_ready()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            timed_out = isinstance(exc, TimeoutError)
            status = await worker.stop(kill=timed_out)
            self.workers.discard(worker)
            self._log(
                spec.name,
                f"INIT_REPORT Init Duration: {(time.perf_counter() - started) * 1000:.2f} ms\tPhase: init"
                + ("\tStatus: timeout" if timed_out else "\tStatus: error\tError Type: Runtime.ExitError"),
            )
            raise StartFailed(status, timed_out=timed_out) from None
        except BaseException:
            await asyncio.shield(worker.stop(kill=True))
            self.workers.discard(worker)
            raise
        return worker

    async def discard(self, worker: WorkerProcess) -> None:
        """Stop a booted worker that was never adopted (no slot to free)."""
        await worker.stop()
        self.workers.discard(worker)

    async def start_in_slot(self) -> WorkerProcess:
        """Start a worker in a slot the caller holds (counted by :meth:`acquire`, or
        handed to a queued caller as None); free the slot if that fails."""
        try:
            worker = await self.boot(self.spec, self.env, self.generation)
        except BaseException:
            self.release(None)
            raise
        if self.closed:  # close() ran while it started
            raise StartFailed(await self.drop(worker), timed_out=False)
        return worker

    async def close(self) -> None:
        self.closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(RuntimeError("the invoker is closed"))
        await asyncio.gather(*(worker.stop() for worker in list(self.workers)), *list(self._stopping))
        self._idle.clear()
