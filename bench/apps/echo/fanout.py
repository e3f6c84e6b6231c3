"""The benchmark's fan-out handlers: learn the connection ids, then broadcast.

``hello`` (two-way) answers with the caller's connection id, so the bench knows the
ids of the connections it opened. ``broadcast`` (two-way) does what a chat app's
broadcast handler does: it takes the connection ids it is given (a JSON file of ids
named in the message, as a handler would read them from a table) and posts one
message to each through the ``@connections`` API with boto3, on the callback URL
the AWS docs show (``https://{domainName}/{stage}``) unless the message names another
``endpoint``. With ``"threads": N > 1`` it posts from a thread pool of N, as a
handler that needs to be fast would. It answers ``{"posted": n, "failed": m}``.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config

_clients: dict[str, Any] = {}


def _client(endpoint: str) -> Any:
    """One management API client per endpoint, kept warm across invocations."""
    client = _clients.get(endpoint)
    if client is None:
        # Enough pooled connections for the thread pool (botocore's default is 10).
        config = Config(max_pool_connections=64, retries={"max_attempts": 1})
        client = _clients[endpoint] = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, config=config)
    return client


def hello(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": event["requestContext"]["connectionId"]}


def broadcast(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = json.loads(event["body"])
    with open(request["idsFile"], encoding="utf-8") as file:
        connection_ids: list[str] = json.load(file)
    ctx = event["requestContext"]
    client = _client(request.get("endpoint") or f"https://{ctx['domainName']}/{ctx['stage']}")
    data = str(request.get("data", "x")).encode()
    threads = int(request.get("threads", 1))

    def post(connection_id: str) -> bool:
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
            return True
        except Exception:  # GoneException and friends: counted, not fatal
            return False

    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(post, connection_ids))
    else:
        results = [post(connection_id) for connection_id in connection_ids]
    posted = sum(results)
    return {"statusCode": 200, "body": json.dumps({"posted": posted, "failed": len(results) - posted})}
