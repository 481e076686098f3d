"""What starting the sync engine costs: ``ovsdb-ic sync --once`` beside ``import trio``.

Set-up: the two-AZ deployment of ``benchmarks/convergence.py`` (``--routes`` static
routes per AZ), settled once by a first ``sync --once`` of AZ1 (not counted). Then,
alternating, ``--runs`` times each: ``python -m ovsdb_ic sync --once`` for AZ1 (the
interpreter, the imports, connecting to the four databases, copying the tables, taking
the lock and one pass that plans nothing), ``python -c "import trio"`` (the floor every
engine pays) and ``python -c pass``; with ``--baseline DIR``, also ``sync --once`` run
from another checkout (e.g. ``git worktree add /tmp/base main``), to compare two
versions in the same run. Reported per process: the best and median of its CPU time
(user + system, from ``wait4``) and wall-clock time.

Every checkout is byte-compiled first, as an installed package is (see
:func:`convergence.compile_checkout`).

Usage::

    PYTHONPATH=. python benchmarks/engine_start.py --runs 10
    PYTHONPATH=. python benchmarks/engine_start.py --runs 10 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import convergence as cv

ROOT = Path(__file__).resolve().parents[1]


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``argv``."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd="/tmp")
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, wall


def main(argv: list[str] | None = None) -> int:
    """Run the processes alternately and print the table."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="runs of each process")
    ap.add_argument("--routes", type=int, default=0, help="static routes per AZ")
    ap.add_argument("--baseline", type=Path, help="another checkout to run sync --once from")
    args = ap.parse_args(argv)
    trees = {"sync --once": ROOT}
    if args.baseline is not None:
        trees["sync --once (baseline)"] = args.baseline.resolve()
    for tree in trees.values():
        if not cv.compile_checkout(tree):
            ap.error(f"{tree}: cannot byte-compile its ovsdb_ic")
        where = subprocess.run(
            [sys.executable, "-c", "import ovsdb_ic; print(ovsdb_ic.__file__)"],
            env={**os.environ, "PYTHONPATH": str(tree)}, check=True, capture_output=True,
            text=True, cwd="/tmp",
        ).stdout.strip()
        if not Path(where).resolve().is_relative_to(tree):
            ap.error(f"PYTHONPATH={tree} imports ovsdb_ic from {where}")
    results: dict[str, list[tuple[float, float]]] = {}
    with cv.Sandbox() as sandbox:
        bench = cv.Bench(sandbox, args.routes)
        bench.setup()
        sync = [sys.executable, "-m", "ovsdb_ic", "sync", "--once",
                f"--ovnnb-db={bench.nb['az1']}", f"--ovnsb-db={bench.sb['az1']}",
                f"--ic-nb-db={bench.ic_nb}", f"--ic-sb-db={bench.ic_sb}"]  # fmt: skip
        procs: dict[str, tuple[list[str], dict[str, str]]] = {
            name: (sync, {**os.environ, "PYTHONPATH": str(tree)}) for name, tree in trees.items()
        }
        procs['python -c "import trio"'] = ([sys.executable, "-c", "import trio"], dict(os.environ))
        procs["python -c pass"] = ([sys.executable, "-c", "pass"], dict(os.environ))
        measure(*procs["sync --once"])  # registers AZ1: the deployment is settled after it
        for _ in range(args.runs):
            for name, (command, env) in procs.items():
                results.setdefault(name, []).append(measure(command, env))
    print(f"{'process':<28} {'CPU best':>9} {'CPU median':>11} {'wall best':>10} "
          f"{'wall median':>12}   (ms, {args.runs} runs each)")
    for name, runs in results.items():
        cpu = [c * 1000 for c, _ in runs]
        wall = [w * 1000 for _, w in runs]
        print(f"{name:<28} {min(cpu):9.0f} {statistics.median(cpu):11.0f} {min(wall):10.0f} "
              f"{statistics.median(wall):12.0f}")
    print(f"# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
