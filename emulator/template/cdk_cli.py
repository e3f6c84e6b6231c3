"""Runs the AWS CDK CLI on the bundled chat app (``deploy/``; no ``aws_cdk`` import here).

* :func:`synth` before reading the CDK template (run-local on the bundled app): offline,
  no AWS credentials, and a no-op when nothing that shapes the template changed.
* :func:`check_deploy_prerequisites` before :func:`deploy`/:func:`destroy`, to tell the
  user what to fix (Node, aws-cdk-lib, credentials, bootstrap) in plain lines.
* :func:`deploy_command`/:func:`destroy_command` are the exact command lines; the
  functions without ``_command`` run them with the output streaming to the terminal.

Where the app is (the checkout, or the installed package's data) is bundled_app.py's
business; which CDK CLI runs, and installing it when there is none, cdk_toolkit.py's.
The app runs under this interpreter (``--app "<sys.executable> app.py"``), which is the
one that has ``aws-cdk-lib`` (the ``cdk`` extra); ``deploy/cdk.json`` names the
project venv for manual ``npx cdk`` runs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..npm import one_at_a_time
from . import bundled_app
from .cdk_toolkit import CdkError, Progress, cli_env, ensure_cli, find_cli, first_meaningful_line, run_cdk

__all__ = [
    "CdkError", "DEFAULT_STACK_NAME", "can_synthesize", "check_deploy_prerequisites", "deploy", "deploy_command",
    "deploy_cwd", "destroy", "destroy_command", "first_meaningful_line", "synth", "tool_problems",
]

DEFAULT_STACK_NAME = "WsgwChatStack"
FINGERPRINT_FILE = ".wsgw-fingerprint.json"
DEPLOY_OUT = "cdk.deploy.out"  # deploy's own (staged) assembly, apart from synth's cdk.out
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
UNVERIFIED = "could not verify"  # starts a problem line that is only a warning
MIN_BOOTSTRAP_VERSION = 6  # what the synthesized template's CheckBootstrapVersion rule demands
SYNTH_TIMEOUT_S = 600
_SKIPPED = ("__pycache__",)  # same as the asset's exclude list in deploy/stack.py
CDK_EXTRA_HINT = "pip install 'wsgw[cdk]' (aws-cdk-lib and constructs)"


def _project(project: Path | None) -> Path:
    return (project or bundled_app.app_root()).resolve()


def _deploy_dir(project: Path | None) -> Path:
    return _project(project) / "deploy"


def _app_command() -> str:
    return f"{shlex.quote(sys.executable)} app.py"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def _cli_version(cli: Path | None) -> str:
    if cli is None:
        return "missing"
    manifest = cli.resolve().parent.parent / "package.json"  # node_modules/aws-cdk/bin/cdk
    try:
        return str(json.loads(manifest.read_text(encoding="utf-8")).get("version", "?"))
    except (OSError, ValueError):
        return str(cli)


def tool_problems(project: Path | None = None) -> list[str]:
    """What stops the bundled app's cdk commands from running, as user-facing lines (a
    CDK CLI that is missing but can be installed is not a problem)."""
    problems = []
    if shutil.which("node") is None:
        problems.append("node is not on PATH: install Node.js 18 or later (the CDK CLI runs on it)")
    elif find_cli(_deploy_dir(project)) is None and shutil.which("npm") is None:
        problems.append("the CDK CLI is not installed and npm is not on PATH to install it: install Node.js "
                        "with npm, or `npm install -g aws-cdk`")
    if importlib.util.find_spec("aws_cdk") is None:
        problems.append(f"aws-cdk-lib is not installed for {sys.executable}: {CDK_EXTRA_HINT}")
    return problems


def can_synthesize(project: Path | None = None) -> bool:
    """Whether :func:`synth` would run without installing anything first (run-local
    otherwise serves the bundled app's snapshot; see bundled_app.py)."""
    return (importlib.util.find_spec("aws_cdk") is not None and shutil.which("node") is not None
            and find_cli(_deploy_dir(project)) is not None)


def _fingerprint(project: Path, staging: bool, cli: Path | None) -> str:
    """A hash of everything that shapes the assembly: the app's sources, the handler
    file list (mtimes and sizes: a touch re-synthesizes), tool versions, the options."""
    digest = hashlib.sha256()

    def feed(*parts: object) -> None:
        digest.update(repr(parts).encode())

    deploy = _deploy_dir(project)
    feed("root", str(project), "staging", staging, "python", sys.executable)
    feed("libs", _version("aws-cdk-lib"), _version("constructs"), "cli", _cli_version(cli))
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


def is_fresh(out: Path, fingerprint: str) -> bool:
    """Whether the assembly in ``out`` was synthesized from inputs with this fingerprint."""
    try:
        stored = json.loads((out / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stored, dict) and stored.get("fingerprint") == fingerprint and (out / "manifest.json").is_file()


def mark_fresh(out: Path, fingerprint: str) -> None:
    """Record the inputs' fingerprint in ``out`` after a successful synth."""
    (out / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": fingerprint}), encoding="utf-8")


def synth(out_dir: Path | None = None, *, staging: bool = False, project: Path | None = None,
          progress: Progress | None = None) -> Path:
    """Synthesize the bundled CDK app into ``out_dir`` (default: bundled_app.assembly_dir());
    returns it.

    Call before reading the template, every time: when the fingerprint stored in the
    assembly matches (same ``deploy/*.py``, ``cdk.json``, handler files, versions) it
    returns at once without running anything. Without ``staging`` (``--no-staging``) each
    function's ``aws:asset:path`` is the source folder ``handlers/`` itself, so run-local
    executes the code being edited. ``project`` (default: the bundled app) is for tests.
    """
    root = _project(project)
    out = (out_dir or bundled_app.assembly_dir()).resolve()
    found = find_cli(_deploy_dir(root))
    fingerprint = _fingerprint(root, staging, found)
    if is_fresh(out, fingerprint):
        return out
    problems = tool_problems(root)
    if problems:
        raise CdkError(problems[0])
    cli = ensure_cli(_deploy_dir(root), progress)
    if cli != found:  # just installed: its version is part of the fingerprint
        fingerprint = _fingerprint(root, staging, cli)
    # Two synths into one folder at once would each read files the other is writing.
    with one_at_a_time(out):
        if is_fresh(out, fingerprint):  # the other one synthesized it meanwhile
            return out
        out.mkdir(parents=True, exist_ok=True)
        (out / FINGERPRINT_FILE).unlink(missing_ok=True)  # a failed synth must not look fresh
        command = [str(cli), "synth", "--app", _app_command(), "--output", str(out),
                   "--no-notices", "--quiet"] + ([] if staging else ["--no-staging"])
        run_cdk(command, cwd=root / "deploy", env=cli_env(hide_credentials=True),
                what="synthesizing the bundled CDK app", failure="cdk synth failed", timeout_s=SYNTH_TIMEOUT_S,
                progress=progress)
        mark_fresh(out, fingerprint)
    return out


def default_outputs_file(project: Path | None = None) -> Path:
    """Where :func:`deploy` asks the CLI to write the stack outputs."""
    return _deploy_out(project) / "outputs.json"


def _deploy_out(project: Path | None) -> Path:
    # deploy stages assets; in an installed wsgw, the package folder may be read-only.
    if project is None and not bundled_app.is_checkout():
        return bundled_app.assembly_dir().parent / DEPLOY_OUT
    return _deploy_dir(project) / DEPLOY_OUT


def _common(verb: str, stack_name: str, profile: str | None, project: Path | None) -> list[str]:
    cli = find_cli(_deploy_dir(project)) or Path("cdk")
    command = [str(cli), verb, stack_name, "--app", _app_command(),
               "--output", str(_deploy_out(project)), "--context", f"stackName={stack_name}", "--no-notices"]
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
            return problems + [f"{region} is not CDK-bootstrapped: run `cdk bootstrap` (`npx aws-cdk bootstrap`)"]
        return problems + [f"{UNVERIFIED} the CDK bootstrap in {region} ({code}): "
                           "run `cdk bootstrap` (`npx aws-cdk bootstrap`) if deploy fails"]
    if version < MIN_BOOTSTRAP_VERSION:
        problems.append(f"the CDK bootstrap in {region} is version {version}, {MIN_BOOTSTRAP_VERSION}+ "
                        "is needed: run `cdk bootstrap` again")
    return problems


def _prepare(project: Path | None, progress: Progress | None) -> None:
    """Before building a deploy/destroy command line: the tools are there (the CLI
    installed into the cache if need be)."""
    problems = tool_problems(project)
    if problems:
        raise CdkError(problems[0])
    ensure_cli(_deploy_dir(project), progress)


def _run_streaming(command: list[str], verb: str, region: str | None, project: Path | None) -> None:
    env = cli_env(hide_credentials=False)
    if region:
        env.update(AWS_REGION=region, AWS_DEFAULT_REGION=region)
    try:
        code = subprocess.run(command, cwd=deploy_cwd(project), env=env, check=False).returncode
    except OSError as exc:
        raise CdkError(f"cannot run the CDK CLI: {exc}") from None
    if code != 0:
        raise CdkError(f"cdk {verb} failed (exit {code}); see its output above")


def deploy(stack_name: str = DEFAULT_STACK_NAME, *, profile: str | None = None, region: str | None = None,
           project: Path | None = None, progress: Progress | None = None) -> dict[str, str]:
    """Deploy the chat app to AWS (output streams to the terminal); returns the stack
    outputs, e.g. ``{"WebSocketUrl": "wss://…/dev", "CallbackUrl": "https://…/dev"}``.

    Call after :func:`check_deploy_prerequisites` came back empty.
    """
    _prepare(project, progress)
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


def destroy(stack_name: str = DEFAULT_STACK_NAME, *, profile: str | None = None, region: str | None = None,
            project: Path | None = None, progress: Progress | None = None) -> None:
    """Delete the deployed stack (table included: its removal policy is DESTROY)."""
    _prepare(project, progress)
    _run_streaming(destroy_command(stack_name, profile=profile, project=project), "destroy", region, project)
