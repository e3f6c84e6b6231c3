"""The stage's access log format (emulator/core/access_log.py): checking and rendering."""

from __future__ import annotations

import pytest

from emulator.core.access_log import MAX_LINE_BYTES, check_access_log_format, render, request_values
from emulator.core.errors import ConfigError

CONTEXT = {
    "routeKey": "sendmessage", "messageId": "M1", "eventType": "MESSAGE", "extendedRequestId": "R1",
    "requestTime": "11/Nov/2024:11:35:24 +0000", "messageDirection": "IN", "stage": "dev",
    "connectedAt": 1731324924000, "requestTimeEpoch": 1731324924553,
    "identity": {"sourceIp": "10.1.2.3", "userAgent": "ua/1"}, "requestId": "R1",
    "domainName": "localhost:3001", "connectionId": "C1", "apiId": "wsgwlocal1",
    "authorizer": {"principalId": "alice", "room": "7", "admin": True, "integrationLatency": 12},
}


def values(**ended: object) -> dict[str, object]:
    return request_values(CONTEXT, status=200, **ended)  # type: ignore[arg-type]


@pytest.mark.parametrize(("variable", "expected"), [
    ("requestId", "R1"), ("extendedRequestId", "R1"), ("connectionId", "C1"), ("routeKey", "sendmessage"),
    ("eventType", "MESSAGE"), ("messageId", "M1"), ("requestTime", "11/Nov/2024:11:35:24 +0000"),
    ("requestTimeEpoch", "1731324924553"), ("connectedAt", "1731324924000"), ("stage", "dev"),
    ("domainName", "localhost:3001"), ("apiId", "wsgwlocal1"), ("status", "200"),
    ("identity.sourceIp", "10.1.2.3"), ("identity.userAgent", "ua/1"),
    ("authorizer.principalId", "alice"), ("authorizer.room", "7"), ("authorizer.admin", "true"),
    ("authorizer.integrationLatency", "12"),
    ("integrationLatency", "4"), ("integration.latency", "4"), ("integration.status", "201"),
    ("integrationStatus", "200"), ("integration.integrationStatus", "200"), ("integration.requestId", "L1"),
    ("integration.error", "boom"), ("error.message", "Internal server error"),
    ("error.messageString", '"Internal server error"'), ("latency", "7"), ("authorizer.latency", "3"),
    ("authorizer.status", "200"),
])
def test_each_variable(variable: str, expected: str) -> None:
    rendered = values(latency_ms=6.6, integration_latency_ms=4.2, integration_status=201, lambda_status=200,
                      integration_request_id="L1", integration_error="boom", error_message="Internal server error",
                      authorizer_latency_ms=3.4, authorizer_status=200)
    assert render(f"[$context.{variable}]", rendered) == f"[{expected}]"


@pytest.mark.parametrize("variable", [
    "httpMethod", "resourcePath", "protocol", "responseLength",  # REST-only: no value on WebSocket
    "error.message", "integrationLatency", "identity.caller", "authorizer.nothing", "waf.status",
])
def test_a_variable_without_a_value_prints_a_dash(variable: str) -> None:
    assert render(f"a $context.{variable} b", values()) == "a - b"


def test_the_cloudformation_json_example_renders() -> None:
    text = ('{"requestId":"$context.requestId", "ip": "$context.identity.sourceIp", '
            '"caller":"$context.identity.caller", "user":"$context.identity.user",'
            '"requestTime":"$context.requestTime", "eventType":"$context.eventType",'
            '"routeKey":"$context.routeKey", "status":"$context.status","connectionId":"$context.connectionId"}')
    assert render(check_access_log_format(text, "f"), values()) == (
        '{"requestId":"R1", "ip": "10.1.2.3", "caller":"-", "user":"-",'
        '"requestTime":"11/Nov/2024:11:35:24 +0000", "eventType":"MESSAGE",'
        '"routeKey":"sendmessage", "status":"200","connectionId":"C1"}')


def test_the_serverless_framework_clf_renders() -> None:
    text = ('$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] '
            '"$context.eventType $context.routeKey $context.connectionId" $context.status  $context.requestId')
    assert render(text, values()) == (
        '10.1.2.3 - - [11/Nov/2024:11:35:24 +0000] "MESSAGE sendmessage C1" 200  R1')


def test_xml_and_csv_formats_are_just_text() -> None:
    xml = '<request id="$context.requestId"><status>$context.status</status></request>'
    assert render(xml, values()) == '<request id="R1"><status>200</status></request>'
    assert render("$context.requestId,$context.routeKey,$context.status", values()) == "R1,sendmessage,200"


def test_values_go_in_unescaped_and_the_format_text_stays_as_written() -> None:
    odd = dict(CONTEXT, identity={"sourceIp": "10.1.2.3", "userAgent": 'say "hi"\\ $context.requestId'})
    rendered = render('{"ua":"$context.identity.userAgent"} $ \\$context. $context.status.', request_values(odd, status=200))
    # The value is not escaped for JSON [?] nor rendered again; a "$" or a bare
    # "$context." is text; a trailing dot is not part of the name.
    assert rendered == '{"ua":"say "hi"\\ $context.requestId"} $ \\$context. 200.'


def test_a_line_is_cut_at_1024_bytes_without_splitting_a_character() -> None:
    long = dict(CONTEXT, routeKey="é" * 700)  # 1,400 bytes of UTF-8
    line = render("$context.requestId $context.routeKey", request_values(long, status=200))
    assert len(line.encode("utf-8")) <= MAX_LINE_BYTES and line.startswith("R1 éé")
    assert len(line.encode("utf-8")) >= MAX_LINE_BYTES - 1


@pytest.mark.parametrize(("text", "message"), [
    ("$context.status", "must include $context.requestId"),
    ("$context.requestIdentity", "must include $context.requestId"),
    ("", "is empty"),
    ("$context.requestId\n$context.status", "must be one line"),
    ("$context.requestId " + "x" * 1100, "at most 1024"),
])
def test_formats_aws_refuses_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_access_log_format(text, "Resources.Stage.Properties.AccessLogSettings.Format")
    assert message in str(refused.value) and "Resources.Stage" in str(refused.value)


def test_extended_request_id_and_a_trailing_newline_are_accepted() -> None:
    assert check_access_log_format("$context.extendedRequestId $context.status\n", "f") == (
        "$context.extendedRequestId $context.status")
