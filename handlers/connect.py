"""``$connect``: remember the new connection in the connection table."""

from __future__ import annotations

from typing import Any

from connection_table import put_connection


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = event["requestContext"]
    put_connection(ctx["connectionId"], ctx["connectedAt"])
    return {"statusCode": 200}
