"""Which app a folder holds, when the user names none (``wsgw run-local`` without
``--template``, the pytest plugin without ``--wsgw-template``).

Looked for in this order, as the tools that made the folder name them: a CDK app
(``cdk.json``), a SAM template (``template.yaml``, ``template.yml``, ``template.json``:
``sam``'s names), a cloud assembly (``cdk.out``), a ``wsgw.json``. None of them: the
bundled chat app. :func:`find_app` answers with an :class:`AppInFolder` whose ``path``
is what to load (for a CDK app, its folder: loader.py synthesizes it) and whose
``describe()`` is the one line to print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["AppInFolder", "SAM_TEMPLATE_NAMES", "find_app"]

SAM_TEMPLATE_NAMES = ("template.yaml", "template.yml", "template.json")


@dataclass(frozen=True)
class AppInFolder:
    """What :func:`find_app` found: ``kind`` is ``cdk``, ``sam``, ``cdk.out``,
    ``wsgw.json`` or ``bundled``; ``path`` is what to load (None: the bundled app)."""

    kind: str
    path: Path | None

    def describe(self) -> str:
        """One line for the start-up output: what is served, and why."""
        if self.path is None:
            return ("no app in this folder (cdk.json, template.yaml, cdk.out or wsgw.json): "
                    "serving the bundled chat app")
        name = self.path.name
        return {
            "cdk": "serving the CDK app here (cdk.json; synthesized by wsgw into .wsgw/cdk.out)",
            "sam": f"serving {name}, the SAM template here",
            "cdk.out": f"serving {name}/, the cloud assembly here",
            "wsgw.json": f"serving {name}, the wsgw app description here",
        }[self.kind]


def find_app(folder: Path) -> AppInFolder:
    """The app in ``folder`` (see the module docstring)."""
    if (folder / "cdk.json").is_file():
        return AppInFolder("cdk", folder.resolve())
    for name in SAM_TEMPLATE_NAMES:
        if (folder / name).is_file():
            return AppInFolder("sam", folder / name)
    if (folder / "cdk.out" / "manifest.json").is_file():
        return AppInFolder("cdk.out", folder / "cdk.out")
    if (folder / "wsgw.json").is_file():
        return AppInFolder("wsgw.json", folder / "wsgw.json")
    return AppInFolder("bundled", None)
