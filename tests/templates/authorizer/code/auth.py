"""REQUEST authorizer of the authorizer fixture: allow when ?token=letmein."""


def handler(event, context):
    allowed = (event.get("queryStringParameters") or {}).get("token") == "letmein"
    return {
        "principalId": "user",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny",
                           "Resource": event["methodArn"]}],
        },
    }
