"""A parsed CloudFormation template -> :class:`ApiModel`.

Call :func:`build_model` with the template as plain values (JSON, YAML via
:mod:`.yaml_cfn`, or the output of the SAM transform). It wires the pieces: template
sections (document.py), parameter values (parameters.py), the intrinsic resolver
with wsgw's local ``Ref``/``GetAtt`` values (intrinsics.py, references.py), then the
API's routes/authorizers/stage (websocket.py), functions (functions.py) and tables
(tables.py).

Which functions are strict: those a route or authorizer calls must be servable
(Python runtime, code folder, handler file) or the load fails naming the property.
Every other Python function is included when it can be served (handlers may invoke
it through the Lambda API) and skipped with a logged warning otherwise; functions on
other runtimes (CDK's Node.js custom-resource providers, say) are skipped silently.

Pure apart from functions.py's existence checks of code folders.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from ..core.errors import ConfigError
from ..core.model import ApiModel, FunctionSpec
from .admission import with_admissions
from .document import read_document
from .functions import build_function, functions_by_name, is_supported
from .intrinsics import Resolver, Scope, pseudo_parameters
from .messaging import build_queues, build_topics
from .parameters import parameter_values
from .references import LocalReferences
from .tables import build_tables
from .websocket import access_log_settings, build_routes, read_api, select_api, stage_name, stage_variables

_log = logging.getLogger("wsgw.template")

# ApiModel's default; `Ref` of the served API and `GetAtt Api.ApiEndpoint` use it.
API_ID = "wsgwlocal1"


def build_model(
    raw: Any, *, base_dir: Path, stack_name: str, api: str | None = None,
    parameters: Mapping[str, str] = MappingProxyType({}), region: str = "us-east-1",
    account_id: str = "123456789012",
) -> ApiModel:
    """The model of one WebSocket API of template ``raw``.

    ``base_dir`` is the template's folder (relative code paths and CDK asset paths
    resolve against it); ``stack_name`` is ``AWS::StackName``.
    """
    document = read_document(raw)
    scope = Scope(
        parameters=parameter_values(document.parameters, parameters),
        pseudo=pseudo_parameters(region=region, account_id=account_id, stack_name=stack_name),
        mappings=document.mappings,
        conditions=document.conditions,
    )

    def resolver_for(served_api: str | None) -> Resolver:
        references = LocalReferences(
            document, region=region, account_id=account_id, api_id=API_ID, served_api=served_api
        )
        return Resolver(scope, references)

    chosen = select_api(resolver_for(None), document, api)
    resolver = resolver_for(chosen.logical_id)
    settings = read_api(resolver, chosen)
    by_name = functions_by_name(resolver, document)
    routes, authorizers = build_routes(resolver, document, chosen, by_name)
    routes = with_admissions(resolver, document, chosen, routes)  # models, throttling
    stage = stage_name(resolver, document, chosen)
    variables = stage_variables(resolver, document, chosen)

    needed = {route.function for route in routes.values()}
    needed |= {authorizer.function for authorizer in authorizers.values()}
    functions: dict[str, FunctionSpec] = {}
    for name, resource in by_name.items():
        if name in needed:
            functions[name] = build_function(resolver, resource, base_dir=base_dir, document=document)
        else:
            try:
                if is_supported(resolver, resource):
                    functions[name] = build_function(resolver, resource, base_dir=base_dir, document=document)
            except ConfigError as exc:
                _log.warning("skipping function %s, which no route uses: %s", name, exc)

    return ApiModel(
        name=settings.name,
        stage=stage,
        route_selection_expression=settings.route_selection_expression,
        routes=MappingProxyType(routes),
        functions=MappingProxyType(functions),
        tables=build_tables(resolver, document),
        queues=build_queues(resolver, document),
        topics=build_topics(resolver, document),
        authorizers=MappingProxyType(authorizers),
        api_key_selection_expression=settings.api_key_selection_expression,
        api_id=API_ID,
        region=region,
        account_id=account_id,
        stage_variables=MappingProxyType(variables),
        access_log=access_log_settings(resolver, document, chosen),
    )
