"""``wsgw``: the command line. A thin click shell: the ``main`` group, whose commands
live in ``emulator/commands/`` (one module per group).

Run ``wsgw --help`` (or ``python cli.py --help`` from a checkout).
"""

from __future__ import annotations

import click

from emulator.commands import admin, cdk, connect, init, run_local

__all__ = ["HELP_OPTIONS", "main"]


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=HELP_OPTIONS)
@click.version_option(package_name="wsgw")
def main() -> None:
    """wsgw: develop, test and ship AWS API Gateway WebSocket apps in Python.

    Every command takes -h/--help. Shell completion: see the command reference
    (eval "$(_WSGW_COMPLETE=bash_source wsgw)" for bash).
    """


for _command in (run_local.run_local, init.init, cdk.synth, cdk.deploy, cdk.destroy,
                 admin.connections, admin.post, admin.broadcast, admin.disconnect, connect.connect):
    # The group's list shows each command's whole first line, not click's 45 characters.
    _command.short_help = (_command.help or "").strip().splitlines()[0]
    # Also on each command: click keeps a command's help option from the first context
    # it sees, and a context built for the command alone would not know -h.
    _command.context_settings = {**HELP_OPTIONS, **_command.context_settings}
    main.add_command(_command)


if __name__ == "__main__":
    main()
