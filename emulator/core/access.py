"""Who may open a connection: ``ApiKeyRequired`` and ``AWS_IAM`` on ``$connect``.

The lifecycle asks :func:`api_key_refusal` and :func:`iam_check` before any
integration runs (API Gateway checks both before the authorizer and ``$connect``,
reference §8); each answer names the reason of a refusal, which ``run-local`` prints
(the client only ever sees ``{"message":"Forbidden"}``). Call
:func:`access_warnings` at start-up: a ``$connect`` that needs a key or a signature
nobody configured refuses every connection, and the user should hear why before the
first 403. Pure: the time of the check comes in as an argument.
"""

from __future__ import annotations

from datetime import datetime
from typing import Mapping

from . import sigv4
from .credentials import DEFAULT_IAM_CREDENTIALS, DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from .events import Handshake
from .iam_identity import EMPTY_IDENTITIES, Identity, caller_identity
from .model import CONNECT, ApiModel

__all__ = ["access_warnings", "api_key_refusal", "iam_check"]


def api_key_refusal(key: object, api_keys: frozenset[str], *, source: str = "x-api-key header") -> str | None:
    """Why ``key`` (the request's ``x-api-key``, or the authorizer's
    ``usageIdentifierKey`` when ``source`` says so) is not accepted, else None."""
    if not isinstance(key, str) or not key:
        return f"API key required: no {source}"
    if key not in api_keys:
        shown = key if len(key) <= 12 else key[:8] + "…"
        configured = "none is configured (--api-key)" if not api_keys else "not one of the --api-key keys"
        return f"API key required: {source} {shown!r} is unknown ({configured})"
    return None


def iam_check(
    handshake: Handshake, *, credentials: Mapping[str, str], account_id: str, now: datetime,
    identities: Mapping[str, Identity] = EMPTY_IDENTITIES,
) -> str | Identity:
    """The signing principal's identity (:func:`~emulator.core.iam_identity.caller_identity`)
    if the upgrade request is validly SigV4-signed for ``execute-api`` with one of
    ``credentials``, else the reason it is not (a ``str``), e.g. ``"AWS_IAM: SigV4
    check failed: the signature does not match"``."""
    reason = sigv4.verify(
        "GET", handshake.path, handshake.query, handshake.headers, credentials=credentials, now=now,
    )
    if reason is not None:
        return f"AWS_IAM: SigV4 check failed: {reason}"
    access_key = sigv4.access_key_of(handshake.query, handshake.headers)
    assert access_key is not None  # verify() found the key among the credentials
    return caller_identity(access_key, account_id, identities)


def access_warnings(model: ApiModel, *, api_keys: frozenset[str], iam_credentials: Mapping[str, str]) -> list[str]:
    """One line per access rule of ``$connect`` that will refuse connections as
    configured: an API key required with no key given, ``AWS_IAM`` with only the
    local default credentials. Only ``$connect`` is checked: API Gateway authorizes a
    WebSocket connection once, at ``$connect`` [doc] DOCS-iam, DOCS-auth."""
    route = model.route(CONNECT)
    if route is None:
        return []
    warnings = []
    if route.api_key_required and not api_keys:
        source = ("its authorizer's usageIdentifierKey" if model.api_key_from_authorizer
                  else "an x-api-key header")
        warnings.append(
            f"$connect requires an API key (ApiKeyRequired, from {source}) and no key is configured: "
            "every connection is refused with 403; give the accepted keys with --api-key KEY or --api-keys-file")
    if route.authorization_type == "AWS_IAM" and dict(iam_credentials) == dict(DEFAULT_IAM_CREDENTIALS):
        warnings.append(
            "$connect uses AWS_IAM and no --iam-credentials were given: only upgrade requests SigV4-signed "
            f"(service execute-api) with the local default credentials {DUMMY_ACCESS_KEY}:{DUMMY_SECRET_KEY} "
            "get in; anything else is refused with 403")
    return warnings
