"""How every ``wsgw`` command reports an error it cannot go on from."""

from __future__ import annotations

import sys
from typing import NoReturn

import click


def fail(message: str) -> NoReturn:
    """Print ``wsgw: error: message`` to stderr and exit 1: call it where a command must stop."""
    click.echo(f"wsgw: error: {message}", err=True)
    sys.exit(1)
