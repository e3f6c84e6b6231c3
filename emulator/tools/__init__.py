"""What a person runs beside the gateway: the admin commands (connections, post,
broadcast, disconnect), the interactive client, the local state file that lets them
find a running gateway, and run-local's console log.

May import: ``emulator.core``, ``net``, ``runtime``, ``aws``, ``template`` and ``app``
(not ``testing``, ``commands`` or ``reload``).
"""

__all__ = ["admin", "console", "interactive_client", "local_state"]
