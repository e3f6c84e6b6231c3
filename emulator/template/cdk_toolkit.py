"""The AWS CDK CLI (npm ``aws-cdk``): find it, install it once, run it quietly.

Call :func:`ensure_cli` before running any ``cdk`` command; it answers the first of:

1. ``node_modules/.bin/cdk`` in the CDK app's own folder (a TypeScript app's
   devDependency; the bundled app's ``deploy/node_modules`` in a checkout after ``make``);
2. ``cdk`` on ``PATH`` (``npm install -g aws-cdk``);
3. the bundled app's ``deploy/node_modules`` (a checkout), for any app;
4. wsgw's own copy in the user's cache (``<cache>/cdk-cli/<version>``), installed by
   ``npm ci`` on first use from the ``package.json``/``package-lock.json`` that ship
   with wsgw (the version the bundled app is tested with), with progress.

:func:`run_cdk` runs a command with the output captured, reporting elapsed seconds to a
:data:`Progress` while it runs, and turns a failure into a one-line :class:`CdkError`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Sequence

from ..core.errors import WsgwError
from ..core.user_dirs import cache_dir
from ..npm import NPM_TIMEOUT_S, Progress, ToolError, first_meaningful_line, install_lock, run_tool
from . import bundled_app

__all__ = [
    "CREDENTIAL_VARIABLES", "CdkError", "NPM_TIMEOUT_S", "Progress", "cli_env", "ensure_cli", "find_cli",
    "first_meaningful_line", "pinned_cli_version", "run_cdk",
]

CREDENTIAL_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
                        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class CdkError(WsgwError):
    """The CDK CLI could not run or failed; the message is one line meant for the user."""


def pinned_cli_version() -> str:
    """The ``aws-cdk`` version wsgw ships a lock for (the bundled ``deploy/package.json``)."""
    manifest = bundled_app.app_root() / "deploy" / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8"))["devDependencies"]["aws-cdk"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CdkError(f"cannot read the pinned CDK CLI version from {manifest}: {exc}") from None
    return str(version)


def _cached_cli_folder() -> Path:
    return cache_dir() / "cdk-cli" / pinned_cli_version()


def _executable(folder: Path) -> Path:
    return folder / "node_modules" / ".bin" / "cdk"


def find_cli(app_dir: Path | None = None) -> Path | None:
    """The CDK CLI to run for the app in ``app_dir`` (see the module docstring), without
    installing anything; None when there is none yet."""
    candidates = [_executable(app_dir)] if app_dir is not None else []
    on_path = shutil.which("cdk")
    if on_path:
        candidates.append(Path(on_path))
    if bundled_app.is_checkout():
        candidates.append(_executable(bundled_app.app_root() / "deploy"))
    candidates.append(_executable(_cached_cli_folder()))
    return next((path for path in candidates if path.is_file()), None)


def ensure_cli(app_dir: Path | None = None, progress: Progress | None = None) -> Path:
    """:func:`find_cli`, else install wsgw's pinned CLI into the cache first (once per
    user and version; ``npm`` must be on PATH)."""
    found = find_cli(app_dir)
    if found is not None:
        return found
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise CdkError("the AWS CDK CLI is needed and cannot be installed: node and npm are not on PATH "
                       "(install Node.js 18 or later with npm, or `npm install -g aws-cdk`)")
    target = _cached_cli_folder()
    try:
        install_lock(bundled_app.app_root() / "deploy", target,
                     what=f"installing the AWS CDK CLI {target.name} into {target.parent} (once)",
                     failure="npm ci of the CDK CLI failed", complete=lambda folder: _executable(folder).is_file(),
                     progress=progress)
    except ToolError as exc:
        raise CdkError(str(exc)) from None
    return _executable(target)


def cli_env(*, hide_credentials: bool) -> dict[str, str]:
    """The environment for the CLI: no version check, telemetry or Node banners; for synth
    also no AWS credentials, so it never waits on STS or instance metadata (offline)."""
    env = dict(os.environ)
    env.update(CDK_DISABLE_VERSION_CHECK="1", CDK_DISABLE_CLI_TELEMETRY="true")
    # jsii (inside a Python app) warns about Node versions near end of life in a big banner.
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", ",".join(map(str, range(14, 41))))
    env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    env.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    if hide_credentials:
        for name in CREDENTIAL_VARIABLES:
            env.pop(name, None)
        env.update(AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_CONFIG_FILE=os.devnull,
                   AWS_EC2_METADATA_DISABLED="true")
    return env


def run_cdk(command: Sequence[str], *, cwd: Path, env: dict[str, str], what: str, failure: str,
            timeout_s: float, progress: Progress | None = None) -> str:
    """Run ``command`` with its output captured (``npm.run_tool``); returns stdout. ``what``
    names the step for ``progress``; a non-zero exit raises ``CdkError("<failure>: <the
    meaningful line>")``."""
    try:
        return run_tool(command, cwd=cwd, env=env, what=what, failure=failure, timeout_s=timeout_s,
                        progress=progress)
    except ToolError as exc:
        raise CdkError(str(exc)) from None
