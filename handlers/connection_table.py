"""The chat app's DynamoDB connection table (name from ``CONNECTIONS_TABLE``).

Plain Lambda code: boto3 finds the endpoint, region and credentials in the
environment, on AWS and under wsgw alike.
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3

# Rows expire after the longest a connection can live (2 hours) plus a margin:
# $disconnect is best-effort, so stale rows must go by themselves (TTL).
ROW_TTL_S = 2 * 60 * 60 + 5 * 60

_table: Any = None


def table() -> Any:
    """The table resource, created once per execution environment (warm reuse)."""
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb").Table(os.environ["CONNECTIONS_TABLE"])
    return _table


def put_connection(connection_id: str, connected_at_ms: int) -> None:
    table().put_item(Item={
        "connectionId": connection_id,
        "connectedAt": connected_at_ms,
        "ttl": int(time.time()) + ROW_TTL_S,
    })


def delete_connection(connection_id: str) -> None:
    table().delete_item(Key={"connectionId": connection_id})
