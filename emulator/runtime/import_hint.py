"""The hint after an undeclared import: loaded by ``worker.py`` by path, only when a
handler's import failed with ``ModuleNotFoundError`` in a worker that sees only its
declared packages (``provisioning.py``). It runs inside the handler's process, so it
imports only the standard library.

Lambda fails the same import with the same ``Runtime.ImportModuleError``; the hint is
wsgw's own line, for the common cause: the package is installed in the virtualenv wsgw
runs in (so it "worked" before), but the function never declared it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata


def hint(missing: str, folders: list[str]) -> str | None:
    """The hint line for module ``missing`` if it is importable from ``folders``
    (wsgw's own site-packages), else ``None``."""
    top = missing.split(".")[0]
    if importlib.machinery.PathFinder.find_spec(top, folders) is None:
        return None
    package = distribution_of(top, folders) or top
    return (f"wsgw: '{top}' is installed beside wsgw but not declared for this function: add {package} "
            "to its requirements.txt (or a layer), or run wsgw with --deps inherit")


def distribution_of(top: str, folders: list[str]) -> str | None:
    """The name of the distribution in ``folders`` that provides module ``top``
    (``yaml`` -> ``PyYAML``), from ``top_level.txt`` or, without one, its files."""
    for dist in importlib.metadata.distributions(path=folders):
        names = (dist.read_text("top_level.txt") or "").split()
        provides = top in names if names else any(f.parts[0] in (top, f"{top}.py") for f in dist.files or ())
        if provides:
            name: str | None = dist.metadata["Name"]
            return name
    return None
