import builtins
import importlib.util
import json
import os
import sys

import boto3


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({
        "version": list(sys.version_info[:2]),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "boto3": boto3.__version__,
        # wsgw's own packages are not importable here, as on Lambda
        "websockets": importlib.util.find_spec("websockets") is not None,
        "exit": callable(getattr(builtins, "exit", None)),  # what site adds on Lambda too
    })}
