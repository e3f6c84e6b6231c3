"""How API Gateway reads a Lambda proxy integration's result on a WebSocket API.

Pure functions of the handler's return value: the ``$connect`` status
(:func:`connect_status`), the subprotocol it chose (:func:`subprotocol`) and what a
two-way route sends back (:func:`route_response_text`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["MALFORMED", "connect_status", "route_response_text", "subprotocol"]

MALFORMED = -1
""":func:`connect_status` of a ``statusCode`` that is no HTTP status."""


def connect_status(result: Any) -> int | None:
    """The result's ``statusCode``: None when absent, :data:`MALFORMED` when unusable."""
    if not isinstance(result, Mapping) or result.get("statusCode") is None:
        return None
    value = result["statusCode"]
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        # A statusCode that is no HTTP status is a malformed proxy response; API
        # Gateway answers those with 502 (REST docs; unconfirmed for WebSocket [?]).
        return MALFORMED
    return value


def subprotocol(result: Any) -> str | None:
    """The ``Sec-WebSocket-Protocol`` a ``$connect`` handler returned, if any.

    Only that header reaches the 101; body and other headers are dropped
    [doc] DOCS-subproto."""
    if not isinstance(result, Mapping):
        return None
    headers = result.get("headers")
    if not isinstance(headers, Mapping):
        return None
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == "sec-websocket-protocol":
            return str(value)
    return None


def route_response_text(result: Any) -> str:
    """What a two-way route sends to the client for a handler's ``result``.

    A two-way proxy route sends the Lambda result's ``body`` verbatim; statusCode and
    headers are not sent [doc] DOCS-routeresp. A result without ``body`` gives an empty
    message [obs, weak] serverless#6816. Unconfirmed shapes [?], our choice: a
    non-string body is sent as its JSON text; a result that is not a proxy-shaped
    object is sent as the JSON text of the whole result."""
    if isinstance(result, Mapping):
        body = result.get("body")
        if body is None:
            return ""
        return body if isinstance(body, str) else json.dumps(body)
    return json.dumps(result)
