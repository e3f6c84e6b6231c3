"""Recording changes and opening the state folder (emulator/aws/journal_recorder.py), in-process.

moto's WSGI app runs in this process and is called directly (no network); its
backends are process-wide, so each test starts from moto's own reset.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from wsgiref.types import WSGIApplication, WSGIEnvironment

import pytest

from emulator.aws import journal_recorder
from emulator.aws.journal_format import Journal, write_journal
from emulator.aws.journal_recorder import JournalingApp, open_state, region_of
from emulator.core.errors import StartupError

from moto_in_process import KEYS, journal_lines, scan
from moto_in_process import moto  # noqa: F401  (a fixture: pytest finds it here)


def fresh_journal(path: Path) -> Journal:
    write_journal(path, [])  # as open_state leaves it: a header line
    return Journal(path)


# -- the middleware -------------------------------------------------------------------------


@pytest.mark.parametrize("authorization, region", [
    ("AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/dynamodb/aws4_request, SignedHeaders=host, Signature=x",
     "eu-west-1"),
    ("", "us-east-1"), ("AWS AKID:signature", "us-east-1"), ("AWS4-HMAC-SHA256 Credential=broken", "us-east-1"),
])
def test_region_of_reads_the_credential_scope(authorization: str, region: str) -> None:
    assert region_of(authorization) == region


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
    assert journal_recorder._changes_data(op, body) is changes


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


# -- the folder lock ------------------------------------------------------------------------


def test_a_state_dir_in_use_is_refused(moto: WSGIApplication, tmp_path: Path) -> None:
    first = open_state(moto, tmp_path)
    try:
        with pytest.raises(StartupError, match="in use by another wsgw run-local"):
            open_state(moto, tmp_path, lock_wait_s=0.1)
    finally:
        first.close()
    open_state(moto, tmp_path, lock_wait_s=0.1).close()  # released by close()
