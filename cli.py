"""``wsgw``: the command line. A thin click shell: the ``main`` group, whose commands
live in ``emulator/commands/`` (one module per group).

Run ``wsgw --help`` (or ``python cli.py --help`` from a checkout).
"""

from __future__ import annotations

import click

from emulator.commands import admin, cdk, connect, run_local

__all__ = ["main"]


@click.group()
@click.version_option(package_name="wsgw")
def main() -> None:
    """wsgw: develop, test and ship AWS API Gateway WebSocket apps in Python."""


for _command in (run_local.run_local, cdk.synth, cdk.deploy, cdk.destroy,
                 admin.connections, admin.post, admin.broadcast, admin.disconnect, connect.connect):
    main.add_command(_command)


if __name__ == "__main__":
    main()
