"""The one handler of tests/apps/faulty that needs AWS (the embedded moto): it
imports boto3, which the others do not, so that their workers start fast."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.config import Config


def dynamo(event: dict[str, Any], context: Any) -> Any:
    """Two-way: lists the DynamoDB tables (the embedded moto's). Short timeouts and
    no retries so that an unreachable endpoint fails fast; the error is not caught."""
    config = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 1})
    client = boto3.client("dynamodb", config=config)
    return {"statusCode": 200, "body": json.dumps(client.list_tables()["TableNames"])}
