"""What ``wsgw run-local`` prints: one line per invocation, its handler's lines under it.

:class:`Console` hears the gateway's records (:meth:`Console.subscribe`): each
``LogLine`` a worker printed and each ``Invocation``, which comes once its lines have
all come. It holds back the lines a handler prints between its ``START`` and
``REPORT`` and prints them, indented, under the invocation's own line::

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

A stage with ``AccessLogSettings`` gets its access log line for each request
(``$connect``, message, ``$disconnect``), exactly as CloudWatch Logs would receive it,
after an ``[access]`` marker::

    [access] 127.0.0.1 - - [11/Nov/2024:11:35:24 +0000] "MESSAGE sendmessage Yx3kQc0BIAMCJxw=" 200 Yx3k...

The console is a subscriber of the gateway's stream of records
(``core/activity.py``, :meth:`Console.subscribe`): what it prints is what the
inspector and the pytest plugin see. ``fmt="json"`` prints one JSON object per record
instead, for machines (``type``: ``invocation``, ``log``, ``refusal``, ``access``,
``message`` (wsgw's own lines) and, unless ``quiet``, the traffic: ``opened``,
``connected``, ``received``, ``sent``, ``closed``, ``managed``). ``quiet`` drops handler
lines, ``verbose`` adds each invocation's event.

In run-local the console prints *after* the event loop's current turn
(:meth:`Console.print_after`): a message's reply frame is written to its client
before the invocation's lines are formatted and written, and the records of one turn
go out in one write. A record printed later is the same record: order and content
do not change, only the moment.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Literal, TextIO, TypeVar

from ..core.clock import iso8601_ms
from ..core.activity import (
    ACCESS, INVOCATIONS, LOGS, REFUSALS, TRAFFIC, AccessLine, Activity, Closed, Connected, FrameIn, FrameOut,
    Invocation, LogLine, Managed, MessageRefused, Opened, Refused, Subscription, outcome_status,
)
from ..core.invocation import Failed

Format = Literal["text", "json"]
Schedule = Callable[[Callable[[], None]], object]
"""Runs a callback after the event loop's current callbacks (``loop.call_soon``)."""

log = logging.getLogger("wsgw.server")
_T = TypeVar("_T")

_START, _END, _REPORT = "START RequestId: ", "END RequestId: ", "REPORT RequestId: "
_MAX_HELD = 1000  # requests whose lines are held; beyond, the oldest are printed as they are
# Characters held for one request: a handler that prints more (a flood of lines) has
# them printed as they come instead, so run-local's memory stays bounded.
_MAX_HELD_CHARS = 1024 * 1024
_INDENT = "    "
ACCESS_MARKER = "[access]"  # before each access log line in the text output

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
    lines: list[LogLine] = field(default_factory=list)
    open: bool = True  # between START and REPORT
    size: int = 0  # characters in ``lines``
    spilled: int = 0  # lines printed as they came, once over _MAX_HELD_CHARS


def _write_stdout(text: str) -> None:
    """The console's sink: ``text`` is one line or several joined by newlines."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Console:
    """Formats run-local's output; see the module docstring. ``write`` is handed one
    line, or several joined by newlines (an invocation's), and ends each with one."""

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
        self._schedule: Schedule | None = None  # see print_after
        self._pending: list[object] = []  # records heard, to print on the loop's next turn

    # -- the stream -------------------------------------------------------------

    def subscribe(self, activity: Activity) -> Subscription:
        """Hear ``activity``'s records: invocations, function lines, refusals and access
        log lines; in json, unless ``quiet``, the traffic too (frames, connects, closes,
        ``@connections`` calls)."""
        kinds = INVOCATIONS | REFUSALS | ACCESS
        if not self.quiet:
            kinds |= LOGS
            if self.fmt == "json":
                kinds |= TRAFFIC
        return activity.subscribe(self.receive, kinds)

    def print_after(self, schedule: Schedule) -> None:
        """From now on, print the records heard during one turn of the event loop after
        that turn's callbacks, all in one write (``schedule`` is the running loop's
        ``call_soon``): off the path of the message that made them. A message's reply
        is written before the console formats and prints its invocation, which had
        cost every reply 30–35 µs of run-local's p50 (BENCHMARKS.md, round nine). Call :meth:`flush`
        before the loop ends; :meth:`message` prints what is pending first."""
        self._schedule = schedule

    def receive(self, record: object) -> None:
        """The subscriber: print ``record`` (its kind decides how), now or, after
        :meth:`print_after`, once the loop's current callbacks are done."""
        if self._schedule is None:
            self._print(record)
            return
        if not self._pending:
            self._schedule(self.flush)
        self._pending.append(record)

    def flush(self) -> None:
        """Print the records heard and not printed yet, in the order they came, in
        one write. A record that cannot be printed (a bug of ours) is logged and skipped;
        the others are printed."""
        if not self._pending:
            return
        records, self._pending = self._pending, []
        self._in_one_write(self._print_each, records)

    def _print_each(self, records: list[object]) -> None:
        for record in records:
            try:
                self._print(record)
            except Exception:  # as Activity.publish does for a broken subscriber
                log.exception("the console could not print %s", type(record).__name__)

    def _in_one_write(self, print_: Callable[[_T], None], what: _T) -> None:
        """``print_(what)``, its lines collected and written together at the end
        (nothing if it raised). A plain call, not a context manager: this is every
        message's path in run-local, and a generator's frame costs ~1.5 µs more."""
        lines: list[str] = []
        write, self._write = self._write, lines.append
        try:
            print_(what)
        finally:
            self._write = write
        if lines:
            write("\n".join(lines))

    def _print(self, record: object) -> None:
        if isinstance(record, LogLine):
            self.log_line(record)
        elif isinstance(record, Invocation):
            self.invocation(record)
        elif isinstance(record, Refused):
            self.refusal(record)
        elif isinstance(record, MessageRefused):
            self.message_refusal(record)
        elif isinstance(record, AccessLine):
            self.access(record)
        elif self.fmt == "json":
            traffic = _traffic_json(record)
            if traffic is not None:
                self._json({"time": self._iso(getattr(record, "at", self._clock())), **traffic})

    # -- sinks ------------------------------------------------------------------

    def message(self, text: str) -> None:
        """One of wsgw's own lines (start-up, reload, shutdown), after the records
        heard before it."""
        self.flush()
        if self.fmt == "json":
            self._json({"time": self._iso(self._clock()), "type": "message", "line": text})
        else:
            self._write(text)

    def log_line(self, record: LogLine) -> None:
        """One line a worker of ``record.function`` printed."""
        line, function = record.line, record.function
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
                self._keep(request_id, held, record)
                return
        owner = self._attribute(function, line)
        if owner is not None:
            self._keep(owner, self._held[owner], record)
        else:
            self._log_line(record, None)

    def function_line(self, function: str, line: str) -> None:
        """A ``function_log`` sink (for callers without a stream): as :meth:`log_line`."""
        self.log_line(LogLine(self._clock(), function, line))

    def invocation(self, record: Invocation) -> None:
        """The invocation's line, then the lines it printed: one write for all of
        them (a write and a flush per line cost the gateway ~20 µs of CPU per message,
        BENCHMARKS.md), so another request's lines never land in between."""
        self._in_one_write(self._invocation, record)

    def _invocation(self, record: Invocation) -> None:
        invoke, outcome = record.invoke, record.outcome
        held = self._held.pop(invoke.request_id, None)
        status = outcome_status(outcome, record.injected)
        error_type = outcome.error_type if isinstance(outcome, Failed) else None
        if self.fmt == "json":
            fields: dict[str, Any] = {
                "time": self._iso(record.at), "type": "invocation", "connectionId": invoke.connection_id,
                "route": invoke.route_key, "function": invoke.function, "requestId": invoke.request_id,
                "status": status, "durationMs": round(outcome.duration_ms, 3),
                "integrationType": record.integration_type, "target": record.target,
                "integrationStatus": record.integration_status,
            }
            if error_type is not None:
                fields["errorType"] = error_type
            if self.verbose:
                fields["event"] = invoke.event
            self._json(fields)
        else:
            label = status if error_type is None else f"{status} {error_type}"
            if invoke.integration is not None and record.integration_status is not None:
                label += f" {record.integration_status}"  # a MOCK/HTTP/AWS integration's status
            self._write("  ".join((
                self._paint(_DIM, self._clock_time(record.at)), invoke.connection_id, invoke.route_key,
                self._paint(_CYAN, invoke.function), self._paint(_STATUS_COLOUR[status], label),
                f"{outcome.duration_ms:.1f} ms",
            )))
            if self.verbose:
                self._write(_INDENT + self._paint(_DIM, "event: " + json.dumps(invoke.event, default=str)))
            if held is not None and held.spilled:
                self._write(_INDENT + self._paint(
                    _DIM, f"(its output was printed above as it came: {held.spilled} lines, over 1 MB)"))
        for line in held.lines if held is not None else ():
            self._log_line(line, record)

    def refusal(self, record: Refused) -> None:
        """One line per handshake refused, with why."""
        if self.fmt == "json":
            self._json({"time": self._iso(record.at), "type": "refusal", "sourceIp": record.source_ip,
                        "path": record.path, "status": record.status, "reason": record.reason})
            return
        self._write("  ".join((
            self._paint(_DIM, self._clock_time(record.at)), record.source_ip, f"GET {record.path}",
            self._paint(_RED, f"refused {record.status}"), record.reason,
        )))

    def message_refusal(self, record: MessageRefused) -> None:
        """One line per message a route refused (throttled, invalid body), with why."""
        if self.fmt == "json":
            self._json({"time": self._iso(record.at), "type": "refusal", "connectionId": record.connection_id,
                        "route": record.route_key, "status": record.status, "reason": record.reason})
            return
        self._write("  ".join((
            self._paint(_DIM, self._clock_time(record.at)), record.connection_id, record.route_key,
            self._paint(_RED, f"refused {record.status}"), record.reason,
        )))

    def access(self, record: AccessLine) -> None:
        """One access log line of the stage, as CloudWatch would receive it."""
        if self.fmt == "json":
            self._json({"time": self._iso(record.at), "type": "access", "connectionId": record.connection_id,
                        "requestId": record.request_id, "route": record.route_key, "line": record.line,
                        "destination": record.destination})
            return
        self._write(f"{self._paint(_DIM, ACCESS_MARKER)} {record.line}")

    def _keep(self, request_id: str, held: _Held, record: LogLine) -> None:
        """Hold ``record`` for its request; past _MAX_HELD_CHARS, print what is held
        and every later line of it at once (unindented, the outcome is not known)."""
        if not held.spilled:
            held.lines.append(record)
            held.size += len(record.line)
            if held.size <= _MAX_HELD_CHARS:
                return
            backlog, held.lines, held.size = held.lines, [], 0
        else:
            backlog = [record]
        held.spilled += len(backlog)
        for line in backlog:
            self._log_line(line, None, request_id)

    # -- attribution ------------------------------------------------------------

    def _hold(self, request_id: str, function: str) -> _Held:
        held = self._held[request_id] = _Held(function)
        while len(self._held) > _MAX_HELD:  # an outcome that never came: let its lines go
            _, old = self._held.popitem(last=False)
            for line in old.lines:
                self._log_line(line, None)
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

    def _log_line(self, line: LogLine, owner: Invocation | None, request_id: str | None = None) -> None:
        if self.quiet:
            return
        function = line.function
        if self.fmt == "json":
            fields: dict[str, Any] = {"time": self._iso(line.at), "type": "log", "function": function}
            if owner is not None:
                invoke = owner.invoke
                fields.update(connectionId=invoke.connection_id, route=invoke.route_key,
                              requestId=invoke.request_id)
            else:
                fields["requestId"] = request_id
            fields["line"] = line.line
            self._json(fields)
        elif owner is not None:
            self._write(f"{_INDENT}{self._paint(_CYAN, f'[{function}]')} {line.line}")
        else:
            self._write(f"{self._paint(_CYAN, f'[{function}]')} {line.line}")

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


def _traffic_json(record: object) -> dict[str, Any] | None:
    """The json log's fields of one traffic record (frames, connects, closes,
    ``@connections`` calls), named like the other records' (``connectionId``...)."""
    if isinstance(record, FrameIn):
        fields: dict[str, Any] = {"type": "received", "connectionId": record.connection_id, "text": record.text}
        invoke = record.invoke
        if invoke is not None:
            fields.update(route=invoke.route_key, function=invoke.function, requestId=invoke.request_id)
        else:
            fields["route"] = None  # no route matched: the Forbidden frame went back
        return fields
    if isinstance(record, FrameOut):
        return {"type": "sent", "connectionId": record.connection_id, "cause": record.cause,
                "requestId": record.request_id, "text": record.text}
    if isinstance(record, Opened):
        handshake = record.handshake
        return {"type": "opened", "connectionId": record.connection_id, "sourceIp": handshake.source_ip,
                "path": handshake.path, "userAgent": handshake.header("User-Agent")}
    if isinstance(record, Connected):
        return {"type": "connected", "connectionId": record.connection_id, "subprotocol": record.subprotocol}
    if isinstance(record, Closed):
        return {"type": "closed", "connectionId": record.connection_id, "code": record.code, "reason": record.reason}
    if isinstance(record, Managed):
        request = record.request
        return {"type": "managed", "method": request.method, "target": request.target.split("?", 1)[0],
                "connectionId": record.connection_id, "status": record.status, "size": len(request.body)}
    return None
