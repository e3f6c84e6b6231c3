"""The embedded AWS services handlers talk to: a moto server in a child process.

run-local binds a loopback port and hands the listening socket to the child
(:meth:`EmbeddedAws.launch`) before it knows the app: the child imports moto (most
of a second of CPU) while the parent loads the template, then is told the app's
DynamoDB tables (:meth:`EmbeddedAws.provide_tables`), creates them and serves
(:meth:`EmbeddedAws.wait_ready`); handler workers get the URL as
``AWS_ENDPOINT_URL`` so their unmodified boto3 code reaches it. It runs in its
own process so that moto's request handling never competes with the gateway's event
loop for the GIL. The child exits when its stdin closes, so it never outlives us.

Run as ``python -m emulator.aws.embedded --host H (--port P | --fd N) [--state-dir DIR]``,
then write one line to its stdin: JSON ``{"region": R, "tables": [{"create": CreateTable
request, "ttl": attribute}]}``. It prints ``PORT <n>`` once serving, or ``ERROR <message>``
and exits 1. With a state folder it first restores DynamoDB from it, printing ``PROGRESS
<what>`` lines every thousand records or items, and journals every change there
(emulator/aws/journal_recorder.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable
from wsgiref.types import WSGIApplication

from ..core.credentials import DUMMY_CLIENT_ARGUMENTS
from ..core.errors import StartupError

if TYPE_CHECKING:  # run-local imports this module before the rest of wsgw, to start moto first
    from ..core.model import IndexSpec, TableSpec

class EmbeddedAws:
    """A moto server child process on a loopback port."""

    def __init__(self, host: str = "127.0.0.1", state_dir: Path | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.host = host
        self.state_dir = state_dir  # keep DynamoDB's data here across restarts (--state-dir)
        self.progress = progress  # hears "replayed N records"... while a state folder is restored
        self.process: asyncio.subprocess.Process | None = None
        self.port: int | None = None

    @property
    def endpoint_url(self) -> str:
        assert self.port is not None, "start() first"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, timeout_s: float = 30.0, *, tables: Iterable[TableSpec] = (),
                    region: str = "us-east-1") -> None:
        """:meth:`launch`, :meth:`provide_tables`, then :meth:`wait_ready`."""
        await self.launch()
        self.provide_tables(tables, region)
        await self.wait_ready(timeout_s)

    async def launch(self) -> None:
        """Start the child; :attr:`endpoint_url` is known when this returns, before moto
        answers, so workers can start meanwhile (requests wait in the listen backlog).
        Call it as early as possible: the child spends most of a second importing moto
        (and restores ``state_dir``, if set) before it needs :meth:`provide_tables`.

        We bind the port and hand the listening socket to the child. Raises
        StartupError if the port cannot be bound."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            listener = socket.create_server((self.host, 0), family=family, backlog=128)
        except OSError as exc:
            raise StartupError(f"the embedded AWS services could not listen on {self.host}: {exc.strerror}") from None
        with listener:
            arguments = ["--host", self.host, "--fd", str(listener.fileno())]
            if self.state_dir is not None:
                arguments += ["--state-dir", str(self.state_dir)]
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "emulator.aws.embedded", *arguments,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(listener.fileno(),),
                # With a state folder its warnings (a skipped torn record...) reach the user.
                stderr=None if self.state_dir is not None else subprocess.DEVNULL,
            )
            self.port = int(listener.getsockname()[1])

    def provide_tables(self, tables: Iterable[TableSpec], region: str) -> None:
        """Tell the launched child the app's tables (once, before :meth:`wait_ready`):
        it creates them in ``region`` (existing ones, restored from ``state_dir``, are
        kept) through its own app, with no HTTP round trips, and the gateway never
        imports boto3 to start."""
        assert self.process is not None and self.process.stdin is not None, "launch() first"
        spec = {"region": region, "tables": [_table_requests(table) for table in tables]}
        self.process.stdin.write(json.dumps(spec).encode() + b"\n")

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait until moto answers (``timeout_s`` bounds each thousand records replayed
        or items compacted when restoring a state folder). StartupError if it failed."""
        assert self.process is not None and self.process.stdout is not None, "launch() first"
        while True:
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
            except asyncio.TimeoutError:
                await self.stop()
                raise StartupError("the embedded AWS services (moto) did not start in time") from None
            if not line.startswith(b"PROGRESS "):
                break
            if self.progress is not None:
                self.progress(line[len(b"PROGRESS "):].decode(errors="replace").strip())
        if not line.startswith(b"PORT "):
            await self.stop()
            if line.startswith(b"ERROR "):
                raise StartupError(line[6:].decode(errors="replace").strip())
            raise StartupError("the embedded AWS services (moto) failed to start; is moto[server] installed?")

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
        **DUMMY_CLIENT_ARGUMENTS,
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


def _table_requests(table: TableSpec) -> dict[str, Any]:
    """What the child needs to create ``table``: CreateTable, and the TTL attribute."""
    return {"create": create_table_request(table), "ttl": table.ttl_attribute}


def _create_tables_in_process(app: WSGIApplication, spec: dict[str, Any]) -> None:
    """Create the tables ``--tables`` names through ``app`` itself (no network);
    existing ones (restored from a state folder) are kept. StartupError on failure."""
    from .journal_format import Record
    from .journal_replay import call

    region = str(spec["region"])
    for table in spec["tables"]:
        request = table["create"]
        status, answer = call(app, Record("CreateTable", region, request))
        if status == 400 and str(answer.get("__type", "")).endswith("ResourceInUseException"):
            continue  # restored from the state folder: kept as it is
        if status != 200:
            raise StartupError(f"could not create table {request['TableName']}: {answer.get('message', answer)}")
        if table["ttl"]:
            ttl = {"TableName": request["TableName"],
                   "TimeToLiveSpecification": {"Enabled": True, "AttributeName": table["ttl"]}}
            status, answer = call(app, Record("UpdateTimeToLive", region, ttl))
            if status != 200:
                raise StartupError(f"could not set TTL on {request['TableName']}: {answer.get('message', answer)}")


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
    parser.add_argument("--fd", type=int, default=None, help="serve on this inherited listening socket")
    parser.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args()
    # Ctrl-C in a terminal reaches the whole process group: we stop when the parent
    # closes our stdin, after its connections' $disconnect handlers had moto to talk to.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .journal_recorder import JournalingApp, open_state
    from .moto_dispatch import MemoizingDispatcher

    # moto's own dispatcher, with its per-request service lookup cached.
    app: WSGIApplication = MemoizingDispatcher()
    journal = None
    try:
        if args.state_dir is not None:
            journal = open_state(
                app, args.state_dir, progress=lambda what: print("PROGRESS", what, flush=True),
            )
            app = JournalingApp(app, journal)
        line = sys.stdin.readline()  # the app's tables: EmbeddedAws.provide_tables
        if line:  # else the parent stopped (or died) before it knew them
            _create_tables_in_process(app, json.loads(line))
            listener = socket.socket(fileno=args.fd) if args.fd is not None else None
            _serve(app, args.host, args.port, listener)
    except StartupError as exc:
        print("ERROR", exc, flush=True)  # EmbeddedAws.wait_ready raises it in the parent
        sys.exit(1)
    finally:
        if journal is not None:
            journal.close()


def _serve(app: WSGIApplication, host: str, port: int, listener: socket.socket | None) -> None:
    """Serve the WSGI ``app`` on ``listener`` (or ``host:port``) behind the keep-alive
    front (emulator/aws/moto_front.py); print ``PORT <n>`` once serving and return when our
    stdin closes (the parent stopped us, or died)."""
    from .moto_front import serve

    front = serve(app, host, port, sock=listener)
    print("PORT", front.port, flush=True)
    sys.stdin.read()
    front.stop()


if __name__ == "__main__":
    _main()
