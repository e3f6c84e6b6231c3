"""Tests for emulator.core.ids: AWS-shaped ids (reference §2)."""

from __future__ import annotations

import base64
import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.core.ids import AWS_ID_PATTERN, RandomIds, RandomUuids, SequentialIds, encode_id, is_aws_id

ID_RE = re.compile(r"^[A-Za-z0-9_-]{15}=$")

# Observed real ids, reference §2.
OBSERVED_IDS = [
    # connection ids
    "R0oXAdfD0kwCH6w=", "L0SM9cOFvHcCIhw=", "BFHPhfCWIAMCKlQ=", "BFaT_fALIAMCKug=",
    "TWegAcC4EowCHnA=", "R1kmxc2VNjMCFIA=", "eHrdFcnvvHcCE-w=", "JC1dgf9yoAMCK-g=",
    "DOvZ1cdTIAMCLtA=",
    # request ids
    "BFHPhFe3IAMF95g=", "VNRXVFJOywMF3-Q=", "R1koeHsUtjMFbRw=",
    # message ids
    "BFaVtfGSIAMCKug=", "R1knPc2ntjMCFIA=", "RsI83cCDIE0CIqg=",
    # from the captured events
    "BFbOeE87IAMF31w=", "BFaVtH2HoAMFZEQ=", "FDmBIG3EoAMEqYA=", "FDmBIeapIAMCIQg=",
]

BAD_IDS = [
    "",
    "R0oXAdfD0kwCH6w",  # no pad
    "R0oXAdfD0kwCH6w==",  # two pads
    "R0oXAdfD0kwCH6=",  # 14 chars + pad
    "R0oXAdfD0kwCH6wA=",  # 16 chars + pad
    "R0oXAdfD0kwCH6wA",  # 16 chars, no pad
    "R0oXAdfD0kw+H6w=",  # standard-base64 '+'
    "R0oXAdfD0kw/H6w=",  # standard-base64 '/'
    "R0oXAdfD0kw H6w=",
    "R0oXAdfD0kwCH6w%3D",  # still percent-encoded
    "=R0oXAdfD0kwCH6w",
    "R0oXAdfD0kwCH6w=\n",  # trailing newline
    "\nR0oXAdfD0kwCH6w=",
    " R0oXAdfD0kwCH6w=",
    "R0oXAdfD0kwCH6w= ",
    "R0oXAdfD0kwCH\u00e96w=",
    "R0oXAdfD0kwCH\u0666w=",  # non-ASCII digit
]


def test_encode_id_shape_and_round_trip() -> None:
    raw = bytes(range(11))
    value = encode_id(raw)
    assert ID_RE.match(value)
    assert base64.urlsafe_b64decode(value) == raw


@given(st.binary(min_size=11, max_size=11))
def test_encode_id_any_eleven_bytes(raw: bytes) -> None:
    value = encode_id(raw)
    assert len(value) == 16
    assert ID_RE.match(value)
    assert is_aws_id(value)
    assert base64.urlsafe_b64decode(value) == raw


@pytest.mark.parametrize("length", [0, 1, 10, 12, 16])
def test_encode_id_rejects_wrong_lengths(length: int) -> None:
    with pytest.raises(ValueError):
        encode_id(b"x" * length)


@pytest.mark.parametrize("value", OBSERVED_IDS)
def test_is_aws_id_accepts_observed_ids(value: str) -> None:
    assert is_aws_id(value)


@pytest.mark.parametrize("value", BAD_IDS)
def test_is_aws_id_rejects_bad_ids(value: str) -> None:
    assert not is_aws_id(value)


@given(st.from_regex(r"\A[A-Za-z0-9_-]{15}=\Z"))
def test_is_aws_id_and_pattern_accept_every_well_formed_id(value: str) -> None:
    assert is_aws_id(value)
    assert AWS_ID_PATTERN.search(value) is not None


def test_random_ids_shapes_and_uniqueness() -> None:
    ids = RandomIds()
    drawn = []
    for _ in range(2000):
        drawn += [ids.connection_id(), ids.request_id(), ids.message_id()]
    assert all(ID_RE.match(value) for value in drawn)
    assert all(is_aws_id(value) for value in drawn)
    assert len(set(drawn)) == len(drawn)


def test_sequential_ids_shapes_uniqueness_and_determinism() -> None:
    first, second = SequentialIds(), SequentialIds()
    seq_a = []
    seq_b = []
    for _ in range(3000):
        seq_a += [first.connection_id(), first.request_id(), first.message_id()]
        seq_b += [second.connection_id(), second.request_id(), second.message_id()]
    assert seq_a == seq_b  # same run, same ids
    assert all(ID_RE.match(value) for value in seq_a)
    assert len(set(seq_a)) == len(seq_a)


def test_sequential_ids_keep_kinds_apart() -> None:
    ids = SequentialIds()
    connection, request, message = ids.connection_id(), ids.request_id(), ids.message_id()
    assert base64.urlsafe_b64decode(connection)[:1] == b"C"
    assert base64.urlsafe_b64decode(request)[:1] == b"R"
    assert base64.urlsafe_b64decode(message)[:1] == b"M"
    assert len({connection[0], request[0], message[0]}) == 3




def test_random_ids_are_encode_id_of_the_random_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    # The batch encoding must give, for each id, exactly encode_id of its 11 bytes.
    drawn: list[bytes] = []

    def urandom(size: int) -> bytes:
        data = bytes((7 * i + 3 * len(drawn) + 255 * (i % 5 == 0)) % 256 for i in range(size))
        drawn.append(data)
        return data

    monkeypatch.setattr("emulator.core.ids.os.urandom", urandom)
    ids = RandomIds()
    got = [ids.request_id() for _ in range(600)]  # more than two batches
    expected = [encode_id(batch[i:i + 11]) for batch in drawn for i in range(0, len(batch), 12)]
    assert got == expected[:600]
    assert all(is_aws_id(value) for value in got)


def test_random_uuids_are_version_4_in_uuid4s_text_form_across_batches() -> None:
    uuids = RandomUuids()
    values = [uuids.next() for _ in range(3 * RandomUuids._BATCH + 5)]  # several batches
    assert len(set(values)) == len(values)
    for value in values:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == value  # lowercase, 8-4-4-4-12
    # Every variant nibble shows up (the two random bits under it are kept).
    assert {value[19] for value in values} == set("89ab")
