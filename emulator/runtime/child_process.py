"""A child process spawned by the standard library and watched on the event loop.

:class:`ChildProcess` stands in for the subprocess transport that
``loop.subprocess_exec`` would give a worker: the part of it that
:class:`~emulator.runtime.worker_process.WorkerProcess` uses (its protocol hears
``pipe_data_received(1, data)``, ``pipe_connection_lost(1, exc)`` and
``process_exited()``; it calls ``get_pid``, ``get_returncode``, ``terminate``,
``kill`` and ``close``). Why not ``loop.subprocess_exec``: under uvloop (run-local's
loop) each spawn forks the whole gateway and blocks the loop until the child has
exec'd, 9–10 ms with run-local's ~80 MB resident (4 ms of it CPU), where
:class:`subprocess.Popen` (``vfork``) takes 0.7 ms; a start spawns one worker per
function, a reload one per changed function, a busy function one per extra worker.

The child's stdout (stderr joined to it) is read with ``loop.connect_read_pipe``; its
exit is seen through a pidfd (Linux 5.3+: readable once the child exits, then reaped
with ``waitpid``), or else by a thread blocked in ``waitpid``, as asyncio's own
``ThreadedChildWatcher`` does. Either way only this child is reaped, never another.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from typing import Literal, Mapping, Protocol, Sequence

__all__ = ["ChildProcess", "ChildProtocol"]


class ChildProtocol(Protocol):
    """What a :class:`ChildProcess` tells its owner (the subprocess protocol's names)."""

    def pipe_data_received(self, fd: int, data: bytes) -> None: ...

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None: ...

    def process_exited(self) -> None: ...


class _OutputReader(asyncio.Protocol):
    """The read end of the child's stdout pipe, forwarded to the child's protocol as fd 1."""

    def __init__(self, owner: ChildProtocol) -> None:
        self._owner = owner

    def data_received(self, data: bytes) -> None:
        self._owner.pipe_data_received(1, data)

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.pipe_connection_lost(1, exc)


class ChildProcess:
    """One child: started by :meth:`spawn`, reaped when it exits (see the module docstring)."""

    def __init__(self, popen: subprocess.Popen[bytes], protocol: ChildProtocol) -> None:
        self._popen = popen
        self._protocol = protocol
        self._loop = asyncio.get_running_loop()
        self._output: asyncio.BaseTransport | None = None
        self._pidfd: int | None = None
        self._exited = False

    @classmethod
    async def spawn(
        cls, protocol: ChildProtocol, args: Sequence[str], *, env: Mapping[str, str], pass_fds: Sequence[int] = (),
        watch: Literal["pidfd", "thread"] = "pidfd",
    ) -> ChildProcess:
        """Start ``args`` with ``env`` and the descriptors ``pass_fds`` (stdin from
        /dev/null; stdout and stderr on one pipe, read into ``protocol``). Raises
        ``OSError`` if it cannot be started. ``watch="thread"`` uses the thread even
        where pidfds exist (tests)."""
        popen = subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            pass_fds=tuple(pass_fds), env=dict(env),
        )  # fmt: skip
        child = cls(popen, protocol)
        child._watch(watch)  # from now on it is reaped whatever happens
        try:
            assert popen.stdout is not None
            child._output, _ = await child._loop.connect_read_pipe(lambda: _OutputReader(protocol), popen.stdout)
        except BaseException:
            child.close()
            raise
        return child

    def _watch(self, how: Literal["pidfd", "thread"]) -> None:
        pidfd_open = getattr(os, "pidfd_open", None)
        if how == "pidfd" and pidfd_open is not None:
            try:
                self._pidfd = pidfd_open(self._popen.pid)
            except OSError:  # a kernel before 5.3 (ENOSYS), or a seccomp filter
                pass
            else:
                self._loop.add_reader(self._pidfd, self._reap)
                return
        threading.Thread(target=self._wait_in_thread, name=f"wsgw-wait-{self._popen.pid}", daemon=True).start()

    def _reap(self) -> None:
        """The pidfd is readable: the child has exited; collect its status."""
        if self._popen.poll() is None:
            return  # not yet (a spurious wake-up)
        assert self._pidfd is not None
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        self._exit()

    def _wait_in_thread(self) -> None:
        self._popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._exit)

    def _exit(self) -> None:
        if not self._exited:
            self._exited = True
            self._protocol.process_exited()

    # -- what WorkerProcess calls (asyncio.SubprocessTransport's names) ----------

    def get_pid(self) -> int:
        return self._popen.pid

    def get_returncode(self) -> int | None:
        """The exit status once reaped (negative: the signal that ended it)."""
        return self._popen.returncode

    def terminate(self) -> None:
        self._popen.terminate()  # nothing once it has been reaped: its pid may be another's

    def kill(self) -> None:
        self._popen.kill()

    def close(self) -> None:
        """Kill the child if it still runs (as a subprocess transport's ``close``
        does) and stop reading its output; it is still reaped when it exits."""
        if self._popen.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._popen.kill()
        if self._output is not None:
            self._output.close()
