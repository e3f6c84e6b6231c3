"""Where wsgw keeps files of its own for the user running it (not in any project).

Call :func:`cache_dir` for things wsgw can rebuild at will: the CDK CLI it installs
once, synthesized copies of the bundled app, dependency installs. ``WSGW_CACHE_DIR``
moves it (tests point it at a temporary folder); else ``$XDG_CACHE_HOME/wsgw``, else
``~/.cache/wsgw``, as the XDG base-directory convention has it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

__all__ = ["CACHE_DIR_VARIABLE", "cache_dir"]

CACHE_DIR_VARIABLE = "WSGW_CACHE_DIR"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """wsgw's per-user cache folder (not created here)."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_DIR_VARIABLE):
        return Path(env[CACHE_DIR_VARIABLE]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "wsgw"
