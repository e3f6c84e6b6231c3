// $connect: remember the connection. The SDK comes from the Lambda runtime (no dependencies).
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";

const ddb = new DynamoDBClient({});

export const handler = async (event) => {
  try {
    await ddb.send(new PutItemCommand({
      TableName: process.env.TABLE_NAME,
      Item: { connectionId: { S: event.requestContext.connectionId } },
    }));
  } catch (error) {
    return { statusCode: 500, body: `Failed to connect: ${error}` };
  }
  return { statusCode: 200, body: "Connected." };
};
