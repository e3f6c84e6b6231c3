"""The parent side of the bench's server processes: start one, get its URL, stop it.

:func:`running_server` runs ``python -m <module>`` from the project root with a pipe
on stdin (closing it asks the child to stop, and happens by itself if the bench
dies), waits for the ``URL`` line of :mod:`bench.lifecycle`, and on the way out
stops the child: end of file, then SIGTERM, then SIGKILL, each after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, AsyncIterator, Sequence

from .lifecycle import URL_PREFIX

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_STOP_GRACE_S = 15.0  # the gateway's own shutdown may take a few seconds (moto)
_SIGNAL_GRACE_S = 5.0
_STDERR_TAIL_BYTES = 4000


class ServerStartError(Exception):
    """A server child exited or stayed silent before it announced its URL."""


@contextlib.asynccontextmanager
async def running_server(
    name: str, module: str, args: Sequence[str] = (), *, start_timeout_s: float = 60.0
) -> AsyncIterator[str]:
    """Run ``python -m module *args`` for the duration of the block; yields its URL.

    Raises :class:`ServerStartError` (with the child's stderr) if it does not start.
    """
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args, cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
        )  # fmt: skip
        drain: asyncio.Task[None] | None = None
        try:
            url = await _read_url(name, process, stderr, start_timeout_s)
            # Anything the child prints later must not fill the pipe and block it.
            drain = asyncio.create_task(_discard_output(process))
            yield url
        finally:
            await _stop(process)
            if drain is not None:
                drain.cancel()


async def _read_url(name: str, process: asyncio.subprocess.Process, stderr: IO[bytes], timeout_s: float) -> str:
    assert process.stdout is not None
    try:
        async with asyncio.timeout(timeout_s):
            while line := await process.stdout.readline():
                text = line.decode("utf-8", "replace").strip()
                if text.startswith(URL_PREFIX):
                    return text[len(URL_PREFIX) :]
    except TimeoutError:
        raise ServerStartError(f"{name} did not start within {timeout_s:g} s{_tail(stderr)}") from None
    status = await process.wait()
    raise ServerStartError(f"{name} exited with status {status} before it was ready{_tail(stderr)}")


async def _discard_output(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    while await process.stdout.read(65536):
        pass


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    assert process.stdin is not None
    process.stdin.close()
    for grace, escalate in ((_STOP_GRACE_S, process.terminate), (_SIGNAL_GRACE_S, process.kill)):
        try:
            await asyncio.wait_for(process.wait(), grace)
            return
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                escalate()
    await process.wait()


def _tail(stderr: IO[bytes]) -> str:
    stderr.seek(0, 2)
    size = stderr.tell()
    stderr.seek(max(0, size - _STDERR_TAIL_BYTES))
    text = stderr.read().decode("utf-8", "replace").strip()
    return f"; its stderr ends with:\n{text}" if text else " (no output on stderr)"
