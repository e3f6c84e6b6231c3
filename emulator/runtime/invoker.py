"""The invoker: warm worker pools, the only place user code runs.

Each function gets a pool of worker processes (``worker.py``), each one a Lambda
execution environment with its own environment variables and warm module state.
Build an :class:`Invoker` from the model's functions, ``await start()`` to pre-warm
one worker per function, ``await invoke(...)`` for every integration call (the hot
path: one JSON frame each way over a ``socketpair``), and ``await close()`` at
shutdown. A worker that times out, crashes or exits is killed and replaced on demand;
nothing a handler does makes :meth:`Invoker.invoke` raise.

Hot reload (``reload.py``): :meth:`Invoker.reload` boots one new worker per new,
changed or restarted function beside the serving ones and, once all are ready, makes
them serve (or raises :class:`InitFailed` with nothing changed). Idle workers of the
old generation stop at once; busy ones finish their invocation on the old code first.

Every line a worker prints (stdout and stderr share one pipe, so they stay in order,
as in one CloudWatch stream) and every line the invoker writes about it (timeouts,
exits, ``INIT_REPORT``) goes to the :data:`LogSink` as ``(function_name, line)``;
a line over 256 KB is cut there (``worker_process.MAX_LINE_BYTES``), whatever a handler
prints. One worker process is a :class:`~emulator.runtime.worker_process.WorkerProcess`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import time
from collections import deque
from typing import Any, Callable, Iterable, Mapping

from ..core.arns import lambda_function_arn
from ..core.clock import iso8601_ms
from ..core.invocation import Failed, Outcome, Succeeded, TimedOut
from ..core.model import FunctionSpec
from . import wire_json
from .environment import invocation_trace_id, lambda_variables, worker_environment
from .provisioning import Provision
from .worker_process import INIT_TIMEOUT_S, REPORT_PREFIX, LogSink, WorkerProcess

__all__ = ["DEBUGPY_ENV", "InitFailed", "Invoker", "LogSink"]


# run-local --debug-function: a function whose environment has DEBUGPY_ENV (host:port)
# gets one worker (one debugpy port) and at least DEBUG_TIMEOUT_S per invocation.
DEBUGPY_ENV = "WSGW_DEBUGPY"
DEBUG_TIMEOUT_S = 3600.0


class _StartFailed(Exception):
    """A worker exited with ``status`` (or hung: ``timed_out``) before it was ready."""

    def __init__(self, status: int | None, *, timed_out: bool) -> None:
        super().__init__(status)
        self.status = status
        self.timed_out = timed_out


class InitFailed(Exception):
    """A new worker for ``function`` could not init (:meth:`Invoker.reload`); nothing
    was changed. The message is one line: the init error, or how the worker ended."""

    def __init__(self, function: str, message: str) -> None:
        super().__init__(f"{function}: {message}")
        self.function = function
        self.message = message


class _WorkerPool:
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
            with contextlib.suppress(_StartFailed):  # logged; invocations try again
                self.release(await self.acquire())

    async def acquire(self) -> WorkerProcess:
        """A ready worker for this caller alone; give it back with :meth:`release`
        or :meth:`drop`. Raises :class:`_StartFailed` if a new one could not start."""
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
            await self.drop(worker)  # died while idle
        if self._slots < self._limit:
            self._slots += 1
            return await self._start()
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter: asyncio.Future[WorkerProcess | None] = loop.create_future()
        self._waiters.append(waiter)
        try:
            handed = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            raise
        return handed if handed is not None else await self._start()

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
            self._retire_worker(worker)
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
            self._retire_worker(old)

    def retire(self) -> None:
        """The function was removed: stop idle workers now, busy ones once released."""
        self.retired = True
        stale, self._idle = self._idle, []
        for old in stale:
            self._retire_worker(old)

    def _retire_worker(self, worker: WorkerProcess) -> None:
        task = asyncio.ensure_future(self.drop(worker))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def boot(self, spec: FunctionSpec, env: Mapping[str, str], generation: int) -> WorkerProcess:
        """Launch a worker of ``spec`` and wait for its init, outside the slot count;
        raise :class:`_StartFailed` (logged as ``INIT_REPORT``) if it died or hung.
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
            raise _StartFailed(status, timed_out=timed_out) from None
        except BaseException:
            await asyncio.shield(worker.stop(kill=True))
            self.workers.discard(worker)
            raise
        return worker

    async def discard(self, worker: WorkerProcess) -> None:
        """Stop a booted worker that was never adopted (no slot to free)."""
        await worker.stop()
        self.workers.discard(worker)

    async def _start(self) -> WorkerProcess:
        """Start a worker in a slot the caller holds; free the slot if that fails."""
        try:
            worker = await self.boot(self.spec, self.env, self.generation)
        except BaseException:
            self.release(None)
            raise
        if self.closed:  # close() ran while it started
            raise _StartFailed(await self.drop(worker), timed_out=False)
        return worker

    async def close(self) -> None:
        self.closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(RuntimeError("the invoker is closed"))
        await asyncio.gather(*(worker.stop() for worker in list(self.workers)), *list(self._stopping))
        self._idle.clear()


class Invoker:
    """Runs Lambda handlers in warm worker pools, one pool per function."""

    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        *,
        base_env: Mapping[str, str],
        log: LogSink,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        max_workers_per_function: int = 16,
        provision: Provision | None = None,
    ) -> None:
        if max_workers_per_function < 1:
            raise ValueError("max_workers_per_function must be at least 1")
        self._log = log
        self._provision = provision  # None: every worker on wsgw's interpreter and environment
        self._closed = False
        self._base_env = dict(base_env)
        self._region, self._account_id, self._limit = region, account_id, max_workers_per_function
        self._pools = {name: self._pool(spec) for name, spec in functions.items()}
        self._retired: list[_WorkerPool] = []  # removed functions' pools, until their workers are gone
        self._reloading = asyncio.Lock()

    def _pool(self, spec: FunctionSpec, base_env: Mapping[str, str] | None = None) -> _WorkerPool:
        env = {**(self._base_env if base_env is None else base_env), **lambda_variables(spec, self._region)}
        arn = lambda_function_arn(self._region, self._account_id, spec.name)
        limit = 1 if DEBUGPY_ENV in spec.environment else self._limit
        return _WorkerPool(spec, env, self._log, limit, arn, self._provision)

    async def reload(
        self,
        functions: Mapping[str, FunctionSpec],
        *,
        base_env: Mapping[str, str] | None = None,
        restart: Iterable[str] = (),
        swap: Callable[[], None] | None = None,
    ) -> dict[str, list[str]]:
        """Call on a hot reload to serve ``functions`` from now on. Boots one new worker
        for each function that is new, whose spec or environment (``base_env``
        replaces the common one) changed, or that is named in ``restart`` (its code
        changed); only once all are ready, calls ``swap`` (synchronous: the caller's
        route swap, in the same turn) and makes them serve. Functions missing from
        ``functions`` are retired. Old idle workers stop at once, busy ones after
        their invocation. Raises :class:`InitFailed` (or what ``swap`` raised) with
        nothing changed. Returns the names ``added``/``changed``/``restarted``/``removed``."""
        restart = set(restart)
        async with self._reloading:
            env = dict(self._base_env if base_env is None else base_env)
            summary: dict[str, list[str]] = {"added": [], "changed": [], "restarted": [], "removed": []}
            summary["removed"] = [name for name in self._pools if name not in functions]
            plan: dict[str, tuple[_WorkerPool, FunctionSpec, dict[str, str]]] = {}
            for name, spec in functions.items():
                fresh, pool = self._pool(spec, env), self._pools.get(name)
                kind = ("added" if pool is None else "changed" if (pool.spec, pool.env) != (spec, fresh.env)
                        else "restarted" if name in restart else None)  # fmt: skip
                if kind is not None:
                    summary[kind].append(name)
                    plan[name] = (pool or fresh, spec, fresh.env)
            booted: dict[str, WorkerProcess] = {}
            try:
                results = await asyncio.gather(
                    *(self._boot(name, *planned, booted) for name, planned in plan.items()),
                    return_exceptions=True,
                )
                for result in results:
                    if isinstance(result, BaseException):
                        raise result
                if self._closed:
                    raise RuntimeError("the invoker is closed")
                if swap is not None:
                    swap()
            except BaseException:
                await asyncio.shield(asyncio.gather(*(plan[n][0].discard(w) for n, w in booted.items())))
                raise
            for name, (pool, spec, pool_env) in plan.items():
                pool.adopt(booted[name], spec, pool_env)
                self._pools[name] = pool
            for name in summary["removed"]:
                self._retired.append(retired := self._pools.pop(name))
                retired.retire()
            self._retired = [pool for pool in self._retired if pool.workers]
            self._base_env = env
            return summary

    async def _boot(
        self, name: str, pool: _WorkerPool, spec: FunctionSpec, env: dict[str, str], booted: dict[str, WorkerProcess],
    ) -> None:
        """One worker of the pool's next generation, into ``booted``; InitFailed if it cannot serve."""
        try:
            worker = await pool.boot(spec, env, pool.generation + 1)
        except _StartFailed as failure:
            how = "hung in init" if failure.timed_out else f"exited in init ({_exit_reason(failure.status)})"
            raise InitFailed(name, f"the new worker {how}") from None
        booted[name] = worker
        if worker.init_error is not None:
            error = worker.init_error
            raise InitFailed(name, f"{error.get('errorType')}: {error.get('errorMessage')}")

    async def start(self) -> None:
        """Pre-warm: start one worker per function, all at once, and wait until each
        has finished its init (a failed init is logged, not raised)."""
        await asyncio.gather(*(pool.prewarm() for pool in self._pools.values()))

    async def invoke(self, function: str, event: Mapping[str, Any], request_id: str) -> Outcome:
        """Run ``function``'s handler with ``event``; ``request_id`` becomes the
        context's ``aws_request_id``. Raises ``KeyError`` for an unknown function and
        ``TypeError`` for an event that is not JSON; every handler or worker failure
        is an outcome. Waits for a free worker if the function has its maximum."""
        pool = self._pools.get(function)
        if pool is None:
            raise KeyError(f"no function named {function!r}; known: {', '.join(sorted(self._pools)) or 'none'}")
        if self._closed:
            raise RuntimeError("the invoker is closed")
        event_json = wire_json.dumps(event)
        try:
            worker = await pool.acquire()
        except _StartFailed as failure:
            # Deliberate simplification: AWS would retry a failed init inside the
            # invocation; here its failure is the outcome (10 s: the init's timeout).
            return self._lost(pool.spec, request_id, 0.0, failure.status, failure.timed_out, INIT_TIMEOUT_S, [])
        spec = worker.spec  # a reload may have changed the pool's since
        timeout_s = max(spec.timeout_s, DEBUG_TIMEOUT_S) if DEBUGPY_ENV in spec.environment else spec.timeout_s
        started = time.perf_counter()  # like Lambda's Duration, leaves out init
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        frame = b"".join((
            b'{"type":"invoke","requestId":', wire_json.dumps(request_id),
            b',"traceId":', wire_json.dumps(invocation_trace_id(event, request_id)),
            b',"deadlineMs":', str(deadline_ms).encode(),
            b',"context":', pool.context_json, b',"event":', event_json, b"}",
        ))
        try:
            reply = await worker.call(len(frame).to_bytes(4, "big") + frame, request_id, timeout_s)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            duration_ms = (time.perf_counter() - started) * 1000
            timed_out = isinstance(exc, TimeoutError)
            status = await asyncio.shield(pool.drop(worker, kill=timed_out))
            owed = [f"END RequestId: {request_id}", _report_line(request_id, duration_ms, spec.memory_mb)]
            return self._lost(spec, request_id, duration_ms, status, timed_out, timeout_s, owed)
        except BaseException:  # cancelled mid-invocation: the worker's state is unknown
            await asyncio.shield(pool.drop(worker, kill=True))
            raise
        duration_ms = (time.perf_counter() - started) * 1000
        pool.release(worker)
        if reply.get("ok"):
            return Succeeded(reply.get("result"), duration_ms)
        return Failed(str(reply.get("errorType")), str(reply.get("errorMessage")), duration_ms)

    async def close(self) -> None:
        """Stop every worker and wait for them to exit; idempotent. Invocations in
        flight end as ``Runtime.ExitError``, queued and later ones raise ``RuntimeError``."""
        if not self._closed:
            self._closed = True
            await asyncio.gather(*(pool.close() for pool in [*self._pools.values(), *self._retired]))

    def worker_pids(self) -> dict[str, list[int]]:
        """PIDs of each function's live workers (for tests and diagnostics)."""
        return {name: sorted(w.pid for w in pool.workers if w.alive) for name, pool in self._pools.items()}

    def _lost(
        self, spec: FunctionSpec, request_id: str, duration_ms: float, status: int | None, timed_out: bool,
        timeout_s: float, owed: list[str],
    ) -> Outcome:  # fmt: skip
        """A worker timed out or exited: log it as Lambda does, with the END and
        REPORT lines ``owed`` after a START, and return the outcome."""
        if timed_out:
            lines = [*owed, f"{iso8601_ms(time.time_ns() // 1_000_000)} {request_id} Task timed out after {timeout_s:.2f} seconds"]
            outcome: Outcome = TimedOut(timeout_s, duration_ms)
        else:
            message = f"RequestId: {request_id} Error: Runtime exited with error: {_exit_reason(status)}"
            lines = [message, "Runtime.ExitError", *owed]
            outcome = Failed("Runtime.ExitError", message, duration_ms)
        for line in lines:
            self._log(spec.name, line)
        return outcome


def _report_line(request_id: str, duration_ms: float, memory_mb: int) -> str:
    # For a worker that was killed or died: its peak memory is not known here, so
    # unlike Lambda's, this line has no "Max Memory Used".
    billed = max(1, math.ceil(duration_ms))
    return f"{REPORT_PREFIX}{request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\tMemory Size: {memory_mb} MB"


def _exit_reason(status: int | None) -> str:
    """Go's ``ExitError`` wording, which Lambda shows: ``exit status 3``, ``signal: killed``."""
    if status is None:
        return "exit status unknown"
    if status >= 0:
        return f"exit status {status}"
    name = signal.strsignal(-status)  # glibc's names, lowercased, are Go's
    return f"signal: {name.lower() if name else -status}"
