"""The pure rules of non-proxy integrations (emulator/core/integration.py):
request-template choice and pass-through, parameter mapping, stage variables,
integration-response and response-template selection."""

from __future__ import annotations

import pytest

from emulator.core.errors import ConfigError
from emulator.core.integration import (
    REFUSED, IntegrationResponseSpec, IntegrationSpec, StageVariableMissing, check_selection_expression,
    check_stage_variable, choose_request_template, choose_response_template, map_request_parameters,
    select_response, substitute_stage_variables,
)


def spec(templates: dict[str, str] | None = None, expression: str | None = None,
         passthrough: str = "WHEN_NO_MATCH", responses: tuple[IntegrationResponseSpec, ...] = ()) -> IntegrationSpec:
    return IntegrationSpec("MOCK", request_templates=templates or {}, template_selection_expression=expression,
                           passthrough_behavior=passthrough, responses=responses)


def test_the_selection_expression_picks_the_template_per_message() -> None:
    chosen = spec({"A": "a", "B": "b", "$default": "d"}, "$request.body.kind")
    assert choose_request_template(chosen, '{"kind": "A"}', None) == "a"
    assert choose_request_template(chosen, '{"kind": "B"}', None) == "b"
    # No key matches (or no JSON): the $default template [doc] DG-ROUTESINT.
    assert choose_request_template(chosen, '{"kind": "Z"}', None) == "d"
    assert choose_request_template(chosen, "not json", None) == "d"


def test_an_escaped_default_expression_is_the_literal_default_key() -> None:
    assert choose_request_template(spec({"$default": "d"}, "\\$default"), "x", None) == "d"
    assert choose_request_template(spec({"200": "s"}, "200"), "x", None) == "s"


def test_without_an_expression_the_content_type_is_the_key() -> None:
    chosen = spec({"application/json": "j", "text/plain": "t"})
    assert choose_request_template(chosen, "x", None) == "j"  # the default content type [?]
    assert choose_request_template(chosen, "x", "text/plain") == "t"


@pytest.mark.parametrize("behaviour, with_templates, expected", [
    ("WHEN_NO_MATCH", True, None), ("WHEN_NO_MATCH", False, None),
    ("WHEN_NO_TEMPLATES", True, REFUSED), ("WHEN_NO_TEMPLATES", False, None),
    ("NEVER", True, REFUSED), ("NEVER", False, REFUSED),
])
def test_passthrough_behaviour_when_no_template_applies(behaviour: str, with_templates: bool, expected: object) -> None:
    # [doc] DG-PASSTHRU: None = the frame passes through unchanged; REFUSED = 415.
    templates = {"A": "a"} if with_templates else {}
    assert choose_request_template(spec(templates, "$request.body.kind", behaviour), '{"kind": "Z"}', None) is expected


def test_request_parameters_from_each_kind_of_source() -> None:
    headers, query = map_request_parameters(
        {
            "integration.request.header.connectionId": "context.connectionId",
            "integration.request.header.tenant": "context.authorizer.tenant",
            "integration.request.header.X-Env": "stageVariables.env",
            "integration.request.header.X-Static": "'fixed'",
            "integration.request.header.X-Token": "route.request.header.authorization",
            "integration.request.querystring.room": "route.request.querystring.room",
            "integration.request.header.X-Kind": "route.request.body.kind",
            "integration.request.header.X-Missing": "context.nothing",
        },
        context={"connectionId": "C1", "authorizer": {"tenant": "t9"}}, stage_variables={"env": "dev"},
        headers={"Authorization": "Bearer x"}, query={"room": "r1"}, body='{"kind": "k"}',
    )
    assert headers == {"connectionId": "C1", "tenant": "t9", "X-Env": "dev", "X-Static": "fixed",
                       "X-Token": "Bearer x", "X-Kind": "k"}
    assert query == {"room": "r1"}


def test_stage_variables_in_uris() -> None:
    assert substitute_stage_variables("http://${stageVariables.host}/x", {"host": "h:1"}) == "http://h:1/x"
    with pytest.raises(StageVariableMissing):
        substitute_stage_variables("http://${stageVariables.host}/", {})
    check_stage_variable("url", "127.0.0.1:8080/a?b=c", "here")
    with pytest.raises(ConfigError):
        check_stage_variable("bad-name", "v", "here")
    with pytest.raises(ConfigError):
        check_stage_variable("ok", "has space", "here")


def test_integration_responses_match_whole_statuses_then_default() -> None:
    ok = IntegrationResponseSpec("/2\\d\\d/")
    missing = IntegrationResponseSpec("/404/")
    fallback = IntegrationResponseSpec("$default")
    chosen = spec(responses=(fallback, ok, missing))
    assert select_response(chosen, "201") is ok
    assert select_response(chosen, "404") is missing
    assert select_response(chosen, "4040") is fallback  # the whole value must match [?]
    assert select_response(spec(responses=(ok,)), "500") is None


def test_response_template_selection() -> None:
    by_status = IntegrationResponseSpec("$default", {"200": "ok", "$default": "other"},
                                        "$integration.response.statuscode")
    assert choose_response_template(by_status, status=200, headers={}, request_body="") == "ok"
    assert choose_response_template(by_status, status=201, headers={}, request_body="") == "other"
    by_header = IntegrationResponseSpec("$default", {"application/json": "j"},
                                        "${integration.response.header.Content-Type}")
    assert choose_response_template(by_header, status=200, headers={"content-type": "application/json"},
                                    request_body="") == "j"
    only = IntegrationResponseSpec("$default", {"200": "only"})
    assert choose_response_template(only, status=500, headers={}, request_body="") == "only"  # [obs] LS-TEST
    assert choose_response_template(IntegrationResponseSpec("$default"), status=200, headers={},
                                    request_body="") is None


def test_selection_expressions_are_checked_at_load_time() -> None:
    check_selection_expression("\\$default", "x")
    check_selection_expression("$integration.response.statuscode", "x")
    with pytest.raises(ConfigError, match="^Integ.TemplateSelectionExpression"):
        check_selection_expression("$request.header.x", "Integ.TemplateSelectionExpression")
