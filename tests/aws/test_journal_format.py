"""The state journal's file (emulator/aws/journal_format.py): records, header, reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.aws.journal_format import Record, header_line, read_journal
from emulator.core.errors import StartupError


def test_record_is_one_line_whatever_its_values() -> None:
    record = Record("PutItem", "eu-west-1", {"TableName": "t", "Item": {"pk": {"S": "a\nb\r\u2028"}}}, "111122223333")
    line = record.to_line()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert Record.from_line(line) == record


def test_missing_or_empty_journal_is_a_fresh_start(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "none").records == []
    (tmp_path / "empty").write_bytes(b"")
    assert read_journal(tmp_path / "empty").records == []


def test_torn_last_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "j"
    good = Record("PutItem", "us-east-1", {"TableName": "t", "Item": {"pk": {"S": "1"}}})
    path.write_bytes(header_line() + good.to_line() + good.to_line()[:17])
    warnings: list[str] = []
    contents = read_journal(path, warnings.append)
    assert contents.records == [good] and contents.valid_bytes == path.stat().st_size - 17
    assert len(warnings) == 1 and "incomplete last record (17 bytes)" in warnings[0] and str(path) in warnings[0]


@pytest.mark.parametrize("content, problem", [
    (b"hello world\n", "first line is not JSON"),
    (b'{"some": "json"}\n', "no wsgw_state_journal header"),
    (b"no newline at all", "no header line"),
    (b'{"wsgw_state_journal": 99}\n', "newer wsgw"),
    (header_line() + b"{}\n" + b'{"op":"PutItem","region":"r","body":{}}\n', "line 2"),
    (header_line() + b"\xff\xfe\n", "line 2"),
])
def test_a_file_that_is_not_a_journal_stops_the_start(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "dynamodb.journal"
    path.write_bytes(content)
    with pytest.raises(StartupError, match=problem) as raised:
        read_journal(path)
    assert str(path) in str(raised.value)
