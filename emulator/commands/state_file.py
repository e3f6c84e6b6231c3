"""The ``--state-file`` option of the commands that find a running ``wsgw run-local``
through its local state file (emulator/tools/local_state.py): the admin commands and connect."""

from __future__ import annotations

from pathlib import Path

import click

from emulator.tools import local_state

state_file_option = click.option(
    "--state-file", type=click.Path(path_type=Path, dir_okay=False), default=None, envvar=local_state.STATE_FILE_ENV,
    help="run-local's state file (default: .wsgw/run-local.json here; env WSGW_STATE_FILE).")
