// Send a handler's HTTPS requests for the emulated API's real execute-api hostname to
// the local gateway, and its HTTPS requests to the gateway over plain HTTP: the Node.js
// twin of ../endpoint_redirect.py.
//
// Many handlers build their management client from the real hostname
// (`https://${apiId}.execute-api.${region}.amazonaws.com/${stage}`) rather than from
// requestContext.domainName. The AWS SDK for JavaScript v3 sends every request through
// `https.request` (@smithy/node-http-handler), so worker.mjs calls install() before it
// loads the handler: from then on a request for one of `hosts`, or for the gateway's
// own host:port (`https://${domainName}/${stage}`, as the AWS docs build the callback
// URL), goes to the gateway over plain HTTP on that port, path and query kept, its Host
// header naming the gateway (as the Python redirect sends it), through a keep-alive
// HTTP agent of ours (the SDK's is an HTTPS one). The gateway serves both on one port
// with the same answers; TLS between two local processes only costs CPU. Deliberate
// difference: on AWS this call is HTTPS. The request is signed before it is sent, and
// SigV4 signs the host, not the scheme. User code is not changed. Node's own modules only.

import http from "node:http";
import https from "node:https";
import { syncBuiltinESMExports } from "node:module";

function redirected(options, hosts, local, agent) {
  const host = String(options.hostname ?? options.host ?? "").toLowerCase();
  const gateway = host === local.hostname.toLowerCase() && String(options.port ?? "") === local.port;
  if (!hosts.has(host) && !gateway) return null;
  const headers = { ...(options.headers ?? {}) };
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === "host") delete headers[name];
  }
  headers.host = local.host;
  const { servername: _servername, agent: _agent, ...rest } = options;
  return { ...rest, protocol: "http:", hostname: local.hostname, host: local.hostname,
    port: Number(local.port) || 443, headers, agent };
}

export function install(hostList, target) {
  const hosts = new Set(hostList.map((host) => host.toLowerCase()));
  const local = new URL(target); // the gateway's https://host:port
  const agent = new http.Agent({ keepAlive: true });
  const original = https.request;
  function request(...args) {
    // request(options[, cb]) or request(url[, options][, cb])
    let [first, second, ...rest] = args;
    if (typeof first === "string" || first instanceof URL) {
      const url = new URL(first);
      const options = typeof second === "object" && second !== null ? second : {};
      if (typeof second === "object" && second !== null) [second, ...rest] = rest;
      else if (second !== undefined) rest = [second, ...rest];
      first = { protocol: url.protocol, hostname: url.hostname, port: url.port, path: url.pathname + url.search,
        ...options };
      const moved = redirected(first, hosts, local, agent);
      return moved ? http.request(moved, ...rest) : original(first, ...rest);
    }
    const moved = first && typeof first === "object" ? redirected(first, hosts, local, agent) : null;
    if (moved) return http.request(moved, second, ...rest);
    return original(first, second, ...rest);
  }
  https.request = request;
  https.get = (...args) => {
    const req = request(...args);
    req.end();
    return req;
  };
  syncBuiltinESMExports(); // `import { request } from "node:https"` sees it too
}
