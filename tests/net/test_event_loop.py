"""emulator/net/event_loop.py: which loop ``asyncio``/``uvloop``/``auto`` means, and
that :func:`run` really runs a coroutine on it. uvloop's absence is simulated by making
``import uvloop`` fail (``None`` in ``sys.modules``)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from emulator.net import event_loop

uvloop = pytest.importorskip("uvloop")  # a declared dependency outside Windows


@pytest.fixture
def without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)


async def _loop_and_sum(numbers: list[int]) -> tuple[asyncio.AbstractEventLoop, int]:
    """The running loop and a sum computed across a few real awaits."""
    await asyncio.sleep(0)
    total = sum(await asyncio.gather(*(asyncio.sleep(0, result=n) for n in numbers)))
    return asyncio.get_running_loop(), total


def test_explicit_choices_mean_themselves() -> None:
    assert event_loop.resolve("asyncio") == "asyncio"
    assert event_loop.resolve("uvloop") == "uvloop"


def test_auto_prefers_uvloop_when_installed() -> None:
    assert event_loop.resolve("auto") == "uvloop"


def test_auto_falls_back_to_asyncio_without_uvloop(without_uvloop: None) -> None:
    assert event_loop.resolve("auto") == "asyncio"
    assert event_loop.resolve("asyncio") == "asyncio"
    loop, total = event_loop.run(_loop_and_sum([1, 2, 3]), "auto")
    assert total == 6
    assert isinstance(loop, asyncio.BaseEventLoop) and not isinstance(loop, uvloop.Loop)


def test_uvloop_without_uvloop_is_an_import_error(without_uvloop: None) -> None:
    coroutine = _loop_and_sum([1])
    with pytest.raises(ImportError):
        event_loop.run(coroutine, "uvloop")
    coroutine.close()  # never started


@pytest.mark.parametrize("choice, uses_uvloop", [("asyncio", False), ("uvloop", True), ("auto", True)])
def test_run_runs_the_coroutine_on_the_chosen_loop(choice: event_loop.LoopChoice, uses_uvloop: bool) -> None:
    loop, total = event_loop.run(_loop_and_sum([4, 5, 6]), choice)
    assert total == 15
    assert isinstance(loop, uvloop.Loop) is uses_uvloop
    assert loop.is_closed()  # like asyncio.run: the loop is closed afterwards


def test_run_raises_what_the_coroutine_raises() -> None:
    async def fails() -> None:
        await asyncio.sleep(0)
        raise KeyError("from the coroutine")

    choices: list[event_loop.LoopChoice] = ["asyncio", "uvloop"]
    for choice in choices:
        with pytest.raises(KeyError, match="from the coroutine"):
            event_loop.run(fails(), choice)


@pytest.mark.parametrize("choice, uses_uvloop", [("asyncio", False), ("uvloop", True)])
def test_a_runner_keeps_one_loop_across_runs(choice: event_loop.LoopChoice, uses_uvloop: bool) -> None:
    # run-local starts a child process on the loop, works synchronously, then serves:
    # what the first run started is still bound to the loop the second run uses.
    async def remember() -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, future.set_result, 7)
        return future

    with event_loop.runner(choice) as loop_runner:
        pending = loop_runner.run(remember())
        assert loop_runner.run(_wait(pending)) == 7
        loop = loop_runner.get_loop()
        assert isinstance(loop, uvloop.Loop) is uses_uvloop
    assert loop.is_closed()


async def _wait(future: asyncio.Future[int]) -> int:
    return await future


def test_a_loop_thread_runs_coroutines_until_closed() -> None:
    thread = event_loop.LoopThread("test-loop")
    assert not thread.running
    thread.start()
    thread.start()  # once
    loop, total = thread.run(_loop_and_sum([1, 2]))
    assert total == 3 and loop is thread.loop and thread.running
    thread.close()
    assert not thread.running and thread.loop.is_closed()
    thread.close()  # again: nothing left to do
