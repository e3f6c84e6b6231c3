"""wsgw's emulator: a local twin of an AWS API Gateway WebSocket API.

Pure modules (no sockets, no ``await``, no clock reads): ``model``, ``selection``,
``events``, ``ids``, ``clock``, ``registry``, ``gateway``, ``management``, ``errors``,
``invocation``, ``config``.  I/O adapters: ``server`` (sockets, TLS), ``invoker`` and
``worker`` (handler processes), ``aws_services`` (embedded moto), ``tls`` (local CA).
``app`` wires them together.
"""
