"""Handlers of the guarded test app: a Lambda REQUEST authorizer on $connect."""

from __future__ import annotations

import json
from typing import Any


def authorize(event: dict[str, Any], context: Any) -> Any:
    """?token=allow|deny|unauthorized|boom|malformed decides the verdict."""
    print("AUTHORIZER-EVENT " + json.dumps(event))
    token = event["queryStringParameters"]["token"]
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "boom":
        raise ValueError("authorizer bug")
    if token == "malformed":
        return {"policyDocument": "nope"}
    return {
        "principalId": "user-42",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow" if token == "allow" else "Deny",
                           "Resource": event["methodArn"].rsplit("/", 2)[0] + "/*"}],
        },
        "context": {"tenant": "acme", "level": 3, "admin": False},
    }


def connect(event: dict[str, Any], context: Any) -> Any:
    print("CONNECT-EVENT " + json.dumps(event))
    return {"statusCode": 200}


def disconnect(event: dict[str, Any], context: Any) -> Any:
    print("DISCONNECT-EVENT " + json.dumps(event))
    return {"statusCode": 200}


def default(event: dict[str, Any], context: Any) -> Any:
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}


def identity(event: dict[str, Any], context: Any) -> Any:
    """$default of the iam app: answers with the message event's requestContext.identity."""
    return {"statusCode": 200, "body": json.dumps(event["requestContext"]["identity"])}
