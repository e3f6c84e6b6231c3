"""``wsgw connect``: the interactive WebSocket client (emulator/tools/interactive_client.py)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from emulator.commands.failure import fail
from emulator.commands.state_file import state_file_option
from emulator.tools import interactive_client, local_state


def _checked_headers(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            interactive_client.parse_header(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc).removeprefix("--header "), param_hint="--header") from None
    return values


@click.command("connect")
@click.argument("url", required=False)
@click.option("--header", "headers", multiple=True, metavar="NAME:VALUE", help="A handshake header (repeatable).",
              callback=lambda ctx, param, values: _checked_headers(values))
@click.option("--subprotocol", "subprotocols", multiple=True, help="Offer this subprotocol (repeatable).")
@click.option("--ca", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Also trust this CA for wss:// (the local gateway's is trusted automatically).")
@click.option("--execute", "execute", multiple=True, metavar="MSG",
              help="Send MSG instead of reading stdin (repeatable), then wait --wait seconds and exit.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=1.0, show_default=True, metavar="SECONDS",
              help="After the last message (--execute, or the end of stdin): how long to print replies.")
@state_file_option
def connect(url: str | None, headers: tuple[str, ...], subprotocols: tuple[str, ...], ca: str | None,
            execute: tuple[str, ...], wait_s: float, state_file: Path | None) -> None:
    """Talk to a WebSocket API: stdin lines go out, replies print as HH:MM:SS.mmm < text.

    URL defaults to the running wsgw run-local's ws:// URL. Exits 1 when the handshake
    is refused or the server closes with a code other than 1000.

    \b
    Examples:
      wsgw connect
      wsgw connect --execute '{"action": "whoAmI"}'
      wsgw connect wss://abc123.execute-api.eu-west-1.amazonaws.com/prod --header 'Authorization: token'
    """
    try:
        options = interactive_client.client_options(url, headers=headers, subprotocols=subprotocols, ca=ca,
                                                    execute=execute, wait_s=wait_s,
                                                    state=local_state.live_state(state_file))
    except ValueError as exc:
        fail(str(exc))
    lines = None if execute else interactive_client.stdin_lines(sys.stdin)
    try:
        status = asyncio.run(interactive_client.run_client(
            options, out=click.echo, err=lambda line: click.echo(line, err=True), lines=lines))
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)
