"""Reading a CloudFormation/SAM template file or a CDK cloud assembly into an
:class:`~emulator.core.model.ApiModel`: :func:`load_template`.

Call it once at start-up with the path the user gave; every problem is a
:class:`~emulator.core.errors.ConfigError` whose ``where`` names the file, or the
template place (``Resources.<Id>.Properties.<Field>``) to fix.
"""


from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from ..core.errors import ConfigError
from ..core.model import ApiModel
from .cdk_assembly import read_json, read_stack
from .cloudformation import build_model
from .document import SAM_TRANSFORM, transforms
from .sam import expand_sam

__all__ = ["load_template"]

_SUFFIXES = (".json", ".yaml", ".yml", ".template")

# CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128
# characters (CreateStack's StackName pattern [a-zA-Z][-a-zA-Z0-9]*).
_STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")


def check_stack_name(name: str, where: str) -> str:
    """Return ``name`` if CloudFormation would accept it as a stack name, else raise a
    :class:`~emulator.core.errors.ConfigError` naming ``where`` (``--stack-name``)."""
    if not _STACK_NAME.fullmatch(name):
        raise ConfigError(where, f"{name!r} is not a stack name (a letter, then letters, digits and -)")
    return name


def default_stack_name(template: Path) -> str:
    """``AWS::StackName`` for a template file when none is given: the name of the
    folder it is in, as a user would guess (``sam deploy``'s prompt suggests a name
    of the project, ``cdk`` names stacks after the app), made a valid stack name
    (other characters become ``-``; ``stack`` when nothing is left)."""
    name = re.sub(r"[^-A-Za-z0-9]+", "-", template.resolve().parent.name).strip("-")
    name = re.sub(r"^[^A-Za-z]+", "", name)[:128]
    return name or "stack"


def load_template(
    path: Path, *, api: str | None = None, stack: str | None = None,
    parameters: Mapping[str, str] = MappingProxyType({}), region: str = "us-east-1",
    account_id: str = "123456789012", stack_name: str | None = None,
) -> ApiModel:
    """Load the WebSocket API described by ``path``.

    ``path`` is a CDK cloud assembly folder (``cdk.out``; ``stack`` picks a stack when
    several have a WebSocket API) or a CloudFormation/SAM template file (``.json``,
    ``.yaml``, ``.yml``, ``.template``). ``api`` picks an API by logical id or ``Name``
    when the template has several; ``parameters`` override parameter defaults;
    ``region`` and ``account_id`` go into ARNs and pseudo parameters; ``stack_name``
    is ``AWS::StackName`` (default: a cloud assembly's stack name, else the template's
    folder name, :func:`default_stack_name`).
    """
    path = Path(path)
    if path.is_dir():
        found = read_stack(path, stack)
        raw, template_path, stack_name = found.template, found.template_path, stack_name or found.stack_name
    elif path.is_file():
        if path.suffix.lower() not in _SUFFIXES:
            raise ConfigError(str(path), f"not a template file (expected one of {', '.join(_SUFFIXES)})")
        raw, template_path = _read_template(path), path
        stack_name = stack_name or default_stack_name(path)
    else:
        raise ConfigError(str(path), "not found (give a template file or a cdk.out folder)")
    if not isinstance(raw, dict):
        raise ConfigError(str(template_path), "is not a CloudFormation template (no top-level mapping)")
    names = transforms(raw)
    unsupported = [name for name in names if name != SAM_TRANSFORM]
    if unsupported:
        raise ConfigError("Transform", f"{', '.join(unsupported)} is not supported (only {SAM_TRANSFORM})")
    if names:
        raw = expand_sam(raw, parameters=parameters, region=region)
    return build_model(
        raw, base_dir=template_path.parent.resolve(), stack_name=stack_name, api=api,
        parameters=parameters, region=region, account_id=account_id,
    )


def _read_template(path: Path) -> Any:
    if path.suffix.lower() == ".json":
        return read_json(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text ({exc.reason})") from None
    # YAML is a superset of JSON, so `.template` files of either kind parse here.
    from .yaml_cfn import parse_yaml  # PyYAML: for YAML templates only (a cloud assembly is JSON)

    return parse_yaml(text, str(path))
