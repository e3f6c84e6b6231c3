"""Hot reload for run-local: file edits take effect without dropping connections.

:class:`Reloader` watches (``watchfiles.awatch``, debounced) each function's code
folder and the app's definition (:class:`ReloadSource`: ``deploy/`` of the bundled
CDK app, the template or app file, or the ``cdk.out`` folder) and tells its target,
the running :class:`~emulator.app.LocalGateway`, what to do:

- a code edit: the functions whose handler module loads an edited ``.py`` file
  (static imports, followed inside the code folder; any other kind of file, or a
  deleted one, counts for every function of that folder) get one new worker each
  (:meth:`ReloadTarget.restart_functions`), once the edited files compile (else
  ``file:line: message`` is reported and nothing changes). Their idle workers stop,
  busy ones finish on the old code and then stop.
- a definition edit: the model is loaded again (re-synthesized for the bundled app,
  in a thread) and applied (:meth:`ReloadTarget.apply_model`): routes, functions,
  environment and new tables; connections stay open.

A failed reload (a syntax error, a handler whose new worker cannot init, a synth or
template error) changes nothing: the last good version keeps serving, and one
``wsgw: reload failed: ...`` line goes to the ``log`` callback. ``LocalGateway``
starts a Reloader when ``GatewayOptions.reload`` is on and stops it first on stop.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

from .core.errors import WsgwError
from .runtime.invoker import InitFailed
from .core.model import ApiModel

ReloadLog = Callable[[str], None]
"""Receives one complete line per reload (``wsgw: reloaded ...`` / ``wsgw: reload failed: ...``)."""

# Folders below a watched root that never hold an edit of the app, besides those of
# watchfiles' DefaultFilter (caches, VCS, virtualenvs, node_modules): synth output and
# wsgw's own state folder (the local state file, --state-dir kept in the app folder).
EXTRA_IGNORED_DIRS = ("cdk.out", ".wsgw", ".ruff_cache")
DEBOUNCE_MS = 500  # the longest a burst of changes is grouped for
STEP_MS = 50  # changes are handed on once none came for this long


@dataclass(frozen=True)
class ReloadSource:
    """What the model is loaded from again after a definition edit: ``source`` as
    given to :func:`~emulator.template.loader.load_model` (``None``: the bundled CDK app,
    re-synthesized), with the same ``api``, ``stack``, ``parameters`` and ``stack_name``."""

    source: Path | None = None
    api: str | None = None
    stack: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    stack_name: str | None = None  # AWS::StackName (--stack-name)

    def load(self) -> ApiModel:
        """Load the model (blocking: synth may take seconds; run it in a thread)."""
        from .template.loader import load_model  # deferred: template loaders are heavy

        return load_model(self.source, api=self.api, stack=self.stack, parameters=self.parameters,
                          stack_name=self.stack_name)

    @property
    def deploy_dir(self) -> Path:
        """The bundled CDK app's folder."""
        from .template.bundled_app import app_root

        return app_root() / "deploy"

    @property
    def is_cdk_app(self) -> bool:
        """Whether the source is a CDK app's folder (``cdk.json``), re-synthesized on edits."""
        from .template.cdk_app import is_cdk_app

        return self.source is not None and is_cdk_app(self.source)

    def watched(self) -> list[Path]:
        """The folders to watch for definition edits."""
        if self.source is None:
            return [self.deploy_dir]
        source = self.source.resolve()
        return [source] if source.is_dir() else [source.parent]

    def defines(self, path: Path) -> bool:
        """Whether an edit of ``path`` changes the app's definition (one path; for a
        batch of edits build :meth:`definition_test` once)."""
        return self.definition_test()(path)

    def definition_test(self) -> Callable[[Path], bool]:
        """Whether an edit of a path changes the app's definition: the bundled stack's
        ``deploy/*.py`` and ``cdk.json``; in a CDK app's folder, what ``cdk watch``
        would act on outside the functions' code (cdk_app.definition_test); the
        template file; anything in the ``cdk.out`` folder."""
        if self.source is None:
            deploy = self.deploy_dir
            return lambda path: path.parent == deploy and (path.suffix == ".py" or path.name == "cdk.json")
        if self.is_cdk_app:
            from .template.cdk_app import definition_test

            try:
                return definition_test(self.source)
            except WsgwError:
                return lambda path: path.name == "cdk.json"  # a broken cdk.json: its next edit reloads
        source = self.source.resolve()
        if source.is_dir():
            return lambda path: path.is_relative_to(source)
        return lambda path: path == source


class ReloadTarget(Protocol):
    """What the reloader drives: :class:`~emulator.app.LocalGateway`."""

    @property
    def model(self) -> ApiModel: ...

    async def apply_model(self, model: ApiModel) -> dict[str, list[str]]: ...

    async def restart_functions(self, names: Iterable[str]) -> dict[str, list[str]]: ...


def syntax_problem(files: Iterable[Path]) -> str | None:
    """``file:line: message`` for the first of ``files`` that does not compile, else None."""
    for path in sorted(files):
        try:
            source = path.read_bytes()
        except OSError:
            continue  # deleted or unreadable again: the import will tell
        try:
            compile(source, str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            return f"{exc.filename or path}:{exc.lineno or 0}: {exc.msg}"
        except ValueError as exc:  # e.g. null bytes
            return f"{path}:0: {exc}"
    return None


def module_files(code_dir: Path, module: str) -> set[Path] | None:
    """The files in ``code_dir`` that importing ``module`` (dotted) loads, following
    its static imports (``import``/``from ... import``, relative ones too, also inside
    functions); None if one of them does not parse (then assume every file)."""
    seen: set[Path] = set()
    pending = list(_files_of(code_dir, module.split(".")))
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError, ValueError):
            return None
        package = path.relative_to(code_dir).parent.parts
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    pending.extend(_files_of(code_dir, alias.name.split(".")))
            elif isinstance(node, ast.ImportFrom) and node.level <= len(package) + 1:
                base = list(package[: len(package) - node.level + 1]) if node.level else []
                parent = base + (node.module.split(".") if node.module else [])
                pending.extend(_files_of(code_dir, parent))
                for alias in node.names:
                    pending.extend(_files_of(code_dir, [*parent, alias.name]))
    return seen


def _files_of(code_dir: Path, parts: list[str]) -> Iterator[Path]:
    """The files of a dotted module name and of its packages, where they exist."""
    for end in range(1, len(parts) + 1):
        folder = code_dir.joinpath(*parts[: end - 1])
        for candidate in (folder / f"{parts[end - 1]}.py", folder / parts[end - 1] / "__init__.py"):
            if candidate.is_file():
                yield candidate


def _affects(code_dir: Path, module: str, touched: list[Path]) -> bool:
    if any(path.suffix != ".py" or not path.is_file() for path in touched):
        return True  # data, a deleted module, ...: be safe
    loaded = module_files(code_dir, module)
    return loaded is None or any(path in loaded for path in touched)


def _forget_bytecode(files: Iterable[Path]) -> None:
    """Remove the cached bytecode of edited files, every interpreter's (workers run on
    their function's Python version: ``name.cpython-312.pyc`` beside ``-311``): its
    header only records the source's mtime in seconds and its size, so an edit within
    the same second that keeps the size would otherwise import the old code."""
    for path in files:
        for compiled in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            with contextlib.suppress(OSError):
                compiled.unlink()


def change_filter(roots: list[Path]) -> Callable[[Any, str], bool]:
    """The watchfiles filter for ``roots``: watchfiles' DefaultFilter (compiled files,
    VCS and cache folders, editors' temporary and safe-write files: ``.swp``, ``~``,
    ``.#…``, JetBrains ``___jb_tmp___``, ``.DS_Store``, ``flycheck_…``) plus
    :data:`EXTRA_IGNORED_DIRS`, applied to the part of a path below its watched root
    (a root may itself be a ``cdk.out``)."""
    from watchfiles import DefaultFilter  # deferred: only run-local with reload needs it

    default = DefaultFilter(
        ignore_dirs=(*DefaultFilter.ignore_dirs, *EXTRA_IGNORED_DIRS),
        # JetBrains' safe-write files are ``name___jb_tmp___``/``name___jb_old___``;
        # DefaultFilter's pattern wants a dot before the underscores.
        ignore_entity_patterns=(*DefaultFilter.ignore_entity_patterns, r"___jb_...___$"),
    )

    def keep(change: Any, raw: str) -> bool:
        path = Path(raw)
        for root in roots:
            if path.is_relative_to(root):
                return bool(default(change, str(path.relative_to(root))))
        return bool(default(change, raw))

    return keep


def load_watcher() -> None:
    """Import what :class:`Reloader` watches with (watchfiles, anyio: ~80 ms), e.g. in a
    thread while the gateway waits for its workers, so that :meth:`Reloader.start`
    does not pay for it on the way to Ready."""
    import watchfiles  # noqa: F401

    # awatch's first step loads anyio's asyncio backend (~40 ms) on the loop's thread;
    # load it here. Its module name is anyio's own business: if it moves, awatch loads
    # whatever it is then, as before.
    with contextlib.suppress(ImportError):
        importlib.import_module("anyio._backends._asyncio")


class Reloader:
    """Watches files and reloads ``target``; :meth:`start` once it serves, :meth:`stop`
    before it stops. ``source`` None: code folders only (no definition edits)."""

    def __init__(
        self, target: ReloadTarget, source: ReloadSource | None, log: ReloadLog, *,
        debounce_ms: int = DEBOUNCE_MS, step_ms: int = STEP_MS,
    ) -> None:  # fmt: skip
        self.target = target
        self.source = source
        self.log = log
        self._debounce_ms, self._step_ms = debounce_ms, step_ms
        self._closing = False
        self._cycle = asyncio.Event()  # set: the current awatch ends (stop or new roots)
        self._task: asyncio.Task[None] | None = None

    def roots(self) -> list[Path]:
        """Existing folders to watch, none inside another."""
        candidates = {spec.code_dir.resolve() for spec in self.target.model.functions.values()}
        if self.source is not None:
            candidates.update(self.source.watched())
        existing = sorted(path for path in candidates if path.is_dir())
        return [path for path in existing if not any(path != other and path.is_relative_to(other) for other in existing)]

    async def start(self) -> None:
        """Start watching; returns once the watches are in place."""
        self._task = asyncio.create_task(self._run())
        for _ in range(3):  # the watcher is set up before awatch's first await
            await asyncio.sleep(0)

    async def stop(self) -> None:
        """Stop watching and abandon a reload in progress (its new workers stop)."""
        self._closing = True
        self._cycle.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        from watchfiles import awatch  # deferred: only run-local with reload needs it (load_watcher)

        while not self._closing:
            roots = self.roots()
            self._cycle = asyncio.Event()
            watcher = awatch(
                *roots, watch_filter=change_filter(roots), stop_event=self._cycle,
                debounce=self._debounce_ms, step=self._step_ms,
            )  # fmt: skip
            async with contextlib.aclosing(watcher):
                async for changes in watcher:
                    try:
                        await self.handle(Path(raw) for _, raw in changes)
                    except Exception as exc:  # keep watching whatever went wrong
                        self.log(f"wsgw: reload failed: {type(exc).__name__}: {exc}; "
                                 "still serving the previous version")
                    if self.roots() != roots:
                        self._cycle.set()  # watch the new set of folders

    async def handle(self, changed: Iterable[Path]) -> None:
        """React to edits of ``changed`` (absolute paths): reload the definition if
        one of them defines the app, then restart functions whose code changed."""
        started = time.perf_counter()
        paths = set(changed)
        defines = self.source.definition_test() if self.source is not None else None
        definition = {path for path in paths if defines is not None and defines(path)}
        _forget_bytecode(path for path in paths if path.suffix == ".py")
        done: set[str] = set()
        if definition:
            summary = await self._reload_model(started)
            done = {name for names in (summary or {}).values() for name in names}
        # A .py file may define the app and be handler code at once (a CDK app whose
        # functions' code folder holds its stack): the import check below decides.
        code = {path for path in paths if path not in definition or path.suffix == ".py"}
        names: list[str] = []
        files: set[Path] = set()
        for name, spec in self.target.model.functions.items():
            code_dir = spec.code_dir.resolve()
            touched = [path for path in code if path.is_relative_to(code_dir)]
            if touched and name not in done and _affects(code_dir, spec.module, touched):
                names.append(name)
                files.update(path for path in touched if path.suffix == ".py")
        if not names:
            return
        problem = syntax_problem(files)
        if problem is not None:
            self.log(f"wsgw: reload failed: {problem}; still serving the previous code of {', '.join(names)}")
            return
        try:
            await self.target.restart_functions(names)
        except InitFailed as exc:
            self.log(f"wsgw: reload failed: {exc}; still serving the previous version")
            return
        self.log(f"wsgw: reloaded {', '.join(names)} (code) in {(time.perf_counter() - started) * 1000:.0f} ms")

    async def _reload_model(self, started: float) -> dict[str, list[str]] | None:
        assert self.source is not None
        if self.source.source is None:
            self.log("wsgw: deploy/ changed: re-synthesizing the bundled CDK app...")
        elif self.source.is_cdk_app:
            self.log("wsgw: the CDK app changed: re-synthesizing it...")
        try:
            model = await asyncio.to_thread(self.source.load)
            summary = await self.target.apply_model(model)
        except (WsgwError, InitFailed) as exc:
            self.log(f"wsgw: reload failed: {exc}; still serving the previous version")
            return None
        what = "; ".join(f"{kind} {', '.join(names)}" for kind, names in summary.items() if names)
        elapsed = (time.perf_counter() - started) * 1000
        self.log(f"wsgw: reloaded the app definition in {elapsed:.0f} ms ({what or 'no function changed'})")
        return summary
