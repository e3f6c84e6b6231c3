"""``python -m bench.startup_ab``: start-up of two or more checkouts, launch after launch.

Scenario f or g of the full bench, for each checkout in turn, round after round (the
order reversed every other round): f starts ``cli.py run-local`` on the bench's cached
bundled app and times launch → "Ready" → first ``whoAmI`` answered, and reads the CPU
that run-local and every process under it (the moto child, the workers) had used by
that answer from ``/proc/<pid>/task/*/schedstat`` (run-local's own process apart: the
gateway's share, which moves far less than the whole); g runs the plugin scenario's
throw-away pytest project (a user's plugins) and times launch → first test body
(with the CPU of pytest and every process under it by then). Each
checkout runs with ``PYTHONPATH`` set to its root, so its own ``emulator`` package
(and worker, and moto child) is the one that starts; its modules are compiled first,
as ``make bytecode`` does, so that no launch compiles them.

Start-up on a shared 2-core machine is CPU-bound and its wall time moves by tenths of
a second between launches; alternating launches and taking the median of per-round
differences is what shows a change of a few hundredths. The CPU-seconds of f move
much less than its wall time.

    git worktree add /tmp/wsgw-base HEAD        # the code before the change
    python -m bench.startup_ab --rounds 10 base=/tmp/wsgw-base new=.
    git worktree remove /tmp/wsgw-base

Linux only (f's CPU figures).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .bundled import ensure_synth
from .cpu_ab import checkouts_parser, cpu_ns, median_range, parse_checkouts
from .plugin_startup import one_run, user_plugins, write_project
from .startup import run_local_once


def tree_cpu_s(pid: int) -> float:
    """On-CPU seconds so far of ``pid`` and of every process under it (those alive now)."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        total += cpu_ns(current) or 0
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                pending += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
            except OSError:
                pass
    return total / 1e9


@dataclass
class Checkout:
    """One checkout and its launches' figures (seconds)."""

    name: str
    root: Path
    ready: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    own_cpu: list[float] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"PYTHONPATH": os.pathsep.join([str(self.root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}

    def compile(self) -> None:
        subprocess.run([sys.executable, "-m", "compileall", "-q", "cli.py", "emulator"], cwd=self.root, check=True)


async def _launch_f(checkout: Checkout, assembly: Path, state: Path) -> str:
    used: list[tuple[float, float]] = []
    run = await run_local_once(assembly, state, command=[sys.executable, str(checkout.root / "cli.py")],
                               cwd=checkout.root, env=checkout.env,
                               on_answer=lambda pid: used.append((tree_cpu_s(pid), (cpu_ns(pid) or 0) / 1e9)))  # fmt: skip
    checkout.ready.append(run["ready_line_s"])
    checkout.first.append(run["first_answer_s"])
    checkout.cpu.append(used[0][0])
    checkout.own_cpu.append(used[0][1])
    return (f"Ready {run['ready_line_s']:.3f} s, first answer {run['first_answer_s']:.3f} s, "
            f"CPU {used[0][0]:.2f} s (run-local's own {used[0][1]:.3f} s)")


def _launch_g(checkout: Checkout, project: Path, plugins: list[str]) -> str:
    run = one_run(project, 1, plugins, env=checkout.env)
    checkout.first.append(run["first_test_s"])
    checkout.cpu.append(run["first_test_cpu_s"])
    return f"first test body {run['first_test_s']:.3f} s, CPU {run['first_test_cpu_s']:.2f} s"


async def compare(checkouts: list[Checkout], *, scenario: str, rounds: int) -> None:
    """Warm each checkout up once, run the rounds and print the results."""
    assembly = await ensure_synth()
    plugins = user_plugins()
    with tempfile.TemporaryDirectory(prefix="wsgw-startup-ab-") as scratch:
        folder = Path(scratch)
        write_project(folder, 1, assembly)

        async def launch(checkout: Checkout) -> str:
            if scenario == "f":
                return await _launch_f(checkout, assembly, folder)
            return await asyncio.to_thread(_launch_g, checkout, folder, plugins)

        for checkout in checkouts:
            checkout.compile()
            await launch(checkout)  # untimed: the bench CA, the runtime SDK folder, disk caches
            for figures in (checkout.ready, checkout.first, checkout.cpu, checkout.own_cpu):
                figures.clear()
        for index in range(rounds):
            for checkout in checkouts if index % 2 == 0 else checkouts[::-1]:
                line = await launch(checkout)
                print(f"round {index + 1} {checkout.name}: {line}; load {os.getloadavg()[0]:.2f}", flush=True)
    label = "first answer" if scenario == "f" else "first test body"
    print(f"medians over {rounds} rounds, scenario {scenario}:")
    for checkout in checkouts:
        extra = f", CPU {statistics.median(checkout.cpu):.2f} s"
        if scenario == "f":
            extra = (f", Ready {statistics.median(checkout.ready):.3f} s{extra} "
                     f"(run-local's own {statistics.median(checkout.own_cpu):.3f} s)")
        print(f"  {checkout.name}: {label} {statistics.median(checkout.first):.3f} s{extra}")
    first = checkouts[0]
    for other in checkouts[1:]:
        line = f"  {other.name} − {first.name}, per round: {label} " + median_range(
            [(b - a) * 1000 for a, b in zip(first.first, other.first)], "ms", 0)
        if scenario == "f":
            line += ", Ready " + median_range([(b - a) * 1000 for a, b in zip(first.ready, other.ready)], "ms", 0)
        line += ", CPU " + median_range([(b - a) * 1000 for a, b in zip(first.cpu, other.cpu)], "ms", 0)
        if scenario == "f":
            line += ", run-local's own CPU " + median_range(
                [(b - a) * 1000 for a, b in zip(first.own_cpu, other.own_cpu)], "ms", 0)
        print(line)


def main(argv: list[str]) -> int:
    parser = checkouts_parser("python -m bench.startup_ab", __doc__)
    parser.add_argument("--scenario", choices=["f", "g"], default="f",
                        help="f: run-local to its first answer; g: pytest to its first test body")
    parser.add_argument("--rounds", type=int, default=10, help="rounds (each launches every checkout once)")
    args = parser.parse_args(argv)  # fmt: skip
    checkouts = [Checkout(name, root) for name, root in parse_checkouts(parser, args.checkouts)]
    asyncio.run(compare(checkouts, scenario=args.scenario, rounds=args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
