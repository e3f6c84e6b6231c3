"""Runs the AWS CDK CLI on the bundled chat app in ``deploy/`` (no ``aws_cdk`` import here).

* :func:`synth` before reading the CDK template (run-local on the CDK app): offline,
  no AWS credentials, and a no-op when nothing that shapes the template changed.
* :func:`check_deploy_prerequisites` before :func:`deploy`/:func:`destroy`, to tell the
  user what to fix (Node, the npm CLI, credentials, bootstrap) in plain lines.
* :func:`deploy_command`/:func:`destroy_command` are the exact command lines; the
  functions without ``_command`` run them with the output streaming to the terminal.

The CLI is the npm ``aws-cdk`` package pinned in ``deploy/package.json`` and installed
into ``deploy/node_modules`` (``make``, or ``npm ci --prefix deploy``). The app runs
under this interpreter (``--app "<sys.executable> app.py"``), which is the one that has
``aws-cdk-lib``; ``deploy/cdk.json`` names the project venv for manual ``npx cdk`` runs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..core.errors import WsgwError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STACK_NAME = "WsgwChatStack"
FINGERPRINT_FILE = ".wsgw-fingerprint.json"
DEPLOY_OUT = "cdk.deploy.out"  # deploy's own (staged) assembly, apart from synth's cdk.out
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
UNVERIFIED = "could not verify"  # starts a problem line that is only a warning
MIN_BOOTSTRAP_VERSION = 6  # what the synthesized template's CheckBootstrapVersion rule demands
SYNTH_TIMEOUT_S = 600
_SKIPPED = ("__pycache__",)  # same as the asset's exclude list in deploy/stack.py
_CREDENTIAL_VARS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_NOISE = re.compile(r"feature flags are not configured|^[\s!*=#-]*$|^!!|cdk acknowledge|^NOTICES")
_PY_ERROR = re.compile(r"^[\w.]*(Error|Exception)\b.*:")


class CdkError(WsgwError):
    """The CDK CLI could not run or failed; the message is one line meant for the user."""


def _deploy_dir(project: Path | None) -> Path:
    return (project or ROOT) / "deploy"


def cdk_executable(project: Path | None = None) -> Path:
    """The pinned CLI inside ``deploy/node_modules`` (it may not exist yet)."""
    return _deploy_dir(project) / "node_modules" / ".bin" / "cdk"


def _app_command() -> str:
    return f"{shlex.quote(sys.executable)} app.py"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def _cli_version(project: Path | None) -> str:
    manifest = _deploy_dir(project) / "node_modules" / "aws-cdk" / "package.json"
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8")).get("version", "?"))
    except (OSError, ValueError):
        return "missing"


def tool_problems(project: Path | None = None) -> list[str]:
    """What stops any cdk command from running, as user-facing lines."""
    problems = []
    if shutil.which("node") is None:
        problems.append("node is not on PATH: install Node.js 18 or later (the CDK CLI runs on it)")
    if not cdk_executable(project).exists():
        problems.append(f"the CDK CLI is missing from {_deploy_dir(project) / 'node_modules'}: "
                        "run `make` or `npm ci --prefix deploy`")
    if importlib.util.find_spec("aws_cdk") is None:
        problems.append(f"aws-cdk-lib is not installed for {sys.executable}: run `make` "
                        "(or pip install aws-cdk-lib constructs)")
    return problems


def _fingerprint(project: Path, staging: bool) -> str:
    """A hash of everything that shapes the assembly: the app's sources, the handler
    file list (mtimes and sizes: a touch re-synthesizes), tool versions, the options."""
    digest = hashlib.sha256()

    def feed(*parts: object) -> None:
        digest.update(repr(parts).encode())

    deploy = _deploy_dir(project)
    feed("root", str(project.resolve()), "staging", staging, "python", sys.executable)
    feed("libs", _version("aws-cdk-lib"), _version("constructs"), "cli", _cli_version(project))
    for path in sorted(deploy.glob("*.py")) + [deploy / "cdk.json"]:
        content = path.read_bytes() if path.is_file() else b"<missing>"
        feed(path.name, hashlib.sha256(content).hexdigest())
    handlers = project / "handlers"
    for path in sorted(handlers.rglob("*")):
        rel = path.relative_to(handlers)
        if any(part in _SKIPPED for part in rel.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        stat = path.stat()
        feed(rel.as_posix(), stat.st_mtime_ns, stat.st_size)
    return digest.hexdigest()


def _is_fresh(out: Path, fingerprint: str) -> bool:
    try:
        stored = json.loads((out / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stored, dict) and stored.get("fingerprint") == fingerprint and (out / "manifest.json").is_file()


def _cli_env(*, hide_credentials: bool) -> dict[str, str]:
    """The environment for the CLI: no version check, telemetry or Node banners; for synth
    also no AWS credentials, so it never waits on STS or instance metadata (offline)."""
    env = dict(os.environ)
    env.update(CDK_DISABLE_VERSION_CHECK="1", CDK_DISABLE_CLI_TELEMETRY="true")
    # jsii (inside the Python app) warns about Node versions near end of life in a big banner.
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", ",".join(map(str, range(14, 41))))
    env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    env.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    if hide_credentials:
        for name in _CREDENTIAL_VARS:
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


def synth(out_dir: Path | None = None, *, staging: bool = False, project: Path | None = None) -> Path:
    """Synthesize the bundled CDK app into ``out_dir`` (default ``deploy/cdk.out``); returns it.

    Call before reading the template, every time: when the fingerprint stored in the
    assembly matches (same ``deploy/*.py``, ``cdk.json``, handler files, versions) it
    returns at once without running anything. Without ``staging`` (``--no-staging``) each
    function's ``aws:asset:path`` is the source folder ``handlers/`` itself, so run-local
    executes the code being edited. ``project`` (default: this checkout) is for tests.
    """
    root = (project or ROOT).resolve()
    out = (out_dir or root / "deploy" / "cdk.out").resolve()
    fingerprint = _fingerprint(root, staging)
    if _is_fresh(out, fingerprint):
        return out
    problems = tool_problems(root)
    if problems:
        raise CdkError(problems[0])
    out.mkdir(parents=True, exist_ok=True)
    (out / FINGERPRINT_FILE).unlink(missing_ok=True)  # a failed synth must not look fresh
    command = [str(cdk_executable(root)), "synth", "--app", _app_command(), "--output", str(out),
               "--no-notices", "--quiet"] + ([] if staging else ["--no-staging"])
    try:
        proc = subprocess.run(command, cwd=root / "deploy", env=_cli_env(hide_credentials=True),
                              capture_output=True, text=True, timeout=SYNTH_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise CdkError(f"cdk synth did not finish within {SYNTH_TIMEOUT_S} s") from None
    except OSError as exc:
        raise CdkError(f"cannot run the CDK CLI: {exc}") from None
    if proc.returncode != 0:
        raise CdkError(f"cdk synth failed: {first_meaningful_line(proc.stderr or proc.stdout)}")
    (out / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": fingerprint}), encoding="utf-8")
    return out


def default_outputs_file(project: Path | None = None) -> Path:
    """Where :func:`deploy` asks the CLI to write the stack outputs."""
    return _deploy_dir(project) / DEPLOY_OUT / "outputs.json"


def _common(verb: str, stack_name: str, profile: str | None, project: Path | None) -> list[str]:
    command = [str(cdk_executable(project)), verb, stack_name, "--app", _app_command(),
               "--output", DEPLOY_OUT, "--context", f"stackName={stack_name}", "--no-notices"]
    return command + (["--profile", profile] if profile else [])


def deploy_command(stack_name: str = DEFAULT_STACK_NAME, *, outputs_file: Path | None = None,
                   profile: str | None = None, project: Path | None = None) -> list[str]:
    """The ``cdk deploy`` command line; run it with ``cwd=deploy/`` (``deploy_cwd``)."""
    outputs = (outputs_file or default_outputs_file(project)).resolve()
    return _common("deploy", stack_name, profile, project) + [
        "--require-approval", "never", "--outputs-file", str(outputs)]


def destroy_command(stack_name: str = DEFAULT_STACK_NAME, *, profile: str | None = None,
                    project: Path | None = None) -> list[str]:
    """The ``cdk destroy`` command line (no prompt); run it with ``cwd=deploy/``."""
    return _common("destroy", stack_name, profile, project) + ["--force"]


def deploy_cwd(project: Path | None = None) -> Path:
    """The directory the deploy/destroy command lines expect to run in."""
    return _deploy_dir(project)


def check_deploy_prerequisites(*, profile: str | None = None, region: str | None = None,
                               project: Path | None = None) -> list[str]:
    """What would make ``deploy``/``destroy`` fail, one line per problem (empty: go ahead).

    Call before deploying. Checks Node, the npm CLI, aws-cdk-lib, AWS credentials and
    region, and (only with credentials) the CDK bootstrap version in the target region.
    """
    import boto3  # deferred: keeps this module cheap to import
    import botocore.config
    import botocore.exceptions

    problems = tool_problems(project)
    try:
        session = boto3.Session(profile_name=profile)
    except botocore.exceptions.BotoCoreError as exc:
        return problems + [f"AWS profile problem: {exc}"]
    if session.get_credentials() is None:
        return problems + ["no AWS credentials: set AWS_PROFILE or run aws configure"]
    region = region or session.region_name
    if not region:
        return problems + ["no AWS region: set AWS_REGION (or a region in your AWS profile)"]
    config = botocore.config.Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1})
    try:
        ssm: Any = session.client("ssm", region_name=region, config=config)
        version = int(ssm.get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"])
    except Exception as exc:  # noqa: BLE001 - any failure means "could not verify"
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        if code == "ParameterNotFound":
            return problems + [f"{region} is not CDK-bootstrapped: run `cdk bootstrap` (cd deploy && npx cdk bootstrap)"]
        return problems + [f"{UNVERIFIED} the CDK bootstrap in {region} ({code}): "
                           "run `cdk bootstrap` (cd deploy && npx cdk bootstrap) if deploy fails"]
    if version < MIN_BOOTSTRAP_VERSION:
        problems.append(f"the CDK bootstrap in {region} is version {version}, {MIN_BOOTSTRAP_VERSION}+ "
                        "is needed: run `cdk bootstrap` again")
    return problems


def _run_streaming(command: list[str], verb: str, region: str | None, project: Path | None) -> None:
    problems = tool_problems(project)
    if problems:
        raise CdkError(problems[0])
    env = _cli_env(hide_credentials=False)
    if region:
        env.update(AWS_REGION=region, AWS_DEFAULT_REGION=region)
    try:
        code = subprocess.run(command, cwd=deploy_cwd(project), env=env, check=False).returncode
    except OSError as exc:
        raise CdkError(f"cannot run the CDK CLI: {exc}") from None
    if code != 0:
        raise CdkError(f"cdk {verb} failed (exit {code}); see its output above")


def deploy(stack_name: str = DEFAULT_STACK_NAME, *, profile: str | None = None,
           region: str | None = None, project: Path | None = None) -> dict[str, str]:
    """Deploy the chat app to AWS (output streams to the terminal); returns the stack
    outputs, e.g. ``{"WebSocketUrl": "wss://…/dev", "CallbackUrl": "https://…/dev"}``.

    Call after :func:`check_deploy_prerequisites` came back empty.
    """
    outputs_file = default_outputs_file(project)
    outputs_file.unlink(missing_ok=True)
    outputs_file.parent.mkdir(parents=True, exist_ok=True)
    command = deploy_command(stack_name, outputs_file=outputs_file, profile=profile, project=project)
    _run_streaming(command, "deploy", region, project)
    try:
        outputs = json.loads(outputs_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CdkError(f"cdk deploy wrote no readable outputs file {outputs_file}: {exc}") from None
    return {str(key): str(value) for key, value in outputs.get(stack_name, {}).items()}


def destroy(stack_name: str = DEFAULT_STACK_NAME, *, profile: str | None = None,
            region: str | None = None, project: Path | None = None) -> None:
    """Delete the deployed stack (table included: its removal policy is DESTROY)."""
    _run_streaming(destroy_command(stack_name, profile=profile, project=project), "destroy", region, project)
