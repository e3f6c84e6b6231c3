"""The DynamoDB journal behind --state-dir (emulator/aws/state_journal.py), in-process.

moto's WSGI app runs in this process and is called directly (no network); its
backends are process-wide, so each test starts from moto's own reset.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from wsgiref.types import WSGIApplication, WSGIEnvironment

from emulator.aws import state_journal
from emulator.core.errors import StartupError
from emulator.aws.state_journal import JournalingApp, Journal, Record, call, open_state, read_journal, region_of

KEYS = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}


def _reset(app: WSGIApplication) -> None:
    environ: WSGIEnvironment = {"REQUEST_METHOD": "POST", "PATH_INFO": "/moto-api/reset", "QUERY_STRING": "",
                                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.input": io.BytesIO(),
                                "wsgi.url_scheme": "http", "CONTENT_LENGTH": "0", "SERVER_PROTOCOL": "HTTP/1.1"}
    statuses: list[str] = []
    list(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))  # type: ignore[arg-type, func-returns-value]
    assert statuses[0].startswith("200")


@pytest.fixture
def moto() -> Iterator[WSGIApplication]:
    app: WSGIApplication = DomainDispatcherApplication(create_backend_app)
    _reset(app)
    yield app
    _reset(app)


def ask(app: WSGIApplication, op: str, body: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    status, answer = call(app, Record(op, region, body))
    assert status == 200, answer
    return answer


def scan(app: WSGIApplication, table: str = "t", region: str = "us-east-1") -> list[dict[str, Any]]:
    return sorted(ask(app, "Scan", {"TableName": table}, region)["Items"], key=lambda item: json.dumps(item["pk"]))


def fresh_journal(path: Path) -> Journal:
    state_journal.write_journal(path, [])  # as open_state leaves it: a header line
    return Journal(path)


def journal_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()[1:]]


# -- the file ----------------------------------------------------------------------------


def test_record_is_one_line_whatever_its_values() -> None:
    record = Record("PutItem", "eu-west-1", {"TableName": "t", "Item": {"pk": {"S": "a\nb\r\u2028"}}}, "111122223333")
    line = record.to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert Record.from_line(line) == record


@pytest.mark.parametrize("authorization, region", [
    ("AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x",
     "eu-west-1"),
    ("", "us-east-1"), ("AWS AKID:signature", "us-east-1"), ("AWS4-HMAC-SHA256 Credential=broken", "us-east-1"),
])
def test_region_of_reads_the_credential_scope(authorization: str, region: str) -> None:
    assert region_of(authorization) == region


def test_missing_or_empty_journal_is_a_fresh_start(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "none").records == []
    (tmp_path / "empty").write_bytes(b"")
    assert read_journal(tmp_path / "empty").records == []


def test_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "j"
    good = Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": "1"}}})
    path.write_bytes(state_journal.header_line() + good.to_line() + good.to_line()[:17])
    warnings: list[str] = []
    contents = read_journal(path, warnings.append)
    assert contents.records == [good] and contents.valid_bytes == path.stat().st_size - 17
    assert len(warnings) == 1 and "incomplete last record (17 bytes)" in warnings[0] and str(path) in warnings[0]


@pytest.mark.parametrize("content, problem", [
    (b"hello world\n", "first line is not JSON"),
    (b'{"some": "json"}\n', "no wsgw_state_journal header"),
    (b"no newline at all", "no header line"),
    (b'{"wsgw_state_journal": 99}\n', "newer wsgw"),
    (state_journal.header_line() + b"{}\n" + b'{"op":"PutItem","region":"r","body":{}}\n', "line 2"),
    (state_journal.header_line() + b"\xff\xfe\n", "line 2"),
])
def test_a_file_that_is_not_a_journal_stops_the_start(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "dynamodb.journal"
    path.write_bytes(content)
    with pytest.raises(StartupError, match=problem) as raised:
        read_journal(path)
    assert str(path) in str(raised.value)


# -- the middleware -------------------------------------------------------------------------


def http(app: WSGIApplication, op: str, body: dict[str, Any], **headers: str) -> int:
    """``op`` through ``app`` the way a server hands it over (a body stream to read once)."""
    data = json.dumps(body).encode()
    environ: WSGIEnvironment = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BufferedReader(io.BytesIO(data)),  # type: ignore[arg-type]
        "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/x-amz-json-1.0",
        "HTTP_X_AMZ_TARGET": f"DynamoDB_20120810.{op}",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/dynamodb/aws4_request, "
                              "SignedHeaders=host, Signature=0",
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)

    b"".join(app(environ, start_response))  # type: ignore[arg-type]
    return int(statuses[-1].split()[0])


def test_only_answered_changes_are_journaled(moto: WSGIApplication, tmp_path: Path) -> None:
    journal = fresh_journal(tmp_path / "j")
    app = JournalingApp(moto, journal)
    assert http(app, "CreateTable", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS}) == 200
    assert http(app, "PutItem", {"TableName": "t", "Item": {"pk": {"S": "1"}}}) == 200
    assert http(app, "PutItem", {"TableName": "t", "Item": {"pk": {"S": "1"}},
                                 "ConditionExpression": "attribute_not_exists(pk)"}) == 400
    assert http(app, "PutItem", {"TableName": "missing", "Item": {"pk": {"S": "1"}}}) == 400
    assert http(app, "GetItem", {"TableName": "t", "Key": {"pk": {"S": "1"}}}) == 200
    assert http(app, "Scan", {"TableName": "t"}) == 200
    assert http(app, "PutItem", {"TableName": "t", "Item": {"pk": {"S": "2"}}}) == 200
    assert http(app, "DeleteItem", {"TableName": "t", "Key": {"pk": {"S": "1"}}},
                x_moto_account_id="111122223333") == 400  # that account has no table t
    journal.close()
    lines = journal_lines(tmp_path / "j")
    assert [line["op"] for line in lines] == ["CreateTable", "PutItem", "PutItem"]
    assert {line["region"] for line in lines} == {"eu-west-1"}
    assert lines[1]["body"] == {"TableName": "t", "Item": {"pk": {"S": "1"}}}
    # moto read the body too: the item is there.
    assert [item["pk"]["S"] for item in scan(moto, region="eu-west-1")] == ["1", "2"]


@pytest.mark.parametrize("op, body, changes", [
    ("ExecuteStatement", {"Statement": "  select * from t"}, False),
    ("ExecuteStatement", {"Statement": "INSERT INTO t VALUE {'pk': '2'}"}, True),
    ("BatchExecuteStatement", {"Statements": [{"Statement": "SELECT * FROM t"}]}, False),
    ("BatchExecuteStatement", {"Statements": [{"Statement": "SELECT * FROM t"},
                                              {"Statement": "DELETE FROM t WHERE pk='1'"}]}, True),
    ("ExecuteTransaction", {"TransactStatements": [{"Statement": "UPDATE t SET n=1 WHERE pk='1'"}]}, True),
    ("PutItem", {}, True),
])
def test_partiql_reads_are_not_journaled(op: str, body: dict[str, Any], changes: bool) -> None:
    # (Only the decision: moto's PartiQL needs py-partiql-parser, which is optional.)
    assert state_journal._changes_data(op, body) is changes


def test_the_account_header_is_kept(moto: WSGIApplication, tmp_path: Path) -> None:
    journal = fresh_journal(tmp_path / "j")
    app = JournalingApp(moto, journal)
    assert http(app, "CreateTable", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS},
                x_moto_account_id="111122223333") == 200
    journal.close()
    assert journal_lines(tmp_path / "j")[0]["account"] == "111122223333"


def test_a_write_failure_is_warned_and_the_answer_still_sent(moto: WSGIApplication, tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.close()
    journal._fd = 987654  # not an open file: os.write fails with EBADF
    warnings: list[str] = []
    app = JournalingApp(moto, journal, warnings.append)
    assert http(app, "CreateTable", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS}) == 200
    assert len(warnings) == 1 and "CreateTable is not kept" in warnings[0]


# -- replay, snapshot, compaction ----------------------------------------------------------------


def test_snapshot_rebuilds_table_definitions(moto: WSGIApplication, tmp_path: Path) -> None:
    ask(moto, "CreateTable", {
        "TableName": "p", "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 3},
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in
                                 (("pk", "S"), ("sk", "N"), ("l", "S"), ("g", "S"))],
        "LocalSecondaryIndexes": [{"IndexName": "li", "Projection": {"ProjectionType": "KEYS_ONLY"}, "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "l", "KeyType": "RANGE"}]}],
        "GlobalSecondaryIndexes": [{
            "IndexName": "gi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]},
            "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 2}}],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        "Tags": [{"Key": "team", "Value": "chat"}],
    }, region="eu-west-1")
    ask(moto, "UpdateTimeToLive", {"TableName": "p", "TimeToLiveSpecification": {"Enabled": True,
                                                                               "AttributeName": "expires"}},
        region="eu-west-1")
    before = ask(moto, "DescribeTable", {"TableName": "p"}, "eu-west-1")["Table"]
    records = list(state_journal.snapshot(moto, [(None, "eu-west-1")]))
    assert [r.op for r in records] == ["CreateTable", "UpdateTimeToLive"]
    _reset(moto)
    assert state_journal.replay(moto, records) == []
    after = ask(moto, "DescribeTable", {"TableName": "p"}, "eu-west-1")["Table"]
    for key in ("KeySchema", "AttributeDefinitions", "LocalSecondaryIndexes", "StreamSpecification",
                "BillingModeSummary"):
        assert after[key] == before[key], key
    assert after["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert [(i["IndexName"], i["Projection"], i["ProvisionedThroughput"]["WriteCapacityUnits"])
            for i in after["GlobalSecondaryIndexes"]] == [("gi", {"ProjectionType": "INCLUDE",
                                                                  "NonKeyAttributes": ["x"]}, 2)]
    ttl = ask(moto, "DescribeTimeToLive", {"TableName": "p"}, "eu-west-1")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    tags = ask(moto, "ListTagsOfResource", {"ResourceArn": after["TableArn"]}, "eu-west-1")["Tags"]
    assert tags == [{"Key": "team", "Value": "chat"}]


def append(path: Path, records: list[Record]) -> None:
    """``records`` appended to the journal at ``path`` (a new one if there is none)."""
    if not path.exists():
        state_journal.write_journal(path, [])
    journal = Journal(path)
    for record in records:
        journal.append(record)
    journal.close()


def test_open_state_replays_then_compacts(moto: WSGIApplication, tmp_path: Path) -> None:
    path = tmp_path / state_journal.JOURNAL_NAME
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    puts = [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": "k"}, "n": {"N": str(n)}}})
            for n in range(300)]
    others = [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": f"o{n}"}}}) for n in range(60)]
    append(path, [create, *puts, *others])
    before = path.stat().st_size
    journal = open_state(moto, tmp_path)
    journal.close()
    assert path.stat().st_size < before / 10
    ops = [line["op"] for line in journal_lines(path)]
    assert ops == ["CreateTable", "BatchWriteItem", "BatchWriteItem", "BatchWriteItem"]  # 61 items: 25+25+11
    items = scan(moto)
    assert len(items) == 61 and {"pk": {"S": "k"}, "n": {"N": "299"}} in items
    _reset(moto)
    open_state(moto, tmp_path).close()  # the compacted journal restores the same
    assert scan(moto) == items
    assert read_journal(path).snapshot_records == 4


def test_compaction_waits_for_enough_appended_records(moto: WSGIApplication, tmp_path: Path) -> None:
    path = tmp_path / state_journal.JOURNAL_NAME
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    append(path, [create] + [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": "k"}}})] * 98)
    raw = path.read_bytes()
    open_state(moto, tmp_path).close()
    assert path.read_bytes() == raw  # 99 appended records: kept as they are
    append(path, [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": "j"}}})])
    _reset(moto)
    open_state(moto, tmp_path).close()  # 100: compacted
    assert read_journal(path).snapshot_records == 2 and len(read_journal(path).records) == 2
    compacted = path.read_bytes()
    _reset(moto)
    open_state(moto, tmp_path).close()
    assert path.read_bytes() == compacted  # nothing appended since: not rewritten


def test_compaction_threshold_counts_the_snapshot_in_items_not_records(moto: WSGIApplication, tmp_path: Path) -> None:
    # A snapshot of 500 items is 21 records (CreateTable + 20 batches of 25) but 501
    # writes: 150 new writes are fewer, so no rewrite yet; 501 are enough.
    path = tmp_path / state_journal.JOURNAL_NAME
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    append(path, [create] + [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": f"k{n}"}}})
                             for n in range(500)])
    open_state(moto, tmp_path).close()
    assert read_journal(path).snapshot_records == 21
    append(path, [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": f"k{n}"}}})
                  for n in range(150)])
    raw = path.read_bytes()
    _reset(moto)
    open_state(moto, tmp_path).close()
    assert path.read_bytes() == raw  # 150 < 501: kept as it is
    append(path, [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": f"k{n}"}}})
                  for n in range(351)])
    _reset(moto)
    open_state(moto, tmp_path).close()  # 501 appended: compacted again
    assert read_journal(path).snapshot_records == 21 and len(read_journal(path).records) == 21


def test_a_torn_record_is_cut_off_before_appending(moto: WSGIApplication, tmp_path: Path) -> None:
    path = tmp_path / state_journal.JOURNAL_NAME
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    append(path, [create])
    with path.open("ab") as out:
        out.write(b'{"op":"PutItem","reg')
    warnings: list[str] = []
    journal = open_state(moto, tmp_path, warn=warnings.append)
    journal.append(Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": "after"}}}))
    journal.close()
    assert len(warnings) == 1
    assert [line["op"] for line in journal_lines(path)] == ["CreateTable", "PutItem"]


def put(key: str, value: str | None = None, table: str = "t", **more: Any) -> Record:
    item = {"pk": {"S": key}, **({"v": {"N": value}} if value is not None else {})}
    return Record("PutItem", "us-east-1", {"TableName": table, "Item": item, **more})


def test_replay_batches_runs_of_plain_puts_only() -> None:
    conditional = put("c", ConditionExpression="attribute_not_exists(pk)")
    records = [put("a"), put("b"), put("a", "1"), put("a", "1"), conditional, put("d"), put("e", table="u"),
               Record("DeleteItem", "us-east-1", {"TableName": "u", "Key": {"pk": {"S": "e"}}}),
               *[put(str(n)) for n in range(30)]]
    runs = [[r.body["Item"]["pk"]["S"] if r.op == "PutItem" else r.op for r in run]
            for run in state_journal._runs(records)]
    assert runs == [["a", "b", "a"], ["a"], ["c"], ["d"], ["e"], ["DeleteItem"],
                    [str(n) for n in range(25)], [str(n) for n in range(25, 30)]]


def test_replay_keeps_order_through_batches(moto: WSGIApplication) -> None:
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    delete = Record("DeleteItem", "us-east-1", {"TableName": "t", "Key": {"pk": {"S": "x"}}})
    records = [create, put("x"), put("y", "1"), delete, put("y", "2"), put("z"), put("y", "3"), put("z", "4")]
    assert state_journal.replay(moto, records) == []
    assert scan(moto) == [{"pk": {"S": "y"}, "v": {"N": "3"}}, {"pk": {"S": "z"}, "v": {"N": "4"}}]


def test_open_state_reports_progress_every_thousand(moto: WSGIApplication, tmp_path: Path) -> None:
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    append(tmp_path / state_journal.JOURNAL_NAME, [create, *[put(f"k{n}") for n in range(2100)]])
    progress: list[str] = []
    open_state(moto, tmp_path, progress=progress.append).close()
    assert progress[-2:] == ["compacted 1000 items", "compacted 2000 items"]
    assert [message.split()[0] for message in progress[:-2]] == ["replayed", "replayed"]


def test_a_refused_batch_is_replayed_one_by_one(moto: WSGIApplication) -> None:
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    empty_key = Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": ""}}})  # refused by moto
    progress: list[int] = []
    errors = state_journal.replay(moto, [create, put("a"), empty_key, put("b"), *[put(f"n{n}") for n in range(2000)]],
                                  progress.append)
    assert len(errors) == 1 and "ValidationException" in errors[0]
    assert len(scan(moto)) == 2002
    assert [count // 1000 for count in progress] == [1, 2]


def test_failed_replay_keeps_a_backup_and_warns(moto: WSGIApplication, tmp_path: Path) -> None:
    path = tmp_path / state_journal.JOURNAL_NAME
    bad = Record("PutItem", "us-east-1", {"TableName": "never-created", "Item": {"pk": {"S": "1"}}})
    append(path, [bad])
    original = path.read_bytes()
    warnings: list[str] = []
    open_state(moto, tmp_path, warn=warnings.append).close()
    assert len(warnings) == 1 and "1 of 1 records could not be replayed" in warnings[0]
    assert "ResourceNotFoundException" in warnings[0]
    assert (tmp_path / "dynamodb.journal.bak").read_bytes() == original
    assert journal_lines(path) == []


def test_a_state_dir_in_use_is_refused(moto: WSGIApplication, tmp_path: Path) -> None:
    first = open_state(moto, tmp_path)
    try:
        with pytest.raises(StartupError, match="in use by another wsgw run-local"):
            open_state(moto, tmp_path, lock_wait_s=0.1)
    finally:
        first.close()
    open_state(moto, tmp_path, lock_wait_s=0.1).close()  # released by close()

