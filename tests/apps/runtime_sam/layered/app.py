import json

from shared_greeting import greet  # from the layer's python/ folder


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"greeting": greet("layer")})}
