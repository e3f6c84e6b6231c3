"""JSON on the worker pipe: orjson when installed (several times faster on the hot
path of every message), the standard library otherwise, with identical results.

Only for values wsgw builds itself (events) and for reading worker replies; a
handler's own result is encoded in the worker with ``json``, so what a result can
contain does not depend on which library is installed here.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None  # type: ignore[assignment]


def dumps(value: Any) -> bytes:
    """Encode a value made of dicts, lists, str, int, float, bool and None."""
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes) -> Any:
    """Decode JSON; falls back to ``json`` for what orjson refuses (ints beyond 64 bits)."""
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)
