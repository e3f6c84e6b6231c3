"""emulator/aws/moto_front.py: the keep-alive HTTP/1.1 front.

Real boto3 against moto behind the front on 127.0.0.1 (in a thread of this process),
plus raw HTTP/1.1 on sockets against a small echo app for the protocol corners boto3
does not reach: keep-alive, ``Connection: close``, HEAD, chunked bodies,
``Expect: 100-continue``, pipelining, malformed requests, an app that raises.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
from typing import Any, Iterable, Iterator
from wsgiref.types import StartResponse, WSGIEnvironment

import boto3
import pytest

from emulator.aws.moto_dispatch import MemoizingDispatcher
from emulator.aws.moto_front import RunningFront, serve


def _client(front: RunningFront, service: str) -> Any:
    session: Any = boto3.session.Session()  # Any: the stubs want a literal service name
    return session.client(
        service, endpoint_url=f"http://127.0.0.1:{front.port}", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing",
    )


@pytest.fixture(scope="module")
def moto_front() -> Iterator[RunningFront]:
    front = serve(MemoizingDispatcher(), "127.0.0.1", 0)
    yield front
    front.stop()


def echo_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Answers with what it was given as JSON; ``/boom`` raises, ``/bad-header`` returns
    a header HTTP/1.1 cannot carry."""
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom on purpose")
    body = environ["wsgi.input"].read()
    if environ["PATH_INFO"] == "/bad-header":
        start_response("200 OK", [("X-Bad", "line\r\nbreak")])
        return [b"never sent"]
    payload = json.dumps({
        "method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"], "query": environ["QUERY_STRING"],
        "content_length": environ.get("CONTENT_LENGTH"), "body": body.decode("latin-1"),
        "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"), "target": environ.get("HTTP_X_AMZ_TARGET"),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


@pytest.fixture(params=["asyncio", "uvloop"])
def echo_front(request: pytest.FixtureRequest) -> Iterator[RunningFront]:
    """The echo app behind the front, on each event loop the front can run on."""
    front = serve(echo_app, "127.0.0.1", 0, loop=request.param)
    yield front
    front.stop()


def _raw(front: RunningFront, data: bytes, *, until_eof: bool = True, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a new socket; what comes back until EOF (or a pause)."""
    with socket.create_connection(("127.0.0.1", front.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except socket.timeout:
            if until_eof:
                raise
        return b"".join(chunks)


# --- real boto3 against moto ---------------------------------------------------------


def test_dynamodb_calls_through_the_front(moto_front: RunningFront) -> None:
    dynamodb = _client(moto_front, "dynamodb")
    dynamodb.create_table(
        TableName="front", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )
    dynamodb.put_item(TableName="front", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "v": {"S": "x"}})
    dynamodb.batch_write_item(RequestItems={"front": [
        {"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"S": str(n)}}}} for n in range(2, 12)
    ]})
    assert dynamodb.get_item(TableName="front", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})["Item"]["v"] == {"S": "x"}
    queried = dynamodb.query(TableName="front", KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "a"}})
    assert queried["Count"] == 11
    dynamodb.delete_item(TableName="front", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})
    assert dynamodb.scan(TableName="front")["Count"] == 10
    assert "Item" not in dynamodb.get_item(TableName="front", Key={"pk": {"S": "a"}, "sk": {"S": "1"}})


def test_boto3s_dynamodb_calls_are_read_without_h11(moto_front: RunningFront) -> None:
    dynamodb = _client(moto_front, "dynamodb")
    dynamodb.create_table(
        TableName="fast", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    before = moto_front.requests_read_without_h11
    for n in range(5):
        dynamodb.put_item(TableName="fast", Item={"id": {"S": f"c{n}"}, "at": {"N": str(n)}})
    dynamodb.delete_item(TableName="fast", Key={"id": {"S": "c0"}})
    assert dynamodb.get_item(TableName="fast", Key={"id": {"S": "c3"}})["Item"]["at"] == {"N": "3"}
    assert dynamodb.scan(TableName="fast")["Count"] == 4
    assert moto_front.requests_read_without_h11 - before == 8  # every call


def test_s3_objects_through_the_front(moto_front: RunningFront) -> None:
    s3 = _client(moto_front, "s3")
    s3.create_bucket(Bucket="front-bucket")
    body = bytes(range(256)) * (6 * 4096)  # 6 MiB; boto3 sends Expect: 100-continue (see the raw test)
    s3.put_object(Bucket="front-bucket", Key="big", Body=io.BytesIO(body), Metadata={"under_score": "1", "dash-ed": "2"})
    got = s3.get_object(Bucket="front-bucket", Key="big")
    assert got["Body"].read() == body
    assert got["Metadata"] == {"under_score": "1", "dash-ed": "2"}
    assert s3.head_object(Bucket="front-bucket", Key="big")["ContentLength"] == len(body)
    odd_keys = ["dir/ä b+c.txt", "a%2Fb", "x?y=z&w", "日本語/ключ"]
    for key in odd_keys:
        s3.put_object(Bucket="front-bucket", Key=key, Body=key.encode())
        assert s3.get_object(Bucket="front-bucket", Key=key)["Body"].read() == key.encode()
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="front-bucket")["Contents"])
    assert listed == sorted(["big", *odd_keys])


def test_sqs_call_through_the_front(moto_front: RunningFront) -> None:
    sqs = _client(moto_front, "sqs")
    url = sqs.create_queue(QueueName="front-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hi")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hi"]


def test_boto3_reuses_one_connection(moto_front: RunningFront) -> None:
    dynamodb = _client(moto_front, "dynamodb")
    dynamodb.list_tables()
    before = moto_front.connections_accepted
    for _ in range(20):
        dynamodb.list_tables()
    assert moto_front.connections_accepted == before


def test_moto_api_still_answers(moto_front: RunningFront) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", moto_front.port, timeout=5)
    connection.request("GET", "/moto-api/data.json")
    response = connection.getresponse()
    assert response.status == 200
    assert "dynamodb" in json.loads(response.read())
    connection.close()


# --- HTTP/1.1 on raw sockets against the echo app -------------------------------------


def test_two_requests_on_one_connection(echo_front: RunningFront) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", echo_front.port, timeout=5)
    connection.request("POST", "/one?x=1", body=b"first")
    first = connection.getresponse()
    assert json.loads(first.read())["body"] == "first"
    assert first.getheader("Connection") is None
    sock = connection.sock
    connection.request("GET", "/two")
    assert json.loads(connection.getresponse().read())["path"] == "/two"
    assert connection.sock is sock
    assert echo_front.connections_accepted == 1
    connection.close()


def test_a_simple_request_whose_body_comes_later_is_answered_once_whole(echo_front: RunningFront) -> None:
    # botocore may write a body apart from its head; the two reads make one request.
    with socket.create_connection(("127.0.0.1", echo_front.port), timeout=5) as sock:
        sock.sendall(b"POST /late?q=1 HTTP/1.1\r\nHost: x\r\nX-Amz-Target: T.Put\r\nContent-Length: 10\r\n\r\nhalf")
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sock.recv(1024)  # nothing is answered before the body is whole
        sock.settimeout(5)
        sock.sendall(b"-whole")
        raw = sock.recv(65536)
    echoed = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert (echoed["path"], echoed["query"], echoed["body"], echoed["content_length"]) == ("/late", "q=1", "half-whole", "10")
    assert echoed["target"] == "T.Put"
    assert echo_front.requests_read_without_h11 == 1


def test_a_simple_requests_body_cut_short_is_a_400(echo_front: RunningFront) -> None:
    with socket.create_connection(("127.0.0.1", echo_front.port), timeout=5) as sock:
        sock.sendall(b"POST /cut HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
        sock.shutdown(socket.SHUT_WR)
        raw = sock.recv(65536)
    assert raw.startswith(b"HTTP/1.1 400 ")
    assert echo_front.requests_read_without_h11 == 0


def test_simple_and_h11_read_requests_share_a_connection(echo_front: RunningFront) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", echo_front.port, timeout=5)
    connection.request("POST", "/simple", body=b"one")  # http.client: Host, Content-Length
    assert json.loads(connection.getresponse().read())["body"] == "one"
    connection.request("POST", "/chunked", body=iter([b"tw", b"o"]), encode_chunked=True)  # h11's
    assert json.loads(connection.getresponse().read())["body"] == "two"
    connection.request("DELETE", "/simple-again")
    assert json.loads(connection.getresponse().read())["method"] == "DELETE"
    assert (echo_front.requests_read_without_h11, echo_front.connections_accepted) == (2, 1)
    connection.close()


def test_path_is_percent_decoded_as_werkzeug_does(echo_front: RunningFront) -> None:
    raw = _raw(echo_front, b"GET /a%20b/%C3%A4%2F?q=%20x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    echoed = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert echoed["path"] == "/a b/\u00e4/".encode().decode("latin-1")  # WSGI: bytes as latin-1
    assert echoed["query"] == "q=%20x"


def test_pipelined_requests_answered_in_order(echo_front: RunningFront) -> None:
    raw = _raw(echo_front, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.count(b"HTTP/1.1 200 ") == 2
    assert raw.index(b'"path": "/a"') < raw.index(b'"path": "/b"')


def test_connection_close_is_honoured(echo_front: RunningFront) -> None:
    raw = _raw(echo_front, b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # EOF or timeout error
    head = raw.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 200 ")
    assert b"connection: close" in head


def test_http_1_0_closes_after_the_response(echo_front: RunningFront) -> None:
    raw = _raw(echo_front, b"GET /old HTTP/1.0\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(b"}")


def test_chunked_request_body_arrives_whole(echo_front: RunningFront) -> None:
    raw = _raw(echo_front, b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                           b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    echoed = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert echoed["body"] == "hello world"
    assert echoed["content_length"] == "11"
    assert echoed["transfer_encoding"] is None


def test_expect_100_continue_is_answered_before_the_body(echo_front: RunningFront) -> None:
    with socket.create_connection(("127.0.0.1", echo_front.port), timeout=5) as sock:
        sock.sendall(b"PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 ")
        sock.sendall(b"data")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200 ") and b'"body": "data"' in reply


def test_head_has_no_body_and_keeps_the_connection_usable(echo_front: RunningFront) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", echo_front.port, timeout=5)
    connection.request("HEAD", "/h")
    head = connection.getresponse()
    assert head.status == 200 and int(head.getheader("Content-Length") or 0) > 0
    assert head.read() == b""
    connection.request("GET", "/after")  # stray body bytes would corrupt this response
    assert json.loads(connection.getresponse().read())["path"] == "/after"
    connection.close()


def test_app_exception_is_a_500_logged_and_the_server_goes_on(
        echo_front: RunningFront, capsys: pytest.CaptureFixture[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", echo_front.port, timeout=5)
    connection.request("GET", "/boom")
    response = connection.getresponse()
    assert response.status == 500
    response.read()
    connection.request("GET", "/fine")  # same connection
    assert json.loads(connection.getresponse().read())["path"] == "/fine"
    connection.close()
    err = capsys.readouterr().err
    assert "GET /boom raised" in err and "RuntimeError: boom on purpose" in err


def test_unsendable_app_header_is_a_500(echo_front: RunningFront, capsys: pytest.CaptureFixture[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", echo_front.port, timeout=5)
    connection.request("GET", "/bad-header")
    assert connection.getresponse().status == 500
    connection.close()
    assert "GET /bad-header returned a response HTTP/1.1 cannot carry" in capsys.readouterr().err


@pytest.mark.parametrize("garbage", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_malformed_request_is_a_400_and_the_server_goes_on(echo_front: RunningFront, garbage: bytes) -> None:
    raw = _raw(echo_front, garbage)
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in raw
    connection = http.client.HTTPConnection("127.0.0.1", echo_front.port, timeout=5)
    connection.request("GET", "/still-here")
    assert connection.getresponse().status == 200
    connection.close()


def test_stop_closes_the_listener_and_connections() -> None:
    front = serve(echo_app, "127.0.0.1", 0)
    connection = http.client.HTTPConnection("127.0.0.1", front.port, timeout=5)
    connection.request("GET", "/")
    connection.getresponse().read()
    front.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", front.port), timeout=5).close()
    assert connection.sock is not None and connection.sock.recv(1) == b""  # closed by the front
    connection.close()


def test_serve_reports_a_port_in_use() -> None:
    front = serve(echo_app, "127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            serve(echo_app, "127.0.0.1", front.port)
    finally:
        front.stop()
