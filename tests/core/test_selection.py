"""Tests for emulator.core.selection: route selection expressions (reference §3)."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.core.errors import ConfigError
from emulator.core.selection import RouteSelector

DOC_BODY = json.dumps({"service": "chat", "action": "join", "data": {"room": "room1234"}})


def evaluate(expression: str, body: str) -> str | None:
    return RouteSelector.parse(expression).evaluate(body)


# --- The AWS documentation table (reference §3, DOCS-routes) -------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$request.body.action", "join"),
        ("${request.body.action}", "join"),
        ("${request.body.service}/${request.body.action}", "chat/join"),
        ("${request.body.action}-${request.body.invalidPath}", "join-"),
        ("action", "action"),
        ("\\$default", "$default"),
        ("$request.body.data.room", "room1234"),
        ("${request.body.data.room}", "room1234"),
    ],
)
def test_aws_documentation_table(expression: str, expected: str) -> None:
    assert evaluate(expression, DOC_BODY) == expected


def test_escaped_default_is_the_default_route_key() -> None:
    assert evaluate("\\$default", "not json") == "$default"  # model.DEFAULT


# --- Evaluation ------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["hello", "", "{", "{'action': 'join'}", "{\"a\":1}x"])
def test_non_json_body_gives_none(body: str) -> None:
    assert evaluate("$request.body.action", body) is None
    assert evaluate("x-${request.body.action}", body) is None


@pytest.mark.parametrize("body", ["[1, 2]", '"join"', "42", "true", "null", '[{"action": "a"}]'])
def test_non_object_json_body_gives_empty_string_for_key_path(body: str) -> None:
    assert evaluate("$request.body.action", body) == ""
    assert evaluate("${request.body.action}!", body) == "!"


def test_missing_key_and_walking_into_scalar_give_empty_string() -> None:
    assert evaluate("$request.body.nope", DOC_BODY) == ""
    assert evaluate("$request.body.action.deeper", DOC_BODY) == ""
    assert evaluate("$request.body.data.nope.deeper", DOC_BODY) == ""
    assert evaluate("$request.body.data[0]", DOC_BODY) == ""


def test_case_is_preserved_and_keys_are_case_sensitive() -> None:
    body = json.dumps({"Action": "JoinRoom", "action": "lower"})
    assert evaluate("$request.body.Action", body) == "JoinRoom"
    assert evaluate("$request.body.action", body) == "lower"
    assert evaluate("$request.body.ACTION", body) == ""


def test_value_is_returned_verbatim_without_trimming() -> None:
    assert evaluate("$request.body.a", json.dumps({"a": "  join \n"})) == "  join \n"


def test_array_indexes() -> None:
    body = json.dumps({"items": [{"type": "first"}, {"type": "second"}], "m": [[1, 2], [3]]})
    assert evaluate("$request.body.items[0].type", body) == "first"
    assert evaluate("${request.body.items[1].type}", body) == "second"
    assert evaluate("$request.body.items[2].type", body) == ""
    assert evaluate("$request.body.m[1][0]", body) == "3"
    assert evaluate("$request.body.m[0][5]", body) == ""
    assert evaluate("$request.body.items.type", body) == ""  # key step into an array


def test_unbraced_variable_ends_at_first_character_that_cannot_continue_it() -> None:
    assert evaluate("$request.body.action/x", DOC_BODY) == "join/x"
    assert evaluate("$request.body.action-x", DOC_BODY) == "join-x"
    assert evaluate("$request.body.action.", DOC_BODY) == "join."
    assert evaluate("$request.body.data.room:$request.body.service", DOC_BODY) == "room1234:chat"
    assert evaluate("pre $request.body.action", DOC_BODY) == "pre join"


def test_braced_segments_may_contain_other_characters() -> None:
    body = json.dumps({"my-key": {"a b": "v", "x$y": "w"}})
    assert evaluate("${request.body.my-key.a b}", body) == "v"
    assert evaluate("${request.body.my-key.x$y}", body) == "w"
    # Unbraced, the same key stops at '-': `$request.body.my` is missing, then "-key".
    assert evaluate("$request.body.my-key", body) == "-key"


def test_values_are_evaluated_once_not_recursively() -> None:
    body = json.dumps({"a": "$request.body.b", "b": "no"})
    assert evaluate("$request.body.a", body) == "$request.body.b"


def test_escaped_dollar_mixed_with_variables() -> None:
    assert evaluate("\\$${request.body.action}", DOC_BODY) == "$join"
    assert evaluate("a\\b", DOC_BODY) == "a\\b"  # only `\$` is an escape


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-17, "-17"),
        (10**20, "100000000000000000000"),
        (1.5, "1.5"),
        (1.0, "1.0"),
        (1e100, "1e+100"),
        (None, ""),
        ([], "[]"),
        (["item1", "item2"], "[item1, item2]"),
        ([1, True, None, 2.5, [3, "x"]], "[1, true, , 2.5, [3, x]]"),
        ({"a": 1, "b": [True]}, '{"a":1,"b":[true]}'),
        ({}, "{}"),
        ([{"k": "v"}], '[{"k":"v"}]'),
    ],
)
def test_stringification_of_non_string_values(value: object, expected: str) -> None:
    assert evaluate("$request.body.v", json.dumps({"v": value})) == expected


def test_json_nan_and_infinity_are_accepted_as_python_json() -> None:
    assert evaluate("$request.body.v", '{"v": NaN}') == "NaN"
    assert evaluate("$request.body.v", '{"v": -Infinity}') == "-Infinity"


def test_deeply_nested_bodies_do_not_raise() -> None:
    # Too deep for json.loads: treated as not JSON.
    assert evaluate("$request.body.v", "[" * 100_000 + "]" * 100_000) is None
    # Parsable but too deep to stringify: "" (deliberate choice) rather than an error.
    assert evaluate("$request.body.v", '{"v": ' + "[" * 900 + "]" * 900 + "}") == ""
    # Moderately deep values are stringified normally.
    assert evaluate("$request.body.v", '{"v": ' + "[" * 50 + "]" * 50 + "}") == "[" * 50 + "]" * 50


def test_static_expression_never_parses_body() -> None:
    selector = RouteSelector.parse("action")
    assert selector.evaluate("not json {") == "action"
    assert selector.evaluate(DOC_BODY) == "action"


def test_properties() -> None:
    selector = RouteSelector.parse("${request.body.service}/${request.body.action}")
    assert selector.expression == "${request.body.service}/${request.body.action}"


def test_parse_once_evaluate_many() -> None:
    selector = RouteSelector.parse("$request.body.action")
    bodies = [json.dumps({"action": f"r{i}"}) for i in range(50)]
    assert [selector.evaluate(b) for b in bodies] == [f"r{i}" for i in range(50)]


# --- Malformed and unsupported expressions --------------------------------------------


@pytest.mark.parametrize(
    ("expression", "problem_fragment"),
    [
        ("", "empty"),
        ("${request.body.action", "unterminated"),
        ("x/${request.body.a}/${", "unterminated"),
        ("$request.header.x-api-key", "$request.header.x"),
        ("${request.header.Auth}", "${request.header.Auth}"),
        ("$context.routeKey", "$context.routeKey"),
        ("${stageVariables.route}", "${stageVariables.route}"),
        ("$default", "$default"),
        ("a $ b", "'$'"),
        ("$", "'$'"),
        ("$request.body", "needs a path"),
        ("$request.body.", "needs a path"),
        ("$request.body.-x", "needs a path"),
        ("${request.body}", "needs a path"),
        ("${request.body.}", "needs a path"),
        ("${request.body.a..b}", "malformed path"),
        ("${request.body.a[x]}", "malformed path"),
        ("${request.body.a[0}", "malformed path"),
        ("${request.body.[0]}", "malformed path"),
        ("${request.body.a.}", "malformed path"),
    ],
)
def test_bad_expressions_raise_config_error(expression: str, problem_fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        RouteSelector.parse(expression)
    assert info.value.where == "routeSelectionExpression"
    assert problem_fragment in info.value.problem
    assert str(info.value).startswith("routeSelectionExpression: ")


def test_unsupported_variable_message_says_what_is_supported() -> None:
    with pytest.raises(ConfigError, match=r"only support \$request\.body\.<path>"):
        RouteSelector.parse("$request.querystring.a")


def test_non_string_expression_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="must be a string"):
        RouteSelector.parse(None)  # type: ignore[arg-type]


# --- Properties (hypothesis) -----------------------------------------------------------

identifiers = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=10,
)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@given(
    key=identifiers,
    value=st.text(),
    others=st.dictionaries(identifiers, json_values, max_size=5),
)
def test_string_value_at_key_is_selected_braced_and_unbraced(
    key: str, value: str, others: dict[str, object]
) -> None:
    body = json.dumps({**others, key: value})
    assert evaluate(f"$request.body.{key}", body) == value
    assert evaluate(f"${{request.body.{key}}}", body) == value


@given(text=st.text().filter(lambda t: not _is_json(t)))
def test_non_json_text_with_variable_gives_none(text: str) -> None:
    assert evaluate("$request.body.action", text) is None
    assert evaluate("route/${request.body.a.b}", text) is None


@given(
    static=st.text(min_size=1).filter(lambda t: "$" not in t and "\\" not in t),
    body=st.text() | json_values.map(json.dumps),
)
def test_static_expression_evaluates_to_itself(static: str, body: str) -> None:
    selector = RouteSelector.parse(static)
    assert selector.evaluate(body) == static


@given(
    expression=st.sampled_from(
        [
            "$request.body.action",
            "${request.body.a}/${request.body.b[0].c}",
            "$request.body.x[1][2]",
            "\\$default",
        ]
    ),
    body=st.text() | json_values.map(json.dumps),
)
def test_evaluate_never_raises(expression: str, body: str) -> None:
    result = RouteSelector.parse(expression).evaluate(body)
    assert result is None or isinstance(result, str)


@given(value=json_values, key=identifiers)
def test_any_json_value_is_stringified_without_error(value: object, key: str) -> None:
    result = evaluate(f"${{request.body.{key}}}", json.dumps({key: value}))
    assert isinstance(result, str)
    if isinstance(value, str):
        assert result == value
    elif isinstance(value, list):
        assert result.startswith("[") and result.endswith("]")
