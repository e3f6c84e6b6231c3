"""``wsgw``: the command line. A thin click shell: flags → loader → app.

Run ``wsgw --help`` (or ``python cli.py --help`` from a checkout).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.util
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn

import click

from emulator.tools.console import Console, Format, use_colour
from emulator.app import GatewayOptions, LocalGateway, default_max_workers, default_tls_dir
from emulator.template import cdk_cli
from emulator.tools import interactive_client
from emulator.tools import local_state
from emulator.net import event_loop as event_loop_module
from emulator.template.wsgw_json import check_stage_name
from emulator.net.event_loop import LoopChoice
from emulator.core.errors import WsgwError
from emulator.runtime.invoker import DEBUGPY_ENV
from emulator.template.env_overrides import EnvOverrides
from emulator.core.model import ApiModel
from emulator.reload import ReloadSource
from emulator.template.loader import load_model

if TYPE_CHECKING:
    from emulator.tools.admin import Admin  # imported when an admin command runs: boto3 is slow to import



@click.group()
@click.version_option(package_name="wsgw")
def main() -> None:
    """wsgw: develop, test and ship AWS API Gateway WebSocket apps in Python."""


@main.command("run-local")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=3001, show_default=True, type=click.IntRange(0, 65535), help="Port for ws://, wss:// and @connections.")
@click.option("--stage", default=None, help="Stage name in the URL path (default: the app's stage).")
@click.option("--template", "template", type=click.Path(path_type=Path), default=None,
              help="What to serve: a CDK cloud assembly folder (cdk.out), a CloudFormation or SAM template "
                   "(JSON/YAML), or a wsgw.json app description. Default: the bundled CDK app, freshly synthesized.")
@click.option("--api", default=None, help="Which WebSocket API (logical id or Name) when the template has several.")
@click.option("--stack", "stack_name", default=None, help="Which stack of a cloud assembly with several.")
@click.option("--parameter-overrides", "parameter_overrides", multiple=True, metavar="KEY=VALUE",
              help="Template parameter values (repeatable).")
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
@click.option("--env-vars", "env_vars", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help='Environment overrides, SAM style: {"Parameters": {...all...}, "FunctionName": {...}}.')
@click.option("--no-reload", is_flag=True, default=False,
              help="Do not watch handlers and the template for edits (hot reload is on by default).")
@click.option("--event-loop", type=click.Choice(["auto", "asyncio", "uvloop"]), default="auto", show_default=True,
              help="auto uses uvloop when installed.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one line per invocation, handler output indented under it; json: one object per line.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="Invocation lines only, no handler output.")
@click.option("--verbose", "-v", is_flag=True, default=False, help="Also print each invocation's full event.")
@click.option("--debug-function", default=None, metavar="NAME",
              help="Run NAME's worker under debugpy (pip install debugpy): it waits for an IDE to attach.")
@click.option("--debug-port", default=5678, show_default=True, type=click.IntRange(1, 65535),
              help="Where --debug-function's debugpy listens (on 127.0.0.1).")
def run_local(host: str, port: int, stage: str | None, template: Path | None, api: str | None,
              stack_name: str | None, parameter_overrides: tuple[str, ...], aws_endpoint_url: str | None,
              state_dir: Path | None, tls_dir: Path | None, max_workers: int | None, idle_timeout: float | None,
              max_connection_duration: float | None, frame_limit: int | None, message_limit: int | None,
              api_keys: tuple[str, ...], api_keys_file: Path | None,
              iam_credentials: tuple[str, ...], env_vars: Path | None, no_reload: bool,
              event_loop: LoopChoice, log_format: Format, quiet: bool, verbose: bool,
              debug_function: str | None, debug_port: int) -> None:
    """Serve the app locally like a deployed API Gateway WebSocket API."""
    if quiet and verbose:
        _fail("--quiet and --verbose: choose one")
    if state_dir is not None and aws_endpoint_url is not None:
        raise click.UsageError("--state-dir keeps the embedded moto's data; with --aws-endpoint-url there is none")
    if state_dir is not None:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(f"--state-dir {state_dir}: {exc.strerror or exc}")
    console = Console(log_format, colour=use_colour(sys.stdout), quiet=quiet, verbose=verbose)
    parameters: dict[str, str] = {}
    for item in parameter_overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"--parameter-overrides {item!r}: expected KEY=VALUE")
        parameters[key] = value
    if template is None:
        console.message("wsgw: synthesizing the bundled CDK app (a no-op when deploy/ and handlers/ are unchanged)...")
    try:
        model = load_model(template, api=api, stack=stack_name, parameters=parameters)
    except WsgwError as exc:
        _fail(str(exc))
    if stage is not None:
        try:
            model = dataclasses.replace(model, stage=check_stage_name(stage, "--stage"))
        except WsgwError as exc:
            _fail(str(exc))
    keys = set(api_keys)
    if api_keys_file is not None:
        try:
            keys.update(line.strip() for line in api_keys_file.read_text(encoding="utf-8").splitlines()
                        if line.strip() and not line.startswith("#"))
        except OSError as exc:
            _fail(f"--api-keys-file {api_keys_file}: {exc.strerror or exc}")
    credentials: dict[str, str] = {}
    for item in iam_credentials:
        access_key, sep, secret = item.partition(":")
        if not sep or not access_key or not secret:
            _fail(f"--iam-credentials {item!r}: expected ACCESS_KEY:SECRET")
        credentials[access_key] = secret
    try:
        overrides = EnvOverrides.from_file(env_vars) if env_vars is not None else EnvOverrides()
        if debug_function is not None:
            overrides = _debug_overrides(overrides, model, debug_function, debug_port)
        overrides.apply(model, f"--env-vars {env_vars}")  # unknown functions: fail now
    except WsgwError as exc:
        _fail(str(exc))
    options = GatewayOptions(
        host=host, port=port, aws_endpoint_url=aws_endpoint_url,
        tls_dir=tls_dir or default_tls_dir(), max_workers_per_function=max_workers or default_max_workers(),
        idle_timeout_s=idle_timeout, max_connection_duration_s=max_connection_duration,
        frame_bytes=frame_limit, message_bytes=message_limit, api_keys=frozenset(keys),
        reload=not no_reload, env_overrides=overrides, state_dir=state_dir,
        reload_source=ReloadSource(template, api=api, stack=stack_name, parameters=parameters),
    )
    if credentials:
        options = dataclasses.replace(options, iam_credentials=credentials)
    # The console prints each invocation; the server's own INFO line would repeat it.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr if log_format == "json" else sys.stdout)
    for noisy in ("wsgw.server", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        event_loop_module.run(_serve(model, options, console), event_loop)
    except WsgwError as exc:
        _fail(str(exc))


def _debug_overrides(overrides: EnvOverrides, model: ApiModel, function: str, port: int) -> EnvOverrides:
    """``overrides`` plus the variable that makes ``function``'s worker start debugpy."""
    if function not in model.functions:
        _fail(f"--debug-function {function!r}: the app has no such function; its functions: "
              f"{', '.join(sorted(model.functions))}")
    if importlib.util.find_spec("debugpy") is None:
        _fail("--debug-function needs debugpy, which is not installed: pip install debugpy")
    per_function = dict(overrides.per_function)
    per_function[function] = {**per_function.get(function, {}), DEBUGPY_ENV: f"127.0.0.1:{port}"}
    return dataclasses.replace(overrides, per_function=per_function)


async def _serve(model: ApiModel, options: GatewayOptions, console: Console | None = None) -> None:
    console = console or Console()
    say = console.message
    gateway = LocalGateway(model, options, function_log=console.function_line, observer=console.invocation,
                           reload_log=say)
    # Handlers first: a Ctrl-C during start-up stops cleanly once start() returns.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    services = " and the embedded AWS services" if options.aws_endpoint_url is None else ""
    say(f"wsgw: starting {model.name} (stage {model.stage}): {len(model.functions)} workers{services}...")
    await gateway.start()
    assert gateway.tls is not None
    say(f"  WebSocket URL: {gateway.ws_url}")
    say(f"  Secure URL:    {gateway.wss_url}")
    say(f"  @connections:  {gateway.management_url}/@connections/{{connectionId}}  (also http://)")
    say(f"  Local CA:      {gateway.tls.ca_cert}  (trust it for wss:// and https://)")
    where = "embedded moto" if options.aws_endpoint_url is None else "--aws-endpoint-url"
    say(f"  AWS services:  {gateway.aws_endpoint_url}  ({where})")
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


@main.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where to write the cloud assembly (default: deploy/cdk.out).")
def synth(out_dir: Path | None) -> None:
    """Synthesize the bundled CDK app offline (no AWS credentials needed).

    A fast no-op when neither deploy/ nor handlers/ changed since the last synth.
    """
    try:
        assembly = cdk_cli.synth(out_dir)
    except WsgwError as exc:
        _fail(str(exc))
    click.echo(f"wsgw: cloud assembly in {assembly}")


@main.command()
@click.option("--stack", "stack_name", default=cdk_cli.DEFAULT_STACK_NAME, show_default=True, help="Stack name.")
@click.option("--profile", default=None, help="AWS profile to deploy with (default: the usual AWS chain).")
@click.option("--region", default=None, help="AWS region (default: the profile's or AWS_REGION).")
def deploy(stack_name: str, profile: str | None, region: str | None) -> None:
    """Deploy the bundled app to AWS with the standard CDK CLI; prints the WebSocket URL."""
    problems = cdk_cli.check_deploy_prerequisites(profile=profile, region=region)
    # "could not verify the bootstrap" is a warning: deploy itself will tell.
    warnings = [p for p in problems if p.startswith(cdk_cli.UNVERIFIED)]
    for warning in warnings:
        click.echo(f"wsgw: warning: {warning}", err=True)
    blocking = [p for p in problems if p not in warnings]
    if blocking:
        _fail("cannot deploy yet: " + "; ".join(blocking))
    try:
        outputs = cdk_cli.deploy(stack_name, profile=profile, region=region)
    except WsgwError as exc:
        _fail(str(exc))
    click.echo(f"wsgw: deployed {stack_name}")
    for key in ("WebSocketUrl", "CallbackUrl"):
        if key in outputs:
            click.echo(f"  {key}: {outputs[key]}")


@main.command()
@click.option("--stack", "stack_name", default=cdk_cli.DEFAULT_STACK_NAME, show_default=True, help="Stack name.")
@click.option("--profile", default=None, help="AWS profile (default: the usual AWS chain).")
@click.option("--region", default=None, help="AWS region (default: the profile's or AWS_REGION).")
def destroy(stack_name: str, profile: str | None, region: str | None) -> None:
    """Remove the deployed stack (the connections table goes with it)."""
    problems = [p for p in cdk_cli.check_deploy_prerequisites(profile=profile, region=region)
                if "bootstrap" not in p]
    if problems:
        _fail("cannot destroy: " + "; ".join(problems))
    try:
        cdk_cli.destroy(stack_name, profile=profile, region=region)
    except WsgwError as exc:
        _fail(str(exc))
    click.echo(f"wsgw: destroyed {stack_name}")


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


# -- admin commands: connections, post, broadcast, disconnect (emulator/tools/admin.py) --------

_STATE_FILE = click.option(
    "--state-file", type=click.Path(path_type=Path, dir_okay=False), default=None, envvar=local_state.STATE_FILE_ENV,
    help="run-local's state file (default: .wsgw/run-local.json here; env WSGW_STATE_FILE).")
_TARGET_OPTIONS: tuple[Callable[[Callable[..., Any]], Callable[..., Any]], ...] = (
    click.option("--endpoint-url", default=None, metavar="URL",
                 help="Any API's callback URL (https://{api}.execute-api.{region}.amazonaws.com/{stage}); "
                      "credentials from the usual AWS chain. Default: the running wsgw run-local."),
    click.option("--table", "tables", multiple=True, metavar="NAME",
                 help="The connections table (partition key: the connection id; repeatable)."),
    click.option("--aws-endpoint-url", default=None, metavar="URL",
                 help="Where --table lives when not on AWS (DynamoDB Local, LocalStack, a run-local's moto)."),
    click.option("--ca", default=None, type=click.Path(dir_okay=False, exists=True),
                 help="Verify --endpoint-url's TLS with this CA file (e.g. a local gateway's ca.pem)."),
    click.option("--deployed", is_flag=True, help="The deployed stack: its CallbackUrl and ConnectionsTableName outputs."),
    click.option("--stack", "stack_name", default=cdk_cli.DEFAULT_STACK_NAME, show_default=True,
                 help="With --deployed: which stack."),
    click.option("--profile", default=None, help="AWS profile (default: the usual AWS chain)."),
    click.option("--region", default=None, help="AWS region (default: the profile's or AWS_REGION)."),
    _STATE_FILE,
)
_TARGET_FLAGS = ("endpoint_url", "tables", "aws_endpoint_url", "ca", "deployed", "stack_name", "profile", "region",
                 "state_file")


def _admin_command(function: Callable[..., None]) -> Callable[..., None]:
    """Add the target options to an admin command; it receives an :class:`Admin`."""
    @functools.wraps(function)
    def wrapper(**arguments: Any) -> None:
        from emulator.tools.admin import Admin, AdminError, pick_target

        flags = {name: arguments.pop(name) for name in _TARGET_FLAGS}
        try:
            function(Admin(pick_target(**flags)), **arguments)
        except AdminError as exc:
            _fail(str(exc))
    for option in reversed(_TARGET_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


@main.command()
@click.option("--prune", is_flag=True, help="Delete the rows of gone connections.")
@_admin_command
def connections(admin: Admin, prune: bool) -> None:
    """List the open connections in the connections table, with GetConnection's times.

    One line per connection: id, connectedAt, lastActiveAt (UTC) and source IP. Rows of
    gone connections are listed as gone and kept, unless --prune deletes them.
    """
    from emulator.tools.admin import iso_utc

    open_, gone = admin.connections()
    for item in open_:
        click.echo(f"{item.connection_id}  connected {iso_utc(item.connected_at)}  "
                   f"last active {iso_utc(item.last_active_at)}  from {item.source_ip or '-'}")
    if prune:
        admin.prune(gone)
    for row in gone:
        click.echo(f"{row.connection_id}  gone ({'row deleted' if prune else 'stale row'} in {row.table})")
    advice = "; --prune deletes gone rows" if gone and not prune else ""
    click.echo(f"wsgw: {len(open_)} open, {len({row.connection_id for row in gone})} gone{advice}", err=True)


# Connection ids may start with "-" (and messages too): not options, whatever they look like.
_DASHED_ARGUMENTS = {"ignore_unknown_options": True}


def _message_bytes(message: str) -> bytes:
    return (sys.stdin.read() if message == "-" else message).encode("utf-8")


@main.command(context_settings=_DASHED_ARGUMENTS)
@click.argument("connection_id")
@click.argument("message")
@_admin_command
def post(admin: Admin, connection_id: str, message: str) -> None:
    """Send MESSAGE (text; - reads stdin) to one connection (PostToConnection)."""
    data = _message_bytes(message)
    admin.post(connection_id, data)
    click.echo(f"wsgw: posted {len(data)} bytes to {connection_id}")


@main.command(context_settings=_DASHED_ARGUMENTS)
@click.argument("message")
@_admin_command
def broadcast(admin: Admin, message: str) -> None:
    """Send MESSAGE (- reads stdin) to every connection in the table, concurrently.

    Deletes the rows of gone connections; prints delivered/gone/failed counts and
    exits 1 when any post failed for another reason.
    """
    result = admin.broadcast(_message_bytes(message))
    for connection_id, reason in result.failures:
        click.echo(f"wsgw: failed {connection_id}: {reason}", err=True)
    click.echo(f"delivered {result.delivered}, gone {result.gone}, failed {len(result.failures)}")
    if result.failures:
        sys.exit(1)


@main.command(context_settings=_DASHED_ARGUMENTS)
@click.argument("connection_id")
@_admin_command
def disconnect(admin: Admin, connection_id: str) -> None:
    """Close one connection (DeleteConnection; the gateway closes it and runs $disconnect)."""
    admin.disconnect(connection_id)
    click.echo(f"wsgw: disconnected {connection_id}")


@main.command("connect")
@click.argument("url", required=False)
@click.option("--header", "headers", multiple=True, metavar="NAME:VALUE", help="A handshake header (repeatable).")
@click.option("--subprotocol", "subprotocols", multiple=True, help="Offer this subprotocol (repeatable).")
@click.option("--ca", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Also trust this CA for wss:// (the local gateway's is trusted automatically).")
@click.option("--execute", "execute", multiple=True, metavar="MSG",
              help="Send MSG instead of reading stdin (repeatable), then wait --wait seconds and exit.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=1.0, show_default=True, metavar="SECONDS",
              help="After the last message (--execute, or the end of stdin): how long to print replies.")
@_STATE_FILE
def connect_command(url: str | None, headers: tuple[str, ...], subprotocols: tuple[str, ...], ca: str | None,
                    execute: tuple[str, ...], wait_s: float, state_file: Path | None) -> None:
    """Talk to a WebSocket API: stdin lines go out, replies print as HH:MM:SS.mmm < text.

    URL defaults to the running wsgw run-local's ws:// URL. Exits 1 when the handshake
    is refused or the server closes with a code other than 1000.
    """
    try:
        options = interactive_client.client_options(url, headers=headers, subprotocols=subprotocols, ca=ca,
                                                    execute=execute, wait_s=wait_s,
                                                    state=local_state.live_state(state_file))
    except ValueError as exc:
        _fail(str(exc))
    lines = None if execute else interactive_client.stdin_lines(sys.stdin)
    try:
        status = asyncio.run(interactive_client.run_client(
            options, out=click.echo, err=lambda line: click.echo(line, err=True), lines=lines))
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)


def _fail(message: str) -> NoReturn:
    click.echo(f"wsgw: error: {message}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
