"""Handlers of the small CDK test app: they say which route they served."""

import json


def connect(event, context):
    return {"statusCode": 200}


def default(event, context):
    return {"statusCode": 200, "body": "default: " + (event.get("body") or "")}


def named(event, context):
    return {"statusCode": 200, "body": json.dumps({"route": event["requestContext"]["routeKey"]})}
