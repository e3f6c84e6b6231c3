"""The AWS SDK a handler gets without declaring it, as Lambda's Python runtime gives it.

Lambda's Python runtimes include boto3 and botocore and what they need (s3transfer,
jmespath, python-dateutil, six, urllib3), importable without packaging them, in the
runtime's own site-packages after the function's code and its layers (reference
lambda-runtime.md §1.1, §1.2). AWS does not publish which SDK version a runtime has
("depends on the runtime version and your AWS Region", DG-PY), so wsgw gives handlers
its own copy: the version installed beside wsgw.

Handlers must not see the rest of wsgw's environment, so :func:`runtime_sdk_dir`
builds a folder that holds only these distributions: a symbolic link to each of
their top-level packages and ``.dist-info`` folders (so ``importlib.metadata.version
("boto3")`` works too), under the cache folder, named after their versions and
location. It is built once (a few milliseconds) and then found as it is (and folders
left by virtualenvs that are gone are removed then). The
packages are pure Python, so the same folder serves workers on every Python version
they support (:func:`minimum_python`, from their ``Requires-Python``: 3.10 for
boto3 1.44); an older Python (a ``python3.9`` function) gets the newest SDK that
supports it, installed with its own pip (``SDK_REQUIREMENTS``), as the
``python3.9`` runtime has an older boto3 than the newer runtimes.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["RUNTIME_DISTRIBUTIONS", "SDK_REQUIREMENTS", "minimum_python", "runtime_sdk_dir", "sdk_versions"]

# What Lambda's Python runtime provides besides the standard library: the SDK and its
# dependencies (boto3 -> botocore, jmespath, s3transfer; botocore -> python-dateutil,
# urllib3; python-dateutil -> six).
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
# What to install for a Python older than wsgw's SDK supports (pip picks the newest
# boto3, botocore and urllib3 that still run on it).
SDK_REQUIREMENTS = b"boto3\n"
_AT_LEAST = re.compile(r"\s*>=\s*(\d+)\.(\d+)")


def sdk_versions() -> dict[str, str]:
    """The version of each runtime distribution installed beside wsgw."""
    return {name: importlib.metadata.version(name) for name in RUNTIME_DISTRIBUTIONS}


@functools.cache
def minimum_python() -> tuple[int, int]:
    """The oldest Python that every runtime distribution beside wsgw supports (the
    ``>=`` clauses of their ``Requires-Python``). Read once per process: each
    function's launch plan asks, and reading the seven distributions' metadata
    took ~10 ms a time (five functions: 0.1 s of the gateway's start)."""
    oldest = (3, 0)
    for name in RUNTIME_DISTRIBUTIONS:
        requires = importlib.metadata.metadata(name).get_all("Requires-Python") or [""]
        for clause in requires[0].split(","):
            match = _AT_LEAST.match(clause)
            if match:
                oldest = max(oldest, (int(match.group(1)), int(match.group(2))))
    return oldest


def runtime_sdk_dir(cache_root: Path) -> Path:
    """The folder of links to wsgw's copies of :data:`RUNTIME_DISTRIBUTIONS`, built
    under ``cache_root/runtime-sdk`` if it is not there yet (atomically: two wsgw
    starting at once both end up with one complete folder). Its name comes from the
    distributions' versions and places; their file lists (botocore's has thousands of
    entries: ~80 ms to read) are read only to build it."""
    dists = [importlib.metadata.distribution(name) for name in RUNTIME_DISTRIBUTIONS]
    identity = [f"{name}=={dist.version}@{dist.locate_file('')}" for name, dist in zip(RUNTIME_DISTRIBUTIONS, dists)]
    key = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
    target = cache_root / "runtime-sdk" / key
    if target.is_dir():
        return target
    entries: dict[str, Path] = {}
    for dist in dists:
        for file in dist.files or ():
            top = file.parts[0]
            if top.startswith("..") or top == "__pycache__" or top.endswith(".pth") or top in entries:
                continue
            entries[top] = Path(str(dist.locate_file(top)))
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=target.parent))
    for top, source in sorted(entries.items()):
        if source.exists():
            os.symlink(source, building / top)
    try:
        os.rename(building, target)
    except OSError:  # another start built it meanwhile
        shutil.rmtree(building, ignore_errors=True)
        if not target.is_dir():
            raise
    _prune_dangling(target.parent)
    return target


def _prune_dangling(root: Path) -> None:
    """Remove the folders under ``root`` whose links point into a place that is gone
    (one folder per virtualenv wsgw ran from: tox, CI and throw-away virtualenvs would
    otherwise leave one each). Called when a new folder was built, which is rare.
    Folders being built (``.tmp-``) are left alone, and so is anything that is not
    one of ours; a folder in use cannot be dangling (its virtualenv is there)."""
    for folder in root.iterdir():
        if folder.name.startswith(".tmp-") or not folder.is_dir() or folder.is_symlink():
            continue
        link = folder / "boto3"
        if link.is_symlink() and not link.exists():
            shutil.rmtree(folder, ignore_errors=True)
