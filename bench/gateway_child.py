"""wsgw as a bench child: a :class:`~emulator.app.LocalGateway` on a free port.

Everything ``wsgw run-local`` starts is started here too (worker pool, embedded
moto, TLS material in a throw-away folder), and all of it is stopped with
``await gateway.stop()`` on the way out. Function log lines are discarded, as a
terminal that printed them would otherwise be part of the measurement.

Run as ``python -m bench.gateway_child --app PATH``; see :mod:`bench.lifecycle`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from emulator import event_loop
from emulator.app import GatewayOptions, LocalGateway
from emulator.config import load_app
from emulator.errors import WsgwError

from .lifecycle import announce, wait_for_stop


def _discard(function: str, line: str) -> None:
    """Function log sink that drops every line."""


async def serve_until_stopped(app: Path) -> None:
    """Serve ``app`` on 127.0.0.1 (free port) until told to stop; always stop it."""
    model = load_app(app)
    with tempfile.TemporaryDirectory(prefix="wsgw-bench-tls-") as tls_dir:
        gateway = LocalGateway(model, GatewayOptions(port=0, tls_dir=Path(tls_dir)), function_log=_discard)
        try:
            await gateway.start()
            announce(gateway.ws_url)
            await wait_for_stop()
        finally:
            await gateway.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gateway_child", description=__doc__)
    parser.add_argument("--app", type=Path, required=True, help="app description (wsgw.json) to serve")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="event loop")
    args = parser.parse_args(argv)
    try:
        event_loop.run(serve_until_stopped(args.app), args.loop)
    except WsgwError as exc:
        sys.stderr.write(f"wsgw: error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
