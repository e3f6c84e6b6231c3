"""emulator/runtime/wire_json.py: orjson when installed, the standard library otherwise,
"with identical results". Both paths run here: the module as imported (orjson) and a
second copy of it imported while ``orjson`` cannot be imported (the stdlib path)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.runtime import wire_json

WIRE_JSON = Path(wire_json.__file__)


@pytest.fixture(scope="module")
def stdlib_wire_json() -> Iterator[ModuleType]:
    """wire_json imported afresh with ``import orjson`` failing (as without orjson installed)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "orjson", None)  # None in sys.modules: ImportError on import
        spec = importlib.util.spec_from_file_location("wire_json_without_orjson", WIRE_JSON)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    yield module


def test_both_paths_are_what_they_claim(stdlib_wire_json: ModuleType) -> None:
    fast = vars(wire_json)["orjson"]
    assert fast is not None and fast.__name__ == "orjson"  # a declared dependency
    assert vars(stdlib_wire_json)["orjson"] is None


# Values wsgw puts on the worker pipe (events, context, request ids) and what worker
# replies hold: nested objects, every JSON type, text beyond ASCII and the edges of
# the integers a double or a 64-bit integer holds.
SAME_BYTES: list[Any] = [
    None, True, False, 0, -1, "", [], {}, {"": ""}, [[]], [{}], {"a": {}}, {"a": []},
    2**53 - 1, 2**53, 2**53 + 1, -(2**53) - 1,
    2**63 - 1, 2**63, 2**63 + 1, -(2**63), -(2**63) + 1, 2**64 - 1,
    0.0, -0.0, 0.1, 1.5, -2.25, 1 / 3, 1e16, 1e22, 123456789.123, 5e-324, 1.7976931348623157e308,
    "héllo", "日本語", "emoji 😀", "quote \" backslash \\ slash /", "\x00\x01\x1f\x7f", "\u2028\u2029",
    "tab\tnewline\ncr\r", "é" * 1000,
    {"requestContext": {"routeKey": "$default", "connectedAt": 1_731_324_924_553, "identity": {"sourceIp": "127.0.0.1"}},
     "body": '{"action": "echo", "text": "héllo"}', "isBase64Encoded": False,
     "multiValueHeaders": {"Host": ["a", "b"]}, "queryStringParameters": None},
    {"nested": {"deeper": {"list": [1, 2.5, None, True, "x", {"k": [[], {}]}]}}},
    {"keys keep their order": 1, "b": 2, "a": 3},
]


@pytest.mark.parametrize("value", SAME_BYTES, ids=lambda v: repr(v)[:40])
def test_dumps_gives_the_same_bytes_on_both_paths(value: Any, stdlib_wire_json: ModuleType) -> None:
    fast = wire_json.dumps(value)
    slow = stdlib_wire_json.dumps(value)
    assert isinstance(fast, bytes) and isinstance(slow, bytes)
    assert fast == slow


@pytest.mark.parametrize("value", SAME_BYTES, ids=lambda v: repr(v)[:40])
def test_loads_round_trips_on_both_paths(value: Any, stdlib_wire_json: ModuleType) -> None:
    for module in (wire_json, stdlib_wire_json):
        encoded = module.dumps(value)
        for decoder in (wire_json, stdlib_wire_json):
            decoded = decoder.loads(encoded)
            assert decoded == value
            assert json.dumps(decoded) == json.dumps(value)  # types and key order too (1 != 1.0 here)


@pytest.mark.parametrize("value", [1e-7, 2.5e-10, -1e-100])
def test_small_exponents_are_written_differently_but_read_the_same(value: float, stdlib_wire_json: ModuleType) -> None:
    # orjson writes 1e-7 where json writes 1e-07: other bytes, the same number.
    fast, slow = wire_json.dumps(value), stdlib_wire_json.dumps(value)
    for decoder in (wire_json, stdlib_wire_json):
        assert decoder.loads(fast) == decoder.loads(slow) == value


def test_loads_reads_what_a_worker_writes(stdlib_wire_json: ModuleType) -> None:
    # Worker replies are encoded by the worker with the standard json module.
    reply = {"type": "result", "ok": True, "result": {"statusCode": 200, "body": "é 😀", "n": [2**63 - 1, 0.5]}}
    for encoded in (json.dumps(reply).encode(), json.dumps(reply, ensure_ascii=False).encode()):
        assert wire_json.loads(encoded) == stdlib_wire_json.loads(encoded) == reply


@pytest.mark.parametrize("text", [b"{", b"", b"[1,]", b"{'a': 1}", b"nul"])
def test_invalid_json_raises_a_value_error_on_both_paths(text: bytes, stdlib_wire_json: ModuleType) -> None:
    for module in (wire_json, stdlib_wire_json):
        with pytest.raises(ValueError):
            module.loads(text)


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_loads_keeps_integers_beyond_64_bits(value: int, stdlib_wire_json: ModuleType) -> None:
    encoded = str(value).encode()
    assert stdlib_wire_json.loads(encoded) == value
    decoded = wire_json.loads(encoded)
    assert type(decoded) is int and decoded == value


@pytest.mark.parametrize(("data", "long"), [
    (b"[123456789012345678]", False),
    (b"[1234567890123456789]", True),
    (b'{"s": "id-12345678901234567890"}', True),
    (b'{"a": 1, "b": "x" }', False),
    (b"", False),
])
def test_a_run_of_19_digits_is_what_sends_a_reply_to_the_stdlib(data: bytes, long: bool) -> None:
    assert wire_json._has_long_number(data) is long
    if data:
        assert wire_json.loads(data) == json.loads(data)


# loads_text reads every message body for route selection (RouteSelector.parse's
# ``decode``): it must answer exactly as json.loads(text) does, value or error.

def _answer(decode: Any, text: str) -> tuple[str, str]:
    try:
        return "value", repr(decode(text))  # repr: 1 vs 1.0, nan, key order
    except (ValueError, RecursionError):
        return "error", ""


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20,
)


@settings(max_examples=500)
@given(st.text())
def test_loads_text_answers_any_text_as_json_loads_does(text: str) -> None:
    assert _answer(wire_json.loads_text, text) == _answer(json.loads, text)


@settings(max_examples=500)
@given(_JSON_VALUES, st.text(alphabet=" \t\r\n\x0b\ufeff\u00a0,]}x0-.eE\"\\", max_size=3), st.integers(0, 40))
def test_loads_text_answers_json_and_near_json_as_json_loads_does(value: Any, junk: str, at: int) -> None:
    text = json.dumps(value)
    for candidate in (text, text[:at] + junk + text[at:]):
        assert _answer(wire_json.loads_text, candidate) == _answer(json.loads, candidate)


@pytest.mark.parametrize("text", [
    "\ufeff{}",  # orjson skips a byte-order mark; json.loads refuses it in text
    '"\\ud800"',  # an escaped lone surrogate: json gives it, orjson refuses it
    '{"action": "\ud800"}',  # a raw lone surrogate cannot be encoded at all
    "NaN", "[1e400]", "12345678901234567890123", "[" * 5000 + "]" * 5000,
])
def test_loads_text_edge_cases(text: str, stdlib_wire_json: ModuleType) -> None:
    for module in (wire_json, stdlib_wire_json):
        assert _answer(module.loads_text, text) == _answer(json.loads, text)


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_dumps_writes_integers_beyond_64_bits_as_json_does(value: int, stdlib_wire_json: ModuleType) -> None:
    # A custom integration's event can hold one (its template's output is the event).
    event = {"n": value, "text": "é"}
    assert wire_json.dumps(event) == stdlib_wire_json.dumps(event)
    assert wire_json.loads(wire_json.dumps(event)) == event


def test_dumps_still_refuses_what_json_cannot_encode() -> None:
    with pytest.raises(TypeError):
        wire_json.dumps({"n": object()})


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30, 2**63 - 1])
def test_the_worker_decodes_an_event_with_a_long_integer_to_the_int_lambda_would_give(value: int) -> None:
    from emulator.runtime import worker

    frame = b'{"type":"invoke","event":{"n":' + str(value).encode() + b',"s":"x"}}'
    decoded = worker._decode(frame)
    assert type(decoded["event"]["n"]) is int and decoded["event"]["n"] == value
