"""The parent side of the bench's server processes: start one, talk to it, stop it.

:func:`running_server` runs ``python -m <module>`` from the project root with a pipe
on stdin (closing it asks the child to stop, and happens by itself if the bench
dies), waits for the ``URL`` line of :mod:`bench.lifecycle`, and on the way out
stops the child: end of file, then SIGTERM, then SIGKILL, each after a grace period.
:meth:`ServerHandle.query` sends the child a command line and returns its reply.
:func:`running_run_local` runs ``wsgw run-local`` itself, as a user would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, AsyncIterator, Mapping, Sequence

from .lifecycle import REPLY_PREFIX, URL_PREFIX

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_STOP_GRACE_S = 15.0  # the gateway's own shutdown may take a few seconds (moto)
_SIGNAL_GRACE_S = 5.0
_STDERR_TAIL_BYTES = 4000


class ServerStartError(Exception):
    """A server child exited or stayed silent before it announced its URL."""


class ServerQueryError(Exception):
    """A server child did not answer a command, or answered with an error."""


@dataclass
class ServerHandle:
    """A running server child: where to connect, its PID, and its command channel."""

    name: str
    url: str
    process: asyncio.subprocess.Process
    replies: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def query(self, command: str, timeout_s: float = 30.0) -> Any:
        """Send one command line; return the child's JSON reply."""
        assert self.process.stdin is not None
        async with self.lock:
            self.process.stdin.write(command.encode() + b"\n")
            await self.process.stdin.drain()
            try:
                text = await asyncio.wait_for(self.replies.get(), timeout_s)
            except TimeoutError:
                raise ServerQueryError(f"{self.name} did not answer {command!r} within {timeout_s:g} s") from None
        value = json.loads(text)
        if isinstance(value, dict) and "error" in value:
            raise ServerQueryError(f"{self.name} answered {command!r} with: {value['error']}")
        return value


@contextlib.asynccontextmanager
async def running_server(
    name: str,
    module: str,
    args: Sequence[str] = (),
    *,
    start_timeout_s: float = 60.0,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[ServerHandle]:
    """Run ``python -m module *args`` for the duration of the block; yields its handle.

    Raises :class:`ServerStartError` (with the child's stderr) if it does not start.
    """
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args, cwd=PROJECT_ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
        )  # fmt: skip
        reader: asyncio.Task[None] | None = None
        try:
            url = await _read_url(name, process, stderr, start_timeout_s)
            handle = ServerHandle(name, url, process)
            # Anything else the child prints must not fill the pipe and block it.
            reader = asyncio.create_task(_read_replies(process, handle.replies))
            yield handle
        finally:
            await stop_process(process)
            if reader is not None:
                reader.cancel()


_RUN_LOCAL_URL = re.compile(r"WebSocket URL:\s+(ws://\S+)")


def run_local_command(root: Path, app: Path, folder: Path, loop: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start checkout ``root``'s ``wsgw run-local``
    on ``app`` as the bench runs it: from ``folder`` (its state file and local CA go
    there), hot reload off, ``--event-loop loop``, no colour. Run it with stdout and
    stderr to a file and wait for :func:`run_local_url`."""
    command = [sys.executable, str(root / "cli.py"), "run-local", "--template", str(app), "--port", "0",
               "--tls-dir", str(folder / "tls"), "--no-reload", "--event-loop", loop]  # fmt: skip
    return command, {**os.environ, "NO_COLOR": "1", "WSGW_STATE_FILE": str(folder / "state.json")}


def run_local_url(output: Path) -> str | None:
    """run-local's WebSocket URL once its output (the file) says it is ready, else None."""
    text = output.read_text("utf-8", "replace")
    match = _RUN_LOCAL_URL.search(text) if "Ready." in text else None
    return match.group(1) if match else None


@contextlib.asynccontextmanager
async def running_run_local(app: Path, loop: str, *, start_timeout_s: float = 120.0) -> AsyncIterator[ServerHandle]:
    """``wsgw run-local`` of this checkout serving ``app`` for the duration of the block,
    as a user runs it (:func:`run_local_command`): its console prints to a file (as
    serverless-offline's output does here), its state file and local CA are in a
    throw-away folder. Yields a handle without a command channel; on the way out,
    SIGTERM (run-local stops as on Ctrl-C), then SIGKILL. Raises
    :class:`ServerStartError` if it is not ready in time."""
    with tempfile.TemporaryDirectory(prefix="wsgw-bench-run-local-") as name:
        folder = Path(name)
        command, env = run_local_command(PROJECT_ROOT, app, folder, loop)
        with open(folder / "output.txt", "wb") as output:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + start_timeout_s
            while (url := run_local_url(folder / "output.txt")) is None:
                if process.returncode is not None or time.monotonic() > deadline:
                    what = "exited" if process.returncode is not None else f"was not ready within {start_timeout_s:g} s"
                    text = (folder / "output.txt").read_text("utf-8", "replace")
                    raise ServerStartError(f"wsgw run-local {what}; its output ends with:\n{text[-_STDERR_TAIL_BYTES:]}")
                await asyncio.sleep(0.05)
            yield ServerHandle("wsgw run-local", url, process)
        finally:
            await stop_process(process, close_stdin=False)


async def _read_url(name: str, process: asyncio.subprocess.Process, stderr: IO[bytes], timeout_s: float) -> str:
    assert process.stdout is not None
    try:
        async with asyncio.timeout(timeout_s):
            while line := await process.stdout.readline():
                text = line.decode("utf-8", "replace").strip()
                if text.startswith(URL_PREFIX):
                    return text[len(URL_PREFIX) :]
    except TimeoutError:
        raise ServerStartError(f"{name} did not start within {timeout_s:g} s{tail(stderr)}") from None
    status = await process.wait()
    raise ServerStartError(f"{name} exited with status {status} before it was ready{tail(stderr)}")


async def _read_replies(process: asyncio.subprocess.Process, replies: asyncio.Queue[str]) -> None:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        if line.startswith(REPLY_PREFIX.encode()):
            replies.put_nowait(line[len(REPLY_PREFIX) :].decode("utf-8", "replace"))


async def stop_process(process: asyncio.subprocess.Process, *, close_stdin: bool = True) -> None:
    """End of file on stdin (if it has a pipe), then SIGTERM, then SIGKILL, each
    after a grace period; returns once the process has exited."""
    if process.returncode is not None:
        return
    steps = []
    if close_stdin and process.stdin is not None:
        process.stdin.close()
        steps.append((_STOP_GRACE_S, process.terminate))
    else:
        process.terminate()
    steps.append((_SIGNAL_GRACE_S, process.kill))
    for grace, escalate in steps:
        try:
            await asyncio.wait_for(process.wait(), grace)
            return
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                escalate()
    await process.wait()


def tail(stderr: IO[bytes]) -> str:
    """The end of a child's captured output, as a message suffix."""
    stderr.seek(0, 2)
    size = stderr.tell()
    stderr.seek(max(0, size - _STDERR_TAIL_BYTES))
    text = stderr.read().decode("utf-8", "replace").strip()
    return f"; its output ends with:\n{text}" if text else " (no output)"
