"""Parse a CloudFormation YAML template into plain Python values.

Call :func:`parse_yaml` with the template text; it returns the same dicts, lists and
scalars that the JSON form of the template would give. CloudFormation's YAML short
forms become their long JSON forms (``!Ref X`` -> ``{"Ref": "X"}``,
``!GetAtt A.B`` -> ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s`` -> ``{"Fn::Sub": "s"}``)
as the "Intrinsic function reference" pages describe for each function.

Pure: takes text, returns values; a syntax error is a :class:`ConfigError` naming the
file (``source``) with the line and column.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..core.errors import ConfigError

# Short form tag -> long form key. `!Condition` is the short form of the
# `{"Condition": name}` reference used inside Fn::And/Or/Not (Condition functions page).
_SHORT_FORMS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
            "FindInMap", "ImportValue", "Base64", "GetAZs", "Cidr", "Transform", "Length",
            "ToJsonString",
        )
    },
}


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's tags; dates stay strings, duplicate keys fail."""


def _construct_short_form(loader: _TemplateLoader, suffix: str, node: yaml.Node) -> Any:
    # Registered as a multi-constructor on "!", so `suffix` is the tag without "!".
    key = _SHORT_FORMS.get(suffix)
    if key is None:
        raise yaml.constructor.ConstructorError(
            None, None, f"unknown tag !{suffix}", node.start_mark
        )
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if key == "Fn::GetAtt" and isinstance(value, str):
        # "!GetAtt logicalNameOfResource.attributeName": the first dot splits; the
        # attribute may itself contain dots (e.g. `Stack.Outputs.Name`).
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {key: value}


def _construct_mapping(loader: _TemplateLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # CloudFormation rejects templates with duplicate keys in a mapping; PyYAML would
    # silently keep the last one, hiding a typo'd copy-paste.
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"duplicate key {key!r}", key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


def _construct_timestamp(loader: _TemplateLoader, node: yaml.Node) -> str:
    # `AWSTemplateFormatVersion: 2010-09-09` is a string to CloudFormation, not a date.
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


_TemplateLoader.add_multi_constructor("!", _construct_short_form)
_TemplateLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def parse_yaml(text: str, source: str) -> Any:
    """Parse template ``text``; ``source`` (the file path) names the file in errors."""
    try:
        return yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ConfigError(source, f"not valid YAML ({place}{problem})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, f"not valid YAML ({exc})") from None
