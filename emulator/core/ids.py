"""Ids in the shapes AWS uses (reference §2).

connectionId, requestId (== extendedRequestId) and messageId are all 16 characters:
the URL-safe base64 encoding of 11 bytes, i.e. 15 characters of ``[A-Za-z0-9_-]`` and
one ``=`` pad (observed: ``R0oXAdfD0kwCH6w=``, ``BFHPhfCWIAMCKlQ=``). The apiId is 10
lowercase alphanumerics. AWS's ids also carry structure (time-ordered prefixes, a
``C``/``F`` marker); that is a heuristic, not a contract, so we use random bytes.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Protocol

AWS_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{15}=$")
"""What a connection, request or message id looks like (reference §2)."""



def encode_id(raw: bytes) -> str:
    """Encode exactly 11 bytes as an AWS-shaped 16-character id."""
    if len(raw) != 11:
        raise ValueError("AWS-shaped ids encode exactly 11 bytes")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def is_aws_id(value: str) -> bool:
    """Tell whether ``value`` has the shape of a connection/request/message id."""
    return AWS_ID_PATTERN.fullmatch(value) is not None


class IdFactory(Protocol):
    """Where the core gets fresh ids; inject :class:`SequentialIds` in tests."""

    def connection_id(self) -> str: ...

    def request_id(self) -> str: ...

    def message_id(self) -> str: ...


class RandomIds:
    """Fresh random ids, as a deployed API hands them out.

    Random bytes are read from the OS a few hundred ids at a time: every message
    needs two ids, and one ``getrandom`` call per id is a measurable cost.
    """

    _BATCH = 11 * 256

    def __init__(self) -> None:
        self._pool = b""
        self._offset = 0

    def _next(self) -> str:
        if self._offset >= len(self._pool):
            self._pool, self._offset = os.urandom(self._BATCH), 0
        raw = self._pool[self._offset:self._offset + 11]
        self._offset += 11
        return base64.urlsafe_b64encode(raw).decode("ascii")

    def connection_id(self) -> str:
        return self._next()

    def request_id(self) -> str:
        return self._next()

    def message_id(self) -> str:
        return self._next()


class SequentialIds:
    """Deterministic ids for tests: a kind byte and a counter, AWS-shaped.

    The kind byte keeps the three sequences apart, so a test can tell a request id
    from a connection id by eye, and the same run always yields the same ids.
    """

    def __init__(self) -> None:
        self._counter = 0

    def _next(self, kind: bytes) -> str:
        self._counter += 1
        return encode_id(kind + self._counter.to_bytes(10, "big"))

    def connection_id(self) -> str:
        return self._next(b"C")

    def request_id(self) -> str:
        return self._next(b"R")

    def message_id(self) -> str:
        return self._next(b"M")

