"""sendmessage of the SAM chat fixture: broadcast the text to every stored connection
through the callback URL built the AWS-docs way, and answer the sender (two-way)."""

import json
import os

import boto3


def handler(event, context):
    ctx = event["requestContext"]
    text = json.loads(event["body"])["message"]["text"]
    table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    client = boto3.client("apigatewaymanagementapi", endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
    for item in table.scan()["Items"]:
        try:
            client.post_to_connection(ConnectionId=item["connectionId"], Data=text.encode())
        except client.exceptions.GoneException:
            table.delete_item(Key={"connectionId": item["connectionId"]})
    return {"statusCode": 200, "body": "sent: " + text}
