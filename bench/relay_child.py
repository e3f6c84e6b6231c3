"""The floor's child process: sends back every frame it is sent (:mod:`bench.relay_echo`).

Run by path as ``python -I -S relay_child.py FD``, as wsgw runs its worker script:
FD is its end of a ``socketpair``; a frame is a 4-byte big-endian length and that many
bytes. It does nothing else (no JSON, no handler), so a round trip through it costs
what any server that hands each message to another process pays at least: two
writes that wake the other side, two reads. It exits when the server closes its end.
Standard library only, and nothing but ``socket`` and ``sys``.
"""

import socket
import sys

_HEADER = 4


def serve(sock: socket.socket) -> None:
    """Echo frames on ``sock`` until end of file."""
    buffer = b""
    while True:
        while len(buffer) < _HEADER or len(buffer) < _HEADER + int.from_bytes(buffer[:_HEADER], "big"):
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
        end = _HEADER + int.from_bytes(buffer[:_HEADER], "big")
        sock.sendall(buffer[:end])
        buffer = buffer[end:]


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
