"""The everyday ``@connections`` request, read and answered without h11.

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
(:mod:`emulator.net.http_session`) decides when to use them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.management import HttpResponse, ManagementRequest

__all__ = ["Incomplete", "format_response", "parse_simple_request"]

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


def parse_simple_request(data: bytes, *, max_head: int, max_body: int) -> ManagementRequest | Incomplete | None:
    """The request ``data`` holds (its method, raw target, body and first
    ``Authorization`` value), if it holds exactly one of the simple shape (see the
    module's docstring) with a head of at most ``max_head`` bytes and a body of
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
    method = _METHODS.get(raw_method)
    if method is None or version != b"HTTP/1.1" or not raw_target or raw_target.translate(None, _TARGET):
        return None
    length = 0
    seen_length = False
    hosts = 0
    authorization: str | None = None
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        # An empty name, a name with spaces (also an obs-fold continuation line) or
        # a value with a control character: not ours to judge.
        if not colon or not name or name.translate(None, _TOKEN):
            return None
        value = value.strip(b" \t")
        if value.translate(None, _FIELD_VALUE):
            return None
        name = name.lower()
        if name in _DEFERRED:
            return None
        if name == b"content-length":
            if seen_length or not value.isdigit() or len(value) > 9:
                return None
            seen_length, length = True, int(value)
        elif name == b"host":
            hosts += 1
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
    body_start = end + 4
    if hosts != 1 or length > max_body or len(data) > body_start + length:
        return None
    if len(data) < body_start + length:
        return Incomplete(body_start + length)
    return ManagementRequest(method, raw_target.decode("ascii"), data[body_start:], authorization)


def format_response(response: HttpResponse, date: str) -> bytes:
    """``response`` on the wire as h11 writes it after a keep-alive HTTP/1.1
    request: status line without a reason phrase, ``Date``, ``Content-Length``,
    the response's own headers, the body."""
    head = [f"HTTP/1.1 {response.status} \r\nDate: {date}\r\nContent-Length: {len(response.body)}\r\n"]
    head.extend(f"{name}: {value}\r\n" for name, value in response.headers)
    head.append("\r\n")
    return "".join(head).encode("latin-1") + response.body
