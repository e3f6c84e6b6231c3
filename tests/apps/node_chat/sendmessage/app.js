// sendmessage: post the message's data to every connection in the table, in parallel;
// a connection that is gone (410) loses its row.
import { DeleteItemCommand, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from "@aws-sdk/client-apigatewaymanagementapi";

const ddb = new DynamoDBClient({});
const TABLE_NAME = process.env.TABLE_NAME;

async function broadcast(event, endpoint) {
  const { Items = [] } = await ddb.send(new ScanCommand({ TableName: TABLE_NAME, ProjectionExpression: "connectionId" }));
  const api = new ApiGatewayManagementApiClient({ endpoint });
  const data = JSON.parse(event.body).data;
  await Promise.all(Items.map(async ({ connectionId }) => {
    try {
      await api.send(new PostToConnectionCommand({ ConnectionId: connectionId.S, Data: data }));
    } catch (error) {
      if (error.$metadata?.httpStatusCode !== 410) throw error;
      console.log(`Found stale connection, deleting ${connectionId.S}`);
      await ddb.send(new DeleteItemCommand({ TableName: TABLE_NAME, Key: { connectionId } }));
    }
  }));
  return { statusCode: 200, body: "Data sent." };
}

// The API's own hostname, as the current reference app builds it.
export const handler = (event) => broadcast(event,
  `https://${event.requestContext.apiId}.execute-api.${process.env.AWS_REGION}.amazonaws.com/${event.requestContext.stage}`);

// The older form: the domain name the client connected to.
export const viaDomainName = (event) => broadcast(event,
  `https://${event.requestContext.domainName}/${event.requestContext.stage}`);
