"""npm and the Node.js tools wsgw runs: a command with progress, and ``npm ci`` of a
lock file that ships with wsgw into the per-user cache.

Two callers share this: the CDK CLI (``template/cdk_toolkit.py``: ``aws-cdk`` from the
bundled app's lock) and the Node.js runtime's AWS SDK (``runtime/node_runtime.py``: the
``@aws-sdk/*`` v3 clients from ``runtime/node/package-lock.json``). Call
:func:`install_lock` for a folder that is installed once per user and version, and
:func:`run_tool` for any other command whose output is only worth showing on failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .core.errors import WsgwError

__all__ = ["NPM_TIMEOUT_S", "Progress", "ToolError", "first_meaningful_line", "install_lock", "run_tool"]

Progress = Callable[[str, float, bool], None]
"""Told ``(what, elapsed seconds, done)`` about a long step: once at its start (0 s),
about every second while it runs, and once with ``done=True`` when it succeeded."""

NPM_TIMEOUT_S = 900
_NOISE = re.compile(r"feature flags are not configured|^[\s!*=#-]*$|^!!|cdk acknowledge|^NOTICES")
_PY_ERROR = re.compile(r"^[\w.]*(Error|Exception)\b.*:")


class ToolError(WsgwError):
    """A tool could not run or failed; the message is one line meant for the user."""


def first_meaningful_line(stderr: str) -> str:
    """The line of a failed run worth showing: a Python exception line (the last one) if
    the app raised, else the first line that is not a banner or a notice."""
    lines = [line.strip() for line in stderr.splitlines()]
    errors = [line for line in lines if _PY_ERROR.match(line)]
    if errors:
        return errors[-1]
    useful = [line for line in lines if line and not _NOISE.search(line)]
    return useful[0] if useful else "no error output"


def run_tool(command: Sequence[str], *, cwd: Path, env: dict[str, str], what: str, failure: str,
             timeout_s: float, progress: Progress | None = None) -> str:
    """Run ``command`` with its output captured; returns stdout. ``what`` names the step
    for ``progress``; a non-zero exit raises ``ToolError("<failure>: <the meaningful line>")``."""
    started = time.monotonic()
    if progress:
        progress(what, 0.0, False)
    try:
        proc = subprocess.Popen(list(command), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise ToolError(f"cannot run {command[0]}: {exc.strerror or exc}") from None
    while True:
        try:
            # communicate() may be called again after a timeout without losing output.
            stdout, stderr = proc.communicate(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - started
            if elapsed > timeout_s:
                proc.kill()
                proc.communicate()
                raise ToolError(f"{failure}: did not finish within {timeout_s:.0f} s") from None
            if progress:
                progress(what, elapsed, False)
    if proc.returncode != 0:
        raise ToolError(f"{failure}: {first_meaningful_line(stderr or stdout)}")
    if progress:
        progress(what, time.monotonic() - started, True)
    return stdout


def install_lock(source: Path, target: Path, *, what: str, failure: str, complete: Callable[[Path], bool],
                 progress: Progress | None = None) -> Path:
    """``npm ci`` of ``source``'s ``package.json`` and ``package-lock.json`` into
    ``target`` (a cache folder named after the version), unless ``complete(target)``
    already holds; returns ``target``. Raises :class:`ToolError` (npm missing, or
    the install failed). npm writes into a fresh folder beside the target, renamed
    into place when complete: an interrupted or concurrent install never leaves a
    half-filled folder behind."""
    if complete(target):
        return target
    if shutil.which("npm") is None:
        raise ToolError(f"{failure}: npm is not on PATH (install Node.js with npm)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=target.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(source / name, staging / name)
        run_tool(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(staging)],
                 cwd=staging, env=dict(os.environ), what=what, failure=failure, timeout_s=NPM_TIMEOUT_S,
                 progress=progress)
        try:
            staging.rename(target)
        except OSError:
            if not complete(target):  # else another install finished first: use it
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@contextlib.contextmanager
def one_at_a_time(output: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``output`` (a folder a tool writes) while the block runs:
    a second process writing the same folder (another ``wsgw run-local`` in the same
    checkout, a pytest-xdist worker) waits, then finds the first one's result. The lock
    is an ``flock`` on a file beside the folder, released when its process lets go or dies
    (POSIX; elsewhere nothing is locked)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(output.parent / f".{output.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if sys.platform != "win32":
            import fcntl

            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock
