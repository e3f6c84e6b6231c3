"""What a request must pass on its route before the route's integration runs:
the stage's throttling (core/throttle.py), then the route's request validation
(core/validation.py).

A route with neither has no :class:`RouteAdmission` (``RouteSpec.admission`` is
``None``) and costs the message path one ``is None`` test. The lifecycle keeps one
:class:`Gate` per stage and asks it for each ``$connect`` and each routed message of a
route that has one; a :class:`Refusal` tells it what to answer instead of invoking.
"""

from __future__ import annotations

from dataclasses import dataclass

from .throttle import ThrottleLimits, Throttles
from .validation import ModelValidation, validation_error

TOO_MANY_REQUESTS = "Too Many Requests"
BAD_REQUEST_BODY = "Bad request body"


@dataclass(frozen=True)
class RouteAdmission:
    """A route's checks: its throttle limits (from the stage's route settings) and its
    request models. At least one is set."""

    throttle: ThrottleLimits | None = None
    validation: ModelValidation | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a request is not passed on: ``message`` is what the client is told (the
    error frame's ``message``), ``reason`` is for the operator's log."""

    status: int
    message: str
    reason: str


class Gate:
    """The admission state of one stage (its token buckets)."""

    def __init__(self) -> None:
        self.throttles = Throttles()

    def check(self, route_key: str, admission: RouteAdmission, body: str | None, now_ms: int) -> Refusal | None:
        """Call once per request on a route with an admission, before its integration:
        ``body`` is the message text (``None`` for ``$connect``). ``None`` means go on.

        Throttling comes first, as on AWS, where it is applied before the request
        reaches the route (DG-THROTTLE's order: account, stage/route, then the
        method's own processing); a throttled request is not validated, and a
        request that fails validation has taken its token [?] (which requests take
        tokens is unconfirmed, apigw-integrations.md §6).
        """
        limits = admission.throttle
        if limits is not None and not self.throttles.admit(route_key, limits, now_ms):
            return Refusal(429, TOO_MANY_REQUESTS, f"route {route_key} throttled "
                           f"(burst {limits.burst}, rate {limits.rate:g}/s)")
        validation = admission.validation
        if validation is not None and body is not None:
            problem = validation_error(validation, body)
            if problem is not None:
                return Refusal(400, BAD_REQUEST_BODY, problem)
        return None
