// The benchmark's Node.js handler (scenario h): answer every message with its own body,
// the twin of bench/apps/echo/echo.py. CommonJS, so both wsgw and serverless-offline
// load it as they load any Lambda Node.js handler. `connect` is only routed by
// serverless-offline's copy (bench/peers/serverless-node.yml), which refuses every
// connection of an API without a $connect route (AWS and wsgw do not).
exports.handler = async (event) => ({ statusCode: 200, body: event.body });
exports.connect = async () => ({ statusCode: 200 });
