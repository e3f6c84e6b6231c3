"""The shape of a CloudFormation template: sections and resources, not yet resolved.

Call :func:`read_document` on the parsed template (after the SAM transform, if any)
to check its top-level structure; the result gives ordered access to resources by
type and keeps every property raw, so intrinsics are resolved only where the model
needs them (see :mod:`.intrinsics`).

Pure, values in and values out, but for :func:`local_folder`, which asks the file
system whether a folder a resource names (code, layer content) is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

from ..core.errors import ConfigError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


@dataclass(frozen=True)
class Resource:
    """One entry of ``Resources``: its logical id, type and raw sections."""

    logical_id: str
    type: str
    properties: Mapping[str, Any]
    metadata: Mapping[str, Any]
    condition: str | None

    def where(self, *path: str) -> str:
        """``Resources.<Id>.Properties.<path...>``: the place errors name."""
        return ".".join((f"Resources.{self.logical_id}.Properties", *path))


@dataclass(frozen=True)
class Document:
    """A template's sections. ``resources`` keeps template order (stage choice uses it)."""

    resources: Mapping[str, Resource]
    parameters: Mapping[str, Any]
    mappings: Mapping[str, Any]
    conditions: Mapping[str, Any]

    def of_type(self, *types: str) -> Iterator[Resource]:
        """Resources of any of ``types``, in template order."""
        return (r for r in self.resources.values() if r.type in types)

    def get(self, logical_id: str) -> Resource | None:
        return self.resources.get(logical_id)


def transforms(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """The template's ``Transform`` names (a string or a list, CloudFormation allows both)."""
    value = raw.get("Transform")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    # `Transform: {Name: AWS::Include, ...}` is a macro call with parameters.
    raise ConfigError("Transform", "must be a transform name or a list of names")


def read_document(raw: Any) -> Document:
    """Check the top-level structure of a (transformed) template and index it."""
    if not isinstance(raw, dict):
        raise ConfigError("template", "must be a mapping with a Resources section")
    resources_raw = raw.get("Resources")
    if not isinstance(resources_raw, dict) or not resources_raw:
        raise ConfigError("Resources", "is required and must map logical ids to resources")
    resources: dict[str, Resource] = {}
    for logical_id, body in resources_raw.items():
        where = f"Resources.{logical_id}"
        if not isinstance(body, dict):
            raise ConfigError(where, "must be a mapping with a Type")
        kind = body.get("Type")
        if not isinstance(kind, str):
            raise ConfigError(f"{where}.Type", "is required and must be a string")
        properties = body.get("Properties", {})
        if not isinstance(properties, dict):
            raise ConfigError(f"{where}.Properties", "must be a mapping")
        metadata = body.get("Metadata", {})
        condition = body.get("Condition")
        if condition is not None and not isinstance(condition, str):
            raise ConfigError(f"{where}.Condition", "must name a condition")
        resources[str(logical_id)] = Resource(
            logical_id=str(logical_id),
            type=kind,
            properties=MappingProxyType(properties),
            metadata=MappingProxyType(metadata if isinstance(metadata, dict) else {}),
            condition=condition,
        )
    return Document(
        resources=MappingProxyType(resources),
        parameters=_section(raw, "Parameters"),
        mappings=_section(raw, "Mappings"),
        conditions=_section(raw, "Conditions"),
    )


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(name, "must be a mapping")
    return MappingProxyType(value)


def local_folder(path: Path, where: str, what: str) -> Path:
    """``path`` resolved, which must be a folder (a function's code, a layer's content):
    ConfigError at ``where`` naming ``what`` when it is a file or is missing."""
    path = path.resolve()
    if not path.is_dir():
        state = "is a file; wsgw needs the unpacked folder" if path.exists() else "does not exist"
        raise ConfigError(where, f"{what} {path} {state}")
    return path
