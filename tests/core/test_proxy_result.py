"""emulator.core.proxy_result: reading a Lambda proxy result (the lifecycle tests cover
the same rules through the handshake and two-way routes)."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.core.proxy_result import MALFORMED, connect_status, route_response_text, subprotocol


@pytest.mark.parametrize(("result", "expected"), [
    (None, None), ({}, None), ({"statusCode": None}, None), ("text", None),
    ({"statusCode": 200}, 200), ({"statusCode": " 403 "}, 403), ({"statusCode": 599}, 599),
    ({"statusCode": True}, MALFORMED), ({"statusCode": 99}, MALFORMED), ({"statusCode": "2xx"}, MALFORMED),
    ({"statusCode": 200.0}, MALFORMED),
])
def test_connect_status(result: Any, expected: int | None) -> None:
    assert connect_status(result) == expected


def test_subprotocol_is_read_case_insensitively_from_headers_only() -> None:
    assert subprotocol({"headers": {"sec-WebSocket-Protocol": "chat"}}) == "chat"
    assert subprotocol({"headers": {"X": "y"}, "body": "Sec-WebSocket-Protocol"}) is None
    assert subprotocol({"headers": "nope"}) is None and subprotocol(["chat"]) is None


@pytest.mark.parametrize(("result", "text"), [
    ({"statusCode": 200, "body": "hi"}, "hi"),
    ({"statusCode": 200}, ""),
    ({"body": {"a": 1}}, '{"a": 1}'),
    ([1, 2], "[1, 2]"),
    ("plain", '"plain"'),
    (None, "null"),
])
def test_route_response_text(result: Any, text: str) -> None:
    assert route_response_text(result) == text
