"""The floor's child process: sends back every frame it is sent (:mod:`bench.relay_echo`).

Run by path as ``python -I -S relay_child.py IN OUT``, as wsgw runs its worker script:
IN and OUT are its ends of two pipes, frames from the server and frames back (two
pipes and not a socketpair, as wsgw's workers: emulator/runtime/frames.py says why);
a frame is a 4-byte big-endian length and that many bytes. It does nothing else (no
JSON, no handler), so a round trip through it costs what any server that hands each
message to another process pays at least: two writes that wake the other side, two
reads. It exits at end of file. Standard library only, and nothing but ``os`` and ``sys``.
"""

import os
import sys

_HEADER = 4


def serve(frames_in: int, frames_out: int) -> None:
    """Echo the frames read from ``frames_in`` onto ``frames_out`` until end of file."""
    buffer = b""
    while True:
        while len(buffer) < _HEADER or len(buffer) < _HEADER + int.from_bytes(buffer[:_HEADER], "big"):
            chunk = os.read(frames_in, 65536)
            if not chunk:
                return
            buffer += chunk
        end = _HEADER + int.from_bytes(buffer[:_HEADER], "big")
        frame = memoryview(buffer)[:end]
        while frame:
            frame = frame[os.write(frames_out, frame) :]
        buffer = buffer[end:]


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
