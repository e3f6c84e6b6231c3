"""Messages to connected clients through the ``@connections`` management API.

The endpoint is built the way the AWS docs show, ``https://{domainName}/{stage}``,
from the event itself; no local-only switch.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

_clients: dict[str, Any] = {}


def management_client(event: dict[str, Any]) -> Any:
    """A boto3 ``apigatewaymanagementapi`` client for the API that sent ``event``."""
    ctx = event["requestContext"]
    endpoint = f"https://{ctx['domainName']}/{ctx['stage']}"
    client = _clients.get(endpoint)
    if client is None:
        client = _clients[endpoint] = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    return client


def post(event: dict[str, Any], connection_id: str, data: str) -> None:
    """Send ``data`` to ``connection_id``; raises the client's ``GoneException``."""
    management_client(event).post_to_connection(ConnectionId=connection_id, Data=data.encode())


def post_error(event: dict[str, Any], **fields: Any) -> None:
    """Send a JSON error object back to the caller of ``event``."""
    post(event, event["requestContext"]["connectionId"], json.dumps({"error": fields}))
