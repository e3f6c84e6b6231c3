"""What an AWS service integration sends and how its answer is passed on
(emulator/backends/aws_service.py), without a network."""

from __future__ import annotations

import json

from emulator.backends.aws_service import json_answer, service_request


def test_query_service_xml_answers_become_json() -> None:
    xml = ('<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
           '<MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId>'
           '</ResponseMetadata></PublishResponse>')
    assert json.loads(json_answer(xml)) == {"PublishResponse": {
        "PublishResult": {"MessageId": "m-1"}, "ResponseMetadata": {"RequestId": "r-1"}}}
    # Repeated elements become a list [?]; JSON and broken XML pass through.
    repeated = json.loads(json_answer("<R><Item>a</Item><Item>b</Item><Item>c</Item></R>"))
    assert repeated == {"R": {"Item": ["a", "b", "c"]}}
    assert json_answer('{"ok": 1}') == '{"ok": 1}'
    assert json_answer("<broken") == "<broken"


def test_json_and_query_services_are_addressed_by_their_protocol() -> None:
    kinesis = service_request("arn:aws:apigateway:us-east-1:kinesis:action/PutRecord", "POST", b"{}", {},
                              endpoint_url="http://127.0.0.1:1", region="us-west-2")
    assert kinesis.headers["X-Amz-Target"] == "Kinesis_20131202.PutRecord" and not kinesis.query_protocol
    assert "/us-east-1/kinesis/aws4_request" in kinesis.headers["Authorization"]
    events = service_request("arn:aws:apigateway:us-east-1:events:action/PutEvents", "POST", b"{}", {},
                             endpoint_url="http://127.0.0.1:1", region="us-east-1")
    assert events.headers["X-Amz-Target"] == "AWSEvents.PutEvents"
    assert events.headers["Content-Type"] == "application/x-amz-json-1.1"
    sns = service_request("arn:aws:apigateway:us-east-1:sns:action/Publish", "POST", b"Message=x", {},
                          endpoint_url="http://127.0.0.1:1", region="us-east-1")
    assert sns.url == "http://127.0.0.1:1/?Action=Publish" and sns.query_protocol
