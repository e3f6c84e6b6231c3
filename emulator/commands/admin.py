"""The admin commands ``connections``, ``post``, ``broadcast`` and ``disconnect``
(emulator/tools/admin.py), and the target options they share.

``emulator.tools.admin`` is imported only when one of them runs: boto3 is slow to import,
and every other ``wsgw`` command starts without it.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any, Callable

import click

from emulator.commands.failure import fail
from emulator.core.ids import is_aws_id
from emulator.commands.state_file import state_file_option
from emulator.template import cdk_cli

if TYPE_CHECKING:
    from emulator.tools.admin import Admin

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
    state_file_option,
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
            fail(str(exc))
    for option in reversed(_TARGET_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


_ID_MARK = "\x00"


class _TakesConnectionIds(click.Command):
    """A command whose arguments may be connection ids, and about 1 in 64 of those
    starts with "-" (they are 15 characters of ``A-Za-z0-9_-`` and "="): a token of
    exactly that shape is an argument, never an unknown option, so an id copied from
    ``wsgw connections`` works as it is; any other token that starts with "-" and is
    no option stays a usage error (a typo such as --deplyed)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        marked = [_ID_MARK + arg if arg.startswith("-") and is_aws_id(arg) else arg for arg in args]
        return super().parse_args(ctx, marked)


def _unmarked(ctx: click.Context, param: click.Parameter, value: str) -> str:
    return value.removeprefix(_ID_MARK)


@click.command()
@click.option("--prune", is_flag=True, help="Delete the rows of gone connections.")
@_admin_command
def connections(admin: Admin, prune: bool) -> None:
    """List the open connections in the connections table, with GetConnection's times.

    One line per connection: id, connectedAt, lastActiveAt (UTC) and source IP. Rows of
    gone connections are listed as gone and kept, unless --prune deletes them.

    \b
    Examples:
      wsgw connections                    # the running wsgw run-local
      wsgw connections --deployed --prune
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


def _message_bytes(message: str) -> bytes:
    return (sys.stdin.read() if message == "-" else message).encode("utf-8")


@click.command(cls=_TakesConnectionIds)
@click.argument("connection_id", callback=_unmarked)
@click.argument("message", callback=_unmarked)
@_admin_command
def post(admin: Admin, connection_id: str, message: str) -> None:
    """Send MESSAGE (text; - reads stdin) to one connection (PostToConnection).

    A connection id that starts with "-" works as it is; a message that starts with
    "-" goes after "--", so that it is not read as an option.

    \b
    Examples:
      wsgw post L0SM9cOFvHcCIhw= 'Hi! :)'
      echo '{"type": "ping"}' | wsgw post L0SM9cOFvHcCIhw= -
      wsgw post -0SM9cOFvHcCIhw= hello
      wsgw post L0SM9cOFvHcCIhw= -- '-1 degrees'
    """
    data = _message_bytes(message)
    admin.post(connection_id, data)
    click.echo(f"wsgw: posted {len(data)} bytes to {connection_id}")


@click.command()
@click.argument("message")
@_admin_command
def broadcast(admin: Admin, message: str) -> None:
    """Send MESSAGE (- reads stdin) to every connection in the table, concurrently.

    Deletes the rows of gone connections; prints delivered/gone/failed counts and
    exits 1 when any post failed for another reason. A message that starts with "-"
    goes after "--".

    \b
    Examples:
      wsgw broadcast 'server restarting'
      wsgw broadcast --deployed -- '-1'
    """
    result = admin.broadcast(_message_bytes(message))
    for connection_id, reason in result.failures:
        click.echo(f"wsgw: failed {connection_id}: {reason}", err=True)
    click.echo(f"delivered {result.delivered}, gone {result.gone}, failed {len(result.failures)}")
    if result.failures:
        sys.exit(1)


@click.command(cls=_TakesConnectionIds)
@click.argument("connection_id", callback=_unmarked)
@_admin_command
def disconnect(admin: Admin, connection_id: str) -> None:
    """Close one connection (DeleteConnection; the gateway closes it and runs $disconnect).

    \b
    Examples:
      wsgw disconnect L0SM9cOFvHcCIhw=
      wsgw disconnect -0SM9cOFvHcCIhw=
    """
    admin.disconnect(connection_id)
    click.echo(f"wsgw: disconnected {connection_id}")
