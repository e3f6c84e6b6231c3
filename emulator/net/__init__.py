"""Sockets and protocols: the one listening port (ws, wss, http, https), the WebSocket
and HTTP sessions it hands each client to, the local TLS material, the event loop.

May import: the standard library, websockets/h11/cryptography/uvloop, and ``emulator.core``.
"""

__all__ = ["event_loop", "http_mount", "http_session", "listener", "open_connections", "session_host", "tls", "websocket_session"]
