"""The benchmark's Lambda handler: answer every message with its own body.

On a two-way route the gateway sends the returned ``body`` back to the client, so
one client message costs exactly one invocation of the cheapest possible handler.
``connect`` accepts every connection; only serverless-offline's copy of the app
(``bench/peers/serverless.yml``) routes ``$connect`` to it, as it refuses every
connection of an API without a ``$connect`` route (AWS and wsgw do not).
"""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": event["body"]}


def connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200}
