"""The ARNs and AWS names wsgw hands to handlers and accepts from them, in one place.

Formats: Lambda ``arn:aws:lambda:{region}:{account}:function:{name}`` (Lambda's
"Function ARN", also ``context.invoked_function_arn``); the ``$connect`` method ARN
an authorizer sees, ``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect``
[doc] DOCS-auth; a WebSocket API's host, ``{apiId}.execute-api.{region}.amazonaws.com``
(its ``ApiEndpoint`` and callback URL).
"""

from __future__ import annotations

__all__ = ["connect_method_arn", "execute_api_host", "lambda_function_arn"]


def lambda_function_arn(region: str, account_id: str, name: str) -> str:
    """The unqualified ARN of Lambda function ``name``."""
    return f"arn:aws:lambda:{region}:{account_id}:function:{name}"


def execute_api_host(api_id: str, region: str) -> str:
    """The host name AWS gives the API (its ``ApiEndpoint`` is ``wss://`` and this)."""
    return f"{api_id}.execute-api.{region}.amazonaws.com"


def connect_method_arn(region: str, account_id: str, api_id: str, stage: str) -> str:
    """The ``methodArn`` of a ``$connect`` request, as a REQUEST authorizer gets it."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/$connect"
