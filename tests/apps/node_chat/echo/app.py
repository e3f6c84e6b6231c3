"""A Python function beside the Node.js ones: answers with its body and runtime."""

import json
import sys


def handler(event, context):
    body = json.loads(event["body"])
    return {"statusCode": 200, "body": json.dumps({"echo": body.get("data"), "python": sys.version_info[0]})}
