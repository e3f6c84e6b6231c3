// One Lambda execution environment for a Node.js function: the Node.js twin of
// ../worker.py, speaking the same protocol (../frames.py).
//
// emulator/runtime/invoker.py starts this file as `node worker.mjs --fds IN OUT`; nothing
// imports it. It uses only Node's own modules (it shares the process with user code)
// and loads its siblings by path: endpoint_redirect.mjs, fallback_resolve.mjs and,
// for --debug-function, worker_debug.mjs.
//
// Life of a worker, like the Lambda Node.js runtime (aws-lambda-nodejs-runtime-interface-
// client, "NODERIC" in reference/lambda-runtime.md §6):
//
// 1. Init: patch console to Lambda's text format, redirect the API's execute-api host to
//    the gateway, let `import` find the runtime's SDK (WSGW_NODE_FALLBACK), chdir to
//    LAMBDA_TASK_ROOT, load _HANDLER as the runtime does (§6.1), answer
//    {"type":"ready"} (with initError when that failed: every invocation then fails
//    with it, and it is logged once, here).
// 2. Invoke, one at a time: read {"type":"invoke",...}, run the handler (a returned
//    promise, or the callback, §6.3), write START/END/REPORT and send the result.
// 3. Exit when the invoker closes its pipe to us (the invoker kills us on a timeout).
//
// Frames: a 4-byte big-endian length, then that many bytes of UTF-8 JSON, both ways.

import fs from "node:fs";
import { createRequire } from "node:module";
import * as nodeModule from "node:module";
import net from "node:net";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import util from "node:util";

const HERE = path.dirname(fileURLToPath(import.meta.url));

// -- logging: Lambda's text format (NODERIC LogPatch.js, reference §6.4) --------------------

let requestId; // printed as "undefined" during init, as on AWS (reference §6.2)
let pendingStart = ""; // START of the current invocation, held until its first output
let wrote = false; // something was written during the current invocation
let midLine = false; // the last write did not end its line

const rawOut = process.stdout.write.bind(process.stdout);
const rawErr = process.stderr.write.bind(process.stderr);

function flushStart() {
  if (pendingStart) {
    const start = pendingStart;
    pendingStart = "";
    rawOut(start);
  }
}

function wrap(raw) {
  return function write(chunk, ...rest) {
    flushStart();
    wrote = true;
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    if (text) midLine = !text.endsWith("\n");
    return raw(chunk, ...rest);
  };
}

process.stdout.write = wrap(rawOut);
process.stderr.write = wrap(rawErr);

// Deliberate difference: AWS turns newlines inside one message into "\r" (one
// CloudWatch event); the gateway's log is line based, so they stay "\n" here, as in
// the Python worker.
function logLine(level, text) {
  process.stdout.write(`${new Date().toISOString()}\t${requestId}\t${level}\t${text}\n`);
}

const LEVELS = { log: "INFO", info: "INFO", warn: "WARN", error: "ERROR", debug: "DEBUG", trace: "TRACE" };
for (const [method, level] of Object.entries(LEVELS)) {
  console[method] = (...args) => logLine(level, util.format(...args));
}
console.fatal = (...args) => logLine("FATAL", util.format(...args));

// -- errors (NODERIC Errors.js) -----------------------------------------------------------

class RuntimeError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = `Runtime.${kind}`;
  }
}

function isError(value) {
  return util.types.isNativeError(value) || (value !== null && typeof value === "object" &&
    typeof value.name === "string" && typeof value.message === "string");
}

// What the invoke result and the log carry: errorType, errorMessage, trace.
function errorFields(error) {
  if (isError(error)) {
    return {
      errorType: error.name, errorMessage: error.message,
      // Like the runtime, leave out its own frames (this file and its siblings).
      trace: typeof error.stack === "string" ? error.stack.split("\n").filter((line) => !line.includes(HERE)) : [],
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

// `<ts>\t<id>\tERROR\tInvoke Error \t{"errorType":...,"stack":[...]}` (NODERIC).
function logError(what, error) {
  const { errorType, errorMessage, trace } = errorFields(error);
  logLine("ERROR", `${what} \t${JSON.stringify({ errorType, errorMessage, stack: trace })}`);
}

// -- the handler, found as the runtime finds it (NODERIC UserFunction.js, reference §6.1) ---

function hasTypeModule(start) {
  // The nearest package.json, walking up, stopping at a node_modules folder or "/".
  let folder = path.dirname(start);
  for (;;) {
    const manifest = path.join(folder, "package.json");
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder || path.basename(folder) === "node_modules") return false;
    folder = parent;
  }
}

const isFile = (file) => fs.existsSync(file) && fs.statSync(file).isFile();

async function loadModule(taskRoot, moduleRoot, name) {
  const require = createRequire(path.join(taskRoot, "index.js"));
  const base = path.resolve(taskRoot, moduleRoot, name);
  if (isFile(base)) return require(base);
  const esm = hasTypeModule(base);
  if (!esm && isFile(`${base}.js`)) return require(`${base}.js`);
  if (esm && isFile(`${base}.js`)) return import(pathToFileURL(`${base}.js`).href);
  if (isFile(`${base}.mjs`)) return import(pathToFileURL(`${base}.mjs`).href);
  if (isFile(`${base}.cjs`)) return require(`${base}.cjs`);
  return require(require.resolve(name, { paths: [taskRoot, path.resolve(taskRoot, moduleRoot)] }));
}

async function loadHandler(taskRoot, handlerString) {
  if (handlerString.includes("..")) {
    throw new RuntimeError("MalformedHandlerName", `'${handlerString}' is not a valid handler name. ` +
      "Use absolute paths when specifying root directories in handler names.");
  }
  const slash = handlerString.lastIndexOf("/") + 1;
  const moduleRoot = handlerString.slice(0, slash);
  const moduleAndPath = handlerString.slice(slash);
  const dot = moduleAndPath.indexOf(".");
  if (dot < 0) throw new RuntimeError("MalformedHandlerName", "Bad handler");
  let app;
  try {
    app = await loadModule(taskRoot, moduleRoot, moduleAndPath.slice(0, dot));
  } catch (error) {
    if (error instanceof SyntaxError) throw new RuntimeError("UserCodeSyntaxError", String(error));
    // Only CommonJS's MODULE_NOT_FOUND is wrapped; an ES module's ERR_MODULE_NOT_FOUND
    // surfaces as it is (reference §6.2).
    if (error && error.code === "MODULE_NOT_FOUND") throw new RuntimeError("ImportModuleError", String(error));
    throw error;
  }
  let handler = app;
  for (const key of moduleAndPath.slice(dot + 1).split(".")) handler = handler?.[key];
  if (handler === undefined) throw new RuntimeError("HandlerNotFound", `${handlerString} is undefined or not exported`);
  if (typeof handler !== "function") throw new RuntimeError("HandlerNotFound", `${handlerString} is not a function`);
  return handler;
}

// -- the frame channel ----------------------------------------------------------------------

class Channel {
  // Frames come in on pipe IN and go out on pipe OUT (two pipes: ../frames.py says why),
  // opened as Node opens its own stdin and stdout when they are pipes.
  constructor(inFd, outFd) {
    this.input = new net.Socket({ fd: inFd, readable: true, writable: false });
    this.output = new net.Socket({ fd: outFd, readable: false, writable: true });
    this.buffer = Buffer.alloc(0);
    this.frames = [];
    this.waiter = null;
    this.ended = false;
    this.input.on("data", (chunk) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      while (this.buffer.length >= 4) {
        const end = 4 + this.buffer.readUInt32BE(0);
        if (this.buffer.length < end) break;
        this.frames.push(JSON.parse(this.buffer.subarray(4, end).toString("utf8")));
        this.buffer = this.buffer.subarray(end);
      }
      this.wake();
    });
    const end = () => { this.ended = true; this.wake(); };
    this.input.on("end", end);
    this.input.on("error", end);
    this.output.on("error", end); // the invoker is gone: nothing more to send
  }

  wake() {
    if (this.waiter && (this.frames.length || this.ended)) {
      const resolve = this.waiter;
      this.waiter = null;
      resolve(this.frames.length ? this.frames.shift() : null);
    }
  }

  // The next message, or null once the invoker closed its end.
  receive() {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.wake();
    });
  }

  send(text) {
    const body = Buffer.from(text, "utf8");
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length, 0);
    this.output.write(Buffer.concat([header, body]));
  }

  // While a handler runs, our pipes must not keep the event loop alive: the loop
  // draining is how a callback handler's result (callbackWaitsForEmptyEventLoop) and a
  // never-settled promise are detected ("beforeExit", as NODERIC does).
  ref() { this.input.ref(); this.output.ref(); }
  unref() { this.input.unref(); this.output.unref(); }
}

// -- one invocation (NODERIC Runtime.js, CallbackContext.js, InvokeContext.js) -------------

function makeContext(message, finishWith) {
  const env = process.env;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    invokedFunctionArn: message.context?.invokedFunctionArn,
    awsRequestId: message.requestId,
    clientContext: undefined,
    identity: undefined,
    getRemainingTimeInMillis: () => Math.max(0, message.deadlineMs - Date.now()),
  };
  context.succeed = (result) => finishWith(null, result);
  context.fail = (error) => finishWith(error ?? "handled");
  context.done = (error, result) => finishWith(error, result);
  return context;
}

function runHandler(handler, message, channel) {
  return new Promise((resolve) => {
    let settled = false;
    let reported = false; // callback/succeed/fail/done: only the first one counts
    let waiting = null; // callback(null, result) waiting for the event loop to drain
    let returnedPromise = false;
    const finish = (outcome) => {
      if (settled) return;
      settled = true;
      process.off("beforeExit", drained);
      channel.ref();
      resolve(outcome);
    };
    const failed = (error) => {
      logError("Invoke Error", error);
      const { errorType, errorMessage } = errorFields(error);
      return { ok: false, errorType, errorMessage };
    };
    const callback = (error, result) => {
      if (reported) return;
      reported = true;
      if (error !== undefined && error !== null) finish(failed(error));
      else if (context.callbackWaitsForEmptyEventLoop) waiting = { ok: true, result };
      else finish({ ok: true, result });
    };
    const context = makeContext(message, callback);
    function drained() {
      if (waiting) finish(waiting);
      else if (returnedPromise) {
        finish(failed(new RuntimeError("NodeJsExit", "Runtime exited without providing a reason. The handler " +
          "returned a promise that never settled and nothing else kept the event loop busy.")));
      } else finish({ ok: true, result: null }); // sync handler, no callback: null (reference §6.3)
    }
    process.on("beforeExit", drained);
    channel.unref();
    current = finish;
    let returned;
    try {
      returned = handler(message.event, context, callback);
    } catch (error) {
      finish(failed(error));
      return;
    }
    if (returned && typeof returned.then === "function") {
      returnedPromise = true;
      returned.then((result) => {
        if (reported) {
          logLine("WARN", "Invocation has already been reported as done. Cannot call complete more than once per invocation.");
        }
        finish({ ok: true, result });
      }, (error) => finish(failed(error)));
    }
  });
}

// An error nobody caught while a handler runs ends the invocation with it and the
// process with 129 (uncaught exception) or 128 (unhandled rejection), as NODERIC's
// index.mjs does; the next invocation gets a new worker.
let current = null;
let exitAfterResult = null;

function fatal(kind, error, status) {
  logError(kind, error);
  if (current === null) process.exit(status);
  const finish = current;
  current = null;
  exitAfterResult = status;
  const { errorType, errorMessage } = errorFields(error);
  finish({ ok: false, errorType, errorMessage });
}

process.on("uncaughtException", (error) => fatal("Uncaught Exception", error, 129));
process.on("unhandledRejection", (reason) => {
  const error = isError(reason) ? reason : new RuntimeError("UnhandledPromiseRejection", String(reason));
  fatal("Unhandled Promise Rejection", error, 128);
});

function maxMemoryMb() {
  return Math.round(process.resourceUsage().maxRSS / 1024); // KiB on Linux and macOS
}

function encodeResult(id, fields) {
  if (!fields.ok) return JSON.stringify({ type: "result", requestId: id, ...fields });
  try {
    const result = fields.result === undefined ? null : fields.result;
    return JSON.stringify({ type: "result", requestId: id, ok: true, result });
  } catch (error) {
    // JSON.stringify failed (a cycle, a BigInt): wsgw's name for it, as in the Python
    // runtime (the Node.js runtime's own wording is [unconfirmed]).
    const fault = new RuntimeError("MarshalError", `Unable to stringify response body: ${error.message}`);
    logError("Invoke Error", fault);
    return JSON.stringify({ type: "result", requestId: id, ok: false, errorType: fault.name, errorMessage: fault.message });
  }
}

// -- main ------------------------------------------------------------------------------------

async function init(taskRoot) {
  const reason = process.env.WSGW_INIT_ERROR; // the SDK could not be installed
  if (reason) throw new RuntimeError("ImportModuleError", reason);
  return loadHandler(taskRoot, process.env._HANDLER ?? "");
}

async function main() {
  const [flag, inText, outText] = process.argv.slice(2);
  if (flag !== "--fds" || !inText || !outText) {
    rawErr("usage: worker.mjs --fds IN OUT\n");
    return 2;
  }
  process.on("SIGINT", () => {}); // Ctrl+C reaches the process group; the invoker stops us
  const channel = new Channel(Number(inText), Number(outText));
  const started = performance.now();
  const taskRoot = process.env.LAMBDA_TASK_ROOT;
  process.chdir(taskRoot);
  const hosts = process.env.WSGW_REDIRECT_HOSTS;
  const target = process.env.WSGW_REDIRECT_TARGET;
  if (hosts && target) (await import("./endpoint_redirect.mjs")).install(hosts.split(","), target);
  const fallback = process.env.WSGW_NODE_FALLBACK;
  if (fallback && typeof nodeModule.register === "function") {
    nodeModule.register(pathToFileURL(path.join(HERE, "fallback_resolve.mjs")).href,
      { data: { folders: fallback.split(path.delimiter).filter(Boolean) } });
  }
  // run-local --debug-function: Node's inspector (worker_debug.mjs, loaded only then).
  const debug = process.env.WSGW_DEBUGPY;
  const beforeInvoke = debug ? (await import("./worker_debug.mjs")).inspectorHook(debug) : null;

  let handler = null;
  let initError = null;
  try {
    handler = await init(taskRoot);
  } catch (error) {
    initError = error;
    logError("Uncaught Exception", error);
  }
  const ready = { type: "ready" };
  if (initError) {
    const { errorType, errorMessage } = errorFields(initError);
    ready.initError = { errorType, errorMessage };
  }
  channel.send(JSON.stringify(ready));

  let initMs = performance.now() - started;
  const version = process.env.AWS_LAMBDA_FUNCTION_VERSION ?? "$LATEST";
  const memory = process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "128";
  for (;;) {
    const message = await channel.receive();
    if (message === null) return 0;
    if (message.type !== "invoke") continue;
    if (beforeInvoke) beforeInvoke();
    const id = message.requestId;
    requestId = id;
    if (message.traceId) process.env._X_AMZN_TRACE_ID = message.traceId;
    else delete process.env._X_AMZN_TRACE_ID;
    pendingStart = `START RequestId: ${id} Version: ${version}\n`;
    wrote = false;
    const begun = performance.now();
    const outcome = handler === null
      ? { ok: false, ...(({ errorType, errorMessage }) => ({ errorType, errorMessage }))(errorFields(initError)) }
      : await runHandler(handler, message, channel);
    current = null;
    const duration = performance.now() - begun;
    let report = `REPORT RequestId: ${id}\tDuration: ${duration.toFixed(2)} ms` +
      `\tBilled Duration: ${Math.max(1, Math.ceil(duration))} ms` +
      `\tMemory Size: ${memory} MB\tMax Memory Used: ${maxMemoryMb()} MB`;
    if (initMs !== null) { // like Lambda: only on the cold start's REPORT
      report += `\tInit Duration: ${initMs.toFixed(2)} ms`;
      initMs = null;
    }
    if (midLine) rawOut("\n");
    midLine = false;
    const start = pendingStart;
    pendingStart = "";
    const lines = `${start}END RequestId: ${id}\n${report}\n`;
    let body = encodeResult(id, outcome);
    if (start && !wrote) {
      // Nothing printed: START/END/REPORT travel in the result frame (see worker.py).
      body = `${body.slice(0, -1)},"log":${JSON.stringify(lines)}}`;
    } else {
      rawOut(lines);
    }
    channel.send(body);
    if (exitAfterResult !== null) {
      channel.output.end(() => process.exit(exitAfterResult));
      return null;
    }
  }
}

const status = await main();
if (status !== null) process.exit(status);
