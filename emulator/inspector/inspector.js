// wsgw inspector: the page's logic, plain JS (no library, nothing fetched from elsewhere).
// Everything comes from the gateway it is served by: /@inspector/api/state once, then
// /@inspector/api/events (Server-Sent Events) pushes rows as they happen.
"use strict";

(function () {
  const MAX_ROWS = 10000;     // rows the page keeps (the gateway's ring is the history)
  const SHOWN_ROWS = 500;     // rows drawn at once
  const SHOWN_CONNECTIONS = 1000;
  const CHART_SECONDS = 300;  // charts cover the last five minutes
  const LATENCY_SAMPLES = 100;

  const token = new URLSearchParams(location.search).get("token") || "";
  const api = (path) => "api/" + path + (token ? (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : "");
  const $ = (id) => document.getElementById(id);

  const state = {
    stage: "", rows: [], paused: false, pending: 0, next: 0,
    connections: new Map(),  // cid -> entry
    latency: new Map(),      // function -> recent durations
    perSecond: new Map(),    // epoch second -> messages in
    openSeries: [],          // [second, open count]
    selectedRequest: null, chartsAt: 0, dirty: { timeline: true, connections: true, charts: true },
    routes: new Set(), functions: new Set(),
  };

  // -- helpers ------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const clock = (ms) => {
    const d = new Date(ms);
    return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
  };
  const shortId = (id) => id || "";
  const pretty = (value) => JSON.stringify(value, null, 2);
  const bytes = (n) => n < 1024 ? n + " B" : (n / 1024).toFixed(1) + " KB";

  async function call(method, path, body) {
    const headers = { "X-Wsgw-Inspector": "1" };
    if (token) headers["X-Wsgw-Token"] = token;
    const response = await fetch(api(path), { method, headers, body });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data };
  }

  // -- rows in ------------------------------------------------------------------------

  function take(rows) {
    for (const row of rows) {
      state.rows.push(row);
      note(row);
    }
    if (state.rows.length > MAX_ROWS) state.rows.splice(0, state.rows.length - MAX_ROWS);
    if (state.paused) state.pending += rows.length;
    else state.dirty.timeline = true;
    state.dirty.connections = true;
    state.dirty.charts = true;
  }

  function note(row) {
    const c = row.cid && state.connections.get(row.cid);
    switch (row.kind) {
      case "open":
        state.connections.set(row.cid, {
          cid: row.cid, state: "CONNECTING", connectedAt: row.t, lastActiveAt: row.t,
          sourceIp: row.sourceIp, userAgent: row.userAgent,
        });
        break;
      case "connected":
        if (c) { c.state = "OPEN"; c.subprotocol = row.subprotocol; c.lastActiveAt = row.t; }
        else state.connections.set(row.cid, { cid: row.cid, state: "OPEN", connectedAt: row.t, lastActiveAt: row.t, subprotocol: row.subprotocol });
        sampleOpen(row.t);
        break;
      case "close":
        if (c) { c.state = "CLOSED"; c.code = row.code; c.reason = row.reason; c.lastActiveAt = row.t; }
        sampleOpen(row.t);
        break;
      case "in": {
        if (c) c.lastActiveAt = row.t;
        const second = Math.floor(row.t / 1000);
        state.perSecond.set(second, (state.perSecond.get(second) || 0) + 1);
        break;
      }
      case "out": case "post":
        if (c && (row.kind === "out" || row.status === 200)) c.lastActiveAt = row.t;
        break;
      case "invoke": {
        let samples = state.latency.get(row.function);
        if (!samples) state.latency.set(row.function, samples = []);
        samples.push(row.durationMs);
        if (samples.length > LATENCY_SAMPLES) samples.shift();
        break;
      }
    }
    if (row.route && !state.routes.has(row.route)) { state.routes.add(row.route); addOption($("f-route"), row.route); }
    if (row.function && !state.functions.has(row.function)) { state.functions.add(row.function); addOption($("f-function"), row.function); }
  }

  function addOption(select, value) {
    const options = [...select.options].slice(1).map((o) => o.value).concat(value).sort();
    const chosen = select.value;
    select.length = 1;
    for (const v of options) select.append(el("option", { value: v, text: v }));
    select.value = chosen;
  }

  function openCount() {
    let n = 0;
    for (const c of state.connections.values()) if (c.state === "OPEN") n++;
    return n;
  }
  function sampleOpen(t) {
    state.openSeries.push([Math.floor(t / 1000), openCount()]);
    if (state.openSeries.length > 5000) state.openSeries.splice(0, 1000);
  }

  // -- the timeline -----------------------------------------------------------------------

  function filters() {
    return {
      conn: $("f-conn").value.trim(), route: $("f-route").value, fn: $("f-function").value,
      outcome: $("f-outcome").value, text: $("f-text").value.trim().toLowerCase(), newest: $("f-newest").checked,
    };
  }

  function matches(row, f) {
    if (f.conn && !(row.cid || "").includes(f.conn)) return false;
    if (f.route && row.route !== f.route) return false;
    if (f.fn && row.function !== f.fn) return false;
    if (f.outcome && row.status !== f.outcome) return false;
    if (f.text) {
      if (row._search === undefined) row._search = JSON.stringify(row).toLowerCase();
      if (!row._search.includes(f.text)) return false;
    }
    return true;
  }

  function describe(row) {
    switch (row.kind) {
      case "in": {
        const why = row.refusedRoute ? "route " + row.refusedRoute + " refused it"
          : row.route === null ? "no route matched → Forbidden"
          : "selection " + (row.selection === null ? "(none)" : JSON.stringify(row.selection)) + " → " + row.route;
        return [el("span", { class: "mono", text: row.text + (row.cut ? " …(+" + row.cut + " chars)" : "") }),
                el("span", { class: "tag", text: bytes(row.size) + " · " + why })];
      }
      case "out":
        return [el("span", { class: "mono", text: row.text + (row.cut ? " …" : "") }),
                el("span", { class: "tag", text: bytes(row.size) + (row.cause === "error" ? " · error frame" : " · reply") })];
      case "invoke":
        return [el("span", { class: "mono", text: row.requestId }),
                el("span", { class: "tag", text: integration(row) || (row.cold === true ? "cold start" : row.cold === false ? "warm" : "") })];
      case "open":
        return [el("span", { text: "upgrade " + row.path + " from " + row.sourceIp }),
                el("span", { class: "tag", text: row.userAgent || "" })];
      case "connected":
        return [el("span", { text: "established" + (row.subprotocol ? ", subprotocol " + row.subprotocol : "") })];
      case "close":
        return [el("span", { text: "closed " + row.code + (row.reason ? " " + row.reason : "") })];
      case "post": case "manage":
        return [el("span", { class: "mono", text: row.method + " " + row.target + (row.text ? "  " + row.text : "") }),
                el("span", { class: "tag", text: row.viaInspector ? "from this page" : "" })];
      case "refused":
        if (row.path === undefined) {  // a message its route refused (throttled, invalid body)
          return [el("span", { text: "refused " + row.status + " on route " + row.route + ": " + row.reason })];
        }
        return [el("span", { text: "refused " + row.status + " " + row.path + " from " + row.sourceIp + ": " + row.reason })];
      default:
        return [el("span", { text: row.text || "" })];
    }
  }

  // A MOCK, HTTP, HTTP_PROXY or AWS integration: its type and the status it answered
  // (a Lambda function's row says cold or warm instead).
  function integration(row) {
    if (!row.integrationType || row.integrationType === "AWS_PROXY") return "";
    return row.integrationType + (row.integrationStatus !== null && row.integrationStatus !== undefined
      ? " · status " + row.integrationStatus : "");
  }

  const KIND_LABEL = { in: "frame in", out: "frame out", invoke: "invocation", open: "upgrade", connected: "connected",
    close: "close", post: "@connections", manage: "@connections", refused: "refused" };

  function result(row) {
    if (row.kind === "invoke") {
      return el("span", {}, el("span", { class: "st-" + row.status, text: row.status + (row.errorType ? " " + row.errorType : "") }),
        el("span", { class: "tag", text: row.durationMs.toFixed(1) + " ms" }));
    }
    if (row.kind === "post" || row.kind === "manage" || row.kind === "refused") {
      return el("span", { class: row.status < 300 ? "st-ok" : "st-error", text: String(row.status) });
    }
    if (row.kind === "out" && row.cause === "error") return el("span", { class: "st-error", text: "error" });
    return "";
  }

  function renderTimeline() {
    const f = filters();
    const body = $("timeline").tBodies[0];
    const chosen = [];
    const rows = state.rows;
    let total = 0;
    for (let i = rows.length - 1; i >= 0; i--) {
      if (!matches(rows[i], f)) continue;
      total++;
      if (chosen.length < SHOWN_ROWS) chosen.push(rows[i]);
    }
    if (!f.newest) chosen.reverse();
    const fragment = document.createDocumentFragment();
    for (const row of chosen) {
      const clickable = row.kind === "invoke" || (row.requestId && row.kind !== "open");
      const tr = el("tr", { class: (clickable ? "clickable" : "") + (row.requestId && row.requestId === state.selectedRequest ? " selected" : ""),
        "data-seq": row.seq, "data-kind": row.kind },
        el("td", { class: "mono", text: clock(row.t) }),
        el("td", { class: "mono", title: row.cid || "", text: shortId(row.cid) }),
        el("td", {}, el("span", { class: "kind " + row.kind, text: KIND_LABEL[row.kind] || row.kind })),
        el("td", { title: row.text || "" }, ...describe(row)),
        el("td", { class: "mono", title: row.route || "", text: row.route || "" }),
        el("td", { class: "mono", title: row.function || "", text: row.function || "" }),
        el("td", {}, result(row)));
      if (clickable) tr.addEventListener("click", () => openInvocation(row.requestId));
      fragment.append(tr);
    }
    body.replaceChildren(fragment);
    $("timeline-empty").hidden = rows.length > 0;
    const more = $("timeline-more");
    more.hidden = total <= chosen.length && !(rows.length && !total);
    more.textContent = total === 0 ? "No row matches the filters." : "Showing " + chosen.length + " of " + total + " matching rows.";
    $("count-timeline").textContent = String(rows.length);
  }

  // -- connections -------------------------------------------------------------------------

  function renderConnections() {
    const body = $("connections").tBodies[0];
    const all = [...state.connections.values()].sort((a, b) => {
      const open = (b.state !== "CLOSED") - (a.state !== "CLOSED");
      return open || b.connectedAt - a.connectedAt;
    });
    const fragment = document.createDocumentFragment();
    for (const c of all.slice(0, SHOWN_CONNECTIONS)) {
      const authorizer = c.authorizer ? JSON.stringify(c.authorizer) : "";
      const actions = el("td", { class: "actions" });
      if (c.state === "OPEN") {
        actions.append(el("button", { type: "button", text: "Post…", "data-action": "post", onclick: () => openPost(c.cid) }), " ",
          el("button", { type: "button", class: "danger", text: "Disconnect", "data-action": "disconnect", onclick: () => disconnect(c.cid) }));
      }
      fragment.append(el("tr", { "data-cid": c.cid },
        el("td", { class: "mono", title: c.cid, text: c.cid }),
        el("td", { class: "state-" + c.state, text: c.state }),
        el("td", { text: clock(c.connectedAt) }),
        el("td", { text: clock(c.lastActiveAt) }),
        el("td", { class: "mono", text: c.sourceIp || "" }),
        el("td", { title: c.userAgent || "", text: c.userAgent || "" }),
        el("td", { text: c.subprotocol || "" }),
        el("td", { class: "mono", title: authorizer, text: authorizer }),
        el("td", { title: c.reason || "", text: c.code !== undefined ? c.code + " " + (c.reason || "") : "" }),
        actions));
    }
    body.replaceChildren(fragment);
    $("connections-empty").hidden = all.length > 0;
    const more = $("connections-more");
    more.hidden = all.length <= SHOWN_CONNECTIONS;
    more.textContent = "Showing " + SHOWN_CONNECTIONS + " of " + all.length + " connections (newest open first).";
    const open = openCount();
    $("count-connections").textContent = String(open);
    const ids = $("conn-ids");
    if (ids.childElementCount !== Math.min(all.length, 200)) {
      ids.replaceChildren(...all.slice(0, 200).map((c) => el("option", { value: c.cid })));
    }
  }

  // -- charts ------------------------------------------------------------------------------

  function drawSeries(canvas, values, colour) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 300, h = canvas.clientHeight || 56;
    canvas.width = w * ratio; canvas.height = h * ratio;
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, w, h);
    const max = Math.max(1, ...values);
    g.strokeStyle = "#e2e5ea"; g.beginPath(); g.moveTo(0, h - 0.5); g.lineTo(w, h - 0.5); g.stroke();
    g.fillStyle = colour + "33"; g.strokeStyle = colour; g.lineWidth = 1.5;
    g.beginPath();
    values.forEach((v, i) => {
      const x = (i / Math.max(1, values.length - 1)) * w, y = h - 2 - (v / max) * (h - 8);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
    g.lineTo(w, h); g.lineTo(0, h); g.closePath(); g.fill();
    g.fillStyle = "#6b7385"; g.font = "10px system-ui, sans-serif"; g.fillText(String(max), 2, 10);
  }

  function renderCharts() {
    state.chartsAt = Date.now();
    const now = Math.floor(Date.now() / 1000);
    const messages = [], open = [];
    let series = 0, current = state.openSeries.length ? 0 : openCount();
    for (let s = now - CHART_SECONDS + 1; s <= now; s++) {
      messages.push(state.perSecond.get(s) || 0);
      while (series < state.openSeries.length && state.openSeries[series][0] <= s) current = state.openSeries[series++][1];
      open.push(current);
    }
    for (const s of state.perSecond.keys()) if (s < now - CHART_SECONDS) state.perSecond.delete(s);
    drawSeries($("chart-conn"), open, "#2f6fde");
    drawSeries($("chart-msg"), messages, "#1f8a4c");
    $("chart-conn-now").textContent = String(openCount());
    $("chart-msg-now").textContent = String(messages[messages.length - 2] || 0);
    const box = $("latency");
    if (!state.latency.size) return;
    const items = [];
    for (const [fn, samples] of [...state.latency.entries()].sort()) {
      const sorted = [...samples].sort((a, b) => a - b);
      const p = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      const canvas = el("canvas", { width: 160, height: 16 });
      items.push(el("span", { class: "fn", title: fn, text: fn }), canvas,
        el("span", { class: "muted", text: "p50 " + p(0.5).toFixed(1) + " · p95 " + p(0.95).toFixed(1) + " · n " + samples.length }));
      requestAnimationFrame(() => drawBars(canvas, samples));
    }
    box.replaceChildren(...items);
  }

  function drawBars(canvas, samples) {
    const w = 160, h = 16, g = canvas.getContext("2d");
    g.clearRect(0, 0, w, h);
    const max = Math.max(...samples, 0.001), bar = Math.min(8, w / samples.length);
    g.fillStyle = "#7a5bd0";
    samples.forEach((v, i) => { const bh = Math.max(1, (v / max) * h); g.fillRect(i * bar, h - bh, Math.max(1, bar - 0.5), bh); });
  }

  // -- the drawer: an invocation, a post -----------------------------------------------------

  function drawer(title, ...content) {
    $("drawer-title").textContent = title;
    $("drawer-body").replaceChildren(...content);
    $("drawer").hidden = false;
  }

  async function openInvocation(requestId) {
    state.selectedRequest = requestId;
    state.dirty.timeline = true;
    drawer("Invocation " + requestId, el("p", { class: "muted", text: "Loading…" }));
    const { status, data } = await call("GET", "invocations/" + encodeURIComponent(requestId));
    if (status !== 200) {
      drawer("Invocation " + requestId, el("p", { class: "muted", text: (data && data.message) || "Not found." }));
      return;
    }
    const original = pretty(data.event);
    const editor = el("textarea", { id: "replay-event", spellcheck: "false" });
    editor.value = original;
    const outcome = el("div", { id: "replay-result" });
    const replay = el("button", { type: "button", class: "primary", id: "replay", text: "Replay" });
    replay.addEventListener("click", async () => {
      let body = { requestId };
      if (editor.value !== original) {
        try { body.event = JSON.parse(editor.value); } catch (e) { outcome.replaceChildren(el("p", { class: "st-error", text: "The event is not JSON: " + e.message })); return; }
      }
      replay.disabled = true;
      outcome.replaceChildren(el("p", { class: "muted", text: "Running…" }));
      const answer = await call("POST", "replay", JSON.stringify(body));
      replay.disabled = false;
      const r = answer.data || {};
      outcome.replaceChildren(
        el("h3", { text: "Replay" }),
        el("p", {}, el("span", { class: "st-" + r.status, text: r.status || String(answer.status) }),
          el("span", { class: "tag", text: r.durationMs !== undefined ? r.durationMs.toFixed(1) + " ms" : "" }),
          el("span", { class: "tag mono", text: r.requestId || (r.message || "") })),
        el("pre", { class: "replay-output", text: pretty(r.result !== undefined ? r.result : (r.error || r)) }));
    });
    const facts = el("dl", { class: "facts" });
    const fact = (k, v) => facts.append(el("dt", { text: k }), el("dd", { text: v }));
    fact(integration(data) ? "target" : "function", data.target || data.function);
    fact("route", data.route); fact("connection", data.cid);
    if (integration(data)) fact("integration", integration(data));
    fact("outcome", data.status + (data.error ? " " + data.error.errorType : ""));
    fact("duration", data.durationMs.toFixed(2) + " ms" + (data.cold === true ? " (cold start)" : data.cold === false ? " (warm)" : ""));
    const res = data.error ? pretty(data.error) : pretty(data.result);
    drawer("Invocation " + requestId, facts,
      el("h3", { text: data.error ? "Error" : "Result" }), el("pre", { id: "detail-result", class: data.error ? "st-error" : "", text: res }),
      el("h3", { text: "Event (edit, then replay)" }), editor,
      el("div", { class: "actions-row" }, replay,
        el("span", { class: "muted small", text: "Runs " + data.function + " again with this event, like the Lambda console's Test." })),
      outcome,
      el("h3", { text: "Log" }), el("pre", { id: "detail-logs", text: data.logs.length ? data.logs.join("\n") : "(no lines)" }),
      el("h3", { text: "Context" }),
      el("pre", { text: data.context === null ? "(not a Lambda function: no context)" : pretty(data.context) }));
  }

  function openPost(cid) {
    const text = el("textarea", { id: "post-text", rows: 5, placeholder: "the message to send" });
    const answer = el("p", { class: "muted", id: "post-result" });
    const send = el("button", { type: "button", class: "primary", id: "post-send", text: "Post" });
    send.addEventListener("click", async () => {
      const r = await call("POST", "connections/" + encodeURIComponent(cid), text.value);
      const status = r.data ? r.data.status : r.status;
      answer.textContent = status === 200 ? "Posted (200)." : "Refused: " + status + " " + ((r.data && r.data.body) || "");
    });
    drawer("Post to " + cid, el("p", { class: "muted", text: "Sends one message through @connections (PostToConnection), as a handler would." }),
      text, el("div", { class: "actions-row" }, send), answer);
    text.focus();
  }

  async function disconnect(cid) {
    const r = await call("DELETE", "connections/" + encodeURIComponent(cid));
    const status = r.data ? r.data.status : r.status;
    if (status !== 204) alert("DELETE @connections/" + cid + ": " + status);
  }

  // -- the page's own client ---------------------------------------------------------------------

  let socket = null;
  function clientLog(kind, text) {
    const log = $("client-log");
    log.prepend(el("li", { class: kind }, el("span", { class: "dir", text: { sent: "sent", recv: "received", note: "" }[kind] }), text));
    while (log.childElementCount > 500) log.lastChild.remove();
  }
  function clientState(open, text) {
    $("client-connect").disabled = open;
    $("client-close").disabled = !open;
    $("client-send-button").disabled = !open;
    $("client-state").textContent = text;
  }
  $("client-open").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = $("client-query").value.trim().replace(/^\?/, "");
    const protocols = $("client-proto").value.split(",").map((p) => p.trim()).filter(Boolean);
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/" + state.stage + (query ? "?" + query : "");
    clientState(true, "connecting to " + url + "…");
    try { socket = new WebSocket(url, protocols); } catch (e) { clientState(false, String(e)); return; }
    socket.addEventListener("open", () => clientState(true, "connected" + (socket.protocol ? " (" + socket.protocol + ")" : "")));
    socket.addEventListener("message", (m) => clientLog("recv", typeof m.data === "string" ? m.data : "(binary)"));
    socket.addEventListener("close", (c) => { clientLog("note", "closed " + c.code + (c.reason ? " " + c.reason : "")); clientState(false, "not connected"); socket = null; });
  });
  $("client-close").addEventListener("click", () => socket && socket.close(1000));
  $("client-send").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!socket || socket.readyState !== 1) return;
    socket.send($("client-text").value);
    clientLog("sent", $("client-text").value);
  });

  // -- controls ---------------------------------------------------------------------------------

  for (const tab of document.querySelectorAll(".tabs button")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".tabs button")) other.classList.toggle("active", other === tab);
      for (const section of document.querySelectorAll(".tab")) section.classList.toggle("active", section.id === "tab-" + tab.dataset.tab);
      state.dirty.timeline = state.dirty.connections = true;
    });
  }
  for (const id of ["f-conn", "f-route", "f-function", "f-outcome", "f-text", "f-newest"]) {
    $(id).addEventListener("input", () => { state.dirty.timeline = true; });
  }
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    $("pause").textContent = state.paused ? "Resume" : "Pause";
    if (!state.paused) { state.pending = 0; state.dirty.timeline = true; }
    live(state.connected);
  });
  $("clear").addEventListener("click", () => { state.rows = []; state.pending = 0; state.dirty.timeline = true; });
  $("drawer-close").addEventListener("click", () => { $("drawer").hidden = true; state.selectedRequest = null; state.dirty.timeline = true; });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") $("drawer-close").click(); });

  function live(connected) {
    state.connected = connected;
    const pill = $("live");
    pill.className = "pill " + (!connected ? "off" : state.paused ? "paused" : "on");
    pill.textContent = !connected ? "reconnecting…" : state.paused ? "paused (" + state.pending + " new)" : "live";
  }

  // -- start -----------------------------------------------------------------------------------

  function frame() {
    if (state.dirty.timeline && !state.paused && $("tab-timeline").classList.contains("active")) { state.dirty.timeline = false; renderTimeline(); }
    if (state.dirty.connections) { state.dirty.connections = false; renderConnections(); }
    if (state.paused) live(state.connected);
    if (state.dirty.charts && Date.now() - state.chartsAt > 500) { state.dirty.charts = false; renderCharts(); }
  }

  async function start() {
    const { status, data } = await call("GET", "state");
    if (status !== 200) {
      $("timeline-empty").textContent = (data && data.message) || ("The inspector answered " + status + ".");
      live(false);
      return;
    }
    state.stage = data.stage;
    $("app-name").textContent = data.name + " · stage " + data.stage + " · " + data.routeSelectionExpression;
    $("hint-url").textContent = "wscat -c " + (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/" + data.stage;
    for (const route of data.routes) { state.routes.add(route); addOption($("f-route"), route); }
    for (const fn of data.functions) { state.functions.add(fn); addOption($("f-function"), fn); }
    for (const c of data.connections) state.connections.set(c.cid, c);
    state.openSeries.push([Math.floor(Date.now() / 1000), openCount()]);
    take(data.rows);
    for (const c of data.connections) if (c.authorizer !== undefined) { const kept = state.connections.get(c.cid); if (kept) Object.assign(kept, c); }
    $("totals").textContent = "keeping the last " + data.ringSize.toLocaleString() + " records";
    state.next = data.next;
    listen();
    setInterval(frame, 250);
    setInterval(renderCharts, 1000);
    renderCharts();
    frame();
  }

  function listen() {
    const source = new EventSource(api("events?from=" + state.next));
    source.addEventListener("open", () => live(true));
    source.addEventListener("error", () => live(false));
    source.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "rows") {
        take(data.rows);
        state.next = data.rows[data.rows.length - 1].seq + 1;
      } else if (data.type === "missed") {
        const banner = $("missed");
        const total = (Number(banner.dataset.count) || 0) + data.count;
        banner.dataset.count = String(total);
        banner.textContent = total.toLocaleString() + " records were missed: this page fell behind the gateway (the gateway never waits for a page).";
        banner.hidden = false;
      }
    });
  }

  start();
})();
