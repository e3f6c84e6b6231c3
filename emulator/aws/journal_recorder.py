"""Keeping the embedded DynamoDB's data across restarts (``run-local --state-dir DIR``).

The moto child (emulator/aws/embedded.py) keeps everything in memory. With a state
folder it also keeps a *journal*, ``DIR/dynamodb.journal`` (its format:
emulator/aws/journal_format.py): one JSON line per DynamoDB request that changed
something and succeeded. In the child, in this order:

1. :func:`open_state` before serving: locks the folder, replays the journal into the
   fresh moto and compacts it when it has grown (emulator/aws/journal_replay.py), and
   returns the :class:`~emulator.aws.journal_format.Journal`, open for appending.
2. serve :class:`JournalingApp` (moto's app wrapped): each change is appended, and
   handed to the OS, before its answer is sent, so a crash or ``kill -9`` loses
   nothing a client was told had succeeded.
3. :meth:`Journal.close <emulator.aws.journal_format.Journal.close>` when the child stops.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from threading import Lock
from typing import Any, Callable, Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ..core.errors import StartupError
from .journal_format import JOURNAL_NAME, TARGET_PREFIX, Journal, Record, Warn, warn_on_stderr
from .journal_replay import restore

LOCK_NAME = "lock"
DEFAULT_REGION = "us-east-1"  # moto's, for unsigned requests

# Operations that change tables or items. PartiQL statements are journaled unless
# every statement is a SELECT (:func:`_changes_data`).
JOURNALED_OPERATIONS = frozenset({
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
    "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction",
    "CreateTable", "DeleteTable", "UpdateTable", "UpdateTimeToLive", "TagResource", "UntagResource",
})


def open_state(app: WSGIApplication, state_dir: Path, *, warn: Warn = warn_on_stderr,
               progress: Callable[[str], None] | None = None, lock_wait_s: float = 3.0) -> Journal:
    """Restore ``state_dir`` into the fresh moto ``app`` and return its open journal.

    Call once in the moto child before it serves (then serve :class:`JournalingApp`);
    ``progress`` hears "replayed N records" and "compacted N items" every thousand.
    Replay errors are warned about and the journal as it was is kept next to it as
    ``dynamodb.journal.bak``; raises StartupError if the folder is in use by another
    run-local, or its journal is not one or cannot be read or rewritten."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock(state_dir, lock_wait_s)
    except OSError as exc:
        raise StartupError(f"--state-dir {state_dir}: {exc.strerror or exc}") from None
    path = state_dir / JOURNAL_NAME
    try:
        restore(app, path, warn=warn, progress=progress)
        return Journal(path, lock_fd)
    except BaseException as exc:
        if lock_fd is not None:
            os.close(lock_fd)
        if isinstance(exc, OSError):
            raise StartupError(f"--state-dir {state_dir}: {exc.strerror or exc}") from None
        raise


def _lock(state_dir: Path, wait_s: float) -> int | None:
    """Lock ``state_dir`` for this process (released when it exits, even by SIGKILL).
    Waits a little: a run-local restarted at once may find its old child still exiting."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        return None
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise StartupError(f"--state-dir {state_dir} is in use by another wsgw run-local") from None
            time.sleep(0.05)


class JournalingApp:
    """WSGI middleware: moto's app, with every successful DynamoDB change journaled.

    Changes run one at a time under a lock, so the journal's order is the order moto
    applied them in (two writers of one item replay to the same winner). Reads pass
    straight through."""

    def __init__(self, app: WSGIApplication, journal: Journal, warn: Warn = warn_on_stderr) -> None:
        self.app = app
        self.journal = journal
        self.warn = warn
        self._lock = Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        op = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
        if op not in JOURNALED_OPERATIONS:
            return self.app(environ, start_response)
        data = _read_body(environ)
        statuses: list[str] = []

        def recording_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        with self._lock:
            # moto answers in full before returning (its body is a list, not a generator).
            result = self.app(environ, recording_start_response)
            if statuses and statuses[-1].startswith("2"):
                self._append(op, data, environ)
        return result

    def _append(self, op: str, data: bytes, environ: WSGIEnvironment) -> None:
        try:
            body = json.loads(data)
        except ValueError:
            return  # moto accepted a body that is not JSON: nothing we could replay
        if not isinstance(body, dict) or not _changes_data(op, body):
            return
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        record = Record(op, region_of(str(environ.get("HTTP_AUTHORIZATION", ""))), body,
                        str(account) if account else None)
        try:
            self.journal.append(record)
        except OSError as exc:
            self.warn(f"cannot write {self.journal.path} ({exc.strerror or exc}): this {op} is not kept "
                      f"past the next restart")


def _read_body(environ: WSGIEnvironment) -> bytes:
    """Read the request body and put it back for the app to read again."""
    stream = environ["wsgi.input"]
    length = str(environ.get("CONTENT_LENGTH") or "")
    data: bytes = stream.read(int(length)) if length.isdigit() else stream.read()
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    return data


def _changes_data(op: str, body: dict[str, Any]) -> bool:
    """False for PartiQL requests that only read (their SELECTs need no replay)."""
    if op == "ExecuteStatement":
        statements = [body.get("Statement")]
    elif op in ("BatchExecuteStatement", "ExecuteTransaction"):
        parts = body.get("Statements") or body.get("TransactStatements") or []
        statements = [part.get("Statement") for part in parts if isinstance(part, dict)]
    else:
        return True
    return not all(isinstance(s, str) and s.lstrip().upper().startswith("SELECT") for s in statements)


def region_of(authorization: str) -> str:
    """The region of a SigV4 ``Authorization`` header's credential scope, as moto reads it
    (``Credential=AKID/20240101/eu-west-1/dynamodb/aws4_request``); moto's default else."""
    _, _, rest = authorization.partition("Credential=")
    parts = rest.split(",")[0].split("/")
    return parts[2] if len(parts) == 5 and parts[2] else DEFAULT_REGION
