"""emulator/aws/moto_dispatch.py: moto's service lookup, memoized, agrees with moto's own."""

from __future__ import annotations

from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from emulator.aws.moto_dispatch import MemoizingDispatcher, service_key


def _signed(service: str, target: str | None = None, *, date: str = "20240101", path: str = "/") -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "HTTP_HOST": "127.0.0.1:1",
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=testing/{date}/us-east-1/{service}/aws4_request, "
                              "SignedHeaders=host, Signature=abc",
    }
    if target is not None:
        environ["HTTP_X_AMZ_TARGET"] = target
    return environ


def test_service_key_separates_what_moto_separates() -> None:
    assert service_key(_signed("dynamodb", "DynamoDB_20120810.PutItem")) == \
        service_key(_signed("dynamodb", "DynamoDB_20120810.Query", date="20250505"))
    assert service_key(_signed("dynamodb", "DynamoDB_20120810.GetRecords")) != \
        service_key(_signed("dynamodb", "DynamoDBStreams_20120810.GetRecords"))
    assert service_key(_signed("s3", path="/bucket/key")) != service_key(_signed("s3", path="/v20180820/x"))
    assert service_key(_signed("sqs")) != service_key(_signed("sns"))
    assert service_key(_signed("bedrock")) is None
    assert service_key(_signed("dynamodb", path="/moto-api/reset")) is None
    assert service_key({"PATH_INFO": "/", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}) is None
    assert service_key({"PATH_INFO": "/", "HTTP_AUTHORIZATION": "Basic"}) is None


@pytest.mark.parametrize("environ", [
    _signed("dynamodb", "DynamoDB_20120810.PutItem"),
    _signed("dynamodb", "DynamoDBStreams_20120810.GetRecords"),
    _signed("sqs"), _signed("sns"), _signed("s3", path="/bucket/key"), _signed("s3", path="/v20180820/x"),
    _signed("execute-api", path="/@connections/abc"), _signed("events"),
], ids=lambda e: f"{e['HTTP_AUTHORIZATION'].split('/')[3]}{e['PATH_INFO']}{e.get('HTTP_X_AMZ_TARGET', '')}")
def test_memoized_lookup_agrees_with_moto(environ: dict[str, Any]) -> None:
    plain = DomainDispatcherApplication(create_backend_app)
    expected = plain.get_application(dict(environ))
    backend = next(name for name, app in plain.app_instances.items() if app is expected)
    memo = MemoizingDispatcher()
    lookups: list[str] = []
    original = memo.infer_service_region_host

    def counted(environ: dict[str, Any], path: str) -> str | None:
        lookups.append(path)
        return original(environ, path)

    memo.infer_service_region_host = counted  # type: ignore[method-assign]
    first = memo.get_application(dict(environ))
    assert memo.get_application(dict(environ, HTTP_X_AMZ_DATE="later")) is first
    assert first is memo.app_instances[backend]
    assert len(lookups) == 1, "the second lookup should have been a cache hit"


def test_the_action_lookup_is_moto_s_own_answer_cached() -> None:
    import moto.core.responses as responses
    from moto.core.utils import method_names_from_class
    from moto.dynamodb.responses import DynamoHandler

    MemoizingDispatcher()
    MemoizingDispatcher()  # idempotent: still one cache around moto's function
    cached = responses.method_names_from_class
    assert cached.cache_info  # type: ignore[attr-defined]
    assert cached.__wrapped__ is method_names_from_class  # type: ignore[attr-defined]
    assert cached(DynamoHandler) == method_names_from_class(DynamoHandler)
    assert "put_item" in cached(DynamoHandler)
    assert cached(DynamoHandler) is cached(DynamoHandler)  # computed once per class


def test_an_unknown_action_is_still_moto_s_error_with_the_lookup_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    # What call_action decides from the list: an unknown action is moto's error
    # answer, the same status with the cache as with moto's own lookup.
    import io
    import json

    import moto.core.responses as responses
    from moto.core.utils import method_names_from_class

    app = MemoizingDispatcher()
    body = json.dumps({}).encode()
    environ = dict(_signed("dynamodb", "DynamoDB_20120810.NoSuchAction"), **{
        "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http", "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
    })
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))  # type: ignore[arg-type, func-returns-value]
    monkeypatch.setattr(responses, "method_names_from_class", method_names_from_class)  # moto's own, uncached
    plain = DomainDispatcherApplication(create_backend_app)
    environ["wsgi.input"] = io.BytesIO(body)
    plain_statuses: list[str] = []
    b"".join(plain(environ, lambda status, headers, exc_info=None: plain_statuses.append(status)))  # type: ignore[arg-type, func-returns-value]
    assert statuses == plain_statuses and not statuses[0].startswith("200")


# -- POST / without Flask ---------------------------------------------------------


def _request(service: str, body: bytes, *, target: str | None = None, content_type: str,
             **extra: str) -> dict[str, Any]:
    import io
    import sys

    return {**_signed(service, target), **{
        "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http", "CONTENT_LENGTH": str(len(body)), "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": content_type, "wsgi.errors": sys.stderr,
    }, **extra}


def _dynamodb(action: str, payload: Any, **extra: str) -> dict[str, Any]:
    import json

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return _request("dynamodb", body, target=f"DynamoDB_20120810.{action}",
                    content_type="application/x-amz-json-1.0", **extra)


def _run(app: Any, environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda chunk: None

    try:
        body = b"".join(app(environ, start_response))
    except Exception as exc:  # moto's own bugs propagate, in debug mode as under Flask
        return f"raised {type(exc).__name__}", {}, b""
    status, pairs = started[-1]
    headers = {k.lower(): v for k, v in pairs}
    # moto's request id is random (query-protocol answers have it in the body too, and
    # so in their checksum); everything else must match.
    request_id = headers.pop("x-amzn-requestid", "").encode()
    if request_id and request_id in body:
        body = body.replace(request_id, b"<request id>")
        headers["x-amz-crc32"] = "<crc of the body>" if "x-amz-crc32" in headers else "<none>"
    return status, headers, body


class _FlaskOnly(MemoizingDispatcher):
    """The same dispatcher, every request answered by moto's Flask apps (moto's own
    ``__call__``, with the memoized lookup)."""

    __call__ = DomainDispatcherApplication.__call__


_TABLE = "wsgw-direct-parity"
_ANSWERED_ALIKE = [
    ("create table", lambda: _dynamodb("CreateTable", {
        "TableName": _TABLE, "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]})),
    ("put", lambda: _dynamodb("PutItem", {"TableName": _TABLE, "Item": {"pk": {"S": "a"}, "n": {"N": "1"}}})),
    ("get", lambda: _dynamodb("GetItem", {"TableName": _TABLE, "Key": {"pk": {"S": "a"}}})),
    ("scan", lambda: _dynamodb("Scan", {"TableName": _TABLE})),
    ("missing table", lambda: _dynamodb("GetItem", {"TableName": "no-such-table", "Key": {"pk": {"S": "a"}}})),
    ("validation error", lambda: _dynamodb("PutItem", {"TableName": _TABLE, "Item": {"n": {"N": "1"}}})),
    ("unknown action", lambda: _dynamodb("NoSuchAction", {})),
    ("body not JSON", lambda: _dynamodb("GetItem", b"{not json")),
    ("query protocol (SQS)", lambda: _request("sqs", b"Action=ListQueues&Version=2012-11-05",
                                              content_type="application/x-www-form-urlencoded")),
    ("query protocol (STS)", lambda: _request("sts", b"Action=GetCallerIdentity&Version=2011-06-15",
                                              content_type="application/x-www-form-urlencoded")),
    # The other services wsgw's AWS integrations reach (emulator/backends/aws_service.py).
    ("SNS", lambda: _request("sns", b"Action=ListTopics&Version=2010-03-31",
                             content_type="application/x-www-form-urlencoded")),
    ("Kinesis", lambda: _request("kinesis", b"{}", target="Kinesis_20131202.ListStreams",
                                 content_type="application/x-amz-json-1.1")),
    ("Step Functions", lambda: _request("states", b"{}", target="AWSStepFunctions.ListStateMachines",
                                        content_type="application/x-amz-json-1.0")),
    ("EventBridge", lambda: _request("events", b"{}", target="AWSEvents.ListEventBuses",
                                     content_type="application/x-amz-json-1.1")),
]


def test_post_slash_skips_flask_and_answers_as_flask_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each request goes to moto through its Flask app and then without it, in turn
    # (both share moto's backends, so the first one's write is the second one's
    # state): status, headers and body must be the same, but for moto's random
    # request id.
    flask_only, direct = _FlaskOnly(), MemoizingDispatcher()
    flask_calls: list[str] = []
    for name, make in _ANSWERED_ALIKE:
        app = flask_only.get_application(make())
        monkeypatch.setattr(app, "wsgi_app", lambda e, s, app=app: (flask_calls.append(e["PATH_INFO"]),
                                                                     type(app).wsgi_app(app, e, s))[1])
        via_flask = _run(flask_only, make())
        calls_before = len(flask_calls)
        without = _run(direct, make())
        assert len(flask_calls) == calls_before, f"{name}: the direct path went through Flask"
        if name == "create table":  # a second CreateTable of the same table: moto's error
            assert via_flask[0].startswith("200") and without[0].startswith("400")
            continue
        if name == "put":
            assert via_flask == without and via_flask[0].startswith("200")
            continue
        assert without == via_flask, name
    # What was compared: answers, errors and all.
    statuses = {name: _run(direct, make())[0].split()[0] for name, make in _ANSWERED_ALIKE[2:]}
    assert statuses == {"get": "200", "scan": "200", "missing table": "400", "validation error": "400",
                        "unknown action": "404", "body not JSON": "raised", "query protocol (SQS)": "200",
                        "query protocol (STS)": "200", "SNS": "200", "Kinesis": "200", "Step Functions": "200",
                        "EventBridge": "200"}


def test_requests_flask_must_answer_still_go_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # An Origin header (Flask's CORS hook answers it), a query string, another method:
    # Flask's app answers; a plain POST / does not reach it.
    app = MemoizingDispatcher()
    flask_app = app.get_application(_dynamodb("ListTables", {}))
    reached: list[str] = []
    monkeypatch.setattr(flask_app, "wsgi_app", lambda e, s: (reached.append(e["REQUEST_METHOD"]),
                                                             type(flask_app).wsgi_app(flask_app, e, s))[1])
    status, headers, _ = _run(app, _dynamodb("ListTables", {}, HTTP_ORIGIN="http://localhost:3000"))
    assert status.startswith("200") and headers["access-control-allow-origin"] == "http://localhost:3000"
    assert reached == ["POST"]
    _run(app, _dynamodb("ListTables", {}, QUERY_STRING="x=1"))
    _run(app, _dynamodb("ListTables", {}, REQUEST_METHOD="PUT"))
    assert reached == ["POST", "POST", "PUT"]
    status, headers, _ = _run(app, _dynamodb("ListTables", {}))
    assert status.startswith("200") and headers["access-control-allow-origin"] == "*"
    assert len(reached) == 3, "a plain POST / should not have reached Flask"


def test_direct_view_is_the_backend_dispatch_or_none() -> None:
    from moto.dynamodb.responses import DynamoHandler

    from emulator.aws.moto_dispatch import direct_view

    dynamodb = create_backend_app("dynamodb")
    view = direct_view(dynamodb)
    assert view is not None and getattr(view, "__self__", None) is DynamoHandler
    empty = create_backend_app("dynamodb")
    empty.url_map = type(empty.url_map)()  # no routes: a 404 for POST /, Flask's to give
    assert direct_view(empty) is None


def test_a_moto_without_normalized_requests_keeps_flask(monkeypatch: pytest.MonkeyPatch) -> None:
    # moto before 5.2 hands its views Flask's request, not one of its own: the
    # direct path would not be moto's behaviour there, so Flask answers everything.
    import emulator.aws.moto_dispatch as moto_dispatch

    monkeypatch.setattr(moto_dispatch, "BackendRequest", None)
    assert moto_dispatch.direct_view(create_backend_app("dynamodb")) is None
    app = MemoizingDispatcher()
    flask_app = app.get_application(_dynamodb("ListTables", {}))
    reached: list[str] = []
    monkeypatch.setattr(flask_app, "wsgi_app", lambda e, s: (reached.append(e["REQUEST_METHOD"]),
                                                             type(flask_app).wsgi_app(flask_app, e, s))[1])
    assert _run(app, _dynamodb("ListTables", {}))[0].startswith("200") and reached == ["POST"]


@pytest.mark.parametrize("answer", [
    (200, {"server": "amazon.com", "status": "200", "x-amz-crc32": "1"}, "{}"),
    ("400", {"Content-Type": "application/x-amz-json-1.0", "status": 400}, '{"__type": "x"}'),
    (404, {}, ""),
    (599, {"X-Thing": 7}, b"\xff\x00 bytes"),
    (200, {"Content-Length": "999"}, "héllo"),  # the body's own length, as set_data sets it
])
def test_a_plain_answer_is_what_flask_s_response_sends(answer: tuple[Any, Any, Any]) -> None:
    from flask import Response

    from emulator.aws.moto_dispatch import _plain_answer

    status, headers, content = answer
    plain = _plain_answer(status, dict(headers), content)
    assert plain is not None
    sent: list[Any] = []
    body = b"".join(Response(response=content, status=status, headers=dict(headers))(
        {"REQUEST_METHOD": "POST"}, lambda s, h, exc_info=None: sent.append((s, h))))  # type: ignore[arg-type, func-returns-value]
    assert (plain[0], sorted(plain[1]), plain[2]) == (sent[0][0], sorted(sent[0][1]), body)


@pytest.mark.parametrize("answer", [
    (302, {"Location": "/x y"}, ""),  # werkzeug rewrites Location
    (304, {}, ""), (204, {}, ""), (100, {}, ""),  # werkzeug drops their bodies and lengths
    (200, {"X-Many": ["a", "b"]}, ""),  # a list: one header per item
    (200, {"X-Bad": "a\r\nb"}, ""),  # werkzeug's error
    (200, {}, iter([b"chunk"])),  # a stream
    ("200 Fine", {}, ""),  # a reason of its own
])
def test_anything_else_is_left_to_flask_s_response(answer: tuple[Any, Any, Any]) -> None:
    from emulator.aws.moto_dispatch import _plain_answer

    assert _plain_answer(*answer) is None


def test_the_raw_url_is_moto_s_own_computed_once_per_host() -> None:
    from moto.moto_server.werkzeug_app import BackendRequest

    from emulator.aws.moto_dispatch import _raw_url

    cache: dict[tuple[Any, ...], str] = {}
    seen = []
    for extra in ({}, {"HTTP_HOST": "127.0.0.1:80"}, {"HTTP_HOST": "localhost:4566"},
                  {"wsgi.url_scheme": "https", "HTTP_HOST": "127.0.0.1:443"}, {"SCRIPT_NAME": "/moto"}, {}):
        environ = _dynamodb("ListTables", {}, **extra)
        url = _raw_url(BackendRequest(environ), environ, cache, 1024)
        assert url == BackendRequest(environ).raw_url  # moto's own answer
        seen.append(url)
    assert seen[:5] == ["http://127.0.0.1:1/", "http://127.0.0.1/", "http://localhost:4566/", "https://127.0.0.1/",
                        "http://127.0.0.1:1/moto/"]
    assert len(cache) == 5  # the last request was the first one's again: a hit


def test_an_http_error_from_moto_is_answered_as_flask_answers_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # A werkzeug HTTPException out of moto's view (request parsing: a body too large,
    # say) is its own answer under Flask, with the CORS hook's header: the same without.
    from werkzeug.exceptions import RequestEntityTooLarge

    def refuse(request: Any, full_url: str, headers: Any) -> Any:
        raise RequestEntityTooLarge()

    flask_only, direct = _FlaskOnly(), MemoizingDispatcher()
    for dispatcher in (flask_only, direct):  # each has its own Flask apps and views
        app = dispatcher.get_application(_dynamodb("ListTables", {}))
        endpoint, _ = app.url_map.bind("localhost").match("/", method="POST")
        monkeypatch.setattr(app.view_functions[endpoint], "callback", refuse)
    via_flask = _run(flask_only, _dynamodb("ListTables", {}))
    assert via_flask[0].startswith("413") and via_flask[1]["access-control-allow-origin"] == "*"
    assert _run(direct, _dynamodb("ListTables", {})) == via_flask
