"""Handlers for wsgw's own integration tests: each one exercises one gateway rule."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import boto3

_state = {"calls": 0}


def connect(event: dict[str, Any], context: Any) -> Any:
    """$connect: behaviour chosen by the query string, e.g. ?status=401, ?crash=1, ?sleep=0.5."""
    query = event.get("queryStringParameters") or {}
    if query.get("crash"):
        raise RuntimeError("connect crashed on purpose")
    if query.get("post_self"):
        # Posting to our own connection inside $connect must be Gone (KC-410).
        ctx = event["requestContext"]
        client = boto3.client("apigatewaymanagementapi",
                              endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
        try:
            client.post_to_connection(ConnectionId=ctx["connectionId"], Data=b"too early")
        except client.exceptions.GoneException:
            print("POST-SELF-IN-CONNECT: GoneException")
    if query.get("sleep"):
        time.sleep(float(query["sleep"]))
    if query.get("none"):
        return None
    result: dict[str, Any] = {"statusCode": int(query.get("status", "200"))}
    if query.get("protocol"):
        result["headers"] = {"Sec-WebSocket-Protocol": query["protocol"]}
    print("CONNECT-EVENT " + json.dumps(event))
    return result


def disconnect(event: dict[str, Any], context: Any) -> Any:
    print("DISCONNECT-EVENT " + json.dumps(event))
    return {"statusCode": 200}


def echo(event: dict[str, Any], context: Any) -> Any:
    """Two-way: the message body back, verbatim."""
    return {"statusCode": 200, "body": event["body"]}


def event_dump(event: dict[str, Any], context: Any) -> Any:
    """Two-way: the whole event and context as JSON."""
    _state["calls"] += 1
    return {"statusCode": 200, "body": json.dumps({
        "event": event,
        "calls": _state["calls"],
        "pid": os.getpid(),
        "context": {
            "function_name": context.function_name,
            "aws_request_id": context.aws_request_id,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(),
        },
        "env": {k: os.environ.get(k) for k in ("PROBE_SETTING", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME")},
    })}


def crash(event: dict[str, Any], context: Any) -> Any:
    raise ValueError("crashed on purpose")


def sleep(event: dict[str, Any], context: Any) -> Any:
    """Two-way: sleeps body.seconds, then answers body.reply."""
    body = json.loads(event["body"])
    time.sleep(float(body["seconds"]))
    return {"statusCode": 200, "body": body["reply"]}


def hold(event: dict[str, Any], context: Any) -> Any:
    """Two-way: prints ``HELD <body.tag>``, waits (up to a minute) until the file
    ``body.gate`` exists, then answers ``body.reply``: an invocation a test knows is
    still running until it creates the gate."""
    body = json.loads(event["body"])
    print(f"HELD {body.get('tag')}", flush=True)
    for _ in range(6000):
        if os.path.exists(body["gate"]):
            break
        time.sleep(0.01)
    return {"statusCode": 200, "body": body["reply"]}


def exit_process(event: dict[str, Any], context: Any) -> Any:
    sys.stdout.flush()
    os._exit(7)


def callback(event: dict[str, Any], context: Any) -> Any:
    """One-way: answers through postToConnection at https://{domainName}/{stage}."""
    ctx = event["requestContext"]
    client = boto3.client("apigatewaymanagementapi",
                          endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
    client.post_to_connection(ConnectionId=ctx["connectionId"], Data=b"callback:" + event["body"].encode())
    return {"statusCode": 200}


def one_way(event: dict[str, Any], context: Any) -> Any:
    return {"statusCode": 200, "body": "never sent"}


def invoke_other(event: dict[str, Any], context: Any) -> Any:
    """Two-way: invokes EventDump synchronously and Echo... as an Event, via boto3's Lambda client."""
    client = boto3.client("lambda")
    body = json.loads(event["body"])
    if body.get("mode") == "event":
        response = client.invoke(FunctionName="Recorder", InvocationType="Event",
                                 Payload=json.dumps({"note": body["note"]}).encode())
        return {"statusCode": 200, "body": f"event:{response['StatusCode']}"}
    if body.get("mode") == "missing":
        try:
            client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
        except client.exceptions.ResourceNotFoundException as exc:
            return {"statusCode": 200, "body": "missing:" + exc.response["Error"]["Code"]}
    if body.get("mode") == "error":
        response = client.invoke(FunctionName=context.invoked_function_arn.rsplit(":", 1)[0] + ":Crash",
                                 Payload=b"{}")
        return {"statusCode": 200, "body": "error:" + response.get("FunctionError", "")
                + ":" + json.loads(response["Payload"].read())["errorType"]}
    response = client.invoke(FunctionName="Recorder", Payload=json.dumps({"note": body["note"]}).encode())
    return {"statusCode": 200, "body": "sync:" + response["Payload"].read().decode()}


def recorder(event: dict[str, Any], context: Any) -> Any:
    print("RECORDER " + json.dumps(event))
    return {"recorded": event.get("note")}


def real_endpoint(event: dict[str, Any], context: Any) -> Any:
    """One-way: answers through the management API at the REAL execute-api hostname
    (from an environment variable), as many deployed handlers do."""
    client = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["CALLBACK_URL"])
    client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"],
                              Data=b"via " + os.environ["CALLBACK_URL"].encode())
    return {"statusCode": 200}
