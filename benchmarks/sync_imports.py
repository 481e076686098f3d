"""What ``ovsdb-ic sync`` pays for the library's imports and its command line, beyond trio.

Each run is a fresh interpreter that imports trio, then times itself (thread CPU time
and wall-clock time) importing what the ``sync`` command imports
(``ovsdb_ic.sync.runner``, ``ovsdb_ic.cli.sync``, ``ovsdb_ic.cli``), and then that plus
parsing a ``sync`` command line (``main(["sync", "--help"])``, which builds the parser
and stops). With several checkouts (``PYTHONPATH`` of each), the runs alternate between
them. No server is started. Every checkout is byte-compiled first, as an installed
package is.

Usage::

    PYTHONPATH=. python benchmarks/sync_imports.py --runs 25 . /tmp/base
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import convergence as cv

CHILD = r"""
import contextlib, io, time
import trio
c0, w0 = time.thread_time(), time.perf_counter()
import ovsdb_ic.sync.runner
import ovsdb_ic.cli.sync
from ovsdb_ic.cli import main
c1, w1 = time.thread_time(), time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["sync", "--help"])
    except SystemExit:
        pass
c2, w2 = time.thread_time(), time.perf_counter()
print((c1 - c0) * 1e3, (w1 - w0) * 1e3, (c2 - c0) * 1e3, (w2 - w0) * 1e3)
"""


def main(argv: list[str] | None = None) -> int:
    """Run the children alternately and print best and median of each column."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=25, help="runs per checkout")
    ap.add_argument("trees", nargs="+", type=Path, help="checkouts to import ovsdb_ic from")
    args = ap.parse_args(argv)
    trees = [t.resolve() for t in args.trees]
    for tree in trees:
        if not cv.compile_checkout(tree):
            ap.error(f"{tree}: cannot byte-compile its ovsdb_ic")
    results: dict[Path, list[list[float]]] = {t: [] for t in trees}
    for _ in range(args.runs):
        for tree in trees:
            out = subprocess.run([sys.executable, "-c", CHILD], check=True, text=True,
                                 capture_output=True, cwd="/tmp",
                                 env={**os.environ, "PYTHONPATH": str(tree)}).stdout
            results[tree].append([float(x) for x in out.split()])
    print(f"{'checkout':<32} {'imports CPU':>16} {'wall':>16} {'+ parse CPU':>16} "
          f"{'wall':>16}   (ms after import trio, best / median of {args.runs})")
    for tree, runs in results.items():
        cols = list(zip(*runs, strict=True))
        print(f"{tree!s:<32}" + "".join(
            f" {min(c):7.1f} / {statistics.median(c):6.1f}" for c in cols))
    print(f"# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
