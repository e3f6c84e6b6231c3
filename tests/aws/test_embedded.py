"""The embedded moto child: tables created by the child itself before it listens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.aws.embedded import EmbeddedAws
from emulator.aws.journal_format import JOURNAL_NAME, Record, write_journal
from emulator.core.errors import StartupError
from emulator.core.model import IndexSpec, KeyAttribute, TableSpec

TABLE = TableSpec(
    logical_id="Things", table_name="things-table",
    partition_key=KeyAttribute("pk", "S"), sort_key=KeyAttribute("sk", "N"), ttl_attribute="expiresAt",
    attributes=(KeyAttribute("owner", "S"),),
    global_indexes=(IndexSpec("byOwner", "owner"),),
)


def _dynamodb(endpoint_url: str, region: str) -> Any:
    return boto3.client(
        "dynamodb", endpoint_url=endpoint_url, region_name=region,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


@pytest.mark.asyncio
async def test_tables_exist_with_keys_indexes_and_ttl_once_the_child_listens() -> None:
    aws = EmbeddedAws()
    await aws.start(tables=[TABLE], region="eu-west-1")
    try:
        client = _dynamodb(aws.endpoint_url, "eu-west-1")
        table = client.describe_table(TableName="things-table")["Table"]
        assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                      {"AttributeName": "sk", "KeyType": "RANGE"}]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["byOwner"]
        ttl = client.describe_time_to_live(TableName="things-table")["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
        # Only in the region asked for.
        assert _dynamodb(aws.endpoint_url, "us-east-1").list_tables()["TableNames"] == []
    finally:
        await aws.stop()


@pytest.mark.asyncio
async def test_a_table_moto_refuses_is_a_startup_error_naming_it() -> None:
    # An index on an attribute the table does not define: DynamoDB's ValidationException.
    bad = TableSpec(logical_id="Bad", table_name="bad-table", partition_key=KeyAttribute("pk"),
                    global_indexes=(IndexSpec("byUndefined", "undefined"),))
    aws = EmbeddedAws()
    with pytest.raises(StartupError, match="could not create table bad-table: .*not defined in AttributeDefinitions"):
        await aws.start(tables=[bad])
    assert aws.process is None  # stopped and reaped


@pytest.mark.asyncio
async def test_restoring_a_state_folder_reports_its_progress(tmp_path: Path) -> None:
    # 2,100 puts: the child says "replayed 1000 records"... while restoring, and the
    # parent hands each line on (run-local prints them) instead of dropping them.
    keys = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}
    records = [Record("CreateTable", "us-east-1", {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", **keys}),
               *[Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": f"k{n}"}}})
                 for n in range(2100)]]
    write_journal(tmp_path / JOURNAL_NAME, records)
    heard: list[str] = []
    aws = EmbeddedAws(state_dir=tmp_path, progress=heard.append)
    try:
        await aws.start()
        assert [line.split()[0] for line in heard] == ["replayed", "replayed"]  # each thousand
        assert _dynamodb(aws.endpoint_url, "us-east-1").scan(TableName="t", Select="COUNT")["Count"] == 2100
    finally:
        await aws.stop()


@pytest.mark.asyncio
async def test_the_child_starts_before_it_knows_the_tables_and_waits_for_them() -> None:
    # run-local launches the child before it has loaded the template (moto imports
    # meanwhile); the child creates the tables it is told afterwards, then serves.
    aws = EmbeddedAws()
    await aws.launch()
    try:
        assert aws.process is not None and aws.process.returncode is None
        aws.provide_tables([TABLE], "eu-west-1")
        await aws.wait_ready()
        names = _dynamodb(aws.endpoint_url, "eu-west-1").list_tables()["TableNames"]
        assert names == ["things-table"]
    finally:
        await aws.stop()


@pytest.mark.asyncio
async def test_a_child_stopped_before_it_knew_the_tables_exits_cleanly() -> None:
    # A template that fails to load after the launch: run-local stops the child.
    aws = EmbeddedAws()
    await aws.launch()
    process = aws.process
    assert process is not None
    await aws.stop()
    assert process.returncode == 0 and aws.process is None
