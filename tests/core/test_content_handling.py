"""ContentHandlingStrategy's conversions (emulator/core/content_handling.py)."""

from __future__ import annotations

import pytest

from emulator.core.content_handling import ConversionFailed, request_bytes, response_text


def test_convert_to_binary_decodes_the_base64_request() -> None:
    assert request_bytes("AP8Q\n", "CONVERT_TO_BINARY") == b"\x00\xff\x10"
    with pytest.raises(ConversionFailed, match="not base64"):
        request_bytes("not base64!", "CONVERT_TO_BINARY")


def test_text_requests_pass_through_otherwise() -> None:
    assert request_bytes("héllo", None) == "héllo".encode()
    assert request_bytes("AP8Q", "CONVERT_TO_TEXT") == b"AP8Q"  # [?] already text


def test_convert_to_text_gives_the_answer_as_base64() -> None:
    assert response_text(b"\x00\xff\x10", "CONVERT_TO_TEXT") == "AP8Q"
    assert response_text("ok".encode(), "CONVERT_TO_TEXT") == "b2s="  # [?] every answer
    assert response_text("héllo".encode(), None) == "héllo"
    assert response_text(b"\xff", None) == "\ufffd"  # text frames only: invalid bytes replaced
    assert response_text(b"AP8Q", "CONVERT_TO_BINARY") == "AP8Q"  # not emulated: passes through
