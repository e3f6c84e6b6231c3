// An ES module (package.json "type": "module") in a nested folder.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb"; // from the runtime's SDK

const startedAt = Date.now(); // module state, kept warm

export const handler = async (event, context) => ({
  esm: true, startedAt, sdk: typeof DynamoDBClient, name: context.functionName,
});
