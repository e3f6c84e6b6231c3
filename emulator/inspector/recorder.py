"""Where the inspector's records come from: taps on the gateway's own decisions.

The composition root (``emulator/app.py``) builds one :class:`Recorder` when the
inspector is on and wires it where the gateway already reports what happened:

* :meth:`Recorder.invocation`, :meth:`Recorder.log_line` and :meth:`Recorder.refusal`
  are the gateway's invocation observer, function log sink and refusal observer (the
  console and the pytest plugin hear the same calls, forwarded by the app);
* :class:`RecordingLifecycle` and :class:`RecordingManagement` are the core's
  :class:`~emulator.core.lifecycle.ConnectionLifecycle` and
  :class:`~emulator.core.management.ManagementApi` with one ``ring.append`` after
  each decision: frames in and out, connects, closes, ``@connections`` calls.

Wrapping the core's objects keeps the message path free of hooks (design: "wrap the
invoker instead"): with the inspector off the plain classes run, and with it on the
extra work per message is a few tuples appended to a deque.

**Recording while watched.** Even those few tuples, six per message, cost about 5 % of
scenario a's throughput (bench/inspector_overhead.py). So by default the recorder only
records while a page is open, and for :data:`LINGER_S` after the last one closed (a
reload or a closed tab keeps its history): with no page open the path pays one
attribute check per report. ``always=True`` (run-local's ``--inspector-record-always``)
records from the start, for a page opened after the fact.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from ..core.events import Handshake
from ..core.invocation import Invoke, Outcome, Succeeded
from ..core.lifecycle import Accept, ConnectDecision, ConnectionLifecycle, Reject, SendText
from ..core.management import Action, HttpResponse, ManagementApi, ManagementRequest, OutboundBacklog
from ..core.errors import ManagementError
from ..net.session_host import Refusal
from .records import (
    Closed, Connected, FrameIn, FrameOut, Invocation, LogLine, Managed, Opened, Refused, Ring,
)

__all__ = ["LINGER_S", "Recorder", "RecordingLifecycle", "RecordingManagement"]

Now = Callable[[], float]
LINGER_S = 600.0  # how long recording goes on after the last page closed


def _no_backlog(connection_id: str) -> int:
    return 0


class Recorder:
    """Appends records to ``ring``, stamped with ``now()`` (seconds since the epoch),
    while :attr:`recording` (see the module docstring)."""

    def __init__(self, ring: Ring, now: Now, *, always: bool = False, linger_s: float = LINGER_S) -> None:
        self.ring = ring
        self.now = now
        self.always = always
        self.linger_s = linger_s
        self.recording = always
        self._stop_later: asyncio.TimerHandle | None = None

    def watched_by(self, pages: int) -> None:
        """Tell how many pages are open now (the inspector calls this on every change):
        recording starts with the first page and stops ``linger_s`` after the last."""
        if self._stop_later is not None:
            self._stop_later.cancel()
            self._stop_later = None
        if pages > 0 or self.always:
            self.recording = True
        elif self.recording:
            try:
                self._stop_later = asyncio.get_running_loop().call_later(self.linger_s, self._stop)
            except RuntimeError:  # no loop: the gateway is gone, nothing more to record
                self.recording = False

    def _stop(self) -> None:
        self._stop_later = None
        self.recording = False

    # -- the gateway's existing report points ------------------------------------

    def invocation(self, invoke: Invoke, outcome: Outcome, injected: bool) -> None:
        """An :data:`~emulator.core.invocation.InvocationObserver`."""
        if self.recording:
            self.ring.append(Invocation(self.now(), invoke, outcome, injected))

    def log_line(self, function: str, line: str) -> None:
        """A function log sink (``LogSink``)."""
        if self.recording:
            self.ring.append(LogLine(self.now(), function, line))

    def refusal(self, refusal: Refusal) -> None:
        """A :data:`~emulator.net.session_host.RefusalObserver`."""
        if self.recording:
            self.ring.append(Refused(self.now(), refusal))


class RecordingLifecycle(ConnectionLifecycle):
    """The connection rules, unchanged, recording what they decide. Build it with
    the :class:`Recorder` first, then :class:`ConnectionLifecycle`'s arguments."""

    def __init__(self, recorder: Recorder, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorder = recorder
        self._ring = recorder.ring
        self._now = recorder.now

    def open(self, handshake: Handshake) -> ConnectDecision:
        decision = super().open(handshake)
        if not self._recorder.recording or isinstance(decision, Reject):
            return decision  # the listener reports it as a refusal
        connection_id = decision.connection_id
        self._ring.append(Opened(self._now(), connection_id, handshake))
        if isinstance(decision, Accept):  # no $connect route: established at once
            self._ring.append(Connected(self._now(), connection_id, decision.subprotocol))
        return decision

    def connect_finished(self, invoke: Invoke, outcome: Outcome) -> Accept | Reject | Invoke:
        decision = super().connect_finished(invoke, outcome)
        if self._recorder.recording and isinstance(decision, Accept):
            self._ring.append(Connected(self._now(), decision.connection_id, decision.subprotocol))
        return decision

    def message(self, connection_id: str, text: str) -> Invoke | SendText:
        decision = super().message(connection_id, text)
        if not self._recorder.recording:
            return decision
        now = self._now()
        if isinstance(decision, SendText):
            self._ring.append(FrameIn(now, connection_id, text, None))
            self._ring.append(FrameOut(now, connection_id, decision.text, "error", None))
        else:
            self._ring.append(FrameIn(now, connection_id, text, decision))
        return decision

    def message_finished(self, invoke: Invoke, outcome: Outcome) -> SendText | None:
        reply = super().message_finished(invoke, outcome)
        if reply is not None and self._recorder.recording:
            cause = "reply" if isinstance(outcome, Succeeded) else "error"
            self._ring.append(FrameOut(self._now(), reply.connection_id, reply.text, cause, invoke.request_id))
        return reply

    def integration_timed_out(self, invoke: Invoke) -> SendText:
        frame = super().integration_timed_out(invoke)
        if self._recorder.recording:
            self._ring.append(FrameOut(self._now(), frame.connection_id, frame.text, "error", invoke.request_id))
        return frame

    def closed(self, connection_id: str, code: int, reason: str) -> Invoke | None:
        invoke = super().closed(connection_id, code, reason)
        if self._recorder.recording:
            self._ring.append(Closed(self._now(), connection_id, code, reason))
        return invoke


class RecordingManagement(ManagementApi):
    """The ``@connections`` rules, unchanged, recording each request and its status.
    Build it with the :class:`Recorder` first, then :class:`ManagementApi`'s arguments."""

    def __init__(self, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._recorder = recorder
        self._ring = recorder.ring
        self._now = recorder.now

    def handle(
        self, request: ManagementRequest, request_id: str, backlog: OutboundBacklog = _no_backlog,
    ) -> tuple[HttpResponse, Action]:
        response, action = super().handle(request, request_id, backlog)
        if not self._recorder.recording:
            return response, action
        try:
            connection_id: str | None = self.connection_id_from(request.target)
        except ManagementError:
            connection_id = None
        self._ring.append(Managed(self._now(), request, response.status, connection_id))
        return response, action
