"""The gateway core: API Gateway's WebSocket lifecycle as plain decisions.

The server (I/O) calls one method per thing that happens on the wire and carries out
the action it gets back; the core never touches a socket, awaits, or reads the
clock itself. The lifecycle of one connection::

    open(handshake)            -> Reject | Accept | Invoke(authorizer or $connect)
    connect_finished(inv, out) -> Accept | Reject | Invoke($connect after the authorizer)
    message(id, text)          -> Invoke | SendText         (SendText = Forbidden frame)
    message_finished(inv, out) -> SendText | None           (two-way body or error frame)
    integration_timed_out(inv) -> SendText                  ("Endpoint request timed out")
    expired()                  -> [CloseConnection]         (idle 10 min / 2 h maximum)
    closed(id, code, reason)   -> Invoke($disconnect) | None
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Union

from .access import api_key_refusal, iam_check
from .admission import Gate, Refusal
from .authorizer import authorizer_event, method_arn, missing_identity, verdict
from .clock import Clock
from .credentials import DEFAULT_IAM_CREDENTIALS
from .events import (
    Handshake,
    StageEndpoint,
    connect_event,
    disconnect_event,
    message_event,
)
from .iam_identity import EMPTY_IDENTITIES, Identity
from .ids import IdFactory
from .invocation import Failed, Invoke, Outcome, Succeeded, TimedOut
from .model import CONNECT, DEFAULT, DISCONNECT, ApiModel
from .proxy_result import MALFORMED, connect_status, route_response_text, subprotocol
from .registry import ConnectionRecord, ConnectionRegistry, ConnectionStatus
from .selection import RouteSelector
from .validation import bad_request_frame


@dataclass(frozen=True)
class Accept:
    """Complete the handshake with 101; echo ``subprotocol`` if the handler chose one."""

    connection_id: str
    subprotocol: str | None = None


@dataclass(frozen=True)
class Reject:
    """Refuse the handshake with this HTTP status and body; no connection is made.
    ``reason`` is for the operator (run-local's log), never sent to the client."""

    status: int
    body: str
    reason: str = field(default="", compare=False)


@dataclass(frozen=True)
class SendText:
    """Send one text message to a connection."""

    connection_id: str
    text: str
    # Set when the text is a route's refusal of a message (throttled, invalid body):
    # the route and why, for the records (core/recording.py).
    route_key: str | None = None
    refusal: Refusal | None = None


@dataclass(frozen=True)
class CloseConnection:
    """Close a connection from the server side with this code and reason."""

    connection_id: str
    code: int
    reason: str


ConnectDecision = Union[Reject, Accept, Invoke]

FORBIDDEN_BODY = '{"message":"Forbidden"}'
UNAUTHORIZED_BODY = '{"message":"Unauthorized"}'
# A throttled handshake's body: REST's throttling answer, unconfirmed for WebSocket [?].
TOO_MANY_REQUESTS_BODY = '{"message":"Too Many Requests"}'
_REFUSAL_BODIES = {
    401: UNAUTHORIZED_BODY,
    403: FORBIDDEN_BODY,
    500: '{"message": null}',
}


AUTHORIZER = "$connect:authorizer"
"""``route_key`` of the Invoke that runs a Lambda authorizer before ``$connect``."""


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    """An API Gateway error frame, byte for byte (reference §5).

    AWS puts a space after the first colon only:
    ``{"message": "Forbidden", "connectionId":"…", "requestId":"…"}``.
    """
    return (
        f'{{"message": "{message}", "connectionId":"{connection_id}", '
        f'"requestId":"{request_id}"}}'
    )


class ConnectionLifecycle:
    """One WebSocket API stage: routes, the connection table and the event rules."""

    def __init__(
        self,
        model: ApiModel,
        *,
        domain_name: str,
        clock: Clock,
        ids: IdFactory,
        registry: ConnectionRegistry | None = None,
        api_keys: frozenset[str] = frozenset(),
        iam_credentials: Mapping[str, str] = DEFAULT_IAM_CREDENTIALS,
        iam_identities: Mapping[str, Identity] = EMPTY_IDENTITIES,
        json_decode: Callable[[str], Any] = json.loads,
    ) -> None:
        self.model = model
        self._decode = json_decode  # reads message bodies for route selection (RouteSelector.parse)
        self.api_keys = api_keys
        self.iam_credentials = iam_credentials
        self.iam_identities = iam_identities  # access key -> identity fields (--iam-identities)
        self._handshakes: dict[str, Handshake] = {}  # waiting for their authorizer
        self.clock = clock
        self.ids = ids
        self.registry = registry if registry is not None else ConnectionRegistry()
        self.endpoint = StageEndpoint(model.api_id, model.stage, domain_name)
        self.selector = RouteSelector.parse(model.route_selection_expression, self._decode)
        self._stage_path = "/" + model.stage
        self._method_arn = method_arn(self.endpoint, model.region, model.account_id)
        self.gate = Gate()  # the stage's token buckets (RouteSpec.admission)

    def swap_model(self, model: ApiModel) -> None:
        """Serve ``model``'s routes, authorizers and selection expression from the next
        message on, keeping every connection and pending handshake (hot reload; call
        on the event loop once the invoker serves the model's functions). Raises
        :class:`ConfigError` for a bad selection expression, with nothing changed."""
        selector = RouteSelector.parse(model.route_selection_expression, self._decode)
        endpoint = StageEndpoint(model.api_id, model.stage, self.endpoint.domain_name)
        self.model, self.selector, self.endpoint = model, selector, endpoint
        self._stage_path = "/" + model.stage
        self._method_arn = method_arn(endpoint, model.region, model.account_id)

    # -- connect ---------------------------------------------------------------

    def open(self, handshake: Handshake) -> ConnectDecision:
        """Call when an upgrade request has been parsed; before any reply is sent.

        An :class:`Invoke` is the authorizer's (``route_key`` :data:`AUTHORIZER`) or
        ``$connect``'s; pass its outcome to :meth:`connect_finished`.
        """
        if handshake.path != self._stage_path:
            # Any path other than /{stage} is refused with 403 before any
            # integration runs, like API Gateway's missing-route answer [?] body.
            return Reject(403, FORBIDDEN_BODY, f"no such stage: {handshake.path} (this API serves {self._stage_path})")
        now = self.clock.now_ms()
        record = ConnectionRecord(
            connection_id=self.ids.connection_id(),
            connected_at_ms=now,
            last_active_at_ms=now,
            source_ip=handshake.source_ip,
            user_agent=handshake.header("User-Agent"),
        )
        route = self.model.route(CONNECT)
        if route is None:
            # "Setting up an integration for $connect is optional" [doc] DOCS-connect.
            self.registry.add(record)
            self.registry.mark_open(record.connection_id)
            return Accept(record.connection_id)
        if route.admission is not None:
            refused = self.gate.check(CONNECT, route.admission, None, now)
            if refused is not None:
                # A throttled $connect: the handshake is refused with 429 [obs]
                # apigw-websocket.md §5; checked before any other $connect rule [?].
                return Reject(refused.status, TOO_MANY_REQUESTS_BODY, refused.reason)
        if route.api_key_required and not self.model.api_key_from_authorizer:
            refusal = api_key_refusal(handshake.header("x-api-key"), self.api_keys)
            if refusal is not None:
                # ApiKeyRequired with $request.header.x-api-key: a missing or unknown
                # key is refused before any integration; 403 by analogy with REST [?] §8.
                return Reject(403, FORBIDDEN_BODY, refusal)
        if route.authorization_type == "AWS_IAM":
            caller = iam_check(
                handshake, credentials=self.iam_credentials, account_id=self.model.account_id,
                now=datetime.fromtimestamp(now / 1000, tz=timezone.utc), identities=self.iam_identities,
            )
            if isinstance(caller, str):
                # An unsigned or badly signed upgrade request is refused with 403
                # [doc] DOCS-iam, DOCS-connect.
                return Reject(403, FORBIDDEN_BODY, caller)
            # The signer's identity goes into every event of the connection
            # (core/iam_identity.py).
            record = replace(record, iam_caller=caller)
        self.registry.add(record)
        if route.authorization_type == "CUSTOM" and route.authorizer is not None:
            spec = self.model.authorizers[route.authorizer]
            missing = missing_identity(spec, handshake)
            if missing is not None:
                # A missing identity source: 401 without invoking the authorizer §8.
                self.registry.remove(record.connection_id)
                return Reject(401, UNAUTHORIZED_BODY,
                              f"authorizer {spec.function}: identity source {missing} is missing or empty")
            self._handshakes[record.connection_id] = handshake
            request_id = self.ids.request_id()
            event = authorizer_event(
                self.endpoint, record, handshake, request_id=request_id, now_ms=now, arn=self._method_arn,
            )
            return Invoke(spec.function, event, request_id, record.connection_id, AUTHORIZER)
        return self._connect_invoke(record, handshake)

    def _connect_invoke(self, record: ConnectionRecord, handshake: Handshake) -> Invoke:
        route = self.model.routes[CONNECT]
        request_id = self.ids.request_id()
        event = connect_event(self.endpoint, record, handshake, request_id=request_id, now_ms=self.clock.now_ms())
        return Invoke(route.function, event, request_id, record.connection_id, CONNECT,
                      integration=route.integration)

    def connect_finished(self, invoke: Invoke, outcome: Outcome) -> Accept | Reject | Invoke:
        """Call with the outcome of an :meth:`open` Invoke (authorizer or ``$connect``);
        then send the 101 or the refusal, or run the next Invoke (``$connect`` after
        an allowing authorizer) and call again."""
        connection_id = invoke.connection_id
        if invoke.route_key == AUTHORIZER:
            handshake = self._handshakes.pop(connection_id)
            judged = verdict(outcome, self._method_arn)
            if judged.status is not None:
                self.registry.remove(connection_id)
                return Reject(judged.status, _REFUSAL_BODIES[judged.status], f"authorizer {invoke.function} {judged.reason}")
            route = self.model.route(CONNECT)
            if self.model.api_key_from_authorizer and route is not None and route.api_key_required:
                refusal = api_key_refusal(judged.context.get("usageIdentifierKey"), self.api_keys,
                                          source="usageIdentifierKey from the authorizer")
                if refusal is not None:
                    self.registry.remove(connection_id)
                    return Reject(403, FORBIDDEN_BODY, refusal)
            record = self.registry.set_authorizer(connection_id, judged.context)
            if route is None:  # $connect removed by a hot reload meanwhile: nothing to run
                self.registry.mark_open(connection_id)
                return Accept(connection_id)
            return self._connect_invoke(record, handshake)
        decision = _connect_decision(connection_id, outcome)
        if isinstance(decision, Accept):
            self.registry.mark_open(connection_id)
        else:
            self.registry.remove(connection_id)
        return decision

    def abandon(self, connection_id: str) -> None:
        """Call when a client went away before its handshake finished: no $disconnect.

        AWS runs $disconnect only for established connections [?]; a connection whose
        $connect never completed was never established.
        """
        self.registry.remove(connection_id)
        self._handshakes.pop(connection_id, None)

    # -- messages ---------------------------------------------------------------

    def message(self, connection_id: str, text: str) -> Invoke | SendText:
        """Call for each complete text message a client sent."""
        now = self.clock.now_ms()
        self.registry.touch(connection_id, now)
        record = self.registry.peek(connection_id)  # events carry no lastActiveAt
        if record is None:
            raise KeyError(f"message on unknown connection {connection_id}")
        request_id = self.ids.request_id()
        route_key = self._select(text)
        if route_key is None:
            # No matching route and no $default: the Forbidden frame; the connection
            # stays open [obs] reference §3, §5.
            return SendText(connection_id, error_frame("Forbidden", connection_id, request_id))
        route = self.model.routes[route_key]
        if route.admission is not None:
            refused = self.gate.check(route_key, route.admission, text, now)
            if refused is not None:
                return SendText(connection_id, self._refusal_frame(refused, connection_id, request_id),
                                route_key, refused)
        event = message_event(
            self.endpoint, record, route_key=route_key, body=text,
            request_id=request_id, message_id=self.ids.message_id(), now_ms=now,
        )
        return Invoke(route.function, event, request_id, connection_id, route_key, two_way=route.two_way,
                      integration=route.integration)

    def _refusal_frame(self, refused: Refusal, connection_id: str, request_id: str) -> str:
        # Neither integration runs; the connection stays open, as after the other
        # error frames [?] (apigw-integrations.md §4, §6).
        if refused.status == 429:
            # AWS's throttled-message frame is unconfirmed [?]: the error-frame shape
            # with "Too Many Requests" (apigw-integrations.md §6, apigw-websocket.md §5).
            return error_frame(refused.message, connection_id, request_id)
        return bad_request_frame(connection_id, self.ids.message_id())

    def _select(self, text: str) -> str | None:
        key = self.selector.evaluate(text)
        # Exact, case-sensitive match [doc] DOCS-routes; $connect/$disconnect are
        # never chosen by the expression [obs] LS-TEST. Non-JSON (None) and no
        # match fall back to $default [doc].
        if key is not None and key not in (CONNECT, DISCONNECT) and key in self.model.routes:
            return key
        return DEFAULT if DEFAULT in self.model.routes else None

    def message_finished(self, invoke: Invoke, outcome: Outcome) -> SendText | None:
        """Call with a message route's outcome; send what it returns, if anything."""
        if not isinstance(outcome, Succeeded):
            # Handler raised, died or ran past its Lambda timeout: the integration
            # failed, and AWS sends this frame even on one-way routes [obs] §4.1, §5.
            return SendText(
                invoke.connection_id,
                error_frame("Internal server error", invoke.connection_id, invoke.request_id),
            )
        if not invoke.two_way:
            # Without a route response nothing from the integration reaches the
            # client [doc] DOCS-routeresp. The route as it was when the message was
            # routed decides: a hot reload that removes or changes the route while
            # its invocation runs does not drop the reply [?] (AWS: a new deployment
            # does not touch a request in flight, by analogy with REST stages).
            return None
        return SendText(invoke.connection_id, route_response_text(outcome.result))

    def integration_timed_out(self, invoke: Invoke) -> SendText:
        """Call when the integration timeout (29 s max) passed before the outcome."""
        return SendText(
            invoke.connection_id,
            error_frame("Endpoint request timed out", invoke.connection_id, invoke.request_id),
        )

    def integration_timeout_ms(self, invoke: Invoke) -> int:
        """How long the server waits for ``invoke`` before giving up on it."""
        limit = self.model.limits.integration_timeout_ms
        route = self.model.route(invoke.route_key)
        if route is not None and route.integration_timeout_ms is not None:
            return min(route.integration_timeout_ms, limit)
        return limit

    # -- timeouts ---------------------------------------------------------------

    def activity(self, connection_id: str) -> None:
        """Call when a message goes out to a client: activity in either direction
        resets the idle timeout [doc] DOCS-limits, reference §6."""
        self.registry.touch(connection_id, self.clock.now_ms())

    def closing(self, connection_id: str) -> None:
        """Call when a connection's closing handshake starts, from either side: from
        then on ``@connections`` answers 410 for it, so no post is accepted (200) that
        can no longer be delivered. What AWS answers in that window is unconfirmed [?];
        410 is its answer once the connection is gone [doc] KC-410."""
        self.registry.mark_closing(connection_id)

    def expired(self) -> list[CloseConnection]:
        """Connections past the idle timeout (10 min without activity) or the maximum
        duration (2 h); close each with 1001 "Going away" and report that to
        ``$disconnect``. Call periodically (and after moving a test clock).

        AWS's close frame on these limits is unconfirmed [?]; the $disconnect capture
        after an idle timeout shows 1001 "Going away" [obs] reference §1.3.
        """
        limits = self.model.limits
        return [
            CloseConnection(connection_id, 1001, "Going away")
            for connection_id in self.registry.open_past(
                self.clock.now_ms(), limits.idle_timeout_ms, limits.max_connection_ms)
        ]

    # -- disconnect -------------------------------------------------------------

    def closed(self, connection_id: str, code: int, reason: str) -> Invoke | None:
        """Call once when an established connection is gone, whatever closed it.

        ``code``/``reason`` are what ``$disconnect`` reports: the client's close code
        and reason, 1005 "Client-side close frame status not set" for a close frame
        without a code, 1000 "Connection Closed Normally" after DeleteConnection,
        1001 "Going away" on shutdown or idle timeout (reference §1.3).
        """
        record = self.registry.remove(connection_id)
        route = self.model.route(DISCONNECT)
        if record is None or route is None:
            return None
        request_id = self.ids.request_id()
        event = disconnect_event(
            self.endpoint, record, status_code=code, reason=reason,
            request_id=request_id, now_ms=self.clock.now_ms(),
        )
        return Invoke(route.function, event, request_id, connection_id, DISCONNECT, integration=route.integration)


def _connect_decision(connection_id: str, outcome: Outcome) -> Accept | Reject:
    if isinstance(outcome, (Failed, TimedOut)):
        # The $connect Lambda threw or timed out: the handshake gets 502 [obs] §4.2.
        why = f"$connect failed ({outcome.error_type})" if isinstance(outcome, Failed) else "$connect timed out"
        return Reject(502, '{"message": "Internal server error"}', why)
    result = outcome.result
    status = connect_status(result)
    if status is None:
        # No statusCode (e.g. the handler returned None): accepted. AWS behaviour is
        # unconfirmed [?] (reference §4.2); a proxy integration's default response is
        # 200, so a handler that returns nothing still lets the client in.
        status = 200
    elif status == MALFORMED:
        return Reject(502, '{"message": "Internal server error"}', "$connect returned a malformed statusCode")
    if not 200 <= status <= 299:
        # Any non-2xx answers the handshake with that exact status [obs] §4.2.
        return Reject(status, "", f"$connect returned {status}")
    return Accept(connection_id, subprotocol(result))
