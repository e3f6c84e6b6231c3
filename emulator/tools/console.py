"""What ``wsgw run-local`` prints: one line per invocation, its handler's lines under it.

:class:`Console` is both the gateway's ``function_log`` sink (``(function, line)``,
every line a worker prints) and its ``observer`` (``(invoke, outcome, injected)``,
called once an invocation's lines have all reached the sink). It holds back the lines
a handler prints between its ``START`` and ``REPORT`` and prints them, indented, under
the invocation's own line::

    14:02:11.357  Yx3kQc0BIAMF1hQ=  sendmessage  SendMessageFunction  ok  4.2 ms
        [SendMessageFunction] START RequestId: Yx3k... Version: $LATEST
        [SendMessageFunction] [INFO]  2024-05-01T12:02:11.355Z  Yx3k...  broadcasting
        [SendMessageFunction] END RequestId: Yx3k...
        [SendMessageFunction] REPORT RequestId: Yx3k...  Duration: 4.02 ms  ...

A line is attributed to a request by the request id it contains (Lambda's log format
has it), else to the function's only open invocation. Lines that cannot be attributed
(init output, or several invocations of one function at once) are printed as they
come, prefixed with the function. ``START``/``END``/``REPORT`` are shown with the
others, as CloudWatch shows them. A request that prints more than 1 MB is not held:
its lines are printed as they come, and its invocation line says so.

A WebSocket handshake answered without a 101 gets one line with the status and why
(the client only sees the status and ``{"message":"Forbidden"}``)::

    14:02:13.020  127.0.0.1  GET /dev  refused 403  AWS_IAM: SigV4 check failed: the signature does not match

``fmt="json"`` prints one JSON object per line instead (``type``: ``invocation``,
``log``, ``refusal`` or ``message``), for machines. ``quiet`` drops handler lines, ``verbose`` adds
each invocation's event.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Literal, TextIO

from ..core.clock import iso8601_ms
from ..core.invocation import Failed, Invoke, Outcome, Succeeded, TimedOut
from ..net.session_host import Refusal

Format = Literal["text", "json"]

_START, _END, _REPORT = "START RequestId: ", "END RequestId: ", "REPORT RequestId: "
_MAX_HELD = 1000  # requests whose lines are held; beyond, the oldest are printed as they are
# Characters held for one request: a handler that prints more (a flood of lines) has
# them printed as they come instead, so run-local's memory stays bounded.
_MAX_HELD_CHARS = 1024 * 1024
_INDENT = "    "

_RESET = "\033[0m"
_DIM, _RED, _GREEN, _YELLOW, _MAGENTA, _CYAN = (f"\033[{n}m" for n in (2, 31, 32, 33, 35, 36))
_STATUS_COLOUR = {"ok": _GREEN, "error": _RED, "timeout": _YELLOW, "injected": _MAGENTA}


def use_colour(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (any value)."""
    env = os.environ if environ is None else environ
    if "NO_COLOR" in env:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass
class _Held:
    """The lines of one request of one function, until its outcome is known."""

    function: str
    lines: list[tuple[float, str]] = field(default_factory=list)
    open: bool = True  # between START and REPORT
    size: int = 0  # characters in ``lines``
    spilled: int = 0  # lines printed as they came, once over _MAX_HELD_CHARS


def _write_stdout(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Console:
    """Formats run-local's output; see the module docstring."""

    def __init__(
        self,
        fmt: Format = "text",
        *,
        colour: bool = False,
        quiet: bool = False,
        verbose: bool = False,
        write: Callable[[str], None] = _write_stdout,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fmt = fmt
        self.colour = colour and fmt == "text"
        self.quiet = quiet
        self.verbose = verbose
        self._write = write
        self._clock = clock
        self._held: OrderedDict[str, _Held] = OrderedDict()  # request id -> its lines

    # -- sinks ------------------------------------------------------------------

    def message(self, text: str) -> None:
        """One of wsgw's own lines (start-up, reload, shutdown)."""
        if self.fmt == "json":
            self._json({"time": self._iso(self._clock()), "type": "message", "line": text})
        else:
            self._write(text)

    def function_line(self, function: str, line: str) -> None:
        """The ``function_log`` sink: one line a worker of ``function`` printed."""
        now = self._clock()
        for marker in (_START, _END, _REPORT):
            if line.startswith(marker):
                request_id = line[len(marker):].split("\t", 1)[0].split(" ", 1)[0]
                if marker == _START:
                    held = self._hold(request_id, function)
                else:  # a quiet handler's START comes with END; a killed one's never
                    held = self._held.get(request_id) or self._hold(request_id, function)
                    if marker == _REPORT:
                        held.open = False
                # Kept and shown like CloudWatch's (request id, duration, memory).
                self._keep(request_id, held, now, line)
                return
        owner = self._attribute(function, line)
        if owner is not None:
            self._keep(owner, self._held[owner], now, line)
        else:
            self._log_line(now, function, line, None)

    def invocation(self, invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        """The ``observer``: the invocation's line, then the lines it printed."""
        now = self._clock()
        held = self._held.pop(invoke.request_id, None)
        status, error_type = _status(outcome, injected)
        if self.fmt == "json":
            record: dict[str, Any] = {
                "time": self._iso(now), "type": "invocation", "connectionId": invoke.connection_id,
                "route": invoke.route_key, "function": invoke.function, "requestId": invoke.request_id,
                "status": status, "durationMs": round(outcome.duration_ms, 3),
            }
            if error_type is not None:
                record["errorType"] = error_type
            if self.verbose:
                record["event"] = invoke.event
            self._json(record)
        else:
            label = status if error_type is None else f"{status} {error_type}"
            self._write("  ".join((
                self._paint(_DIM, self._clock_time(now)), invoke.connection_id, invoke.route_key,
                self._paint(_CYAN, invoke.function), self._paint(_STATUS_COLOUR[status], label),
                f"{outcome.duration_ms:.1f} ms",
            )))
            if self.verbose:
                self._write(_INDENT + self._paint(_DIM, "event: " + json.dumps(invoke.event, default=str)))
            if held is not None and held.spilled:
                self._write(_INDENT + self._paint(
                    _DIM, f"(its output was printed above as it came: {held.spilled} lines, over 1 MB)"))
        for at, line in held.lines if held is not None else ():
            self._log_line(at, invoke.function, line, invoke)

    def refusal(self, refusal: Refusal) -> None:
        """The listener's ``on_refusal``: one line per handshake refused, with why."""
        now = self._clock()
        if self.fmt == "json":
            self._json({"time": self._iso(now), "type": "refusal", "sourceIp": refusal.source_ip,
                        "path": refusal.path, "status": refusal.status, "reason": refusal.reason})
            return
        self._write("  ".join((
            self._paint(_DIM, self._clock_time(now)), refusal.source_ip, f"GET {refusal.path}",
            self._paint(_RED, f"refused {refusal.status}"), refusal.reason,
        )))

    def _keep(self, request_id: str, held: _Held, at: float, line: str) -> None:
        """Hold ``line`` for its request; past _MAX_HELD_CHARS, print what is held
        and every later line of it at once (unindented, the outcome is not known)."""
        if not held.spilled:
            held.lines.append((at, line))
            held.size += len(line)
            if held.size <= _MAX_HELD_CHARS:
                return
            backlog, held.lines, held.size = held.lines, [], 0
        else:
            backlog = [(at, line)]
        held.spilled += len(backlog)
        for when, text in backlog:
            self._log_line(when, held.function, text, None, request_id)

    # -- attribution ------------------------------------------------------------

    def _hold(self, request_id: str, function: str) -> _Held:
        held = self._held[request_id] = _Held(function)
        while len(self._held) > _MAX_HELD:  # an outcome that never came: let its lines go
            _, old = self._held.popitem(last=False)
            for at, line in old.lines:
                self._log_line(at, old.function, line, None)
        return held

    def _attribute(self, function: str, line: str) -> str | None:
        """The held request ``line`` belongs to, or None to print it now."""
        open_ids: list[str] = []
        for request_id, held in self._held.items():
            if held.function != function:
                continue
            if request_id in line:
                return request_id
            if held.open:
                open_ids.append(request_id)
        return open_ids[0] if len(open_ids) == 1 else None

    # -- output -----------------------------------------------------------------

    def _log_line(
        self, at: float, function: str, line: str, invoke: Invoke | None, request_id: str | None = None,
    ) -> None:
        if self.quiet:
            return
        if self.fmt == "json":
            record: dict[str, Any] = {"time": self._iso(at), "type": "log", "function": function}
            if invoke is not None:
                record.update(connectionId=invoke.connection_id, route=invoke.route_key,
                              requestId=invoke.request_id)
            else:
                record["requestId"] = request_id
            record["line"] = line
            self._json(record)
        elif invoke is not None:
            self._write(f"{_INDENT}{self._paint(_CYAN, f'[{function}]')} {line}")
        else:
            self._write(f"{self._paint(_CYAN, f'[{function}]')} {line}")

    def _json(self, record: dict[str, Any]) -> None:
        self._write(json.dumps(record, default=str, ensure_ascii=False))

    def _paint(self, colour: str, text: str) -> str:
        return f"{colour}{text}{_RESET}" if self.colour else text

    @staticmethod
    def _clock_time(at: float) -> str:
        moment = datetime.fromtimestamp(at)
        return f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"

    @staticmethod
    def _iso(at: float) -> str:
        return iso8601_ms(int(at * 1000))


def _status(outcome: Outcome, injected: bool) -> tuple[str, str | None]:
    """``(status, errorType)``: ok, error (with its type), timeout or injected."""
    if injected:
        return "injected", outcome.error_type if isinstance(outcome, Failed) else None
    if isinstance(outcome, Succeeded):
        return "ok", None
    if isinstance(outcome, TimedOut):
        return "timeout", None
    return "error", outcome.error_type
