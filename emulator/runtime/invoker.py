"""The invoker: warm worker pools, the only place user code runs.

Each function gets a pool of worker processes (``worker_pool.py``; ``worker.py`` runs in
each), each one a Lambda execution environment with its own environment variables and
warm module state. Build an :class:`Invoker` from the model's functions, ``await
start()`` to pre-warm one worker per function, ``await invoke(...)`` for an integration
call (one JSON frame each way, over a pipe each way), and ``await close()`` at
shutdown. Every message's hot path uses :meth:`Invoker.invoke_soon` instead: the same
invocation on an idle worker, its outcome delivered to a callback, without a task or a
chain of coroutines (it declines when :meth:`~Invoker.invoke` would have to wait). A
worker that times out, crashes or exits is killed and replaced on demand; nothing a
handler does makes :meth:`Invoker.invoke` raise.

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
import logging
import math
import signal
import time
from typing import Any, Callable, Iterable, Mapping

from ..core.arns import lambda_function_arn
from ..core.clock import iso8601_ms
from ..core.invocation import Cancel, Failed, Outcome, OutcomeCallback, Succeeded, TimedOut
from ..core.model import FunctionSpec
from . import wire_json
from .environment import invocation_trace_id, lambda_variables
from .provisioning import Provision
from .worker_pool import StartFailed, WorkerPool
from .worker_process import INIT_TIMEOUT_S, REPORT_PREFIX, LogSink, ReplyOrError, WorkerProcess

__all__ = ["DEBUGPY_ENV", "InitFailed", "Invoker", "LogSink"]


# How a worker is lost mid-invocation: its Lambda timeout passed, or its end closed.
_LOST = (TimeoutError, asyncio.IncompleteReadError, ConnectionError)

log = logging.getLogger("wsgw.server")

# run-local --debug-function: a function whose environment has DEBUGPY_ENV (host:port)
# gets one worker (one debugpy port) and at least DEBUG_TIMEOUT_S per invocation.
DEBUGPY_ENV = "WSGW_DEBUGPY"
DEBUG_TIMEOUT_S = 3600.0


class InitFailed(Exception):
    """A new worker for ``function`` could not init (:meth:`Invoker.reload`); nothing
    was changed. The message is one line: the init error, or how the worker ended."""

    def __init__(self, function: str, message: str) -> None:
        super().__init__(f"{function}: {message}")
        self.function = function
        self.message = message


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
        self._retired: list[WorkerPool] = []  # removed functions' pools, until their workers are gone
        self._reloading = asyncio.Lock()

    def _pool(self, spec: FunctionSpec, base_env: Mapping[str, str] | None = None) -> WorkerPool:
        env = {**(self._base_env if base_env is None else base_env), **lambda_variables(spec, self._region)}
        arn = lambda_function_arn(self._region, self._account_id, spec.name)
        limit = 1 if DEBUGPY_ENV in spec.environment else self._limit
        return WorkerPool(spec, env, self._log, limit, arn, self._provision)

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
            plan: dict[str, tuple[WorkerPool, FunctionSpec, dict[str, str]]] = {}
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
        self, name: str, pool: WorkerPool, spec: FunctionSpec, env: dict[str, str], booted: dict[str, WorkerProcess],
    ) -> None:
        """One worker of the pool's next generation, into ``booted``; InitFailed if it cannot serve."""
        try:
            worker = await pool.boot(spec, env, pool.generation + 1)
        except StartFailed as failure:
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
        pool = self._pool_of(function)
        event_json = wire_json.dumps(event)
        try:
            worker = await pool.acquire()
        except StartFailed as failure:
            # Deliberate simplification: AWS would retry a failed init inside the
            # invocation; here its failure is the outcome (10 s: the init's timeout).
            return self._lost(pool.spec, request_id, 0.0, failure.status, failure.timed_out, INIT_TIMEOUT_S, [])
        call = _Call(self, pool, request_id)
        call.event, call.event_json = event, event_json
        call.assign(worker)
        try:
            reply = await worker.call(call.frame(), request_id, call.timeout_s)
        except _LOST as exc:
            return await call.lost(exc)
        except BaseException:  # cancelled mid-invocation: the worker's state is unknown
            await asyncio.shield(pool.drop(worker, kill=True))
            raise
        return call.finished(reply)

    def invoke_soon(self, function: str, event: Mapping[str, Any], request_id: str, done: OutcomeCallback) -> Cancel | None:
        """:meth:`invoke` without a coroutine, for every message's hot path: send the
        invocation to an idle worker now, or, when all the function's workers are
        busy, queue it to be sent to the first one that comes free; return a function
        that cancels it (a running invocation's worker is killed; ``done`` is not
        called). ``done`` hears the outcome later, from the event loop. Returns None,
        having started nothing, when :meth:`invoke` must be awaited instead (a worker
        must be started first, or a dead one dropped; a debugger's function). Raises
        as :meth:`invoke` does (an unknown function, a closed invoker, an event that
        is not JSON)."""
        pool = self._pool_of(function)
        if DEBUGPY_ENV in pool.spec.environment:
            return None
        call = _Call(self, pool, request_id)
        got = pool.take_or_queue(call.handed)  # first: a declined call costs the caller little
        if got is None:
            return None
        try:
            event_json = wire_json.dumps(event)
        except BaseException:
            if isinstance(got, WorkerProcess):
                pool.release(got)
            else:
                got.cancel()  # out of the queue
            raise
        call.done, call.event, call.event_json = done, event, event_json
        if isinstance(got, WorkerProcess):
            call.begin(got)
        else:
            call.pending = got
        return call.cancel

    def _pool_of(self, function: str) -> WorkerPool:
        pool = self._pools.get(function)
        if pool is None:
            raise KeyError(f"no function named {function!r}; known: {', '.join(sorted(self._pools)) or 'none'}")
        if self._closed:
            raise RuntimeError("the invoker is closed")
        return pool

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


class _Call:
    """One invocation, from its frame to its outcome: what :meth:`Invoker.invoke`
    awaits, and what :meth:`Invoker.invoke_soon` runs through callbacks (queued for a
    worker, or its worker starting, then sent, then answered)."""

    __slots__ = (
        "invoker", "pool", "request_id", "worker", "spec", "timeout_s", "started", "done", "answered", "pending",
        "event", "event_json",
    )

    def __init__(self, invoker: Invoker, pool: WorkerPool, request_id: str) -> None:
        self.invoker, self.pool, self.request_id = invoker, pool, request_id
        self.worker: WorkerProcess | None = None  # once it has one (assign)
        self.spec = pool.spec
        self.timeout_s = 0.0
        self.started = 0.0
        self.done: OutcomeCallback | None = None  # invoke_soon()'s callback, until it is called or cancelled
        self.answered = False  # the worker answered, timed out or ended
        # invoke_soon: its place in the pool's queue, or the task starting its worker.
        self.pending: asyncio.Future[Any] | None = None
        self.event: Mapping[str, Any] = {}  # what it sends (set by its caller), and as JSON
        self.event_json = b""

    def assign(self, worker: WorkerProcess) -> None:
        """The worker this invocation runs on; its spec decides the timeout."""
        self.worker = worker
        spec = self.spec = worker.spec  # a reload may have changed the pool's since
        self.timeout_s = max(spec.timeout_s, DEBUG_TIMEOUT_S) if DEBUGPY_ENV in spec.environment else spec.timeout_s

    def frame(self) -> bytes:
        """The invoke frame (length prefix included); the invocation's clock starts."""
        request_id = self.request_id
        self.started = time.perf_counter()  # like Lambda's Duration, leaves out init
        deadline_ms = int(time.time() * 1000 + self.timeout_s * 1000)
        body = b"".join((
            b'{"type":"invoke","requestId":', wire_json.dumps(request_id),
            b',"traceId":', wire_json.dumps(invocation_trace_id(self.event, request_id)),
            b',"deadlineMs":', str(deadline_ms).encode(),
            b',"context":', self.pool.context_json, b',"event":', self.event_json, b"}",
        ))
        return len(body).to_bytes(4, "big") + body

    def finished(self, reply: dict[str, Any]) -> Outcome:
        """The worker answered: it serves again; the outcome."""
        duration_ms = (time.perf_counter() - self.started) * 1000
        self.pool.release(self.worker)
        if reply.get("ok"):
            return Succeeded(reply.get("result"), duration_ms)
        return Failed(str(reply.get("errorType")), str(reply.get("errorMessage")), duration_ms)

    async def lost(self, exc: BaseException) -> Outcome:
        """The worker timed out (``TimeoutError``) or its end closed: it is stopped
        (killed if it hangs), and the outcome is what Lambda reports then."""
        assert self.worker is not None
        duration_ms = (time.perf_counter() - self.started) * 1000
        timed_out = isinstance(exc, TimeoutError)
        status = await asyncio.shield(self.pool.drop(self.worker, kill=timed_out))
        request_id, spec = self.request_id, self.spec
        owed = [f"END RequestId: {request_id}", _report_line(request_id, duration_ms, spec.memory_mb)]
        return self.invoker._lost(spec, request_id, duration_ms, status, timed_out, self.timeout_s, owed)

    # -- invoke_soon's steps ----------------------------------------------------------

    def begin(self, worker: WorkerProcess) -> None:
        """Send the invocation to ``worker``; :meth:`replied` hears its answer."""
        self.assign(worker)
        worker.start_call(self.frame(), self.request_id, self.timeout_s, self.replied)

    def handed(self, waiter: asyncio.Future[WorkerProcess | None]) -> None:
        """Its turn in the pool's queue came (see ``WorkerPool.take_or_queue``)."""
        self.pending = None
        if waiter.cancelled():  # cancel() took it out of the queue
            return
        error = waiter.exception()
        if self.done is None:  # cancelled after it was handed: give back what it got
            if error is None:
                self.pool.release(waiter.result())
            return
        if error is not None:  # the invoker closed while it waited (invoke() raises then)
            self._deliver(Failed("Runtime.Unknown", str(error), 0.0))
            return
        worker = waiter.result()
        if worker is None:  # a slot came free (a worker stopped): start one in it
            self.pending = asyncio.ensure_future(self._start_worker())
        else:
            self.begin(worker)

    async def _start_worker(self) -> None:
        try:
            worker = await self.pool.start_in_slot()
        except StartFailed as failure:
            self.pending = None
            # As in invoke(): the failed init is the outcome (10 s: the init's timeout).
            self._deliver(self.invoker._lost(
                self.pool.spec, self.request_id, 0.0, failure.status, failure.timed_out, INIT_TIMEOUT_S, []))
            return
        except Exception as exc:  # a bug of ours: the invocation fails, it does not hang
            self.pending = None
            self._fail(exc)
            return
        self.pending = None
        self.begin(worker)

    def replied(self, reply: ReplyOrError) -> None:
        """The worker's answer, or why there is none."""
        self.answered = True
        if self.done is None:  # cancelled: the worker is being killed
            return
        if not isinstance(reply, BaseException):
            self._deliver(self.finished(reply))
            return
        if not isinstance(reply, _LOST):
            # Its answer could not be read: as when invoke() raises, the worker is
            # killed and the invocation fails.
            assert self.worker is not None
            self.pool.stop_worker(self.worker, kill=True)
            self._fail(reply)
            return
        # Rare (a timeout, a crash): stopping the worker takes awaiting.
        task = asyncio.ensure_future(self.lost(reply))
        task.add_done_callback(self._lost_done)

    def _lost_done(self, task: asyncio.Future[Outcome]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self._fail(error)
        elif not task.cancelled():
            self._deliver(task.result())

    def _fail(self, error: BaseException) -> None:
        """What InvokerIntegrations.run makes of an exception out of invoke(): logged,
        and a ``Runtime.Unknown`` failure."""
        log.error("invoking %s failed", self.spec.name, exc_info=error)
        duration_ms = (time.perf_counter() - self.started) * 1000 if self.started else 0.0
        self._deliver(Failed("Runtime.Unknown", str(error), duration_ms))

    def _deliver(self, outcome: Outcome) -> None:
        done, self.done = self.done, None
        if done is not None:
            done(outcome)

    def cancel(self) -> None:
        """Stop an invocation :meth:`Invoker.invoke_soon` started (the gateway shuts
        down): out of the queue, its worker's start cancelled, or its worker killed,
        as when :meth:`Invoker.invoke` is cancelled; ``done`` is not called. Nothing
        happens once ``done`` was called."""
        if self.done is None:
            return
        self.done = None
        if self.pending is not None:  # queued, or its worker starting (which frees the slot)
            self.pending.cancel()
        elif self.worker is not None and not self.answered:  # else lost() is already stopping it
            self.pool.stop_worker(self.worker, kill=True)


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
