"""The pure core: API Gateway's WebSocket rules as plain code that takes values and
returns values (no sockets, no ``await``, no clock reads; the clock and ids are injected).

May import: the standard library and ``emulator.core`` only (tests/test_import_rules.py).
"""

__all__ = [
    "arns", "authorizer", "clock", "credentials", "errors", "events", "ids", "invocation", "lambda_api",
    "lifecycle", "loopback", "management", "model", "proxy_result", "registry", "selection", "sigv4",
    "user_dirs",
]
