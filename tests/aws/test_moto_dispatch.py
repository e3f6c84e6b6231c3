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
