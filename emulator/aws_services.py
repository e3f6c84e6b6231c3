"""The embedded AWS services handlers talk to: a moto server in a child process.

run-local starts it on a loopback port (:meth:`EmbeddedAws.start`), creates the
app's DynamoDB tables in it (:func:`create_tables`), and gives handler workers its
URL as ``AWS_ENDPOINT_URL`` so their unmodified boto3 code reaches it. It runs in its
own process so that moto's request handling never competes with the gateway's event
loop for the GIL. The child exits when its stdin closes, so it never outlives us.

Run as ``python -m emulator.aws_services --host H --port P``: prints ``PORT <n>``
once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from typing import Any, Iterable

from .errors import StartupError
from .model import TableSpec

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class EmbeddedAws:
    """A moto server child process on a loopback port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.process: asyncio.subprocess.Process | None = None
        self.port: int | None = None

    @property
    def endpoint_url(self) -> str:
        assert self.port is not None, "start() first"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, timeout_s: float = 30.0) -> None:
        """Start moto and wait until it listens."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "emulator.aws_services", "--host", self.host, "--port", "0",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        except asyncio.TimeoutError:
            await self.stop()
            raise StartupError("the embedded AWS services (moto) did not start in time") from None
        if not line.startswith(b"PORT "):
            await self.stop()
            raise StartupError("the embedded AWS services (moto) failed to start; is moto[server] installed?")
        self.port = int(line.split()[1])

    async def stop(self) -> None:
        """Stop the child (closing its stdin asks it to exit) and reap it."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()


def create_tables(tables: Iterable[TableSpec], *, endpoint_url: str, region: str) -> None:
    """Create each table (on-demand billing, TTL if set); existing tables are kept."""
    import boto3  # deferred: ~0.2 s, only needed here

    client: Any = boto3.client(
        "dynamodb", endpoint_url=endpoint_url, region_name=region,
        aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing",
    )
    existing = set(client.list_tables().get("TableNames", []))
    for table in tables:
        if table.table_name in existing:
            continue
        keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
        client.create_table(
            TableName=table.table_name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k.name, "AttributeType": k.type} for k in keys],
            KeySchema=[
                {"AttributeName": k.name, "KeyType": "HASH" if i == 0 else "RANGE"}
                for i, k in enumerate(keys)
            ],
        )
        if table.ttl_attribute:
            client.update_time_to_live(
                TableName=table.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    print("PORT", server.get_host_and_port()[1], flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    server.stop()


if __name__ == "__main__":
    _main()
