"""The ``wsgw`` commands, one module per group (run-local; init; synth/deploy/destroy; the
admin commands; connect), each a click command that the root ``cli.py`` adds to its group.

May import: anything in ``emulator`` but ``testing``.
"""

__all__ = ["admin", "cdk", "connect", "failure", "init", "progress", "run_local", "state_file"]
