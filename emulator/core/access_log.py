"""The stage's access log: ``AccessLogSettings.Format`` rendered for one request.

API Gateway writes one access log line per WebSocket request (each ``$connect``,
message and ``$disconnect``) to the stage's ``DestinationArn`` log group, made by
putting the request's ``$context`` variables into the ``Format`` text (reference
apigw-integrations.md §7.1, [doc] DG-LOG). AWS's "CLF", JSON, XML and CSV formats
are only such texts, so any of them works here.

* :class:`AccessLogSettings` — the stage's settings, checked as AWS checks them;
* :func:`request_values` — the ``$context`` variables of one request, by name
  (``requestId``, ``identity.sourceIp``, ``integrationLatency``...), from its
  ``requestContext`` and how it ended;
* :func:`render` — the line itself.

Where the values come from (which request ended how) is ``core/recording.py``'s
job. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import ConfigError

__all__ = ["AccessLogSettings", "MAX_LINE_BYTES", "MISSING", "check_access_log_format", "render", "request_values"]

MAX_LINE_BYTES = 1024  # "a log event is cut at 1,024 bytes" [doc] DG-KNOWN, reference §7.1
MISSING = "-"
"""What a variable with no value prints. AWS prints ``-`` for a variable it has no
value for (as in its CLF examples' empty fields); for a variable it does not know on
WebSocket APIs (REST-only ``$context.httpMethod``...) the same is assumed [?]
(reference §7.1, CDK default row)."""

# A variable is ``$context.`` and dotted names; a dot not followed by a name character
# ends it ("$context.status." is ``status`` and a dot).
_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_-]+)*)")
_REQUEST_ID = ("$context.requestId", "$context.extendedRequestId")


@dataclass(frozen=True)
class AccessLogSettings:
    """A stage's ``AccessLogSettings``: ``format`` is the line's text with
    ``$context`` variables; ``destination_arn`` the CloudWatch Logs group it would go
    to (named in run-local's output; nothing is sent)."""

    format: str
    destination_arn: str | None = None


def check_access_log_format(text: str, where: str) -> str:
    """``text`` as a stage's ``AccessLogSettings.Format``, or ConfigError at ``where``.

    AWS refuses a format over 1,024 characters or without ``$context.requestId``
    ([code] BOTO-V2: "must include at least $context.requestId"; the REST guide also
    accepts ``$context.extendedRequestId`` [doc] DG-RESTLOG; CDK enforces it
    [code] CDK-BASE), and a format of more than one line [?] (a log event is one line).
    """
    body = text[:-1] if text.endswith("\n") else text  # "a trailing \\n may be added"
    if not body:
        raise ConfigError(where, "is empty; an access log format needs at least $context.requestId")
    if len(body) > MAX_LINE_BYTES:
        raise ConfigError(where, f"is {len(body)} characters; AWS allows at most {MAX_LINE_BYTES}")
    if "\n" in body:
        raise ConfigError(where, "must be one line")
    if not any(re.search(re.escape(name) + r"(?![A-Za-z0-9_])", body) for name in _REQUEST_ID):
        raise ConfigError(where, "must include $context.requestId (AWS refuses a format without it)")
    return body


def _flatten(prefix: str, value: Mapping[str, Any], into: dict[str, Any]) -> None:
    for key, item in value.items():
        name = f"{prefix}.{key}"
        if isinstance(item, Mapping):
            _flatten(name, item, into)
        else:
            into[name] = item


def request_values(
    request_context: Mapping[str, Any],
    *,
    status: int,
    latency_ms: float | None = None,
    integration_latency_ms: float | None = None,
    integration_status: int | None = None,
    lambda_status: int | None = None,
    integration_request_id: str | None = None,
    integration_error: str | None = None,
    error_message: str | None = None,
    authorizer_latency_ms: float | None = None,
    authorizer_status: int | None = None,
) -> dict[str, Any]:
    """The ``$context`` variables of one request by their names after ``$context.``.

    ``request_context`` is the request's event ``requestContext`` (its scalars by name,
    ``identity`` and ``authorizer`` as ``identity.sourceIp``, ``authorizer.<key>``);
    the rest is how the request ended, each as DG-LOG defines it: ``status`` (the
    request's, e.g. 200, 403, 500), ``latency`` (the whole request, ms),
    ``integrationLatency`` = ``integration.latency`` (ms), ``integration.status``
    (the status the integration answered: a Lambda proxy's returned ``statusCode``,
    an HTTP backend's status), ``integration.integrationStatus`` = ``integrationStatus``
    (for a Lambda proxy, Lambda's own status), ``integration.requestId``,
    ``integration.error``, ``error.message`` and ``error.messageString`` (the same,
    quoted), ``authorizer.latency`` and ``authorizer.status``. Latencies are whole
    milliseconds, as AWS writes them [?].
    """
    values: dict[str, Any] = {}
    for key, value in request_context.items():
        if isinstance(value, Mapping):
            _flatten(key, value, values)
        else:
            values[key] = value
    values["status"] = status
    if latency_ms is not None:
        values["latency"] = round(latency_ms)
    if integration_latency_ms is not None:
        values["integrationLatency"] = values["integration.latency"] = round(integration_latency_ms)
    if integration_status is not None:
        values["integration.status"] = integration_status
    if lambda_status is not None:
        values["integrationStatus"] = values["integration.integrationStatus"] = lambda_status
    if integration_request_id is not None:
        values["integration.requestId"] = integration_request_id
    if integration_error is not None:
        values["integration.error"] = integration_error
    if error_message is not None:
        values["error.message"] = error_message
        values["error.messageString"] = f'"{error_message}"'  # "the quoted value" [doc] DG-LOG
    if authorizer_latency_ms is not None:
        values["authorizer.latency"] = round(authorizer_latency_ms)
    if authorizer_status is not None:
        values["authorizer.status"] = authorizer_status
    return values


def _text(value: Any) -> str:
    if value is None or value == "":
        return MISSING
    if value is True or value is False:
        return "true" if value else "false"  # as the authorizer's context prints [doc] DG-LOG
    return str(value)


def render(text: str, values: Mapping[str, Any]) -> str:
    """``text`` (a checked ``Format``) with each ``$context.<name>`` replaced by its
    value; a variable with no value, or one wsgw does not know, prints :data:`MISSING`.
    Values go in as they are: AWS does not escape them for the format's syntax [?]
    (a ``"`` in a User-Agent lands inside a JSON format's string unescaped). The line
    is cut at :data:`MAX_LINE_BYTES` bytes of UTF-8, as CloudWatch receives it."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return _text(values[name])
        # The longest known name the text starts with: "$context.status.x" is
        # status followed by ".x" [?].
        parts = name.split(".")
        for end in range(len(parts) - 1, 0, -1):
            shorter = ".".join(parts[:end])
            if shorter in values:
                return _text(values[shorter]) + "." + ".".join(parts[end:])
        return MISSING

    line = _VARIABLE.sub(value, text)
    encoded = line.encode("utf-8")
    if len(encoded) > MAX_LINE_BYTES:
        line = encoded[:MAX_LINE_BYTES].decode("utf-8", "ignore")
    return line
