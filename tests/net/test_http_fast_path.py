"""Tests for emulator.net.http_fast_path: the simple request and h11 agree."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.core.management import HttpResponse, ManagementRequest
from emulator.net.http_fast_path import (
    HeldRequest, Incomplete, SimpleRequest, format_response, parse_simple, parse_simple_request,
)

LIMITS = {"max_head": 64 * 1024, "max_body": 1024 * 1024}

# The shape botocore's post_to_connection writes (headers as it sends them).
BOTO3_POST = (
    b"POST /dev/%40connections/L0SM9cOFvHcCIhw%3D HTTP/1.1\r\n"
    b"Host: 127.0.0.1:3001\r\n"
    b"Accept-Encoding: identity\r\n"
    b"User-Agent: Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux\r\n"
    b"X-Amz-Date: 20261206T120000Z\r\n"
    b"X-Amz-Security-Token: FwoGZXIvYXdzEB==\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/execute-api/aws4_request, "
    b"SignedHeaders=host;x-amz-date, Signature=abc\r\n"
    b"amz-sdk-invocation-id: 5b4c7c3e-0b8e-4f55-9d4e-0f1d2b3c4d5e\r\n"
    b"amz-sdk-request: attempt=1\r\n"
    b"Content-Length: 12\r\n"
    b"\r\n"
    b"Hi! :) there"
)


def _h11_request(data: bytes) -> tuple[h11.Request, bytes]:
    """h11's request event and body for ``data`` (one request)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    request = conn.next_event()
    assert isinstance(request, h11.Request)
    body = b""
    while True:
        event = conn.next_event()
        if isinstance(event, h11.Data):
            body += event.data
        else:
            assert isinstance(event, h11.EndOfMessage)
            break
    assert conn.trailing_data == (b"", False)  # nothing left over
    return request, body


def _h11_reads(data: bytes) -> tuple[str, str, str | None, bytes]:
    """What the h11 path makes of ``data`` (one request)."""
    request, body = _h11_request(data)
    authorization = next((v.decode("latin-1") for n, v in request.headers if n == b"authorization"), None)
    return request.method.decode(), request.target.decode(), authorization, body


def test_boto3s_post_is_read_as_h11_reads_it() -> None:
    request = parse_simple_request(BOTO3_POST, **LIMITS)
    assert isinstance(request, ManagementRequest)
    assert (request.method, request.target, request.authorization, request.body) == _h11_reads(BOTO3_POST)
    assert request.target == "/dev/%40connections/L0SM9cOFvHcCIhw%3D"
    assert request.authorization is not None and request.authorization.startswith("AWS4-HMAC-SHA256 ")


@pytest.mark.parametrize("data", [
    b"GET /dev/@connections/abc HTTP/1.1\r\nHost: x\r\n\r\n",
    b"DELETE /dev/@connections/abc HTTP/1.1\r\nhost:x\r\n\r\n",
    b"POST /dev/@connections/abc HTTP/1.1\r\nHOST: x\r\ncontent-length: 0\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nContent-Length: 3\r\n\r\n\xff\x00z",
])
def test_accepted_requests_are_read_as_h11_reads_them(data: bytes) -> None:
    request = parse_simple_request(data, **LIMITS)
    assert isinstance(request, ManagementRequest)
    assert (request.method, request.target, request.authorization, request.body) == _h11_reads(data)


@pytest.mark.parametrize("cut", [1, 12])
def test_a_simple_head_whose_body_is_on_its_way_tells_the_whole_size(cut: int) -> None:
    # botocore writes a body that is not ``bytes`` apart from its head.
    assert parse_simple_request(BOTO3_POST[:-cut], **LIMITS) == Incomplete(len(BOTO3_POST))


@pytest.mark.parametrize("data", [
    pytest.param(BOTO3_POST[:40], id="head not all here yet"),
    pytest.param(BOTO3_POST + BOTO3_POST, id="pipelined"),
    pytest.param(BOTO3_POST.replace(b"HTTP/1.1", b"HTTP/1.0"), id="HTTP/1.0 (keep-alive differs)"),
    pytest.param(b"HEAD /p HTTP/1.1\r\nHost: x\r\n\r\n", id="HEAD (no body in the answer)"),
    pytest.param(b"PUT /p HTTP/1.1\r\nHost: x\r\n\r\n", id="another method"),
    pytest.param(b"GET /p HTTP/1.1\r\n\r\n", id="no Host (h11 answers 400)"),
    pytest.param(b"GET /p HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", id="two Hosts"),
    pytest.param(b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", id="chunked"),
    pytest.param(b"POST /p HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n", id="Expect"),
    pytest.param(b"GET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", id="Connection: close"),
    pytest.param(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", id="two lengths"),
    pytest.param(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", id="negative length"),
    pytest.param(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\nx", id="bad length"),
    pytest.param(b"GET /p HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n", id="obs-fold"),
    pytest.param(b"GET /p HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", id="control character"),
    pytest.param(b"GET /p HTTP/1.1\r\nHost: x\r\nX A: 1\r\n\r\n", id="space in a name"),
    pytest.param(b"GET /p HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", id="no colon"),
    pytest.param(b"GET /p HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", id="bare LF"),
    pytest.param(b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", id="space in the target"),
    pytest.param(b"GET  /p HTTP/1.1\r\nHost: x\r\n\r\n", id="two spaces"),
])
def test_everything_else_is_left_to_h11(data: bytes) -> None:
    assert parse_simple_request(data, **LIMITS) is None


def test_a_held_request_comes_back_whole_once_its_last_byte_arrives() -> None:
    held = HeldRequest()
    assert not held.holding
    assert held.feed(b"GET /") == b"GET /" and not held.holding  # nothing held: passed through
    cut = parse_simple_request(BOTO3_POST[:-5], **LIMITS)
    assert isinstance(cut, Incomplete)
    held.hold(BOTO3_POST[:-5], cut.size)
    assert held.holding
    assert held.feed(BOTO3_POST[-5:-1]) is None and held.holding
    assert held.feed(BOTO3_POST[-1:]) == BOTO3_POST and not held.holding
    held.hold(b"GET /x HTTP/1.1\r\n", 100)
    assert held.release() == b"GET /x HTTP/1.1\r\n" and not held.holding  # at end of file, for h11


def test_the_limits_are_left_to_h11s_path() -> None:
    big_body = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
    assert parse_simple_request(big_body, max_head=1024, max_body=10) is None
    assert parse_simple_request(big_body, max_head=40, max_body=100) is None
    assert isinstance(parse_simple_request(big_body, max_head=1024, max_body=11), ManagementRequest)


_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_names = st.one_of(
    st.text(alphabet=_TOKEN_CHARS, min_size=1, max_size=8),
    st.sampled_from(["Host", "content-length", "Authorization", "Connection", "Transfer-Encoding", "Expect"]),
    st.text(alphabet=_TOKEN_CHARS + " :\x00é", max_size=8),
)
_values = st.one_of(
    st.text(alphabet=[chr(c) for c in range(0x20, 0x7F)] + ["\t", "é"], max_size=12).map(
        lambda text: text.encode("latin-1")),
    st.binary(max_size=12),
)


@settings(max_examples=400)  # about one in eight is of the simple shape
@given(
    headers=st.lists(st.tuples(_names, _values), max_size=5),
    method=st.sampled_from([b"GET", b"POST", b"DELETE", b"PATCH"]),
    body=st.binary(max_size=8),
    split=st.sampled_from([0, 0, 0, 1, 3]),
)
def test_whenever_the_fast_path_reads_a_request_h11_reads_the_same(
    headers: list[tuple[str, bytes]], method: bytes, body: bytes, split: int,
) -> None:
    head = method + b" /dev/@connections/x%3D?q=1 HTTP/1.1\r\nHost: h\r\n"
    head += b"".join(name.encode("utf-8") + b":" + value + b"\r\n" for name, value in headers)
    data = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    whole, data = data, data[:len(data) - split] if split else data
    request = parse_simple_request(data, **LIMITS)
    if isinstance(request, Incomplete):
        assert split and request.size == len(whole)
        request = parse_simple_request(whole, **LIMITS)
        assert isinstance(request, ManagementRequest)
        data = whole
    if request is None:
        assert parse_simple(data, **LIMITS) is None
        return
    assert (request.method, request.target, request.authorization, request.body) == _h11_reads(data)
    # The moto front's reading: every header line as h11 hands it to the WSGI environ.
    simple = parse_simple(data, **LIMITS)
    assert isinstance(simple, SimpleRequest)
    h11_request, body = _h11_request(data)
    assert (simple.method, simple.target, list(simple.headers), simple.body) == (
        h11_request.method, h11_request.target, h11_request.headers.raw_items(), body)


@pytest.mark.parametrize("response", [
    HttpResponse(200, (("x-amzn-RequestId", "r-1"),), b""),
    HttpResponse(204, (("x-amzn-RequestId", "r-2"),), b""),
    HttpResponse(200, (("x-amzn-RequestId", "r-3"), ("Content-Type", "application/json")), b'{"a": 1}'),
    HttpResponse(410, (("x-amzn-RequestId", "r-4"), ("x-amzn-ErrorType", "GoneException")), b""),
])
def test_answers_are_on_the_wire_as_h11_writes_them(response: HttpResponse) -> None:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(conn.next_event(), h11.Request)
    date = "Sun, 06 Dec 2026 12:00:00 GMT"
    headers = [("Date", date), ("Content-Length", str(len(response.body))), *response.headers]
    expected = conn.send(h11.Response(status_code=response.status, headers=headers)) or b""
    if response.body:
        expected += conn.send(h11.Data(data=response.body)) or b""
    expected += conn.send(h11.EndOfMessage()) or b""
    assert format_response(response, date) == expected
