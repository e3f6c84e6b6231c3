// CommonJS handlers for tests/runtime/test_node_worker.py (no package.json: CommonJS).
let count = 0;

exports.echo = async (event, context) => ({
  event,
  functionName: context.functionName,
  requestId: context.awsRequestId,
  memory: context.memoryLimitInMB,
  arn: context.invokedFunctionArn,
  remaining: context.getRemainingTimeInMillis(),
  trace: process.env._X_AMZN_TRACE_ID,
});
exports.count = async () => ++count; // warm module state between invocations
exports.logs = async () => {
  console.log("hello %s", "world");
  console.warn({ a: 1 });
  console.error("oops");
  return "logged";
};
exports.callback = (event, context, callback) => {
  setTimeout(() => { count += 100; }, 50); // runs before the result is sent
  callback(null, "from callback");
};
exports.callbackNoWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, 60000);
  callback(null, count);
};
exports.callbackError = (event, context, callback) => callback(new RangeError("out of range"));
exports.promise = () => Promise.resolve({ via: "promise" });
exports.sync = () => "ignored"; // no callback, no promise: null (Lambda)
exports.sleep = (event) => new Promise((resolve) => setTimeout(() => resolve("slept"), event.ms));
exports.throws = async () => { throw new TypeError("bad input"); };
exports.never = () => new Promise(() => {});
exports.crash = () => { setTimeout(() => { throw new Error("boom in a timer"); }, 0); };
exports.exit = () => process.exit(3);
exports.pid = async () => process.pid;
exports.nested = { deep: { handler: async () => "deep" } };
exports.notFunction = 42;
