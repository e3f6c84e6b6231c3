"""The dummy AWS credentials of the local world, in one place.

Handler workers, the admin commands and the pytest plugin sign their requests to the
embedded moto and to the gateway with these (moto and the local ``@connections``
accept any signature); ``AWS_IAM`` on ``$connect`` accepts them by default, so a
handler or test that signs with what it was given gets in. Never real credentials:
a user's profile cannot send local traffic to a real account by accident.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["DEFAULT_IAM_CREDENTIALS", "DUMMY_ACCESS_KEY", "DUMMY_CLIENT_ARGUMENTS", "DUMMY_CREDENTIALS",
           "DUMMY_SECRET_KEY"]

DUMMY_ACCESS_KEY = "testing"
DUMMY_SECRET_KEY = "testing"
DUMMY_SESSION_TOKEN = "testing"

DUMMY_CREDENTIALS: Mapping[str, str] = MappingProxyType({
    "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
    "AWS_SESSION_TOKEN": DUMMY_SESSION_TOKEN,
})
"""The environment variables a handler worker gets for the embedded services."""

DUMMY_CLIENT_ARGUMENTS: Mapping[str, Any] = MappingProxyType({
    "aws_access_key_id": DUMMY_ACCESS_KEY,
    "aws_secret_access_key": DUMMY_SECRET_KEY,
    "aws_session_token": DUMMY_SESSION_TOKEN,
})
"""The same credentials as keyword arguments of ``boto3.client``/``boto3.resource``,
for wsgw's own calls to the embedded services (creating tables, queues, topics). Typed
``Any``: boto3-stubs' overloads reject ``**`` of a mapping of ``str`` beside their
parameters of other types."""

DEFAULT_IAM_CREDENTIALS: Mapping[str, str] = MappingProxyType({DUMMY_ACCESS_KEY: DUMMY_SECRET_KEY})
"""Access key → secret accepted for ``AWS_IAM`` on ``$connect`` (``--iam-credentials``
replaces them)."""
