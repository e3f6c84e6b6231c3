"""``wsgw``: the command line. A thin click shell: flags → loader → app.

Run ``wsgw --help`` (or ``python cli.py --help`` from a checkout).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys
from pathlib import Path
from typing import NoReturn

import click

from emulator.app import GatewayOptions, LocalGateway, default_tls_dir
from emulator import cdk_cli
from emulator import event_loop as event_loop_module
from emulator.config import check_stage_name
from emulator.event_loop import LoopChoice
from emulator.errors import WsgwError
from emulator.model import ApiModel
from emulator.sources import load_model



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
@click.option("--tls-dir", type=click.Path(path_type=Path), default=None,
              help="Where the local CA and certificate live (default: ~/.local/share/wsgw/tls).")
@click.option("--max-workers", default=16, show_default=True, type=click.IntRange(1, 1000),
              help="Most worker processes per function (concurrent invocations beyond wait).")
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
@click.option("--event-loop", type=click.Choice(["auto", "asyncio", "uvloop"]), default="auto", show_default=True,
              help="auto uses uvloop when installed.")
def run_local(host: str, port: int, stage: str | None, template: Path | None, api: str | None,
              stack_name: str | None, parameter_overrides: tuple[str, ...], aws_endpoint_url: str | None,
              tls_dir: Path | None, max_workers: int, idle_timeout: float | None,
              max_connection_duration: float | None, frame_limit: int | None, message_limit: int | None,
              api_keys: tuple[str, ...], api_keys_file: Path | None,
              iam_credentials: tuple[str, ...], event_loop: LoopChoice) -> None:
    """Serve the app locally like a deployed API Gateway WebSocket API."""
    parameters: dict[str, str] = {}
    for item in parameter_overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"--parameter-overrides {item!r}: expected KEY=VALUE")
        parameters[key] = value
    if template is None:
        click.echo("wsgw: synthesizing the bundled CDK app (a no-op when deploy/ and handlers/ are unchanged)...")
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
    options = GatewayOptions(
        host=host, port=port, aws_endpoint_url=aws_endpoint_url,
        tls_dir=tls_dir or default_tls_dir(), max_workers_per_function=max_workers,
        idle_timeout_s=idle_timeout, max_connection_duration_s=max_connection_duration,
        frame_bytes=frame_limit, message_bytes=message_limit, api_keys=frozenset(keys),
    )
    if credentials:
        options = dataclasses.replace(options, iam_credentials=credentials)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stdout)
    try:
        event_loop_module.run(_serve(model, options), event_loop)
    except WsgwError as exc:
        _fail(str(exc))


async def _serve(model: ApiModel, options: GatewayOptions) -> None:
    gateway = LocalGateway(model, options)
    # Handlers first: a Ctrl-C during start-up stops cleanly once start() returns.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    click.echo(f"wsgw: starting {model.name} (stage {model.stage}, {len(model.functions)} functions)...")
    await gateway.start()
    assert gateway.tls is not None
    click.echo(f"  WebSocket URL: {gateway.ws_url}")
    click.echo(f"  Secure URL:    {gateway.wss_url}")
    click.echo(f"  @connections:  {gateway.management_url}/@connections/{{connectionId}}  (also http://)")
    click.echo(f"  Local CA:      {gateway.tls.ca_cert}  (trust it for wss:// and https://)")
    where = "embedded moto" if options.aws_endpoint_url is None else "--aws-endpoint-url"
    click.echo(f"  AWS services:  {gateway.aws_endpoint_url}  ({where})")
    click.echo("Ready. Press Ctrl-C to stop.", nl=True)
    sys.stdout.flush()
    await stop.wait()
    open_connections = len(gateway.server.sessions) if gateway.server else 0
    click.echo(f"wsgw: shutting down; closing {open_connections} connection(s) with 1001 and running $disconnect...")
    await gateway.stop()
    click.echo("wsgw: stopped.")


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


def _fail(message: str) -> NoReturn:
    click.echo(f"wsgw: error: {message}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
