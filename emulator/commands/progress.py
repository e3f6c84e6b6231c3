"""Progress of a long start-up step (a CDK synth, installing the CDK CLI) on run-local's
console: one line when it starts, the elapsed seconds while it runs, its duration at the
end.

Build a :class:`StepProgress` around the console and pass it where a
:data:`~emulator.template.cdk_toolkit.Progress` is taken. On a terminal the running line
is rewritten in place; in a log (not a terminal, or ``--log-format json``) a line goes
out every :data:`LOG_EVERY_S` seconds instead, so logs stay short.
"""

from __future__ import annotations

import sys
from typing import TextIO

from emulator.tools.console import Console

LOG_EVERY_S = 5


class StepProgress:
    """Reports ``(what, elapsed, done)`` calls as console lines (see the module docstring)."""

    def __init__(self, console: Console, stream: TextIO | None = None) -> None:
        self.console = console
        self.stream = stream or sys.stdout
        self._live = console.fmt == "text" and self.stream.isatty()
        self._logged_at: dict[str, int] = {}

    def __call__(self, what: str, elapsed: float, done: bool) -> None:
        if done:
            if self._live:
                self.stream.write("\r\033[K")
            self.console.message(f"wsgw: {what}: done in {elapsed:.1f} s")
            return
        if self._live:
            self.stream.write(f"\r\033[Kwsgw: {what}... {elapsed:.0f} s")
            self.stream.flush()
            return
        step = int(elapsed) // LOG_EVERY_S
        if self._logged_at.get(what, -1) < step:
            self._logged_at[what] = step
            self.console.message(f"wsgw: {what}..." if step == 0 else f"wsgw: {what}... {elapsed:.0f} s")
