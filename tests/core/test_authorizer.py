"""Authorizer and API-key rules (emulator/core/authorizer.py and their use in the gateway)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from emulator.core.authorizer import method_arn, missing_identity, verdict
from emulator.core.clock import ManualClock
from emulator.core.events import Handshake, StageEndpoint
from emulator.core.lifecycle import AUTHORIZER, Accept, ConnectionLifecycle, Reject
from emulator.core.ids import SequentialIds
from emulator.core.invocation import Failed, Invoke, Succeeded, TimedOut
from emulator.core.model import ApiModel, AuthorizerSpec, FunctionSpec, RouteSpec

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/$connect"


def _handshake(query: tuple[tuple[str, str], ...] = (), headers: tuple[tuple[str, str], ...] = ()) -> Handshake:
    return Handshake(path="/dev", query=query, headers=(("Host", "h"), *headers), source_ip="127.0.0.1")


def _policy(effect: str, resource: Any = ARN, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"principalId": "me", "policyDocument": {
        "Version": "2012-10-17", "Statement": [{"Action": action, "Effect": effect, "Resource": resource}]}}


def test_method_arn() -> None:
    assert method_arn(StageEndpoint("abc123", "dev", "h"), "us-east-1", "123456789012") == ARN


@pytest.mark.parametrize("sources, query, headers, missing", [
    (("route.request.header.Authorization",), (), (("authorization", "x"),), None),  # any case
    (("route.request.header.Authorization",), (), (), "route.request.header.Authorization"),
    (("route.request.header.Authorization",), (), (("Authorization", ""),), "route.request.header.Authorization"),
    (("route.request.querystring.token",), (("token", "t"),), (), None),
    (("route.request.querystring.token", "route.request.header.X-Id"), (("token", "t"),), (),
     "route.request.header.X-Id"),
    (("stageVariables.v", "context.c"), (), (), None),
])
def test_missing_identity(sources: tuple[str, ...], query: Any, headers: Any, missing: str | None) -> None:
    spec = AuthorizerSpec(name="a", function="Auth", identity_source=sources)
    assert missing_identity(spec, _handshake(query, headers)) == missing


@pytest.mark.parametrize("result, status", [
    (_policy("Allow"), None),
    (_policy("Allow", resource="arn:aws:execute-api:us-east-1:123456789012:abc123/*"), None),
    (_policy("Allow", resource=[ARN], action=["execute-api:*"]), None),
    (_policy("Allow", resource="arn:aws:execute-api:us-east-1:123456789012:other/*"), 403),  # no match
    (_policy("Deny"), 403),
    ({"principalId": "me", "policyDocument": {"Statement": [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"},
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": ARN}]}}, 403),  # explicit Deny wins
    ({"policyDocument": _policy("Allow")["policyDocument"]}, 500),  # no principalId
    ({"principalId": "me", "policyDocument": "Allow"}, 500),
    ({**_policy("Allow"), "context": {"nested": {"a": 1}}}, 500),  # context values must be scalars
    ("Allow", 500),
])
def test_verdict_on_policies(result: Any, status: int | None) -> None:
    assert verdict(Succeeded(result, 4.4), ARN).status == status


def test_verdict_context_and_errors() -> None:
    allowed = verdict(Succeeded({**_policy("Allow"), "context": {"k": "v", "n": 1}}, 4.6), ARN)
    assert allowed.context == {"principalId": "me", "integrationLatency": 5, "k": "v", "n": 1}
    assert verdict(Failed("Exception", "Unauthorized", 1.0), ARN).status == 401
    assert verdict(Failed("ValueError", "bug", 1.0), ARN).status == 500
    assert verdict(TimedOut(3.0, 3000.0), ARN).status == 500


def _gateway(route: RouteSpec, *, key_source: str | None = None, keys: frozenset[str] = frozenset()) -> ConnectionLifecycle:
    functions = {name: FunctionSpec(name=name, handler=f"{name.lower()}.handler", code_dir=Path("."))
                 for name in ("Connect", "Auth")}
    model = ApiModel(
        name="t", stage="dev", route_selection_expression="$request.body.action",
        routes=MappingProxyType({"$connect": route}), functions=MappingProxyType(functions),
        authorizers=MappingProxyType({"A": AuthorizerSpec("a", "Auth", ("route.request.querystring.token",))}),
        api_key_selection_expression=key_source,
    )
    return ConnectionLifecycle(model, domain_name="h", clock=ManualClock(), ids=SequentialIds(), api_keys=keys)


CUSTOM = RouteSpec("$connect", "Connect", authorization_type="CUSTOM", authorizer="A")


def test_gateway_runs_authorizer_then_connect_with_its_context() -> None:
    gateway = _gateway(CUSTOM)
    first = gateway.open(dataclasses.replace(_handshake((("token", "t"),))))
    assert isinstance(first, Invoke) and first.route_key == AUTHORIZER and first.function == "Auth"
    assert first.event["type"] == "REQUEST"
    second = gateway.connect_finished(first, Succeeded({**_policy("Allow", resource="*"), "context": {"k": "v"}}, 2.0))
    assert isinstance(second, Invoke) and second.route_key == "$connect"
    assert second.event["requestContext"]["authorizer"] == {"principalId": "me", "integrationLatency": 2, "k": "v"}
    assert isinstance(gateway.connect_finished(second, Succeeded({"statusCode": 200}, 1.0)), Accept)


def test_gateway_authorizer_deny_forgets_the_connection() -> None:
    gateway = _gateway(CUSTOM)
    first = gateway.open(_handshake((("token", "t"),)))
    assert isinstance(first, Invoke)
    assert gateway.connect_finished(first, Succeeded(_policy("Deny", resource="*"), 1.0)) == Reject(
        403, '{"message":"Forbidden"}')
    assert len(gateway.registry) == 0


def test_gateway_missing_identity_source_is_401_without_invoking() -> None:
    gateway = _gateway(CUSTOM)
    assert gateway.open(_handshake()) == Reject(401, '{"message":"Unauthorized"}')
    assert len(gateway.registry) == 0


@pytest.mark.parametrize("headers, accepted", [
    ((("x-api-key", "k1"),), True), ((("X-Api-Key", "k2"),), True), ((("x-api-key", "nope"),), False), ((), False),
])
def test_api_key_from_header(headers: Any, accepted: bool) -> None:
    gateway = _gateway(RouteSpec("$connect", "Connect", api_key_required=True), keys=frozenset({"k1", "k2"}))
    decision = gateway.open(_handshake(headers=headers))
    assert isinstance(decision, Invoke) if accepted else decision == Reject(403, '{"message":"Forbidden"}')


@pytest.mark.parametrize("usage_key, accepted", [("k1", True), ("other", False), (None, False)])
def test_api_key_from_authorizer(usage_key: str | None, accepted: bool) -> None:
    route = dataclasses.replace(CUSTOM, api_key_required=True)
    gateway = _gateway(route, key_source="$context.authorizer.usageIdentifierKey", keys=frozenset({"k1"}))
    first = gateway.open(_handshake((("token", "t"),)))
    assert isinstance(first, Invoke)
    result = {**_policy("Allow", resource="*")} | ({"usageIdentifierKey": usage_key} if usage_key else {})
    decision = gateway.connect_finished(first, Succeeded(result, 1.0))
    assert isinstance(decision, Invoke) if accepted else decision == Reject(403, '{"message":"Forbidden"}')


def _iam_gateway() -> tuple[ConnectionLifecycle, ManualClock]:
    import time

    clock = ManualClock(int(time.time() * 1000))
    functions = {"Connect": FunctionSpec(name="Connect", handler="c.handler", code_dir=Path("."))}
    model = ApiModel(
        name="t", stage="dev", route_selection_expression="$request.body.action",
        routes=MappingProxyType({"$connect": RouteSpec("$connect", "Connect", authorization_type="AWS_IAM")}),
        functions=MappingProxyType(functions),
    )
    return ConnectionLifecycle(model, domain_name="h", clock=clock, ids=SequentialIds()), clock


def _signed_handshake(secret: str = "testing") -> Handshake:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url="https://h/dev?a=1", headers={"Host": "h"})
    SigV4Auth(Credentials("testing", secret), "execute-api", "us-east-1").add_auth(request)
    return Handshake(path="/dev", query=(("a", "1"),), headers=tuple(request.headers.items()), source_ip="127.0.0.1")


def test_iam_connect_needs_a_valid_signature() -> None:
    gateway, clock = _iam_gateway()
    assert isinstance(gateway.open(_signed_handshake()), Invoke)
    assert gateway.open(_signed_handshake(secret="wrong")) == Reject(403, '{"message":"Forbidden"}')
    assert gateway.open(_handshake((("a", "1"),))) == Reject(403, '{"message":"Forbidden"}')
    signed = _signed_handshake()
    clock.advance(16 * 60 * 1000)  # past SigV4's 15-minute window
    assert gateway.open(signed) == Reject(403, '{"message":"Forbidden"}')


def test_refusals_say_why() -> None:
    keyed = _gateway(RouteSpec("$connect", "Connect", api_key_required=True), keys=frozenset({"k1"}))
    assert keyed.open(_handshake()).reason == "API key required: no x-api-key header"  # type: ignore[union-attr]
    wrong_stage = dataclasses.replace(_handshake(), path="/prod")
    assert keyed.open(wrong_stage).reason == "no such stage: /prod (this API serves /dev)"  # type: ignore[union-attr]
    iam, _ = _iam_gateway()
    assert iam.open(_signed_handshake(secret="wrong")).reason == (  # type: ignore[union-attr]
        "AWS_IAM: SigV4 check failed: the signature does not match")


def test_an_iam_callers_identity_is_on_connect_message_and_disconnect() -> None:
    gateway, _ = _iam_gateway()
    connect = gateway.open(_signed_handshake())
    assert isinstance(connect, Invoke)
    on_connect = connect.event["requestContext"]["identity"]
    assert on_connect["accessKey"] == "testing" and on_connect["userArn"] == "arn:aws:iam::123456789012:user/testing"
    assert on_connect["sourceIp"] == "127.0.0.1" and on_connect["userAgent"] is None
    assert isinstance(gateway.connect_finished(connect, Succeeded({"statusCode": 200}, 1.0)), Accept)
    gateway.swap_model(dataclasses.replace(gateway.model, routes=MappingProxyType({
        **gateway.model.routes, "$default": RouteSpec("$default", "Connect"),
        "$disconnect": RouteSpec("$disconnect", "Connect")})))
    message = gateway.message(connect.connection_id, "hi")
    assert isinstance(message, Invoke)
    disconnect = gateway.closed(connect.connection_id, 1000, "bye")
    assert disconnect is not None
    assert message.event["requestContext"]["identity"] == on_connect
    assert disconnect.event["requestContext"]["identity"] == on_connect


def test_a_connection_without_iam_keeps_the_short_identity() -> None:
    gateway = _gateway(RouteSpec("$connect", "Connect"))
    connect = gateway.open(_handshake(headers=(("User-Agent", "ua"),)))
    assert isinstance(connect, Invoke)
    assert connect.event["requestContext"]["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "ua"}
