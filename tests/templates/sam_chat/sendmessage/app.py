"""sendmessage of the SAM chat fixture: echo the message back to the sender."""


def handler(event, context):
    return {"statusCode": 200, "body": event.get("body", "")}
