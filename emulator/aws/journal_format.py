"""The file of ``run-local --state-dir DIR``: ``DIR/dynamodb.journal``, its records, reading and writing.

One JSON line per DynamoDB request that changed something and succeeded. Format: a
header line ``{"wsgw_state_journal": 1, "snapshot_records": N}`` (the first N records
are the last compaction's snapshot), then records
``{"op": "PutItem", "region": "us-east-1", "body": {...}}`` (plus ``"account"`` when the
request chose one with moto's ``x-moto-account-id`` header). No credentials are kept.

:func:`read_journal` reads it at start (an incomplete last record is skipped with a
warning), :func:`write_journal` replaces it with a compaction's snapshot, and an open
:class:`Journal` appends one record per answered change. Replaying and compacting are
emulator/aws/journal_replay.py's; the folder lock and the recording middleware,
emulator/aws/journal_recorder.py's.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeAlias

from ..core.errors import StartupError

JOURNAL_NAME = "dynamodb.journal"
FORMAT_VERSION = 1
# A record's ``op`` is the operation its X-Amz-Target header named after this prefix.
TARGET_PREFIX = "DynamoDB_20120810."

Warn: TypeAlias = Callable[[str], None]


def warn_on_stderr(message: str) -> None:
    """Default warning sink of the child: one ``wsgw: warning:`` line on stderr."""
    print(f"wsgw: warning: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Record:
    """One journaled DynamoDB request: operation, region, JSON body (and account)."""

    op: str
    region: str
    body: dict[str, Any]
    account: str | None = None

    def to_line(self) -> bytes:
        """The record as one journal line (JSON escapes newlines: one line, always)."""
        data: dict[str, Any] = {"op": self.op, "region": self.region, "body": self.body}
        if self.account is not None:
            data["account"] = self.account
        return json.dumps(data, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Record:
        """Parse a journal line; ValueError if it is not a record."""
        data = json.loads(line)
        if not (isinstance(data, dict) and isinstance(data.get("op"), str)
                and isinstance(data.get("region"), str) and isinstance(data.get("body"), dict)
                and isinstance(data.get("account", ""), str)):
            raise ValueError("not a journal record")
        return cls(data["op"], data["region"], data["body"], data.get("account"))


def header_line(snapshot_records: int = 0) -> bytes:
    """The journal's first line, saying how many records after it are the snapshot."""
    header = {"wsgw_state_journal": FORMAT_VERSION, "snapshot_records": snapshot_records}
    return json.dumps(header).encode() + b"\n"


@dataclass(frozen=True)
class Contents:
    """What :func:`read_journal` found."""

    records: list[Record]
    snapshot_records: int = 0  # how many of ``records`` the last compaction wrote
    valid_bytes: int = 0  # the file's length without an incomplete last record


def read_journal(path: Path, warn: Warn = warn_on_stderr) -> Contents:
    """The records of the journal at ``path`` (none if there is no file yet).

    An incomplete last line — the process stopped while writing it, so its request was
    never answered — is skipped with a warning. Anything else that is not a journal
    raises :class:`StartupError` naming the file, before anything is replayed."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Contents([])
    except OSError as exc:
        raise StartupError(f"cannot read the state journal {path}: {exc.strerror or exc}") from None
    if not data:
        return Contents([])
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline, as every complete record does
    header = _header(lines[0]) if lines else "no header line"
    if isinstance(header, str):
        raise StartupError(f"{path} is not a wsgw state journal ({header}); move it away or use "
                           f"another --state-dir")
    records = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            records.append(Record.from_line(line))
        except ValueError:
            raise StartupError(f"{path}, line {number}: not a journal record; fix or delete that line "
                               f"(or delete the folder to start empty)") from None
    if torn:
        warn(f"{path}: skipped an incomplete last record ({len(torn)} bytes): it was being written "
             f"when the process stopped, so its request was never answered")
    return Contents(records, min(len(records), header), len(data) - len(torn))


def _header(line: bytes) -> int | str:
    """The header's ``snapshot_records``, or what is wrong with it."""
    try:
        header = json.loads(line)
    except ValueError:
        return "its first line is not JSON"
    version = header.get("wsgw_state_journal") if isinstance(header, dict) else None
    if not isinstance(version, int):
        return "no wsgw_state_journal header"
    if version > FORMAT_VERSION:
        return f"format {version}, written by a newer wsgw; this one reads {FORMAT_VERSION}"
    count = header.get("snapshot_records", 0)
    return count if isinstance(count, int) and count >= 0 else "a bad snapshot_records"


def write_journal(path: Path, records: list[Record]) -> None:
    """Replace the journal at ``path`` with the snapshot ``records``, atomically: written
    to a temporary file first, then renamed over it, so a crash leaves the old or the new."""
    temporary = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(header_line(len(records)))
        for record in records:
            out.write(record.to_line())
    os.replace(temporary, path)


class Journal:
    """The open journal: :meth:`append` one record per answered change; :meth:`close`
    when the child stops (it also releases the folder's lock, when given one)."""

    def __init__(self, path: Path, lock_fd: int | None = None) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, record: Record) -> None:
        """Write ``record`` with one unbuffered ``write``: once this returns, the OS has
        it, and a crash of this process (even SIGKILL) cannot lose it. No fsync: we
        guard against process crashes, not power loss, and fsync would cost a disk
        flush per request."""
        assert self._fd is not None, "closed"
        view = memoryview(record.to_line())
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        """Close the file and release the folder's lock; safe to call twice."""
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._lock_fd = None
