"""moto's WSGI app in this process, for the state journal's tests (no network).

moto's backends are process-wide, so the :func:`moto` fixture starts each test from
moto's own reset. Import the fixture and the helpers into a test module.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Iterator
from wsgiref.types import WSGIApplication, WSGIEnvironment

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from emulator.aws.journal_format import Record
from emulator.aws.journal_replay import call

KEYS = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}


def reset(app: WSGIApplication) -> None:
    """moto's own reset (``/moto-api/reset``): every backend empty again."""
    environ: WSGIEnvironment = {"REQUEST_METHOD": "POST", "PATH_INFO": "/moto-api/reset", "QUERY_STRING": "",
                                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.input": io.BytesIO(),
                                "wsgi.url_scheme": "http", "CONTENT_LENGTH": "0", "SERVER_PROTOCOL": "HTTP/1.1"}
    statuses: list[str] = []
    list(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))  # type: ignore[arg-type, func-returns-value]
    assert statuses[0].startswith("200")


@pytest.fixture
def moto() -> Iterator[WSGIApplication]:
    """moto's plain WSGI dispatcher, reset before and after the test."""
    app: WSGIApplication = DomainDispatcherApplication(create_backend_app)
    reset(app)
    yield app
    reset(app)


def ask(app: WSGIApplication, op: str, body: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    """``op`` through ``app``; its answer, which must be a 200."""
    status, answer = call(app, Record(op, region, body))
    assert status == 200, answer
    return answer


def scan(app: WSGIApplication, table: str = "t", region: str = "us-east-1") -> list[dict[str, Any]]:
    """Every item of ``table``, in key order."""
    return sorted(ask(app, "Scan", {"TableName": table}, region)["Items"], key=lambda item: json.dumps(item["pk"]))


def journal_lines(path: Path) -> list[dict[str, Any]]:
    """The records of the journal at ``path``, parsed (the header line left out)."""
    return [json.loads(line) for line in path.read_bytes().splitlines()[1:]]
