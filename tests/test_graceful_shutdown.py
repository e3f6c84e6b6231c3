"""SIGTERM to `wsgw run-local` with 1,000 open connections of the bundled chat app.

Every client is closed with 1001 "Going away", every `$disconnect` runs (the
DynamoDB connections table is empty afterwards) before its shutdown timeout (it
says "stopped.", not "N invocation(s) cut short"), and the process exits 0. The
table lives in a moto server this test starts (`--aws-endpoint-url`), so it can be
read after run-local has gone. How long that takes is printed (a figure for
RELIABILITY.md and bench/), not asserted.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from emulator.aws.embedded import EmbeddedAws

CONNECTIONS = 1000
# How long this test waits for run-local to exit: generous. run-local itself waits up
# to 60 s for the $disconnect handlers (GatewayOptions.shutdown_timeout_s) and then
# reports the ones it cut short, which the last output line tells apart.
EXIT_DEADLINE_S = 180.0
WSGW = Path(sys.executable).with_name("wsgw")


def _table_items(endpoint_url: str) -> int:
    client: Any = boto3.client(
        "dynamodb", endpoint_url=endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    (name,) = client.list_tables()["TableNames"]
    return int(client.scan(TableName=name, Select="COUNT")["Count"])


async def _read_url(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    seen: list[str] = []
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
        assert line, f"run-local ended before it was ready: {seen}"
        seen.append(line)
        if match := re.search(r"WebSocket URL: (\S+)", line):
            url = match.group(1)
        if line.startswith("Ready."):
            return url


async def _drain(process: asyncio.subprocess.Process) -> list[str]:
    assert process.stdout is not None
    lines = []
    while line := await process.stdout.readline():
        lines.append(line.decode().rstrip())
    return lines


async def _open(url: str, count: int) -> list[ClientConnection]:
    gate = asyncio.Semaphore(50)

    async def one() -> ClientConnection:
        async with gate:
            return await connect(url, open_timeout=60, ping_interval=None)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _close_code(connection: ClientConnection) -> int | None:
    try:
        await asyncio.wait_for(connection.recv(), 60)
    except ConnectionClosed:
        pass
    return connection.close_code


@pytest.mark.asyncio
async def test_sigterm_with_1000_connections_runs_every_disconnect(tmp_path: Path) -> None:
    aws = EmbeddedAws()
    await aws.start()
    process: asyncio.subprocess.Process | None = None
    try:
        env = {**os.environ, "WSGW_STATE_FILE": str(tmp_path / "state.json"), "NO_COLOR": "1"}
        process = await asyncio.create_subprocess_exec(
            str(WSGW), "run-local", "--port", "0", "--no-reload", "--quiet",
            "--aws-endpoint-url", aws.endpoint_url, "--tls-dir", str(tmp_path / "tls"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        )
        url = await _read_url(process)
        drain: asyncio.Future[list[str]] = asyncio.ensure_future(_drain(process))
        connections = await _open(url, CONNECTIONS)
        # $connect has written every row before the handshake completed.
        assert await asyncio.to_thread(_table_items, aws.endpoint_url) == CONNECTIONS

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(_close_code(c) for c in connections))
        returncode = await asyncio.wait_for(process.wait(), EXIT_DEADLINE_S)
        elapsed = time.monotonic() - started
        output = await drain

        assert codes == [1001] * CONNECTIONS
        assert returncode == 0
        assert output[-1] == "wsgw: stopped.", output[-5:]  # nothing cut short
        assert await asyncio.to_thread(_table_items, aws.endpoint_url) == 0
        print(f"shutdown with {CONNECTIONS} connections: {elapsed:.2f} s")
    finally:
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()
        await aws.stop()
