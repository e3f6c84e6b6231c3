"""``whoAmI`` (a two-way route): answer with the caller's own connection id as plain text."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": event["requestContext"]["connectionId"]}
