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

    Random bytes are read from the OS and encoded a few hundred ids at a time: every
    message needs two ids, and a ``getrandom`` call or a base64 call per id is a
    measurable cost. Each id's 11 random bytes are followed by a zero byte in the
    batch, so that every 12 bytes encode to 16 characters on their own: the first 15
    are exactly :func:`encode_id`'s (its last one holds two zero bits either way), and
    the 16th, the zero byte's, becomes the ``=`` pad.
    """

    _BATCH = 256  # ids per batch

    def __init__(self) -> None:
        self._encoded = ""
        self._offset = 0

    def _next(self) -> str:
        start = self._offset
        if start >= len(self._encoded):
            raw = bytearray(os.urandom(12 * self._BATCH))
            raw[11::12] = bytes(self._BATCH)
            self._encoded, start = base64.urlsafe_b64encode(raw).decode("ascii"), 0
        self._offset = start + 16
        return self._encoded[start:start + 15] + "="

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


class RandomUuids:
    """Random (version 4) UUIDs as text, ``str(uuid.uuid4())``'s shape: the
    ``x-amzn-RequestId`` of every ``@connections`` answer and Lambda Invoke request
    ids. Random bytes are read a few hundred UUIDs at a time (a broadcast makes one
    per post, and ``uuid4()`` makes a ``getrandom`` call and a ``UUID`` object each)."""

    _BATCH = 256

    def __init__(self) -> None:
        self._hex = ""
        self._offset = 0

    def next(self) -> str:
        start = self._offset
        if start >= len(self._hex):
            self._hex, start = os.urandom(16 * self._BATCH).hex(), 0
        self._offset = start + 32
        h = self._hex
        # RFC 9562 §5.4: version nibble 4; variant bits 10 (the nibble is 8, 9, a or b).
        return (f"{h[start:start + 8]}-{h[start + 8:start + 12]}-4{h[start + 13:start + 16]}-"
                f"{_VARIANT[h[start + 16]]}{h[start + 17:start + 20]}-{h[start + 20:start + 32]}")


# A random hex digit's two low bits under the RFC 9562 variant bits (binary 10xx).
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
