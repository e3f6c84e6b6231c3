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
with local dummy credentials (moto does not enforce IAM by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ..core.credentials import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY

__all__ = ["ServiceRequest", "UnsupportedService", "service_request"]

_URI = re.compile(r"arn:[^:]+:apigateway:([^:]*):([a-z0-9.-]+):(action|path)/(.+)")
# Service -> (X-Amz-Target prefix, JSON protocol version), from botocore's service models.
_JSON_SERVICES = {
    "dynamodb": ("DynamoDB_20120810", "1.0"),
    "kinesis": ("Kinesis_20131202", "1.1"),
    "states": ("AWSStepFunctions", "1.0"),
    "events": ("AWSEvents", "1.1"),
}
_QUERY_SERVICES = frozenset({"sqs", "sns"})
# The handlers' dummy credentials: the same (default) account in moto.
_CREDENTIALS = Credentials(DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY)


class UnsupportedService(Exception):
    """The URI names a service or form wsgw cannot send to."""


@dataclass(frozen=True)
class ServiceRequest:
    """A signed request, ready for :func:`~emulator.backends.http_call.send`."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


def service_request(
    uri: str, method: str, payload: str, headers: Mapping[str, str], *, endpoint_url: str, region: str,
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
    body = payload.encode()
    request = AWSRequest(method=method, url=url, data=body, headers=out)
    SigV4Auth(_CREDENTIALS, service, region).add_auth(request)
    return ServiceRequest(method, url, dict(request.headers.items()), body)
