"""Template ``Parameters``: the value each one takes in a local run.

Call :func:`parameter_values` once per load with the template's ``Parameters``
section and the caller's overrides; the result is what ``Ref`` to a parameter gives.

CloudFormation rules followed here (Parameters section reference): a value given at
deploy time wins over ``Default``; a parameter with neither fails the deployment;
``AllowedValues``/``AllowedPattern`` constrain the value; every parameter value is a
string ("when you use the parameter elsewhere ... the parameter value becomes a
string"), except list types (``CommaDelimitedList``, ``List<...>``), which ``Ref``
turns into a list split at commas.

Pure.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..core.errors import ConfigError


@dataclass(frozen=True)
class Unresolvable:
    """A parameter whose value only AWS knows (an SSM parameter type, e.g. CDK's
    ``BootstrapVersion``). Harmless until something the model needs refers to it."""

    reason: str


ParameterValue = str | list[str] | Unresolvable

_LONG_FORM = "ParameterKey="
_LONG_VALUE = ",ParameterValue="


def parse_overrides(items: Iterable[str], where: str = "--parameter-overrides") -> dict[str, str]:
    """Parameter values as ``sam`` takes them: each item holds one or more
    whitespace-separated ``Key=Value`` or ``ParameterKey=Key,ParameterValue=Value``,
    values optionally quoted (``Name="a b"``); a later value of a key wins. Raise a
    :class:`~emulator.core.errors.ConfigError` naming ``where`` and the bad part."""
    values: dict[str, str] = {}
    for item in items:
        try:
            tokens = shlex.split(item)
        except ValueError as exc:  # an unbalanced quote
            raise ConfigError(where, f"{item!r}: {exc}") from None
        for token in tokens:
            if token.startswith(_LONG_FORM):
                key, sep, value = token[len(_LONG_FORM):].partition(_LONG_VALUE)
            else:
                key, sep, value = token.partition("=")
            if not sep or not key:
                raise ConfigError(where, f"{token!r}: expected KEY=VALUE or ParameterKey=KEY,ParameterValue=VALUE")
            values[key] = value
    return values


def parameter_values(
    declared: Mapping[str, Any], overrides: Mapping[str, str]
) -> dict[str, ParameterValue]:
    """The value of every declared parameter; raise naming the first bad one."""
    for name in overrides:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ConfigError(
                f"parameters.{name}",
                f"the template declares no such parameter (declared: {known})",
            )
    values: dict[str, ParameterValue] = {}
    for name, spec in declared.items():
        where = f"Parameters.{name}"
        if not isinstance(spec, dict) or not isinstance(spec.get("Type"), str):
            raise ConfigError(where, "must be a mapping with a Type")
        kind: str = spec["Type"]
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = _text(spec["Default"], f"{where}.Default")
        else:
            raise ConfigError(
                where, "has no Default and no value was given (pass it as a parameter override)"
            )
        _check_allowed(spec, value, where)
        if kind.startswith("AWS::SSM::Parameter::Value<"):
            # The value is the *name* of an SSM parameter; CloudFormation substitutes
            # the stored value, which only the account knows.
            values[name] = Unresolvable(
                f"parameter {name!r} is an SSM parameter ({value}); its value is only known to AWS "
                "(give it a plain String parameter for local runs)"
            )
        elif kind == "CommaDelimitedList" or kind.startswith("List<"):
            values[name] = value.split(",")
        else:
            values[name] = value
    return values


def _text(value: Any, where: str) -> str:
    # YAML makes `Default: 10` an int and `Default: true` a bool; CloudFormation
    # treats both as the strings "10" and "true".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise ConfigError(where, "must be a string or a number")


def _check_allowed(spec: Mapping[str, Any], value: str, where: str) -> None:
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list):
        texts = [_text(item, f"{where}.AllowedValues") for item in allowed]
        if value not in texts:
            raise ConfigError(where, f"value {value!r} is not one of AllowedValues {texts}")
    pattern = spec.get("AllowedPattern")
    if isinstance(pattern, str):
        try:
            matched = re.fullmatch(pattern, value) is not None
        except re.error as exc:
            raise ConfigError(f"{where}.AllowedPattern", f"not a valid pattern ({exc})") from None
        if not matched:
            raise ConfigError(where, f"value {value!r} does not match AllowedPattern {pattern!r}")
