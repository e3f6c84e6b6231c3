"""The live inspector: what happened on the gateway, in a browser page served on the
gateway's own port (``/@inspector/``). ``records`` (the bounded ring), ``views``
(rows, details, the connections table) and ``masking`` are pure; ``recorder`` keeps
the gateway's records (``core/activity.py``) while a page is open; ``server`` is the
page's HTTP side, a mount on net's listener; ``index.html``, ``inspector.js`` and
``inspector.css`` are the page (plain HTML, CSS and JS, shipped as package data).

May import: ``core`` (the values it records) and ``net`` (the mount contract it
implements); the composition root wires it, nothing below ``app`` imports it.

Import from the modules themselves (``emulator.inspector.server`` and so on): this
package's own import stays free, because run-local reads :data:`DEFAULT_RING_SIZE`
for its options before the rest of wsgw is imported (emulator/commands/run_local.py).
"""

__all__ = ["DEFAULT_RING_SIZE"]

DEFAULT_RING_SIZE = 10_000  # records kept (run-local --inspector-records)
