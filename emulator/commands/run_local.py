"""``wsgw run-local``: its options, turning them into a model and :class:`GatewayOptions`,
and the serve loop (signals, the start-up banner, the local state file, graceful stop)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import logging
import re
import signal
import sys
from pathlib import Path
from typing import Mapping

import click

from emulator.app import GatewayOptions, LocalGateway, default_max_workers, default_tls_dir
from emulator.commands.failure import fail, usage_error
from emulator.commands.progress import StepProgress
from emulator.core.access import access_warnings
from emulator.core.credentials import DEFAULT_IAM_CREDENTIALS
from emulator.core.errors import ConfigError, WsgwError
from emulator.core.iam_identity import Identity, identities_from_json
from emulator.core.integration import check_stage_variable
from emulator.core.model import ApiModel, check_stage_name
from emulator.net import event_loop as event_loop_module
from emulator.inspector import DEFAULT_RING_SIZE, InspectorOptions
from emulator.net.event_loop import LoopChoice
from emulator.reload import ReloadSource
from emulator.runtime.invoker import DEBUGPY_ENV
from emulator.runtime.provisioning import DepsMode, RuntimeOptions
from emulator.template.env_overrides import EnvOverrides
from emulator.template import cdk_cli
from emulator.template.discovery import find_app
from emulator.template.loader import load_model
from emulator.template.template_file import check_stack_name
from emulator.template.parameters import parse_overrides
from emulator.tools import local_state
from emulator.tools.console import Console, Format, use_colour


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
def run_local(host: str, port: int, stage: str | None, template: Path | None, api: str | None,
              stack_name: str | None, parameter_overrides: tuple[str, ...], aws_endpoint_url: str | None,
              state_dir: Path | None, tls_dir: Path | None, max_workers: int | None, idle_timeout: float | None,
              max_connection_duration: float | None, frame_limit: int | None, message_limit: int | None,
              api_keys: tuple[str, ...], api_keys_file: Path | None,
              iam_credentials: tuple[str, ...], iam_identities_file: Path | None, cfn_stack_name: str | None,
              env_vars: Path | None, stage_variable_pairs: tuple[str, ...], no_throttle: bool, no_reload: bool,
              event_loop: LoopChoice, log_format: Format, quiet: bool, verbose: bool,
              debug_function: str | None, debug_port: int, deps: DepsMode, pythons: tuple[str, ...],
              no_inspector: bool, inspector_records: int, inspector_record_always: bool,
              more_parameter_overrides: tuple[str, ...]) -> None:
    """Serve the app locally like a deployed API Gateway WebSocket API.

    \b
    Examples:
      wsgw run-local                                  # the app in this folder, else the bundled chat app
      wsgw run-local --template template.yaml         # a SAM or CloudFormation app
      wsgw run-local --template ../my-cdk-app         # a CDK app (cdk.json), synthesized
      wsgw run-local --template cdk.out --stack ChatStack
      wsgw run-local --template template.yaml --parameter-overrides Stage=dev TableName=chat
    """
    if quiet and verbose:
        usage_error("--quiet and --verbose: choose one")
    if state_dir is not None and aws_endpoint_url is not None:
        usage_error("--state-dir keeps the embedded moto's data; with --aws-endpoint-url there is none")
    if state_dir is not None:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"--state-dir {state_dir}: {exc.strerror or exc}")
    console = Console(log_format, colour=use_colour(sys.stdout), quiet=quiet, verbose=verbose)
    if more_parameter_overrides and not parameter_overrides:
        usage_error(f"Got unexpected extra argument ({' '.join(more_parameter_overrides)})")
    try:
        parameters = parse_overrides((*parameter_overrides, *more_parameter_overrides))
    except WsgwError as exc:
        usage_error(str(exc))
    if template is None:
        try:
            found = find_app(Path.cwd())
        except WsgwError as exc:
            fail(str(exc))
        console.message(f"wsgw: {found.describe()}")
        template = found.path
    if template is None and not cdk_cli.can_synthesize():
        console.message("wsgw: the CDK tools are not installed (pip install 'wsgw[cdk]', Node.js): "
                        "serving the bundled app's pre-synthesized template")
    if cfn_stack_name is not None:
        try:
            check_stack_name(cfn_stack_name, "--stack-name")
        except WsgwError as exc:
            usage_error(str(exc))
    try:
        model = load_model(template, api=api, stack=stack_name, parameters=parameters, stack_name=cfn_stack_name,
                           progress=StepProgress(console))
    except WsgwError as exc:
        fail(str(exc))
    if stage is not None:
        try:
            model = dataclasses.replace(model, stage=check_stage_name(stage, "--stage"))
        except WsgwError as exc:
            usage_error(str(exc))
    keys = set(api_keys)
    if api_keys_file is not None:
        try:
            keys.update(line.strip() for line in api_keys_file.read_text(encoding="utf-8").splitlines()
                        if line.strip() and not line.startswith("#"))
        except OSError as exc:
            fail(f"--api-keys-file {api_keys_file}: {exc.strerror or exc}")
    credentials: dict[str, str] = {}
    for item in iam_credentials:
        access_key, sep, secret = item.partition(":")
        if not sep or not access_key or not secret:
            usage_error(f"--iam-credentials {item!r}: expected ACCESS_KEY:SECRET")
        credentials[access_key] = secret
    identities = {}
    if iam_identities_file is not None:
        try:
            identities = read_identities(iam_identities_file, credentials or DEFAULT_IAM_CREDENTIALS)
        except WsgwError as exc:
            fail(str(exc))
    try:
        overrides = EnvOverrides.from_file(env_vars) if env_vars is not None else EnvOverrides()
        if debug_function is not None:
            overrides = debug_overrides(overrides, model, debug_function, debug_port)
        overrides.apply(model, f"--env-vars {env_vars}")  # unknown functions: fail now
    except WsgwError as exc:
        fail(str(exc))
    variables: dict[str, str] = {}
    for pair in stage_variable_pairs:
        name, equals, value = pair.partition("=")
        try:
            if not equals:
                raise ConfigError("--stage-variable", f"{pair!r} is not KEY=VALUE")
            check_stage_variable(name, value, "--stage-variable")
        except WsgwError as exc:
            fail(str(exc))
        variables[name] = value
    options = GatewayOptions(
        stage_variables=variables, throttle=not no_throttle,
        host=host, port=port, aws_endpoint_url=aws_endpoint_url,
        tls_dir=tls_dir or default_tls_dir(), max_workers_per_function=max_workers or default_max_workers(),
        idle_timeout_s=idle_timeout, max_connection_duration_s=max_connection_duration,
        frame_bytes=frame_limit, message_bytes=message_limit, api_keys=frozenset(keys),
        reload=not no_reload, env_overrides=overrides, state_dir=state_dir,
        reload_source=ReloadSource(template, api=api, stack=stack_name, parameters=parameters,
                                   stack_name=cfn_stack_name),
    )
    if credentials:
        options = dataclasses.replace(options, iam_credentials=credentials)
    options = dataclasses.replace(options, runtime=RuntimeOptions(deps=deps, pythons=parse_pythons(pythons)))
    if not no_inspector:
        options = dataclasses.replace(options, inspector=InspectorOptions.for_host(
            host, inspector_records, inspector_record_always))
    if identities:
        options = dataclasses.replace(options, iam_identities=identities)
    # The console prints each invocation; the server's own INFO line would repeat it.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr if log_format == "json" else sys.stdout)
    for noisy in ("wsgw.server", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        event_loop_module.run(_serve(model, options, console), event_loop)
    except WsgwError as exc:
        fail(str(exc))


def read_identities(path: Path, credentials: Mapping[str, str]) -> dict[str, Identity]:
    """``--iam-identities``: the JSON file of identity fields per access key, checked
    (every key must be one ``--iam-credentials`` accepts, or it could never sign in)."""
    where = f"--iam-identities {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(where, exc.strerror or str(exc)) from None
    return identities_from_json(text, where, credentials)


def parse_pythons(values: tuple[str, ...]) -> dict[str, Path]:
    """``--python 3.12=/path/to/python`` values as ``{"3.12": Path(...)}`` (a usage error
    if one is malformed; whether the interpreter is that version is checked at start)."""
    pythons: dict[str, Path] = {}
    for value in values:
        version, sep, path = value.partition("=")
        version = version.strip().removeprefix("python")
        if not sep or not path or not re.fullmatch(r"3\.\d+", version):
            usage_error(f"--python {value!r}: expected VERSION=PATH, e.g. 3.12=/usr/bin/python3.12")
        pythons[version] = Path(path).expanduser()
    return pythons


def debug_overrides(overrides: EnvOverrides, model: ApiModel, function: str, port: int) -> EnvOverrides:
    """``overrides`` plus the variable that makes ``function``'s worker start debugpy
    (for --debug-function; exits with an error when the function or debugpy is missing)."""
    if function not in model.functions:
        fail(f"--debug-function {function!r}: the app has no such function; its functions: "
             f"{', '.join(sorted(model.functions))}")
    # A Node.js function's worker opens Node's own inspector on the port instead (node/worker.mjs).
    if not model.functions[function].runtime.startswith("nodejs") and importlib.util.find_spec("debugpy") is None:
        fail("--debug-function needs debugpy, which is not installed: pip install 'wsgw[debug]' (or pip install debugpy)")
    per_function = dict(overrides.per_function)
    per_function[function] = {**per_function.get(function, {}), DEBUGPY_ENV: f"127.0.0.1:{port}"}
    return dataclasses.replace(overrides, per_function=per_function)


async def _serve(model: ApiModel, options: GatewayOptions, console: Console | None = None) -> None:
    """Run a :class:`LocalGateway` until SIGINT or SIGTERM, then stop it gracefully
    (a second signal stops waiting for the ``$disconnect`` handlers)."""
    console = console or Console()
    say = console.message
    gateway = LocalGateway(model, options, function_log=None, reload_log=say)
    # The console hears the gateway's records (core/activity.py), as the inspector does.
    console.subscribe(gateway.activity)
    # Handlers first: a Ctrl-C during start-up stops cleanly once start() returns.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    services = " and the embedded AWS services" if options.aws_endpoint_url is None else ""
    workers = f"{len(model.functions)} worker{'' if len(model.functions) == 1 else 's'}"
    say(f"wsgw: starting {model.name} (stage {model.stage}): {workers}{services}...")
    await gateway.start()
    assert gateway.tls is not None
    say(f"  WebSocket URL: {gateway.ws_url}")
    say(f"  Secure URL:    {gateway.wss_url}")
    say(f"  @connections:  {gateway.management_url}/@connections/{{connectionId}}  (also http://)")
    say(f"  Local CA:      {gateway.tls.ca_cert}  (trust it for wss:// and https://)")
    where = "embedded moto" if options.aws_endpoint_url is None else "--aws-endpoint-url"
    say(f"  AWS services:  {gateway.aws_endpoint_url}  ({where})")
    if gateway.inspector_url is not None:
        say(f"  Inspector:     {gateway.inspector_url}")
    if model.access_log is not None:
        where = model.access_log.destination_arn or "no DestinationArn"
        say(f"  Access log:    the stage's AccessLogSettings, one [access] line per request  ({where})")
    for warning in access_warnings(model, api_keys=options.api_keys, iam_credentials=options.iam_credentials):
        say(f"wsgw: warning: {warning}")
    state_file = _publish_state(gateway)
    say("Ready. Press Ctrl-C to stop.")
    sys.stdout.flush()
    await stop.wait()
    _withdraw_state(state_file)
    # A second Ctrl-C stops waiting for the $disconnect handlers.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, gateway.abandon)
    open_connections = len(gateway.listener.connections) if gateway.listener else 0
    say(f"wsgw: shutting down; closing {open_connections} connection(s) with 1001 and running $disconnect...")
    cut_short = await gateway.stop(
        progress=lambda n: say(f"wsgw: waiting for {n} invocation(s) to finish (Ctrl-C again to stop waiting)..."),
    )
    if cut_short:
        say(f"wsgw: stopped; {cut_short} invocation(s) cut short (their $disconnect may not have finished).")
    else:
        say("wsgw: stopped.")


# -- the local state file (emulator/tools/local_state.py) -------------------------------------


def _publish_state(gateway: LocalGateway) -> Path | None:
    """Tell the admin commands and ``wsgw connect`` where this gateway is (a warning if
    the file cannot be written: they then need --endpoint-url/--ca)."""
    try:
        return local_state.write_state(local_state.state_for(gateway))
    except OSError as exc:
        click.echo(f"wsgw: warning: cannot write {local_state.default_state_path()}: {exc.strerror or exc}", err=True)
        return None


def _withdraw_state(path: Path | None) -> None:
    if path is not None:
        local_state.remove_state(path)
