"""``python -m bench.moto_ab``: the embedded moto's CPU per DynamoDB call, two checkouts side by side.

What :mod:`bench.cpu_ab` does for the gateway's message path, this does for the moto
child that handlers' DynamoDB calls reach (scenario c's ``$connect``/``$disconnect``
writes). It starts one moto child per checkout (``python -m emulator.aws.embedded``
from that checkout), all at once, then round after round drives each in turn with
``--calls`` PutItem + DeleteItem pairs from one boto3 client, as the chat app's
handlers send them (the order reversed every other round). For each batch it reads
the child's on-CPU time from ``/proc/<pid>/task/*/schedstat`` before and after, and
prints each checkout's median per call and, for each checkout after the first, the
median of its per-round difference from the first (with the range).

    git worktree add /tmp/wsgw-base HEAD        # the code before the change
    python -m bench.moto_ab --rounds 16 new=. base=/tmp/wsgw-base
    git worktree remove /tmp/wsgw-base

Linux only.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from emulator.core.credentials import DUMMY_CLIENT_ARGUMENTS

from .cpu_ab import checkouts_parser, cpu_ns, median_range, parse_checkouts, started

TABLE = "connections"
REGION = "us-east-1"


@dataclass
class MotoChild:
    """One checkout's moto child, its table's client, and its CPU per call so far."""

    name: str
    process: subprocess.Popen[str]
    table: Any
    ms_per_call: list[float] = field(default_factory=list)

    @classmethod
    def start(cls, name: str, root: Path) -> MotoChild:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator.aws.embedded", "--port", "0"], cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        # No tables: the child creates what this line says before it serves (a checkout
        # from before 2026-12-07 did not wait for it, and ignores it).
        process.stdin.write(json.dumps({"region": REGION, "tables": []}) + "\n")
        process.stdin.flush()
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            process.kill()
            raise SystemExit(f"bench.moto_ab: the moto child of {name} ({root}) did not start: {line!r}")
        resource: Any = boto3.resource(
            "dynamodb", endpoint_url=f"http://127.0.0.1:{int(line.split()[1])}", region_name=REGION,
            **DUMMY_CLIENT_ARGUMENTS,
        )  # fmt: skip
        table = resource.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
        )  # fmt: skip
        return cls(name, process, table)

    def pairs(self, count: int, tag: str) -> None:
        """``count`` PutItem + DeleteItem pairs, the chat app's $connect and $disconnect writes."""
        for index in range(count):
            key = f"{tag}-{index}"
            self.table.put_item(Item={"connectionId": key, "connectedAt": 1_765_000_000_000, "ttl": 1_765_007_500})
            self.table.delete_item(Key={"connectionId": key})

    def measured(self, count: int, tag: str) -> float:
        """Run :meth:`pairs` and return the child's CPU milliseconds per call."""
        before = cpu_ns(self.process.pid) or 0
        self.pairs(count, tag)
        after = cpu_ns(self.process.pid) or 0
        return (after - before) / (2 * count) / 1e6

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # the child exits when its stdin closes
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def compare(children: list[MotoChild], *, rounds: int, calls: int) -> None:
    """Warm each child up, run the rounds and print the results (see the module docstring)."""
    for child in children:
        child.pairs(max(1, calls // 3), "warm")
    for index in range(rounds):
        for child in children if index % 2 == 0 else children[::-1]:
            child.ms_per_call.append(child.measured(calls, f"r{index}"))
            print(f"round {index + 1} {child.name}: moto {child.ms_per_call[-1]:.3f} ms CPU per call; "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    print(f"medians over {rounds} rounds of {calls} put + delete pairs:")
    for child in children:
        print(f"  {child.name}: moto {statistics.median(child.ms_per_call):.3f} ms CPU per call")
    first = children[0]
    for other in children[1:]:
        differences = [b - a for a, b in zip(first.ms_per_call, other.ms_per_call)]
        print(f"  {other.name} − {first.name}, per round: {median_range(differences, 'ms', 3)}")


def main(argv: list[str]) -> int:
    parser = checkouts_parser("python -m bench.moto_ab", __doc__)
    parser.add_argument("--rounds", type=int, default=16, help="rounds (each drives every checkout once)")
    parser.add_argument("--calls", type=int, default=150, help="put + delete pairs per checkout and round")
    args = parser.parse_args(argv)  # fmt: skip
    with started(parse_checkouts(parser, args.checkouts), MotoChild.start) as children:
        compare(children, rounds=args.rounds, calls=args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
