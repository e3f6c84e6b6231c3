// run-local --debug-function for a Node.js function: the twin of ../worker_debug.py,
// loaded by worker.mjs only when WSGW_DEBUGPY is set. Node's own modules only.

import inspector from "node:inspector";

// run-local --debug-function: Node's inspector on WSGW_DEBUGPY (host:port); the first
// invocation waits for a debugger to attach. If the port is still held (a hot reload
// starts this worker beside the old one), opening is tried again before each invocation.
export function inspectorHook(address) {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon) || "127.0.0.1";
  const port = Number(address.slice(colon + 1));
  let attached = false;
  const open = () => {
    if (inspector.url()) return true;
    try {
      inspector.open(port, host, false);
      process.stdout.write(`wsgw: Node.js inspector listening on ${inspector.url()}; attach a debugger ` +
        "(VS Code \"Attach\", or chrome://inspect) to run the handler\n");
      return true;
    } catch (error) {
      process.stdout.write(`wsgw: the Node.js inspector cannot listen on ${address} yet: ${error.message}\n`);
      return false;
    }
  };
  open();
  return () => {
    if (open() && !attached) {
      inspector.waitForDebugger();
      attached = true;
    }
  };
}
