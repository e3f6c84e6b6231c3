// A module resolve hook (module.register) for worker.mjs: what Lambda's Node.js runtime
// lets a handler import without packaging it (reference lambda-runtime.md §6.5).
//
// CommonJS `require` searches NODE_PATH after the handler's own node_modules folders;
// ES module `import` ignores NODE_PATH. So a bare specifier that the normal resolution
// cannot find is tried again from each folder of `data.folders` in turn (the layers'
// nodejs/node_modules, then the runtime's SDK): the handler's own copy of a package
// always wins. Node's own modules only.

import path from "node:path";
import { pathToFileURL } from "node:url";

let parents = [];

export async function initialize(data) {
  // Resolving from a file beside a node_modules folder searches that folder first.
  parents = (data?.folders ?? []).map((folder) => pathToFileURL(path.join(path.dirname(folder), "_.mjs")).href);
}

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !isBare(specifier)) throw error;
    for (const parentURL of parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch {
        // not in this folder either
      }
    }
    throw error;
  }
}
