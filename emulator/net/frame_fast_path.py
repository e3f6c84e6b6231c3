"""The everyday client frame, read without websockets' parser.

A client's message is almost always one small text frame: FIN set, opcode 1, no RSV
bits, masked (RFC 6455 §5.2, §5.3), 7- or 16-bit length, whole in one read.
websockets' sans-I/O parser reads every frame through a stack of generators, an
``Opcode`` enum lookup, a ``Frame`` object and its ``check()``: a tenth of the
gateway's CPU per message in scenario a of ``bench/``. :func:`next_text_frame` reads
exactly that shape and gives its unmasked payload; anything else (another opcode or
flag, an unmasked frame, a 64-bit length, a frame over ``max_size``, a frame cut
short) gives ``None`` and goes to websockets untouched, so websockets keeps deciding
every error (1002, 1009) and every edge (fragments, control frames, close).

:func:`parser_between_frames` says whether websockets' parser is waiting for the
first byte of a frame with nothing buffered: only then may the session read frames
itself without its parser noticing (tests/net/test_frame_fast_path.py feeds the same
chunks to a session with and without this path and compares all it did). Pure
functions over bytes and the protocol object: the session
(:mod:`emulator.net.websocket_session`) decides when to use them.
"""

from __future__ import annotations

from typing import Callable

from websockets.protocol import Protocol
from websockets.streams import StreamReader

try:  # websockets' C helper, the one its own parser unmasks with
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # pragma: no cover - a websockets wheel without its C extension
    from websockets.utils import apply_mask as _apply_mask

__all__ = ["next_text_frame", "parser_between_frames"]

apply_mask: Callable[[bytes, bytes], bytes] = _apply_mask

_FIN_TEXT = 0x81  # FIN, no RSV bits, opcode 1 (text)
_MASKED = 0x80
_LENGTH_16 = 126
_LENGTH_64 = 127
_MASK_BYTES = 4

# The code objects of the two generators websockets' server parser is suspended in
# between frames: Protocol.parse, waiting in StreamReader.at_eof for the next byte.
_PARSE_CODE = Protocol.parse.__code__
_AT_EOF_CODE = StreamReader.at_eof.__code__


def next_text_frame(data: bytes, offset: int, max_size: int) -> tuple[bytes, int] | None:
    """The payload of the whole, final, masked text frame at ``offset`` in ``data``
    and the offset just past it; ``None`` if the bytes there are anything else
    (websockets' parser must read them). ``max_size``: the largest payload websockets
    would accept there (a larger one fails the connection with 1009: its decision)."""
    available = len(data) - offset
    if available < 2 + _MASK_BYTES or data[offset] != _FIN_TEXT:
        return None
    second = data[offset + 1]
    if not second & _MASKED:
        return None  # a client must mask (RFC 6455 §5.1): websockets fails it with 1002
    length = second & 0x7F
    head = 2
    if length == _LENGTH_16:
        if available < 4 + _MASK_BYTES:
            return None
        # Not required to be minimal here, as websockets' parser does not require it.
        length = (data[offset + 2] << 8) | data[offset + 3]
        head = 4
    elif length == _LENGTH_64:
        return None  # over 64 KiB: beyond any frame limit wsgw has; websockets says 1009
    if length > max_size:
        return None
    start = offset + head + _MASK_BYTES
    end = start + length
    if end > len(data):
        return None
    return apply_mask(data[start:end], data[start - _MASK_BYTES:start]), end


def parser_between_frames(protocol: Protocol) -> bool:
    """True if ``protocol``'s parser waits for a frame's first byte, holds no bytes
    and is not inside a fragmented message: then, while the protocol's state is
    ``OPEN`` (the caller checks it for each read), a whole frame may be read by
    :func:`next_text_frame` instead, and the parser, never having seen it, is still
    where it was. Anything else (a frame half read, a parser replaced after a close or
    an error, an extension, a websockets whose parser is built otherwise) is False:
    everything goes to the parser. Call it after every read the parser had."""
    if protocol.reader.buffer or protocol.current_size is not None or protocol.extensions:
        return False
    # typeshed's Generator lacks gi_yieldfrom: read as generators' own attributes.
    outer = getattr(protocol.parser, "gi_yieldfrom", None)  # ServerProtocol.parse delegates to Protocol.parse
    inner = getattr(outer, "gi_yieldfrom", None)
    return (
        getattr(inner, "gi_code", None) is _AT_EOF_CODE
        and getattr(outer, "gi_code", None) is _PARSE_CODE
    )
