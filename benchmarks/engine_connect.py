"""What the sync engine's connect-and-replicate phase costs: ``run()`` to the first plan.

Set-up: the two-AZ deployment of ``benchmarks/convergence.py`` (``--routes`` static
routes per AZ), AZ2's engine running (``ovsdb-ic sync``) and settled. Then, ``--runs``
times, a fresh process imports the library (not timed) and runs AZ1's
:class:`~ovsdb_ic.sync.SyncEngine` once (``run(once=True)``); it reports the
wall-clock time and its own thread CPU time from ``run()`` to the first plan:
connecting to the four databases, the handshakes (schemas, ``_Server``), copying the
tables and taking the lock. With ``--baseline DIR`` the same is run from another
checkout, alternating, to compare two versions in the same run. Both checkouts are
byte-compiled first; the first process of each (the first settles AZ1) is left out.

Usage::

    PYTHONPATH=. python benchmarks/engine_connect.py --runs 20
    PYTHONPATH=. python benchmarks/engine_connect.py --runs 20 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import convergence as cv

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
import trio
import ovsdb_ic.client.connection, ovsdb_ic.models.mapping, ovsdb_ic.sync.session  # noqa
import ovsdb_ic.sync.runner as runner
from ovsdb_ic.sync import SyncConfig, SyncEngine

config = SyncConfig(**json.loads(sys.argv[1]))
start: list[float] = []
first: list[tuple[float, float]] = []
plan = runner.SyncEngine.plan

def timed_plan(self):
    result = plan(self)
    if not first:
        first.append((time.perf_counter() - start[0], time.thread_time() - start[1]))
    return result

runner.SyncEngine.plan = timed_plan

async def main():
    engine = SyncEngine(config)
    start.extend((time.perf_counter(), time.thread_time()))
    await engine.run(once=True)

trio.run(main)
print(json.dumps(first[0]))
"""


def main(argv: list[str] | None = None) -> int:
    """Run the processes alternately and print the table."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20, help="processes per checkout")
    ap.add_argument("--routes", type=int, default=0, help="static routes per AZ")
    ap.add_argument("--baseline", type=Path, help="another checkout to compare with")
    args = ap.parse_args(argv)
    trees = {"this checkout": ROOT}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    for tree in trees.values():  # as installed: no compiling in the timed processes
        if not cv.compile_checkout(tree):
            ap.error(f"{tree}: cannot byte-compile its ovsdb_ic")
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    with cv.Sandbox() as sandbox:
        bench = cv.Bench(sandbox, args.routes)
        bench.setup()
        config = {"ovnnb_db": bench.nb["az1"], "ovnsb_db": bench.sb["az1"],
                  "ic_nb_db": bench.ic_nb, "ic_sb_db": bench.ic_sb}
        other = subprocess.Popen(
            [sys.executable, "-m", "ovsdb_ic", "sync", f"--ovnnb-db={bench.nb['az2']}",
             f"--ovnsb-db={bench.sb['az2']}", f"--ic-nb-db={bench.ic_nb}",
             f"--ic-sb-db={bench.ic_sb}"],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd="/tmp",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(1.0)
            for i in range(args.runs + 1):
                for name, tree in trees.items():
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, json.dumps(config)],
                        env={**os.environ, "PYTHONPATH": str(tree)}, cwd="/tmp",
                        capture_output=True, text=True, check=True,
                    )
                    if i:  # the first process settles AZ1: not counted
                        results[name].append(json.loads(out.stdout.splitlines()[-1]))
        finally:
            other.terminate()
            other.wait()
    print(f"run() to the first plan, {args.routes} routes per AZ, {args.runs} fresh "
          "processes each (ms)")
    print(f"{'checkout':<16}{'wall best':>10}{'wall median':>13}{'CPU best':>10}"
          f"{'CPU median':>12}")
    for name, rows in results.items():
        wall = [1000 * r[0] for r in rows]
        cpu = [1000 * r[1] for r in rows]
        print(f"{name:<16}{min(wall):>10.1f}{statistics.median(wall):>13.1f}"
              f"{min(cpu):>10.1f}{statistics.median(cpu):>12.1f}")
    print("# load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
