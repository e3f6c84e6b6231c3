"""Tests for emulator.template.wsgw_json: loading the JSON app description (``wsgw.json``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from emulator.template.wsgw_json import load_app, parse_app
from emulator.core.errors import ConfigError, WsgwError
from emulator.core.model import KeyAttribute

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "tests" / "apps" / "chat" / "wsgw.json"

MINIMAL: dict[str, Any] = {
    "name": "t",
    "stage": "dev",
    "routeSelectionExpression": "$request.body.action",
    "functions": {"Fn": {"handler": "app.handler", "codeUri": "src"}},
    "routes": {"$default": {"function": "Fn"}},
}


def write_app(tmp_path: Path, doc: Any, *, module: str = "app") -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / f"{module}.py").write_text("def handler(event, context):\n    return None\n", encoding="utf-8")
    path = tmp_path / "wsgw.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def minimal() -> dict[str, Any]:
    return copy.deepcopy(MINIMAL)


def config_error(tmp_path: Path, doc: Any) -> ConfigError:
    path = write_app(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        load_app(path)
    return info.value


# --- the bundled app ----------------------------------------------------------------------


def test_bundled_app_routes_and_functions() -> None:
    model = load_app(BUNDLED)
    assert model.name == "wsgw-chat"
    assert model.stage == "dev"
    assert model.route_selection_expression == "$request.body.action"
    assert set(model.routes) == {"$connect", "$disconnect", "$default", "whoAmI", "sendMessage"}
    two_way = {key for key, route in model.routes.items() if route.two_way}
    assert two_way == {"whoAmI", "$default"}
    for key, route in model.routes.items():
        assert route.key == key
        function = model.functions[route.function]
        assert function.code_dir.is_dir()
        assert function.code_dir == (ROOT / "handlers").resolve()
        assert (function.code_dir / f"{function.module.replace('.', '/')}.py").is_file()
    assert model.routes["$connect"].function == "ConnectFunction"
    assert model.routes["$disconnect"].function == "DisconnectFunction"
    assert model.routes["$default"].function == "DefaultFunction"
    assert model.routes["whoAmI"].function == "WhoAmIFunction"
    assert model.routes["sendMessage"].function == "SendMessageFunction"
    connect = model.functions["ConnectFunction"]
    assert connect.handler == "connect.handler"
    assert connect.module == "connect" and connect.attribute == "handler"
    assert connect.timeout_s == 10.0
    assert connect.memory_mb == 256
    assert dict(connect.environment) == {"CONNECTIONS_TABLE": "wsgw-chat-connections"}
    assert dict(model.functions["WhoAmIFunction"].environment) == {}


def test_bundled_app_table_has_ttl() -> None:
    model = load_app(BUNDLED)
    assert len(model.tables) == 1
    table = model.tables[0]
    assert table.logical_id == "ConnectionsTable"
    assert table.table_name == "wsgw-chat-connections"
    assert table.partition_key == KeyAttribute("connectionId", "S")
    assert table.sort_key is None
    assert table.ttl_attribute == "ttl"
    # The functions point at the table that is created.
    assert model.functions["ConnectFunction"].environment["CONNECTIONS_TABLE"] == table.table_name


def test_loaded_model_is_read_only() -> None:
    model = load_app(BUNDLED)
    with pytest.raises(TypeError):
        model.routes["x"] = model.routes["$default"]  # type: ignore[index]
    with pytest.raises(TypeError):
        model.functions["ConnectFunction"].environment["X"] = "y"  # type: ignore[index]


# --- defaults and a valid custom app ------------------------------------------------------


def test_minimal_app_defaults(tmp_path: Path) -> None:
    doc = minimal()
    del doc["name"], doc["stage"], doc["routeSelectionExpression"]
    model = load_app(write_app(tmp_path, doc))
    assert model.stage == "dev"
    assert model.route_selection_expression == "$request.body.action"
    fn = model.functions["Fn"]
    assert fn.timeout_s == 3.0
    assert fn.memory_mb == 128
    assert fn.runtime == "python3.12"
    assert fn.code_dir == (tmp_path / "src").resolve()
    assert model.routes["$default"].two_way is False
    assert model.routes["$default"].integration_timeout_ms is None
    assert model.tables == ()


def test_dotted_handler_in_package(tmp_path: Path) -> None:
    doc = minimal()
    doc["functions"]["Fn"]["handler"] = "pkg.mod.handler"
    path = write_app(tmp_path, doc)
    (tmp_path / "src" / "pkg").mkdir()
    (tmp_path / "src" / "pkg" / "mod.py").write_text("def handler(e, c): pass\n", encoding="utf-8")
    fn = load_app(path).functions["Fn"]
    assert fn.module == "pkg.mod" and fn.attribute == "handler"


def test_route_timeout_and_table_sort_key(tmp_path: Path) -> None:
    doc = minimal()
    doc["routes"]["$default"]["timeoutInMillis"] = 5000
    doc["routes"]["$default"]["twoWay"] = True
    doc["tables"] = {"T": {"partitionKey": {"name": "pk"}, "sortKey": {"name": "sk", "type": "N"}}}
    model = load_app(write_app(tmp_path, doc))
    assert model.routes["$default"].integration_timeout_ms == 5000
    assert model.routes["$default"].two_way is True
    table = model.tables[0]
    assert table.table_name == "T"
    assert table.partition_key == KeyAttribute("pk", "S")
    assert table.sort_key == KeyAttribute("sk", "N")
    assert table.ttl_attribute is None


# --- malformed inputs ---------------------------------------------------------------------


def test_missing_handler(tmp_path: Path) -> None:
    doc = minimal()
    del doc["functions"]["Fn"]["handler"]
    error = config_error(tmp_path, doc)
    assert error.where == "functions.Fn.handler"
    assert "functions.Fn.handler" in str(error)


@pytest.mark.parametrize("handler", ["apphandler", ".handler", "app.", ""])
def test_handler_without_module_dot_function(tmp_path: Path, handler: str) -> None:
    doc = minimal()
    doc["functions"]["Fn"]["handler"] = handler
    error = config_error(tmp_path, doc)
    assert error.where == "functions.Fn.handler"
    assert "module.function" in str(error)


def test_handler_file_missing(tmp_path: Path) -> None:
    doc = minimal()
    doc["functions"]["Fn"]["handler"] = "missing.handler"
    error = config_error(tmp_path, doc)
    assert error.where == "functions.Fn.handler"
    assert "missing.py" in str(error)


def test_code_dir_missing(tmp_path: Path) -> None:
    doc = minimal()
    doc["functions"]["Fn"]["codeUri"] = "nowhere"
    error = config_error(tmp_path, doc)
    assert error.where == "functions.Fn.codeUri"
    assert "nowhere" in str(error)


def test_unknown_function_in_route(tmp_path: Path) -> None:
    doc = minimal()
    doc["routes"]["chat"] = {"function": "Nope"}
    error = config_error(tmp_path, doc)
    assert error.where == "routes.chat.function"
    assert "Nope" in str(error)


def test_route_without_function(tmp_path: Path) -> None:
    doc = minimal()
    doc["routes"]["chat"] = {}
    assert config_error(tmp_path, doc).where == "routes.chat.function"


@pytest.mark.parametrize("key", ["$custom", "$Default", "$connectx", "$"])
def test_custom_route_key_starting_with_dollar(tmp_path: Path, key: str) -> None:
    doc = minimal()
    doc["routes"][key] = {"function": "Fn"}
    error = config_error(tmp_path, doc)
    assert error.where == f"routes.{key}"
    assert "$" in error.problem


@pytest.mark.parametrize("timeout", [0, -1, 901, "10", True, None, [3]])
def test_bad_function_timeout(tmp_path: Path, timeout: Any) -> None:
    doc = minimal()
    doc["functions"]["Fn"]["timeout"] = timeout
    error = config_error(tmp_path, doc)
    assert error.where == "functions.Fn.timeout"


@pytest.mark.parametrize("memory", [64, 10241, "256", False])
def test_bad_memory_size(tmp_path: Path, memory: Any) -> None:
    doc = minimal()
    doc["functions"]["Fn"]["memorySize"] = memory
    assert config_error(tmp_path, doc).where == "functions.Fn.memorySize"


@pytest.mark.parametrize("timeout", [49, 29_001, 100.5, "1000", 0])
def test_bad_route_integration_timeout(tmp_path: Path, timeout: Any) -> None:
    doc = minimal()
    doc["routes"]["$default"]["timeoutInMillis"] = timeout
    error = config_error(tmp_path, doc)
    assert error.where == "routes.$default.timeoutInMillis"


@pytest.mark.parametrize("value", [1, True, None, ["a"], {"a": "b"}])
def test_non_string_environment_value(tmp_path: Path, value: Any) -> None:
    doc = minimal()
    doc["functions"]["Fn"]["environment"] = {"OK": "fine", "BAD": value}
    error = config_error(tmp_path, doc)
    assert error.where == "functions.Fn.environment.BAD"


def test_two_way_must_be_boolean(tmp_path: Path) -> None:
    doc = minimal()
    doc["routes"]["$default"]["twoWay"] = "yes"
    assert config_error(tmp_path, doc).where == "routes.$default.twoWay"


def test_bad_key_type_in_table(tmp_path: Path) -> None:
    doc = minimal()
    doc["tables"] = {"T": {"partitionKey": {"name": "pk", "type": "X"}}}
    assert config_error(tmp_path, doc).where == "tables.T.partitionKey.type"


def test_table_without_partition_key(tmp_path: Path) -> None:
    doc = minimal()
    doc["tables"] = {"T": {"tableName": "t"}}
    assert config_error(tmp_path, doc).where == "tables.T.partitionKey"


@pytest.mark.parametrize("expression", ["$request.header.x", "${request.body", "$", "$request.body", ""])
def test_bad_route_selection_expression(tmp_path: Path, expression: str) -> None:
    doc = minimal()
    doc["routeSelectionExpression"] = expression
    error = config_error(tmp_path, doc)
    assert "routeSelectionExpression" in str(error)


@pytest.mark.parametrize("stage", ["", "a/b"])
def test_stage_must_be_one_path_segment(tmp_path: Path, stage: str) -> None:
    # The gateway serves /{stage} and the management API /{stage}/@connections/{id}.
    # "a/b": the management path gets an extra segment, so every call is 403.
    # "": the callback URL https://{domainName}/{stage} becomes https://host/ and
    # boto3 then calls /@connections/{id}, which is 403 too (AWS requires a name).
    doc = minimal()
    doc["stage"] = stage
    error = config_error(tmp_path, doc)
    assert error.where == "app.stage"


@pytest.mark.parametrize("stage", [1, ["dev"]])
def test_stage_must_be_a_string(tmp_path: Path, stage: Any) -> None:
    doc = minimal()
    doc["stage"] = stage
    assert config_error(tmp_path, doc).where == "app.stage"


@pytest.mark.parametrize(("field", "value"), [("functions", []), ("routes", "x"), ("tables", [1])])
def test_sections_must_be_objects(tmp_path: Path, field: str, value: Any) -> None:
    doc = minimal()
    doc[field] = value
    assert config_error(tmp_path, doc).where == field


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    assert config_error(tmp_path, [MINIMAL]).where == "app"


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "wsgw.json"
    path.write_text('{\n  "name": "t",\n  "stage": "dev",\n  "routes": {,}\n}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_app(path)
    assert info.value.where == str(path)
    assert "line 4" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as info:
        load_app(path)
    assert info.value.where == str(path)
    assert "not found" in str(info.value)


def test_config_error_is_a_wsgw_error() -> None:
    with pytest.raises(WsgwError):
        parse_app({"functions": {"Fn": {"codeUri": "."}}}, base_dir=ROOT)
