"""The integrations that are not a Lambda proxy: MOCK, HTTP, HTTP_PROXY, AWS
services and Lambda custom integrations, with API Gateway's mapping templates (Velocity).

May import: the standard library, ``airspeed`` (airspeed-ext), ``botocore`` and
``emulator.core``. Entry point: :class:`BackendIntegrations` (the app hands it to
the invoker's integrations, which send it every Invoke that has an ``integration``).

Modules, one concept each::

    runner        BackendIntegrations: one Invoke with an IntegrationSpec -> Outcome
    vtl           mapping templates: $input, $context, $stageVariables, $util
    http_call     one blocking HTTP request to a backend (run in a thread)
    aws_service   the signed request an AWS integration sends to a service
    lambda_call   an AWS integration's call to Lambda (custom, non-proxy)

The rules (template choice, pass-through, parameter mapping, response selection) are
pure and live in ``emulator/core/integration.py``.
"""

from .runner import BackendIntegrations

__all__ = ["BackendIntegrations"]
