"""The Node.js worker (``emulator/runtime/node/worker.mjs``) under the real invoker, with
the handlers in ``tests/node_handlers/`` (``cjs/``: CommonJS; ``esm/``: an ES-module
package). The runtime's SDK is installed once per session into ``runtime_cache``."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import AsyncIterator, Callable

import pytest
import pytest_asyncio

from emulator.core.invocation import Failed, Succeeded, TimedOut
from emulator.core.model import FunctionSpec
from emulator.runtime.invoker import Invoker
from emulator.runtime.provisioning import Provisioner, RuntimeOptions

from conftest import async_wait_until

HANDLERS = Path(__file__).parents[1] / "node_handlers"

pytestmark = [pytest.mark.asyncio, pytest.mark.skipif(shutil.which("node") is None, reason="needs node")]

Log = list[tuple[str, str]]
Make = Callable[..., Invoker]


def spec(name: str, handler: str, folder: str = "cjs", **kwargs: object) -> FunctionSpec:
    return FunctionSpec(name=name, handler=handler, code_dir=HANDLERS / folder, runtime="nodejs20.x",
                        **kwargs)  # type: ignore[arg-type]


def lines(log: Log, function: str) -> list[str]:
    return [line for name, line in log if name == function]


@pytest.fixture
def log() -> Log:
    return []


@pytest_asyncio.fixture
async def make(log: Log, runtime_cache: Path) -> AsyncIterator[Make]:
    made: list[Invoker] = []
    provisioner = Provisioner(RuntimeOptions(cache_dir=runtime_cache), lambda line: None)

    def build(*functions: FunctionSpec) -> Invoker:
        invoker = Invoker({f.name: f for f in functions}, base_env={"PATH": os.environ.get("PATH", "")},
                          log=lambda function, line: log.append((function, line)), provision=provisioner.plan)
        made.append(invoker)
        return invoker

    yield build
    for invoker in made:
        await invoker.close()


async def test_commonjs_handler_gets_event_and_lambdas_context(make: Make, log: Log) -> None:
    invoker = make(spec("Echo", "app.echo", timeout_s=5))
    outcome = await invoker.invoke("Echo", {"body": "héllo"}, "req-1")
    assert isinstance(outcome, Succeeded)
    result = outcome.result
    assert result["event"] == {"body": "héllo"}
    assert (result["functionName"], result["requestId"], result["memory"]) == ("Echo", "req-1", "128")
    assert result["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Echo"
    assert 0 < result["remaining"] <= 5000
    assert result["trace"].startswith("Root=1-")
    start, end, report = lines(log, "Echo")
    assert start == "START RequestId: req-1 Version: $LATEST" and end == "END RequestId: req-1"
    assert re.fullmatch(r"REPORT RequestId: req-1\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB"
                        r"\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms", report)


async def test_module_state_stays_warm_and_one_worker_serves(make: Make) -> None:
    invoker = make(spec("Count", "app.count"))
    results = [await invoker.invoke("Count", {}, f"r{i}") for i in range(3)]
    assert [r.result for r in results if isinstance(r, Succeeded)] == [1, 2, 3]
    assert len(invoker.worker_pids()["Count"]) == 1


async def test_console_prints_in_lambdas_text_format(make: Make, log: Log) -> None:
    invoker = make(spec("Logs", "app.logs"))
    assert await invoker.invoke("Logs", {}, "req-log") == Succeeded("logged", pytest.approx(0, abs=1e9))
    printed = lines(log, "Logs")[1:4]
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(rf"{stamp}\treq-log\tINFO\thello world", printed[0])
    assert re.fullmatch(rf"{stamp}\treq-log\tWARN\t{{ a: 1 }}", printed[1])
    assert re.fullmatch(rf"{stamp}\treq-log\tERROR\toops", printed[2])


async def test_esm_in_a_nested_folder_mjs_and_cjs_and_the_runtime_sdk(make: Make) -> None:
    invoker = make(spec("Esm", "src/handlers/app.handler", "esm"), spec("Mjs", "other.handler", "esm"),
                   spec("Cjs", "legacy.handler", "esm"), spec("Deep", "app.nested.deep.handler"))
    esm = await invoker.invoke("Esm", {}, "r1")
    assert isinstance(esm, Succeeded)
    assert (esm.result["esm"], esm.result["sdk"], esm.result["name"]) == (True, "function", "Esm")
    again = await invoker.invoke("Esm", {}, "r2")
    assert isinstance(again, Succeeded) and again.result["startedAt"] == esm.result["startedAt"]
    for name, expected in (("Mjs", "mjs"), ("Cjs", "cjs in an ESM package"), ("Deep", "deep")):
        outcome = await invoker.invoke(name, {}, "r3")
        assert isinstance(outcome, Succeeded) and outcome.result == expected


async def test_callback_handlers(make: Make) -> None:
    invoker = make(spec("Cb", "app.callback"), spec("NoWait", "app.callbackNoWait"), spec("Err", "app.callbackError"),
                   spec("Sync", "app.sync"), spec("Promise", "app.promise"))
    assert (await invoker.invoke("Cb", {}, "r1")).result == "from callback"  # type: ignore[union-attr]
    # callbackWaitsForEmptyEventLoop = false: sent at once, its 60 s timer still pending.
    assert isinstance(await invoker.invoke("NoWait", {}, "r2"), Succeeded)
    error = await invoker.invoke("Err", {}, "r3")
    assert isinstance(error, Failed) and (error.error_type, error.error_message) == ("RangeError", "out of range")
    assert (await invoker.invoke("Sync", {}, "r4")).result is None  # type: ignore[union-attr]
    assert (await invoker.invoke("Promise", {}, "r5")).result == {"via": "promise"}  # type: ignore[union-attr]


async def test_a_thrown_error_is_the_outcome_and_logged_as_invoke_error(make: Make, log: Log) -> None:
    invoker = make(spec("Throws", "app.throws"))
    outcome = await invoker.invoke("Throws", {}, "r1")
    assert isinstance(outcome, Failed) and (outcome.error_type, outcome.error_message) == ("TypeError", "bad input")
    logged = next(line for line in lines(log, "Throws") if "Invoke Error" in line)
    assert '\tr1\tERROR\tInvoke Error \t{"errorType":"TypeError","errorMessage":"bad input","stack":[' in logged
    assert "worker.mjs" not in logged  # the runtime's own frames are left out


async def test_a_promise_that_never_settles_is_a_nodejs_exit(make: Make) -> None:
    invoker = make(spec("Never", "app.never"))
    outcome = await invoker.invoke("Never", {}, "r1")
    assert isinstance(outcome, Failed) and outcome.error_type == "Runtime.NodeJsExit"


async def test_an_uncaught_exception_fails_the_invocation_and_replaces_the_worker(make: Make) -> None:
    invoker = make(spec("Crash", "app.crash"), spec("Exit", "app.exit"))
    crashed = await invoker.invoke("Crash", {}, "r1")
    assert isinstance(crashed, Failed) and (crashed.error_type, crashed.error_message) == ("Error", "boom in a timer")
    await async_wait_until(lambda: not invoker.worker_pids()["Crash"])  # exited (129)
    exited = await invoker.invoke("Exit", {}, "r2")
    assert isinstance(exited, Failed) and exited.error_type == "Runtime.ExitError"
    assert exited.error_message.endswith("Runtime exited with error: exit status 3")


async def test_a_timeout_kills_the_worker(make: Make, log: Log) -> None:
    invoker = make(spec("Sleep", "app.sleep", timeout_s=1))
    outcome = await invoker.invoke("Sleep", {"ms": 20000}, "r1")
    assert isinstance(outcome, TimedOut)
    assert lines(log, "Sleep")[-1].endswith("r1 Task timed out after 1.00 seconds")
    assert (await invoker.invoke("Sleep", {"ms": 1}, "r2")).result == "slept"  # type: ignore[union-attr]


@pytest.mark.parametrize(("handler", "folder", "error_type", "message"), [
    ("app.nothere", "cjs", "Runtime.HandlerNotFound", "app.nothere is undefined or not exported"),
    ("app.notFunction", "cjs", "Runtime.HandlerNotFound", "app.notFunction is not a function"),
    ("requires_missing.handler", "cjs", "Runtime.ImportModuleError",
     "Error: Cannot find module 'not-a-package-anywhere'\nRequire stack:"),
    ("nofile.handler", "cjs", "Runtime.ImportModuleError", "Error: Cannot find module 'nofile'"),
    ("broken.handler", "esm", "Runtime.UserCodeSyntaxError", "SyntaxError: "),
    # An ES module's missing package is not wrapped (reference lambda-runtime.md §6.2).
    ("missing_package.handler", "esm", "Error", "Cannot find package 'not-a-package-anywhere' imported from "),
    ("init_throws.handler", "cjs", "Error", "no config at init"),
    ("../app.handler", "cjs", "Runtime.MalformedHandlerName", "'../app.handler' is not a valid handler name."),
])
async def test_init_errors_have_aws_types_and_messages(
    make: Make, log: Log, handler: str, folder: str, error_type: str, message: str,
) -> None:
    invoker = make(spec("Broken", handler, folder))
    for request in ("r1", "r2"):  # every invocation fails with it; it is logged once
        outcome = await invoker.invoke("Broken", {}, request)
        assert isinstance(outcome, Failed)
        assert outcome.error_type == error_type and outcome.error_message.startswith(message)
    init_lines = [line for line in lines(log, "Broken") if "\tundefined\tERROR\tUncaught Exception \t" in line]
    assert len(init_lines) == 1 and f'"errorType":"{error_type}"' in init_lines[0]


async def test_debug_function_opens_nodes_inspector_and_waits_for_a_debugger(make: Make, log: Log) -> None:
    import asyncio
    import json
    import socket

    from websockets.asyncio.client import connect

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    invoker = make(spec("Debug", "app.count", environment={"WSGW_DEBUGPY": f"127.0.0.1:{port}"}))
    await invoker.start()
    listening = await async_wait_until(lambda: next((line for line in lines(log, "Debug")
                                                     if "Node.js inspector listening on ws://" in line), None))
    url = listening.split("listening on ", 1)[1].split(";", 1)[0]
    assert url.startswith(f"ws://127.0.0.1:{port}/")
    invocation = asyncio.ensure_future(invoker.invoke("Debug", {}, "r1"))
    await asyncio.sleep(0.2)
    assert not invocation.done()  # waiting for a debugger
    async with connect(url) as debugger:  # the Chrome DevTools Protocol, as VS Code speaks it
        await debugger.send(json.dumps({"id": 1, "method": "Runtime.runIfWaitingForDebugger"}))
        outcome = await asyncio.wait_for(invocation, 30)
    assert isinstance(outcome, Succeeded) and outcome.result == 1
