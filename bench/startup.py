"""Scenario f: start-up of ``wsgw run-local``, and hot reload.

Start-up: the real CLI, ``.venv/bin/wsgw run-local --port 0 --template <cached
cdk.out of the bundled app> --tls-dir <bench CA>`` (hot reload on, its default),
timed from just before the launch to the first ``whoAmI`` answered on a new
connection (so ``$connect`` with its DynamoDB write ran: the app is really
serving), after one untimed start that creates the bench's local CA (a user's CA
is created once, too). The time its "Ready" line appeared is kept as well. Then it
gets SIGINT, like Ctrl-C. The ceiling is the bare echo child (launch → first echo);
the peer is ``serverless offline`` serving the same handlers (launch → first whoAmI,
with its moto already running).

Hot reload: the bench app's handler is copied to a temporary folder and served with
hot reload on (wsgw: ``GatewayOptions(reload=True)`` in the gateway child;
serverless-offline: ``--reloadHandler``); each run rewrites ``echo.py`` so that its
replies carry a new marker and times, from the moment the file is written and
closed, round trips on an open connection (one every 5 ms) until a reply has the
marker.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from websockets.asyncio.client import ClientConnection, connect

from emulator.aws.embedded import EmbeddedAws, create_tables
from emulator.core.credentials import DUMMY_CREDENTIALS
from emulator.template.loader import load_model

from .bundled import HANDLERS_DIR, TLS_DIR, WSGW as WSGW_CLI, ensure_synth
from .model import BARE, PEER, WSGW, Figure, Goal, ScenarioResult
from .peer import PEERS_DIR, running_peer
from .roundtrip import MESSAGE, UnexpectedReply
from .servers import PROJECT_ROOT, ServerStartError, running_server, stop_process
from .targets import Context

_URL = re.compile(r"WebSocket URL:\s+(ws://\S+)")
_START_TIMEOUT_S = 60.0
_RELOAD_TIMEOUT_S = 15.0
WHOAMI = '{"action":"whoAmI"}'
ECHO_SOURCE = PROJECT_ROOT / "bench" / "apps" / "echo" / "echo.py"


async def _first_answer(url: str, message: str, deadline: float) -> None:
    """Connect (retrying while refused) and get one answer to ``message``."""
    while True:
        try:
            async with connect(url, compression=None, ping_interval=None, open_timeout=10) as connection:
                await connection.send(message)
                await connection.recv()
                return
        except OSError:
            if time.perf_counter() > deadline:
                raise
            await asyncio.sleep(0.01)


async def run_local_once(
    assembly: Path, state_dir: Path, *, command: Sequence[str] = (str(WSGW_CLI),), cwd: Path = PROJECT_ROOT,
    env: Mapping[str, str] | None = None, on_answer: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """One timed start of the real CLI (``command`` run from ``cwd``, with ``env`` added
    to ours); returns seconds to "Ready" and to the first answer. ``on_answer(pid)`` is
    called at the first answer, before the process is stopped (bench.startup_ab reads
    the CPU its processes used by then)."""
    env = {**os.environ, **(env or {}), "WSGW_STATE_FILE": str(state_dir / "run-local.json"), "NO_COLOR": "1"}
    launched = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command, "run-local", "--port", "0", "--template", str(assembly), "--tls-dir", str(TLS_DIR),
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    seen: list[str] = []
    drain: asyncio.Task[None] | None = None
    try:
        url = None
        async with asyncio.timeout(_START_TIMEOUT_S):
            while line := await process.stdout.readline():
                text = line.decode("utf-8", "replace").rstrip()
                seen.append(text)
                if match := _URL.search(text):
                    url = match.group(1)
                if text.startswith("Ready"):
                    break
        ready = time.perf_counter() - launched
        if url is None:
            raise ServerStartError("wsgw run-local did not print its URL; its output:\n" + "\n".join(seen[-20:]))
        drain = asyncio.create_task(_drain(process))
        await _first_answer(url, WHOAMI, time.perf_counter() + _START_TIMEOUT_S)
        answered = time.perf_counter() - launched
        if on_answer is not None:
            on_answer(process.pid)
        stopping = time.perf_counter()
        process.send_signal(signal.SIGINT)  # Ctrl-C
        await stop_process(process, close_stdin=False)
        return {"ready_line_s": ready, "first_answer_s": answered, "shutdown_s": time.perf_counter() - stopping}
    finally:
        if process.returncode is None:
            await stop_process(process, close_stdin=False)
        if drain is not None:
            drain.cancel()


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    while await process.stdout.read(65536):
        pass


async def _bare_once(ctx: Context) -> float:
    launched = time.perf_counter()
    async with running_server("the bare echo server", "bench.bare_echo", ["--loop", ctx.loop]) as handle:
        await _first_answer(handle.url, MESSAGE, time.perf_counter() + _START_TIMEOUT_S)
        return time.perf_counter() - launched


async def _peer_once(env: dict[str, str]) -> float:
    async with running_peer("serverless-chat.yml", env=env, wait=False) as peer:
        await peer.wait_listening(_START_TIMEOUT_S)
        await _first_answer(peer.url, WHOAMI, time.perf_counter() + _START_TIMEOUT_S)
        return time.perf_counter() - peer.launched


# -- hot reload -------------------------------------------------------------------


def _write_echo(folder: Path, marker: str) -> None:
    source = ECHO_SOURCE.read_text(encoding="utf-8")
    new = source.replace('"body": event["body"]}', f'"body": {marker!r} + event["body"]}}')
    assert new != source, "bench/apps/echo/echo.py no longer has the line the reload scenario edits"
    (folder / "echo.py").write_text(new, encoding="utf-8")


async def _time_reloads(connection: ClientConnection, folder: Path, runs: int, settle_s: float) -> list[float]:
    """Edit echo.py ``runs`` times; for each, seconds from the write to the new answer."""
    times = []
    for index in range(runs):
        await asyncio.sleep(settle_s)  # let the previous reload finish and the watcher rest
        marker = f"v{index + 1}:"
        _write_echo(folder, marker)
        saved = time.perf_counter()
        async with asyncio.timeout(_RELOAD_TIMEOUT_S):
            while True:
                await connection.send(MESSAGE)
                reply = await connection.recv()
                if isinstance(reply, str) and reply.startswith(marker):
                    break
                if reply != MESSAGE and not (isinstance(reply, str) and reply.endswith(MESSAGE)):
                    raise UnexpectedReply(f"during a reload: {reply!r}")
                await asyncio.sleep(0.005)
        times.append(time.perf_counter() - saved)
    return times


async def _wsgw_reload(ctx: Context) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="wsgw-bench-reload-") as name:
        folder = Path(name)
        shutil.copy(ECHO_SOURCE.with_name("wsgw.json"), folder / "wsgw.json")
        shutil.copy(ECHO_SOURCE.with_name("fanout.py"), folder / "fanout.py")
        _write_echo(folder, "")
        args = ["--app", str(folder / "wsgw.json"), "--loop", ctx.loop, "--reload"]
        async with running_server("the wsgw gateway (reload)", "bench.gateway_child", args) as handle:
            async with connect(handle.url, compression=None, ping_interval=None) as connection:
                return await _time_reloads(connection, folder, ctx.runs, settle_s=1.0)


async def _peer_reload(ctx: Context) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="wsgw-bench-reload-sls-") as name:
        folder = Path(name)
        for file in ("serverless.yml", "package.json", "fanout.py"):
            shutil.copy(PEERS_DIR / file, folder / file)
        (folder / "node_modules").symlink_to(PEERS_DIR / "node_modules")
        _write_echo(folder, "")
        async with running_peer("serverless.yml", project=folder, args=["--reloadHandler"]) as peer:
            async with connect(peer.url, compression=None, ping_interval=None) as connection:
                return await _time_reloads(connection, folder, ctx.runs, settle_s=1.0)


async def scenario(ctx: Context) -> ScenarioResult:
    result = ScenarioResult(
        "f", "start-up of wsgw run-local (bundled app, cached synth) and hot reload (save → new code answering)",
        settings={"runs": ctx.runs},
    )
    ctx.progress("f: synthesizing the bundled app (cached after the first time)")
    assembly = await ensure_synth()
    start: dict[str, list[float]] = {}
    details: dict[str, Any] = {}
    missing: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="wsgw-bench-state-") as state:
        first = await run_local_once(assembly, Path(state))  # untimed: creates the bench CA once
        ctx.progress(f"f warm-up wsgw run-local: first answer after {first['first_answer_s']:.2f} s")
        for index in range(ctx.runs):
            run = await run_local_once(assembly, Path(state))
            details.setdefault("wsgw_runs", []).append(run)
            start.setdefault(WSGW, []).append(run["first_answer_s"])
            ctx.progress(f"f run {index + 1}/{ctx.runs} wsgw run-local: Ready after {run['ready_line_s']:.2f} s, "
                         f"first whoAmI answered after {run['first_answer_s']:.2f} s")  # fmt: skip
    await _bare_once(ctx)  # warm-up
    for index in range(ctx.runs):
        start.setdefault(BARE, []).append(await _bare_once(ctx))
    if ctx.peer_problem is not None:
        missing[PEER] = ctx.peer_problem
    else:
        model = load_model(assembly)
        moto = EmbeddedAws()
        await moto.start()
        try:
            await asyncio.to_thread(create_tables, model.tables, endpoint_url=moto.endpoint_url, region=model.region)
            env = {**DUMMY_CREDENTIALS, "AWS_ENDPOINT_URL": moto.endpoint_url, "PYTHONPATH": str(HANDLERS_DIR),
                   "CONNECTIONS_TABLE": model.tables[0].table_name}  # fmt: skip
            for index in range(ctx.runs):
                try:
                    value = await _peer_once(env)
                except (ServerStartError, OSError, TimeoutError) as exc:
                    missing[PEER] = f"failed: {type(exc).__name__}: {exc}"
                    break
                start.setdefault(PEER, []).append(value)
                ctx.progress(f"f run {index + 1}/{ctx.runs} serverless offline: first whoAmI answered after {value:.2f} s")
        finally:
            await moto.stop()
    ready = result.metric("start-up: launch → first answer", "s", higher_is_better=False, decimals=2,
                          goal=Goal("≤ 1.2 s", 1.2))  # fmt: skip (issue 18)
    for target, values in start.items():
        ready.figures[target] = Figure(tuple(values))
    ready.missing.update(missing)

    reload = result.metric("hot reload: save → new code answering", "s", higher_is_better=False, decimals=2,
                           goal=Goal("≤ 1 s", 1.0))  # fmt: skip
    reload.missing[BARE] = "no handler code to reload"
    try:
        values = await _wsgw_reload(ctx)
        reload.figures[WSGW] = Figure(tuple(values))
        ctx.progress("f wsgw reload: " + ", ".join(f"{v:.2f} s" for v in values))
    except (ServerStartError, OSError, TimeoutError, UnexpectedReply) as exc:
        reload.missing[WSGW] = f"failed: {type(exc).__name__}: {exc}"
    if ctx.peer_problem is not None:
        reload.missing[PEER] = ctx.peer_problem
    else:
        try:
            values = await _peer_reload(ctx)
            reload.figures[PEER] = Figure(tuple(values))
            ctx.progress("f serverless-offline --reloadHandler: " + ", ".join(f"{v:.2f} s" for v in values))
        except (ServerStartError, OSError, TimeoutError, UnexpectedReply) as exc:
            reload.missing[PEER] = f"failed: {type(exc).__name__}: {exc}"
    if WSGW in start:
        runs = details["wsgw_runs"]
        median_ready = sorted(r["ready_line_s"] for r in runs)[len(runs) // 2]
        result.notes.append(f"wsgw run-local printed 'Ready' after {median_ready:.2f} s (median); the figure adds "
                            "the first connection and whoAmI")  # fmt: skip
    result.notes.append("serverless-offline --reloadHandler starts a new Python process for every invocation "
                        "(so its reload time is one cold invocation)")  # fmt: skip
    result.details.update(details)
    return result
