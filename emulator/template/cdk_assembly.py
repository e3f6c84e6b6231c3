"""A CDK cloud assembly (``cdk.out``): find the stack template that holds the API.

Call :func:`read_stack` with the assembly folder. It reads ``manifest.json``, takes
the ``aws:cloudformation:stack`` artifacts (following nested
``cdk:cloud-assembly`` artifacts, which CDK writes for ``Stage``s, into their
``directoryName``), and returns the template of the stack to serve: the one named by
``stack`` (artifact id, ``stackName`` or ``displayName``), else the only stack whose
template has a WebSocket API.

Asset paths in the template (``Metadata["aws:asset:path"]``) are relative to the
template's folder, or absolute with ``cdk synth --no-staging``; functions.py resolves
them. This module reads files; nothing else here does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError

_STACK = "aws:cloudformation:stack"
_NESTED = "cdk:cloud-assembly"


@dataclass(frozen=True)
class StackTemplate:
    """One stack of the assembly: its names, template file and parsed template."""

    artifact_id: str
    stack_name: str
    display_name: str
    template_path: Path
    template: Any

    @property
    def has_websocket_api(self) -> bool:
        resources = self.template.get("Resources") if isinstance(self.template, dict) else None
        return isinstance(resources, dict) and any(
            isinstance(body, dict)
            and body.get("Type") == "AWS::ApiGatewayV2::Api"
            and isinstance(body.get("Properties"), dict)
            and body["Properties"].get("ProtocolType") == "WEBSOCKET"
            for body in resources.values()
        )


def read_json(path: Path) -> Any:
    """Parse JSON file ``path``; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "file not found") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), f"not valid JSON (line {exc.lineno}: {exc.msg})") from None


def read_stack(directory: Path, stack: str | None) -> StackTemplate:
    """The stack template to serve from the cloud assembly in ``directory``."""
    if not (directory / "manifest.json").is_file():
        raise ConfigError(
            str(directory / "manifest.json"), "not found: is this folder a CDK cloud assembly (cdk.out)?"
        )
    stacks = list(_stacks(directory, depth=0))
    names = ", ".join(s.artifact_id for s in stacks) or "none"
    if stack is not None:
        for candidate in stacks:
            if stack in (candidate.artifact_id, candidate.stack_name, candidate.display_name):
                return candidate
        raise ConfigError("stack", f"no stack {stack!r} in the cloud assembly (stacks: {names})")
    with_api = [s for s in stacks if s.has_websocket_api]
    if not with_api:
        raise ConfigError(
            str(directory), f"no stack of the cloud assembly has a WebSocket API (stacks: {names})"
        )
    if len(with_api) > 1:
        listing = ", ".join(s.artifact_id for s in with_api)
        raise ConfigError("stack", f"several stacks have a WebSocket API, choose one: {listing}")
    return with_api[0]


def _stacks(directory: Path, depth: int) -> list[StackTemplate]:
    manifest_path = directory / "manifest.json"
    manifest = read_json(manifest_path)
    artifacts = manifest.get("artifacts") if isinstance(manifest, dict) else None
    if not isinstance(artifacts, dict):
        raise ConfigError(f"{manifest_path}: artifacts", "must be a mapping of artifact ids")
    found: list[StackTemplate] = []
    for artifact_id, artifact in artifacts.items():
        if not isinstance(artifact, dict):
            continue
        properties = artifact.get("properties") or {}
        where = f"{manifest_path}: artifacts.{artifact_id}.properties"
        if artifact.get("type") == _NESTED and depth < 5:
            folder = properties.get("directoryName")
            if isinstance(folder, str) and (directory / folder / "manifest.json").is_file():
                found += _stacks(directory / folder, depth + 1)
            continue
        if artifact.get("type") != _STACK:
            continue
        template_file = properties.get("templateFile")
        if not isinstance(template_file, str):
            raise ConfigError(f"{where}.templateFile", "is required for a stack artifact")
        template_path = directory / template_file
        stack_name = properties.get("stackName")
        display_name = artifact.get("displayName")
        found.append(StackTemplate(
            artifact_id=str(artifact_id),
            stack_name=stack_name if isinstance(stack_name, str) else str(artifact_id),
            display_name=display_name if isinstance(display_name, str) else str(artifact_id),
            template_path=template_path,
            template=read_json(template_path),
        ))
    return found
