import * as cdk from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';

const app = new cdk.App();
const stack = new cdk.Stack(app, 'TsEchoStack');
const code = lambda.Code.fromAsset('functions');
const fn = (id: string, handler: string) =>
  new lambda.Function(stack, id, { runtime: lambda.Runtime.PYTHON_3_11, handler, code });
const api = new apigwv2.WebSocketApi(stack, 'EchoApi', {
  connectRouteOptions: { integration: new WebSocketLambdaIntegration('ConnectIntegration', fn('ConnectFn', 'echo.connect')) },
  defaultRouteOptions: { integration: new WebSocketLambdaIntegration('DefaultIntegration', fn('DefaultFn', 'echo.default')), returnResponse: true },
});
const shout = new NodejsFunction(stack, 'ShoutFn', { entry: 'lambda-ts/shout.ts', runtime: lambda.Runtime.NODEJS_20_X });
api.addRoute('shout', { integration: new WebSocketLambdaIntegration('ShoutIntegration', shout), returnResponse: true });
new apigwv2.WebSocketStage(stack, 'Stage', { webSocketApi: api, stageName: 'local', autoDeploy: true });
