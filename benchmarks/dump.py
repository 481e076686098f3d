"""``ovsdb-ic dump`` and ``ovsdb-ic monitor`` beside the C ``ovsdb-client``, whole processes.

One standalone ``OVN_IC_Southbound`` ``ovsdb-server`` (in a :class:`~ovsdb_ic.testing.Sandbox`,
unix socket) holds one ``Availability_Zone`` and N ``Route`` rows (the rows of
``benchmarks/capture.py``). Then, alternating the tools in every round so that both see
the same machine load:

* **dump**: ``python -m ovsdb_ic dump --db=unix:... OVN_IC_Southbound Route`` against
  ``ovsdb-client -f json dump unix:... OVN_IC_Southbound Route``, from process start to
  exit, stdout to a pipe that is read completely. The two outputs are compared byte for
  byte in every round.
* **monitor, initial output**: ``python -m ovsdb_ic monitor ... Route`` until it has
  printed its N initial lines, against ``ovsdb-client -f json monitor ... Route`` until
  it has printed its first (initial) table; both are then stopped.
* **python-ovs** (``--python-ovs``, once: it takes about 10 s at 50k rows): an ``Idl``
  of the Route table run until it holds the N rows, each row then printed as JSON.

Reported: min and median seconds per tool and the ratio of the minimums (ovsdb-ic / C),
and the CPU time (user + system) of the client process, which a loaded machine
distorts less than the wall-clock time (the server's time is in the wall-clock only).

Usage::

    .venv/bin/python benchmarks/dump.py --rows 50000 --rounds 5 [--python-ovs] [--no-dump]
"""

from __future__ import annotations

import argparse
import os
import resource
import selectors
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

DB = "OVN_IC_Southbound"

_PYOVS = r"""
import json, sys, time
import ovs.db.idl, ovs.poller
t0 = time.perf_counter()
remote, n = sys.argv[1], int(sys.argv[2])
helper = ovs.db.idl.SchemaHelper(location=sys.argv[3])
helper.register_table("Route")
helper.register_table("Availability_Zone")
idl = ovs.db.idl.Idl(remote, helper)
while len(idl.tables["Route"].rows) < n:
    idl.run()
    if len(idl.tables["Route"].rows) < n:
        p = ovs.poller.Poller(); idl.wait(p); p.block()
cols = sorted(idl.tables["Route"].columns)
out = sys.stdout
for row in idl.tables["Route"].rows.values():
    out.write(json.dumps([str(row.uuid)] + [str(getattr(row, c)) for c in cols],
                         default=str) + "\n")
out.flush()
"""


CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run_to_exit(cmd: list[str]) -> tuple[float, float, bytes]:
    """Wall seconds, CPU seconds of the process (user + system) and its stdout."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False)
    dt = time.perf_counter() - t0
    cpu = _children_cpu() - c0
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-500:]!r}")
    return dt, cpu, proc.stdout


def _run_until_lines(cmd: list[str], lines: int) -> tuple[float, float]:
    """Seconds from starting ``cmd`` until it printed ``lines`` newlines (then it is
    stopped), and the CPU seconds the process used in all."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    seen = 0
    try:
        deadline = t0 + 300
        while seen < lines:
            if not sel.select(max(0.0, deadline - time.perf_counter())):
                raise RuntimeError(f"{cmd[:4]}: no output in time")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise RuntimeError(f"{cmd[:4]} exited early")
            seen += chunk.count(b"\n")
        dt = time.perf_counter() - t0
    finally:
        sel.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    return dt, _children_cpu() - c0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--python-ovs", action="store_true", help="also time python-ovs once")
    ap.add_argument("--no-monitor", action="store_true", help="skip the monitor comparison")
    ap.add_argument("--no-dump", action="store_true", help="skip the dump comparison")
    args = ap.parse_args(argv)

    from capture import RawClient, populate

    from ovsdb_ic.testing import Sandbox, require_binaries, schema_path

    client = require_binaries("ovsdb-client")["ovsdb-client"]
    py = sys.executable
    times: dict[str, list[float]] = {k: [] for k in
                                      ("ovsdb-ic dump", "C dump", "ovsdb-ic monitor",
                                       "C monitor", "python-ovs Idl")}
    with Sandbox() as sb:
        srv = sb.start_server("ic-sb", name="icsb", unix=True)
        setup = RawClient(srv.remote.split(":", 1)[1])
        took = populate(setup, args.rows)
        setup.close()
        print(f"# {args.rows} Route rows inserted in {took:.1f} s; load average "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        ours_cmd = [py, "-m", "ovsdb_ic", "dump", f"--db={srv.remote}", DB, "Route"]
        c_cmd = [client, "-f", "json", "dump", srv.remote, DB, "Route"]
        for rnd in range(args.rounds):
            pair = [] if args.no_dump else [("ovsdb-ic dump", ours_cmd), ("C dump", c_cmd)]
            if rnd % 2:
                pair.reverse()
            outs = {}
            for name, cmd in pair:
                dt, cpu, out = _run_to_exit(cmd)
                times[name].append(dt)
                CPU.setdefault(name, []).append(cpu)
                outs[name] = out
            if pair:
                same = outs["ovsdb-ic dump"] == outs["C dump"]
                print(f"# round {rnd + 1}: ovsdb-ic dump {times['ovsdb-ic dump'][-1]:.3f} s, "
                      f"C dump {times['C dump'][-1]:.3f} s, output identical: {same}",
                      flush=True)
                if not same:
                    raise SystemExit("the outputs differ")
            if not args.no_monitor:
                mons = [("ovsdb-ic monitor",
                         [py, "-m", "ovsdb_ic", "monitor", f"--db={srv.remote}", DB, "Route"],
                         args.rows),
                        ("C monitor", [client, "-f", "json", "monitor", srv.remote, DB, "Route"],
                         1)]
                if rnd % 2:
                    mons.reverse()
                for name, cmd, lines in mons:
                    dt, cpu = _run_until_lines(cmd, lines)
                    times[name].append(dt)
                    CPU.setdefault(name, []).append(cpu)
        if args.python_ovs:
            t0 = time.perf_counter()
            subprocess.run([py, "-c", _PYOVS, srv.remote, str(args.rows),
                            str(schema_path("ic-sb"))], stdout=subprocess.DEVNULL, check=True)
            times["python-ovs Idl"].append(time.perf_counter() - t0)

    print(f"\n{args.rows} Route rows, {args.rounds} rounds, whole processes "
          f"(load average now {os.getloadavg()[0]:.2f})\n")
    print("| tool | runs | min s | median s | ratio of minimums | min CPU s | CPU ratio |")
    print("|---|---:|---:|---:|---|---:|---|")
    base = {"ovsdb-ic dump": "C dump", "ovsdb-ic monitor": "C monitor",
            "python-ovs Idl": "ovsdb-ic dump"}
    for name, ts in times.items():
        if not ts:
            continue
        ratio = ""
        if name in base and times[base[name]]:
            ratio = f"{min(ts) / min(times[base[name]]):.2f}x {base[name]}"
        cpus = CPU.get(name)
        cpu_s = f"{min(cpus):.3f}" if cpus else ""
        cpu_ratio = ""
        if cpus and name in base and CPU.get(base[name]):
            cpu_ratio = f"{min(cpus) / min(CPU[base[name]]):.2f}x"
        print(f"| {name} | {len(ts)} | {min(ts):.3f} | {statistics.median(ts):.3f} | {ratio} "
              f"| {cpu_s} | {cpu_ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
