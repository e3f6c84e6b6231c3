"""The core's decisions, told to the :class:`~emulator.core.activity.Activity` stream.

:class:`RecordingLifecycle` and :class:`RecordingManagement` are the core's
:class:`~emulator.core.lifecycle.ConnectionLifecycle` and
:class:`~emulator.core.management.ManagementApi`, unchanged, with one publish after
each decision: frames in and out, connects, closes, ``@connections`` calls (when
:attr:`Activity.traffic`), and the stage's access log line when a request ends (when
the model has ``AccessLogSettings`` and :attr:`Activity.access`). Wrapping keeps the
message path free of hooks (design: "wrap the invoker instead"): the composition root
builds these only when some consumer may ever want a record, and with none
subscribed the extra work per decision is one attribute test.

Which request ends where (one access log line each, reference apigw-integrations.md
§7.1): a ``$connect`` at its final accept or refusal (:meth:`~RecordingLifecycle.open`
or :meth:`~RecordingLifecycle.connect_finished`), a message at its reply or error
frame or when its route sends nothing (:meth:`~RecordingLifecycle.message`,
:meth:`~RecordingLifecycle.message_finished`,
:meth:`~RecordingLifecycle.integration_timed_out`), a ``$disconnect`` when its
invocation finished (heard from the stream's :class:`Invocation` records) or at the
close when the API has no ``$disconnect`` route.
"""

from __future__ import annotations

from typing import Any, Mapping

from .access_log import AccessLogSettings, render, request_values
from .activity import (
    AccessLine, Activity, Closed, Connected, FrameIn, FrameOut, Invocation, Managed, MessageRefused, Opened,
)
from .errors import ManagementError
from .events import Handshake, clf_time, request_context
from .invocation import Failed, Invoke, Outcome, Succeeded, TimedOut
from .lifecycle import AUTHORIZER, Accept, ConnectDecision, ConnectionLifecycle, Reject, SendText
from .management import Action, HttpResponse, ManagementApi, ManagementRequest, OutboundBacklog
from .model import CONNECT, DEFAULT, DISCONNECT
from .registry import ConnectionRecord

__all__ = ["RecordingLifecycle", "RecordingManagement"]

# The error messages API Gateway puts in its frames and refusals (reference §5), as
# $context.error.message would hold them [?] (DG-LOG: "an API Gateway error message").
_REFUSAL_MESSAGES = {401: "Unauthorized", 403: "Forbidden"}
_INTERNAL = "Internal server error"


def _no_backlog(connection_id: str) -> int:
    return 0


class RecordingLifecycle(ConnectionLifecycle):
    """The connection rules, unchanged, publishing what they decide to ``activity``.
    Build it with the :class:`Activity` first, then :class:`ConnectionLifecycle`'s
    arguments."""

    def __init__(self, activity: Activity, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._activity = activity
        self._now = activity.now
        self._authorizers: dict[str, tuple[float, int]] = {}  # connection id -> authorizer (ms, status)
        if self.model.access_log is not None:
            # $disconnect's outcome reaches no decision of ours: hear it from the stream
            # (only for a stage with an access log: otherwise invocations stay unrecorded).
            activity.subscribe(self._disconnect_finished, {Invocation})

    @property
    def _access(self) -> AccessLogSettings | None:
        return self.model.access_log if self._activity.access else None

    def open(self, handshake: Handshake) -> ConnectDecision:
        decision = super().open(handshake)
        activity = self._activity
        if isinstance(decision, Reject):
            if self._access is not None and handshake.path == self._stage_path:
                self._refused_before_integration(handshake, decision)
            return decision  # the listener reports it as a refusal
        connection_id = decision.connection_id
        if activity.traffic:
            activity.publish(Opened(self._now(), connection_id, handshake))
            if isinstance(decision, Accept):  # no $connect route: established at once
                activity.publish(Connected(self._now(), connection_id, decision.subprotocol))
        if isinstance(decision, Accept) and self._access is not None:
            record = self.registry.peek(connection_id)
            if record is not None:  # no $connect route: a request with no integration [?]
                self._line(self._context(record, CONNECT, "CONNECT"), status=200)
        return decision

    def connect_finished(self, invoke: Invoke, outcome: Outcome) -> Accept | Reject | Invoke:
        decision = super().connect_finished(invoke, outcome)
        activity = self._activity
        if activity.traffic and isinstance(decision, Accept):
            activity.publish(Connected(self._now(), decision.connection_id, decision.subprotocol))
        if self._access is None:
            return decision
        if invoke.route_key == AUTHORIZER:
            if isinstance(decision, Invoke):  # allowed: the request goes on with $connect
                self._authorizers[invoke.connection_id] = (outcome.duration_ms, 200)
            else:  # refused by the authorizer (or no $connect to run): the request ends here
                status = decision.status if isinstance(decision, Reject) else 200
                self._line(_context_of(invoke), status=status,
                           error_message=_refusal_message(decision) if isinstance(decision, Reject) else None,
                           authorizer_latency_ms=outcome.duration_ms, authorizer_status=status)
            return decision
        authorizer = self._authorizers.pop(invoke.connection_id, None)
        status = decision.status if isinstance(decision, Reject) else 200
        self._invoked_line(invoke, outcome, status=status,
                           error_message=_refusal_message(decision) if isinstance(decision, Reject) else None,
                           authorizer=authorizer)
        return decision

    def message(self, connection_id: str, text: str) -> Invoke | SendText:
        decision = super().message(connection_id, text)
        activity = self._activity
        if activity.traffic:
            now = self._now()
            if isinstance(decision, SendText):
                activity.publish(FrameIn(now, connection_id, text, None, decision.route_key))
                activity.publish(FrameOut(now, connection_id, decision.text, "error", _frame_request_id(decision.text)))
            else:
                activity.publish(FrameIn(now, connection_id, text, decision))
        if not isinstance(decision, SendText):
            return decision
        refusal = decision.refusal
        if refusal is not None and activity.refusals:
            activity.publish(MessageRefused(self._now(), connection_id, decision.route_key or DEFAULT,
                                            refusal.status, refusal.reason))
        if self._access is not None:
            record = self.registry.peek(connection_id)
            if record is not None:
                context = self._context(record, decision.route_key or DEFAULT, "MESSAGE",
                                        request_id=_frame_request_id(decision.text))
                if refusal is not None:
                    # Throttled (429) or invalid (400): the route was selected, its
                    # integration never ran; $context.error.message is the frame's [?].
                    self._line(context, status=refusal.status, error_message=refusal.message)
                else:
                    # No route matched and no $default: the Forbidden frame [?] status 403.
                    context["routeKey"] = "-"  # no route was selected [?]
                    self._line(context, status=403, error_message="Forbidden")
        return decision

    def message_finished(self, invoke: Invoke, outcome: Outcome) -> SendText | None:
        reply = super().message_finished(invoke, outcome)
        if reply is not None and self._activity.traffic:
            cause = "reply" if isinstance(outcome, Succeeded) else "error"
            self._activity.publish(FrameOut(self._now(), reply.connection_id, reply.text, cause, invoke.request_id))
        if self._activity.access and self.model.access_log is not None:  # (the hot path: no property)
            # A failed integration is answered with "Internal server error" [obs] §4.1;
            # its request's status 500 [?].
            failed = not isinstance(outcome, Succeeded)
            self._invoked_line(invoke, outcome, status=500 if failed else 200,
                               error_message=_INTERNAL if failed else None)
        return reply

    def integration_timed_out(self, invoke: Invoke) -> SendText:
        frame = super().integration_timed_out(invoke)
        if self._activity.traffic:
            self._activity.publish(FrameOut(self._now(), frame.connection_id, frame.text, "error", invoke.request_id))
        if self._access is not None:
            # "Endpoint request timed out": status 504, as REST's INTEGRATION_TIMEOUT [?].
            self._line(_context_of(invoke), status=504, error_message="Endpoint request timed out",
                       integration_request_id=invoke.request_id)
        return frame

    def closed(self, connection_id: str, code: int, reason: str) -> Invoke | None:
        record = self.registry.peek(connection_id) if self._access is not None else None
        invoke = super().closed(connection_id, code, reason)
        if self._activity.traffic:
            self._activity.publish(Closed(self._now(), connection_id, code, reason))
        if invoke is None and record is not None and self._access is not None:
            # No $disconnect route: the close is still a request of the stage [?].
            context = self._context(record, DISCONNECT, "DISCONNECT", disconnect=(code, reason))
            self._line(context, status=200)
        return invoke

    def _disconnect_finished(self, invocation: Invocation) -> None:
        """A subscriber of the stream: a ``$disconnect``'s request ends with its
        invocation ($disconnect's result is ignored by API Gateway [doc] DOCS-disconnect;
        its status 200 [?])."""
        if invocation.invoke.route_key == DISCONNECT and self._access is not None:
            self._invoked_line(invocation.invoke, invocation.outcome, status=200)

    # -- access log lines ------------------------------------------------------------

    def _context(
        self, record: ConnectionRecord, route_key: str, event_type: str, *, request_id: str | None = None,
        disconnect: tuple[int, str] | None = None,
    ) -> dict[str, Any]:
        """The ``requestContext`` a request that ran no integration would have had."""
        return request_context(self.endpoint, record, route_key=route_key, event_type=event_type,
                               request_id=request_id or self.ids.request_id(), now_ms=self.clock.now_ms(),
                               disconnect=disconnect)

    def _refused_before_integration(self, handshake: Handshake, decision: Reject) -> None:
        """A ``$connect`` refused before any integration ran (API key, SigV4, a missing
        identity source): no connection id was handed out [?]."""
        now = self.clock.now_ms()
        request_id = self.ids.request_id()
        identity = {"sourceIp": handshake.source_ip}
        user_agent = handshake.header("User-Agent")
        if user_agent is not None:
            identity["userAgent"] = user_agent
        context = {
            "routeKey": CONNECT, "eventType": "CONNECT", "extendedRequestId": request_id,
            "requestTime": clf_time(now), "stage": self.endpoint.stage, "requestTimeEpoch": now,
            "identity": identity, "requestId": request_id, "domainName": self.endpoint.domain_name,
            "apiId": self.endpoint.api_id,
        }
        self._line(context, status=decision.status, error_message=_refusal_message(decision))

    def _invoked_line(
        self, invoke: Invoke, outcome: Outcome, *, status: int, error_message: str | None = None,
        authorizer: tuple[float, int] | None = None,
    ) -> None:
        lambda_status: int | None = None
        integration_status: int | None = None
        result = outcome.result if isinstance(outcome, Succeeded) else None
        returned = result.get("statusCode") if isinstance(result, dict) else None
        if invoke.integration is None:
            # Lambda's Invoke answers 200 when the function ran, raised or not [doc]
            # DG-LOG integration.integrationStatus; a timeout has no status [?].
            lambda_status = None if isinstance(outcome, TimedOut) else 200
            integration_status = returned if isinstance(returned, int) else None
        elif isinstance(returned, int):
            integration_status = returned
        self._line(
            _context_of(invoke), status=status, integration_latency_ms=outcome.duration_ms,
            integration_status=integration_status, lambda_status=lambda_status,
            integration_request_id=invoke.request_id,
            integration_error=outcome.error_message if isinstance(outcome, Failed) else None,
            error_message=error_message,
            authorizer_latency_ms=authorizer[0] if authorizer is not None else None,
            authorizer_status=authorizer[1] if authorizer is not None else None,
        )

    def _line(self, context: Mapping[str, Any], *, status: int, **ended: Any) -> None:
        settings = self.model.access_log
        if settings is None:
            return
        started = context.get("requestTimeEpoch")
        latency = self.clock.now_ms() - started if isinstance(started, int) else None
        values = request_values(context, status=status, latency_ms=latency, **ended)
        self._activity.publish(AccessLine(
            self._now(), context.get("connectionId"), str(context.get("requestId", "")),
            str(context.get("routeKey", "")), render(settings.format, values), settings.destination_arn,
        ))


def _context_of(invoke: Invoke) -> Mapping[str, Any]:
    context = invoke.event.get("requestContext")
    return context if isinstance(context, Mapping) else {}


def _refusal_message(decision: Reject) -> str | None:
    if decision.status in _REFUSAL_MESSAGES:
        return _REFUSAL_MESSAGES[decision.status]
    return _INTERNAL if decision.status >= 500 else None


def _frame_request_id(text: str) -> str | None:
    """The ``requestId`` of one of the gateway's error frames (core/lifecycle.error_frame)."""
    marker = '"requestId":"'
    start = text.rfind(marker)
    if start < 0:
        return None
    start += len(marker)
    end = text.find('"', start)
    return text[start:end] if end > start else None


class RecordingManagement(ManagementApi):
    """The ``@connections`` rules, unchanged, publishing each request and its status.
    Build it with the :class:`Activity` first, then :class:`ManagementApi`'s arguments."""

    def __init__(self, activity: Activity, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._activity = activity

    def handle(
        self, request: ManagementRequest, request_id: str, backlog: OutboundBacklog = _no_backlog,
    ) -> tuple[HttpResponse, Action]:
        response, action = super().handle(request, request_id, backlog)
        if not self._activity.traffic:
            return response, action
        try:
            connection_id: str | None = self.connection_id_from(request.target)
        except ManagementError:
            connection_id = None
        self._activity.publish(Managed(self._activity.now(), request, response.status, connection_id))
        return response, action
