"""What the inspector's page shows, made from records: plain JSON-ready dicts.

Pure functions of the ring (and of the connection table and the model, passed in):
no sockets, no clock. :class:`Views` makes a timeline row per record
(:meth:`Views.rows`), an invocation's detail (:meth:`Views.detail`: its exact event,
context, result and log lines) and the connections table (:meth:`Views.connections`).
Secrets are masked here (:mod:`.masking`), texts cut at :data:`TEXT_LIMIT`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from ..core.arns import lambda_function_arn
from ..core.activity import outcome_status
from ..core.invocation import Failed, Invoke, Succeeded
from ..core.model import FunctionSpec
from ..core.registry import ConnectionRecord
from .masking import mask_pairs, masked
from .records import (
    AccessLine, Closed, Connected, FrameIn, FrameOut, Invocation, LogLine, Managed, MessageRefused, Opened, Record,
    Refused, Ring,
)

__all__ = ["INSPECTOR_AUTHORIZATION", "TEXT_LIMIT", "Views", "outcome_status"]

TEXT_LIMIT = 2048  # characters of a frame or post shown in a timeline row
CLOSED_KEPT = 500  # closed connections listed beside the open ones
_LOOKBACK = 256  # records searched back from an invocation for its REPORT line
_START, _REPORT = "START RequestId: ", "REPORT RequestId: "

INSPECTOR_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=wsgw-inspector/19700101/local/execute-api/aws4_request, "
    "SignedHeaders=host, Signature=inspector"
)
"""The Authorization the page's own ``@connections`` calls carry (the management API
wants SigV4's shape; locally the signature is not checked)."""


def _cut(text: str) -> dict[str, Any]:
    if len(text) <= TEXT_LIMIT:
        return {"text": text}
    return {"text": text[:TEXT_LIMIT], "cut": len(text) - TEXT_LIMIT}


def _ms(at: float) -> float:
    return round(at * 1000, 3)


class Views:
    """Rows, details and tables over one ring. ``select(text)`` is the route
    selection expression's value for a message (None when it has none);
    ``functions()`` the functions served now; ``region``/``account_id`` make ARNs."""

    def __init__(
        self, ring: Ring, *, select: Callable[[str], str | None],
        functions: Callable[[], Mapping[str, FunctionSpec]], region: str, account_id: str,
    ) -> None:
        self.ring = ring
        self.select = select
        self.functions = functions
        self.region = region
        self.account_id = account_id

    # -- the timeline ----------------------------------------------------------------

    def rows(self, records: Iterable[tuple[int, Record]]) -> list[dict[str, Any]]:
        """Timeline rows for ``records`` (log lines have none: they belong to an
        invocation's detail)."""
        reports: dict[str, str] = {}
        rows = []
        for seq, record in records:
            if isinstance(record, LogLine):
                if record.line.startswith(_REPORT):
                    reports[_request_of(record.line, _REPORT)] = record.line
                continue
            row = self.row(seq, record, reports)
            rows.append(row)
        return rows

    def row(self, seq: int, record: Record, reports: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The timeline row of one record (``kind`` says which)."""
        base: dict[str, Any] = {"seq": seq, "t": _ms(record.at)}
        if isinstance(record, FrameIn):
            base.update(kind="in", cid=record.connection_id, size=len(record.text.encode("utf-8", "replace")),
                        **_cut(record.text))
            try:
                selected = self.select(record.text)
            except Exception:  # a selection expression the core rejects: show none
                selected = None
            base["selection"] = selected
            if record.invoke is not None:
                base.update(route=record.invoke.route_key, function=record.invoke.function,
                            requestId=record.invoke.request_id)
            else:
                base["route"] = None
                base["refusedRoute"] = record.refused_route
            return base
        if isinstance(record, FrameOut):
            base.update(kind="out", cid=record.connection_id, cause=record.cause, requestId=record.request_id,
                        size=len(record.text.encode("utf-8", "replace")), **_cut(record.text))
            return base
        if isinstance(record, Invocation):
            return {**base, **self._invocation_row(seq, record, reports or {})}
        if isinstance(record, Opened):
            handshake = record.handshake
            base.update(kind="open", cid=record.connection_id, sourceIp=handshake.source_ip,
                        userAgent=handshake.header("User-Agent"), path=handshake.path,
                        query=mask_pairs(handshake.query), secure=handshake.secure)
            return base
        if isinstance(record, Connected):
            base.update(kind="connected", cid=record.connection_id, subprotocol=record.subprotocol)
            return base
        if isinstance(record, Closed):
            base.update(kind="close", cid=record.connection_id, code=record.code, reason=record.reason)
            return base
        if isinstance(record, Managed):
            request = record.request
            base.update(kind="post" if request.method.upper() == "POST" else "manage", method=request.method,
                        target=request.target.split("?", 1)[0], cid=record.connection_id, status=record.status,
                        size=len(request.body), viaInspector=request.authorization == INSPECTOR_AUTHORIZATION)
            if request.body:
                base.update(_cut(request.body.decode("utf-8", "replace")))
            return base
        if isinstance(record, MessageRefused):
            base.update(kind="refused", cid=record.connection_id, route=record.route_key, status=record.status,
                        reason=record.reason)
            return base
        if isinstance(record, Refused):
            base.update(kind="refused", path=record.path, sourceIp=record.source_ip, status=record.status,
                        reason=record.reason)
            return base
        if isinstance(record, AccessLine):  # not recorded by the inspector; shown if given
            base.update(kind="access", cid=record.connection_id, requestId=record.request_id, **_cut(record.line))
            return base
        base.update(kind="log", function=record.function, **_cut(record.line))
        return base

    def _invocation_row(self, seq: int, record: Invocation, reports: Mapping[str, str]) -> dict[str, Any]:
        invoke, outcome = record.invoke, record.outcome
        row: dict[str, Any] = {
            "kind": "invoke", "cid": invoke.connection_id, "route": invoke.route_key, "function": invoke.function,
            "requestId": invoke.request_id, "status": outcome_status(outcome, record.injected),
            "durationMs": round(outcome.duration_ms, 3),
            # A MOCK, HTTP or AWS-service integration is shown like a Lambda one.
            "integrationType": record.integration_type, "target": record.target,
            "integrationStatus": record.integration_status,
        }
        if isinstance(outcome, Failed):
            row["errorType"] = outcome.error_type
        report = reports.get(invoke.request_id)
        if report is None:
            report = self._report_before(seq, invoke)
        row["cold"] = None if report is None else "Init Duration" in report
        return row

    def _report_before(self, seq: int, invoke: Invoke) -> str | None:
        """The REPORT line of ``invoke``, searched a little way back from ``seq``."""
        _, recent = self.ring.since(max(0, seq - _LOOKBACK), seq - max(0, seq - _LOOKBACK))
        marker = _REPORT + invoke.request_id
        for _, record in reversed(recent):
            if isinstance(record, LogLine) and record.function == invoke.function and record.line.startswith(marker):
                return record.line
        return None

    # -- an invocation ------------------------------------------------------------------

    def find(self, request_id: str) -> Invocation | None:
        """The newest kept invocation with ``request_id``."""
        for _, record in self.ring.reversed():
            if isinstance(record, Invocation) and record.invoke.request_id == request_id:
                return record
        return None

    def detail(self, request_id: str) -> dict[str, Any] | None:
        """Everything about one invocation still in the ring: its exact event (secrets
        masked), the context its handler got, its result or error, its log lines
        (``START`` to ``REPORT``, a traceback among them) and the frame that caused it."""
        found: tuple[int, Invocation] | None = None
        for seq, record in self.ring.reversed():
            if isinstance(record, Invocation) and record.invoke.request_id == request_id:
                found = (seq, record)
                break
        if found is None:
            return None
        seq, record = found
        invoke, outcome = record.invoke, record.outcome
        lines = self._lines_of(invoke, seq)
        report = next((line for line in reversed(lines) if line.startswith(_REPORT)), None)
        detail: dict[str, Any] = {
            "seq": seq, "t": _ms(record.at), "requestId": request_id, "function": invoke.function,
            "route": invoke.route_key, "cid": invoke.connection_id, "twoWay": invoke.two_way,
            "status": outcome_status(outcome, record.injected), "durationMs": round(outcome.duration_ms, 3),
            "integrationType": record.integration_type, "target": record.target,
            "integrationStatus": record.integration_status,
            "cold": None if report is None else "Init Duration" in report,
            "event": masked(dict(invoke.event)), "context": self._context(invoke), "logs": lines,
        }
        if isinstance(outcome, Succeeded):
            detail["result"] = masked(outcome.result)
        elif isinstance(outcome, Failed):
            detail["error"] = {"errorType": outcome.error_type, "errorMessage": outcome.error_message}
        else:
            detail["error"] = {"errorType": "Sandbox.Timedout",
                               "errorMessage": f"Task timed out after {outcome.timeout_s:.2f} seconds"}
        return detail

    def _context(self, invoke: Invoke) -> dict[str, Any] | None:
        """The ``context`` attributes the handler saw (the worker builds them from the
        function's environment: emulator/runtime/worker.py ``LambdaContext``); None for
        a MOCK, HTTP or AWS-service integration, which has no Lambda context (a Lambda
        custom integration's function has one)."""
        if invoke.integration is not None and invoke.integration.function is None:
            return None
        spec = self.functions().get(invoke.function)
        memory = spec.memory_mb if spec is not None else 128
        timeout_s = spec.timeout_s if spec is not None else 3.0
        return {
            "function_name": invoke.function, "function_version": "$LATEST",
            "invoked_function_arn": lambda_function_arn(self.region, self.account_id, invoke.function),
            "memory_limit_in_mb": str(memory), "aws_request_id": invoke.request_id,
            "log_group_name": f"/aws/lambda/{invoke.function}", "timeout_ms": int(timeout_s * 1000),
        }

    def _lines_of(self, invoke: Invoke, until: int) -> list[str]:
        """``invoke``'s log lines, attributed as run-local's console does: a line
        between its START and REPORT that names its request id, or printed while it
        was its function's only running request."""
        request_id = invoke.request_id
        lines: list[str] = []
        running: set[str] = set()  # the function's requests between START and REPORT
        started = False
        _, kept = self.ring.since(self.ring.first_seq, until - self.ring.first_seq)
        for _, record in kept:
            if not isinstance(record, LogLine) or record.function != invoke.function:
                continue
            line = record.line
            if line.startswith(_START):
                opened = _request_of(line, _START)
                running.add(opened)
                started = started or opened == request_id
            if not started:
                continue
            if request_id in line or running == {request_id}:
                lines.append(line)
            if line.startswith(_REPORT):
                finished = _request_of(line, _REPORT)
                running.discard(finished)
                if finished == request_id:
                    break
        return lines

    # -- connections ----------------------------------------------------------------------

    def connections(self, registry: Iterable[ConnectionRecord]) -> list[dict[str, Any]]:
        """Open connections (from the connection table, the truth) and the most recent
        closed ones still in the ring, newest first."""
        seen: dict[str, dict[str, Any]] = {}
        for _, record in self.ring:
            if isinstance(record, Opened):
                handshake = record.handshake
                seen[record.connection_id] = {
                    "cid": record.connection_id, "connectedAt": _ms(record.at), "lastActiveAt": _ms(record.at),
                    "sourceIp": handshake.source_ip, "userAgent": handshake.header("User-Agent"),
                    "state": "CONNECTING",
                }
            elif isinstance(record, (Connected, Closed, FrameIn, FrameOut)):
                entry = seen.get(record.connection_id)
                if entry is None:
                    continue
                entry["lastActiveAt"] = _ms(record.at)
                if isinstance(record, Connected):
                    entry.update(subprotocol=record.subprotocol, state="OPEN")
                elif isinstance(record, Closed):
                    entry.update(state="CLOSED", code=record.code, reason=record.reason)
        table: dict[str, dict[str, Any]] = {}
        for current in registry:
            entry = seen.pop(current.connection_id, {})
            entry.update(
                cid=current.connection_id, connectedAt=current.connected_at_ms,
                lastActiveAt=current.last_active_at_ms, sourceIp=current.source_ip,
                userAgent=current.user_agent, state=current.status.value,
                authorizer=masked(dict(current.authorizer)) if current.authorizer is not None else None,
            )
            if current.iam_caller is not None:
                entry["iamCaller"] = masked(dict(current.iam_caller))
            table[current.connection_id] = entry
        closed = [entry for entry in seen.values() if entry["state"] == "CLOSED"]
        rows = list(table.values()) + closed[-CLOSED_KEPT:]
        rows.sort(key=lambda entry: entry["connectedAt"], reverse=True)
        return rows


def _request_of(line: str, marker: str) -> str:
    return line[len(marker):].split("\t", 1)[0].split(" ", 1)[0]
