"""Installing a function's (or a layer's) ``requirements.txt``, once, into a cache.

What ``sam build`` and CDK's ``PythonFunction`` do before a deploy (reference
lambda-runtime.md §3): ``pip install -r requirements.txt -t <package root>``, with
the function's Python, so that the packages sit in the function's root
(``/var/task``) beside its code. wsgw does the same into a folder of its cache
instead of the code folder, and the worker puts that folder on ``sys.path`` right
after the code folder, where the packages would be on Lambda.

:class:`DependencyCache` keys each install by the requirements' content, the Python
version and the platform (:func:`cache_key`): a second start with the same
``requirements.txt`` finds the folder and installs nothing; an edited file gets a new
key, so a hot reload of the function installs again. An install goes into a
temporary folder that is renamed into place when pip has succeeded, so two wsgw
starting at once never see half an install (the loser of the rename drops its copy).
Within one process, requests for the same key wait for the first one's install.

Deliberate differences: only ``requirements.txt`` is read (not Pipfile.lock or
poetry.lock, which CDK's bundling also knows); files that ``requirements.txt``
includes (``-r other.txt``, ``-c``) or local paths it names are not part of the key,
so an edit of those alone is not picked up (touch ``requirements.txt``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .interpreters import Interpreter

__all__ = ["DependencyCache", "InstallFailed", "Requirements", "cache_key", "read_requirements"]

REQUIREMENTS_FILE = "requirements.txt"
_MAX_CONCURRENT_INSTALLS = 2
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class InstallFailed(Exception):
    """pip could not install a requirements file; the message is pip's reason, one line."""


@dataclass(frozen=True)
class Requirements:
    """The content of a ``requirements.txt`` (``file``: where it is; its folder is
    pip's working directory, for relative paths in it; ``None``: requirements of
    wsgw's own, such as the SDK for an old Python)."""

    file: Path | None
    text: bytes

    def names(self) -> list[str]:
        """The requirement names it lists, for progress lines (options and comments skipped)."""
        names: list[str] = []
        for line in self.text.decode("utf-8", "replace").splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                match = _NAME.match(line)
                names.append(match.group(0) if match else line)
        return names


def read_requirements(folder: Path) -> Requirements | None:
    """``folder/requirements.txt``, or ``None`` if it has none."""
    file = folder / REQUIREMENTS_FILE
    try:
        return Requirements(file, file.read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return None


def cache_key(requirements: bytes, interpreter: Interpreter) -> str:
    """The cache folder name of an install: content, Python version, platform."""
    digest = hashlib.sha256()
    for part in (interpreter.minor.encode(), interpreter.platform.encode(), requirements):
        digest.update(len(part).to_bytes(8, "big") + part)
    return f"py{interpreter.minor}-{digest.hexdigest()[:20]}"


class DependencyCache:
    """Installed requirements under ``root`` (``<root>/<key>/``). ``say`` hears the
    progress lines (what is installed for whom, how long it took)."""

    def __init__(self, root: Path, say: Callable[[str], None]) -> None:
        self.root = root
        self._say = say
        self._installs: dict[str, asyncio.Future[Path]] = {}
        self._slots: asyncio.Semaphore | None = None

    def folder(self, requirements: bytes, interpreter: Interpreter) -> Path:
        """Where ``requirements`` for ``interpreter`` are (or will be) installed."""
        return self.root / cache_key(requirements, interpreter)

    async def ensure(self, requirements: Requirements, interpreter: Interpreter, owner: str) -> Path:
        """The folder holding ``requirements`` installed for ``interpreter``, installing
        them first if no earlier start did (``owner`` names who needs them, for the
        progress lines). Raises :class:`InstallFailed`; a failure is remembered for
        this key until the process ends (a new ``requirements.txt`` is a new key)."""
        target = self.folder(requirements.text, interpreter)
        key = target.name
        if key not in self._installs:
            if target.is_dir():
                return target
            self._installs[key] = asyncio.ensure_future(self._install(requirements, interpreter, owner, target))
        return await asyncio.shield(self._installs[key])

    async def _install(self, requirements: Requirements, interpreter: Interpreter, owner: str, target: Path) -> Path:
        if self._slots is None:
            self._slots = asyncio.Semaphore(_MAX_CONCURRENT_INSTALLS)
        async with self._slots:
            if target.is_dir():  # another wsgw installed it while this one waited
                return target
            names = ", ".join(requirements.names()) or "nothing"
            self._say(f"wsgw: installing the dependencies of {owner} for {interpreter.describe()} "
                      f"({names}) into {target} ...")
            started = time.perf_counter()
            target.parent.mkdir(parents=True, exist_ok=True)
            building = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
            try:
                output = await _pip_install(requirements, interpreter, building)
                try:
                    os.rename(building, target)
                except OSError:  # another start finished the same install first
                    if not target.is_dir():
                        raise
            finally:
                shutil.rmtree(building, ignore_errors=True)
        installed = next((line for line in output.splitlines() if line.startswith("Successfully installed")), "")
        self._say(f"wsgw: {installed or 'installed'} for {owner} in {time.perf_counter() - started:.1f} s")
        return target


async def _pip_install(requirements: Requirements, interpreter: Interpreter, target: Path) -> str:
    """Run pip; return its output, or raise :class:`InstallFailed` with its reason.

    The function's own interpreter runs pip when it has one, so the packages are the
    ones for its version; else wsgw's pip installs wheels for that version
    (``--python-version``, binary wheels only, as pip requires for a foreign target).
    """
    common = [
        "install", "--target", str(target), "-r", "", "--disable-pip-version-check",
        "--no-input", "--no-warn-script-location", "--progress-bar", "off",
    ]
    if interpreter.has_pip:
        argv = [str(interpreter.executable), "-I", "-m", "pip", *common]
    else:
        argv = [sys.executable, "-I", "-m", "pip", *common, "--python-version", interpreter.minor,
                "--only-binary=:all:"]
    cwd = requirements.file.parent if requirements.file is not None else target.parent
    written: Path | None = None
    if requirements.file is None:  # wsgw's own requirements: a file beside the target
        written = target.parent / f"{target.name}.requirements.txt"
        written.write_bytes(requirements.text)
    argv[argv.index("-r") + 1] = str(requirements.file or written)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=str(cwd),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
    except OSError as exc:
        raise InstallFailed(f"cannot run pip: {exc}") from None
    finally:
        if written is not None:
            written.unlink(missing_ok=True)
    output = out.decode("utf-8", "replace")
    if process.returncode != 0:
        raise InstallFailed(_reason(output))
    return output


def _reason(output: str) -> str:
    """pip's reason for a failure, in one line: its ``ERROR:`` lines joined (they say
    which requirement and why), else its last line."""
    errors = [line[len("ERROR: "):].strip() for line in output.splitlines() if line.startswith("ERROR: ")]
    if errors:
        return "; ".join(dict.fromkeys(errors))
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "pip failed without a message"
