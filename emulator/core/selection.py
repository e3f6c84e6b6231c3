"""Route selection expressions: turn an incoming message into a route key.

Parse the API's ``routeSelectionExpression`` once, when the model is loaded, with
:meth:`RouteSelector.parse` (a bad expression is a :class:`ConfigError` the user can
fix before any client connects). Then call :meth:`RouteSelector.evaluate` on every
text message; the caller matches the result *exactly* against the route keys and falls
back to ``$default`` (reference §3, DOCS-routes).

Pure: no I/O, no clock; evaluation uses no regex, only a precompiled tuple of parts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, TypeAlias

from .errors import ConfigError

WHERE = "routeSelectionExpression"

Step: TypeAlias = str | int  # object key, or array index
Path: TypeAlias = tuple[Step, ...]
Part: TypeAlias = str | Path  # static text, or a $request.body variable

# Only $request.body.<JSONPath> exists for WebSocket APIs (reference §3, DOCS-selexpr).
_BODY = "request.body."
# Unbraced: segments of [A-Za-z0-9_] with optional [n]; the variable ends at the first
# character that cannot continue it (`$request.body.action/x` -> variable, then "/x").
_UNBRACED = re.compile(
    r"\$request\.body\.([A-Za-z0-9_]+(?:\[[0-9]+\])*(?:\.[A-Za-z0-9_]+(?:\[[0-9]+\])*)*)"
)
# Braced: `${...}` delimits, so a segment is anything but `.`, `[`, `]` (and `}`).
_BRACED_PATH = re.compile(r"[^.\[\]]+(?:\[[0-9]+\])*(?:\.[^.\[\]]+(?:\[[0-9]+\])*)*")
_STEP = re.compile(r"([^.\[\]]+)|\[([0-9]+)\]")
_NAME = re.compile(r"\$\{?[A-Za-z0-9_.]*")  # only for naming a bad variable in errors


@dataclass(frozen=True, slots=True)
class RouteSelector:
    """A parsed route selection expression.

    Build it with :meth:`parse` at load time; call :meth:`evaluate` once per incoming
    text message, then look the result up among the route keys (exact, case-sensitive
    match), using ``$default`` when nothing matches or the result is ``None``.
    """

    _expression: str
    _parts: tuple[Part, ...]
    _static: str | None  # the whole route key when there are no variables
    _decode: Callable[[str], Any] = field(default=json.loads, compare=False)

    @classmethod
    def parse(cls, expression: str, decode: Callable[[str], Any] = json.loads) -> RouteSelector:
        """Compile ``expression``; raise :class:`ConfigError` if AWS would not serve it.

        ``decode`` reads a message body as JSON in :meth:`evaluate`: ``json.loads`` or a
        faster equivalent (the gateway passes ``emulator.runtime.wire_json.loads_text``,
        orjson with this fallback). It must return what ``json.loads`` returns and raise
        ``ValueError`` or ``RecursionError`` where it raises."""
        if not isinstance(expression, str):
            raise ConfigError(WHERE, f"must be a string, got {type(expression).__name__}")
        if not expression:
            raise ConfigError(WHERE, "is empty; AWS requires one for WebSocket APIs")
        parts: list[Part] = []
        text: list[str] = []
        i, n = 0, len(expression)
        while i < n:
            char = expression[i]
            if char == "\\" and expression.startswith("$", i + 1):
                text.append("$")  # `\$` is a literal `$` (DOCS-selexpr: `\$default`)
                i += 2
                continue
            if char != "$":
                text.append(char)  # any other char, a lone `\` included, is static text
                i += 1
                continue
            if expression.startswith("{", i + 1):
                end = expression.find("}", i + 2)
                if end < 0:
                    raise ConfigError(WHERE, f"unterminated '${{' at position {i}")
                path = _braced_path(expression[i + 2 : end], i)
                i = end + 1
            else:
                match = _UNBRACED.match(expression, i)
                if match is None:
                    raise ConfigError(WHERE, _bad_dollar(expression, i))
                path = _steps(match.group(1))
                i = match.end()
            if text:
                parts.append("".join(text))
                text.clear()
            parts.append(path)
        if text:
            parts.append("".join(text))
        texts = [part for part in parts if isinstance(part, str)]
        static = "".join(texts) if len(texts) == len(parts) else None
        return cls(expression, tuple(parts), static, decode)

    @property
    def expression(self) -> str:
        """The expression as written in the API description."""
        return self._expression

    def evaluate(self, body: str) -> str | None:
        """The route key for one text message, or ``None`` if it must go to ``$default``.

        ``None`` only when the expression has variables and ``body`` is not JSON:
        "Non-JSON messages are directed to a $default route" (reference §3,
        DOCS-routes). The result is returned verbatim: no trimming, case kept.
        """
        if self._static is not None:
            # Static text is the route key for any body, JSON or not (DOCS-routes table:
            # `action` -> `action`, `\$default` -> `$default`).
            return self._static
        try:
            document = self._decode(body)
        except (ValueError, RecursionError):
            return None
        # Each variable is evaluated once and its value is never re-parsed as an
        # expression (DOCS-selexpr: "evaluated once, not recursively").
        return "".join(
            [p if isinstance(p, str) else _resolve(document, p) for p in self._parts]
        )


def _resolve(document: object, path: Path) -> str:
    # A path that does not exist evaluates to "" (DOCS-routes table:
    # `${request.body.action}-${request.body.invalidPath}` -> `join-`). Walking a key
    # into a non-object (incl. a top-level array/scalar body) or an index into a
    # non-array or out of range counts as missing: deliberate choice, AWS unconfirmed
    # (reference §3 "[?] presumably path not found").
    value = document
    for step in path:
        if isinstance(step, str):
            if type(value) is not dict:
                return ""
            value = value.get(step)
        else:
            if type(value) is not list or step >= len(value):
                return ""
            value = value[step]
    try:
        return _stringify(value)
    except RecursionError:  # nested too deep to print: deliberate choice, treat as missing
        return ""


def _stringify(value: object) -> str:
    # DOCS-routes: non-string values are stringified, an array as "[item1, item2]".
    # The other forms are deliberate choices; AWS is unconfirmed (reference §3 [?]):
    # true/false -> "true"/"false"; int -> str(int); float -> JSON text (json.dumps);
    # null -> "" like a missing value (also inside arrays); object -> compact JSON.
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_stringify(item) for item in value) + "]"
    return json.dumps(value, separators=(",", ":"))


def _braced_path(content: str, position: int) -> Path:
    if content.rstrip(".") == "request.body":
        raise ConfigError(WHERE, f"'${{{content}}}' at position {position} needs a path")
    if not content.startswith(_BODY):
        raise ConfigError(WHERE, _unsupported("${" + content + "}", position))
    path = content[len(_BODY) :]
    if _BRACED_PATH.fullmatch(path) is None:
        raise ConfigError(
            WHERE,
            f"malformed path {path!r} in '${{{content}}}' at position {position}; "
            "expected key segments separated by '.' with optional [n] indexes",
        )
    return _steps(path)


def _steps(path: str) -> Path:
    return tuple(key if key else int(index) for key, index in _STEP.findall(path))


def _bad_dollar(expression: str, position: int) -> str:
    match = _NAME.match(expression, position)
    name = match.group(0) if match else "$"
    if name.rstrip(".") in ("$request.body", "$request"):
        return f"'{name}' at position {position} needs a path, e.g. $request.body.action"
    if name == "$":
        return f"'$' at position {position} starts no variable; write '\\$' for a literal '$'"
    return _unsupported(name, position)


def _unsupported(name: str, position: int) -> str:
    return (
        f"unsupported variable '{name}' at position {position}: WebSocket APIs only "
        "support $request.body.<path> (write '\\$' for a literal '$')"
    )
