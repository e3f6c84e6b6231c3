"""emulator.core.arns: the ARN formats, and that the Lambda API resolves what we hand out."""

from __future__ import annotations

from emulator.core.arns import connect_method_arn, execute_api_host, lambda_function_arn
from emulator.core.lambda_api import resolve_function_name


def test_lambda_function_arn() -> None:
    assert lambda_function_arn("eu-west-1", "123456789012", "Chat") == "arn:aws:lambda:eu-west-1:123456789012:function:Chat"


def test_the_lambda_api_accepts_the_arn_handlers_are_given() -> None:
    arn = lambda_function_arn("eu-west-1", "123456789012", "Chat")
    assert resolve_function_name(arn, {"Chat": object()}, region="eu-west-1", account_id="123456789012") == "Chat"


def test_connect_method_arn() -> None:
    assert connect_method_arn("us-east-1", "123456789012", "abc123", "dev") == (
        "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/$connect"
    )


def test_execute_api_host() -> None:
    assert execute_api_host("abc123", "eu-west-1") == "abc123.execute-api.eu-west-1.amazonaws.com"
