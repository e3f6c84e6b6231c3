"""``wsgw run-local``: its options, and the order things start in.

The embedded moto's child starts first, as soon as the command line is checked: it
spends most of a second of CPU importing moto, and that overlaps everything else (the
rest of wsgw's imports, the template's load, the options' checks, the gateway's own
start) on another core. So this module imports little; the rest comes with
:mod:`emulator.commands.run_local_serve`, once the child is launched."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from emulator.aws.embedded import EmbeddedAws
from emulator.commands.failure import fail, usage_error
from emulator.core.errors import WsgwError
from emulator.inspector import DEFAULT_RING_SIZE
from emulator.net import event_loop as event_loop_module

if TYPE_CHECKING:
    from emulator.net.event_loop import LoopChoice
    from emulator.runtime.provisioning import DepsMode
    from emulator.tools.console import Format


@dataclass(frozen=True)
class RunLocalArgs:
    """run-local's command line as click parsed it: one field per option, by its name."""

    host: str
    port: int
    stage: str | None
    template: Path | None
    api: str | None
    stack_name: str | None
    parameter_overrides: tuple[str, ...]
    aws_endpoint_url: str | None
    state_dir: Path | None
    tls_dir: Path | None
    max_workers: int | None
    idle_timeout: float | None
    max_connection_duration: float | None
    frame_limit: int | None
    message_limit: int | None
    api_keys: tuple[str, ...]
    api_keys_file: Path | None
    iam_credentials: tuple[str, ...]
    iam_identities_file: Path | None
    cfn_stack_name: str | None
    env_vars: Path | None
    stage_variable_pairs: tuple[str, ...]
    no_throttle: bool
    no_reload: bool
    event_loop: LoopChoice
    log_format: Format
    quiet: bool
    verbose: bool
    debug_function: str | None
    debug_port: int
    deps: DepsMode
    pythons: tuple[str, ...]
    no_inspector: bool
    inspector_records: int
    inspector_record_always: bool
    more_parameter_overrides: tuple[str, ...]


@click.command("run-local")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=3001, show_default=True, type=click.IntRange(0, 65535), help="Port for ws://, wss:// and @connections.")
@click.option("--stage", default=None, help="Stage name in the URL path (default: the app's stage).")
@click.option("--template", "template", type=click.Path(path_type=Path), default=None,
              help="What to serve: a CDK cloud assembly folder (cdk.out), a CloudFormation or SAM template "
                   "(JSON/YAML), a CDK app's folder (cdk.json; synthesized by wsgw), or a wsgw.json app description. "
                   "Default: the app in the current folder, else the bundled chat app.")
@click.option("--api", default=None, help="Which WebSocket API (logical id or Name) when the template has several.")
@click.option("--stack", "stack_name", default=None, help="Which stack of a cloud assembly with several.")
@click.option("--stack-name", "cfn_stack_name", default=None, metavar="NAME",
              help="AWS::StackName for the template (default: a cloud assembly's stack name; for a template "
                   "file, the name of its folder).")
@click.option("--parameter-overrides", "parameter_overrides", multiple=True, metavar="KEY=VALUE ...",
              help="Template parameter values, as sam takes them: KEY=VALUE or ParameterKey=KEY,ParameterValue=VALUE, "
                   "several after one flag (--parameter-overrides A=1 B=2) or the flag repeated.")
@click.option("--aws-endpoint-url", default=None, metavar="URL",
              help="Send handlers' AWS calls here (DynamoDB Local, LocalStack, real AWS) instead of the embedded moto.")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), default=None, metavar="DIR",
              help="Keep the embedded moto's DynamoDB tables and items in DIR across restarts and crashes "
                   "(created if missing; delete it to start empty).")
@click.option("--tls-dir", type=click.Path(path_type=Path), default=None,
              help="Where the local CA and certificate live (default: ~/.local/share/wsgw/tls).")
@click.option("--max-workers", default=None, type=click.IntRange(1, 1000),
              help="Most worker processes per function; invocations beyond wait "
                   "(default: twice the CPU cores, at least 4).")
@click.option("--idle-timeout", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Close connections idle this long with 1001 (default: AWS's 600).")
@click.option("--max-connection-duration", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Close connections this old with 1001 (default: AWS's 7200).")
@click.option("--frame-limit", type=click.IntRange(min=125), default=None, metavar="BYTES",
              help="Largest inbound frame before closing with 1009 (default: AWS's 32768).")
@click.option("--message-limit", type=click.IntRange(min=125), default=None, metavar="BYTES",
              help="Largest inbound message before closing with 1009 (default: AWS's 131072).")
@click.option("--api-key", "api_keys", multiple=True, metavar="KEY",
              help="An accepted x-api-key for routes with ApiKeyRequired (repeatable).")
@click.option("--api-keys-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A file of accepted API keys, one per line.")
@click.option("--iam-credentials", "iam_credentials", multiple=True, metavar="ACCESS_KEY:SECRET",
              help="Credentials accepted for AWS_IAM on $connect (repeatable; default testing:testing).")
@click.option("--iam-identities", "iam_identities_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="FILE",
              help='Who each access key is, in AWS_IAM events\' requestContext.identity: JSON '
                   '{"ACCESS_KEY": {"cognitoIdentityId": "...", "userArn": "...", ...}}.')
@click.option("--env-vars", "env_vars", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help='Environment overrides, SAM style: {"Parameters": {...all...}, "FunctionName": {...}}.')
@click.option("--stage-variable", "stage_variable_pairs", multiple=True, metavar="KEY=VALUE",
              help="Set or override one of the stage's StageVariables (repeatable).")
@click.option("--no-throttle", is_flag=True, default=False,
              help="Ignore the stage's route throttling (DefaultRouteSettings/RouteSettings ThrottlingBurstLimit "
                   "and ThrottlingRateLimit), which is enforced by default.")
@click.option("--no-reload", is_flag=True, default=False,
              help="Do not watch handlers and the template for edits (hot reload is on by default).")
@click.option("--event-loop", type=click.Choice(["auto", "asyncio", "uvloop"]), default="auto", show_default=True,
              help="auto uses uvloop when installed.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one line per invocation, handler output indented under it; json: one object per line.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="Invocation lines only, no handler output.")
@click.option("--verbose", "-v", is_flag=True, default=False, help="Also print each invocation's full event.")
@click.option("--debug-function", default=None, metavar="NAME",
              help="Run NAME's worker under debugpy (the debug extra: pip install 'wsgw[debug]'), or Node's inspector "
                   "for a Node.js function: it waits for a debugger to attach.")
@click.option("--debug-port", default=5678, show_default=True, type=click.IntRange(1, 65535),
              help="Where --debug-function's debugpy (or Node inspector) listens (on 127.0.0.1).")
@click.option("--deps", "deps", type=click.Choice(["declared", "inherit"]), default="declared", show_default=True,
              help="declared: a function imports what Lambda would give it (the standard library, boto3, its code "
                   "folder, its layers, its requirements.txt, installed once into wsgw's cache); inherit: also "
                   "everything installed beside wsgw, on wsgw's own Python.")
@click.option("--python", "pythons", multiple=True, metavar="VERSION=PATH",
              help="The interpreter for functions whose Runtime is pythonVERSION (repeatable), e.g. "
                   "--python 3.12=/usr/bin/python3.12 (default: found on PATH, in pyenv or uv).")
@click.option("--no-inspector", is_flag=True, default=False,
              help="Do not serve the live inspector page (/@inspector/ on the gateway's port).")
@click.option("--inspector-records", type=click.IntRange(min=100), default=DEFAULT_RING_SIZE, show_default=True,
              metavar="N", help="How many recent records (frames, invocations, log lines...) the inspector keeps.")
@click.option("--inspector-record-always", is_flag=True, default=False,
              help="Record from the start, not only while an inspector page is open "
                   "(history before the first page; costs about 5 %% of throughput).")
# sam's `--parameter-overrides A=1 B=2`: click gives the flag one value, the rest arrive
# here (run-local takes no other argument, so nothing else can land here).
@click.argument("more_parameter_overrides", nargs=-1, metavar="")
def run_local(**params: Any) -> None:
    """Serve the app locally like a deployed API Gateway WebSocket API.

    \b
    Examples:
      wsgw run-local                                  # the app in this folder, else the bundled chat app
      wsgw run-local --template template.yaml         # a SAM or CloudFormation app
      wsgw run-local --template ../my-cdk-app         # a CDK app (cdk.json), synthesized
      wsgw run-local --template cdk.out --stack ChatStack
      wsgw run-local --template template.yaml --parameter-overrides Stage=dev TableName=chat
    """
    args = RunLocalArgs(**params)
    if args.quiet and args.verbose:
        usage_error("--quiet and --verbose: choose one")
    if args.state_dir is not None and args.aws_endpoint_url is not None:
        usage_error("--state-dir keeps the embedded moto's data; with --aws-endpoint-url there is none")
    if args.more_parameter_overrides and not args.parameter_overrides:
        usage_error(f"Got unexpected extra argument ({' '.join(args.more_parameter_overrides)})")
    if args.state_dir is not None:
        try:
            args.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"--state-dir {args.state_dir}: {exc.strerror or exc}")
    with event_loop_module.runner(args.event_loop) as loop_runner:
        aws = None
        if args.aws_endpoint_url is None:
            aws = EmbeddedAws(state_dir=args.state_dir)
            try:
                loop_runner.run(aws.launch())
            except WsgwError as exc:
                fail(str(exc))
        try:
            from emulator.commands.run_local_serve import serve_app  # while the child imports moto

            serve_app(args, aws, loop_runner)
        finally:
            if aws is not None:  # the gateway stopped it, unless it never started
                loop_runner.run(aws.stop())
