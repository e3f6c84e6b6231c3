"""Where an API model comes from: one function for every kind of app source.

Call :func:`load_model` with what the user named (or nothing, for the bundled app):

- nothing: the bundled CDK app, synthesized (a no-op when unchanged) and loaded from
  its cloud assembly, so what runs locally is what ``wsgw deploy`` deploys; without the
  CDK tools, its snapshot template (bundled_app.py);
- a folder with ``cdk.json``: the user's own CDK app, synthesized (cdk_app.py);
- another folder: a CDK cloud assembly (``cdk.out``);
- a file: a CloudFormation or SAM template (JSON or YAML), or a wsgw app description
  (JSON with ``routes``/``functions`` at the top and no ``Resources``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from ..core.model import ApiModel
from . import bundled_app, cdk_app, cdk_cli
from .cdk_toolkit import Progress
from .template_file import load_template
from .wsgw_json import load_app


def is_app_description(path: Path) -> bool:
    """Whether ``path`` is a wsgw app description rather than a template."""
    if path.suffix != ".json" or not path.is_file():
        return False
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # the template loader reports the problem with its context
    return (
        isinstance(document, dict)
        and "Resources" not in document
        and any(key in document for key in ("routes", "functions", "routeSelectionExpression"))
    )


def load_model(
    source: Path | None = None,
    *,
    api: str | None = None,
    stack: str | None = None,
    parameters: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    stack_name: str | None = None,
) -> ApiModel:
    """The API model for ``source`` (see the module docstring); ConfigError/CdkError
    name what is wrong in one line. ``progress`` hears about a synth while it runs;
    ``stack_name`` is ``AWS::StackName`` (``--stack-name``; default: the assembly's
    stack name, or a template file's folder name)."""
    if source is None:
        assembly = cdk_cli.synth(progress=progress) if cdk_cli.can_synthesize() else bundled_app.snapshot_path()
        return load_template(assembly, api=api, stack=stack, parameters=parameters or {}, stack_name=stack_name)
    if cdk_app.is_cdk_app(source):
        return load_template(cdk_app.synth_app(source, progress), api=api, stack=stack,
                             parameters=parameters or {}, stack_name=stack_name)
    if is_app_description(source):
        return load_app(source)
    return load_template(source, api=api, stack=stack, parameters=parameters or {}, stack_name=stack_name)
