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
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

from ..core.errors import WsgwError
from ..core.user_dirs import cache_dir
from . import bundled_app

__all__ = [
    "CREDENTIAL_VARIABLES", "CdkError", "Progress", "cli_env", "ensure_cli", "find_cli", "first_meaningful_line",
    "pinned_cli_version", "run_cdk",
]

Progress = Callable[[str, float, bool], None]
"""Told ``(what, elapsed seconds, done)`` about a long step: once at its start (0 s),
about every second while it runs, and once with ``done=True`` when it succeeded."""

CREDENTIAL_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
                        "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
NPM_TIMEOUT_S = 900
_NOISE = re.compile(r"feature flags are not configured|^[\s!*=#-]*$|^!!|cdk acknowledge|^NOTICES")
_PY_ERROR = re.compile(r"^[\w.]*(Error|Exception)\b.*:")


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
    target.parent.mkdir(parents=True, exist_ok=True)
    # npm writes into a fresh folder beside the target, renamed into place when complete:
    # an interrupted or concurrent install never leaves a half-filled CLI behind.
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=target.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(bundled_app.app_root() / "deploy" / name, staging / name)
        run_cdk(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(staging)],
                cwd=staging, env=dict(os.environ), what=f"installing the AWS CDK CLI {target.name} "
                f"into {target.parent} (once)", failure="npm ci of the CDK CLI failed",
                timeout_s=NPM_TIMEOUT_S, progress=progress)
        try:
            staging.rename(target)
        except OSError:
            if not _executable(target).is_file():  # else another install finished first: use it
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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


def first_meaningful_line(stderr: str) -> str:
    """The line of a failed run worth showing: a Python exception line (the last one) if
    the app raised, else the first line that is not a banner or a notice."""
    lines = [line.strip() for line in stderr.splitlines()]
    errors = [line for line in lines if _PY_ERROR.match(line)]
    if errors:
        return errors[-1]
    useful = [line for line in lines if line and not _NOISE.search(line)]
    return useful[0] if useful else "no error output"


def run_cdk(command: Sequence[str], *, cwd: Path, env: dict[str, str], what: str, failure: str,
            timeout_s: float, progress: Progress | None = None) -> str:
    """Run ``command`` with its output captured; returns stdout. ``what`` names the step
    for ``progress``; a non-zero exit raises ``CdkError("<failure>: <the meaningful line>")``."""
    started = time.monotonic()
    if progress:
        progress(what, 0.0, False)
    try:
        proc = subprocess.Popen(list(command), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise CdkError(f"cannot run {command[0]}: {exc.strerror or exc}") from None
    while True:
        try:
            # communicate() may be called again after a timeout without losing output.
            stdout, stderr = proc.communicate(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - started
            if elapsed > timeout_s:
                proc.kill()
                proc.communicate()
                raise CdkError(f"{failure}: did not finish within {timeout_s:.0f} s") from None
            if progress:
                progress(what, elapsed, False)
    if proc.returncode != 0:
        raise CdkError(f"{failure}: {first_meaningful_line(stderr or stdout)}")
    if progress:
        progress(what, time.monotonic() - started, True)
    return stdout
