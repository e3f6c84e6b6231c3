"""Replay, snapshot and compaction of the state journal (emulator/aws/journal_replay.py), in-process.

moto's WSGI app runs in this process and is called directly (no network); its
backends are process-wide, so each test starts from moto's own reset. Compaction is
driven the way the moto child drives it: through ``open_state``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from wsgiref.types import WSGIApplication

from emulator.aws import journal_replay
from emulator.aws.journal_format import JOURNAL_NAME, Journal, Record, read_journal, write_journal
from emulator.aws.journal_recorder import open_state
from emulator.aws.journal_replay import replay, snapshot

from moto_in_process import KEYS, ask, journal_lines, reset, scan
from moto_in_process import moto  # noqa: F401  (a fixture: pytest finds it here)


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
    records = list(snapshot(moto, [(None, "eu-west-1")]))
    assert [r.op for r in records] == ["CreateTable", "UpdateTimeToLive"]
    reset(moto)
    assert replay(moto, records) == []
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
        write_journal(path, [])
    journal = Journal(path)
    for record in records:
        journal.append(record)
    journal.close()


def test_open_state_replays_then_compacts(moto: WSGIApplication, tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
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
    reset(moto)
    open_state(moto, tmp_path).close()  # the compacted journal restores the same
    assert scan(moto) == items
    assert read_journal(path).snapshot_records == 4


def test_compaction_waits_for_enough_appended_records(moto: WSGIApplication, tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    append(path, [create] + [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": "k"}}})] * 98)
    raw = path.read_bytes()
    open_state(moto, tmp_path).close()
    assert path.read_bytes() == raw  # 99 appended records: kept as they are
    append(path, [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": "j"}}})])
    reset(moto)
    open_state(moto, tmp_path).close()  # 100: compacted
    assert read_journal(path).snapshot_records == 2 and len(read_journal(path).records) == 2
    compacted = path.read_bytes()
    reset(moto)
    open_state(moto, tmp_path).close()
    assert path.read_bytes() == compacted  # nothing appended since: not rewritten


def test_compaction_threshold_counts_the_snapshot_in_items_not_records(moto: WSGIApplication, tmp_path: Path) -> None:
    # A snapshot of 500 items is 21 records (CreateTable + 20 batches of 25) but 501
    # writes: 150 new writes are fewer, so no rewrite yet; 501 are enough.
    path = tmp_path / JOURNAL_NAME
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    append(path, [create] + [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": f"k{n}"}}})
                             for n in range(500)])
    open_state(moto, tmp_path).close()
    assert read_journal(path).snapshot_records == 21
    append(path, [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": f"k{n}"}}})
                  for n in range(150)])
    raw = path.read_bytes()
    reset(moto)
    open_state(moto, tmp_path).close()
    assert path.read_bytes() == raw  # 150 < 501: kept as it is
    append(path, [Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": f"k{n}"}}})
                  for n in range(351)])
    reset(moto)
    open_state(moto, tmp_path).close()  # 501 appended: compacted again
    assert read_journal(path).snapshot_records == 21 and len(read_journal(path).records) == 21


def test_a_torn_record_is_cut_off_before_appending(moto: WSGIApplication, tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
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
            for run in journal_replay._runs(records)]
    assert runs == [["a", "b", "a"], ["a"], ["c"], ["d"], ["e"], ["DeleteItem"],
                    [str(n) for n in range(25)], [str(n) for n in range(25, 30)]]


def test_replay_keeps_order_through_batches(moto: WSGIApplication) -> None:
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    delete = Record("DeleteItem", "us-east-1", {"TableName": "t", "Key": {"pk": {"S": "x"}}})
    records = [create, put("x"), put("y", "1"), delete, put("y", "2"), put("z"), put("y", "3"), put("z", "4")]
    assert replay(moto, records) == []
    assert scan(moto) == [{"pk": {"S": "y"}, "v": {"N": "3"}}, {"pk": {"S": "z"}, "v": {"N": "4"}}]


def test_open_state_reports_progress_every_thousand(moto: WSGIApplication, tmp_path: Path) -> None:
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    append(tmp_path / JOURNAL_NAME, [create, *[put(f"k{n}") for n in range(2100)]])
    progress: list[str] = []
    open_state(moto, tmp_path, progress=progress.append).close()
    assert progress[-2:] == ["compacted 1000 items", "compacted 2000 items"]
    assert [message.split()[0] for message in progress[:-2]] == ["replayed", "replayed"]


def test_a_refused_batch_is_replayed_one_by_one(moto: WSGIApplication) -> None:
    create = Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **KEYS})
    empty_key = Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": ""}}})  # refused by moto
    progress: list[int] = []
    errors = replay(moto, [create, put("a"), empty_key, put("b"), *[put(f"n{n}") for n in range(2000)]],
                                  progress.append)
    assert len(errors) == 1 and "ValidationException" in errors[0]
    assert len(scan(moto)) == 2002
    assert [count // 1000 for count in progress] == [1, 2]


def test_failed_replay_keeps_a_backup_and_warns(moto: WSGIApplication, tmp_path: Path) -> None:
    path = tmp_path / JOURNAL_NAME
    bad = Record("PutItem", "us-east-1", {"TableName": "never-created", "Item": {"pk": {"S": "1"}}})
    append(path, [bad])
    original = path.read_bytes()
    warnings: list[str] = []
    open_state(moto, tmp_path, warn=warnings.append).close()
    assert len(warnings) == 1 and "1 of 1 records could not be replayed" in warnings[0]
    assert "ResourceNotFoundException" in warnings[0]
    assert (tmp_path / "dynamodb.journal.bak").read_bytes() == original
    assert journal_lines(path) == []
