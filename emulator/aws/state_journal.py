"""Keeping the embedded DynamoDB's data across restarts (``run-local --state-dir DIR``).

The moto child (emulator/aws/embedded.py) keeps everything in memory. With a state
folder it also keeps a *journal*, ``DIR/dynamodb.journal``: one JSON line per DynamoDB
request that changed something and succeeded. In the child, in this order:

1. :func:`open_state` before serving: locks the folder, replays the journal into the
   fresh moto through its WSGI app (no network), compacts it when the records appended
   since the last compaction outnumber the snapshot's (a snapshot of the tables —
   definitions, TTL, tags, items — written to a temporary file and renamed over the
   journal), and returns the :class:`Journal`, open for appending.
2. serve :class:`JournalingApp` (moto's app wrapped): each change is appended, and
   handed to the OS, before its answer is sent, so a crash or ``kill -9`` loses
   nothing a client was told had succeeded.
3. :meth:`Journal.close` when the child stops.

Format: a header line ``{"wsgw_state_journal": 1, "snapshot_records": N}`` (the first N
records are the last compaction's snapshot), then records
``{"op": "PutItem", "region": "us-east-1", "body": {...}}`` (plus ``"account"`` when the
request chose one with moto's ``x-moto-account-id`` header). No credentials are kept.

Deliberate limits: DynamoDB only (moto's other services start empty); stream records,
backups and PITR are not kept; a table's creation time is the restart's.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any, Callable, Iterable, Iterator, TypeAlias
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ..core.errors import StartupError

JOURNAL_NAME = "dynamodb.journal"
LOCK_NAME = "lock"
FORMAT_VERSION = 1
TARGET_PREFIX = "DynamoDB_20120810."
DEFAULT_REGION = "us-east-1"  # moto's, for unsigned requests
SNAPSHOT_BATCH = 25  # DynamoDB's BatchWriteItem limit: the snapshot stays valid AWS input
COMPACT_AFTER = 100  # appended records before a start compacts (and at least the snapshot's)

# Operations that change tables or items. PartiQL statements are journaled unless
# every statement is a SELECT (:func:`_changes_data`).
JOURNALED_OPERATIONS = frozenset({
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
    "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction",
    "CreateTable", "DeleteTable", "UpdateTable", "UpdateTimeToLive", "TagResource", "UntagResource",
})

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


class Journal:
    """The open journal: :meth:`append` one record per answered change."""

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


# -- talking to moto in-process: replay and snapshot --------------------------------------


def call(app: WSGIApplication, record: Record) -> tuple[int, dict[str, Any]]:
    """Send ``record`` to the WSGI ``app`` as a DynamoDB request; (status, JSON answer).

    The signature is a dummy: moto does not check it, and reads the region (and the
    account, from ``x-moto-account-id``) as it does for any client."""
    data = json.dumps(record.body).encode()
    environ: WSGIEnvironment = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(data)), "HTTP_X_AMZ_TARGET": TARGET_PREFIX + record.op,
        "HTTP_AUTHORIZATION": (f"AWS4-HMAC-SHA256 Credential=wsgw/20200101/{record.region}/dynamodb/"
                               f"aws4_request, SignedHeaders=host, Signature=0"),
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if record.account is not None:
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = record.account
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda chunk: None

    result = app(environ, start_response)
    answer = b"".join(result)
    getattr(result, "close", lambda: None)()
    parsed = json.loads(answer) if answer.strip() else {}
    return int(statuses[-1].split()[0]), parsed if isinstance(parsed, dict) else {}


def replay(app: WSGIApplication, records: Iterable[Record],
           progress: Callable[[int], None] | None = None) -> list[str]:
    """Apply ``records`` to ``app`` in order; the errors, one line each.

    Runs of plain PutItems into one table go as one BatchWriteItem (moto's cost is per
    request: ~5x faster), one by one again if moto refuses the batch. "Already exists"
    answers to CreateTable are not errors (the table is there)."""
    errors: list[str] = []
    count = 0
    for run in _runs(records):
        before, count = count, count + len(run)
        if len(run) > 1:
            batch = [{"PutRequest": {"Item": record.body["Item"]}} for record in run]
            first = run[0]
            body = {"RequestItems": {first.body["TableName"]: batch}}
            if call(app, Record("BatchWriteItem", first.region, body, first.account))[0] < 300:
                run = []
        for record in run:
            status, answer = call(app, record)
            error = str(answer.get("__type", "")).rpartition("#")[2]
            if status >= 300 and not (record.op == "CreateTable" and error == "ResourceInUseException"):
                errors.append(f"{record.op} in {record.region}: {status} {error} {answer.get('message', '')}".rstrip())
        if progress is not None and count // 1000 > before // 1000:
            progress(count)
    return errors


_PLAIN_PUT = frozenset({"TableName", "Item", "ReturnValues", "ReturnConsumedCapacity", "ReturnItemCollectionMetrics"})


def _runs(records: Iterable[Record]) -> Iterator[list[Record]]:
    """``records`` in order, in runs of up to :data:`SNAPSHOT_BATCH` unconditional
    PutItems into one table (a later put of the same key still wins: moto applies a
    batch in order); every other record alone."""
    run: list[Record] = []
    for record in records:
        plain = record.op == "PutItem" and record.body.keys() <= _PLAIN_PUT
        if run and not (plain and len(run) < SNAPSHOT_BATCH and record.body["TableName"] == run[0].body["TableName"]
                        and (record.region, record.account) == (run[0].region, run[0].account)
                        and all(record.body["Item"] != other.body["Item"] for other in run)):
            yield run
            run = []
        if plain:
            run.append(record)
        else:
            yield [record]
    if run:
        yield run


def snapshot(app: WSGIApplication, scopes: Iterable[tuple[str | None, str]],
             progress: Callable[[int], None] | None = None) -> Iterator[Record]:
    """Records that rebuild every table of each (account, region) in ``app``: CreateTable
    (keys, indexes, billing, streams, tags), UpdateTimeToLive, then the items in
    BatchWriteItem requests of :data:`SNAPSHOT_BATCH` puts (``progress`` hears the item
    count every thousand). Raises StartupError if moto refuses a read."""
    count = 0
    for account, region in scopes:
        def ask(op: str, body: dict[str, Any]) -> dict[str, Any]:
            status, answer = call(app, Record(op, region, body, account))
            if status >= 300:
                raise StartupError(f"compacting the state journal: {op} answered {status} {answer}")
            return answer

        def record(op: str, body: dict[str, Any]) -> Record:
            return Record(op, region, body, account)

        for name in _pages(ask, "ListTables", {}, "TableNames", "LastEvaluatedTableName", "ExclusiveStartTableName"):
            table = ask("DescribeTable", {"TableName": name})["Table"]
            tags = ask("ListTagsOfResource", {"ResourceArn": table["TableArn"]}).get("Tags")
            yield record("CreateTable", create_table_request(table, tags))
            ttl = ask("DescribeTimeToLive", {"TableName": name}).get("TimeToLiveDescription", {})
            if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
                yield record("UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": {
                    "Enabled": True, "AttributeName": ttl["AttributeName"]}})
            batch: list[dict[str, Any]] = []
            for item in _pages(ask, "Scan", {"TableName": name, "Limit": 1000}, "Items",
                               "LastEvaluatedKey", "ExclusiveStartKey"):
                batch.append({"PutRequest": {"Item": item}})
                count += 1
                if progress is not None and count % 1000 == 0:
                    progress(count)
                if len(batch) == SNAPSHOT_BATCH:
                    yield record("BatchWriteItem", {"RequestItems": {name: batch}})
                    batch = []
            if batch:
                yield record("BatchWriteItem", {"RequestItems": {name: batch}})


def _pages(ask: Callable[[str, dict[str, Any]], dict[str, Any]], op: str, body: dict[str, Any],
           key: str, last: str, start: str) -> Iterator[Any]:
    """Every element of ``answer[key]`` over all pages of a paginated read."""
    while True:
        answer = ask(op, body)
        yield from answer.get(key, [])
        if not answer.get(last):
            return
        body = {**body, start: answer[last]}


def create_table_request(table: dict[str, Any], tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The CreateTable body that recreates a DescribeTable ``table`` (empty)."""
    provisioned = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == "PROVISIONED"

    def spec(description: dict[str, Any], *keys: str) -> dict[str, Any]:
        out = {key: description[key] for key in keys}
        if provisioned:
            given = description.get("ProvisionedThroughput", {})
            out["ProvisionedThroughput"] = {"ReadCapacityUnits": given.get("ReadCapacityUnits") or 1,
                                            "WriteCapacityUnits": given.get("WriteCapacityUnits") or 1}
        return out

    request = spec(table, "TableName", "KeySchema", "AttributeDefinitions")
    request["BillingMode"] = "PROVISIONED" if provisioned else "PAY_PER_REQUEST"
    if table.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [spec(index, "IndexName", "KeySchema", "Projection")
                                             for index in table["GlobalSecondaryIndexes"]]
    if table.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = [{key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
                                            for index in table["LocalSecondaryIndexes"]]
    if table.get("StreamSpecification", {}).get("StreamEnabled"):
        request["StreamSpecification"] = table["StreamSpecification"]
    if table.get("DeletionProtectionEnabled"):
        request["DeletionProtectionEnabled"] = True
    if tags:
        request["Tags"] = tags
    return request


def write_journal(path: Path, records: list[Record]) -> None:
    """Replace the journal at ``path`` with the snapshot ``records``, atomically: written
    to a temporary file first, then renamed over it, so a crash leaves the old or the new."""
    temporary = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(header_line(len(records)))
        for record in records:
            out.write(record.to_line())
    os.replace(temporary, path)


# -- the whole start-up ---------------------------------------------------------------------


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
        contents = read_journal(path, warn)
        errors = replay(app, contents.records, progress and (lambda n: progress(f"replayed {n} records")))
        if errors:
            backup = path.with_name(path.name + ".bak")
            backup.write_bytes(path.read_bytes())
            warn(f"{path}: {len(errors)} of {len(contents.records)} records could not be replayed "
                 f"(first: {errors[0]}); the journal as it was is kept in {backup}")
        appended = len(contents.records) - contents.snapshot_records
        # Against the snapshot's size in writes: it holds its items 25 to a record.
        snapshot_writes = sum(map(_writes_in, contents.records[: contents.snapshot_records]))
        if errors or appended >= max(COMPACT_AFTER, snapshot_writes):
            scopes = dict.fromkeys((record.account, record.region) for record in contents.records)
            write_journal(path, list(snapshot(app, scopes, progress and (lambda n: progress(f"compacted {n} items")))))
        elif contents.valid_bytes == 0:
            write_journal(path, [])  # a new journal: just the header
        elif contents.valid_bytes < path.stat().st_size:
            os.truncate(path, contents.valid_bytes)  # drop a torn record before appending
        return Journal(path, lock_fd)
    except BaseException as exc:
        if lock_fd is not None:
            os.close(lock_fd)
        if isinstance(exc, OSError):
            raise StartupError(f"--state-dir {state_dir}: {exc.strerror or exc}") from None
        raise


def _writes_in(record: Record) -> int:
    """How many item writes ``record`` carries (a BatchWriteItem: each of its requests)."""
    if record.op != "BatchWriteItem":
        return 1
    requests = record.body.get("RequestItems")
    return sum(len(batch) for batch in requests.values() if isinstance(batch, list)) if isinstance(requests, dict) else 1


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
