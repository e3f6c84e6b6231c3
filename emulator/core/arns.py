"""The ARNs wsgw hands to handlers and accepts from them, in one place.

Formats: Lambda ``arn:aws:lambda:{region}:{account}:function:{name}`` (Lambda's
"Function ARN", also ``context.invoked_function_arn``); the ``$connect`` method ARN
an authorizer sees, ``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect``
[doc] DOCS-auth.
"""

from __future__ import annotations

__all__ = ["connect_method_arn", "lambda_function_arn"]


def lambda_function_arn(region: str, account_id: str, name: str) -> str:
    """The unqualified ARN of Lambda function ``name``."""
    return f"arn:aws:lambda:{region}:{account_id}:function:{name}"


def connect_method_arn(region: str, account_id: str, api_id: str, stage: str) -> str:
    """The ``methodArn`` of a ``$connect`` request, as a REQUEST authorizer gets it."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/$connect"
