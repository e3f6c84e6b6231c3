"""The chat app as a CDK stack (wsgw's bundled app; ``wsgw init`` copies it).

One DynamoDB connection table, one Python Lambda function per handler in
``handlers/``, a WebSocket API routing on ``$request.body.action`` and a ``dev``
stage that deploys itself. Grants are per function and minimal: only the
functions that write the table get table access, only the function that posts
to ``@connections`` gets ``execute-api:ManageConnections``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_apigatewayv2_integrations import WebSocketLambdaIntegration
from constructs import Construct

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
# Never ship bytecode the local runs left behind (it would also change the asset hash).
ASSET_EXCLUDE = ["__pycache__", "*.pyc"]
STAGE_NAME = "dev"
API_NAME = "wsgw-chat"


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function of ``wsgw.json`` and what it needs from the rest of the stack."""

    handler: str
    writes_table: bool = False  # puts/deletes connection rows: CONNECTIONS_TABLE + write grant
    posts: bool = False  # calls @connections PostToConnection: ManageConnections grant
    timeout_s: int = 10
    memory_mb: int = 256


# Construct ids match the function names in wsgw.json.
FUNCTIONS: dict[str, FunctionSpec] = {
    "ConnectFunction": FunctionSpec("connect.handler", writes_table=True),
    "DisconnectFunction": FunctionSpec("disconnect.handler", writes_table=True),
    "WhoAmIFunction": FunctionSpec("whoami.handler"),
    # Posts to the target (and errors to the sender); deletes the row of a gone target.
    "SendMessageFunction": FunctionSpec("send_message.handler", writes_table=True, posts=True),
    "DefaultFunction": FunctionSpec("default.handler"),
}


class WsgwChatStack(Stack):
    """The chat app: table, five functions, WebSocket API, ``dev`` stage, two outputs."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        table = dynamodb.Table(
            self,
            "ConnectionsTable",
            partition_key=dynamodb.Attribute(name="connectionId", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="ttl",
            # Rows are live connections only: nothing worth keeping after a destroy.
            removal_policy=RemovalPolicy.DESTROY,
        )

        cfn_table = table.node.default_child
        assert isinstance(cfn_table, dynamodb.CfnTable)
        cfn_table.override_logical_id("ConnectionsTable")  # local table name: ConnectionsTable

        code = lambda_.Code.from_asset(str(HANDLERS_DIR), exclude=ASSET_EXCLUDE)
        functions: dict[str, lambda_.Function] = {}
        for name, spec in FUNCTIONS.items():
            functions[name] = lambda_.Function(
                self,
                name,
                runtime=lambda_.Runtime.PYTHON_3_12,
                code=code,
                handler=spec.handler,
                timeout=Duration.seconds(spec.timeout_s),
                memory_size=spec.memory_mb,
                environment={"CONNECTIONS_TABLE": table.table_name} if spec.writes_table else None,
            )
            # Stable logical ids (no CDK hash suffix): run-local names each function by
            # its logical id, so logs read [ConnectFunction], as in wsgw's docs.
            cfn_function = functions[name].node.default_child
            assert isinstance(cfn_function, lambda_.CfnFunction)
            cfn_function.override_logical_id(name)
            if spec.writes_table:
                table.grant_write_data(functions[name])

        def integration(name: str) -> WebSocketLambdaIntegration:
            return WebSocketLambdaIntegration(f"{name}Integration", functions[name])

        api = apigwv2.WebSocketApi(
            self,
            "ChatApi",
            api_name=API_NAME,
            route_selection_expression="$request.body.action",
            connect_route_options=apigwv2.WebSocketRouteOptions(integration=integration("ConnectFunction")),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(integration=integration("DisconnectFunction")),
            # Two-way: the hint in the handler's response body goes back to the client.
            default_route_options=apigwv2.WebSocketRouteOptions(
                integration=integration("DefaultFunction"), return_response=True
            ),
        )
        api.add_route("whoAmI", integration=integration("WhoAmIFunction"), return_response=True)
        api.add_route("sendMessage", integration=integration("SendMessageFunction"))

        for name, spec in FUNCTIONS.items():
            if spec.posts:
                api.grant_manage_connections(functions[name])

        stage = apigwv2.WebSocketStage(self, "DevStage", web_socket_api=api, stage_name=STAGE_NAME, auto_deploy=True)

        CfnOutput(self, "WebSocketUrl", value=stage.url, description="wss:// URL clients connect to")
        CfnOutput(self, "CallbackUrl", value=stage.callback_url, description="https:// endpoint of @connections")
        CfnOutput(self, "ConnectionsTableName", value=table.table_name,
                  description="DynamoDB table of open connections (wsgw connections/broadcast --deployed)")
