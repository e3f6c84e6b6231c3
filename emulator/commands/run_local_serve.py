"""``wsgw run-local`` once its embedded moto is launched: the option parsers that need
wsgw's model, and the serve loop (signals, the start-up banner, the local state file,
graceful stop). :mod:`emulator.commands.run_local` imports this module after it launched
the moto child, so that these imports overlap the child's start."""

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
from emulator.aws.embedded import EmbeddedAws
from emulator.commands.failure import fail, usage_error
from emulator.commands.progress import StepProgress
from emulator.commands.run_local import RunLocalArgs
from emulator.core.access import access_warnings
from emulator.core.credentials import DEFAULT_IAM_CREDENTIALS
from emulator.core.errors import ConfigError, WsgwError
from emulator.core.iam_identity import Identity, identities_from_json
from emulator.core.integration import check_stage_variable
from emulator.core.model import ApiModel, check_stage_name
from emulator.inspector.server import InspectorOptions
from emulator.reload import ReloadSource
from emulator.runtime.invoker import DEBUGPY_ENV
from emulator.runtime.provisioning import RuntimeOptions
from emulator.template import cdk_cli
from emulator.template.discovery import find_app
from emulator.template.env_overrides import EnvOverrides
from emulator.template.loader import load_model
from emulator.template.parameters import parse_overrides
from emulator.template.template_file import check_stack_name
from emulator.tools import local_state
from emulator.tools.console import Console, use_colour


def serve_app(args: RunLocalArgs, aws: EmbeddedAws | None, loop_runner: asyncio.Runner) -> None:
    """The rest of ``wsgw run-local`` once ``aws`` (unless ``--aws-endpoint-url``) is
    launched: the model and :class:`GatewayOptions` from ``args``, then :func:`serve`
    on ``loop_runner`` until Ctrl-C. Exits with the error when something cannot be served."""
    template = args.template
    console = Console(args.log_format, colour=use_colour(sys.stdout), quiet=args.quiet, verbose=args.verbose)
    try:
        parameters = parse_overrides((*args.parameter_overrides, *args.more_parameter_overrides))
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
    if args.cfn_stack_name is not None:
        try:
            check_stack_name(args.cfn_stack_name, "--stack-name")
        except WsgwError as exc:
            usage_error(str(exc))
    try:
        model = load_model(template, api=args.api, stack=args.stack_name, parameters=parameters, stack_name=args.cfn_stack_name,
                           progress=StepProgress(console))
    except WsgwError as exc:
        fail(str(exc))
    if args.stage is not None:
        try:
            model = dataclasses.replace(model, stage=check_stage_name(args.stage, "--stage"))
        except WsgwError as exc:
            usage_error(str(exc))
    keys = set(args.api_keys)
    if args.api_keys_file is not None:
        try:
            keys.update(line.strip() for line in args.api_keys_file.read_text(encoding="utf-8").splitlines()
                        if line.strip() and not line.startswith("#"))
        except OSError as exc:
            fail(f"--api-keys-file {args.api_keys_file}: {exc.strerror or exc}")
    credentials: dict[str, str] = {}
    for item in args.iam_credentials:
        access_key, sep, secret = item.partition(":")
        if not sep or not access_key or not secret:
            usage_error(f"--iam-credentials {item!r}: expected ACCESS_KEY:SECRET")
        credentials[access_key] = secret
    identities = {}
    if args.iam_identities_file is not None:
        try:
            identities = read_identities(args.iam_identities_file, credentials or DEFAULT_IAM_CREDENTIALS)
        except WsgwError as exc:
            fail(str(exc))
    try:
        overrides = EnvOverrides.from_file(args.env_vars) if args.env_vars is not None else EnvOverrides()
        if args.debug_function is not None:
            overrides = debug_overrides(overrides, model, args.debug_function, args.debug_port)
        overrides.apply(model, f"--env-vars {args.env_vars}")  # unknown functions: fail now
    except WsgwError as exc:
        fail(str(exc))
    variables: dict[str, str] = {}
    for pair in args.stage_variable_pairs:
        name, equals, value = pair.partition("=")
        try:
            if not equals:
                raise ConfigError("--stage-variable", f"{pair!r} is not KEY=VALUE")
            check_stage_variable(name, value, "--stage-variable")
        except WsgwError as exc:
            fail(str(exc))
        variables[name] = value
    options = GatewayOptions(
        stage_variables=variables, throttle=not args.no_throttle,
        host=args.host, port=args.port, aws_endpoint_url=args.aws_endpoint_url,
        tls_dir=args.tls_dir or default_tls_dir(), max_workers_per_function=args.max_workers or default_max_workers(),
        idle_timeout_s=args.idle_timeout, max_connection_duration_s=args.max_connection_duration,
        frame_bytes=args.frame_limit, message_bytes=args.message_limit, api_keys=frozenset(keys),
        reload=not args.no_reload, env_overrides=overrides, state_dir=args.state_dir,
        reload_source=ReloadSource(template, api=args.api, stack=args.stack_name, parameters=parameters,
                                   stack_name=args.cfn_stack_name),
    )
    if credentials:
        options = dataclasses.replace(options, iam_credentials=credentials)
    options = dataclasses.replace(options, runtime=RuntimeOptions(deps=args.deps, pythons=parse_pythons(args.pythons)))
    if not args.no_inspector:
        options = dataclasses.replace(options, inspector=InspectorOptions.for_host(
            args.host, args.inspector_records, args.inspector_record_always))
    if identities:
        options = dataclasses.replace(options, iam_identities=identities)
    # The console prints each invocation; the server's own INFO line would repeat it.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr if args.log_format == "json" else sys.stdout)
    for noisy in ("wsgw.server", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        loop_runner.run(serve(model, options, console, aws))
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


async def serve(model: ApiModel, options: GatewayOptions, console: Console | None = None,
                aws: EmbeddedAws | None = None) -> None:
    """Run a :class:`LocalGateway` until SIGINT or SIGTERM, then stop it gracefully
    (a second signal stops waiting for the ``$disconnect`` handlers). ``aws``: the
    embedded moto launched for ``options`` (the gateway launches one if None)."""
    console = console or Console()
    say = console.message
    gateway = LocalGateway(model, options, function_log=None, reload_log=say, aws=aws)
    # The console hears the gateway's records (core/activity.py), as the inspector does,
    # and prints them after the loop's current turn: a reply leaves before its lines.
    console.subscribe(gateway.activity)
    loop = asyncio.get_running_loop()
    console.print_after(loop.call_soon)
    try:
        await _serve_until_stopped(gateway, model, options, console, loop)
    finally:
        console.flush()  # what the last turns heard, if the loop ends before printing it


async def _serve_until_stopped(gateway: LocalGateway, model: ApiModel, options: GatewayOptions, console: Console,
                               loop: asyncio.AbstractEventLoop) -> None:
    say = console.message
    # Handlers first: a Ctrl-C during start-up stops cleanly once start() returns.
    stop = asyncio.Event()
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
