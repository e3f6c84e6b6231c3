"""``$default`` (a two-way route): an unknown action or a non-JSON message gets a hint."""

from __future__ import annotations

import json
from typing import Any

ACTIONS = {
    "whoAmI": {"action": "whoAmI"},
    "sendMessage": {"action": "sendMessage", "connectionId": "<id>", "message": "<text>"},
}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    hint = {
        "error": {"code": "UnknownAction", "message": "send a JSON object with one of these actions"},
        "actions": ACTIONS,
    }
    return {"statusCode": 200, "body": json.dumps(hint)}
