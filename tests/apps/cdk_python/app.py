"""A small Python CDK app shaped like `cdk init app --language python` output: a
WebSocket API with $connect, $default and one custom route, each a Python function.

wsgw's tests synthesize it as a user's own CDK app (tests/template/test_cdk_app.py).
"""

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk.aws_apigatewayv2_integrations import WebSocketLambdaIntegration
from constructs import Construct

ROUTES = ["ping"]


class EchoStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        code = lambda_.Code.from_asset("functions")

        def function(name: str, handler: str) -> lambda_.Function:
            return lambda_.Function(self, name, runtime=lambda_.Runtime.PYTHON_3_11, handler=handler, code=code)

        api = apigwv2.WebSocketApi(
            self, "EchoApi",
            connect_route_options=apigwv2.WebSocketRouteOptions(
                integration=WebSocketLambdaIntegration("ConnectIntegration", function("ConnectFn", "echo.connect"))),
            default_route_options=apigwv2.WebSocketRouteOptions(
                integration=WebSocketLambdaIntegration("DefaultIntegration", function("DefaultFn", "echo.default")),
                return_response=True),
        )
        for route in ROUTES:
            api.add_route(route, integration=WebSocketLambdaIntegration(
                f"{route}-integration", function(f"{route.title()}Fn", "echo.named")), return_response=True)
        apigwv2.WebSocketStage(self, "Stage", web_socket_api=api, stage_name="local", auto_deploy=True)


app = cdk.App()
EchoStack(app, "EchoStack")
app.synth()
