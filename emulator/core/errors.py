"""One error tree for wsgw.

::

    WsgwError
    ├── ConfigError                 a model/config/template that cannot be served
    ├── StartupError                run-local cannot start (port in use, moto failed, ...)
    └── WireError                   an error answer of an AWS API we serve; knows its wire
        │                           status and the AWS error type that boto3 maps to its
        │                           modelled exception classes
        ├── ManagementError         the @connections API
        │   ├── BadRequestException
        │   ├── ForbiddenException
        │   ├── GoneException
        │   ├── PayloadTooLargeException
        │   └── LimitExceededException
        └── LambdaApiError          Lambda's Invoke for the app's own functions
            ├── ResourceNotFoundException
            ├── InvalidParameterValueException
            └── InvalidRequestContentException

Errors that go on the wire carry everything the HTTP layer needs (status, AWS error
type, message), so the HTTP layer only serialises them (moto's habit).
"""

from __future__ import annotations


class WsgwError(Exception):
    """Base class of every error wsgw raises on purpose."""


class ConfigError(WsgwError):
    """The API description cannot be served.

    ``where`` names the resource and field (``functions.Chat.handler``) so the CLI can
    print one line that tells the user exactly what to fix.
    """

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class StartupError(WsgwError):
    """run-local could not start; the message is a single line meant for the user."""


class WireError(WsgwError):
    """An error answer of an AWS API wsgw serves: HTTP ``status`` and the
    ``x-amzn-ErrorType`` that botocore turns into ``client.exceptions.<error_type>``
    (reference §7, BOTO-PARSE). Each API serialises its own errors' bodies."""

    status: int = 500
    error_type: str = "InternalServerErrorException"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.error_type)
        self.message = message


class ManagementError(WireError):
    """An error answer of the ``@connections`` management API.

    AWS answers these with the status, an ``x-amzn-ErrorType`` header naming the
    error and (for Gone at least) an empty body.
    """


class BadRequestException(ManagementError):
    """Malformed connection id (reported by localstack#4694; not in the service model)."""

    status = 400
    error_type = "BadRequestException"


class ForbiddenException(ManagementError):
    """Wrong stage/path or missing authentication (service model: 403)."""

    status = 403
    error_type = "ForbiddenException"


class GoneException(ManagementError):
    """The connection is closed, never existed, or has not finished ``$connect``."""

    status = 410
    error_type = "GoneException"


class PayloadTooLargeException(ManagementError):
    """PostToConnection ``Data`` over 128 KB (service model: ``Data`` max 131072)."""

    status = 413
    error_type = "PayloadTooLargeException"


class LimitExceededException(ManagementError):
    """Too many requests, or the client's send buffer is full (service model: 429)."""

    status = 429
    error_type = "LimitExceededException"


class LambdaApiError(WireError):
    """An error answer of Lambda's ``Invoke`` (botocore ``lambda`` service model):
    the status, ``x-amzn-ErrorType`` and a ``{"Type": "User", "message": ...}`` body."""

    status = 400
    error_type = "InvalidParameterValueException"


class ResourceNotFoundException(LambdaApiError):
    """No such function (or an unsupported Lambda API path)."""

    status = 404
    error_type = "ResourceNotFoundException"


class InvalidParameterValueException(LambdaApiError):
    """A parameter such as ``X-Amz-Invocation-Type`` has an unsupported value."""

    status = 400
    error_type = "InvalidParameterValueException"


class InvalidRequestContentException(LambdaApiError):
    """The payload is not JSON."""

    status = 400
    error_type = "InvalidRequestContentException"
