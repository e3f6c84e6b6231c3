"""The environment a handler worker runs with: the one place that says what a
function's process gets, and why.

Lambda gives each function a clean, defined environment, not its caller's: the
reserved variables of an execution environment (Lambda "Defined runtime environment
variables"), then the function's own ``Environment.Variables`` from the template. wsgw
adds what makes unmodified AWS code reach the local world instead of AWS (endpoints,
the local CA, dummy credentials) and inherits only a handful of the caller's
variables (``PATH``, locale, ``HOME``...). Layers of one worker's environment, later
ones winning:

1. :func:`services_environment` — common to every function of the app;
2. :func:`lambda_variables` — the reserved variables of the function;
3. the function's own variables and the worker's log stream (:func:`worker_environment`);
4. per invocation, ``_X_AMZN_TRACE_ID`` (:func:`invocation_trace_id`).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from ..core.credentials import DUMMY_CREDENTIALS
from ..core.events import trace_id
from ..core.model import FunctionSpec

__all__ = ["LocalServices", "invocation_trace_id", "lambda_variables", "services_environment", "worker_environment"]

# Variables a worker inherits from our environment; everything else it gets is built
# here.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")
# With a user-given AWS endpoint (--aws-endpoint-url), the caller's credentials go
# through: that endpoint may be a real account or a LocalStack that checks them.
CALLER_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
)


@dataclass(frozen=True)
class LocalServices:
    """Where a handler's AWS calls go locally."""

    aws_endpoint_url: str  # the embedded moto, or the user's --aws-endpoint-url
    embedded: bool  # True: the embedded moto (dummy credentials, no user profile)
    gateway: str  # host:port of the gateway (requestContext.domainName)
    stage: str
    api_hostname: str  # {apiId}.execute-api.{region}.amazonaws.com: redirected to the gateway
    ca_bundle: Path  # the local CA followed by the system roots


def services_environment(services: LocalServices, caller: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables every function of the app gets: inherited basics, endpoints,
    trust and credentials. ``caller`` is our own environment (default ``os.environ``)."""
    caller = os.environ if caller is None else caller
    env = {key: caller[key] for key in INHERITED if key in caller}
    env["AWS_ENDPOINT_URL"] = services.aws_endpoint_url
    # A management client created without endpoint_url reaches us too; one created
    # the AWS-docs way (https://{domainName}/{stage}) wins over this.
    env["AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"] = f"http://{services.gateway}/{services.stage}"
    # Lambda Invoke of the app's own functions is served on our port too.
    env["AWS_ENDPOINT_URL_LAMBDA"] = f"http://{services.gateway}"
    # Handlers that build the callback URL from the API's real hostname reach us too:
    # the worker redirects it inside botocore (endpoint_redirect.py; for Node.js workers,
    # inside https.request: node/endpoint_redirect.mjs). Both send it, and calls for
    # the gateway's own https://{domainName} (the target), over plain HTTP on its port.
    env["WSGW_REDIRECT_HOSTS"] = services.api_hostname
    env["WSGW_REDIRECT_TARGET"] = f"https://{services.gateway}"
    # Our CA first, then the system roots: https to us and to real AWS both work.
    # Set explicitly: these machines may export AWS_CA_BUNDLE for the system roots only.
    env["AWS_CA_BUNDLE"] = str(services.ca_bundle)
    env["REQUESTS_CA_BUNDLE"] = str(services.ca_bundle)
    # Node.js reads no AWS_CA_BUNDLE (SDK v3 dropped it): NODE_EXTRA_CA_CERTS adds our CA to
    # its built-in roots, read once when the process starts (Node.js CLI documentation).
    env["NODE_EXTRA_CA_CERTS"] = str(services.ca_bundle)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    if services.embedded:
        # Embedded services: dummy credentials, and no user profile can redirect a
        # handler to a real account by accident.
        env.update(DUMMY_CREDENTIALS)
        env["AWS_CONFIG_FILE"] = os.devnull
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    else:
        passed = {key: caller[key] for key in CALLER_CREDENTIALS if key in caller}
        env.update(passed or DUMMY_CREDENTIALS)
    return env


def lambda_variables(spec: FunctionSpec, region: str) -> dict[str, str]:
    """The reserved variables of a Lambda execution environment for ``spec`` (the log
    stream name is added per worker). Reference: Lambda "Defined runtime environment
    variables"."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "LAMBDA_TASK_ROOT": str(Path(spec.code_dir).resolve()),
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
    }


def invocation_trace_id(event: Mapping[str, Any], request_id: str) -> str:
    """The invocation's ``_X_AMZN_TRACE_ID`` (the worker sets it for each invocation, as
    the runtime does from ``Lambda-Runtime-Trace-Id``): the event's ``X-Amzn-Trace-Id``
    header (``$connect`` events carry one), else a new ``Root=`` id, as Lambda gives every
    invocation one, tracing or not (reference lambda-runtime.md §4)."""
    headers = event.get("headers")
    # Message events have no headers: the `is not None` spares them an isinstance
    # check against typing's Mapping, which is slow (every message's hot path).
    if headers is not None and isinstance(headers, Mapping):
        value = headers.get("X-Amzn-Trace-Id")
        if isinstance(value, str):
            return value
    return trace_id(time.time_ns() // 1_000_000, request_id)


def worker_environment(function_env: Mapping[str, str], spec: FunctionSpec) -> dict[str, str]:
    """One new worker's environment: the function's common variables
    (:func:`services_environment` + :func:`lambda_variables`), its own log stream,
    and the function's own ``Environment.Variables`` on top (as on Lambda, a template
    variable may override anything but a reserved name; we do not police that)."""
    stream = f"{datetime.now(timezone.utc):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
    return {**function_env, "AWS_LAMBDA_LOG_STREAM_NAME": stream, **spec.environment}
