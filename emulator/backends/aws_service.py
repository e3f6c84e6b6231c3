"""An ``AWS`` integration's request to an AWS service, as API Gateway makes it.

Call :func:`service_request` with the integration URI
(``arn:aws:apigateway:{region}:{service}:action/{Action}`` or ``...:path/{path}``
[doc] DG-INTREQ), the rendered request template and the mapped headers; it returns
the signed request for the embedded moto (or ``--aws-endpoint-url``), to send with
:func:`emulator.backends.http_call.send`.

API Gateway knows each service's wire protocol; wsgw knows these (reference §1.3):
JSON services (DynamoDB, Kinesis, Step Functions, EventBridge) get the template's
output as the body with ``X-Amz-Target: {prefix}.{Action}``; query services (SQS,
SNS) get it as a form body, with ``Action`` in the query string for the ``action/``
form [?] (the ``path/`` form's template carries ``Action=`` itself, as in AWS's SQS
examples). ``CredentialsArn`` is accepted and not checked: the request is signed
with local dummy credentials (moto does not enforce IAM by default). botocore's
signer is imported on the first request: most apps have no such integration, and
importing it costs start-up ~0.1 s (bench scenario f).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import Any, Mapping

from ..core.credentials import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY

__all__ = ["ServiceRequest", "UnsupportedService", "json_answer", "service_request"]

_URI = re.compile(r"arn:[^:]+:apigateway:([^:]*):([a-z0-9.-]+):(action|path)/(.+)")
# Service -> (X-Amz-Target prefix, JSON protocol version), from botocore's service models.
_JSON_SERVICES = {
    "dynamodb": ("DynamoDB_20120810", "1.0"),
    "kinesis": ("Kinesis_20131202", "1.1"),
    "states": ("AWSStepFunctions", "1.0"),
    "events": ("AWSEvents", "1.1"),
}
_QUERY_SERVICES = frozenset({"sqs", "sns"})


class UnsupportedService(Exception):
    """The URI names a service or form wsgw cannot send to."""


@dataclass(frozen=True)
class ServiceRequest:
    """A signed request, ready for :func:`~emulator.backends.http_call.send`."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    query_protocol: bool = False  # SQS, SNS: the answer goes through json_answer


def service_request(
    uri: str, method: str, payload: bytes, headers: Mapping[str, str], *, endpoint_url: str, region: str,
) -> ServiceRequest:
    """The request API Gateway would send for ``uri``; raise :class:`UnsupportedService`."""
    match = _URI.fullmatch(uri)
    if match is None:
        raise UnsupportedService(f"{uri!r} is not an AWS service integration URI")
    uri_region, service, form, rest = match.groups()
    region = uri_region or region
    base = endpoint_url.rstrip("/")
    out = {name: value for name, value in headers.items()}
    lowered = {name.lower() for name in out}
    if form == "path":
        url = f"{base}/{rest}"
        if service in _QUERY_SERVICES and "content-type" not in lowered:
            out["Content-Type"] = "application/x-www-form-urlencoded"
    elif service in _JSON_SERVICES:
        prefix, version = _JSON_SERVICES[service]
        url = base + "/"
        out["X-Amz-Target"] = f"{prefix}.{rest}"
        if "content-type" not in lowered:
            out["Content-Type"] = f"application/x-amz-json-{version}"
    elif service in _QUERY_SERVICES:
        url = f"{base}/?Action={rest}"
        if "content-type" not in lowered:
            out["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        known = ", ".join(sorted([*_JSON_SERVICES, *_QUERY_SERVICES]))
        raise UnsupportedService(f"action/ integrations with {service!r} are not supported (wsgw knows {known})")
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = payload
    request = AWSRequest(method=method, url=url, data=body, headers=out)
    # The handlers' dummy credentials: the same (default) account in moto.
    SigV4Auth(Credentials(DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY), service, region).add_auth(request)
    return ServiceRequest(method, url, dict(request.headers.items()), body, service in _QUERY_SERVICES)


def _element(node: ElementTree.Element) -> Any:
    children = list(node)
    if not children:
        return node.text or ""
    out: dict[str, Any] = {}
    for child in children:
        name = child.tag.rpartition("}")[2]
        value = _element(child)
        if name in out:  # a repeated element: a list [?]
            previous = out[name]
            out[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[name] = value
    return out


def json_answer(body: str) -> str:
    """A query service's (SQS, SNS) answer as API Gateway passes it on: JSON. AWS
    answers API Gateway's ``Accept: application/json`` request with JSON such as
    ``{"SendMessageResponse": {"SendMessageResult": {...}, "ResponseMetadata": {...}}}``
    [obs] LS-TEST (reference §1.3); moto answers XML, so an XML answer becomes that
    shape here: one member per element, text leaves, repeated elements as lists [?].
    Any other answer is returned as it is."""
    if not body.lstrip().startswith("<"):
        return body
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return body
    return json.dumps({root.tag.rpartition("}")[2]: _element(root)})
