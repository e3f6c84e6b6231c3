import json

import yaml  # installed beside wsgw, not declared here: fails as on Lambda


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"yaml": yaml.__version__})}
