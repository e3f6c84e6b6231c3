// $disconnect: forget the connection.
import { DeleteItemCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";

const ddb = new DynamoDBClient({});

export const handler = async (event) => {
  await ddb.send(new DeleteItemCommand({
    TableName: process.env.TABLE_NAME,
    Key: { connectionId: { S: event.requestContext.connectionId } },
  }));
  console.log("disconnected", event.requestContext.connectionId);
  return { statusCode: 200, body: "Disconnected." };
};
