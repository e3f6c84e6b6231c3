"""The inspector's HTTP side: its page, its JSON API and its live stream, mounted on
the gateway's own port under :data:`PREFIX` (a path no stage name can take: stage
names are letters, digits, ``-`` and ``_``).

* ``GET {PREFIX}/`` the page (``index.html``, ``inspector.js``, ``inspector.css``: plain, shipped in the
  package; nothing is fetched from elsewhere);
* ``GET {PREFIX}/api/state`` the connections and the latest timeline rows;
* ``GET {PREFIX}/api/events?from=N`` Server-Sent Events: every row from record N on,
  pushed in batches every :data:`PUSH_INTERVAL_S` while the page is open;
* ``GET {PREFIX}/api/invocations/{requestId}`` one invocation's detail;
* ``POST {PREFIX}/api/replay`` invoke an invocation's function again (its event, or an
  edited one); ``POST``/``DELETE {PREFIX}/api/connections/{id}`` post to or disconnect
  a connection through ``@connections``.

Free when unused: with no page open nothing here runs (the pump task exists only
while a stream is open). A slow page never slows the gateway: the ring is its queue;
while its socket has more than :data:`MAX_BACKLOG` unsent bytes it is skipped, and
records the ring dropped meanwhile reach it as one ``missed`` message.

Safe by default: answered only where the gateway listens; with a ``token`` (run-local
makes one when it listens beyond loopback) every API call must carry it, and without
one the ``Host`` must be a loopback name (no DNS rebinding). Calls that change
something need the ``X-Wsgw-Inspector`` header (a cross-site form cannot send it) and a
same-origin ``Origin``. Secrets are masked (``masking.py``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..core.invocation import Failed, Succeeded
from ..core.loopback import is_loopback_host
from ..core.management import HttpResponse, ManagementRequest
from ..net.http_mount import Exchange, MountedRequest, Stream
from ..net.session_host import SessionHost
from .records import DEFAULT_RING_SIZE, Ring
from .views import INSPECTOR_AUTHORIZATION, Views, outcome_status

__all__ = ["Inspector", "InspectorOptions", "MAX_BACKLOG", "PREFIX", "PUSH_INTERVAL_S"]

PREFIX = "/@inspector"
PUSH_INTERVAL_S = 0.1  # how often open pages get what happened since
MAX_BACKLOG = 512 * 1024  # unsent bytes a page may hold before it is skipped
BATCH = 2000  # most records sent to a page at one push
STATE_ROWS = 2000  # timeline rows a newly opened page starts with
KEEPALIVE_S = 15.0
CSRF_HEADER = "x-wsgw-inspector"

_ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/inspector.js": ("inspector.js", "text/javascript; charset=utf-8"),
    "/inspector.css": ("inspector.css", "text/css; charset=utf-8"),
}
_SECURITY = (
    ("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


@dataclass(frozen=True)
class InspectorOptions:
    """``ring_size`` records kept; ``token`` required on every API call when set;
    ``record_always``: record from the start, not only while a page is open
    (recorder.py says why that is the default)."""

    ring_size: int = DEFAULT_RING_SIZE
    token: str | None = None
    record_always: bool = False

    @classmethod
    def for_host(cls, host: str, ring_size: int = DEFAULT_RING_SIZE, record_always: bool = False) -> InspectorOptions:
        """What run-local uses: no token on loopback, a fresh random one when the
        gateway listens where other machines can reach it (printed in its URL)."""
        return cls(ring_size, None if is_loopback_host(host) else secrets.token_urlsafe(18), record_always)


@dataclass
class _Page:
    """One open event stream: the next record it needs."""

    stream: Stream
    cursor: int
    last_write: float


def _json(status: int, value: Any) -> HttpResponse:
    body = json.dumps(value, default=str, ensure_ascii=False).encode()
    return HttpResponse(status, (("Content-Type", "application/json"), *_SECURITY), body)


def _error(status: int, message: str) -> HttpResponse:
    return _json(status, {"message": message})


class Inspector:
    """The mount (:class:`~emulator.net.http_mount.HttpMount`) serving the inspector."""

    def __init__(self, ring: Ring, options: InspectorOptions = InspectorOptions(),
                 watchers: Callable[[int], None] | None = None) -> None:
        self.ring = ring
        self.options = options
        self.watchers = watchers  # told how many pages are open on every change (the recorder)
        self._pages: list[_Page] = []
        self._pump_task: asyncio.Task[None] | None = None
        self._host: SessionHost | None = None
        self._assets: dict[str, bytes] = {}

    @property
    def pages(self) -> int:
        """How many pages have a live stream open now."""
        return len(self._pages)

    # -- HttpMount -----------------------------------------------------------------------

    def claims(self, target: str) -> bool:
        return target.startswith(PREFIX) and (len(target) == len(PREFIX) or target[len(PREFIX)] in "/?")

    def handle(self, request: MountedRequest, exchange: Exchange, host: SessionHost) -> None:
        self._host = host
        split = urlsplit(request.target)
        path = split.path[len(PREFIX):] or ""
        query = dict(parse_qsl(split.query))
        if not self._host_allowed(request):
            exchange.respond(_error(403, "the inspector answers on loopback names only (or with its token)"))
            return
        if path == "":
            location = PREFIX + "/" + (f"?{split.query}" if split.query else "")
            exchange.respond(HttpResponse(301, (("Location", location), *_SECURITY), b""))
            return
        if request.method == "GET" and path in _ASSETS:
            exchange.respond(self._asset(path))
            return
        if not path.startswith("/api/"):
            exchange.respond(_error(404, "no such page"))
            return
        if not self._token_ok(request, query):
            exchange.respond(_error(401, "the inspector needs its token: open the URL run-local printed"))
            return
        if request.method != "GET" and not self._same_origin(request):
            exchange.respond(_error(403, "cross-origin or scripted request refused"))
            return
        self._api(request, path[len("/api"):], query, exchange, host)

    # -- the API ------------------------------------------------------------------------------

    def _api(self, request: MountedRequest, path: str, query: dict[str, str], exchange: Exchange,
             host: SessionHost) -> None:
        method = request.method
        views = self._views(host)
        if method == "GET" and path == "/state":
            exchange.respond(_json(200, self._state(host, views)))
        elif method == "GET" and path == "/events":
            self._open_stream(request, exchange, query)
        elif method == "GET" and path.startswith("/invocations/"):
            detail = views.detail(unquote(path[len("/invocations/"):]))
            exchange.respond(_json(200, detail) if detail is not None
                             else _error(404, "that invocation is no longer in the inspector's records"))
        elif method == "POST" and path == "/replay":
            self._replay(request, exchange, host, views)
        elif method in ("POST", "DELETE") and path.startswith("/connections/"):
            connection_id = unquote(path[len("/connections/"):])
            stage = host.lifecycle.model.stage
            management = ManagementRequest(
                method=method, target=f"/{stage}/@connections/{quote(connection_id, safe='')}",
                body=request.body if method == "POST" else b"", authorization=INSPECTOR_AUTHORIZATION,
            )
            # Always 200 here: the page reads @connections' own status from the body.
            host.manage(management, str(uuid.uuid4()), lambda response: exchange.respond(
                _json(200, {"status": response.status, "body": response.body.decode("utf-8", "replace")})))
        else:
            exchange.respond(_error(404, f"no such call: {method} {path}"))

    def _views(self, host: SessionHost) -> Views:
        lifecycle = host.lifecycle
        model = lifecycle.model
        return Views(self.ring, select=lambda text: lifecycle.selector.evaluate(text),
                     functions=lambda: lifecycle.model.functions, region=model.region, account_id=model.account_id)

    def _state(self, host: SessionHost, views: Views) -> dict[str, Any]:
        model = host.lifecycle.model
        latest = self.ring.latest(STATE_ROWS * 3)  # log lines among them have no row
        return {
            "name": model.name, "stage": model.stage, "routeSelectionExpression": model.route_selection_expression,
            "routes": sorted(model.routes), "functions": sorted(model.functions),
            "ringSize": self.ring.size, "kept": len(self.ring), "next": self.ring.next_seq,
            "connections": views.connections(host.lifecycle.registry),
            "rows": views.rows(latest)[-STATE_ROWS:],
        }

    def _replay(self, request: MountedRequest, exchange: Exchange, host: SessionHost, views: Views) -> None:
        try:
            asked = json.loads(request.body or b"{}")
            request_id = str(asked["requestId"])
        except (ValueError, KeyError, TypeError):
            exchange.respond(_error(400, 'send {"requestId": ..., "event": {...}}'))
            return
        original = views.find(request_id)
        if original is None:
            exchange.respond(_error(404, "that invocation is no longer in the inspector's records"))
            return
        event = asked.get("event")
        if event is None:
            event = original.invoke.event  # unedited: the exact event, secrets included
        elif not isinstance(event, dict):
            exchange.respond(_error(400, "the event must be a JSON object"))
            return
        old = original.invoke
        # The same integration (a Lambda function, or a MOCK/HTTP/AWS backend) with the event.
        invoke = replace(old, event=event, request_id=str(uuid.uuid4()),
                                     route_key="replay:" + old.route_key)

        async def run() -> HttpResponse:
            outcome = await host.integrate(invoke)
            answer: dict[str, Any] = {"requestId": invoke.request_id, "function": invoke.function,
                                      "status": outcome_status(outcome, False),
                                      "durationMs": round(outcome.duration_ms, 3)}
            if isinstance(outcome, Succeeded):
                answer["result"] = outcome.result
            elif isinstance(outcome, Failed):
                answer["error"] = {"errorType": outcome.error_type, "errorMessage": outcome.error_message}
            else:
                answer["error"] = {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"}
            return _json(200, answer)

        exchange.respond_later(run())

    # -- the live stream -------------------------------------------------------------------------

    def _open_stream(self, request: MountedRequest, exchange: Exchange, query: dict[str, str]) -> None:
        # A browser reconnecting by itself names the last message it got (SSE ids are
        # the last record number sent): it goes on from there, no row twice.
        last = request.header("last-event-id")
        try:
            cursor = int(last) + 1 if last else int(query.get("from", self.ring.next_seq))
        except ValueError:
            cursor = self.ring.next_seq
        stream = exchange.stream(200, (("Content-Type", "text/event-stream"), *_SECURITY))
        stream.write(b"retry: 1000\n\n")
        self._pages.append(_Page(stream, max(0, cursor), time.monotonic()))
        self._count_changed()
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        """Push new rows to every open page until none is left."""
        while self._pages:
            await asyncio.sleep(PUSH_INTERVAL_S)
            if self._host is None:
                continue
            self.push(self._views(self._host))

    def push(self, views: Views) -> None:
        """One round: each open page gets the rows since its cursor (a page over
        :data:`MAX_BACKLOG` waits; records the ring dropped meanwhile become one
        ``missed`` message). Pages whose client went away are forgotten."""
        now = time.monotonic()
        for page in list(self._pages):
            if page.stream.closed:
                self._pages.remove(page)
                self._count_changed()
                continue
            if page.stream.backlog() > MAX_BACKLOG:
                continue
            missed, batch = self.ring.since(page.cursor, BATCH)
            page.cursor = batch[-1][0] + 1 if batch else page.cursor + missed
            messages: list[dict[str, Any]] = []
            if missed:
                messages.append({"type": "missed", "count": missed})
            rows = views.rows(batch)
            if rows:
                messages.append({"type": "rows", "rows": rows})
            if messages:
                data = "".join(f"data: {json.dumps(message, default=str, ensure_ascii=False)}\n\n"
                               for message in messages)
                page.stream.write(f"id: {page.cursor - 1}\n{data}".encode())
                page.last_write = now
            elif now - page.last_write > KEEPALIVE_S:
                page.stream.write(b": keep-alive\n\n")
                page.last_write = now

    def close(self) -> None:
        """End every stream and stop pushing (the gateway is stopping)."""
        for page in self._pages:
            page.stream.end()
        self._pages.clear()
        self._count_changed()
        if self._pump_task is not None:
            self._pump_task.cancel()
            self._pump_task = None

    def _count_changed(self) -> None:
        if self.watchers is not None:
            self.watchers(len(self._pages))

    # -- checks and assets -------------------------------------------------------------------------

    def _host_allowed(self, request: MountedRequest) -> bool:
        if self.options.token is not None:
            return True  # the token decides
        host = request.header("host") or ""
        hostname = urlsplit("//" + host).hostname or ""
        return is_loopback_host(hostname)

    def _token_ok(self, request: MountedRequest, query: dict[str, str]) -> bool:
        if self.options.token is None:
            return True
        given = request.header("x-wsgw-token") or query.get("token") or ""
        return hmac.compare_digest(given.encode(), self.options.token.encode())

    def _same_origin(self, request: MountedRequest) -> bool:
        if request.header(CSRF_HEADER) is None:
            return False
        origin = request.header("origin")
        if origin is None:
            return True  # not a browser's cross-site request (those always send Origin)
        return urlsplit(origin).netloc == (request.header("host") or "")

    def _asset(self, path: str) -> HttpResponse:
        name, content_type = _ASSETS[path]
        body = self._assets.get(name)
        if body is None:
            body = self._assets[name] = (resources.files(__package__) / name).read_bytes()
        return HttpResponse(200, (("Content-Type", content_type), *_SECURITY), body)
