"""Lambda REQUEST authorizers on ``$connect``, as pure rules (reference §8, DOCS-auth).

The gateway calls :func:`missing_identity` before invoking an authorizer (any missing
identity source → 401 without invoking it), builds the event with
:func:`authorizer_event`, and turns the authorizer's outcome into a verdict with
:func:`verdict`: Allow → the connection proceeds with ``requestContext.authorizer``
set; Deny or no matching statement → 403; the error "Unauthorized" → 401; anything
else (another error, a timeout, a malformed policy) → 500. No caching: WebSocket
authorizers run once per connection attempt (``AuthorizerResultTtlInSeconds`` is
HTTP-API only [model]).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .arns import connect_method_arn
from .events import (
    Handshake,
    StageEndpoint,
    added_headers,
    request_context,
    single_and_multi,
)
from .invocation import Outcome, Succeeded
from .model import AuthorizerSpec
from .registry import ConnectionRecord


@dataclass(frozen=True)
class Verdict:
    """What the authorizer decided: ``status`` None means allowed, with ``context``
    (``principalId``, ``integrationLatency`` and the returned context keys); else
    ``reason`` says why the connection is refused, for run-local's log: "denied
    execute-api:Invoke on …", "answered Unauthorized", "failed (ValueError)"..."""

    status: int | None
    context: Mapping[str, Any]
    reason: str = field(default="", compare=False)


def method_arn(endpoint: StageEndpoint, region: str, account_id: str) -> str:
    """The ``$connect`` method ARN of the stage ``endpoint`` serves."""
    return connect_method_arn(region, account_id, endpoint.api_id, endpoint.stage)


def missing_identity(spec: AuthorizerSpec, handshake: Handshake) -> str | None:
    """The first identity source the request lacks (or sends empty), else None."""
    query = dict(handshake.query)
    for source in spec.identity_source:
        if source.startswith("route.request.header."):
            value = handshake.header(source[len("route.request.header."):])
        elif source.startswith("route.request.querystring."):
            value = query.get(source[len("route.request.querystring."):])
        else:
            # stageVariables.* / context.*: no local stage variables; treated as
            # present (deliberate: nothing to check them against).
            continue
        if not value:
            return source
    return None


def authorizer_event(
    endpoint: StageEndpoint, record: ConnectionRecord, handshake: Handshake, *,
    request_id: str, now_ms: int, arn: str,
) -> dict[str, Any]:
    """The REQUEST authorizer event (reference §1.4, ``authorizer-request.json``).

    Unlike the ``$connect`` integration event it keeps ``Connection``/``Upgrade``,
    has ``content-length: 0``, and always has the query and stage-variable maps.
    """
    headers = list(handshake.headers)
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers.append(("content-length", "0"))
    single, multi = single_and_multi(headers + added_headers(handshake, now_ms, request_id))
    query, multi_query = single_and_multi(handshake.query)
    return {
        "type": "REQUEST",
        "methodArn": arn,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "stageVariables": {},
        "requestContext": request_context(
            endpoint, record, route_key="$connect", event_type="CONNECT",
            request_id=request_id, now_ms=now_ms,
        ),
    }


def verdict(outcome: Outcome, arn: str) -> Verdict:
    """Judge an authorizer's outcome for ``arn`` (the method ARN it was asked about)."""
    if not isinstance(outcome, Succeeded):
        # Throwing "Unauthorized" is the documented way to answer 401; any other
        # failure is an authorizer error → 500 [doc] api-gateway-lambda-authorizer-output.
        if getattr(outcome, "error_message", None) == "Unauthorized":
            return Verdict(401, {}, "answered Unauthorized")
        error = getattr(outcome, "error_type", None)
        return Verdict(500, {}, f"failed ({error})" if error else "timed out")
    result = outcome.result
    if not isinstance(result, Mapping) or "principalId" not in result:
        return Verdict(500, {}, "returned no principalId")
    effect = _effect(result.get("policyDocument"), arn)
    if effect is None:
        return Verdict(500, {}, "returned a malformed policyDocument")
    if effect != "Allow":
        why = "denied" if effect == "Deny" else "allowed nothing that matches"
        return Verdict(403, {}, f"{why} execute-api:Invoke on {arn}")
    extra = result.get("context") or {}
    if not isinstance(extra, Mapping) or any(isinstance(v, (dict, list)) for v in extra.values()):
        # context values must be strings, numbers or booleans
        return Verdict(500, {}, "returned a context value that is not a string, number or boolean")
    context = {"principalId": result["principalId"], "integrationLatency": round(outcome.duration_ms)}
    context.update(extra)
    if "usageIdentifierKey" in result:
        context["usageIdentifierKey"] = result["usageIdentifierKey"]
    return Verdict(None, context)


def _effect(policy: Any, arn: str) -> str | None:
    """Allow, Deny (an explicit Deny wins) or "none" (no statement matches);
    None when the policy is malformed."""
    if not isinstance(policy, Mapping):
        return None
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return None
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") not in ("Allow", "Deny"):
            return None
        if not (_matches(statement.get("Action"), "execute-api:Invoke")
                and _matches(statement.get("Resource"), arn)):
            continue
        if statement["Effect"] == "Deny":
            return "Deny"
        allowed = True
    return "Allow" if allowed else "none"


def _matches(patterns: Any, value: str) -> bool:
    # IAM wildcards: * and ? (fnmatchcase also knows [..], which IAM does not use).
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list):
        return False
    return any(isinstance(p, str) and fnmatch.fnmatchcase(value, p) for p in patterns)
