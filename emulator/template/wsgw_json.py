"""Load an API model from a small JSON app description (``wsgw.json``).

A small declarative stand-in for a CloudFormation/CDK template, kept for quick test
apps (``tests/apps``); its field names follow CloudFormation's so the two read alike.
Call :func:`load_app` with the file path; every problem is a
:class:`~emulator.core.errors.ConfigError` naming the field.

Shape::

    {
      "name": "wsgw-chat", "stage": "dev",
      "routeSelectionExpression": "$request.body.action",
      "functions": {"Name": {"handler": "module.func", "codeUri": "handlers",
                              "runtime": "python3.12", "timeout": 10, "memorySize": 256,
                              "environment": {"KEY": "value"}}},
      "routes": {"$connect": {"function": "Name", "twoWay": false}},
      "tables": {"Logical": {"tableName": "t", "partitionKey": {"name": "id", "type": "S"},
                             "ttlAttribute": "ttl"}}
    }
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from ..core.errors import ConfigError
from ..core.model import (
    ApiModel, FunctionSpec, KeyAttribute, RouteSpec, TableSpec, check_integration_timeout, check_stage_name,
)
from ..core.selection import RouteSelector
from .functions import node_handler_problem

def load_app(path: Path) -> ApiModel:
    """Read and validate the app description at ``path``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return parse_app(raw, base_dir=path.parent)


def parse_app(raw: Any, *, base_dir: Path) -> ApiModel:
    """Build the model from already-parsed JSON; relative code paths resolve against ``base_dir``."""
    doc = _mapping(raw, "app")
    expression = _string(doc, "routeSelectionExpression", "app", default="$request.body.action")
    RouteSelector.parse(expression)  # fail at load time, not at the first message
    functions = {
        name: _function(name, spec, base_dir)
        for name, spec in _mapping(doc.get("functions", {}), "functions").items()
    }
    routes = {
        key: _route(key, spec, functions)
        for key, spec in _mapping(doc.get("routes", {}), "routes").items()
    }
    tables = tuple(
        _table(name, spec) for name, spec in _mapping(doc.get("tables", {}), "tables").items()
    )
    stage = check_stage_name(_string(doc, "stage", "app", default="dev"), "app.stage")
    return ApiModel(
        name=_string(doc, "name", "app", default="wsgw-app"),
        stage=stage,
        route_selection_expression=expression,
        routes=MappingProxyType(routes),
        functions=MappingProxyType(functions),
        tables=tables,
    )


def _function(name: str, raw: Any, base_dir: Path) -> FunctionSpec:
    where = f"functions.{name}"
    spec = _mapping(raw, where)
    handler = _string(spec, "handler", where)
    if "." not in handler or handler.startswith(".") or handler.endswith("."):
        raise ConfigError(f"{where}.handler", f"{handler!r} is not of the form module.function")
    code_dir = (base_dir / _string(spec, "codeUri", where, default=".")).resolve()
    if not code_dir.is_dir():
        raise ConfigError(f"{where}.codeUri", f"folder {code_dir} does not exist")
    runtime = _string(spec, "runtime", where, default="python3.12")
    if runtime.startswith("nodejs"):
        problem = node_handler_problem(handler, code_dir)
        if problem is not None:
            raise ConfigError(f"{where}.handler", problem)
    else:
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        if not (code_dir / f"{module}.py").is_file() and not (code_dir / module / "__init__.py").is_file():
            raise ConfigError(f"{where}.handler", f"no file {module}.py in {code_dir}")
    environment = _mapping(spec.get("environment", {}), f"{where}.environment")
    for key, value in environment.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}.environment.{key}", "values must be strings")
    return FunctionSpec(
        name=name,
        handler=handler,
        code_dir=code_dir,
        runtime=runtime,
        environment=MappingProxyType(dict(environment)),
        timeout_s=_number(spec, "timeout", where, default=3.0, low=0.001, high=900),
        memory_mb=int(_number(spec, "memorySize", where, default=128, low=128, high=10240)),
    )


def _route(key: str, raw: Any, functions: Mapping[str, FunctionSpec]) -> RouteSpec:
    where = f"routes.{key}"
    spec = _mapping(raw, where)
    if key.startswith("$") and key not in ("$connect", "$disconnect", "$default"):
        # Custom route keys must not start with $ [doc] DOCS-routes.
        raise ConfigError(where, "custom route keys must not start with '$'")
    function = _string(spec, "function", where)
    if function not in functions:
        raise ConfigError(f"{where}.function", f"no function named {function!r}")
    two_way = spec.get("twoWay", False)
    if not isinstance(two_way, bool):
        raise ConfigError(f"{where}.twoWay", "must be true or false")
    timeout = spec.get("timeoutInMillis")
    if timeout is not None:
        check_integration_timeout(timeout, f"{where}.timeoutInMillis")
    return RouteSpec(key=key, function=function, two_way=two_way, integration_timeout_ms=timeout)


def _table(name: str, raw: Any) -> TableSpec:
    where = f"tables.{name}"
    spec = _mapping(raw, where)
    return TableSpec(
        logical_id=name,
        table_name=_string(spec, "tableName", where, default=name),
        partition_key=_key(spec.get("partitionKey"), f"{where}.partitionKey"),
        sort_key=_key(spec["sortKey"], f"{where}.sortKey") if "sortKey" in spec else None,
        ttl_attribute=_string(spec, "ttlAttribute", where, default="") or None,
    )


def _key(raw: Any, where: str) -> KeyAttribute:
    spec = _mapping(raw, where)
    kind = _string(spec, "type", where, default="S")
    if kind not in ("S", "N", "B"):
        raise ConfigError(f"{where}.type", "must be S, N or B")
    return KeyAttribute(_string(spec, "name", where), kind)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(where, "must be a JSON object")
    return value


def _string(spec: Mapping[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    value = spec.get(key, default)
    if value is None:
        raise ConfigError(f"{where}.{key}", "is required")
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key}", "must be a string")
    return value


def _number(spec: Mapping[str, Any], key: str, where: str, *, default: float, low: float, high: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"{where}.{key}", f"must be a number from {low:g} to {high:g}")
    return float(value)
