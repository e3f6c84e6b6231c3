"""The embedded moto a pytest session launches before it imports the gateway.

The first test that asks for a wsgw fixture pays for the gateway's start: about half
a second of imports in the pytest process (the gateway's modules), then the embedded
moto's child (most of a second importing moto), the workers and the app. The child
needs neither, so :meth:`EarlyMoto.launch` starts it first, on the loop thread the
gateway will run on (a child process stays bound to the loop that started it), and
those imports overlap its own on another core. The session's first gateway takes it
over (``LocalGateway(aws=...)`` on :class:`~emulator.app.GatewayThread` with the same
loop thread); if no gateway starts, the pool stops it at the session's end.

This module imports little, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..aws.embedded import EmbeddedAws
from ..net.event_loop import LoopThread

__all__ = ["EarlyMoto"]


@dataclass(frozen=True)
class EarlyMoto:
    """A launched embedded moto (no tables yet) and the loop thread it belongs to."""

    loop_thread: LoopThread
    aws: EmbeddedAws

    @classmethod
    def launch(cls) -> EarlyMoto:
        """Start a loop thread and launch the child on it (returns at once)."""
        loop_thread = LoopThread("wsgw-gateway")
        loop_thread.start()
        aws = EmbeddedAws()
        try:
            loop_thread.run(aws.launch())
        except BaseException:
            loop_thread.close()
            raise
        return cls(loop_thread, aws)

    def stop(self) -> None:
        """Stop the child and the loop thread (when no gateway took them over)."""
        try:
            self.loop_thread.run(self.aws.stop())
        finally:
            self.loop_thread.close()
