"""Shared fixtures for wsgw's integration tests: real gateways on loopback.

Each gateway runs in a background thread with its own event loop (so tests can use
blocking clients: websockets' sync client and boto3), real worker processes and a
real embedded moto server. ``probe_gateway`` serves ``tests/apps/probe``; the
``chat_gateway`` serves the bundled chat app from its synthesized CDK template.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import boto3
import pytest

from emulator.app import GatewayThread, GatewayOptions, LocalGateway
from emulator.net.session_host import Refusal
from emulator.template.loader import load_model

ROOT = Path(__file__).resolve().parent.parent
PROBE_APP = Path(__file__).resolve().parent / "apps" / "probe" / "wsgw.json"

# The files whose tests take longest (real installs, synths, a thousand connections),
# in the order pytest --durations ranks them. They run first: `make test` spreads whole
# files over two pytest-xdist workers in collection order, and a long file that came
# last would run alone while the other worker idles.
SLOW_FILES_FIRST = (
    "tests/test_wheel.py", "tests/template/test_cdk_app.py", "tests/test_bench_smoke.py",
    "tests/test_graceful_shutdown.py", "tests/commands/test_init.py", "tests/testing/test_plugin.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the tests of :data:`SLOW_FILES_FIRST` first, each file's in its own order."""
    rank = {name: index for index, name in enumerate(SLOW_FILES_FIRST)}

    def key(item: pytest.Item) -> int:
        return rank.get(item.path.relative_to(ROOT).as_posix(), len(rank))

    items.sort(key=key)  # stable: every other test keeps its place


class FunctionLog:
    """Every line handler workers printed, as (function, line); thread-safe."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, function: str, line: str) -> None:
        with self._lock:
            self.lines.append((function, line))

    def snapshot(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.lines)

    def wait_for(self, predicate: Callable[[str, str], bool], timeout: float = 30.0) -> tuple[str, str]:
        """Wait until a line matching ``predicate`` was printed; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for function, line in self.snapshot():
                if predicate(function, line):
                    return function, line
            time.sleep(0.01)
        raise AssertionError("no matching function log line within the timeout")


class RunningGateway:
    """A started gateway plus what tests need to talk to it."""

    def __init__(self, background: GatewayThread, log: FunctionLog, refusals: list[Refusal] | None = None) -> None:
        self.background = background
        self.local = background.local
        self.log = log
        self.refusals: list[Refusal] = refusals if refusals is not None else []  # every handshake refused

    @property
    def ws_url(self) -> str:
        return self.local.ws_url

    @property
    def wss_url(self) -> str:
        return self.local.wss_url

    @property
    def ca_cert(self) -> str:
        assert self.local.tls is not None
        return str(self.local.tls.ca_cert)

    def management(self, *, secure: bool = True) -> Any:
        """boto3's own apigatewaymanagementapi client bound to this gateway."""
        url = self.local.management_url if secure else self.local.http_management_url
        return boto3.client(
            "apigatewaymanagementapi", endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            # Explicit: these machines export AWS_CA_BUNDLE for the system roots.
            verify=self.ca_cert if secure else None,
        )

    def dynamodb(self) -> Any:
        return boto3.client(
            "dynamodb", endpoint_url=self.local.aws_endpoint_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def open_connection_ids(self) -> set[str]:
        assert self.local.listener is not None
        server = self.local.listener
        return self.background.call(server.connections.ids)


def start_gateway(app: Path | None, tls_dir: Path, **options: Any) -> RunningGateway:
    """Serve ``app`` (None: the bundled CDK app, synthesized) on a free port."""
    log = FunctionLog()
    refusals: list[Refusal] = []
    local = LocalGateway(
        load_model(app), GatewayOptions(port=0, tls_dir=tls_dir, **options), function_log=log,
        on_refusal=refusals.append,
    )
    background = GatewayThread(local)
    background.start()
    return RunningGateway(background, log, refusals)


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture(scope="session")
def probe_gateway(tls_dir: Path) -> Iterator[RunningGateway]:
    running = start_gateway(PROBE_APP, tls_dir)
    yield running
    running.background.stop()


@pytest.fixture(scope="session")
def chat_gateway(tls_dir: Path) -> Iterator[RunningGateway]:
    running = start_gateway(None, tls_dir)
    yield running
    running.background.stop()


@pytest.fixture(scope="session")
def inspected_gateway(tls_dir: Path) -> Iterator[RunningGateway]:
    """The bundled chat app with the live inspector on (tests/inspector)."""
    from emulator.inspector.server import InspectorOptions
    # Recording from the start: each test sees its own traffic without opening a page
    # first (test_server.py checks the default, recording only while a page is open).
    running = start_gateway(None, tls_dir, inspector=InspectorOptions(record_always=True))
    yield running
    running.background.stop()


@pytest.fixture(scope="session")
def runtime_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One wsgw cache folder (dependency installs, the runtime SDK) for the session's
    tests of the functions' runtime: what one test installed, the next one finds."""
    return tmp_path_factory.mktemp("wsgw-cache")


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials anywhere in the usual chain (for deploy/admin error paths)."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name != "AWS_CA_BUNDLE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class RunLocalProcess:
    """``python cli.py run-local ARGS`` in a child process, its output collected line by
    line (``lines``) for :meth:`wait_for`. Tests stop it with :meth:`stop`."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
                 new_session: bool = False, program: list[str] | None = None) -> None:
        # ``program``: another wsgw to run (an installed one's ``bin/wsgw``).
        self.process = subprocess.Popen(
            [*(program or [sys.executable, str(ROOT / "cli.py")]), "run-local", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd, env=env,
            start_new_session=new_session,  # its own process group, as in a terminal of its own
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def close(self, timeout: float = 60.0) -> int:
        """Ctrl-C (SIGINT, as a terminal sends), then kill if it is still running after
        ``timeout``; release its pipe. Returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        """The first output line matching ``pattern``, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = regex.search(line)
                if match:
                    return match
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))


# -- waiting for a condition (design.md, Testing: poll with a generous deadline) --------------

T = TypeVar("T")

DEADLINE_S = 30.0
"""How long a test waits for something that normally takes milliseconds: generous, so a
loaded machine is not a failure; only a condition that never holds costs this long."""


def wait_until(condition: Callable[[], T | None], timeout: float = DEADLINE_S, interval: float = 0.01,
               message: str = "") -> T:
    """Poll ``condition`` until it returns something truthy; return that value. Raises
    AssertionError (with ``message``) if it has not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


async def async_wait_until(condition: Callable[[], T | None], timeout: float = DEADLINE_S, interval: float = 0.01,
                           message: str = "") -> T:
    """:func:`wait_until` for code running on an event loop: sleeps with ``asyncio.sleep``."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
