// A TypeScript handler: CDK's NodejsFunction bundles it with esbuild at synth time.
interface WebSocketEvent { body?: string; requestContext: { routeKey: string } }

export const handler = async (event: WebSocketEvent): Promise<{ statusCode: number; body: string }> => {
  const text: string = JSON.parse(event.body ?? "{}").text ?? "";
  return { statusCode: 200, body: JSON.stringify({ shouted: text.toUpperCase(), route: event.requestContext.routeKey }) };
};
