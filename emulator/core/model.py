"""The API model: everything run-local needs to know about one WebSocket API.

Loaders (``emulator/template``: CloudFormation and SAM templates, CDK cloud
assemblies, the small ``wsgw.json`` description) produce an :class:`ApiModel`; the
rest of the emulator only ever reads it. All values are
frozen so they can cross module and thread boundaries safely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .access_log import AccessLogSettings
from .admission import RouteAdmission
from .errors import ConfigError
from .integration import IntegrationSpec
from .stage_targets import StageTarget

CONNECT = "$connect"
DISCONNECT = "$disconnect"
DEFAULT = "$default"

EMPTY: Mapping[str, str] = MappingProxyType({})

# TimeoutInMillis: 50 ms - 29 s for every integration type [doc] DOCS-limits.
MIN_INTEGRATION_TIMEOUT_MS = 50
MAX_INTEGRATION_TIMEOUT_MS = 29_000

# ApiKeySelectionExpression: the only two values API Gateway accepts (reference §8,
# DOCS-selexpr); the header one is the default.
API_KEY_FROM_HEADER = "$request.header.x-api-key"
API_KEY_FROM_AUTHORIZER = "$context.authorizer.usageIdentifierKey"
API_KEY_SELECTION_EXPRESSIONS = (API_KEY_FROM_HEADER, API_KEY_FROM_AUTHORIZER)

# Stage names: alphanumerics, hyphens and underscores, up to 128 characters
# (CreateStage docs); the stage is one path segment of every URL.
_STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")


def check_stage_name(stage: str, where: str) -> str:
    """Return ``stage`` if it is a valid stage name, else raise a
    :class:`~emulator.core.errors.ConfigError` naming ``where``."""
    if not _STAGE_NAME.fullmatch(stage):
        raise ConfigError(where, f"{stage!r} is not a stage name (letters, digits, - and _)")
    return stage


def check_integration_timeout(value: object, where: str) -> int:
    """Return ``value`` if it is a valid ``TimeoutInMillis`` (an integer from 50 to
    29000), else raise a :class:`~emulator.core.errors.ConfigError` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int) or not (
        MIN_INTEGRATION_TIMEOUT_MS <= value <= MAX_INTEGRATION_TIMEOUT_MS
    ):
        raise ConfigError(where, f"must be an integer from {MIN_INTEGRATION_TIMEOUT_MS} to {MAX_INTEGRATION_TIMEOUT_MS}")
    return value


@dataclass(frozen=True)
class Limits:
    """AWS's WebSocket limits (reference §6, DOCS-limits); configurable for tests.

    ``frame_bytes``/``message_bytes``: 32 KB per frame, 128 KB per message (close 1009
    beyond). ``post_data_bytes``: PostToConnection ``Data`` max (service model 131072).
    ``idle_timeout_ms``: 10 minutes; ``max_connection_ms``: 2 hours.
    ``integration_timeout_ms``: 29 s, the ceiling for every integration.
    ``client_buffer_bytes``: outbound bytes the gateway holds for one client that is
    not reading (beyond what the kernel's socket buffers took) before PostToConnection
    answers 429 LimitExceededException, "the WebSocket client side buffer is full"
    [model] BOTO-MGMT. AWS does not publish the size [?]; 1 MiB (eight full-size
    messages) is our choice.
    """

    frame_bytes: int = 32 * 1024
    message_bytes: int = 128 * 1024
    post_data_bytes: int = 131_072
    idle_timeout_ms: int = 10 * 60 * 1000
    max_connection_ms: int = 2 * 60 * 60 * 1000
    integration_timeout_ms: int = MAX_INTEGRATION_TIMEOUT_MS
    client_buffer_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class LayerSpec:
    """One entry of a function's ``Layers``, in the function's order (Lambda merges
    layers into ``/opt`` in that order, a later layer's file winning [doc]
    DG-ADDLAYER, reference lambda-runtime.md §2).

    ``content_dir`` is the local folder whose content Lambda would extract into
    ``/opt`` (so its ``python/`` is what Python imports from); ``None`` for a layer
    given only as an ARN, which cannot be fetched locally. ``built``: the folder is
    a SAM layer with a ``python3.x`` ``BuildMethod``, whose own files ``sam build``
    puts under ``python/`` (the folder is ``/opt/python`` itself).
    """

    name: str  # the layer's logical id, or its ARN
    content_dir: Path | None = None
    built: bool = False


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: where its code is and how it runs.

    ``handler`` is Lambda's ``module.function`` (``module`` may be dotted for code in
    packages); ``code_dir`` goes first on the worker's ``sys.path``. Defaults are
    Lambda's: 3 s timeout, 128 MB.
    """

    name: str
    handler: str
    code_dir: Path
    runtime: str = "python3.12"
    environment: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    timeout_s: float = 3.0
    memory_mb: int = 128
    logical_id: str | None = None  # its resource in the template (None: from a wsgw.json)
    layers: tuple[LayerSpec, ...] = ()  # its Layers, in order

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class RouteSpec:
    """A route: its key, the function its AWS_PROXY integration calls, and whether a
    route response makes it two-way (reference §4.1).

    ``authorization_type`` is ``NONE``, ``AWS_IAM`` or ``CUSTOM`` (then
    ``authorizer`` names an :class:`AuthorizerSpec`); only ``$connect`` may carry
    authorization or ``api_key_required`` (reference §8).
    """

    key: str
    function: str
    two_way: bool = False
    integration_timeout_ms: int | None = None
    authorization_type: str = "NONE"
    authorizer: str | None = None
    api_key_required: bool = False
    # None: the Lambda proxy above. Otherwise a MOCK, HTTP, HTTP_PROXY or AWS
    # integration (core/integration.py), and ``function`` is its label for logs.
    integration: IntegrationSpec | None = None
    # Throttling and request validation before the integration runs
    # (core/admission.py); None: neither, and the message path skips both.
    admission: RouteAdmission | None = None
    # A Lambda integration URI naming the function through ${stageVariables.x}:
    # core/stage_targets.py binds ``function`` from the stage's variables.
    stage_target: StageTarget | None = None


@dataclass(frozen=True)
class AuthorizerSpec:
    """A Lambda REQUEST authorizer (``AWS::ApiGatewayV2::Authorizer``).

    ``identity_source`` holds entries like ``route.request.header.Authorization`` or
    ``route.request.querystring.token``.
    """

    name: str
    function: str
    identity_source: tuple[str, ...] = ()
    authorizer_type: str = "REQUEST"


@dataclass(frozen=True)
class KeyAttribute:
    """A DynamoDB key attribute: name and scalar type (``S``, ``N`` or ``B``)."""

    name: str
    type: str = "S"


@dataclass(frozen=True)
class IndexSpec:
    """A global or local secondary index: key attribute names and projection."""

    name: str
    partition_key: str
    sort_key: str | None = None
    projection_type: str = "ALL"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table that run-local creates in the embedded AWS services.

    ``attributes`` lists every attribute an index uses that is not one of the
    table's own keys (as CloudFormation's ``AttributeDefinitions`` would).
    """

    logical_id: str
    table_name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    ttl_attribute: str | None = None
    attributes: tuple[KeyAttribute, ...] = ()
    global_indexes: tuple[IndexSpec, ...] = ()
    local_indexes: tuple[IndexSpec, ...] = ()


@dataclass(frozen=True)
class QueueSpec:
    """An SQS queue of the template that run-local creates in the embedded AWS
    services, so that a route's ``AWS`` integration (or a handler) can send to it.
    ``attributes`` are ``CreateQueue`` attributes, as strings."""

    logical_id: str
    queue_name: str
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TopicSpec:
    """An SNS topic of the template that run-local creates in the embedded AWS
    services. ``attributes`` are ``CreateTopic`` attributes, as strings."""

    logical_id: str
    topic_name: str
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ApiModel:
    """One WebSocket API as run-local serves it."""

    name: str
    stage: str
    route_selection_expression: str
    routes: Mapping[str, RouteSpec]
    functions: Mapping[str, FunctionSpec]
    tables: tuple[TableSpec, ...] = ()
    queues: tuple[QueueSpec, ...] = ()
    topics: tuple[TopicSpec, ...] = ()
    authorizers: Mapping[str, AuthorizerSpec] = field(default_factory=lambda: MappingProxyType({}))
    api_key_selection_expression: str | None = None
    api_id: str = "wsgwlocal1"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    limits: Limits = field(default_factory=Limits)
    # The stage's StageVariables (with --stage-variable overrides) [doc] CFN-STAGE.
    stage_variables: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    # The stage's AccessLogSettings (core/access_log.py); None: no access log.
    access_log: AccessLogSettings | None = None

    @property
    def api_key_from_authorizer(self) -> bool:
        """Whether ``ApiKeyRequired`` checks the authorizer's ``usageIdentifierKey``
        instead of the ``x-api-key`` header [doc] DOCS-selexpr."""
        return self.api_key_selection_expression == API_KEY_FROM_AUTHORIZER

    def route(self, key: str) -> RouteSpec | None:
        """The route with exactly this key, if the API has one."""
        return self.routes.get(key)

    def without_throttling(self) -> ApiModel:
        """This model with every route's throttle limits dropped (``--no-throttle``);
        request validation stays."""
        routes = {}
        for key, route in self.routes.items():
            admission = route.admission
            if admission is not None and admission.throttle is not None:
                admission = replace(admission, throttle=None) if admission.validation is not None else None
                route = replace(route, admission=admission)
            routes[key] = route
        return replace(self, routes=MappingProxyType(routes))

