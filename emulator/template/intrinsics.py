"""CloudFormation intrinsic functions, evaluated to wsgw's local values.

Build one :class:`Resolver` per load (a :class:`Scope` with parameter values, pseudo
parameters, ``Mappings`` and ``Conditions``, plus a :class:`References` that says what
``Ref``/``Fn::GetAtt`` of a resource mean locally), then call :meth:`Resolver.resolve`
on exactly the properties the model needs. Resolution is lazy on purpose: an
intrinsic wsgw cannot evaluate (``Fn::ImportValue`` in an IAM policy, say) only
fails the load if the model needs that value.

Errors name the property that holds the intrinsic
(``Resources.Chat.Properties.Environment.Variables.TABLE: Ref to unknown resource 'Tabel'``).
Semantics follow the "Intrinsic function reference" pages of the CloudFormation
User Guide; deliberate local differences are marked.

Pure.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, Callable, Final, Mapping, Protocol

from ..core.errors import ConfigError
from .document import Resource
from .parameters import ParameterValue, Unresolvable


class _NoValue:
    """``Ref: AWS::NoValue``: the enclosing key (or list item) is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()

# Fn::Sub placeholders: `${Name}`, `${Resource.Attr}`, `${!Literal}` (Fn::Sub page).
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_NOT_LOCAL = {
    "Fn::ImportValue": "it reads an export of another stack; use a parameter for local runs",
    "Fn::GetAZs": "availability zones exist only in AWS",
    "Fn::Cidr": "wsgw does not compute CIDR blocks",
    "Fn::Transform": "macros run only in CloudFormation",
    "Fn::Length": "it needs the AWS::LanguageExtensions transform",
    "Fn::ToJsonString": "it needs the AWS::LanguageExtensions transform",
    "Fn::ForEach": "it needs the AWS::LanguageExtensions transform",
}


class References(Protocol):
    """What ``Ref`` and ``Fn::GetAtt`` of a *resource* give locally (see references.py)."""

    def ref(self, resolver: Resolver, logical_id: str, where: str) -> Any: ...

    def get_att(self, resolver: Resolver, logical_id: str, attribute: str, where: str) -> Any: ...


@dataclass(frozen=True)
class Scope:
    """Everything besides resources that intrinsics can read."""

    parameters: Mapping[str, ParameterValue]
    pseudo: Mapping[str, Any]
    mappings: Mapping[str, Any]
    conditions: Mapping[str, Any]


def pseudo_parameters(*, region: str, account_id: str, stack_name: str) -> dict[str, Any]:
    """The pseudo parameters (``AWS::Region`` ...) of a local run; ``AWS::NoValue`` is
    handled by the resolver itself."""
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": stack_name,
        # A stack id has this shape; the UUID part is a fixed local stand-in.
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/"
        "00000000-0000-0000-0000-000000000000",
        "AWS::NotificationARNs": [],
    }


class Resolver:
    """Evaluates intrinsic functions; one per load, stateless apart from caches."""

    def __init__(self, scope: Scope, references: References) -> None:
        self.scope = scope
        self.references = references
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        self._functions: dict[str, Callable[[Any, str], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::Base64": self._base64,
            "Fn::FindInMap": self._find_in_map,
            "Fn::If": self._if,
        }

    # --- entry points ---------------------------------------------------------------------

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with every intrinsic replaced by its local value.

        Returns :data:`NO_VALUE` if ``value`` itself is ``Ref: AWS::NoValue`` (or an
        ``Fn::If`` choosing it); inside mappings and lists such entries are dropped.
        """
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
                    return self._call(key, argument, where)
            result = {}
            for key, item in value.items():
                resolved = self.resolve(item, f"{where}.{key}")
                if resolved is not NO_VALUE:
                    result[key] = resolved
            return result
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{i}]") for i, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        return value

    def string(self, value: Any, where: str) -> str:
        """Resolve ``value`` and require a string (numbers are written as CloudFormation
        would pass them, ``10`` -> ``"10"``)."""
        resolved = self.resolve(value, where)
        text = _scalar_text(resolved)
        if text is None:
            raise ConfigError(where, f"must be a string, got {_describe(resolved)}")
        return text

    def optional(self, resource: Resource, prop: str) -> Any:
        """``resource``'s property ``prop``, resolved; None when the property is absent
        or resolves to ``AWS::NoValue``."""
        if prop not in resource.properties:
            return None
        value = self.resolve(resource.properties[prop], resource.where(prop))
        return None if value is NO_VALUE else value

    def creates(self, resource: Resource) -> bool:
        """Whether the stack creates ``resource``: it has no ``Condition``, or its
        condition is true (a resource whose condition is false is not created)."""
        return resource.condition is None or self.condition(
            resource.condition, f"Resources.{resource.logical_id}.Condition")

    def condition(self, name: str, where: str) -> bool:
        """The truth of ``Conditions.<name>``, evaluated once."""
        if name in self._conditions:
            return self._conditions[name]
        if name not in self.scope.conditions:
            raise ConfigError(where, f"unknown condition {name!r}")
        if name in self._evaluating:
            raise ConfigError(f"Conditions.{name}", "refers to itself")
        self._evaluating.add(name)
        try:
            truth = self._truth(self.scope.conditions[name], f"Conditions.{name}")
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = truth
        return truth

    # --- dispatch ---------------------------------------------------------------------------

    def _call(self, name: str, argument: Any, where: str) -> Any:
        function = self._functions.get(name)
        if function is not None:
            return function(argument, where)
        if name in _NOT_LOCAL:
            raise ConfigError(where, f"{name} cannot be resolved locally: {_NOT_LOCAL[name]}")
        if name in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            raise ConfigError(where, f"{name} is only allowed in Conditions and Fn::If conditions")
        raise ConfigError(where, f"unknown intrinsic function {name}")

    def _ref(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, str):
            raise ConfigError(where, f"Ref needs a name, got {_describe(argument)}")
        return self.ref(argument, where)

    def ref(self, name: str, where: str) -> Any:
        """``Ref`` of a parameter, pseudo parameter or resource (resources delegate to
        :class:`References`)."""
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.scope.pseudo:
            return self.scope.pseudo[name]
        if name.startswith("AWS::"):
            raise ConfigError(where, f"unknown pseudo parameter {name}")
        if name in self.scope.parameters:
            value = self.scope.parameters[name]
            if isinstance(value, Unresolvable):
                raise ConfigError(where, value.reason)
            return list(value) if isinstance(value, list) else value
        return self.references.ref(self, name, where)

    def _get_att(self, argument: Any, where: str) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            logical_id = argument[0]
            # The attribute name may itself be a Ref (Fn::GetAtt page).
            attribute = self.string(argument[1], where)
        else:
            raise ConfigError(where, "Fn::GetAtt needs [LogicalId, Attribute]")
        if not logical_id or not attribute:
            raise ConfigError(where, f"Fn::GetAtt {argument!r} needs a resource and an attribute")
        return self.references.get_att(self, logical_id, attribute, where)

    # --- string functions ---------------------------------------------------------------

    def _sub(self, argument: Any, where: str) -> str:
        variables: dict[str, str] = {}
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            text = argument[0]
            for name, value in argument[1].items():
                variables[name] = self.string(value, where)
        else:
            text = argument
        if not isinstance(text, str):
            raise ConfigError(where, "Fn::Sub needs a string or [string, {variables}]")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # `${!Literal}` writes `${Literal}`
            name = name.strip()
            if name in variables:
                return variables[name]
            if "." in name and not name.startswith("AWS::"):
                logical_id, _, attribute = name.partition(".")
                value = self.references.get_att(self, logical_id, attribute, where)
            else:
                value = self.ref(name, where)
            text_value = _scalar_text(value)
            if text_value is None:
                raise ConfigError(where, f"Fn::Sub: ${{{name}}} is {_describe(value)}, not a string")
            return text_value

        return _PLACEHOLDER.sub(substitute, text)

    def _join(self, argument: Any, where: str) -> str:
        if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)):
            raise ConfigError(where, "Fn::Join needs [delimiter, [values]]")
        items = self.resolve(argument[1], where)
        if not isinstance(items, list):
            raise ConfigError(where, f"Fn::Join needs a list of values, got {_describe(items)}")
        texts = []
        for item in items:
            text = _scalar_text(item)
            if text is None:
                raise ConfigError(where, f"Fn::Join values must be strings, got {_describe(item)}")
            texts.append(text)
        return argument[0].join(texts)

    def _select(self, argument: Any, where: str) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise ConfigError(where, "Fn::Select needs [index, [values]]")
        index_text = self.string(argument[0], where)
        items = self.resolve(argument[1], where)
        if not index_text.isdigit() or not isinstance(items, list):
            raise ConfigError(where, "Fn::Select needs a non-negative index and a list")
        index = int(index_text)
        if index >= len(items):
            raise ConfigError(where, f"Fn::Select index {index} is out of range ({len(items)} values)")
        return items[index]

    def _split(self, argument: Any, where: str) -> list[str]:
        if not (isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str)):
            raise ConfigError(where, "Fn::Split needs [delimiter, string]")
        if not argument[0]:
            raise ConfigError(where, "Fn::Split needs a non-empty delimiter")
        return self.string(argument[1], where).split(argument[0])

    def _base64(self, argument: Any, where: str) -> str:
        return base64.b64encode(self.string(argument, where).encode("utf-8")).decode("ascii")

    def _find_in_map(self, argument: Any, where: str) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3):
            # The 4th `{DefaultValue: ...}` form needs AWS::LanguageExtensions.
            raise ConfigError(where, "Fn::FindInMap needs [MapName, TopLevelKey, SecondLevelKey]")
        keys = [self.string(part, where) for part in argument]
        value: Any = self.scope.mappings
        for depth, key in enumerate(keys):
            if not isinstance(value, Mapping) or key not in value:
                found = "Mappings" + "".join(f".{k}" for k in keys[:depth])
                raise ConfigError(where, f"Fn::FindInMap: {found} has no key {key!r}")
            value = value[key]
        return self.resolve(value, where)

    # --- conditions -----------------------------------------------------------------------

    def _if(self, argument: Any, where: str) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3 and isinstance(argument[0], str)):
            raise ConfigError(where, "Fn::If needs [ConditionName, ValueIfTrue, ValueIfFalse]")
        chosen = argument[1] if self.condition(argument[0], where) else argument[2]
        return self.resolve(chosen, where)

    def _truth(self, expression: Any, where: str) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((name, argument),) = expression.items()
            if name == "Condition" and isinstance(argument, str):
                return self.condition(argument, where)
            if name == "Fn::Equals":
                if not (isinstance(argument, list) and len(argument) == 2):
                    raise ConfigError(where, "Fn::Equals needs [value1, value2]")
                left, right = (self.resolve(part, where) for part in argument)
                # Compares values as CloudFormation's strings: `!Equals [!Ref N, 3]`.
                return bool(_comparable(left) == _comparable(right))
            if name == "Fn::Not":
                if not (isinstance(argument, list) and len(argument) == 1):
                    raise ConfigError(where, "Fn::Not needs [condition]")
                return not self._truth(argument[0], where)
            if name in ("Fn::And", "Fn::Or"):
                if not (isinstance(argument, list) and 2 <= len(argument) <= 10):
                    raise ConfigError(where, f"{name} needs 2 to 10 conditions")
                truths = [self._truth(part, where) for part in argument]
                return all(truths) if name == "Fn::And" else any(truths)
        raise ConfigError(
            where, "a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or {Condition: Name}"
        )


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _comparable(value: Any) -> Any:
    text = _scalar_text(value)
    return text if text is not None else value


def _describe(value: Any) -> str:
    if value is NO_VALUE:
        return "AWS::NoValue"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
