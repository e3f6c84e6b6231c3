"""A handler module whose import fails, for tests/test_invoker.py."""

import does_not_exist_anywhere  # noqa: F401


def handler(event, context):
    return "never"
