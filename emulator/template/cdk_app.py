"""A user's own CDK app (a folder with ``cdk.json``), synthesized for run-local.

Call :func:`synth_app` with the app's folder before loading its template, every time:
it runs the app's own ``cdk.json`` ``app`` command through ``cdk synth --no-staging``
(any CDK language whose toolchain is installed: Python, TypeScript, ...), offline with no
AWS credentials, into wsgw's folder ``<app>/.wsgw/cdk.out`` (the user's own ``cdk.out``
is left alone), and returns that folder. When nothing it watches changed since the last
synth (:func:`fingerprint`) it returns at once. With ``--no-staging`` each function's
code is the user's source folder, so edits of handler code need no synth at all: the
function code folders of the last synth (:func:`code_folders`) count as code, not as
the app's definition (a deliberate difference from ``cdk watch``, which re-synthesizes
on every edit; hot reload restarts the functions instead).

:class:`WatchPatterns` is what ``cdk watch`` would watch: ``cdk.json``'s
``watch.include``/``watch.exclude`` (default: every file), always without hidden files
and folders, ``node_modules`` and the output folders. The fingerprint and hot reload
(reload.py) both use it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..core.errors import ConfigError
from .cdk_cli import FINGERPRINT_FILE, is_fresh, mark_fresh
from .cdk_toolkit import CdkError, Progress, cli_env, ensure_cli, run_cdk

__all__ = [
    "ASSEMBLY_FOLDER", "WatchPatterns", "assembly_dir", "code_folders", "definition_test", "fingerprint", "is_cdk_app",
    "synth_app",
]

ASSEMBLY_FOLDER = Path(".wsgw") / "cdk.out"
SYNTH_TIMEOUT_S = 600
# cdk watch always leaves these out, whatever cdk.json says (aws-cdk's watch command
# adds hidden files and folders and node_modules to the excludes, and the output folder).
# Also (a deliberate addition) cdk.context.json: the CLI itself writes it during a synth,
# which would otherwise start the next one.
ALWAYS_EXCLUDED = ("**/.*", "**/.*/**", "**/node_modules/**", "cdk.out/**", "**/__pycache__/**", "cdk.context.json")
_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'|Cannot find module '([^']+)'")


def is_cdk_app(folder: Path) -> bool:
    """Whether ``folder`` is a CDK app (has ``cdk.json``)."""
    return folder.is_dir() and (folder / "cdk.json").is_file()


def assembly_dir(app: Path) -> Path:
    """Where :func:`synth_app` writes the app's cloud assembly."""
    return app.resolve() / ASSEMBLY_FOLDER


@functools.lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A ``cdk watch`` glob (``**`` any folders, ``*`` and ``?`` within one name), matched
    against a path relative to the app folder, or against one of its parent folders."""
    out = []
    index = 0
    pattern = pattern.strip()
    if pattern.startswith("./"):
        pattern = pattern[2:]
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(out) + "(?:/.*)?")


def _patterns(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ConfigError(where, "must be a glob or a list of globs")


@dataclass(frozen=True)
class WatchPatterns:
    """The files of a CDK app that shape its template, as ``cdk watch`` sees them."""

    root: Path
    include: tuple[str, ...]
    exclude: tuple[str, ...]

    @classmethod
    def of(cls, app: Path) -> WatchPatterns:
        """Read ``app/cdk.json``; ConfigError names the field when it is malformed."""
        settings = read_cdk_json(app)
        watch = settings.get("watch") or {}
        where = f"{app / 'cdk.json'}: watch"
        if not isinstance(watch, dict):
            raise ConfigError(where, "must be an object with include/exclude")
        include = _patterns(watch.get("include", "**"), f"{where}.include")
        exclude = _patterns(watch.get("exclude", []), f"{where}.exclude")
        return cls(app.resolve(), tuple(include), (*exclude, *ALWAYS_EXCLUDED, f"{ASSEMBLY_FOLDER.parts[0]}/**"))

    def matches(self, path: Path) -> bool:
        """Whether an edit of ``path`` (absolute) is one ``cdk watch`` would act on;
        ``cdk.json`` itself always is (its context shapes the template)."""
        try:
            relative = path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return False
        if relative == "cdk.json":
            return True
        return (any(_glob_regex(p).fullmatch(relative) for p in self.include)
                and not any(_glob_regex(p).fullmatch(relative) for p in self.exclude))

    def files(self) -> Iterator[Path]:
        """The files under the app folder that :meth:`matches`, skipping virtualenvs."""
        for folder, dirs, names in os.walk(self.root):
            here = Path(folder)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("node_modules", "cdk.out", "__pycache__")
                             and not (here / d / "pyvenv.cfg").is_file())
            for name in sorted(names):
                if self.matches(here / name):
                    yield here / name


def read_cdk_json(app: Path) -> dict[str, Any]:
    """``app/cdk.json`` parsed; it must name the ``app`` command."""
    path = app / "cdk.json"
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), exc.strerror or str(exc)) from None
    except ValueError as exc:
        raise ConfigError(str(path), f"not valid JSON: {exc}") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("app"), str) or not settings["app"].strip():
        raise ConfigError(f"{path}: app", "is required: the command that runs the CDK app (e.g. \"python3 app.py\")")
    return settings


def code_folders(app: Path) -> frozenset[Path]:
    """The function code folders of the app's last synth (``aws:asset:path`` of its
    templates, source folders thanks to ``--no-staging``), but for any holding the app
    itself (``Code.fromAsset(".")``): there an edit may be the stack's."""
    root = app.resolve()
    folders: set[Path] = set()
    for template_path in assembly_dir(root).glob("**/*.template.json"):
        try:
            template = json.loads(template_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        resources = template.get("Resources") if isinstance(template, dict) else None
        for resource in (resources or {}).values():
            asset = (resource.get("Metadata") or {}).get("aws:asset:path") if isinstance(resource, dict) else None
            if isinstance(asset, str):
                folder = (template_path.parent / asset).resolve()
                if folder.is_dir() and not root.is_relative_to(folder):
                    folders.add(folder)
    return frozenset(folders)


def definition_test(app: Path) -> Callable[[Path], bool]:
    """Whether an edit of a path calls for a new synth of the CDK app in ``app``: what
    :class:`WatchPatterns` matches outside the :func:`code_folders`. Build it once per
    batch of edits (it reads ``cdk.json`` and the last assembly), then ask per path."""
    patterns, code = WatchPatterns.of(app), code_folders(app)
    return lambda path: patterns.matches(path) and not any(path.resolve().is_relative_to(folder) for folder in code)


def fingerprint(app: Path, cli: Path) -> str:
    """A hash of what shapes the app's assembly: ``cdk.json``, the watched files (paths,
    mtimes, sizes) outside the function code folders, and the CLI used."""
    digest = hashlib.sha256()
    digest.update(repr(("cli", str(cli.resolve()), "cdk.json", (app / "cdk.json").read_bytes())).encode())
    code = code_folders(app)
    for path in WatchPatterns.of(app).files():
        if any(path.is_relative_to(folder) for folder in code):
            continue
        stat = path.stat()
        digest.update(repr((path.relative_to(app).as_posix(), stat.st_mtime_ns, stat.st_size)).encode())
    return digest.hexdigest()


def _explain(error: CdkError) -> CdkError:
    """Add what to do when the app could not import its CDK library (the usual first-run
    problem: the app's own virtualenv is not the active one)."""
    match = _MISSING_MODULE.search(str(error))
    if match and (match.group(1) or match.group(2) or "").startswith(("aws_cdk", "constructs", "aws-cdk")):
        return CdkError(f"{error} (install the CDK app's requirements and run wsgw from its virtualenv, "
                        "or use the `app` command of cdk.json by hand to check)")
    return error


def synth_app(app: Path, progress: Progress | None = None) -> Path:
    """Synthesize the CDK app in ``app`` into :func:`assembly_dir` (a no-op when nothing
    changed); returns that folder. CdkError/ConfigError name what went wrong in one line."""
    root = app.resolve()
    read_cdk_json(root)
    out = assembly_dir(root)
    cli = ensure_cli(root, progress)
    stamp = fingerprint(root, cli)
    if is_fresh(out, stamp):
        return out
    out.mkdir(parents=True, exist_ok=True)
    (out.parent / ".gitignore").write_text("*\n", encoding="utf-8")  # wsgw's folder: never committed
    (out / FINGERPRINT_FILE).unlink(missing_ok=True)  # a failed synth must not look fresh
    command = [str(cli), "synth", "--output", str(out), "--no-staging", "--no-notices", "--quiet"]
    try:
        run_cdk(command, cwd=root, env=cli_env(hide_credentials=True), what=f"synthesizing the CDK app in {root}",
                failure="cdk synth failed", timeout_s=SYNTH_TIMEOUT_S, progress=progress)
    except CdkError as exc:
        raise _explain(exc) from None
    # Again: the new assembly may name other code folders, which the fingerprint skips.
    mark_fresh(out, fingerprint(root, cli))
    return out
