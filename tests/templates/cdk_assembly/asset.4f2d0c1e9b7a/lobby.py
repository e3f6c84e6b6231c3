"""Handlers of the hand-written CDK assembly fixture (the staged asset folder)."""


def connect(event, context):
    return {"statusCode": 200}


def join(event, context):
    return {"statusCode": 200, "body": "joined"}


def authorize(event, context):
    return {"principalId": "me", "policyDocument": {"Version": "2012-10-17", "Statement": []}}
