"""The pytest plugin serves a stage's route throttling like run-local: enforced by
default (and refilled by ``wsgw_clock``), switched off by ``--wsgw-no-throttle`` or
the ``wsgw_no_throttle`` ini line. ``pytester`` runs a small project against a
template whose ``limited`` route has a burst of 1."""

from __future__ import annotations

import json
import textwrap

import pytest

pytest_plugins = ["pytester"]

API = {"Ref": "Api"}
TEMPLATE = {"Resources": {
    "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "FunctionName": "echo", "Code": "src", "Handler": "h.handler", "Runtime": "python3.11"}},
    "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {
        "Name": "throttled", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}},
    "Lambda": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
        "ApiId": API, "IntegrationType": "AWS_PROXY", "IntegrationUri": {"Fn::GetAtt": ["Fn", "Arn"]}}},
    "LimitedRoute": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
        "ApiId": API, "RouteKey": "limited", "Target": "integrations/Lambda",
        "RouteResponseSelectionExpression": "$default"}},
    "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
        "ApiId": API, "StageName": "dev",
        "RouteSettings": {"limited": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 1}}}},
}}
HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "echo"}\n'

THROTTLED = '''
def test_the_second_message_is_throttled_until_the_clock_moves(wsgw_connect, wsgw_clock):
    client = wsgw_connect()
    client.send_json({"action": "limited"})
    assert client.recv_text() == "echo"
    client.send_json({"action": "limited"})
    assert client.recv_json()["message"] == "Too Many Requests"
    wsgw_clock.advance(1)
    client.send_json({"action": "limited"})
    assert client.recv_text() == "echo"
'''

UNTHROTTLED = '''
def test_nothing_is_throttled(wsgw_connect):
    client = wsgw_connect()
    for _ in range(3):
        client.send_json({"action": "limited"})
    assert [client.recv_text() for _ in range(3)] == ["echo"] * 3
'''


def _project(pytester: pytest.Pytester, ini: str, test: str) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nwsgw_template = app/template.json\n"
                     + textwrap.dedent(ini))
    app = pytester.path / "app"
    (app / "src").mkdir(parents=True, exist_ok=True)
    (app / "template.json").write_text(json.dumps(TEMPLATE))
    (app / "src" / "h.py").write_text(HANDLER)
    pytester.makepyfile(test_app=test)


def test_route_throttling_applies_and_the_clock_refills_it(pytester: pytest.Pytester) -> None:
    _project(pytester, "", THROTTLED)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_flag_and_the_ini_line_switch_it_off(pytester: pytest.Pytester) -> None:
    _project(pytester, "", UNTHROTTLED)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--wsgw-no-throttle").assert_outcomes(passed=1)
    _project(pytester, "wsgw_no_throttle = true\n", UNTHROTTLED)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    # The same project without either: the test that expects no throttling fails.
    _project(pytester, "", UNTHROTTLED)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(failed=1)
