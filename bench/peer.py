"""serverless-offline (the peer) as a bench target: start it, find it, stop it.

``bench/peers`` is a serverless project (``package.json`` + ``package-lock.json``,
installed with ``npm ci --prefix bench/peers``; its ``node_modules`` is git-ignored)
with two configurations: ``serverless.yml`` serves the bench's own app through
symbolic links to its Python handlers in ``bench/apps/echo``, ``serverless-chat.yml`` serves the bundled chat app's handlers
straight from ``handlers/`` (on ``PYTHONPATH``) with their DynamoDB table in a moto
server the bench starts. ``node serverless.js offline start`` runs in-process in one
Node process (its PID is the one whose memory scenario e reads) and runs each Python
handler in ``python3`` child processes, which is this venv's interpreter here
(``.venv/bin`` first on ``PATH``), so both gateways run the same handler code on the
same Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, AsyncIterator, Mapping, Sequence

from emulator.core.credentials import DUMMY_CREDENTIALS

from .procstats import cmdline, descendants
from .servers import PROJECT_ROOT, ServerStartError, stop_process, tail

PEERS_DIR = PROJECT_ROOT / "bench" / "peers"
SERVERLESS_JS = Path("node_modules") / "serverless" / "bin" / "serverless.js"
NAME = "serverless-offline"
_STOP_GRACE_S = 10.0


def peer_problem(project: Path = PEERS_DIR) -> str | None:
    """Why serverless-offline cannot run here (one line), or None if it can."""
    if shutil.which("node") is None:
        return "node is not on PATH (serverless-offline needs Node.js 18+)"
    if not (project / SERVERLESS_JS).is_file():
        return f"not installed: run `npm ci --prefix {project.relative_to(PROJECT_ROOT)}`"
    return None


def versions(project: Path = PEERS_DIR) -> dict[str, str]:
    """Installed versions of node, serverless and serverless-offline."""
    import json

    found: dict[str, str] = {}
    for package in ("serverless", "serverless-offline"):
        try:
            manifest = project / "node_modules" / package / "package.json"
            found[package] = str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError):
            found[package] = "missing"
    try:
        found["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        found["node"] = "missing"
    return found


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the bench dies (Linux ``PR_SET_PDEATHSIG``),
    so a killed bench leaves no serverless-offline behind. Node does not watch stdin."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (free now; serverless-offline binds them
    a moment later, which is racy only against other programs binding port 0)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def peer_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """serverless-offline's environment: no telemetry or update notices, this venv's
    ``python3`` first on ``PATH`` (what a ``python3.11`` runtime spawns), dummy AWS
    credentials; then ``extra``."""
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update({
        "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off", "SLS_DEPRECATION_DISABLE": "*",
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""), "VIRTUAL_ENV": str(Path(venv_bin).parent),
        # Handlers get no credentials from serverless-offline; boto3 needs some (wsgw gives
        # its workers the same dummy ones), and no user profile may point them elsewhere.
        **DUMMY_CREDENTIALS, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
    })  # fmt: skip
    env.update(extra or {})
    return env


@dataclass
class PeerProcess:
    """A running ``serverless offline start``; ``url`` is its WebSocket endpoint."""

    process: asyncio.subprocess.Process
    output: IO[bytes]
    ws_port: int
    launched: float  # time.perf_counter() just before the launch

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def callback_url(self) -> str:
        """The ``@connections`` endpoint (plain http on the WebSocket port)."""
        return f"http://127.0.0.1:{self.ws_port}"

    async def wait_listening(self, timeout_s: float = 90.0) -> float:
        """Wait until its WebSocket port accepts TCP connections; returns seconds since
        launch. Raises :class:`ServerStartError` with its output if it exits or hangs."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if self.process.returncode is not None:
                raise ServerStartError(f"{NAME} exited with status {self.process.returncode}{tail(self.output)}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.ws_port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return time.perf_counter() - self.launched
        raise ServerStartError(f"{NAME} did not listen within {timeout_s:g} s{tail(self.output)}")

    def output_tail(self) -> str:
        return tail(self.output)


@contextlib.asynccontextmanager
async def running_peer(
    config: str = "serverless.yml",
    *,
    project: Path = PEERS_DIR,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    wait: bool = True,
) -> AsyncIterator[PeerProcess]:
    """Run serverless-offline with ``config`` for the duration of the block (``wait``:
    until its port listens). On the way out it gets SIGTERM (it stops its Python
    children itself), then SIGKILL; any of its descendants still alive then are
    sent SIGTERM by PID."""
    http_port, ws_port, lambda_port = free_ports(3)
    with tempfile.TemporaryFile() as output:
        launched = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            "node", str(SERVERLESS_JS), "offline", "start", "--config", config, "--host", "127.0.0.1",
            "--httpPort", str(http_port), "--websocketPort", str(ws_port), "--lambdaPort", str(lambda_port), *args,
            cwd=project, env=peer_env(env), stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        peer = PeerProcess(process, output, ws_port, launched)
        try:
            if wait:
                await peer.wait_listening()
            yield peer
        finally:
            children = {pid: cmdline(pid) for pid in descendants(process.pid)}
            await stop_process(process, close_stdin=False)
            for pid, line in children.items():
                if line and cmdline(pid) == line:  # still that process, not a reused PID
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
