"""The Lambda execution side: the invoker's warm worker pools, the worker processes
(``worker.py`` runs inside them, standard library only), the environment a function
runs with, and the integrations the listener calls.

May import: the standard library, orjson (``wire_json``), debugpy (``worker_debug``, when
installed) and ``emulator.core``.
"""

__all__ = ["endpoint_redirect", "environment", "integrations", "invoker", "wire_json", "worker", "worker_debug", "worker_process"]
