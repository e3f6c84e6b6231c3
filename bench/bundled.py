"""The bundled chat app (``deploy/`` + ``handlers/``) as the bench serves it.

Its CDK app is synthesized once with the real CLI (``wsgw synth --out``) into
``bench/results/cache/cdk.out`` (git-ignored with ``bench/results/``); later runs
find it fresh (wsgw's fingerprint check) and skip the ~15 s synth. The bench never
writes ``deploy/cdk.out``. The local CA for ``wsgw run-local`` lives next to it, so
only the first start-up ever creates one (as for a user, whose CA is per user).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from .servers import PROJECT_ROOT

CACHE_DIR = PROJECT_ROOT / "bench" / "results" / "cache"
ASSEMBLY = CACHE_DIR / "cdk.out"
TLS_DIR = CACHE_DIR / "tls"
WSGW = Path(sys.executable).parent / "wsgw"
HANDLERS_DIR = PROJECT_ROOT / "handlers"
SYNTH_TIMEOUT_S = 600.0


class SynthError(RuntimeError):
    """``wsgw synth`` failed; the message has its output."""


async def ensure_synth() -> Path:
    """The bundled app's cloud assembly, synthesized if missing or stale."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        str(WSGW), "synth", "--out", str(ASSEMBLY), cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(process.communicate(), SYNTH_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise SynthError(f"`wsgw synth` did not finish within {SYNTH_TIMEOUT_S:g} s") from None
    if process.returncode != 0:
        raise SynthError(f"`wsgw synth --out {ASSEMBLY}` failed: {output.decode(errors='replace').strip()[-2000:]}")
    return ASSEMBLY
