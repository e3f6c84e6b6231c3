"""What a function's worker runs on and can import: the Python of its ``Runtime``, and
an import path made of what Lambda would give it.

On Lambda a handler imports from, in this order (reference lambda-runtime.md §1.1,
§2): its package root ``/var/task`` (the code and, after ``sam build`` or CDK
bundling, the packages of its ``requirements.txt``), its layers
(``/opt/python/lib/python3.X/site-packages``, ``/opt/python``), the runtime's own
packages (boto3 and its dependencies), then the standard library. Nothing else: a
package that is only installed on the developer's machine is an
``ImportModuleError`` there.

:class:`Provisioner` turns a :class:`FunctionSpec` into a :class:`LaunchPlan` for
its workers: which interpreter (interpreters.py), its flags, and the variables that
tell ``worker.py`` its import path. Two modes (:class:`RuntimeOptions`):

* ``declared`` (the default): the worker runs ``python -I -S``, so it starts with
  the standard library only and wsgw's virtualenv is invisible, and then puts the
  code folder, its installed ``requirements.txt`` (dependencies.py), its layers and
  the runtime SDK (runtime_sdk.py) on ``sys.path``, in Lambda's order. An import of
  something not declared fails as on Lambda; the worker adds a hint line when the
  module exists beside wsgw (``WSGW_HOST_PATH``).
* ``inherit`` (``--deps inherit``): for projects that install their handlers'
  packages into wsgw's virtualenv: wsgw's own interpreter (whatever the
  ``Runtime``) with its site-packages, after the code folder, the installed
  ``requirements.txt`` and the layers.

A function with a ``nodejs*`` runtime runs on the local ``node`` instead, with the
AWS SDK for JavaScript v3 that Lambda's Node.js runtimes include (node_runtime.py);
its own ``node_modules`` (``npm install`` in its folder, or a bundled asset) and its
layers' ``nodejs/node_modules`` come first, as on Lambda.

Call :meth:`Provisioner.prepare` once at start with every function (it says, one line
each, which Python versions are missing and which layers cannot be fetched, and
installs what is missing), then :meth:`Provisioner.plan` before each worker launch:
it reads ``requirements.txt`` again (a hot reload after an edit installs the new
one) and returns at once when nothing changed. A function whose dependencies cannot
be installed gets a plan whose worker fails its init with that reason, so its routes
answer like those of a function whose init failed; the other functions serve.
"""

from __future__ import annotations

import asyncio
import os
import site
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Awaitable, Callable, Iterable, Literal, Mapping

from ..core.model import FunctionSpec, LayerSpec
from ..core.user_dirs import cache_dir
from .dependencies import DependencyCache, InstallFailed, Requirements, read_requirements
from ..npm import ToolError
from .interpreters import Interpreter, InterpreterFinder, ProbeCache, runtime_version
from .node_runtime import NodeBinary, check_versions, find_node, is_node, node_plan_env, sdk_folder
from .runtime_sdk import SDK_REQUIREMENTS, minimum_python, runtime_sdk_dir
from .worker_process import NODE_WORKER, PYTHON_WORKER

__all__ = ["DepsMode", "LaunchPlan", "Provision", "Provisioner", "RuntimeOptions"]

DepsMode = Literal["declared", "inherit"]

# The variables worker.py reads (it is stdlib-only and cannot import these names).
SYS_PATH_ENV = "WSGW_SYS_PATH"  # folders after the code folder, os.pathsep-separated
HOST_PATH_ENV = "WSGW_HOST_PATH"  # wsgw's own site-packages, for the hint line only
INIT_ERROR_ENV = "WSGW_INIT_ERROR"  # a reason the init must fail (an install failed)


@dataclass(frozen=True)
class RuntimeOptions:
    """How functions run: ``deps`` mode, interpreters chosen per minor version
    (``{"3.12": Path("/usr/bin/python3.12")}``) and the cache folder (``None``:
    ``$WSGW_CACHE_DIR``, else ``$XDG_CACHE_HOME/wsgw``, else ``~/.cache/wsgw``)."""

    deps: DepsMode = "declared"
    pythons: Mapping[str, Path] = field(default_factory=lambda: MappingProxyType({}))
    cache_dir: Path | None = None


@dataclass(frozen=True)
class LaunchPlan:
    """How to start one worker of a function: ``argv`` before the worker script (the
    interpreter and its flags), variables added to its environment, and the script
    (``worker.py``, or ``node/worker.mjs`` for a Node.js function)."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    script: str = PYTHON_WORKER

    @property
    def command(self) -> tuple[str, ...]:
        """The program before ``--fds IN OUT`` (``WorkerProcess.launch``)."""
        return (*self.argv, self.script)


Provision = Callable[[FunctionSpec], Awaitable[LaunchPlan]]
"""What the invoker calls before each worker launch: :meth:`Provisioner.plan`."""


class Provisioner:
    """Plans workers for ``options``; ``say`` hears the start-up lines (missing Python
    versions, unfetchable layers, installs and their failures)."""

    def __init__(self, options: RuntimeOptions, say: Callable[[str], None]) -> None:
        self.options = options
        self._say = say
        self.cache_root = options.cache_dir or cache_dir()
        self._finder = InterpreterFinder(options.pythons, cache=ProbeCache(self.cache_root / "interpreters.json"))
        self._deps = DependencyCache(self.cache_root / "deps", say)
        self._sdk: Path | None = None
        self._warned: set[str] = set()  # missing versions and layer ARNs already reported
        self._failed: set[tuple[str, str]] = set()  # (owner, reason) already reported
        self._host_path = os.pathsep.join(_host_site_packages())
        self._node: NodeBinary | None = None
        self._node_found = False  # find_node() ran
        self._node_sdk: Path | None = None
        self._node_sdk_lock = asyncio.Lock()

    async def prepare(self, specs: Iterable[FunctionSpec]) -> None:
        """At start, for every function: one line per missing Python version and per
        layer that cannot be fetched, then the installs (two at a time)."""
        specs = list(specs)
        node_specs = [spec for spec in specs if is_node(spec)]
        if node_specs:  # no node: one error naming them, and nothing starts
            check_versions(await self._find_node(), node_specs, self._say)
        if self.options.deps == "inherit":
            current = self._finder.current().describe()
            self._say(f"wsgw: --deps inherit: functions run on wsgw's {current} and import from its environment")
        else:
            by_version: dict[str, list[str]] = {}
            for spec in specs:
                minor = runtime_version(spec.runtime)
                if minor is not None:
                    by_version.setdefault(minor, []).append(spec.name)
            found = await asyncio.gather(*(self._finder.find(minor) for minor in by_version))
            for (minor, names), interpreter in zip(by_version.items(), found):
                if interpreter is None:
                    self._warn_missing(minor, names)
        layers: dict[str, list[str]] = {}
        for spec in specs:
            for layer in spec.layers:
                if layer.content_dir is None:
                    layers.setdefault(layer.name, []).append(spec.name)
        for arn, names in layers.items():
            self._warn_remote_layer(arn, names)
        await asyncio.gather(*(self.plan(spec) for spec in specs))

    async def plan(self, spec: FunctionSpec) -> LaunchPlan:
        """The launch plan of ``spec``'s next worker (installs first if needed)."""
        if is_node(spec):
            return await self._node_plan(spec)
        inherit = self.options.deps == "inherit"
        interpreter = self._finder.current() if inherit else await self._interpreter(spec)
        for layer in spec.layers:
            if layer.content_dir is None:
                self._warn_remote_layer(layer.name, [spec.name])
        paths: list[Path] = []
        error: str | None = None
        requirements = read_requirements(spec.code_dir)
        if requirements is not None:
            installed, error = await self._install(requirements, interpreter, spec.name)
            paths += [installed] if installed is not None else []
        layer_paths, layer_error = await self._layer_paths(spec, interpreter)
        paths += layer_paths
        error = error or layer_error
        env = {SYS_PATH_ENV: os.pathsep.join(map(str, paths))}
        if inherit:  # wsgw's site-packages (with its boto3) come after these, from site
            argv: tuple[str, ...] = (str(interpreter.executable), "-I")
        else:
            try:
                env[SYS_PATH_ENV] = os.pathsep.join(map(str, [*paths, await self._runtime_sdk(interpreter)]))
            except InstallFailed as exc:
                owner = f"the AWS SDK (boto3) for {interpreter.describe()}"
                self._report(owner, str(exc))
                error = error or f"wsgw could not install {owner}: {exc}"
            env[HOST_PATH_ENV] = self._host_path
            argv = (str(interpreter.executable), "-I", "-S")
        if error:
            env[INIT_ERROR_ENV] = error
        return LaunchPlan(argv, MappingProxyType(env))

    async def _find_node(self) -> NodeBinary | None:
        if not self._node_found:
            self._node, self._node_found = await find_node(), True
        return self._node

    async def _node_plan(self, spec: FunctionSpec) -> LaunchPlan:
        """A Node.js worker: the local ``node`` (NodeMissing without one), the
        function's layers and the runtime's SDK v3 for what its folder lacks."""
        node = await self._find_node()
        if node is None:
            check_versions(node, [spec], self._say)
        assert node is not None
        for layer in spec.layers:
            if layer.content_dir is None:
                self._warn_remote_layer(layer.name, [spec.name])
        error: str | None = None
        try:
            sdk: Path | None = await self._node_runtime_sdk()
        except ToolError as exc:
            sdk, owner = None, "the AWS SDK for JavaScript v3"
            self._report(owner, str(exc))
            error = f"wsgw could not install {owner}: {exc}"
        env = node_plan_env(spec, node, sdk)
        if error:
            env[INIT_ERROR_ENV] = error
        return LaunchPlan((str(node.executable),), MappingProxyType(env), NODE_WORKER)

    async def _node_runtime_sdk(self) -> Path:
        """The pinned ``@aws-sdk/*`` clients (node_runtime.py), installed once."""
        async with self._node_sdk_lock:
            if self._node_sdk is None:
                def progress(what: str, elapsed: float, done: bool) -> None:
                    if elapsed == 0 and not done:
                        self._say(f"wsgw: {what}...")
                self._node_sdk = await asyncio.to_thread(sdk_folder, self.cache_root, progress)
            return self._node_sdk

    async def _interpreter(self, spec: FunctionSpec) -> Interpreter:
        minor = runtime_version(spec.runtime)
        interpreter = await self._finder.find(minor) if minor is not None else None
        if interpreter is None:
            if minor is not None:
                self._warn_missing(minor, [spec.name])
            interpreter = self._finder.current()
        return interpreter

    async def _install(
        self, requirements: Requirements, interpreter: Interpreter, owner: str,
    ) -> tuple[Path | None, str | None]:
        """The installed folder, or the reason it could not be installed (reported once)."""
        try:
            return await self._deps.ensure(requirements, interpreter, owner), None
        except InstallFailed as exc:
            self._report(owner, str(exc), requirements.file)
            where = f" ({requirements.file})" if requirements.file else ""
            return None, f"wsgw could not install the dependencies of {owner}{where}: {exc}"

    async def _layer_paths(self, spec: FunctionSpec, interpreter: Interpreter) -> tuple[list[Path], str | None]:
        """The import folders of ``spec``'s local layers, as Lambda's merged ``/opt``
        orders them: every layer's ``python/lib/python3.X/site-packages``, then every
        layer's ``python/``; a later layer's before an earlier one's, as its files
        win the merge (deliberate difference: a package that two layers both hold is
        not merged file by file). A layer's ``requirements.txt`` (at the root of its
        folder) is installed like a function's and sits with its site-packages."""
        site_dirs: list[Path] = []
        python_dirs: list[Path] = []
        error: str | None = None
        for layer in reversed(spec.layers):
            if layer.content_dir is None:
                continue
            requirements = read_requirements(layer.content_dir)
            if requirements is not None:
                installed, failure = await self._install(requirements, interpreter, f"layer {layer.name}")
                error = error or failure
                site_dirs += [installed] if installed is not None else []
            site_dirs.append(_python_root(layer) / "lib" / f"python{interpreter.minor}" / "site-packages")
            python_dirs.append(_python_root(layer))
        return [path for path in site_dirs + python_dirs if path.is_dir()], error

    async def _runtime_sdk(self, interpreter: Interpreter) -> Path:
        """boto3 and its dependencies for ``interpreter`` (runtime_sdk.py)."""
        if interpreter.version[:2] >= minimum_python():
            if self._sdk is None:
                self._sdk = runtime_sdk_dir(self.cache_root)
            return self._sdk
        sdk = Requirements(None, SDK_REQUIREMENTS)
        return await self._deps.ensure(sdk, interpreter, f"the AWS SDK (boto3) of {interpreter.describe()}")

    def _warn_missing(self, minor: str, names: list[str]) -> None:
        if minor not in self._warned:
            self._warned.add(minor)
            current = self._finder.current().describe()
            self._say(f"wsgw: python{minor} not found; running {', '.join(names)} on {current} "
                      f"(install Python {minor}, or choose one: --python {minor}=/path/to/python)")

    def _warn_remote_layer(self, arn: str, names: list[str]) -> None:
        if arn not in self._warned:
            self._warned.add(arn)
            self._say(f"wsgw: layer {arn} (of {', '.join(names)}) is only an ARN and cannot be fetched; "
                      "its packages are missing locally: add them to the function's requirements.txt")

    def _report(self, owner: str, reason: str, file: Path | None = None) -> None:
        if (owner, reason) not in self._failed:
            self._failed.add((owner, reason))
            where = f" ({file})" if file else ""
            self._say(f"wsgw: cannot install the dependencies of {owner}{where}: {reason}; "
                      "its invocations fail as if its init had failed")


def _python_root(layer: LayerSpec) -> Path:
    """What Lambda would have as ``/opt/python`` for ``layer``."""
    assert layer.content_dir is not None
    return layer.content_dir if layer.built else layer.content_dir / "python"


def _host_site_packages() -> list[str]:
    """wsgw's own site-packages folders (where the hint looks for an undeclared module)."""
    folders = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    return [folder for folder in dict.fromkeys(folders) if os.path.isdir(folder)] or [
        entry for entry in sys.path if entry.endswith(("site-packages", "dist-packages"))
    ]
