"""A handler module that ends its process while it is imported (tests/test_invoker.py)."""

import os

os._exit(7)
