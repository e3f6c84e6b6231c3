"""The everyday request boto3 sends, read (and a ``@connections`` one answered) without h11.

A handler's boto3 ``post_to_connection`` sends one small HTTP/1.1 request per call,
head and body in one write, and waits for the answer before its next call: a
broadcast to a thousand connections is a thousand of these in a row, and h11's
general parser and state machine were half of the gateway's CPU per post (scenario
d of ``bench/``). :func:`parse_simple_request` reads exactly that shape: one whole
``GET``/``POST``/``DELETE`` request in the bytes given, HTTP/1.1, one ``Host``, at
most one ``Content-Length``, nothing that changes the connection's framing or
state (``Transfer-Encoding``, ``Expect``, ``Connection``, ``Upgrade``), every name a
token and every value free of control characters. Anything else, including bytes
that are merely unusual, gives ``None`` and goes to h11 untouched, so h11 keeps
deciding every error (400, 413, 431) and every edge (pipelining, chunked bodies,
``Connection: close``). A simple head whose body has not all arrived yet gives
:class:`Incomplete` with the request's whole size: the session keeps the bytes until
that many are there (botocore writes a body apart from its head when it is not
``bytes``, and TLS may split a request anyway).

:func:`format_response` writes the answer byte for byte as h11 does
(tests/net/test_http_fast_path.py compares them). Pure functions: the session
(:mod:`emulator.net.http_session`) decides when to use them. The embedded moto's
front (``emulator/aws/moto_front.py``) reads a handler's DynamoDB calls, which have
the same shape, with :func:`parse_simple` (about 5 % of moto's CPU per call).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.management import HttpResponse, ManagementRequest

__all__ = ["HeldRequest", "Incomplete", "SimpleRequest", "format_response", "parse_simple", "parse_simple_request"]

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
# "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
_TOKEN = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# RFC 9110 §5.5: field-value characters are VCHAR, obs-text, SP and HTAB.
_FIELD_VALUE = b"\t" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
# A request-target as h11 accepts it: visible ASCII, no spaces.
_TARGET = bytes(range(0x21, 0x7F))
_METHODS = {b"GET": "GET", b"POST": "POST", b"DELETE": "DELETE"}
# Headers that change how the connection or the body is read: h11's business.
_DEFERRED = frozenset({b"transfer-encoding", b"expect", b"connection", b"upgrade"})


@dataclass(frozen=True, slots=True)
class Incomplete:
    """A simple request's head, whose body is still on its way: ``size`` bytes in all."""

    size: int


class HeldRequest:
    """A simple request's bytes while its body is still arriving. A connection passes
    every read through :meth:`feed`; after :class:`Incomplete` it calls :meth:`hold`
    with what it read, and later reads are kept until the request is whole and is
    parsed again (the gateway's sessions and the embedded moto's front)."""

    def __init__(self) -> None:
        self._bytes = bytearray()
        self._size = 0  # the whole request's size; 0: nothing held

    @property
    def holding(self) -> bool:
        return self._size > 0

    def hold(self, data: bytes, size: int) -> None:
        """Keep ``data``, the start of a request of ``size`` bytes in all."""
        self._bytes, self._size = bytearray(data), size

    def feed(self, data: bytes) -> bytes | None:
        """What to parse now: ``data`` itself when nothing is held; else ``data`` is
        added, and everything held comes back once the request is whole (a pipelined
        request behind it included), None before."""
        if not self._size:
            return data
        self._bytes += data
        return self.release() if len(self._bytes) >= self._size else None

    def release(self) -> bytes:
        """Everything held, holding nothing after (at end of file, so that h11 can
        judge a body cut short)."""
        data = bytes(self._bytes)
        self._bytes, self._size = bytearray(), 0
        return data


@dataclass(frozen=True, slots=True)
class SimpleRequest:
    """One whole request of the simple shape, as sent: the method and target, each
    header line's name (its case kept) and value (without the blanks around it), the body."""

    method: bytes
    target: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def parse_simple_request(data: bytes, *, max_head: int, max_body: int) -> ManagementRequest | Incomplete | None:
    """The ``@connections`` request ``data`` holds (its method, raw target, body and
    first ``Authorization`` value): :func:`parse_simple`'s answer, for the gateway."""
    parsed = parse_simple(data, max_head=max_head, max_body=max_body)
    if not isinstance(parsed, SimpleRequest):
        return parsed
    authorization = next((value.decode("latin-1") for name, value in parsed.headers
                          if name.lower() == b"authorization"), None)
    return ManagementRequest(_METHODS[parsed.method], parsed.target.decode("ascii"), parsed.body, authorization)


def parse_simple(data: bytes, *, max_head: int, max_body: int) -> SimpleRequest | Incomplete | None:
    """The request ``data`` holds, if it holds exactly one of the simple shape (see
    the module's docstring) with a head of at most ``max_head`` bytes and a body of
    at most ``max_body``; :class:`Incomplete` if only part of its body is there;
    ``None`` means "let h11 read these bytes"."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or end + 4 > max_head:
        return None
    lines = data[:end].split(b"\r\n")
    request_line = lines[0].split(b" ")
    if len(request_line) != 3:
        return None
    raw_method, raw_target, version = request_line
    if raw_method not in _METHODS or version != b"HTTP/1.1" or not raw_target or raw_target.translate(None, _TARGET):
        return None
    length = 0
    seen_length = False
    hosts = 0
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        # An empty name, a name with spaces (also an obs-fold continuation line) or
        # a value with a control character: not ours to judge.
        if not colon or not name or name.translate(None, _TOKEN):
            return None
        value = value.strip(b" \t")
        if value.translate(None, _FIELD_VALUE):
            return None
        lowered = name.lower()
        if lowered in _DEFERRED:
            return None
        if lowered == b"content-length":
            if seen_length or not value.isdigit() or len(value) > 9:
                return None
            seen_length, length = True, int(value)
        elif lowered == b"host":
            hosts += 1
        headers.append((name, value))
    body_start = end + 4
    if hosts != 1 or length > max_body or len(data) > body_start + length:
        return None
    if len(data) < body_start + length:
        return Incomplete(body_start + length)
    return SimpleRequest(raw_method, raw_target, tuple(headers), data[body_start:])


def format_response(response: HttpResponse, date: str) -> bytes:
    """``response`` on the wire as h11 writes it after a keep-alive HTTP/1.1
    request: status line without a reason phrase, ``Date``, ``Content-Length``,
    the response's own headers, the body."""
    head = [f"HTTP/1.1 {response.status} \r\nDate: {date}\r\nContent-Length: {len(response.body)}\r\n"]
    head.extend(f"{name}: {value}\r\n" for name, value in response.headers)
    head.append("\r\n")
    return "".join(head).encode("latin-1") + response.body
