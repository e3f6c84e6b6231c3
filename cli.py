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

import click

from emulator.app import GatewayOptions, LocalGateway, default_tls_dir
from emulator import event_loop as event_loop_module
from emulator.config import check_stage_name, load_app
from emulator.event_loop import LoopChoice
from emulator.errors import WsgwError
from emulator.model import ApiModel

HERE = Path(__file__).resolve().parent
BUNDLED_APP = HERE / "wsgw.json"


@click.group()
@click.version_option(package_name="wsgw")
def main() -> None:
    """wsgw: develop, test and ship AWS API Gateway WebSocket apps in Python."""


@main.command("run-local")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=3001, show_default=True, type=click.IntRange(0, 65535), help="Port for ws://, wss:// and @connections.")
@click.option("--stage", default=None, help="Stage name in the URL path (default: the app's stage).")
@click.option("--app", "app_path", type=click.Path(path_type=Path), default=BUNDLED_APP, show_default="the bundled chat app",
              help="App description (wsgw.json) to serve.")
@click.option("--aws-endpoint-url", default=None, metavar="URL",
              help="Send handlers' AWS calls here (DynamoDB Local, LocalStack, real AWS) instead of the embedded moto.")
@click.option("--tls-dir", type=click.Path(path_type=Path), default=None,
              help="Where the local CA and certificate live (default: ~/.local/share/wsgw/tls).")
@click.option("--max-workers", default=16, show_default=True, type=click.IntRange(1, 1000),
              help="Most worker processes per function (concurrent invocations beyond wait).")
@click.option("--event-loop", type=click.Choice(["auto", "asyncio", "uvloop"]), default="auto", show_default=True,
              help="auto uses uvloop when installed.")
def run_local(host: str, port: int, stage: str | None, app_path: Path, aws_endpoint_url: str | None,
              tls_dir: Path | None, max_workers: int, event_loop: LoopChoice) -> None:
    """Serve the app locally like a deployed API Gateway WebSocket API."""
    try:
        model = load_app(app_path)
    except WsgwError as exc:
        _fail(str(exc))
    if stage is not None:
        try:
            model = dataclasses.replace(model, stage=check_stage_name(stage, "--stage"))
        except WsgwError as exc:
            _fail(str(exc))
    options = GatewayOptions(
        host=host, port=port, aws_endpoint_url=aws_endpoint_url,
        tls_dir=tls_dir or default_tls_dir(), max_workers_per_function=max_workers,
    )
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


def _fail(message: str) -> None:
    click.echo(f"wsgw: error: {message}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
