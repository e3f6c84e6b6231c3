"""Which Python runs a function: an interpreter of its ``Runtime``'s version.

Lambda runs a ``python3.12`` function on Python 3.12 (reference lambda-runtime.md
§1.2). Locally, :class:`InterpreterFinder` looks for an interpreter of that minor
version, in this order: the user's choice (run-local ``--python 3.12=/path``), wsgw's
own interpreter when its version matches, ``python3.12`` on ``PATH`` (not a pyenv
shim), pyenv's
versions (``$PYENV_ROOT/versions/3.12.*``), uv-managed Pythons
(``$UV_PYTHON_INSTALL_DIR`` or ``~/.local/share/uv/python/cpython-3.12.*``). Each
candidate is run once (:func:`probe`, about 20 ms) to learn its exact version, the
real executable behind a shim (pyenv's ``python3.12`` is a shell script that would
cost every worker start), and whether it has pip. :meth:`InterpreterFinder.find`
returns ``None`` when the machine has no such Python; the caller then runs the
function on :meth:`InterpreterFinder.current` and says so.

With a cache file (run-local's and the plugin's: ``interpreters.json`` in wsgw's cache
folder), what a probe found is kept, and a later start takes it instead of running the
candidate again (a spawn and ~20–50 ms of CPU on the way to the first worker) as long
as the candidate is that very executable (not a shim: its file is the one that runs)
and neither its file nor its ``site-packages`` folder (where pip is or is not) changed
since: :class:`ProbeCache`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..core.errors import ConfigError

__all__ = ["Interpreter", "InterpreterFinder", "ProbeCache", "probe", "runtime_version"]

_RUNTIME = re.compile(r"python(3\.\d+)")
_PROBE = (
    "import importlib.util, json, os, sys, sysconfig; print(json.dumps({'executable': sys.executable, "
    "'version': list(sys.version_info[:3]), 'tag': sys.implementation.cache_tag, "
    "'platform': sys.platform, 'machine': os.uname().machine, "
    "'pip': importlib.util.find_spec('pip') is not None, 'purelib': sysconfig.get_paths()['purelib']}))"
)
_CACHE_FORMAT = 1
_PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Interpreter:
    """One Python installation that can run workers."""

    executable: Path  # the real binary, not a shim
    version: tuple[int, int, int]
    platform: str  # implementation, version and platform: part of the dependency cache key
    has_pip: bool

    @property
    def minor(self) -> str:
        """``3.12``: what a ``python3.12`` runtime asks for."""
        return f"{self.version[0]}.{self.version[1]}"

    def describe(self) -> str:
        return "Python " + ".".join(map(str, self.version))


def runtime_version(runtime: str) -> str | None:
    """``3.12`` for the runtime ``python3.12``; ``None`` for another runtime."""
    match = _RUNTIME.fullmatch(runtime)
    return match.group(1) if match else None


def current() -> Interpreter:
    """The interpreter wsgw itself runs on."""
    machine = os.uname().machine if hasattr(os, "uname") else "unknown"
    v = sys.version_info
    return Interpreter(
        executable=Path(sys.executable), version=(v[0], v[1], v[2]),
        platform=f"{sys.implementation.cache_tag}-{sys.platform}-{machine}",
        has_pip=importlib.util.find_spec("pip") is not None,
    )


async def probe(executable: Path | str, cache: ProbeCache | None = None) -> Interpreter | None:
    """Run ``executable`` once to learn what it is; ``None`` if it does not run (a
    pyenv shim of a version not selected exits with an error, say). With ``cache``,
    what an earlier probe found is taken when it still holds, and what this one
    finds is kept."""
    if cache is not None and (known := cache.get(executable)) is not None:
        return known
    try:
        process = await asyncio.create_subprocess_exec(
            str(executable), "-I", "-c", _PROBE,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT_S):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    if process.returncode != 0:
        return None
    try:
        found = json.loads(out)
        interpreter = _interpreter(found)
    except (ValueError, KeyError, TypeError):
        return None
    if cache is not None:
        cache.put(executable, found)
    return interpreter


def _interpreter(found: Mapping[str, Any]) -> Interpreter:
    """The :class:`Interpreter` a probe's answer describes (KeyError, ValueError or
    TypeError if it is not one)."""
    major, minor, micro = (int(part) for part in found["version"])
    return Interpreter(
        executable=Path(found["executable"]), version=(major, minor, micro),
        platform=f"{found['tag']}-{found['platform']}-{found['machine']}", has_pip=bool(found["pip"]),
    )


class ProbeCache:
    """What probes found, in a JSON file, for the candidates they ran (see the module
    docstring). Read when first asked; written after each new probe (atomically: a
    crash or another wsgw leaves the old file or the new one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, Any] | None = None

    def get(self, executable: Path | str) -> Interpreter | None:
        """What a probe of ``executable`` found, if it still holds."""
        entry = self._load().get(str(executable))
        try:
            if entry is None or entry["identity"] != _identity(executable, entry["found"]["purelib"]):
                return None
            return _interpreter(entry["found"])
        except (KeyError, ValueError, TypeError):
            return None

    def put(self, executable: Path | str, found: Mapping[str, Any]) -> None:
        """Keep ``found`` (a probe's answer) for ``executable``, unless ``executable``
        is not the program that ran (a shim or a wrapper script: what it runs can
        change without it changing)."""
        try:
            if os.path.realpath(executable) != os.path.realpath(str(found["executable"])):
                return
            identity = _identity(executable, str(found["purelib"]))
        except (KeyError, TypeError):
            return
        if identity is None:
            return
        entries = self._load()
        entries[str(executable)] = {"identity": identity, "found": dict(found)}
        with contextlib.suppress(OSError):  # a read-only cache folder: probe next time
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump({"format": _CACHE_FORMAT, "entries": entries}, out, indent=1)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            self._entries = {}
            with contextlib.suppress(OSError, ValueError):
                document = json.loads(self.path.read_bytes())
                if isinstance(document, dict) and document.get("format") == _CACHE_FORMAT:
                    entries = document.get("entries")
                    self._entries = entries if isinstance(entries, dict) else {}
        return self._entries


def _identity(executable: Path | str, purelib: str) -> list[int] | None:
    """What changes when the executable is replaced or its ``site-packages`` gains or
    loses a package (pip): device, inode, size and mtime of the one, mtime of the
    other. None if either cannot be read."""
    try:
        binary, packages = os.stat(executable), os.stat(purelib)
    except OSError:
        return None
    return [binary.st_dev, binary.st_ino, binary.st_size, binary.st_mtime_ns, packages.st_mtime_ns]


def candidates(minor: str, environ: Mapping[str, str]) -> list[Path]:
    """Places a Python ``minor`` (``3.12``) may be, best first (without the override)."""
    found: list[Path] = []
    on_path = shutil.which(f"python{minor}", path=environ.get("PATH"))
    # A pyenv or asdf shim is a shell script that picks a version per folder (and costs
    # ~150 ms a run); the versions behind it are found directly below.
    if on_path and "shims" not in Path(on_path).parts:
        found.append(Path(on_path))
    pyenv = Path(environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found += _newest_first(pyenv, rf"{re.escape(minor)}\.(\d+)", minor)
    data = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    uv = Path(environ.get("UV_PYTHON_INSTALL_DIR") or Path(data) / "uv" / "python")
    found += _newest_first(uv, rf"cpython-{re.escape(minor)}\.(\d+)-.*", minor)
    return found


def _newest_first(folder: Path, pattern: str, minor: str) -> list[Path]:
    """``<folder>/<name>/bin/python<minor>`` for the names matching ``pattern``
    (its group: the patch number), highest patch first."""
    try:
        names = [entry.name for entry in folder.iterdir()]
    except OSError:
        return []
    matched = [(int(m.group(1)), name) for name in names if (m := re.fullmatch(pattern, name))]
    binaries = [folder / name / "bin" / f"python{minor}" for _, name in sorted(matched, reverse=True)]
    return [binary for binary in binaries if binary.is_file()]


class InterpreterFinder:
    """Finds (and remembers) an interpreter per minor version. ``overrides`` maps a
    minor version (``3.12``) to the interpreter the user chose for it."""

    def __init__(self, overrides: Mapping[str, Path] | None = None, environ: Mapping[str, str] | None = None,
                 cache: ProbeCache | None = None) -> None:
        self._overrides = dict(overrides or {})
        self._environ = os.environ if environ is None else environ
        self._cache = cache
        self._current = current()
        self._found: dict[str, asyncio.Future[Interpreter | None]] = {}

    def current(self) -> Interpreter:
        return self._current

    async def find(self, minor: str) -> Interpreter | None:
        """An interpreter of ``minor`` (``3.12``), or ``None`` if there is none.
        Raises :class:`ConfigError` if the one chosen with ``--python`` is not usable."""
        if minor not in self._found:
            self._found[minor] = asyncio.ensure_future(self._search(minor))
        return await asyncio.shield(self._found[minor])

    async def _search(self, minor: str) -> Interpreter | None:
        chosen = self._overrides.get(minor)
        if chosen is not None:
            interpreter = await probe(chosen, self._cache)
            if interpreter is None or interpreter.minor != minor:
                what = "does not run" if interpreter is None else f"is {interpreter.describe()}"
                raise ConfigError(f"--python {minor}={chosen}", f"{what}, not Python {minor}")
            return interpreter
        if self._current.minor == minor:
            return self._current
        for candidate in candidates(minor, self._environ):
            interpreter = await probe(candidate, self._cache)
            if interpreter is not None and interpreter.minor == minor:
                return interpreter
        return None
