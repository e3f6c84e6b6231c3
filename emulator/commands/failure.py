"""How every ``wsgw`` command reports an error it cannot go on from.

Two kinds, two exit codes: a usage error (an unknown option, a flag value of the wrong
form, flags that exclude each other) is click's: usage line, ``Error: ...``, exit 2
(:func:`usage_error`); anything else (a template that cannot be served, a file that
cannot be read, a gateway that cannot be reached) is ``wsgw: error: ...``, exit 1
(:func:`fail`)."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def usage_error(message: str) -> NoReturn:
    """Stop with click's usage error (exit 2): the command line itself is wrong."""
    raise click.UsageError(message)


def fail(message: str) -> NoReturn:
    """Print ``wsgw: error: message`` to stderr and exit 1: call it where a command must stop."""
    click.echo(f"wsgw: error: {message}", err=True)
    sys.exit(1)
