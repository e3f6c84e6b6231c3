"""emulator.runtime.child_process: real children, their output, their exit, their reaping,
under asyncio's loop and uvloop, with a pidfd and with a waiting thread."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Literal

import pytest
import uvloop

from emulator.runtime.child_process import ChildProcess

WATCHES: list[Literal["pidfd", "thread"]] = ["pidfd", "thread"]


class Heard:
    """A child's protocol that keeps what it was told."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.output = bytearray()
        self.lost: list[Exception | None] = []
        self.exited = loop.create_future()
        self.output_closed = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        assert fd == 1
        self.output += data

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.lost.append(exc)
        self.output_closed.set_result(None)

    def process_exited(self) -> None:
        assert not self.exited.done(), "process_exited twice"
        self.exited.set_result(None)


def _python(code: str) -> list[str]:
    return [sys.executable, "-I", "-c", code]


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # not our child any more: someone (the ChildProcess) reaped it
    return False


def _on_both_loops(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())
    uvloop.run(test())


@pytest.mark.parametrize("watch", WATCHES)
def test_output_exit_status_and_reaping(watch: Literal["pidfd", "thread"]) -> None:
    async def run() -> None:
        heard = Heard()
        code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
        child = await ChildProcess.spawn(heard, _python(code), env={}, watch=watch)
        await asyncio.wait_for(asyncio.gather(heard.exited, heard.output_closed), 30)
        assert sorted(bytes(heard.output).splitlines()) == [b"err", b"out"]  # stderr joins stdout
        assert heard.lost == [None]
        assert child.get_returncode() == 3
        assert _reaped(child.get_pid())
        child.close()  # after the exit: nothing left to do, no error

    _on_both_loops(run)


@pytest.mark.parametrize("watch", WATCHES)
def test_kill_and_close_of_a_running_child(watch: Literal["pidfd", "thread"]) -> None:
    async def run() -> None:
        for stop in ("kill", "terminate", "close"):
            heard = Heard()
            child = await ChildProcess.spawn(heard, _python("import time; time.sleep(60)"), env={}, watch=watch)
            assert child.get_returncode() is None
            getattr(child, stop)()
            await asyncio.wait_for(heard.exited, 30)
            assert child.get_returncode() == (-15 if stop == "terminate" else -9)
            assert _reaped(child.get_pid())
            child.kill()  # once reaped, its pid may be another process's: nothing is sent

    _on_both_loops(run)


def test_environment_descriptors_and_stdin() -> None:
    async def run() -> None:
        heard = Heard()
        ours, theirs = socket.socketpair()
        with ours, theirs:
            code = ("import os, socket, sys; s = socket.socket(fileno=int(sys.argv[1])); "
                    "s.sendall(repr((sorted(os.environ.items()), sys.stdin.read())).encode()); s.close()")
            await ChildProcess.spawn(heard, [*_python(code), str(theirs.fileno())],
                                     env={"ONLY": "this"}, pass_fds=[theirs.fileno()])  # fmt: skip
            theirs.close()
            await asyncio.wait_for(heard.exited, 30)
            received = ours.recv(65536)
        environ, stdin = eval(received)  # noqa: S307 - our own child's repr of two plain values
        assert ("ONLY", "this") in environ and "PATH" not in dict(environ)
        assert stdin == ""  # /dev/null

    _on_both_loops(run)


def test_a_program_that_cannot_start_raises() -> None:
    async def run() -> None:
        with pytest.raises(FileNotFoundError):
            await ChildProcess.spawn(Heard(), ["/nonexistent/wsgw-no-such-program"], env={})

    _on_both_loops(run)
