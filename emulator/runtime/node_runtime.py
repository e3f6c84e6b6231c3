"""What a Node.js function's worker runs on and can import: the local ``node``, and the
AWS SDK for JavaScript v3 that Lambda's Node.js runtimes include.

Lambda's ``nodejs18.x`` and later runtimes include SDK v3 ([doc] KC-NODESDK,
reference lambda-runtime.md §6.5) under ``/var/runtime/node_modules``, which comes
after the function's own ``node_modules`` and its layers' ``nodejs/node_modules``
folders: a handler's own copy of a package wins. AWS does not publish the SDK version
per runtime, so wsgw pins its own: the ``@aws-sdk/*`` clients listed in
``node/package.json``, locked by ``node/package-lock.json``, installed once per user
with ``npm ci`` into ``<cache>/node-sdk/<lock hash>`` (:func:`sdk_folder`).

The worker finds those folders through two variables (``node/worker.mjs``):
``NODE_PATH`` for ``require`` (Lambda's own mechanism for CommonJS, DG-ENV) and
``WSGW_NODE_FALLBACK`` for ``import``, which ignores ``NODE_PATH``: a resolve hook
(``node/fallback_resolve.mjs``) retries a bare specifier that the handler's folder
cannot resolve from each of those folders in turn.

Call :func:`find_node` once at start, :func:`check_versions` with the Node.js
functions (one warning line per major-version mismatch; :class:`NodeMissing` when
there is no ``node``), and :func:`node_plan_env` for each worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..core.errors import WsgwError
from ..core.model import FunctionSpec
from ..npm import Progress, install_lock

__all__ = [
    "FALLBACK_ENV", "NodeBinary", "NodeMissing", "check_versions", "find_node", "is_node", "node_major",
    "node_plan_env", "sdk_folder",
]

_RUNTIME = re.compile(r"nodejs(\d+)\.x")
_VERSION = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
LOCK_FOLDER = Path(__file__).with_name("node")  # package.json + package-lock.json of the SDK
FALLBACK_ENV = "WSGW_NODE_FALLBACK"  # node_modules folders for import(), os.pathsep-separated


class NodeMissing(WsgwError):
    """Functions with a ``nodejs*`` runtime, and no ``node`` to run them."""


@dataclass(frozen=True)
class NodeBinary:
    """The local ``node``: its path and version."""

    executable: Path
    version: tuple[int, int, int]

    def describe(self) -> str:
        return f"Node.js {'.'.join(map(str, self.version))} ({self.executable})"


def node_major(runtime: str) -> int | None:
    """``20`` for the runtime ``nodejs20.x``; ``None`` for another runtime."""
    match = _RUNTIME.fullmatch(runtime)
    return int(match.group(1)) if match else None


def is_node(spec: FunctionSpec) -> bool:
    return node_major(spec.runtime) is not None


async def find_node(path: str | None = None) -> NodeBinary | None:
    """``node`` on ``PATH`` (or on ``path``) and its version; None when there is none."""
    found = shutil.which("node", path=path)
    if found is None:
        return None
    process = await asyncio.create_subprocess_exec(
        found, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await process.communicate()
    match = _VERSION.match(out.decode(errors="replace").strip())
    if process.returncode != 0 or match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return NodeBinary(Path(found), (major, minor, patch))


def check_versions(node: NodeBinary | None, specs: Iterable[FunctionSpec], say: Callable[[str], None]) -> None:
    """Raise :class:`NodeMissing` naming the Node.js functions if there is no ``node``;
    else one line per runtime whose major version is not the local one's (the local
    ``node`` runs them anyway: a deliberate difference, as for Python versions)."""
    by_major: dict[int, list[str]] = {}
    for spec in specs:
        major = node_major(spec.runtime)
        if major is not None:
            by_major.setdefault(major, []).append(spec.name)
    if not by_major:
        return
    if node is None:
        needing = ", ".join(name for group in by_major.values() for name in group)
        raise NodeMissing(f"no `node` on PATH, and {needing} (Runtime nodejs*) need it: install Node.js "
                          "(https://nodejs.org) or put it on PATH; wsgw serves no route until then")
    for major, names in sorted(by_major.items()):
        if major != node.version[0]:
            say(f"wsgw: nodejs{major}.x functions ({', '.join(names)}) run on the local {node.describe()}")


def sdk_folder(cache_root: Path, progress: Progress | None = None) -> Path:
    """The folder whose ``node_modules`` holds the pinned SDK v3 clients, installed
    there from the shipped lock first if needed (once per user and lock; ``npm`` must
    be on PATH). Raises :class:`~emulator.npm.ToolError` when it cannot be installed."""
    lock = (LOCK_FOLDER / "package-lock.json").read_bytes()
    target = cache_root / "node-sdk" / hashlib.sha256(lock).hexdigest()[:16]
    return install_lock(
        LOCK_FOLDER, target, what=f"installing the AWS SDK for JavaScript v3 into {target.parent} (once)",
        failure="npm ci of the AWS SDK for JavaScript v3 failed", complete=lambda t: (t / "node_modules").is_dir(),
        progress=progress,
    )


def node_plan_env(spec: FunctionSpec, node: NodeBinary, sdk: Path | None) -> dict[str, str]:
    """The variables a Node.js worker of ``spec`` adds to its environment: where it
    resolves packages its own folder lacks, in Lambda's ``NODE_PATH`` order
    (``/opt/nodejs/node<N>/node_modules``, ``/opt/nodejs/node_modules`` of each layer,
    a later layer first as its files win the merge; then the runtime's SDK)."""
    folders: list[Path] = []
    for layer in reversed(spec.layers):
        if layer.content_dir is not None:
            root = layer.content_dir / "nodejs"
            folders += [root / f"node{node.version[0]}" / "node_modules", root / "node_modules"]
    folders = [folder for folder in folders if folder.is_dir()]
    if sdk is not None:
        folders.append(sdk / "node_modules")
    joined = os.pathsep.join(map(str, folders))
    # The SDK warns once per process that its later versions need a newer Node.js: it
    # is about wsgw's pinned copy, not the handler (a template variable can turn it on).
    return {"NODE_PATH": joined, FALLBACK_ENV: joined, "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true"}

