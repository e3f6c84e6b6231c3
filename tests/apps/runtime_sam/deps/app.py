import json

import inflection


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({
        "camelized": inflection.camelize("web_socket_gateway"),
        "from": inflection.__file__,
    })}
