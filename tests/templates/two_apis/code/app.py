"""Handlers of the two-APIs fixture."""


def alpha(event, context):
    return {"statusCode": 200, "body": "alpha"}


def beta(event, context):
    return {"statusCode": 200, "body": "beta"}
