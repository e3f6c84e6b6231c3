"""JSON on the worker pipe: orjson when installed (several times faster on the hot
path of every message), the standard library otherwise.

Only for values wsgw builds itself (events: strings, small integers, dicts, lists)
and for reading worker replies; a handler's own result is encoded in the worker with
``json``, so what a result can contain does not depend on which library is installed
here. The two paths decode to the same values; they encode the same values the same
way, but for what wsgw never builds (floats such as ``1e-07``, integers beyond 64
bits, NaN and infinities), where orjson differs or refuses.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None  # type: ignore[assignment]

# orjson reads an integer beyond 64 bits (below -2**63 or above 2**64 - 1) as a float,
# losing digits; such a number has at least 19 digits. Text with a run of 19 digits
# (also inside a string or a long float) is decoded by ``json`` instead: same values,
# slower, and rare. The run is found by mapping every digit to "0" and everything
# else to " " and searching for 19 zeros: ~0.6 µs on a reply, where a regex took ~4.5.
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * 19


def _has_long_number(data: bytes) -> bool:
    return _LONG_RUN in data.translate(_DIGITS_AS_ZEROS)


def dumps(value: Any) -> bytes:
    """Encode a value made of dicts, lists, str, int, float, bool and None."""
    if orjson is not None:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            # An integer beyond 64 bits (a custom integration's template may write one),
            # which json encodes; anything json cannot encode either raises TypeError there.
            pass
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def loads_text(text: str) -> Any:
    """:func:`loads` for text: what ``json.loads(text)`` returns or raises (route
    selection reads every message body with it)."""
    if text.startswith("\ufeff"):
        return json.loads(text)  # refused in text (orjson would skip a byte-order mark)
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate: not from the wire, but still json's answer
        return json.loads(text)
    return loads(data)


def loads(data: bytes) -> Any:
    """Decode JSON exactly (integers of any size stay integers)."""
    if orjson is not None and not _has_long_number(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)
