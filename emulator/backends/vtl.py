"""API Gateway's mapping templates (Velocity) on WebSocket APIs.

Call :func:`render` with a template and the request's values; it returns the text API
Gateway would send on (request templates) or reply with (response templates). The
engine is ``airspeed`` from the ``airspeed-ext`` distribution (LocalStack's fork, made
for the Velocity templates of AWS services); this module supplies the variables API
Gateway gives WebSocket templates [doc] DG-VTLREF (reference apigw-integrations.md §2.1):
``$input`` (``body``, ``json()``, ``path()``, ``params()``), ``$context`` (the request
context of the proxy event: connectionId, routeKey, requestId, eventType, messageId,
identity.*, authorizer.*...), ``$stageVariables`` and ``$util`` (escapeJavaScript,
parseJson, urlEncode, urlDecode, base64Encode, base64Decode).

Known differences from AWS (documented in docs/reference/parity.md):

* JSONPath in ``$input.json``/``$input.path`` is a subset: ``$``, ``.member``,
  ``['member']`` and ``[index]`` (AWS uses Jayway JSONPath: filters, wildcards).
* Objects print as Python/JSON values, not with Java's ``toString``
  (AWS renders ``$context`` as ``{key=value, ...}`` [obs] LS-TEST).
* An undefined reference prints literally as Velocity 1.7 does (AWS unconfirmed [?]).
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from typing import Any, Mapping


__all__ = ["TemplateError", "jsonpath", "render"]

_STEP = re.compile(r"\.([A-Za-z0-9_$-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_CACHE: dict[str, Any] = {}


class TemplateError(Exception):
    """A template that does not parse or fails while rendering (AWS answers the
    request with an integration error; the client gets the error frame [?])."""


def jsonpath(document: Any, path: str) -> Any:
    """The value at ``path`` (``$``, ``$.a.b``, ``$['a'][0]``) in ``document``, or None."""
    path = path.strip()
    if not path.startswith("$"):
        path = "$." + path
    position = 1
    value = document
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise TemplateError(f"unsupported JSONPath {path!r} (wsgw takes $, .name, ['name'], [index])")
        position = match.end()
        index = match.group(2)
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            key = next(group for group in (match.group(1), match.group(3), match.group(4)) if group is not None)
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


class _Input:
    """``$input``: the request (or integration response) body and the parameters."""

    def __init__(self, body: str, params: Mapping[str, Mapping[str, str]]) -> None:
        self.body = body
        self._params = params

    def _document(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def json(self, path: str) -> str:
        """JSON text of the selected part [doc] DG-VTLREF."""
        return json.dumps(jsonpath(self._document(), path))

    def path(self, path: str) -> Any:
        """The selected part as an object (``.size()``, ``[i]``) [doc] DG-VTLREF."""
        return jsonpath(self._document(), path)

    def params(self, name: str | None = None) -> Any:
        """``$input.params()``: ``{header, querystring, path}`` maps (``$connect`` has
        the upgrade request's; messages have none [?]); ``params('n')``: the first of
        path, query string, header with that name (REST's order)."""
        if name is None:
            return {kind: dict(values) for kind, values in self._params.items()}
        for kind in ("path", "querystring", "header"):
            values = self._params.get(kind, {})
            if kind == "header":
                values = {key.lower(): value for key, value in values.items()}
                name_in = name.lower()
            else:
                name_in = name
            if name_in in values:
                return values[name_in]
        return ""


class _Util:
    """``$util`` [doc] DG-VTLREF; strings are UTF-8 (REST-shared)."""

    def escapeJavaScript(self, text: Any) -> str:
        # JavaScript string escaping, ' included (the documented idiom undoes it with
        # .replaceAll("\\'","'")) [doc] DG-VTLREF.
        escaped = json.dumps(str(text), ensure_ascii=False)[1:-1]
        return escaped.replace("'", "\\'").replace("/", "\\/")

    def parseJson(self, text: str) -> Any:
        return json.loads(text)

    def urlEncode(self, text: Any) -> str:
        return urllib.parse.quote_plus(str(text))

    def urlDecode(self, text: str) -> str:
        return urllib.parse.unquote_plus(text)

    def base64Encode(self, text: Any) -> str:
        return base64.b64encode(str(text).encode()).decode()

    def base64Decode(self, text: str) -> str:
        return base64.b64decode(text).decode()


def _template(text: str) -> Any:
    template = _CACHE.get(text)
    if template is None:
        if len(_CACHE) > 256:
            _CACHE.clear()
        import airspeed  # type: ignore[import-untyped]  # here: ~10 ms of imports, for apps with templates only

        template = _CACHE[text] = airspeed.Template(text)
    return template


def render(
    template: str, *, body: str, context: Mapping[str, Any], stage_variables: Mapping[str, str],
    params: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Render ``template`` the way API Gateway does for a WebSocket request.

    ``body`` is ``$input.body`` (the frame, or the integration's response for a
    response template); ``context`` the request context; ``params`` the upgrade
    request's ``header``/``querystring`` maps on ``$connect``. Raises
    :class:`TemplateError`."""
    values = dict(context)
    # $context.error.message / messageString / validationErrorString are WebSocket
    # template variables [doc] DG-VTLREF (reference §2.1); an integration's template
    # runs only when API Gateway found no error, so they are empty here [?]
    # (messageString is the quoted message: "").
    values.setdefault("error", {"message": "", "messageString": '""', "validationErrorString": ""})
    namespace = {
        "input": _Input(body, params or {}),
        "context": values,
        "stageVariables": dict(stage_variables),
        "util": _Util(),
    }
    try:
        return str(_template(template).merge(namespace))
    except TemplateError:
        raise
    except Exception as exc:  # airspeed's parse and render errors
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None
