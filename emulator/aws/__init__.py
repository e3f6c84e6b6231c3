"""Embedded AWS services: the moto child (``embedded``), its keep-alive HTTP front
(``moto_front``) and memoizing dispatcher (``moto_dispatch``), and the DynamoDB state
journal behind ``--state-dir`` (``journal_format``, ``journal_replay``, ``journal_recorder``).

May import: the standard library, moto, boto3, h11, uvloop, ``emulator.core`` and
``emulator.net``.
"""

__all__ = ["embedded", "journal_format", "journal_recorder", "journal_replay", "moto_dispatch", "moto_front"]
