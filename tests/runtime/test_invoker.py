"""The invoker and its workers, with real worker processes and the handlers in
``tests/invoker_handlers/``."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path
from typing import AsyncIterator, Callable

import pytest
import pytest_asyncio

from emulator.core.invocation import Failed, Succeeded, TimedOut
from emulator.runtime.invoker import Invoker
from emulator.runtime.worker_pool import WorkerPool
from emulator.core.model import FunctionSpec

from conftest import DEADLINE_S, async_wait_until

HANDLERS = Path(__file__).parents[1] / "invoker_handlers"


class Log:
    """A log sink that keeps every line."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str]] = []

    def __call__(self, function: str, line: str) -> None:
        self.records.append((function, line))

    def lines(self, function: str | None = None) -> list[str]:
        return [line for name, line in self.records if function is None or name == function]


def spec(name: str, handler: str, **kwargs: object) -> FunctionSpec:
    return FunctionSpec(name=name, handler=handler, code_dir=HANDLERS, **kwargs)  # type: ignore[arg-type]


MakeInvoker = Callable[..., Invoker]


@pytest.fixture
def log() -> Log:
    return Log()


@pytest_asyncio.fixture
async def make_invoker(log: Log) -> AsyncIterator[MakeInvoker]:
    """Build invokers for a test and close them all after it."""
    made: list[Invoker] = []

    def make(*functions: FunctionSpec, **kwargs: object) -> Invoker:
        options: dict[str, object] = {"base_env": {"PATH": os.environ.get("PATH", "")}, "log": log}
        options.update(kwargs)
        invoker = Invoker({f.name: f for f in functions}, **options)  # type: ignore[arg-type]
        made.append(invoker)
        return invoker

    yield make
    for invoker in made:
        await invoker.close()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.asyncio
async def test_results_come_back_as_returned(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Echo", "basic.echo"), spec("Nothing", "basic.nothing"))
    event = {"body": "héllo", "n": [1, 2.5, None, True], "nested": {"k": "v"}}

    echoed = await invoker.invoke("Echo", event, "req-1")
    nothing = await invoker.invoke("Nothing", {}, "req-2")

    assert isinstance(echoed, Succeeded) and echoed.result == event and echoed.duration_ms > 0
    assert nothing == Succeeded(None, nothing.duration_ms)


@pytest.mark.asyncio
async def test_large_payloads_cross_the_pipe(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Echo", "basic.echo"))
    event = {"body": "x" * 300_000}

    outcome = await invoker.invoke("Echo", event, "req-1")

    assert isinstance(outcome, Succeeded) and outcome.result == event


@pytest.mark.asyncio
async def test_handler_sees_its_environment_and_the_lambda_variables(make_invoker: MakeInvoker) -> None:
    function = spec("EnvFn", "basic.environment", memory_mb=256, environment={"TABLE": "chat", "SHARED": "function"})
    invoker = make_invoker(
        function, base_env={"PATH": os.environ.get("PATH", ""), "SHARED": "base", "FROM_BASE": "1"}, region="eu-west-1"
    )
    names = [
        "TABLE", "SHARED", "FROM_BASE", "HOME", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION",
        "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "_HANDLER",
    ]  # fmt: skip

    outcome = await invoker.invoke("EnvFn", {"names": names}, "req-1")

    assert isinstance(outcome, Succeeded)
    env = outcome.result
    assert env["TABLE"] == "chat"
    assert env["SHARED"] == "function"  # the function's own environment wins
    assert env["FROM_BASE"] == "1"
    assert env["HOME"] is None  # nothing inherited from the emulator's os.environ
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EnvFn"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/EnvFn"
    assert "/[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["LAMBDA_TASK_ROOT"] == str(HANDLERS.resolve())
    assert env["_HANDLER"] == "basic.environment"


@pytest.mark.asyncio
async def test_module_state_stays_warm_in_the_same_worker(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Counter", "basic.counter"))

    outcomes = [await invoker.invoke("Counter", {}, f"req-{i}") for i in range(3)]

    results = [o.result for o in outcomes if isinstance(o, Succeeded)]
    assert [r["count"] for r in results] == [1, 2, 3]
    assert len({r["pid"] for r in results}) == 1
    assert invoker.worker_pids() == {"Counter": [results[0]["pid"]]}


@pytest.mark.asyncio
async def test_context_has_the_lambda_fields(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(
        spec("Ctx", "basic.context_info", timeout_s=2.0, memory_mb=512), region="eu-central-1", account_id="111122223333"
    )

    outcome = await invoker.invoke("Ctx", {}, "8f5e7c4a-request")

    assert isinstance(outcome, Succeeded)
    ctx = outcome.result
    assert ctx["function_name"] == "Ctx"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == "arn:aws:lambda:eu-central-1:111122223333:function:Ctx"
    assert ctx["memory_limit_in_mb"] == "512"  # a str, as awslambdaric gives it
    assert ctx["aws_request_id"] == "8f5e7c4a-request"
    assert ctx["log_group_name"] == "/aws/lambda/Ctx"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", ctx["log_stream_name"])
    assert ctx["identity"] is None and ctx["client_context"] is None
    assert 0 < ctx["remaining"] <= 2000
    assert ctx["cwd"] == ctx["sys_path_0"] == str(HANDLERS.resolve())


@pytest.mark.asyncio
async def test_handler_output_reaches_the_log_between_start_and_report(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Chatty", "basic.chatty"))

    outcome = await invoker.invoke("Chatty", {}, "req-42")

    assert isinstance(outcome, Succeeded) and outcome.result == "ok"
    lines = log.lines("Chatty")  # all there when invoke returns: no waiting
    assert lines[:3] == ["START RequestId: req-42 Version: $LATEST", "to stdout", "to stderr"]
    assert lines[3].startswith("[INFO]\t") and lines[3].endswith("Z\treq-42\tthrough logging")
    assert lines[4] == "END RequestId: req-42"
    assert lines[5].startswith("REPORT RequestId: req-42\tDuration: ")
    assert "\tBilled Duration: " in lines[5] and "\tMemory Size: 128 MB\tMax Memory Used: " in lines[5]
    assert "\tInit Duration: " in lines[5]  # the cold start's REPORT only
    await invoker.invoke("Chatty", {}, "req-43")
    assert "Init Duration" not in log.lines("Chatty")[-1]


@pytest.mark.asyncio
async def test_a_quiet_invocations_lines_come_with_its_result_in_order(make_invoker: MakeInvoker, log: Log) -> None:
    # Nothing printed: START/END/REPORT travel in the result frame, and are logged
    # before the outcome is handed on, in order, for every invocation.
    invoker = make_invoker(spec("Quiet", "basic.quiet"))
    for request_id in ("q-1", "q-2"):
        assert await invoker.invoke("Quiet", {}, request_id) == Succeeded("ok", pytest.approx(0, abs=10_000))
    lines = log.lines("Quiet")
    assert [line.split("\t")[0] for line in lines] == [
        "START RequestId: q-1 Version: $LATEST", "END RequestId: q-1", "REPORT RequestId: q-1",
        "START RequestId: q-2 Version: $LATEST", "END RequestId: q-2", "REPORT RequestId: q-2",
    ]


@pytest.mark.asyncio
async def test_bytes_written_under_sys_stdout_are_logged_inside_their_invocation(
    make_invoker: MakeInvoker, log: Log,
) -> None:
    # sys.stdout.buffer.write bypasses the text layer (no START yet, no flush): the
    # bytes must still be logged before the invocation's REPORT, not at a later one.
    invoker = make_invoker(spec("Bytes", "basic.bytes_unflushed"))
    await invoker.invoke("Bytes", {}, "b-1")
    lines = log.lines("Bytes")
    assert "through the buffer" in lines
    assert lines.index("through the buffer") < next(i for i, line in enumerate(lines) if line.startswith("REPORT"))


@pytest.mark.asyncio
async def test_exception_is_a_failure_with_its_type_and_traceback(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Boom", "basic.boom"))

    outcome = await invoker.invoke("Boom", {}, "req-1")

    assert isinstance(outcome, Failed)
    assert (outcome.error_type, outcome.error_message) == ("ValueError", "something broke")
    lines = log.lines("Boom")
    error = lines.index("[ERROR] ValueError: something broke")
    assert lines[error + 1] == "Traceback (most recent call last):"
    assert "basic.py" in lines[error + 2] and "in boom" in lines[error + 2]
    assert not any("worker.py" in line for line in lines)
    assert lines[-2:][0] == "END RequestId: req-1"
    assert isinstance(await invoker.invoke("Boom", {}, "req-2"), Failed)  # the worker survives
    assert len(invoker.worker_pids()["Boom"]) == 1


@pytest.mark.asyncio
async def test_timeout_kills_the_worker_and_the_next_call_gets_a_new_one(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep", timeout_s=0.5))
    first = await invoker.invoke("Slow", {"seconds": 0}, "warm-up")
    assert isinstance(first, Succeeded)
    old_pid = first.result["pid"]

    began = time.perf_counter()
    # An hour-long sleep: only the 0.5 s timeout can end it within the deadline.
    outcome = await asyncio.wait_for(invoker.invoke("Slow", {"seconds": 3600}, "req-slow"), DEADLINE_S)
    elapsed = time.perf_counter() - began

    assert isinstance(outcome, TimedOut) and outcome.timeout_s == 0.5
    assert elapsed >= 0.5  # not before its timeout
    assert gone(old_pid)
    assert invoker.worker_pids() == {"Slow": []}
    lines = log.lines("Slow")
    assert lines[-3] == "END RequestId: req-slow"
    assert lines[-2].startswith("REPORT RequestId: req-slow\tDuration: ")
    assert lines[-1].endswith("Z req-slow Task timed out after 0.50 seconds")

    after = await invoker.invoke("Slow", {"seconds": 0}, "req-after")
    assert isinstance(after, Succeeded) and after.result["pid"] != old_pid


@pytest.mark.parametrize(
    ("handler", "reason"), [("basic.exit_hard", "exit status 3"), ("basic.kill_self", "signal: killed")]
)
@pytest.mark.asyncio
async def test_worker_death_is_an_exit_error_and_the_next_call_works(
    make_invoker: MakeInvoker, log: Log, handler: str, reason: str
) -> None:
    invoker = make_invoker(spec("Dies", handler), spec("Echo", "basic.echo"))
    await invoker.start()
    (pid,) = invoker.worker_pids()["Dies"]

    outcome = await invoker.invoke("Dies", {}, "req-1")

    message = f"RequestId: req-1 Error: Runtime exited with error: {reason}"
    assert isinstance(outcome, Failed) and (outcome.error_type, outcome.error_message) == ("Runtime.ExitError", message)
    assert gone(pid)
    assert log.lines("Dies")[-4:-1] == [message, "Runtime.ExitError", "END RequestId: req-1"]
    # the dead worker is replaced on demand (it dies again: the handler is the same)
    again = await invoker.invoke("Dies", {}, "req-2")
    assert isinstance(again, Failed) and again.error_type == "Runtime.ExitError"
    assert isinstance(await invoker.invoke("Echo", {"still": "fine"}, "req-3"), Succeeded)


@pytest.mark.asyncio
async def test_worker_that_died_while_idle_is_replaced(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Counter", "basic.counter"))
    await invoker.start()
    (pid,) = invoker.worker_pids()["Counter"]
    os.kill(pid, signal.SIGKILL)
    await async_wait_until(lambda: not invoker.worker_pids()["Counter"])  # its death was noticed

    outcome = await invoker.invoke("Counter", {}, "req-1")

    assert isinstance(outcome, Succeeded) and outcome.result == {"count": 1, "pid": outcome.result["pid"]}
    assert outcome.result["pid"] != pid


@pytest.mark.asyncio
async def test_import_error_fails_every_invocation_and_is_logged_once(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Broken", "broken.handler"))

    outcomes = [await invoker.invoke("Broken", {}, f"req-{i}") for i in range(2)]

    expected = "Unable to import module 'broken': No module named 'does_not_exist_anywhere'"
    for outcome in outcomes:
        assert isinstance(outcome, Failed)
        assert (outcome.error_type, outcome.error_message) == ("Runtime.ImportModuleError", expected)
    assert log.lines("Broken").count(f"[ERROR] Runtime.ImportModuleError: {expected}") == 1
    assert len(invoker.worker_pids()["Broken"]) == 1  # no respawning


@pytest.mark.asyncio
async def test_module_that_raises_on_import_fails_with_its_own_error(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Raises", "raises_on_import.handler"))

    outcome = await invoker.invoke("Raises", {}, "req-1")

    assert isinstance(outcome, Failed)
    assert (outcome.error_type, outcome.error_message) == ("RuntimeError", "config missing")
    lines = log.lines("Raises")
    assert "[ERROR] RuntimeError: config missing" in lines
    assert any("raises_on_import.py" in line for line in lines)


@pytest.mark.asyncio
async def test_worker_that_exits_during_init_is_an_exit_error(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Exits", "exits_on_import.handler"))
    await invoker.start()  # logs the failed init, does not raise
    assert invoker.worker_pids() == {"Exits": []}

    outcome = await invoker.invoke("Exits", {}, "req-1")

    message = "RequestId: req-1 Error: Runtime exited with error: exit status 7"
    assert isinstance(outcome, Failed) and (outcome.error_type, outcome.error_message) == ("Runtime.ExitError", message)
    lines = log.lines("Exits")
    init_reports = [line for line in lines if line.startswith("INIT_REPORT Init Duration: ")]
    assert len(init_reports) == 2  # start() and the invocation tried once each
    assert all(line.endswith("\tPhase: init\tStatus: error\tError Type: Runtime.ExitError") for line in init_reports)
    assert lines[-2:] == [message, "Runtime.ExitError"]


@pytest.mark.asyncio
async def test_missing_handler_attribute(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Missing", "basic.nope"))

    outcome = await invoker.invoke("Missing", {}, "req-1")

    assert isinstance(outcome, Failed)
    assert outcome.error_type == "Runtime.HandlerNotFound"
    assert outcome.error_message == "Handler 'nope' missing on module 'basic'"


@pytest.mark.asyncio
async def test_result_that_is_not_json_is_a_marshal_error(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Unserialisable", "basic.unserialisable"))

    outcome = await invoker.invoke("Unserialisable", {}, "req-1")

    assert isinstance(outcome, Failed)
    assert outcome.error_type == "Runtime.MarshalError"
    assert outcome.error_message == "Unable to marshal response: Object of type set is not JSON serializable"


@pytest.mark.asyncio
async def test_a_result_that_failed_to_marshal_leaves_no_trace_in_the_next(make_invoker: MakeInvoker) -> None:
    # The worker keeps one JSON encoder; one that raised mid-way may hold marks of the
    # objects it was inside, which would make the same object "circular" next time.
    invoker = make_invoker(spec("Shared", "basic.shared_result"))

    first = await invoker.invoke("Shared", {}, "req-1")
    second = await invoker.invoke("Shared", {"fix": True}, "req-2")

    assert isinstance(first, Failed) and first.error_type == "Runtime.MarshalError"
    assert first.error_message == "Unable to marshal response: Object of type set is not JSON serializable"
    assert second == Succeeded({"value": 1}, second.duration_ms)


@pytest.mark.asyncio
async def test_decimals_in_a_result_become_numbers(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Decimals", "basic.decimals"))

    outcome = await invoker.invoke("Decimals", {}, "req-1")

    assert outcome == Succeeded({"whole": 3, "part": 1.5}, outcome.duration_ms)


@pytest.mark.asyncio
async def test_concurrent_invocations_run_on_separate_workers(make_invoker: MakeInvoker, tmp_path: Path) -> None:
    invoker = make_invoker(spec("Meet", "basic.rendezvous", timeout_s=90.0))
    await invoker.start()
    (tmp_path / "warm").mkdir()
    (tmp_path / "meet").mkdir()
    warm = await invoker.invoke("Meet", {"dir": str(tmp_path / "warm"), "parties": 1}, "warm-1")
    assert isinstance(warm, Succeeded)  # (the second worker starts cold)

    # Each waits until both have arrived: they can only meet while running at once.
    event = {"dir": str(tmp_path / "meet"), "parties": 2}
    outcomes = await asyncio.gather(*(invoker.invoke("Meet", event, f"req-{i}") for i in range(2)))

    assert all(isinstance(o, Succeeded) and o.result["met"] for o in outcomes), outcomes
    pids = {o.result["pid"] for o in outcomes if isinstance(o, Succeeded)}
    assert len(pids) == 2
    assert sorted(pids) == invoker.worker_pids()["Meet"]


@pytest.mark.asyncio
async def test_one_worker_per_function_serialises_invocations(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep"), max_workers_per_function=1)
    await invoker.start()
    began = time.perf_counter()

    outcomes = await asyncio.gather(*(invoker.invoke("Slow", {"seconds": 0.3}, f"req-{i}") for i in range(3)))

    assert time.perf_counter() - began >= 0.9
    assert len({o.result["pid"] for o in outcomes if isinstance(o, Succeeded)}) == 1


@pytest.mark.asyncio
async def test_cancelled_invocation_drops_its_worker(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep_loud", timeout_s=60.0), max_workers_per_function=1)
    await invoker.start()
    (pid,) = invoker.worker_pids()["Slow"]
    task = asyncio.create_task(invoker.invoke("Slow", {"seconds": 3600}, "req-1"))
    await async_wait_until(lambda: "sleeping req-1" in log.lines("Slow"))  # running in the worker

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert gone(pid)
    after = await invoker.invoke("Slow", {"seconds": 0}, "req-2")
    assert isinstance(after, Succeeded) and after.result["pid"] != pid


@pytest.mark.asyncio
async def test_start_prewarms_one_worker_per_function(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Counter", "basic.counter"), spec("Broken", "broken.handler"))

    await invoker.start()

    pids = invoker.worker_pids()
    assert len(pids["Counter"]) == 1 and len(pids["Broken"]) == 1
    outcome = await invoker.invoke("Counter", {}, "req-1")
    assert isinstance(outcome, Succeeded) and [outcome.result["pid"]] == pids["Counter"]


@pytest.mark.asyncio
async def test_unknown_function_is_a_key_error(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Echo", "basic.echo"))

    with pytest.raises(KeyError, match="no function named 'Nope'; known: Echo"):
        await invoker.invoke("Nope", {}, "req-1")


@pytest.mark.asyncio
async def test_close_leaves_no_child_processes(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep_loud", timeout_s=60.0), spec("Echo", "basic.echo"))
    await invoker.start()
    await asyncio.gather(*(invoker.invoke("Slow", {"seconds": 0.2}, f"req-{i}") for i in range(3)))
    busy = asyncio.create_task(invoker.invoke("Slow", {"seconds": 3600}, "req-busy"))
    await async_wait_until(lambda: "sleeping req-busy" in log.lines("Slow"))  # in flight
    pids = [pid for function_pids in invoker.worker_pids().values() for pid in function_pids]
    assert len(pids) >= 4

    await invoker.close()
    await invoker.close()  # idempotent

    assert all(gone(pid) for pid in pids)
    outcome = await busy  # in flight when closed: ends as a worker exit, never raises
    assert isinstance(outcome, Failed) and outcome.error_type == "Runtime.ExitError"
    with pytest.raises(RuntimeError):
        await invoker.invoke("Echo", {}, "req-late")


@pytest.mark.asyncio
async def test_start_line_precedes_output_on_either_stream(make_invoker: MakeInvoker, log: Log) -> None:
    # The worker holds START back until the first output (one pipe write for a
    # quiet handler); whichever stream writes first, START still comes first.
    invoker = make_invoker(spec("Quiet", "basic.echo"), spec("Loud", "basic.stderr_first"))

    await invoker.invoke("Quiet", {"x": 1}, "req-q")
    await invoker.invoke("Loud", {}, "req-l")

    assert log.lines("Quiet")[:2] == ["START RequestId: req-q Version: $LATEST", "END RequestId: req-q"]
    assert log.lines("Quiet")[2].startswith("REPORT RequestId: req-q\t")
    assert log.lines("Loud")[:4] == [
        "START RequestId: req-l Version: $LATEST", "first, to stderr", "then to sys.__stdout__",
        "END RequestId: req-l",
    ]


@pytest.mark.asyncio
async def test_a_line_over_256_kb_is_cut_whole_characters_first(make_invoker: MakeInvoker, log: Log) -> None:
    # 1 + 131072 * 2 bytes: the 256 KB cut falls inside the last "é", which goes too.
    invoker = make_invoker(spec("Long", "basic.write"))

    outcome = await invoker.invoke("Long", {"text": "a" + "é" * 131072 + "\nnext\n"}, "req-long")

    assert isinstance(outcome, Succeeded)
    lines = log.lines("Long")
    assert lines[1] == "a" + "é" * 131071 + "…[truncated 2 bytes]"
    assert lines[2:4] == ["next", "END RequestId: req-long"]


@pytest.mark.asyncio
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
async def test_a_line_the_handler_left_open_ends_before_end(make_invoker: MakeInvoker, log: Log, stream: str) -> None:
    invoker = make_invoker(spec("Open", "basic.write"))

    await invoker.invoke("Open", {"text": "no newline", "stream": stream}, "req-1")
    await invoker.invoke("Open", {"text": "done\n", "stream": stream}, "req-2")

    lines = log.lines("Open")
    assert lines[1:3] == ["no newline", "END RequestId: req-1"]
    assert lines[4:7] == ["START RequestId: req-2 Version: $LATEST", "done", "END RequestId: req-2"]


@pytest.mark.asyncio
async def test_each_invocation_gets_its_trace_id_in_the_environment(make_invoker: MakeInvoker) -> None:
    # As the runtime sets _X_AMZN_TRACE_ID per invocation: the event's X-Amzn-Trace-Id
    # ($connect events carry one), else a new Root for each invocation.
    invoker = make_invoker(spec("EnvFn", "basic.environment"))
    header = "Root=1-65a37ed5-4d5fb1690a272fba7295e30c"
    names = ["_X_AMZN_TRACE_ID"]

    connect = await invoker.invoke("EnvFn", {"names": names, "headers": {"X-Amzn-Trace-Id": header}}, "req-1")
    first = await invoker.invoke("EnvFn", {"names": names}, "req-2")
    second = await invoker.invoke("EnvFn", {"names": names}, "req-3")

    assert isinstance(connect, Succeeded) and connect.result == {"_X_AMZN_TRACE_ID": header}
    traces = [outcome.result["_X_AMZN_TRACE_ID"] for outcome in (first, second) if isinstance(outcome, Succeeded)]
    assert len(traces) == 2 and traces[0] != traces[1]
    assert all(re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", trace) for trace in traces)


# -- invoke_soon: the same invocation without a coroutine (every message's hot path) --


def _soon(invoker: Invoker, function: str, event: dict[str, object], request_id: str):  # type: ignore[no-untyped-def]
    """invoke_soon, its callback's outcomes as a list and a future of the first."""
    heard: list[object] = []
    first: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    def done(outcome: object) -> None:
        heard.append(outcome)
        if not first.done():
            first.set_result(outcome)

    return invoker.invoke_soon(function, event, request_id, done), heard, first


async def _one_busy_worker(invoker: Invoker, log: Log, request_id: str, seconds: float):  # type: ignore[no-untyped-def]
    """Start ``invoker``'s "Slow" function (one worker at most) and keep its worker
    busy for ``seconds``: its pid and the awaited invocation's task."""
    await invoker.start()
    (pid,) = invoker.worker_pids()["Slow"]
    busy = asyncio.create_task(invoker.invoke("Slow", {"seconds": seconds}, request_id))
    await async_wait_until(lambda: f"sleeping {request_id}" in log.lines("Slow"))  # running in the worker
    return pid, busy


@pytest.mark.asyncio
async def test_invoke_soon_declines_where_a_worker_must_start_and_starts_nothing(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep"))
    cancel, heard, _ = _soon(invoker, "Slow", {"seconds": 0}, "cold")  # nothing warm yet
    assert cancel is None and invoker.worker_pids() == {"Slow": []}
    await invoker.start()
    busy = asyncio.create_task(invoker.invoke("Slow", {"seconds": 0.3}, "busy"))
    await asyncio.sleep(0.1)
    cancel, heard, _ = _soon(invoker, "Slow", {"seconds": 0}, "while-busy")  # a second worker would start
    assert cancel is None
    assert isinstance(await busy, Succeeded)
    await asyncio.sleep(0.1)
    assert heard == [] and len(invoker.worker_pids()["Slow"]) == 1
    with pytest.raises(KeyError, match="no function named 'Nope'"):
        _soon(invoker, "Nope", {}, "x")


@pytest.mark.asyncio
async def test_invoke_soon_queues_behind_busy_workers_in_order(make_invoker: MakeInvoker, log: Log) -> None:
    # The function has its maximum of workers, all busy: started calls wait for the
    # first that comes free, in the order they came, with awaited ones among them.
    invoker = make_invoker(spec("Slow", "basic.sleep_loud"), max_workers_per_function=1)
    pid, busy = await _one_busy_worker(invoker, log, "q-0", 0.3)
    first = _soon(invoker, "Slow", {"seconds": 0}, "q-1")
    awaited = asyncio.create_task(invoker.invoke("Slow", {"seconds": 0}, "q-2"))
    await asyncio.sleep(0)
    third = _soon(invoker, "Slow", {"seconds": 0}, "q-3")
    assert first[0] is not None and third[0] is not None and first[1] == third[1] == []
    outcomes = [await busy, await asyncio.wait_for(first[2], DEADLINE_S), await awaited,
                await asyncio.wait_for(third[2], DEADLINE_S)]
    assert all(isinstance(o, Succeeded) and o.result["pid"] == pid for o in outcomes)
    assert [line for line in log.lines("Slow") if line.startswith("sleeping ")] == [
        "sleeping q-0", "sleeping q-1", "sleeping q-2", "sleeping q-3"]


@pytest.mark.asyncio
async def test_invoke_soon_cancelled_in_the_queue_never_runs(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep_loud"), max_workers_per_function=1)
    _, busy = await _one_busy_worker(invoker, log, "c-0", 0.2)
    cancel, heard, _ = _soon(invoker, "Slow", {"seconds": 0}, "c-1")
    assert cancel is not None
    cancel()
    assert isinstance(await busy, Succeeded)
    after = await asyncio.wait_for(invoker.invoke("Slow", {"seconds": 0}, "c-2"), DEADLINE_S)  # the worker is free
    assert isinstance(after, Succeeded) and heard == []
    assert "sleeping c-1" not in log.lines("Slow")


@pytest.mark.asyncio
async def test_invoke_soon_queued_when_the_invoker_closes_is_a_failure(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep_loud", timeout_s=60.0), max_workers_per_function=1)
    _, busy = await _one_busy_worker(invoker, log, "z-0", 3600)
    _, heard, first = _soon(invoker, "Slow", {"seconds": 0}, "z-1")
    await invoker.close()
    outcome = await asyncio.wait_for(first, DEADLINE_S)
    assert isinstance(outcome, Failed) and outcome.error_message == "the invoker is closed"
    assert isinstance(await busy, Failed)  # in flight when closed: a worker exit
    assert len(heard) == 1


@pytest.mark.asyncio
async def test_invoke_soon_calls_back_once_with_what_invoke_returns(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Echo", "basic.echo"), spec("Boom", "basic.boom"), spec("Chatty", "basic.chatty"))
    await invoker.start()
    event = {"body": "héllo", "n": [1, 2.5, None, True]}
    cancel, heard, first = _soon(invoker, "Echo", event, "s-1")
    assert cancel is not None and heard == []  # never before it returns
    outcome = await asyncio.wait_for(first, DEADLINE_S)
    awaited = await invoker.invoke("Echo", event, "s-2")
    assert isinstance(outcome, Succeeded) and isinstance(awaited, Succeeded) and outcome.result == awaited.result == event
    _, _, failed = _soon(invoker, "Boom", {}, "s-3")
    outcome = await asyncio.wait_for(failed, DEADLINE_S)
    assert isinstance(outcome, Failed) and (outcome.error_type, outcome.error_message) == ("ValueError", "something broke")
    # A handler's own output: every line through REPORT is logged before the callback.
    _, _, chatty = _soon(invoker, "Chatty", {}, "s-4")
    await asyncio.wait_for(chatty, DEADLINE_S)
    assert log.lines("Chatty")[-1].startswith("REPORT RequestId: s-4\t")
    await asyncio.sleep(0.05)
    assert len(heard) == 1
    assert len(invoker.worker_pids()["Echo"]) == 1  # the worker went back to serve


@pytest.mark.asyncio
async def test_invoke_soon_waits_for_the_report_of_output_larger_than_one_read(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Long", "basic.write"))
    await invoker.start()
    _, _, first = _soon(invoker, "Long", {"text": ("x" * 1000 + "\n") * 2000}, "big")
    assert isinstance(await asyncio.wait_for(first, DEADLINE_S), Succeeded)
    lines = log.lines("Long")
    assert lines[-2:][0] == "END RequestId: big" and lines[-1].startswith("REPORT RequestId: big\t")
    assert lines.count("x" * 1000) == 2000


@pytest.mark.asyncio
async def test_invoke_soon_times_out_and_the_worker_is_replaced(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep", timeout_s=0.5))
    await invoker.start()
    (pid,) = invoker.worker_pids()["Slow"]
    _, heard, first = _soon(invoker, "Slow", {"seconds": 3600}, "slow")
    outcome = await asyncio.wait_for(first, DEADLINE_S)
    assert isinstance(outcome, TimedOut) and outcome.timeout_s == 0.5
    assert gone(pid) and invoker.worker_pids() == {"Slow": []}
    assert log.lines("Slow")[-1].endswith("Z slow Task timed out after 0.50 seconds")
    after = await invoker.invoke("Slow", {"seconds": 0}, "after")
    assert isinstance(after, Succeeded) and after.result["pid"] != pid
    assert len(heard) == 1


@pytest.mark.asyncio
async def test_invoke_soon_reports_a_worker_that_died_as_an_exit_error(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Dies", "basic.exit_hard"))
    await invoker.start()
    _, _, first = _soon(invoker, "Dies", {}, "d-1")
    outcome = await asyncio.wait_for(first, DEADLINE_S)
    message = "RequestId: d-1 Error: Runtime exited with error: exit status 3"
    assert isinstance(outcome, Failed) and (outcome.error_type, outcome.error_message) == ("Runtime.ExitError", message)
    assert log.lines("Dies")[-4:-1] == [message, "Runtime.ExitError", "END RequestId: d-1"]


@pytest.mark.asyncio
async def test_invoke_soon_cancelled_kills_its_worker_and_never_calls_back(make_invoker: MakeInvoker, log: Log) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep_loud", timeout_s=60.0), max_workers_per_function=1)
    await invoker.start()
    (pid,) = invoker.worker_pids()["Slow"]
    cancel, heard, _ = _soon(invoker, "Slow", {"seconds": 3600}, "c-1")
    assert cancel is not None
    await async_wait_until(lambda: "sleeping c-1" in log.lines("Slow"))  # running in the worker
    cancel()
    await async_wait_until(lambda: gone(pid))
    after = await invoker.invoke("Slow", {"seconds": 0}, "c-2")  # its slot is free again
    assert isinstance(after, Succeeded) and after.result["pid"] != pid
    cancel()  # again: nothing happens
    assert heard == []


@pytest.mark.asyncio
async def test_invoke_soon_raises_for_an_event_that_is_not_json_and_keeps_the_worker(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Echo", "basic.echo"), max_workers_per_function=1)
    await invoker.start()
    (pid,) = invoker.worker_pids()["Echo"]
    with pytest.raises(TypeError):
        _soon(invoker, "Echo", {"not json": object()}, "bad")
    cancel, _, first = _soon(invoker, "Echo", {"ok": 1}, "good")  # the same worker, idle again
    assert cancel is not None
    outcome = await asyncio.wait_for(first, DEADLINE_S)
    assert isinstance(outcome, Succeeded) and invoker.worker_pids()["Echo"] == [pid]


@pytest.mark.asyncio
async def test_invoke_soon_queued_behind_a_worker_that_dies_gets_a_new_one(make_invoker: MakeInvoker, log: Log) -> None:
    # The busy worker times out and is killed: its slot, not a worker, goes to the
    # queued call, which starts a worker of its own in it.
    invoker = make_invoker(spec("Slow", "basic.sleep_loud", timeout_s=0.5), max_workers_per_function=1)
    pid, busy = await _one_busy_worker(invoker, log, "t-0", 3600)
    _, heard, first = _soon(invoker, "Slow", {"seconds": 0}, "t-1")
    assert isinstance(await busy, TimedOut)
    outcome = await asyncio.wait_for(first, DEADLINE_S)
    assert isinstance(outcome, Succeeded) and outcome.result["pid"] != pid
    assert invoker.worker_pids()["Slow"] == [outcome.result["pid"]] and len(heard) == 1


@pytest.mark.asyncio
async def test_an_answer_that_is_not_a_result_fails_the_invocation_and_kills_the_worker(make_invoker: MakeInvoker) -> None:
    invoker = make_invoker(spec("Bogus", "basic.bogus_frame", timeout_s=60.0))
    await invoker.start()
    (pid,) = invoker.worker_pids()["Bogus"]
    _, heard, first = _soon(invoker, "Bogus", {}, "b-1")
    outcome = await asyncio.wait_for(first, DEADLINE_S)
    assert isinstance(outcome, Failed) and outcome.error_type == "Runtime.Unknown"
    await async_wait_until(lambda: gone(pid))
    # Awaited, the same answer raises out of invoke() (InvokerIntegrations.run makes
    # it a Runtime.Unknown failure), and that worker is killed too.
    with pytest.raises(Exception):
        await asyncio.wait_for(invoker.invoke("Bogus", {}, "b-2"), DEADLINE_S)
    assert invoker.worker_pids()["Bogus"] == [] and len(heard) == 1


@pytest.mark.asyncio
async def test_invoke_soon_fails_rather_than_hangs_when_starting_its_worker_breaks(
    make_invoker: MakeInvoker, log: Log, monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoker = make_invoker(spec("Slow", "basic.sleep_loud", timeout_s=0.5), max_workers_per_function=1)
    _, busy = await _one_busy_worker(invoker, log, "u-0", 3600)
    _, heard, first = _soon(invoker, "Slow", {"seconds": 0}, "u-1")

    async def broken(self: object) -> None:
        raise RuntimeError("cannot start")

    monkeypatch.setattr(WorkerPool, "start_in_slot", broken)
    assert isinstance(await busy, TimedOut)  # its slot goes to the queued call, which cannot start a worker
    outcome = await asyncio.wait_for(first, DEADLINE_S)
    assert isinstance(outcome, Failed) and (outcome.error_type, outcome.error_message) == ("Runtime.Unknown", "cannot start")
    assert len(heard) == 1



@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="lists descriptors in /proc (Linux)")
@pytest.mark.asyncio
async def test_a_handlers_child_processes_do_not_inherit_the_frame_pipes(make_invoker: MakeInvoker) -> None:
    # One that outlived its worker, holding the pipe to the invoker, would hide the worker's exit.
    invoker = make_invoker(spec("Child", "basic.inherited_frame_pipes"))
    outcome = await invoker.invoke("Child", {}, "req-1")
    assert outcome == Succeeded([], outcome.duration_ms)


def _voluntary_switches(pid: int) -> int:
    """How many times process ``pid`` has blocked (Linux: /proc/PID/status)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.MULTILINE).group(1))  # type: ignore[union-attr]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads context switches from /proc (Linux)")
@pytest.mark.asyncio
async def test_reading_a_reply_does_not_wake_the_worker(make_invoker: MakeInvoker) -> None:
    # frames.py: over one socketpair, the invoker reading a reply woke the worker, asleep
    # waiting for its next frame (Linux's unix_write_space), which then slept again: it
    # blocked twice per invocation. Over two pipes it blocks once. Here the invoker is
    # busy (the loop blocked on purpose) until the worker has answered and is waiting.
    invoker = make_invoker(spec("Quiet", "basic.quiet"))
    await invoker.start()
    (pid,) = invoker.worker_pids()["Quiet"]
    assert isinstance(await invoker.invoke("Quiet", {}, "warm"), Succeeded)
    before = _voluntary_switches(pid)
    for number in range(100):
        cancel, _, answered = _soon(invoker, "Quiet", {}, f"req-{number}")
        assert cancel is not None  # sent at once: the worker is idle
        time.sleep(0.003)
        assert isinstance(await answered, Succeeded)
    blocked = _voluntary_switches(pid) - before
    assert 100 <= blocked < 130, f"the worker blocked {blocked} times in 100 invocations"
