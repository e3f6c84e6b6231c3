"""Where an API model comes from: one function for every kind of app source.

Call :func:`load_model` with what the user named (or nothing, for the bundled app):

- nothing: the bundled CDK app, synthesized (a no-op when unchanged) and loaded from
  its cloud assembly, so what runs locally is what ``wsgw deploy`` deploys;
- a folder: a CDK cloud assembly (``cdk.out``);
- a file: a CloudFormation or SAM template (JSON or YAML), or a wsgw app description
  (JSON with ``routes``/``functions`` at the top and no ``Resources``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from ..core.model import ApiModel
from . import cdk_cli
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
) -> ApiModel:
    """The API model for ``source`` (see the module docstring); ConfigError/CdkError
    name what is wrong in one line."""
    if source is None:
        return load_template(cdk_cli.synth(), api=api, stack=stack, parameters=parameters or {})
    if is_app_description(source):
        return load_app(source)
    return load_template(source, api=api, stack=stack, parameters=parameters or {})
