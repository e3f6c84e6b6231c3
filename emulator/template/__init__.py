"""App definition → :class:`~emulator.core.model.ApiModel`: CloudFormation and SAM
templates, CDK cloud assemblies (and the CDK CLI that synthesizes them), the small
``wsgw.json`` description, parameters and environment overrides.

May import: the standard library, third-party parsers, and ``emulator.core``.
Entry points: :func:`load_model` (any app source) and :func:`load_template`.

Modules, one concept each::

    loader         load_model: which kind of app source, the bundled app by default
    template_file  load_template: a template file or cdk.out -> ApiModel
    cdk_cli        the CDK CLI: offline synth of an app, deploy/destroy
    cdk_assembly   cdk.out: manifest.json -> the stack template to serve
    yaml_cfn       YAML with CloudFormation's short forms (!Ref, !GetAtt ...)
    sam            the SAM transform (aws-sam-translator, offline)
    document       template sections and resources, unresolved
    parameters     Parameters -> values (defaults, overrides, constraints)
    intrinsics     Ref, Fn::GetAtt, Fn::Sub, Fn::Join ... evaluated lazily
    references     what Ref/GetAtt of each resource type mean locally
    websocket      the API, routes, integrations, authorizers, stage
    functions      AWS::Lambda::Function -> FunctionSpec
    tables         AWS::DynamoDB::Table -> TableSpec
    cloudformation wires the above into one ApiModel
    wsgw_json      the wsgw.json app description -> ApiModel
    env_overrides  --env-vars files and FUNCTION.KEY=VALUE overrides
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loader import load_model
    from .template_file import load_template

__all__ = ["load_model", "load_template"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the loaders pull in PyYAML and the CloudFormation code,
    # which ``emulator.template.cdk_cli`` and ``env_overrides`` users do not need.
    if name == "load_model":
        from .loader import load_model

        return load_model
    if name == "load_template":
        from .template_file import load_template

        return load_template
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
