"""The redirect installed in handler workers: the execute-api hostname to the
gateway, and the gateway's own https address to plain HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from emulator.runtime.endpoint_redirect import rewrite

HOSTS = frozenset({"wsgwlocal1.execute-api.us-east-1.amazonaws.com"})


@pytest.mark.parametrize("url, expected", [
    ("https://wsgwlocal1.execute-api.us-east-1.amazonaws.com/dev/@connections/abc%3D",
     "http://127.0.0.1:3001/dev/@connections/abc%3D"),
    ("https://WSGWLOCAL1.execute-api.us-east-1.amazonaws.com/dev/@connections/x?y=1",
     "http://127.0.0.1:3001/dev/@connections/x?y=1"),
    # The callback URL the AWS docs build, https://{domainName}/{stage}: plain HTTP.
    ("https://127.0.0.1:3001/dev/@connections/abc%3D", "http://127.0.0.1:3001/dev/@connections/abc%3D"),
    ("http://127.0.0.1:3001/dev/@connections/abc%3D", "http://127.0.0.1:3001/dev/@connections/abc%3D"),
    # Anything else is not the gateway: unchanged.
    ("https://127.0.0.1:3002/dev/@connections/x", "https://127.0.0.1:3002/dev/@connections/x"),
    ("https://localhost:3001/dev/@connections/x", "https://localhost:3001/dev/@connections/x"),
    ("https://other.execute-api.us-east-1.amazonaws.com/dev/@connections/x",
     "https://other.execute-api.us-east-1.amazonaws.com/dev/@connections/x"),
    ("https://dynamodb.us-east-1.amazonaws.com/", "https://dynamodb.us-east-1.amazonaws.com/"),
])
def test_rewrite(url: str, expected: str) -> None:
    assert rewrite(url, HOSTS, "127.0.0.1:3001") == expected


def test_install_wraps_botocore_only_when_it_is_imported() -> None:
    # A fresh interpreter, as a worker is: nothing imports botocore up front, and
    # once it is imported, URLLib3Session.send rewrites the request URL.
    script = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("r", {str(Path(__file__).resolve().parents[2] / "emulator" / "runtime" / "endpoint_redirect.py")!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
module.install(["wsgwlocal1.execute-api.us-east-1.amazonaws.com"], "https://127.0.0.1:9")
assert "botocore" not in sys.modules
from botocore.httpsession import URLLib3Session
from botocore.awsrequest import AWSRequest
for url in ["https://wsgwlocal1.execute-api.us-east-1.amazonaws.com/dev/@connections/x",
            "https://127.0.0.1:9/dev/@connections/y"]:
    request = AWSRequest(method="GET", url=url).prepare()
    try:
        URLLib3Session().send(request)  # nothing listens on port 9: the URL is what we check
    except Exception:
        pass
    print(request.url)
"""
    result = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["http://127.0.0.1:9/dev/@connections/x", "http://127.0.0.1:9/dev/@connections/y"]
