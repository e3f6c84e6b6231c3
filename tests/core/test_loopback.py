"""emulator.core.loopback: the one test for "this machine"."""

from __future__ import annotations

import pytest

from emulator.core.loopback import LOOPBACK_NAMES, is_loopback_host, is_loopback_url


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", *LOOPBACK_NAMES])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com", "localhost.evil.com", "128.0.0.1"])
def test_other_hosts(host: str) -> None:
    assert not is_loopback_host(host)


@pytest.mark.parametrize(("url", "expected"), [
    ("http://127.0.0.1:4566", True),
    ("https://localhost/dev", True),
    ("http://[::1]:8000/x", True),
    ("https://dynamodb.us-east-1.amazonaws.com", False),
    ("http://10.1.2.3:8000", False),
    ("not a url", False),
])
def test_loopback_urls(url: str, expected: bool) -> None:
    assert is_loopback_url(url) is expected
