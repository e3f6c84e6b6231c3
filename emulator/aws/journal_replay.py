"""Bringing the state journal back into a fresh moto, and compacting it.

At start (:func:`restore`, called by emulator/aws/journal_recorder.py's ``open_state``
before the moto child serves) the journal's records are replayed into moto through its
WSGI app (no network; :func:`call`), runs of plain PutItems as one BatchWriteItem each.
When the records appended since the last compaction outnumber the snapshot's, the
journal is compacted: a snapshot of the tables — definitions, TTL, tags, items — is
read back from moto (:func:`snapshot`) and written over the journal (the file is
emulator/aws/journal_format.py's).

Deliberate limits: DynamoDB only (moto's other services start empty); stream records,
backups and PITR are not kept; a table's creation time is the restart's.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from wsgiref.types import WSGIApplication, WSGIEnvironment

from ..core.errors import StartupError
from .journal_format import TARGET_PREFIX, Record, Warn, read_journal, warn_on_stderr, write_journal

SNAPSHOT_BATCH = 25  # DynamoDB's BatchWriteItem limit: the snapshot stays valid AWS input
COMPACT_AFTER = 100  # appended records before a start compacts (and at least the snapshot's)


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


def restore(app: WSGIApplication, path: Path, *, warn: Warn = warn_on_stderr,
            progress: Callable[[str], None] | None = None) -> None:
    """Replay the journal at ``path`` into the fresh moto ``app``, compact it when it has
    grown, and leave it ready to append to (a header line at least, no torn record).

    ``progress`` hears "replayed N records" and "compacted N items" every thousand.
    Replay errors are warned about, the journal as it was is kept next to it as
    ``dynamodb.journal.bak``, and the journal is rewritten from what moto holds.
    Raises StartupError if the file is not a journal, OSError if it cannot be read back
    or rewritten."""
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


def _writes_in(record: Record) -> int:
    """How many item writes ``record`` carries (a BatchWriteItem: each of its requests)."""
    if record.op != "BatchWriteItem":
        return 1
    requests = record.body.get("RequestItems")
    return sum(len(batch) for batch in requests.values() if isinstance(batch, list)) if isinstance(requests, dict) else 1


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
