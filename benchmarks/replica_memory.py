"""Where an ovsdb_ic initial sync's memory goes, step by step (docs/performance.md).

One standalone ``OVN_IC_Southbound`` ``ovsdb-server`` (in a :class:`~ovsdb_ic.testing.Sandbox`)
holds N ``Route`` rows (``benchmarks/capture.py``); a fresh subprocess per run replicates
``Route`` + ``Availability_Zone`` with the trio client while the library's steps are
wrapped to print the growth of the process's resident set (VmRSS) and of its peak (VmHWM,
reset before connecting) after each: the framer's parses, parts of the decode, steps
of the staged apply, the commit and the ``malloc_trim``. With ``--arenas`` the run ends
with ``sys._debugmallocstats()`` (pymalloc's arenas, pools and free blocks, on stderr).

Measurement only: no behaviour changes. ``--checkout DIR`` runs a worker against another
checkout of the library (e.g. a ``git worktree`` of main), several to alternate them::

    .venv/bin/python benchmarks/replica_memory.py --rows 50000
    .venv/bin/python benchmarks/replica_memory.py --rows 50000 --checkout /tmp/main . /tmp/main .
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DB = "OVN_IC_Southbound"


def _status(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def worker(remote: str, arenas: bool) -> None:
    import trio

    import ovsdb_ic.client
    from ovsdb_ic.client import live as live_mod
    from ovsdb_ic.client import monitor as monitor_mod
    from ovsdb_ic.replica import staged as staged_mod
    from ovsdb_ic.wire import framing

    log: list[tuple[str, float, float]] = []
    base = [0]

    def mark(label: str) -> None:
        log.append((label, (_status("VmRSS") - base[0]) / 1024,
                    (_status("VmHWM") - base[0]) / 1024))

    def wrap(owner: Any, name: str, before: Any = None, after: Any = None) -> None:
        inner = getattr(owner, name)

        def wrapped(*a: Any, **kw: Any) -> Any:
            if before:
                before(*a)
            out = inner(*a, **kw)
            if after:
                after(out, *a)
            return out

        setattr(owner, name, wrapped)

    parses = [0]

    def parsed(_out: Any, data: Any) -> None:
        if len(data) >= 1 << 20:
            parses[0] += 1
            if parses[0] % 10 == 0:
                mark(f"framer: {parses[0]} parses of 1 MiB or more")

    wrap(framing, "_loads", after=parsed)
    parts = [0]

    def decoded(_out: Any, *_a: Any) -> None:
        parts[0] += 1
        if parts[0] in (1, 5) or parts[0] % 10 == 0:
            mark(f"decode: part {parts[0]}")

    wrap(monitor_mod, "decode_update2", after=decoded)
    steps = [0]

    def stepped(done: bool, staged: Any, *_a: Any) -> None:
        steps[0] += 1
        if steps[0] % 25 == 0 or done:
            mark(f"apply: step {steps[0]}, {staged.processed} updates read")

    wrap(staged_mod.StagedApply, "step", after=stepped)
    wrap(staged_mod.StagedApply, "commit", before=lambda *_: mark("apply: before commit"),
         after=lambda *_: mark("apply: after commit"))
    wrap(live_mod, "_return_free_memory", before=lambda *_: mark("before malloc_trim"),
         after=lambda *_: mark("after malloc_trim"))

    async def main() -> None:
        gc.collect()
        base[0] = _status("VmRSS")
        _reset_peak()
        cpu = time.process_time()
        async with ovsdb_ic.client.connect(remote, database=DB) as c:
            live = await c.replicate(["Route", "Availability_Zone"])
            cpu = time.process_time() - cpu
            mark(f"replicated {len(live.replica.table('Route'))} rows, {cpu:.3f} s CPU")
            if arenas:
                sys._debugmallocstats()

    trio.run(main)
    for label, rss, hwm in log:
        print(f"  {label:<48} rss +{rss:7.1f} MiB  peak +{hwm:7.1f} MiB", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50000)
    ap.add_argument("--checkout", nargs="+", default=[str(HERE.parent)],
                    help="library checkouts to run a worker against, in turn")
    ap.add_argument("--arenas", action="store_true", help="print sys._debugmallocstats()")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.arenas)
        return 0

    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    from capture import RawClient, populate

    from ovsdb_ic.testing import Sandbox

    with Sandbox() as sb:
        srv = sb.start_server("ic-sb", name="icsb", unix=True)
        setup = RawClient(srv.remote.split(":", 1)[1])
        populate(setup, args.rows)
        setup.close()
        for checkout in args.checkout:
            print(f"# {args.rows} Route rows, library from {Path(checkout).resolve()}",
                  flush=True)
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", srv.remote,
                   *(["--arenas"] if args.arenas else [])]
            # PYTHONPATH comes before the installed (editable) package on sys.path.
            env = {**os.environ, "PYTHONPATH": str(Path(checkout).resolve())}
            subprocess.run(cmd, check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
