"""The bounded load and soak check: many connections of the bundled chat app with
messages flowing for a while, then a look for everything a gateway could leak.

Run as ``python -m bench.soak`` (``make soak``): by default 5,000 connections and
2 minutes of traffic in 2 rounds (``--connections``, ``--duration``, ``--rounds``),
on 127.0.0.1 only, each phase cut off after ``--timeout``. After a warm-up the
gateway's baseline is taken (no clients); then each round opens the connections
(``$connect`` writes each one's row to DynamoDB), lets ``--talkers`` loops send
``whoAmI`` (the reply must be the sender's own id) and, one message in ten,
``sendMessage`` to another connection (which must receive it), closes every
connection (``$disconnect`` deletes each row) and waits for the gateway to go quiet.
Prints a table, writes ``bench/results/soak-<time>.json`` and exits 1 if a check
failed: rows left in the connections table, sessions or registry records left, HTTP
connections, tasks or descriptors beyond the baseline, worker processes the invoker
does not know, messages lost or wrong, or resident memory after the last round more
than 8 MiB above the first round's (``RSS_ROUND_SLACK_KIB``).

``--inspector-page`` runs the gateway with the live inspector on and a page open the
whole time (an event-stream reader, as the browser page is): the same checks hold,
the page must keep receiving (no gap over ``PAGE_GAP_LIMIT_S``) and the ring keeps the
gateway's memory bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from emulator.net import event_loop

from .bundled import ensure_synth
from .clients import close_all, ensure_open_files, open_connections
from .procstats import descendants

from .servers import PROJECT_ROOT, ServerHandle, running_server

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"

# Resident memory after the last round may exceed the first round's by this much
# (allocator noise); more would mean each round leaves something behind.
RSS_ROUND_SLACK_KIB = 8 * 1024
# Descriptors per worker process the pools may have added (its output pipe, the pipes
# of its frames both ways, its pidfd), and one to spare.
FDS_PER_WORKER = 5
# The longest an open inspector page may go without a byte (rows every 0.1 s, a
# keep-alive comment every 15 s when there is nothing): more means the page starved.
PAGE_GAP_LIMIT_S = 20.0


@dataclass
class Traffic:
    """What the talkers sent and what came back."""

    who_am_i: int = 0
    who_am_i_wrong: int = 0
    sent: int = 0
    delivered: int = 0
    error_frames: list[str] = field(default_factory=list)
    closed_early: int = 0


class Client:
    """One connection and the reader that sorts what it receives."""

    def __init__(self, connection: ClientConnection, connection_id: str, traffic: Traffic) -> None:
        self.connection = connection
        self.connection_id = connection_id
        self.replies: asyncio.Queue[str] = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read(traffic))

    async def _read(self, traffic: Traffic) -> None:
        try:
            async for message in self.connection:
                text = message if isinstance(message, str) else message.decode()
                if text.startswith("soak-"):
                    traffic.delivered += 1
                elif text.startswith("{"):
                    traffic.error_frames.append(text[:200])
                    self.replies.put_nowait(text)
                else:
                    self.replies.put_nowait(text)
        except ConnectionClosed:
            pass


async def _talk(clients: list[Client], traffic: Traffic, until: float, rng: random.Random) -> None:
    while time.monotonic() < until:
        client = rng.choice(clients)
        try:
            if rng.random() < 0.1:
                target = rng.choice(clients)
                await client.connection.send(json.dumps(
                    {"action": "sendMessage", "connectionId": target.connection_id, "message": f"soak-{traffic.sent}"}
                ))
                traffic.sent += 1
            else:
                await client.connection.send('{"action":"whoAmI"}')
                reply = await asyncio.wait_for(client.replies.get(), 30)
                traffic.who_am_i += 1
                traffic.who_am_i_wrong += reply != client.connection_id
        except ConnectionClosed:
            traffic.closed_early += 1
            clients.remove(client)
            if not clients:
                return


async def _quiet(server: ServerHandle, timeout_s: float) -> dict[str, Any]:
    """Poll until no session, record or background task is left (or time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        # The child's recorder keeps a sample per invocation (bench bookkeeping, not
        # the gateway's memory): dropped before each look.
        await server.query("reset")
        health: dict[str, Any] = await server.query("health")
        idle = health["sessions"] == 0 and health["registry"] == 0 and health["background_tasks"] == 0
        if idle or time.monotonic() > deadline:
            return health
        await asyncio.sleep(0.5)


def _table_rows(endpoint_url: str) -> int:
    import boto3

    client: Any = boto3.client(
        "dynamodb", endpoint_url=endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    return sum(int(client.scan(TableName=name, Select="COUNT")["Count"]) for name in client.list_tables()["TableNames"])


def _unknown_processes(server: ServerHandle, health: dict[str, Any]) -> list[int]:
    known = {pid for pids in health["workers"].values() for pid in pids} | {health["moto"]}
    return [pid for pid in descendants(server.pid) if pid not in known]


@dataclass
class Page:
    """An inspector page stand-in: reads the event stream, notes bytes, gaps, misses."""

    received: int = 0
    rows_messages: int = 0
    missed_records: int = 0
    longest_gap_s: float = 0.0
    _last: float = field(default_factory=time.monotonic)

    async def read(self, url: str) -> None:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(b"GET /@inspector/api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        pending = b""
        try:
            while chunk := await reader.read(65536):
                now = time.monotonic()
                self.longest_gap_s = max(self.longest_gap_s, now - self._last)
                self._last = now
                self.received += len(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.startswith(b"data: {\"type\": \"rows\""):
                        self.rows_messages += 1
                    elif line.startswith(b"data: {\"type\": \"missed\""):
                        self.missed_records += int(json.loads(line[6:])["count"])
        finally:
            writer.close()


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, take the baseline, run the rounds; returns the figures and checks."""
    assembly = await ensure_synth()
    child_args = ["--app", str(assembly), "--loop", args.loop]
    child_args += ["--max-workers", str(args.max_workers)] if args.max_workers else []
    child_args += ["--tracemalloc"] if args.tracemalloc else []
    child_args += ["--inspector"] if args.inspector_page else []
    figures: dict[str, Any] = {"settings": vars(args) | {"started": datetime.now(timezone.utc).isoformat()}}
    async with running_server("wsgw", "bench.gateway_child", child_args) as server:
        page = Page() if args.inspector_page else None
        page_task = asyncio.ensure_future(page.read(server.url)) if page else None
        warm, _ = await open_connections(server.url, 50, hello='{"action":"whoAmI"}')
        await close_all(warm)
        figures["baseline"] = await _quiet(server, 60)
        figures["rounds"] = []
        for number in range(args.rounds):
            figures["rounds"].append(await _round(server, args, random.Random(number)))
        figures["unknown_processes"] = _unknown_processes(server, figures["rounds"][-1]["after"])
        if page is not None and page_task is not None:
            page.longest_gap_s = max(page.longest_gap_s, time.monotonic() - page._last)
            figures["page"] = {k: v for k, v in vars(page).items() if not k.startswith("_")}
            page_task.cancel()
    figures["checks"] = _checks(figures, args.connections)
    return figures


async def _round(server: ServerHandle, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """Open every connection, let them talk, close them all, wait for quiet."""
    figures: dict[str, Any] = {}
    endpoint = (await server.query("health"))["aws_endpoint_url"]
    started = time.monotonic()
    connections, ids = await open_connections(
        server.url, args.connections, concurrency=100, timeout_s=args.timeout, hello='{"action":"whoAmI"}',
    )  # fmt: skip
    figures["open_s"] = time.monotonic() - started
    figures["rows_while_open"] = await asyncio.to_thread(_table_rows, endpoint)
    traffic = Traffic()
    clients = [Client(c, i, traffic) for c, i in zip(connections, ids)]
    samples: list[dict[str, Any]] = [await server.query("health")]

    until = time.monotonic() + args.duration / args.rounds
    talkers = asyncio.gather(*(_talk(list(clients), traffic, until, rng) for _ in range(args.talkers)))
    while not talkers.done():
        await asyncio.wait({talkers}, timeout=5)
        samples.append(await server.query("health"))
    await talkers
    deadline = time.monotonic() + 30
    while traffic.delivered < traffic.sent and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    figures["traffic"] = vars(traffic)
    figures["peak_rss_kib"] = max(s["rss_before_trim_kib"] for s in samples)
    figures["peak_fds"] = max(s["open_fds"] for s in samples)

    started = time.monotonic()
    await close_all(connections)
    for client in clients:
        await client.reader
    figures["after"] = await _quiet(server, args.timeout)
    figures["close_s"] = time.monotonic() - started
    figures["rows_after"] = await asyncio.to_thread(_table_rows, endpoint)
    return figures


def _checks(figures: dict[str, Any], connections: int) -> dict[str, bool]:
    base, rounds = figures["baseline"], figures["rounds"]
    after = rounds[-1]["after"]
    workers_after = sum(map(len, after["workers"].values()))
    new_workers = workers_after - sum(map(len, base["workers"].values()))
    traffic = [r["traffic"] for r in rounds]
    checks = {
        "every connection opened and had its row": all(r["rows_while_open"] == connections for r in rounds),
        "connections table empty after each round": all(r["rows_after"] == 0 for r in rounds),
        "no session or registry record left": all((r["after"]["sessions"], r["after"]["registry"]) == (0, 0) for r in rounds),
        # Handlers' boto3 keeps its HTTP connections to @connections open (urllib3's
        # pool), at most one per worker here; anything beyond that is a leak.
        "HTTP connections only the workers' keep-alive ones (and the inspector page's)": (
            after["transports"] <= workers_after + (1 if "page" in figures else 0)
        ),
        "no background task left, asyncio tasks at baseline": (
            after["background_tasks"] == 0 and after["asyncio_tasks"] <= base["asyncio_tasks"]
        ),
        "descriptors back to baseline (+ new workers)": (
            after["open_fds"] <= base["open_fds"] + FDS_PER_WORKER * max(0, new_workers) + after["transports"]
        ),
        "no process the invoker does not know": not figures["unknown_processes"],
        "every whoAmI answered with the caller's id": all(t["who_am_i"] > 0 and t["who_am_i_wrong"] == 0 for t in traffic),
        "every sendMessage delivered, no error frame": all(
            t["delivered"] == t["sent"] and not t["error_frames"] and t["closed_early"] == 0 for t in traffic
        ),
    }  # fmt: skip
    if "page" in figures:
        page = figures["page"]
        checks["the inspector page kept receiving rows"] = (
            page["rows_messages"] > 0 and page["longest_gap_s"] <= PAGE_GAP_LIMIT_S
        )
    if len(rounds) > 1:
        # The same load again must not leave more behind: memory the first round left
        # is the allocator's (reused by the next round), growth round over round a leak.
        first, last = rounds[0]["after"]["rss_kib"], after["rss_kib"]
        checks["resident memory not growing round over round"] = last <= first + RSS_ROUND_SLACK_KIB
    return checks


def _print(figures: dict[str, Any]) -> None:
    base, mib = figures["baseline"], 1024.0
    print(f"baseline (no clients): RSS {base['rss_kib'] / mib:.1f} MiB, {base['open_fds']} descriptors, "
          f"{base['asyncio_tasks']} asyncio tasks, {sum(map(len, base['workers'].values()))} workers")  # fmt: skip
    for number, r in enumerate(figures["rounds"], 1):
        after, traffic = r["after"], r["traffic"]
        print(f"round {number}: {figures['settings']['connections']:,} connections opened in {r['open_s']:.1f} s; "
              f"{traffic['who_am_i']:,} whoAmI round trips, {traffic['sent']:,} sendMessage sent, "
              f"{traffic['delivered']:,} delivered, {len(traffic['error_frames'])} error frames; "
              f"closed (every $disconnect done) in {r['close_s']:.1f} s")  # fmt: skip
        print(f"  RSS peak {r['peak_rss_kib'] / mib:.1f} MiB, after {after['rss_kib'] / mib:.1f} MiB "
              f"(before malloc_trim {after['rss_before_trim_kib'] / mib:.1f}); descriptors peak {r['peak_fds']}, "
              f"after {after['open_fds']}; HTTP connections after {after['transports']}; "
              f"asyncio tasks after {after['asyncio_tasks']}; workers {sum(map(len, after['workers'].values()))}; "
              f"table rows after {r['rows_after']}")  # fmt: skip
    if "page" in figures:
        page = figures["page"]
        print(f"inspector page: {page['received'] / mib / mib:.1f} MiB received in {page['rows_messages']:,} row "
              f"messages, {page['missed_records']:,} records missed (told), longest gap {page['longest_gap_s']:.1f} s")
    for check, ok in figures["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'}  {check}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--connections", type=int, default=5000, help="connections held open (default 5000)")
    parser.add_argument("--duration", type=float, default=120.0,
                        help="seconds of traffic in all, split over the rounds (default 120)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="open/talk/close rounds (default 2: the second shows whether memory grows)")
    parser.add_argument("--talkers", type=int, default=50, help="concurrent sending loops (default 50)")
    parser.add_argument("--max-workers", type=int, default=None,
                        help="gateway worker processes per function (default: run-local's)")
    parser.add_argument("--timeout", type=float, default=600.0, help="limit for opening or closing all connections (s)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="trace the gateway's allocations (slower); the JSON lists the top lines")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="event loop")
    parser.add_argument("--inspector-page", action="store_true",
                        help="the live inspector on, with a page open the whole time")
    args = parser.parse_args(argv)
    ensure_open_files(2 * args.connections + 512)
    figures = event_loop.run(soak(args), args.loop)
    _print(figures)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"soak-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(figures, indent=1, default=str))
    print(f"wrote {out}")
    return 0 if all(figures["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
