"""Handlers of the plain CloudFormation fixture."""


def connect(event, context):
    return {"statusCode": 200}


def echo(event, context):
    return {"statusCode": 200, "body": event.get("body", "")}


def fallback(event, context):
    return {"statusCode": 200, "body": "no such action"}
