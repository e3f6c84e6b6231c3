"""``$disconnect``: forget the connection (best-effort on AWS; rows also expire by TTL)."""

from __future__ import annotations

from typing import Any

from connection_table import delete_connection


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    delete_connection(event["requestContext"]["connectionId"])
    return {"statusCode": 200}
