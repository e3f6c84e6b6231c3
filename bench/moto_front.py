"""``python -m bench.moto_front``: the embedded moto server behind werkzeug's dev server
(how ``emulator.aws.embedded`` has run it) vs behind :mod:`emulator.aws.moto_front`.

Each variant runs in its own child process, started once here:

- ``old``: ``ThreadedMotoServer`` (werkzeug, ``Connection: close``, a thread per
  request, moto's own dispatcher), exactly as ``aws_services._main`` starts it;
- ``memo``: the same werkzeug server serving :class:`~emulator.aws.moto_dispatch.MemoizingDispatcher`
  (only the service-lookup cache; opt in with ``--variants old,memo,new``);
- ``new``: :func:`emulator.aws.moto_front.serve` with ``MemoizingDispatcher`` (keep-alive,
  the app run on the front's loop thread).

A run is ``--calls`` DynamoDB calls (PutItem and DeleteItem alternating, ~100-byte
items) from boto3 clients in this process: one client in the main thread, then
``--threads`` threads with a client each, sharing the calls. Runs alternate between the
variants (old, new, then new, old, ...) so that load from elsewhere on the machine hits
both alike; each figure is the median of ``--runs`` runs. Reported per call: wall time,
CPU time of the moto child (``/proc/<pid>/stat`` utime + stime) and of this client
process (``time.process_time``). On a busy machine, trust the CPU figures over wall.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from .procstats import cpu_seconds

VARIANTS = ("old", "memo", "new")
TABLE = "bench"


def _serve_old(host: str) -> Callable[[], None]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    print("PORT", server.get_host_and_port()[1], flush=True)
    stop: Callable[[], None] = server.stop
    return stop


def _serve_memo(host: str) -> Callable[[], None]:
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from emulator.aws.moto_dispatch import MemoizingDispatcher

    server = make_server(host, 0, MemoizingDispatcher(), True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print("PORT", server.server_address[1], flush=True)

    def stop() -> None:
        server.shutdown()
        thread.join()

    return stop


def _serve_new(host: str) -> Callable[[], None]:
    from emulator.aws.moto_dispatch import MemoizingDispatcher
    from emulator.aws.moto_front import serve

    front = serve(MemoizingDispatcher(), host, 0)
    print("PORT", front.port, flush=True)
    return front.stop


_SERVERS: dict[str, Callable[[str], Callable[[], None]]] = {
    "old": _serve_old, "memo": _serve_memo, "new": _serve_new,
}


class Child:
    """One moto variant in a child process (``--serve VARIANT``); exits when its stdin
    closes. Call :meth:`stop` when done."""

    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.moto_front", "--serve", variant],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # as emulator.aws.embedded runs it (werkzeug logs each request)
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(b"PORT "):
            self.stop()
            raise RuntimeError(f"moto ({variant}) did not start: {line!r}")
        self.endpoint_url = f"http://127.0.0.1:{int(line.split()[1])}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self) -> Any:
        """A new boto3 DynamoDB client (own session: safe to use from one thread)."""
        import boto3

        return boto3.session.Session().client(
            "dynamodb", endpoint_url=self.endpoint_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing")

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass(frozen=True)
class Run:
    """One run's totals."""

    calls: int
    wall_s: float
    server_cpu_s: float
    client_cpu_s: float

    def per_call_ms(self) -> tuple[float, float, float]:
        return tuple(1000 * x / self.calls for x in (self.wall_s, self.server_cpu_s, self.client_cpu_s))  # type: ignore[return-value]


def _calls(client: Any, prefix: str, count: int) -> None:
    """``count`` calls: PutItem and DeleteItem of the same key, alternating."""
    for i in range(count):
        key = {"pk": {"S": f"{prefix}-{i // 2}"}}
        if i % 2 == 0:
            client.put_item(TableName=TABLE, Item={**key, "v": {"S": "x" * 100}})
        else:
            client.delete_item(TableName=TABLE, Key=key)


def measure(child: Child, clients: list[Any], calls: int) -> Run:
    """Time ``calls`` calls shared by ``clients`` (one thread each if more than one)."""
    share = calls // len(clients)
    server_before, client_before = cpu_seconds(child.pid), time.process_time()
    started = time.perf_counter()
    if len(clients) == 1:
        _calls(clients[0], "t0", share)
    else:
        threads = [threading.Thread(target=_calls, args=(c, f"t{n}", share)) for n, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    wall = time.perf_counter() - started
    server_after, client_after = cpu_seconds(child.pid), time.process_time()
    assert server_before is not None and server_after is not None, "moto child gone"
    return Run(share * len(clients), wall, server_after - server_before, client_after - client_before)


def _prepare(child: Child, threads: int) -> dict[int, list[Any]]:
    """Create the table and the clients (1 and ``threads``), each warmed up."""
    first = child.client()
    first.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    pools = {1: [first], threads: [child.client() for _ in range(threads)]}
    for clients in pools.values():
        for client in clients:
            _calls(client, "warm", 20)
    return pools


def run_bench(variants: list[str], calls: int, runs: int, threads: int) -> dict[tuple[str, int], list[Run]]:
    """Start each variant's child, then alternate runs between them; every run kept."""
    children = {variant: Child(variant) for variant in variants}
    results: dict[tuple[str, int], list[Run]] = {}
    try:
        pools = {variant: _prepare(child, threads) for variant, child in children.items()}
        for width in (1, threads):
            for n in range(runs):
                for variant in variants if n % 2 == 0 else list(reversed(variants)):
                    run = measure(children[variant], pools[variant][width], calls)
                    results.setdefault((variant, width), []).append(run)
                    wall, server, client = run.per_call_ms()
                    print(f"  {variant:>4} x{width:<2} run {n + 1}: wall {wall:.2f} ms/call, "
                          f"moto CPU {server:.2f}, client CPU {client:.2f}", file=sys.stderr, flush=True)
    finally:
        for child in children.values():
            child.stop()
    return results


def report(results: dict[tuple[str, int], list[Run]], variants: list[str], threads: int) -> str:
    """A table of medians per call, with each variant's ratio to the first."""
    lines = [f"{'variant':<8}{'clients':>8}{'wall ms/call':>14}{'moto CPU ms':>13}{'client CPU ms':>15}"
             f"{'  vs ' + variants[0] + ' (wall / moto / client)':>40}"]
    for width in (1, threads):
        base: tuple[float, ...] | None = None
        for variant in variants:
            per_call = [run.per_call_ms() for run in results[variant, width]]
            medians = tuple(statistics.median(values) for values in zip(*per_call))
            base = base or medians
            ratios = " / ".join(f"{m / b - 1:+.0%}" for m, b in zip(medians, base))
            lines.append(f"{variant:<8}{width:>8}{medians[0]:>14.2f}{medians[1]:>13.2f}{medians[2]:>15.2f}{ratios:>40}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="DynamoDB calls per run (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per variant and width (default 3)")
    parser.add_argument("--threads", type=int, default=10, help="client threads in the second part (default 10)")
    parser.add_argument("--variants", default="old,new", help=f"comma-separated, from {','.join(VARIANTS)}")
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)  # the child's side
    args = parser.parse_args(argv)
    if args.serve:
        stop = _SERVERS[args.serve]("127.0.0.1")
        sys.stdin.read()  # until the parent closes our stdin (or dies)
        stop()
        return 0
    variants = args.variants.split(",")
    if not variants or any(v not in VARIANTS for v in variants):
        parser.error(f"--variants: choose from {','.join(VARIANTS)}")
    print(f"moto front bench: {args.calls} calls x {args.runs} runs, 1 and {args.threads} client threads, "
          f"{os.cpu_count()} CPUs", file=sys.stderr)
    results = run_bench(variants, args.calls, args.runs, args.threads)
    print(report(results, variants, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
