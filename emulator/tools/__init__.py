"""What a person runs beside the gateway: the admin commands (connections, post,
broadcast, disconnect), the interactive client, the local state file that lets them
find a running gateway, and run-local's console log.

May import: anything in ``emulator`` but ``testing``.
"""

__all__ = ["admin", "console", "interactive_client", "local_state"]
