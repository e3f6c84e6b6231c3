"""Route handlers of the authorizer fixture."""


def connect(event, context):
    return {"statusCode": 200}


def default(event, context):
    return {"statusCode": 200, "body": "ok"}
