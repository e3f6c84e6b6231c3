"""The pure core: API Gateway's WebSocket rules as plain code that takes values and
returns values (no sockets, no ``await``, no clock reads; the clock and ids are injected).

May import: the standard library and ``emulator.core`` only (tests/test_import_rules.py).
"""

__all__ = [
    "authorizer", "clock", "errors", "events", "ids", "invocation", "gateway", "lambda_api",
    "management", "model", "registry", "selection", "sigv4",
]
