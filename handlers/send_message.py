"""``sendMessage``: deliver ``message`` as plain text to the connection ``connectionId``.

Problems go back to the sender as a JSON error frame: a missing or non-string field
names the field; a target that is gone names the id (and its stale row is deleted).
"""

from __future__ import annotations

import json
from typing import Any

from callbacks import management_client, post, post_error
from connection_table import delete_connection


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        body = json.loads(event.get("body") or "{}")
    except json.JSONDecodeError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    for field in ("connectionId", "message"):
        if not isinstance(body.get(field), str):
            post_error(event, code="MissingField", field=field,
                       message=f"sendMessage needs a string field {field!r}")
            return {"statusCode": 400}
    target, message = body["connectionId"], body["message"]
    gone = management_client(event).exceptions.GoneException
    try:
        post(event, target, message)
    except gone:
        delete_connection(target)
        post_error(event, code="Gone", connectionId=target,
                   message=f"connection {target} is gone")
        return {"statusCode": 410}
    return {"statusCode": 200}
