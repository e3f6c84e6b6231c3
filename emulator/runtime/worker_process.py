"""One worker process as the invoker sees it: started, fed invoke frames over a
pipe (its answers come back on another), its output read line by line, stopped.

:class:`WorkerProcess` is the protocol of the ``python -I [-S] worker.py`` child
(``emulator/runtime/worker.py`` is what runs inside), or of the ``node worker.mjs``
child of a Node.js function (``emulator/runtime/node/worker.mjs``, the same protocol). The invoker's pools start one with
:meth:`WorkerProcess.launch`, wait for its init with :meth:`~WorkerProcess.wait_ready`,
:meth:`~WorkerProcess.call` it once per invocation and :meth:`~WorkerProcess.stop` it.
Every line it prints (stdout and stderr share one pipe, so they stay in order, as in one
CloudWatch stream) goes to the :data:`LogSink` as ``(function_name, line)``; a line over
256 KB is cut there (:data:`MAX_LINE_BYTES`), whatever a handler prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Sequence, Union

from ..core.model import FunctionSpec
from . import wire_json
from .child_process import ChildProcess
from .frames import FrameChannel, FrameOrError

ReplyOrError = Union[dict[str, Any], BaseException]
"""What :meth:`WorkerProcess.start_call`'s callback hears: the worker's result message,
or ``TimeoutError`` (the Lambda timeout passed), ``IncompleteReadError`` /
``ConnectionError`` (the worker's end closed), or what reading its answer raised (a
frame that is not a result message)."""

LogSink = Callable[[str, str], None]
"""Receives ``(function_name, line)`` for every log line; it adds any prefix itself."""

PYTHON_WORKER = str(Path(__file__).with_name("worker.py"))
NODE_WORKER = str(Path(__file__).parent / "node" / "worker.mjs")  # the same protocol, for nodejs runtimes
INIT_TIMEOUT_S = 10.0  # Lambda's limit for the init phase
_STOP_GRACE_S = 1.0  # after end of file, and again after SIGTERM
_DRAIN_S = 0.5  # how long to wait for output still in a pipe
REPORT_PREFIX = "REPORT RequestId: "
# One line of output is one log event, and CloudWatch Logs takes events of at most
# 256 KB ("Each log event can be no larger than 256 KB", PutLogEvents API reference).
# A longer line is cut there and ends with "…[truncated N bytes]", so a handler that
# prints a huge line, or never ends one, costs the gateway at most this much memory.
# Deliberate difference: Lambda passes the rest on as further events of at most
# 256 KB each [obs] (stackoverflow.com/q/77175643); locally they would only flood
# the terminal.
MAX_LINE_BYTES = 256 * 1024


class WorkerProcess:
    """One worker process: the protocol of its :class:`ChildProcess`, and its two pipes."""

    def __init__(self, function: str, log: LogSink) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self.generation = 0  # of its pool; an older one retires when released
        self.spec: FunctionSpec  # what it was started with (set by the invoker's pool)
        self.init_error: dict[str, Any] | None = None  # from its ready message
        self._function = function
        self._log = log
        self._transport: ChildProcess  # these two are set by launch()
        self._frames: FrameChannel
        self._partial = bytearray()  # the line being read, at most MAX_LINE_BYTES
        self._dropped = 0  # bytes of that line beyond MAX_LINE_BYTES
        self._last_report = ""  # request id of the last REPORT line seen
        self._report_seen: asyncio.Future[None] | None = None
        self.exited: asyncio.Future[None] = loop.create_future()
        self._output_closed: asyncio.Future[None] = loop.create_future()

    @classmethod
    async def launch(
        cls, function: str, env: Mapping[str, str], log: LogSink, command: Sequence[str] = (),
    ) -> WorkerProcess:
        """Start the process; it loads the handler next (see :meth:`wait_ready`).
        ``command`` is the program before ``--fds IN OUT``: an interpreter, its flags and
        the worker script (provisioning.py's ``LaunchPlan.command``; default: wsgw's own
        interpreter, ``-I``, :data:`PYTHON_WORKER`). IN and OUT are its ends of two
        pipes, frames to it and frames from it (frames.py says why not a socketpair)."""
        their_in, our_out = os.pipe()
        our_in, their_out = os.pipe()
        worker = cls(function, log)
        try:
            try:
                # Not loop.subprocess_exec: under uvloop it blocks the loop ~10 ms per
                # spawn (child_process.py).
                worker._transport = await ChildProcess.spawn(
                    worker, [*(command or (sys.executable, "-I", PYTHON_WORKER)), "--fds", str(their_in), str(their_out)],
                    env=env, pass_fds=(their_in, their_out),
                )  # fmt: skip
            finally:  # the child has its own copies once started
                os.close(their_in)
                os.close(their_out)
        except BaseException:
            os.close(our_in)
            os.close(our_out)
            raise
        try:
            worker._frames = await FrameChannel.connect(our_in, our_out)
        except BaseException:
            worker._transport.close()  # kills it; it is reaped when it exits
            raise
        return worker

    @property
    def pid(self) -> int:
        return self._transport.get_pid()

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    async def wait_ready(self) -> None:
        """Wait for the end of init. Raises ``IncompleteReadError`` if the process
        died and ``TimeoutError`` after Lambda's 10 s init limit."""
        async with asyncio.timeout(INIT_TIMEOUT_S):
            ready = await self._read_frame()  # an initError is logged by the worker
            # and answered by it to every invocation; kept for reload() to check
        error = ready.get("initError")
        self.init_error = error if isinstance(error, dict) else None

    async def call(self, frame: bytes, request_id: str, timeout_s: float) -> dict[str, Any]:
        """Send one invoke frame and return the result message, once the worker's
        log lines for it (through REPORT) have gone to the sink. Raises
        ``TimeoutError`` when no result came within ``timeout_s`` (the function's
        Lambda timeout), ``IncompleteReadError`` when the worker's end closed."""
        result: asyncio.Future[dict[str, Any]] = self._loop.create_future()

        def settle(reply: ReplyOrError) -> None:
            if result.done():  # the caller was cancelled (and drops this worker)
                return
            if isinstance(reply, BaseException):
                result.set_exception(reply)
            else:
                result.set_result(reply)

        self.start_call(frame, request_id, timeout_s, settle)
        return await result

    def start_call(self, frame: bytes, request_id: str, timeout_s: float, done: Callable[[ReplyOrError], None]) -> None:
        """:meth:`call` without a coroutine (every message's hot path): send the frame
        now; ``done`` hears the result message, or the exception :meth:`call` would
        raise, exactly once: from the event loop later, or at once (before this
        returns) when the worker's end is already closed."""

        def replied(body: FrameOrError) -> None:
            timer.cancel()
            if isinstance(body, BaseException):
                done(body)
                return
            try:
                reply: dict[str, Any] = wire_json.loads(body)
                log = reply.pop("log", None)
                if isinstance(log, str):  # a quiet invocation's START/END/REPORT (worker.py)
                    for line in log.splitlines():
                        self._emit_line(line)
            except Exception as exc:  # not a result message (or the log sink broke)
                done(exc)
                return
            # The worker writes REPORT before the result, and the loop reads both fds in
            # the same turn, so this wait is only for output larger than one read.
            if self._last_report == request_id or self._output_closed.done():
                done(reply)
                return
            seen = self._report_seen = self._loop.create_future()
            give_up = self._loop.call_later(_DRAIN_S, _resolve, seen)

            def drained(_: asyncio.Future[None]) -> None:
                give_up.cancel()
                if self._report_seen is seen:
                    self._report_seen = None
                done(reply)

            seen.add_done_callback(drained)

        self._frames.send(frame)
        # The timer after the frame is on its way (every message's hot path: the worker
        # starts that much sooner); Lambda's timeout runs from here, microseconds later.
        timer = self._loop.call_later(timeout_s, self._time_out)
        self._frames.expect(replied)

    def _time_out(self) -> None:
        self._frames.fail(TimeoutError())

    async def _read_frame(self) -> dict[str, Any]:
        message: dict[str, Any] = wire_json.loads(await self._frames.receive())
        return message

    async def stop(self, *, kill: bool = False) -> int | None:
        """Stop the process (end of file, then SIGTERM, then SIGKILL after a grace
        each; SIGKILL at once if ``kill``), wait for it and its output, release its
        pipes and return its exit status (negative: the signal). Idempotent."""
        self._frames.close()  # end of file: an idle worker exits by itself
        t = self._transport
        for step in [t.kill] if kill else [None, t.terminate, t.kill]:
            if step is not None:
                with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                    step()
            if await within(self.exited, _STOP_GRACE_S):
                break
        await within(self._output_closed, _DRAIN_S)
        self._transport.close()
        return self._transport.get_returncode()

    # its ChildProcess's protocol (asyncio.SubprocessProtocol's names)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        *lines, rest = data.split(b"\n")
        for raw in lines:
            if self._partial or self._dropped:  # the end of a line begun in an earlier read
                self._keep(raw)
                raw, dropped = bytes(self._partial), self._dropped
                self._partial, self._dropped = bytearray(), 0
            else:
                raw, dropped = raw[:MAX_LINE_BYTES], max(0, len(raw) - MAX_LINE_BYTES)
            self._emit(raw, dropped)
        self._keep(rest)

    def _keep(self, data: bytes) -> None:
        """Add ``data`` to the line being read, up to MAX_LINE_BYTES; count the rest."""
        room = MAX_LINE_BYTES - len(self._partial)
        self._partial += data[:room]
        self._dropped += max(0, len(data) - room)

    def _emit(self, raw: bytes, dropped: int) -> None:
        if dropped:
            end = _utf8_boundary(raw)  # not half a character before the marker
            line = f"{raw[:end].decode('utf-8', 'replace')}…[truncated {dropped + len(raw) - end} bytes]"
        else:
            line = raw.decode("utf-8", "replace").removesuffix("\r")
        self._emit_line(line)

    def _emit_line(self, line: str) -> None:
        self._log(self._function, line)
        if line.startswith(REPORT_PREFIX):
            self._last_report = line[len(REPORT_PREFIX) :].split("\t", 1)[0]
            _resolve(self._report_seen)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if self._partial or self._dropped:
            self._emit(bytes(self._partial), self._dropped)
            self._partial, self._dropped = bytearray(), 0
        _resolve(self._output_closed)
        _resolve(self._report_seen)

    def process_exited(self) -> None:
        _resolve(self.exited)


def _utf8_boundary(raw: bytes) -> int:
    """The length of ``raw`` without a UTF-8 sequence cut short at its end."""
    for back in range(1, min(4, len(raw)) + 1):
        byte = raw[-back]
        if byte & 0xC0 != 0x80:  # the last lead byte (or ASCII): is its sequence whole?
            size = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(raw) - back if size > back else len(raw)
    return len(raw)


async def within(future: Awaitable[Any], timeout: float) -> bool:
    """Wait up to ``timeout`` for ``future`` without cancelling it; True if it is done."""
    done, _ = await asyncio.wait({asyncio.ensure_future(future)}, timeout=timeout)
    return bool(done)


def _resolve(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)
