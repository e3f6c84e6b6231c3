"""A handler module that raises while it is imported (tests/test_invoker.py)."""

raise RuntimeError("config missing")
