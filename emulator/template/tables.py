"""``AWS::DynamoDB::Table`` (and ``GlobalTable``) resources -> :class:`TableSpec`.

Call :func:`build_tables` once per load; run-local creates these tables in the
embedded DynamoDB. SAM's ``AWS::Serverless::SimpleTable`` arrives here already
transformed into an ``AWS::DynamoDB::Table``.

Properties read (AWS::DynamoDB::Table reference): ``TableName`` (else the logical id,
see references.py), ``KeySchema`` (``HASH`` then optional ``RANGE``),
``AttributeDefinitions`` (every key attribute of the table and its indexes must be
defined, as DynamoDB requires), ``GlobalSecondaryIndexes``/``LocalSecondaryIndexes``
(``IndexName``, ``KeySchema``, ``Projection``) and ``TimeToLiveSpecification``
(``AttributeName`` when ``Enabled``). Billing, streams and throughput are ignored.

Pure.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ConfigError
from ..core.model import IndexSpec, KeyAttribute, TableSpec
from .document import Document, Resource
from .intrinsics import Resolver
from .references import TABLE_TYPES, table_name


def build_tables(resolver: Resolver, document: Document) -> tuple[TableSpec, ...]:
    """Every created DynamoDB table of the template, in template order."""
    tables = []
    for resource in document.of_type(*TABLE_TYPES):
        if not resolver.creates(resource):
            continue
        tables.append(_table(resolver, resource))
    return tuple(tables)


def _table(resolver: Resolver, resource: Resource) -> TableSpec:
    props = resource.properties
    types = _attribute_types(resolver, resource)
    partition, sort = _key_schema(
        resolver.resolve(props.get("KeySchema"), resource.where("KeySchema")),
        resource.where("KeySchema"), types,
    )
    indexes = {
        prop: _indexes(resolver, resource, prop, types)
        for prop in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
    }
    own_keys = {partition.name} | ({sort.name} if sort else set())
    return TableSpec(
        logical_id=resource.logical_id,
        table_name=table_name(resolver, resource),
        partition_key=partition,
        sort_key=sort,
        ttl_attribute=_ttl(resolver, resource),
        attributes=tuple(
            KeyAttribute(name, kind) for name, kind in types.items() if name not in own_keys
        ),
        global_indexes=indexes["GlobalSecondaryIndexes"],
        local_indexes=indexes["LocalSecondaryIndexes"],
    )


def _attribute_types(resolver: Resolver, resource: Resource) -> dict[str, str]:
    where = resource.where("AttributeDefinitions")
    definitions = resolver.resolve(resource.properties.get("AttributeDefinitions", []), where)
    if not isinstance(definitions, list):
        raise ConfigError(where, "must be a list of {AttributeName, AttributeType}")
    types: dict[str, str] = {}
    for i, item in enumerate(definitions):
        place = f"{where}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("AttributeName"), str):
            raise ConfigError(place, "needs AttributeName and AttributeType")
        kind = item.get("AttributeType")
        if kind not in ("S", "N", "B"):
            raise ConfigError(f"{place}.AttributeType", f"must be S, N or B, got {kind!r}")
        types[item["AttributeName"]] = kind
    return types


def _key_schema(
    schema: Any, where: str, types: dict[str, str]
) -> tuple[KeyAttribute, KeyAttribute | None]:
    if not isinstance(schema, list) or not 1 <= len(schema) <= 2:
        raise ConfigError(where, "must list a HASH key and an optional RANGE key")
    keys: dict[str, str] = {}
    for i, item in enumerate(schema):
        if not isinstance(item, dict) or not isinstance(item.get("AttributeName"), str):
            raise ConfigError(f"{where}[{i}]", "needs AttributeName and KeyType")
        kind = item.get("KeyType")
        if kind not in ("HASH", "RANGE") or kind in keys:
            raise ConfigError(f"{where}[{i}].KeyType", "must be one HASH and at most one RANGE")
        keys[kind] = item["AttributeName"]
    if "HASH" not in keys:
        raise ConfigError(where, "has no HASH key")
    for name in keys.values():
        if name not in types:
            raise ConfigError(where, f"key attribute {name!r} is not in AttributeDefinitions")
    partition = KeyAttribute(keys["HASH"], types[keys["HASH"]])
    sort = KeyAttribute(keys["RANGE"], types[keys["RANGE"]]) if "RANGE" in keys else None
    return partition, sort


def _indexes(
    resolver: Resolver, resource: Resource, prop: str, types: dict[str, str]
) -> tuple[IndexSpec, ...]:
    where = resource.where(prop)
    raw = resolver.resolve(resource.properties.get(prop, []), where)
    if not isinstance(raw, list):
        raise ConfigError(where, "must be a list of indexes")
    indexes = []
    for i, item in enumerate(raw):
        place = f"{where}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("IndexName"), str):
            raise ConfigError(place, "needs IndexName, KeySchema and Projection")
        partition, sort = _key_schema(item.get("KeySchema"), f"{place}.KeySchema", types)
        projection = item.get("Projection", {})
        if not isinstance(projection, dict):
            raise ConfigError(f"{place}.Projection", "must be a mapping")
        projection_type = projection.get("ProjectionType", "ALL")
        if projection_type not in ("ALL", "KEYS_ONLY", "INCLUDE"):
            raise ConfigError(f"{place}.Projection.ProjectionType", "must be ALL, KEYS_ONLY or INCLUDE")
        non_key = projection.get("NonKeyAttributes", [])
        if not isinstance(non_key, list) or not all(isinstance(n, str) for n in non_key):
            raise ConfigError(f"{place}.Projection.NonKeyAttributes", "must be a list of names")
        indexes.append(IndexSpec(
            name=item["IndexName"],
            partition_key=partition.name,
            sort_key=sort.name if sort else None,
            projection_type=projection_type,
            non_key_attributes=tuple(non_key),
        ))
    return tuple(indexes)


def _ttl(resolver: Resolver, resource: Resource) -> str | None:
    where = resource.where("TimeToLiveSpecification")
    spec = resolver.resolve(resource.properties.get("TimeToLiveSpecification", {}), where)
    if not isinstance(spec, dict):
        raise ConfigError(where, "must be a mapping")
    if spec.get("Enabled") not in (True, "true", "True"):
        return None
    name = spec.get("AttributeName")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.AttributeName", "is required when Enabled is true")
    return name
