"""``ContentHandlingStrategy`` on WebSocket integrations and integration responses:
API Gateway's base64 <-> binary conversions (reference apigw-integrations.md §1.2).

Clients cannot send binary frames (API Gateway closes with 1003), so the documented
use is [doc] DG-BINARY:

* ``CONVERT_TO_BINARY`` on the **integration**: the client sends base64 text, the
  backend receives the decoded bytes (:func:`request_bytes`);
* ``CONVERT_TO_TEXT`` on the **integration response**: the backend's binary answer
  reaches the client as base64 text (:func:`response_text`).

Unset: the payload passes through unchanged [code] BOTO-V2. The backends call these
for non-proxy integrations (``emulator/backends/runner.py``). Pure.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["CONTENT_HANDLING_STRATEGIES", "CONVERT_TO_BINARY", "CONVERT_TO_TEXT", "ConversionFailed",
           "request_bytes", "response_text"]

CONVERT_TO_BINARY = "CONVERT_TO_BINARY"
CONVERT_TO_TEXT = "CONVERT_TO_TEXT"
CONTENT_HANDLING_STRATEGIES = (CONVERT_TO_BINARY, CONVERT_TO_TEXT)


class ConversionFailed(Exception):
    """``CONVERT_TO_BINARY`` met text that is not base64: the integration fails (AWS's
    answer is unconfirmed [?]; REST answers 500), so the client gets the
    ``Internal server error`` frame."""


def request_bytes(payload: str, strategy: str | None) -> bytes:
    """The bytes the backend receives for ``payload`` (the rendered template or the
    frame) under the integration's ``strategy``.

    ``CONVERT_TO_BINARY`` decodes base64 [doc] DG-BINARY; ``CONVERT_TO_TEXT`` leaves
    the text as it is, since a WebSocket request is always text (REST converts only
    binary payloads; on WebSocket [?]); unset passes through [code] BOTO-V2."""
    if strategy != CONVERT_TO_BINARY:
        return payload.encode()
    try:
        return base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConversionFailed(f"CONVERT_TO_BINARY: the payload is not base64 ({exc})") from None


def response_text(data: bytes, strategy: str | None) -> str:
    """The text the integration response works with for the backend's answer ``data``
    under the integration response's ``strategy``.

    ``CONVERT_TO_TEXT`` gives the base64 of every answer [doc] DG-BINARY (WebSocket
    APIs have no binary media types to tell binary from text, so wsgw converts every
    answer [?]); otherwise the bytes are read as UTF-8 (invalid bytes replaced:
    reply frames are text frames). ``CONVERT_TO_BINARY`` on a response would need a
    binary reply frame, which wsgw does not send: not emulated, the text passes
    through (documented)."""
    if strategy == CONVERT_TO_TEXT:
        return base64.b64encode(data).decode("ascii")
    return data.decode("utf-8", "replace")
