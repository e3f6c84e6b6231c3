"""Handlers that misbehave on purpose, for tests/test_faults_live.py.

Each one takes its instructions from the message body (JSON), e.g. where to write
its worker's PID so the test can kill it. Standard library only, so that workers
start fast (the AWS one is in ``aws.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from typing import Any



def _body(event: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(event.get("body") or "{}")
    return body if isinstance(body, dict) else {}


def _write_pid(body: dict[str, Any]) -> None:
    """Write this worker's PID to ``body.pidfile`` (atomically: the test polls it)."""
    path = body.get("pidfile")
    if path:
        with open(path + ".tmp", "w", encoding="ascii") as file:
            file.write(str(os.getpid()))
        os.replace(path + ".tmp", path)


def whoami(event: dict[str, Any], context: Any) -> Any:
    """Two-way: this connection's id and this worker's PID."""
    return {"statusCode": 200, "body": json.dumps({
        "connectionId": event["requestContext"]["connectionId"], "pid": os.getpid(),
    })}


def echo(event: dict[str, Any], context: Any) -> Any:
    return {"statusCode": 200, "body": event["body"]}


def block(event: dict[str, Any], context: Any) -> Any:
    """Two-way: writes its PID, sleeps ``seconds``, answers ``pid:<pid>``."""
    body = _body(event)
    _write_pid(body)
    time.sleep(float(body.get("seconds", 0)))
    return {"statusCode": 200, "body": f"pid:{os.getpid()}"}


def spin(event: dict[str, Any], context: Any) -> Any:
    """Two-way: with ``spin``, writes its PID and burns CPU forever."""
    body = _body(event)
    _write_pid(body)
    if body.get("spin"):
        while True:
            pass
    return {"statusCode": 200, "body": f"pid:{os.getpid()}"}


def exit_process(event: dict[str, Any], context: Any) -> Any:
    """Two-way: ``how`` = ``sys.exit`` (status 3), ``os._exit`` (status 1) or nothing."""
    how = _body(event).get("how")
    print(f"exiting with {how}")
    if how == "sys.exit":
        sys.exit(3)
    if how == "os._exit":
        sys.stdout.flush()
        os._exit(1)
    return {"statusCode": 200, "body": f"alive:{os.getpid()}"}


def flood(event: dict[str, Any], context: Any) -> Any:
    """Two-way: ``lines`` prints ``mb`` MB as 1 KB lines; ``oneline`` writes ``mb`` MB
    with no newline at all. Answers how many bytes it wrote."""
    body = _body(event)
    size = int(float(body["mb"]) * 1024 * 1024)
    if body["mode"] == "lines":
        line = "FLOOD " + "f" * 1017  # 1023 characters + the newline: 1 KB a line
        for _ in range(size // 1024):
            print(line)
    else:
        sys.stdout.write("L" * size)  # one line, never ended by the handler
    return {"statusCode": 200, "body": f"wrote:{size}"}


def uses_secrets(event: dict[str, Any], context: Any) -> Any:
    """Two-way: proves it has its secret settings without revealing them."""
    digest = hashlib.sha256(os.environ["DB_PASSWORD"].encode()).hexdigest()
    print(f"using the database password (sha256 {digest[:12]}...)")
    return {"statusCode": 200, "body": json.dumps({
        "db_password_sha256": digest,
        "api_token_length": len(os.environ.get("API_TOKEN", "")),
    })}


def crash(event: dict[str, Any], context: Any) -> Any:
    raise RuntimeError("crashed on purpose")


def disconnect(event: dict[str, Any], context: Any) -> Any:
    ctx = event["requestContext"]
    print(f"DISCONNECT {ctx['connectionId']} {ctx.get('disconnectStatusCode')} {ctx.get('disconnectReason')}")
    return {"statusCode": 200}
