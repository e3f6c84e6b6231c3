"""Where the bundled chat app lives, and the template run-local serves it from.

The app is ``handlers/`` (its functions) and ``deploy/`` (its CDK stack). In a checkout
they are the repository's own folders; in an installed wheel they are package data,
``emulator/_bundled/handlers`` and ``emulator/_bundled/deploy`` (setup.py maps them), so
the repository keeps the layout the user asked for and an installed wsgw still has the
app. Call :func:`app_root` for the folder holding both.

Serving it needs its CloudFormation template. With the CDK tools at hand (aws-cdk-lib,
Node.js and the CDK CLI: a checkout after ``make``) it is synthesized from
``deploy/stack.py`` (cdk_cli.py). Without them (``pip install wsgw`` alone) wsgw serves
the **snapshot**: ``deploy/snapshot.out``, a cloud assembly holding that same synthesized
template with its function code pointed at ``handlers/``. tests/test_deploy_stack.py
fails when the snapshot differs from a fresh synth; ``make snapshot`` writes it again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.user_dirs import cache_dir

__all__ = [
    "SNAPSHOT_DIR", "app_root", "assembly_dir", "is_checkout", "normalized_template", "snapshot_path",
    "write_snapshot",
]

_PACKAGE = Path(__file__).resolve().parents[1]  # emulator/
SNAPSHOT_DIR = "snapshot.out"
STACK_ARTIFACT = "aws:cloudformation:stack"
# What the snapshot says instead of the things a synth puts there that depend on the
# machine (the absolute source folder) or on the handlers' bytes (the asset hash).
SNAPSHOT_CODE_PATH = "../../handlers"  # from deploy/snapshot.out/
SNAPSHOT_S3_KEY = "bundled-chat-app-handlers.zip"


def is_checkout() -> bool:
    """Whether this wsgw runs from its repository (``pip install -e`` or the source tree)."""
    checkout = _PACKAGE.parent
    return (checkout / "pyproject.toml").is_file() and (checkout / "deploy" / "stack.py").is_file()


def app_root() -> Path:
    """The folder that holds the bundled app's ``handlers/`` and ``deploy/``."""
    if is_checkout():
        return _PACKAGE.parent
    installed = _PACKAGE / "_bundled"
    if (installed / "deploy" / "stack.py").is_file():
        return installed
    raise ConfigError(str(installed), "the bundled chat app is missing from this installation of wsgw "
                      "(reinstall wsgw; a wheel built by `pip wheel .` has it)")


def assembly_dir() -> Path:
    """Where synthesizing the bundled app writes its cloud assembly: ``deploy/cdk.out`` in
    a checkout, else a folder of the user's cache (site-packages may be read-only)."""
    if is_checkout() and os.access(_PACKAGE.parent / "deploy", os.W_OK):
        return _PACKAGE.parent / "deploy" / "cdk.out"
    return cache_dir() / "bundled-app" / "cdk.out"


def snapshot_path() -> Path:
    """The pre-synthesized cloud assembly (see the module docstring)."""
    return app_root() / "deploy" / SNAPSHOT_DIR


def normalized_template(template: Any) -> Any:
    """``template`` (a synthesized stack, parsed) as the snapshot holds it: each function's
    ``aws:asset:path`` is ``handlers/`` (relative) and its asset ``S3Key`` a fixed name."""
    document = json.loads(json.dumps(template))
    for resource in document.get("Resources", {}).values():
        metadata = resource.get("Metadata") or {}
        if resource.get("Type") != "AWS::Lambda::Function" or "aws:asset:path" not in metadata:
            continue
        metadata["aws:asset:path"] = SNAPSHOT_CODE_PATH
        code = resource.get("Properties", {}).get("Code", {})
        if "S3Key" in code:
            code["S3Key"] = SNAPSHOT_S3_KEY
    return document


def write_snapshot(assembly: Path, stack: str, target: Path | None = None) -> Path:
    """Write stack ``stack`` of the freshly synthesized ``assembly`` as the snapshot (a
    cloud assembly of that one stack); returns the snapshot folder."""
    out = target or snapshot_path()
    manifest = json.loads((assembly / "manifest.json").read_text(encoding="utf-8"))
    template = json.loads((assembly / f"{stack}.template.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps({
        "version": manifest["version"],
        "artifacts": {stack: {
            "type": STACK_ARTIFACT, "environment": "aws://unknown-account/unknown-region",
            "properties": {"templateFile": f"{stack}.template.json"}, "displayName": stack,
        }},
    }, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out / f"{stack}.template.json").write_text(
        json.dumps(normalized_template(template), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out
