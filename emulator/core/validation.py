"""Request validation: a route's ``RequestModels`` chosen by its ``ModelSelectionExpression``.

API Gateway validates an incoming message against a JSON Schema (draft 4) model before
it calls the route's integration; an invalid message gets the ``Bad request body``
frame and the integration is not called (reference apigw-integrations.md §4, DG-VALID,
DG-ROUTESINT). The loader (``emulator/template/request_models.py``) reads the
``AWS::ApiGatewayV2::Model`` resources and compiles each schema into a
:data:`SchemaCheck`; this module only chooses the model and asks it.

Pure: the schema checker is handed in (the JSON Schema implementation is a third-party
package, which core does not import).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Mapping, TypeAlias

from .selection import RouteSelector

DEFAULT_MODEL_KEY = "$default"

SchemaCheck: TypeAlias = Callable[[object], str | None]
"""A compiled schema: takes a decoded JSON document and returns ``None`` when it is
valid, else a one-line description of the first error (``validationErrorString``)."""


@dataclass(frozen=True)
class RequestModel:
    """One ``AWS::ApiGatewayV2::Model``: its ``Name``, ``ContentType``, the ``Schema``
    as JSON text, and that schema compiled (``check``)."""

    name: str
    content_type: str
    schema: str
    check: SchemaCheck = field(compare=False, repr=False)


@dataclass(frozen=True)
class ModelValidation:
    """A route's request validation: its ``RequestModels`` (selection key -> model) and
    its parsed ``ModelSelectionExpression`` (``None`` when the route has none, so only
    a ``$default`` model can apply).

    Build it once at load time; call :func:`validation_error` for each message routed
    to the route, before its integration runs.
    """

    models: Mapping[str, RequestModel]
    selector: RouteSelector | None = None

    def model_for(self, body: str) -> RequestModel | None:
        """The model ``body`` is validated against, or ``None`` when none applies.

        The expression is evaluated like a route selection expression (a
        ``$request.body`` path or a static key); its value is matched exactly against
        the ``RequestModels`` keys, ``$default`` is the fallback key, and with no match
        and no ``$default`` there is no model [doc] DG-VALID.
        """
        key = self.selector.evaluate(body) if self.selector is not None else None
        if key is not None:
            model = self.models.get(key)
            if model is not None:
                return model
        return self.models.get(DEFAULT_MODEL_KEY)


def validation_error(validation: ModelValidation, body: str) -> str | None:
    """Why ``body`` fails ``validation`` (the text AWS would put in
    ``$context.error.validationErrorString``, in our words), or ``None`` when it passes.

    Call for each text message routed to a route with ``RequestModels``; a non-``None``
    answer means: send the ``Bad request body`` frame and do not run the integration.
    """
    model = validation.model_for(body)
    if model is None:
        # "If there is no matching model and no $default, validation fails" [doc] DG-VALID.
        return "no RequestModels entry matches the model selection key and there is no $default model"
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        # A message that is not JSON cannot satisfy a JSON Schema model: rejected like
        # an invalid one [?] (AWS's answer to a non-JSON body on a validated route is
        # unconfirmed, reference apigw-integrations.md §10 item 6).
        return f"the body is not JSON (model {model.name})"
    problem = model.check(document)
    return None if problem is None else f"model {model.name}: {problem}"


def bad_request_frame(connection_id: str, message_id: str) -> str:
    """The frame a client gets for a message that failed validation.

    Written as AWS's guide prints it, key for key and space for space:
    ``{"message" : "Bad request body", "connectionId": "…", "messageId": "…"}``
    [doc] DG-ROUTESINT. [?] Whether the live service sends exactly this (the other
    error frames carry ``requestId`` and put a space after the first colon only,
    apigw-websocket.md §5) is unconfirmed (apigw-integrations.md §4, §10 item 6).
    """
    return (
        f'{{"message" : "Bad request body", "connectionId": "{connection_id}", '
        f'"messageId": "{message_id}"}}'
    )
