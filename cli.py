"""``wsgw``: the command line. A thin click shell: the ``main`` group, whose commands
live in ``emulator/commands/`` (one module per group).

A command's module is imported when that command runs (or when help or completion
needs it), not for every ``wsgw``: ``wsgw run-local`` does not import the modules of
``wsgw post`` and the others, and ``wsgw post`` does not import the gateway (0.15 s
of ``run-local``'s start-up, BENCHMARKS.md scenario f).

Run ``wsgw --help`` (or ``python cli.py --help`` from a checkout).
"""

from __future__ import annotations

import importlib

import click

__all__ = ["HELP_OPTIONS", "commands", "main"]


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

# Each command's name and where it is defined, in the order the docs list them.
_COMMANDS = {
    "run-local": "emulator.commands.run_local:run_local",
    "init": "emulator.commands.init:init",
    "synth": "emulator.commands.cdk:synth",
    "deploy": "emulator.commands.cdk:deploy",
    "destroy": "emulator.commands.cdk:destroy",
    "connections": "emulator.commands.admin:connections",
    "post": "emulator.commands.admin:post",
    "broadcast": "emulator.commands.admin:broadcast",
    "disconnect": "emulator.commands.admin:disconnect",
    "connect": "emulator.commands.connect:connect",
}


class _LazyGroup(click.Group):
    """A group that imports a command's module the first time the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)  # what click's own Group lists: the names, sorted

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        loaded = self.commands.get(cmd_name)
        if loaded is not None or cmd_name not in _COMMANDS:
            return loaded
        module, _, attribute = _COMMANDS[cmd_name].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        # The group's list shows each command's whole first line, not click's 45 characters.
        command.short_help = (command.help or "").strip().splitlines()[0]
        # Also on each command: click keeps a command's help option from the first context
        # it sees, and a context built for the command alone would not know -h.
        command.context_settings = {**HELP_OPTIONS, **command.context_settings}
        self.add_command(command, cmd_name)
        return command


@click.group(cls=_LazyGroup, context_settings=HELP_OPTIONS)
@click.version_option(package_name="wsgw")
def main() -> None:
    """wsgw: develop, test and ship AWS API Gateway WebSocket apps in Python.

    Every command takes -h/--help. Shell completion: see the command reference
    (eval "$(_WSGW_COMPLETE=bash_source wsgw)" for bash).
    """


def commands() -> dict[str, click.Command]:
    """Every command by name, in the docs' order (imports them all: for the docs and tests)."""
    context = click.Context(main, info_name="wsgw")
    found = {name: main.get_command(context, name) for name in _COMMANDS}
    return {name: command for name, command in found.items() if command is not None}


if __name__ == "__main__":
    main()
