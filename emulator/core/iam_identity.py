"""Who signed an ``AWS_IAM`` ``$connect``: ``requestContext.identity`` of an IAM caller.

For a route with ``AuthorizationType: AWS_IAM`` API Gateway puts the signing principal
into ``requestContext.identity``: ``accessKey`` (the key id of the verified signature),
``accountId``, ``caller``, ``user``, ``userArn`` and, for credentials from a Cognito
identity pool, ``cognitoIdentityId``, ``cognitoIdentityPoolId``,
``cognitoAuthenticationType`` and ``cognitoAuthenticationProvider`` (null otherwise),
plus ``principalOrgId`` — the REST API identity object, which older WebSocket captures
show in full with nulls (reference §1.2, bajohn/rf; [doc] the ``$context.identity.*``
variables of DOCS-ctxvars). Current captures of unauthenticated connections carry only
``sourceIp``/``userAgent``; for IAM callers the full object on ``$connect`` and on
every later event of the connection is the most plausible reading [?]: AWS's own
session-management sample reads ``identity.cognitoIdentityId`` in ``$connect``.

Locally there is no IAM to ask who owns a key, so :func:`caller_identity` makes up a
consistent principal for each access key (an IAM user named after the key in account
``123456789012``), and ``--iam-identities`` replaces any field per key (parsed by
:func:`parse_identities`). Pure: no file or clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
from types import MappingProxyType
from typing import Any, Collection, Mapping, Optional

from .errors import ConfigError

__all__ = ["CALLER_FIELDS", "caller_identity", "event_identity", "identities_from_json", "parse_identities"]

Identity = Mapping[str, Optional[str]]
"""An IAM caller's identity fields (:data:`CALLER_FIELDS` and ``accessKey``)."""

# The fields of an IAM caller, in the order of the REST identity object as the
# Lambda console's API Gateway sample event and the 2020 WebSocket captures list them.
_ORDER = (
    "cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "sourceIp",
    "principalOrgId", "accessKey", "cognitoAuthenticationType", "cognitoAuthenticationProvider",
    "userArn", "userAgent", "user",
)
CALLER_FIELDS = tuple(name for name in _ORDER if name not in ("sourceIp", "userAgent", "accessKey"))
"""What ``--iam-identities`` may set for an access key (``accessKey`` is the key itself;
``sourceIp``/``userAgent`` come from the request)."""

EMPTY_IDENTITIES: Mapping[str, Identity] = MappingProxyType({})


def _user_id(access_key: str) -> str:
    # IAM unique ids of users are "AIDA" + 17 upper-case letters/digits; derived from
    # the key so one key is always the same user.
    digest = base64.b32encode(hashlib.sha256(access_key.encode()).digest()).decode()
    return "AIDA" + digest[:17]


def caller_identity(access_key: str, account_id: str, configured: Mapping[str, Identity] = EMPTY_IDENTITIES) -> Identity:
    """The principal behind ``access_key``: ``--iam-identities``' fields for it over
    the local default, an IAM user named after the key (``user``/``caller``
    ``AIDA…``, ``userArn`` ``arn:aws:iam::{account}:user/{access_key}``, the Cognito
    fields and ``principalOrgId`` null)."""
    user_id = _user_id(access_key)
    identity: dict[str, str | None] = {name: None for name in CALLER_FIELDS}
    identity.update(
        accountId=account_id, caller=user_id, user=user_id,
        userArn=f"arn:aws:iam::{account_id}:user/{access_key}",
    )
    identity.update(configured.get(access_key, {}))
    identity["accessKey"] = access_key
    return MappingProxyType(identity)


def event_identity(source_ip: str, user_agent: str | None, caller: Identity) -> dict[str, str | None]:
    """The full identity object of an IAM caller's events; ``userAgent`` is null when
    the client sent none, as in the REST object [?]."""
    values: dict[str, str | None] = {**caller, "sourceIp": source_ip, "userAgent": user_agent}
    return {name: values.get(name) for name in _ORDER}


def parse_identities(document: Any, where: str) -> dict[str, Identity]:
    """``{"ACCESS_KEY": {"cognitoIdentityId": "...", ...}, ...}`` checked: each field one
    of :data:`CALLER_FIELDS`, each value a string or null. Raises
    :class:`~emulator.core.errors.ConfigError` naming ``where`` and the bad place."""
    if not isinstance(document, Mapping):
        raise ConfigError(where, 'expected a JSON object: {"ACCESS_KEY": {"cognitoIdentityId": "...", ...}}')
    identities: dict[str, Identity] = {}
    for access_key, fields in document.items():
        if not isinstance(fields, Mapping):
            raise ConfigError(f"{where}: {access_key}", "expected an object of identity fields")
        for name, value in fields.items():
            if name not in CALLER_FIELDS:
                raise ConfigError(f"{where}: {access_key}.{name}",
                                  f"not an identity field (one of {', '.join(CALLER_FIELDS)})")
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{where}: {access_key}.{name}", "expected a string or null")
        identities[str(access_key)] = MappingProxyType(dict(fields))
    return identities


def identities_from_json(text: str, where: str, accepted_keys: Collection[str]) -> dict[str, Identity]:
    """The identities file (``--iam-identities``, the plugin's ``wsgw_iam_identities``)
    from its text: :func:`parse_identities` of the JSON, every access key one that
    ``accepted_keys`` holds (else it could never sign in). ConfigError names ``where``."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ConfigError(where, f"not JSON: {exc}") from None
    identities = parse_identities(document, where)
    unknown = sorted(set(identities) - set(accepted_keys))
    if unknown:
        raise ConfigError(where, f"access key {unknown[0]} is not accepted for AWS_IAM: "
                                 f"add it with --iam-credentials {unknown[0]}:SECRET")
    return identities
