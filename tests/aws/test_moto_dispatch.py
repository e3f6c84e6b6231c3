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
