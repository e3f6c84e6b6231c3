"""moto's WSGI dispatcher with its per-request service lookup memoized.

moto's ``DomainDispatcherApplication`` re-derives each request's service from scratch
(BENCHMARKS.md § "Profile findings" item 1): it lists its package folder and scans
every backend's URL patterns under a lock. :class:`MemoizingDispatcher` caches that
lookup by :func:`service_key`; ``/moto-api``, instance metadata, unsigned requests and
Bedrock still take moto's own lookup every time. It also caches the list of a response
class's methods that moto's ``BaseResponse.call_action`` builds for every request
(:func:`memoize_action_lookup`). And a ``POST /`` (every DynamoDB call; SQS, SNS, STS...)
skips Flask: moto's view is called as Flask would call it (:func:`direct_view`), with
the request's URL computed once per host (:func:`_raw_url`), and its usual answer
written as Flask's response object would write it (:func:`_plain_answer`).

Use in the moto child: serve ``MemoizingDispatcher()`` (behind the keep-alive front of
emulator/aws/moto_front.py), one per process.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Hashable, Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

from botocore.exceptions import ClientError
from flask import Response  # text/html by default, as moto's answers under Flask
from moto.core.utils import convert_to_flask_response
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

try:  # moto 5.2 and later: server requests arrive as moto's own normalized request
    from moto.moto_server.werkzeug_app import BackendRequest
except ImportError:  # an older moto's Flask view takes Flask's request: Flask answers
    BackendRequest = None

__all__ = ["MemoizingDispatcher", "direct_view", "memoize_action_lookup", "service_key"]

MotoView = Callable[..., Any]
"""What moto routes a request to: ``view(request, full_url, headers)`` -> its answer."""

# Signing names whose backend moto picks by parsing the request further (an action
# lookup over several response classes): never cached.
_UNCACHED_SERVICES = frozenset({"bedrock", "bedrock-agentcore"})


def service_key(environ: WSGIEnvironment) -> Hashable | None:
    """What moto's ``DomainDispatcherApplication.get_application`` decides a signed
    request's backend from, or None when only moto's own lookup will do.

    Mirrors ``infer_service_region_host`` in moto/moto_server/werkzeug_app.py: the
    credential scope's region and service, the ``X-Amz-Target`` prefix (DynamoDB vs
    DynamoDB Streams and its API version; MediaStore with or without a target), the
    Host header (S3 Control) and the path tests it makes (API Gateway Management API,
    S3 Control, SES v2, SageMaker runtime/metrics). The access key and date are left
    out: they do not change the answer.
    """
    path: str = environ.get("PATH_INFO", "")
    if path.startswith(("/moto-api", "/latest/")) or path == "/favicon.ico":
        return None
    auth: str | None = environ.get("HTTP_AUTHORIZATION")
    if not auth:
        return None
    try:
        _, _, region, service, _ = auth.split(",", 1)[0].split()[1].split("/")
    except (IndexError, ValueError):
        return None
    if service.lower() in _UNCACHED_SERVICES:
        return None
    target: str | None = environ.get("HTTP_X_AMZ_TARGET")
    return (
        environ.get("HTTP_HOST"), region, service,
        None if target is None else target.partition(".")[0],
        path.startswith("/@connections"), path.startswith("/v20180820/"),
        path.startswith("/v2/"), path.endswith("invocations"), path.endswith("BatchPutMetrics"),
    )


class MemoizingDispatcher(DomainDispatcherApplication):
    """moto's WSGI dispatcher (one Flask app per backend) with the per-request service
    lookup cached by :func:`service_key`. Create one per moto process and serve it.

    moto's lookup lists its package folder and scans every backend's URL patterns
    under a lock for every request (~20 % of moto's CPU per DynamoDB call); a cache
    hit is a tuple and a dict look-up. At most ``max_entries`` keys are kept (the Host
    header is part of the key, and S3 virtual-host addressing puts the bucket in it).
    """

    def __init__(self, max_entries: int = 1024) -> None:
        super().__init__(create_backend_app)
        memoize_action_lookup()
        self.max_entries = max_entries
        self._by_key: dict[Hashable, Any] = {}
        # Flask app -> (its POST / view, what Flask's CORS hook adds to its answers)
        self._views: dict[Any, tuple[MotoView | None, list[tuple[str, str]]]] = {}
        self._raw_urls: dict[tuple[Any, ...], str] = {}  # see _raw_url

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        app = self.get_application(environ)
        if (environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == "/"
                and not environ.get("QUERY_STRING") and "HTTP_ORIGIN" not in environ):
            # (With an Origin header, Flask's CORS extension adds headers: Flask answers.)
            known = self._views.get(app)
            if known is None:
                # moto wraps its apps in flask-cors unless MOTO_DISABLE_GLOBAL_CORS is
                # set; with its defaults (any origin) and no Origin in the request, it
                # adds this one header to every answer.
                cors = [("Access-Control-Allow-Origin", "*")] if app.after_request_funcs.get(None) else []
                known = self._views[app] = (direct_view(app), cors)
            view, added = known
            if view is not None:
                return _answer(view, added, self._raw_urls, self.max_entries, environ, start_response)
        result: Iterable[bytes] = app(environ, start_response)
        return result

    def get_application(self, environ: dict[str, Any]) -> Any:
        """The backend app for ``environ`` (called by moto's ``__call__``)."""
        key = service_key(environ)
        if key is None:
            return super().get_application(environ)
        app = self._by_key.get(key)
        if app is None:
            app = super().get_application(environ)
            if len(self._by_key) >= self.max_entries:
                self._by_key.clear()
            self._by_key[key] = app
        return app


def memoize_action_lookup() -> None:
    """Cache the method names moto's ``BaseResponse.call_action`` checks each action
    against: it lists the response class's functions with ``inspect.getmembers`` on
    every request (about a tenth of its CPU per DynamoDB call here), and the answer
    depends on the class alone. moto only tests ``action in`` the list it gets. A moto
    without that function (another version) is left as it is; idempotent."""
    import moto.core.responses as responses

    lookup = getattr(responses, "method_names_from_class", None)
    if lookup is None or hasattr(lookup, "cache_info"):
        return
    responses.method_names_from_class = functools.cache(lookup)


def direct_view(app: Any) -> MotoView | None:
    """The function moto's Flask ``app`` runs for a ``POST /`` (a backend's
    ``dispatch``), or None when that route is not one of moto's plain views.

    Flask's share of a DynamoDB call (request context, URL matching, the CORS
    after-request hook, its response object) was about a fifth of the moto child's
    CPU per call; what moto itself does with the request is the same either way.
    """
    if BackendRequest is None:
        return None
    try:
        endpoint, _ = app.url_map.bind("localhost").match("/", method="POST")
    except HTTPException:  # no route for POST / (404, 405): Flask answers those
        return None
    view = app.view_functions.get(endpoint)
    callback: MotoView | None = getattr(view, "callback", None)
    return callback if isinstance(view, convert_to_flask_response) else None


def _answer(view: MotoView, added: list[tuple[str, str]], raw_urls: dict[tuple[Any, ...], str], max_urls: int,
            environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Run ``view`` for ``environ`` as moto's ``convert_to_flask_response`` under Flask
    does (moto/core/utils.py): moto's request class, the request recorder, a
    ``ClientError`` as a 400 with its message; the answer as Flask's response object
    (its default content type) with the ``added`` headers. An ``HTTPException``
    becomes its own response, as Flask's handler makes it; other errors propagate, as
    under Flask in debug mode (moto's apps run with ``debug = True``)."""
    assert BackendRequest is not None, "direct_view gives no view without it"
    request = BackendRequest(environ)
    try:
        try:
            recorder._record_request(request)
            result = view(request, _raw_url(request, environ, raw_urls, max_urls), dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
    except HTTPException as exc:
        error = exc.get_response(environ)
        error.headers.extend(added)  # Flask's after-request hooks see error answers too
        return error(environ, start_response)
    status, headers, content = result if len(result) == 3 else (200, {}, result)
    plain = _plain_answer(status, headers, content)
    if plain is not None:
        start_response(plain[0], plain[1] + added)
        return [plain[2]]
    response = Response(response=content, status=status, headers=headers)
    response.headers.extend(added)
    return response(environ, start_response)


# What moto's Request.raw_url is made of: werkzeug's url_root (scheme, Host header or
# server name and port, script root), the raw path and the query.
_URL_KEYS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME", "RAW_URI",
             "PATH_INFO", "QUERY_STRING")


def _raw_url(request: Any, environ: dict[str, Any], raw_urls: dict[tuple[Any, ...], str], max_urls: int) -> str:
    """``request.raw_url``, the URL moto's wrapper hands its view, computed once per
    set of what it is made of (:data:`_URL_KEYS`; the same few for every call a
    function makes): werkzeug builds it through its IRI and host parsing, ~5 % of the
    moto child's CPU per DynamoDB call. ``raw_urls`` is the caller's cache, emptied
    when a new URL would take it past ``max_urls``."""
    key = tuple(environ.get(name) for name in _URL_KEYS)
    url = raw_urls.get(key)
    if url is None:
        if len(raw_urls) >= max_urls:
            raw_urls.clear()
        url = raw_urls[key] = request.raw_url
    return url


# Headers werkzeug's response rewrites on the way out (Location is made a URI).
_REWRITTEN = frozenset({"location", "content-location"})


def _plain_answer(status: Any, headers: Any, content: Any) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """What Flask's response object would send for moto's usual answer (an int or
    numeric status, a dict of str/int headers, a str or bytes body): the status line
    with werkzeug's reason text, the headers as given, a ``text/html; charset=utf-8``
    content type when none is given, the body as UTF-8 and its Content-Length.
    None for anything else (Flask's response object makes that one): building the
    object and running it as a WSGI app was ~5 % of the moto child's CPU per call."""
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if (type(status) is not int or not 200 <= status < 600 or status in (204, 304)
            or not isinstance(headers, dict) or not isinstance(content, (str, bytes))):
        return None
    pairs: list[tuple[str, str]] = []
    has_type = False
    for name, value in headers.items():
        if type(name) is not str or type(value) not in (str, int) or name.lower() in _REWRITTEN:
            return None
        text = str(value)
        if "\n" in text or "\r" in text:
            return None  # werkzeug refuses it: its error, not ours
        lower = name.lower()
        if lower == "content-length":
            continue  # set from the body, as set_data does
        has_type = has_type or lower == "content-type"
        pairs.append((name, text))
    body = content.encode() if isinstance(content, str) else content
    if not has_type:
        pairs.append(("Content-Type", "text/html; charset=utf-8"))
    pairs.append(("Content-Length", str(len(body))))
    reason = HTTP_STATUS_CODES.get(status)
    return f"{status} {reason.upper() if reason else 'UNKNOWN'}", pairs, body
