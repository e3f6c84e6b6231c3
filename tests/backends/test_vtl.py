"""Mapping templates with API Gateway's WebSocket variables (emulator/backends/vtl.py)."""

from __future__ import annotations

import json

import pytest

from emulator.backends.vtl import TemplateError, jsonpath, render


def test_input_context_stage_variables_and_util() -> None:
    text = render(
        "#set($items = $input.path('$.items'))"
        "{\"id\": \"$context.connectionId\", \"n\": $items.size(), \"first\": $input.json('$.items[0]'),"
        " \"all\": $input.json('$'), \"env\": \"$stageVariables.env\", \"tenant\": \"$context.authorizer.tenant\","
        " \"esc\": \"$util.escapeJavaScript('say \"hi\"')\", \"url\": \"$util.urlEncode('a b&c')\","
        " \"back\": \"$util.urlDecode('a+b%26c')\", \"b64\": \"$util.base64Encode('hi')\","
        " \"plain\": \"$util.base64Decode('aGk=')\", \"parsed\": $util.parseJson('{\"x\": 2}').x}",
        body='{"items": [{"a": 1}, 2]}', context={"connectionId": "C1", "authorizer": {"tenant": "t"}},
        stage_variables={"env": "dev"},
    )
    assert json.loads(text) == {
        "id": "C1", "n": 2, "first": {"a": 1}, "all": {"items": [{"a": 1}, 2]}, "env": "dev", "tenant": "t",
        "esc": 'say "hi"', "url": "a+b%26c", "back": "a b&c", "b64": "aGk=", "plain": "hi", "parsed": 2,
    }


def test_params_on_connect() -> None:
    template = "#if($input.params('deny') == 'yes')no#{else}yes#end $input.params().get('header').get('Host')"
    params = {"querystring": {"deny": "yes"}, "header": {"Host": "h"}}
    assert render(template, body="", context={}, stage_variables={}, params=params) == "no h"


def test_jsonpath_subset() -> None:
    document = {"a": {"b": [1, {"c": "x"}]}, "k y": 3}
    assert jsonpath(document, "$") == document
    assert jsonpath(document, "$.a.b[1].c") == "x"
    assert jsonpath(document, "$['k y']") == 3
    assert jsonpath(document, "$.a.nothing") is None
    with pytest.raises(TemplateError):
        jsonpath(document, "$..c")


def test_a_broken_template_is_a_template_error() -> None:
    with pytest.raises(TemplateError):
        render("#if($x", body="", context={}, stage_variables={})


def test_context_error_variables_are_empty_without_an_error() -> None:
    # $context.error.* exist in WebSocket templates [doc] DG-VTLREF; an integration's
    # template runs only without an error, so they are empty [?] (messageString: "").
    text = render("[$context.error.message][$context.error.messageString][$context.error.validationErrorString]",
                  body="", context={"connectionId": "C"}, stage_variables={})
    assert text == '[][""][]'
