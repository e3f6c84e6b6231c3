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
from .model import IndexSpec, TableSpec

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
        if table.table_name not in existing:
            client.create_table(**create_table_request(table))
            if table.ttl_attribute:
                client.update_time_to_live(
                    TableName=table.table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )


def create_table_request(table: TableSpec) -> dict[str, Any]:
    """The DynamoDB ``CreateTable`` arguments for ``table`` (on-demand billing)."""
    keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
    definitions = {k.name: k.type for k in (*keys, *table.attributes)}
    request: dict[str, Any] = {
        "TableName": table.table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in definitions.items()],
        "KeySchema": _key_schema(table.partition_key.name, table.sort_key.name if table.sort_key else None),
    }
    if table.global_indexes:
        request["GlobalSecondaryIndexes"] = [_index(index) for index in table.global_indexes]
    if table.local_indexes:
        request["LocalSecondaryIndexes"] = [_index(index) for index in table.local_indexes]
    return request


def _key_schema(partition: str, sort: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition, "KeyType": "HASH"}]
    if sort is not None:
        schema.append({"AttributeName": sort, "KeyType": "RANGE"})
    return schema


def _index(index: IndexSpec) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection_type}
    if index.non_key_attributes:
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return {
        "IndexName": index.name,
        "KeySchema": _key_schema(index.partition_key, index.sort_key),
        "Projection": projection,
    }

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
