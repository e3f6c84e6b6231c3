"""Secrets kept off the inspector's page: credentials in headers, query strings and
events are shown masked.

One rule for every value the page shows: a key named like a credential (any depth,
any case) has its value replaced by ``****``, keeping the scheme word of an
``Authorization`` value (``AWS4-HMAC-SHA256 ****``, ``Bearer ****``) so the page
still tells which kind of credential came. The page never needs the secret itself:
a replay of an event the page did not edit runs with the original, unmasked event.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = ["MASK", "SECRET_KEYS", "is_secret", "mask_pairs", "mask_value", "masked"]

MASK = "****"

SECRET_KEYS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "apikey", "cookie", "set-cookie",
    "x-amz-security-token", "x-amz-signature", "x-amz-credential", "sessiontoken", "secretaccesskey",
    "usageidentifierkey", "authorizationtoken", "sec-websocket-key", "token", "access_token", "id_token",
    "password", "secret", "client_secret",
})
"""Lower-cased names whose values are masked wherever they appear."""


def is_secret(name: str) -> bool:
    return name.lower() in SECRET_KEYS


def mask_value(value: str) -> str:
    """``****``, after the value's scheme word if it has one (``Bearer ****``)."""
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {MASK}" if sep and scheme and len(scheme) < 40 else MASK


def masked(value: Any) -> Any:
    """A copy of a JSON-like ``value`` with every secret-named key's value masked."""
    if isinstance(value, Mapping):
        return {key: _masked_item(key, item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(item) for item in value]
    return value


def _masked_item(key: Any, item: Any) -> Any:
    if not (isinstance(key, str) and is_secret(key)):
        return masked(item)
    if isinstance(item, str):
        return mask_value(item)
    if isinstance(item, (list, tuple)):
        return [mask_value(part) if isinstance(part, str) else MASK for part in item]
    return MASK if item is not None else None


def mask_pairs(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Header or query pairs, secret ones masked (``[[name, value], ...]`` for JSON)."""
    return [[name, mask_value(value) if is_secret(name) else value] for name, value in pairs]
