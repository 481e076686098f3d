"""Sync-agent HA: active and standby on the ``ovn_ic`` lock, the active killed mid-stream.

The two-AZ deployment of ``benchmarks/convergence.py`` (standalone databases, R static
routes per AZ, ``ovn-northd`` paused after the port bindings). Per agent kind (the C
``ovn-ic`` or the engine, ``python -m ovsdb_ic sync``) and per round:

1. one agent per AZ; wait until IC-SB holds every route of both AZs;
2. a second agent for AZ1 (the standby: it waits for the ``ovn_ic`` lock on AZ1's SB);
3. static routes are added to AZ1's NB one every ``--interval`` seconds; after
   ``--before`` of them the active AZ1 agent is killed with SIGKILL, and ``--after``
   more are added;
4. measured: the time from the kill until IC-SB's first change (the standby's: it has
   taken the lock and committed its first pass; a commit the active sent just before
   dying could come first, so this is a lower bound), and until every added route is
   in IC-SB and learned by AZ2 (from the kill and from the last insert);
5. checked: every added route is in IC-SB exactly once (nothing lost, nothing doubled)
   and learned by AZ2 exactly once.

Usage::

    PYTHONPATH=. python benchmarks/ha.py --rounds 3 [--agents ovn-ic,engine] [--routes 100]
"""

from __future__ import annotations

import argparse
import collections
import os
import selectors
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from convergence import AZS, Bench, Counter, Rpc, learned, pump_for

from ovsdb_ic.testing import Sandbox
from ovsdb_ic.testing.ovn import start_engine, start_ovn_ic


def run_round(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """One kill of the active AZ1 agent, measured."""
    with Sandbox() as sandbox:
        try:
            return _run_round(sandbox, kind, args)
        except BaseException as exc:
            from ovsdb_ic.testing.ovn import daemon_log_tails

            exc.add_note(daemon_log_tails(sandbox, 10))
            raise


def _run_round(sandbox: Sandbox, kind: str, args: argparse.Namespace) -> dict[str, Any]:
    bench = Bench(sandbox, args.routes)
    bench.setup()
    ic = Rpc(bench.ic_sb)
    az2 = Rpc(bench.nb["az2"])
    ic_routes = Counter(lambda row: True)
    first_change: list[float] = []
    kill_at: list[float] = []

    def on_ic(now: float, updates: dict[str, Any]) -> None:
        ic_routes(now, updates)
        if kill_at and not first_change and now >= kill_at[0]:
            first_change.append(now)

    ic.monitor("OVN_IC_Southbound", "r", {"Route": {"columns": ["ip_prefix"]}}, on_ic)
    learned2 = Counter(learned)
    az2.monitor("OVN_Northbound", "s",
                {"Logical_Router_Static_Route": {"columns": ["ip_prefix", "external_ids"]}},
                learned2)
    selector = selectors.DefaultSelector()
    for conn in (ic, az2):
        selector.register(conn.sock, selectors.EVENT_READ, conn)

    def pump_until(done: Callable[[], bool], timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind}: IC-SB routes {len(ic_routes.rows)}")
            bench.check()
            pump_for(selector, 0.05)
        return time.monotonic()

    want = 2 * (args.routes + 1)
    bench.start_agents(kind)
    pump_until(lambda: len(ic_routes.rows) >= want, args.timeout)
    starter = start_ovn_ic if kind == "ovn-ic" else start_engine
    standby = starter(sandbox, nb=bench.nb["az1"], sb=bench.sb["az1"], ic_nb=bench.ic_nb,
                      ic_sb=bench.ic_sb, name="az1-standby")
    pump_for(selector, args.settle)
    active = bench.agents["az1"]
    writer = Rpc(bench.nb["az1"])
    prefixes = []
    for i in range(args.before + args.after):
        if i == args.before:
            kill_at.append(time.monotonic())
            active.kill()
            bench.agents["az1"] = standby
        prefix = f"192.0.{i // 256}.{i % 256}/32"
        prefixes.append(prefix)
        writer.transact(
            "OVN_Northbound",
            {"op": "insert", "table": "Logical_Router_Static_Route", "uuid-name": "r",
             "row": {"ip_prefix": prefix, "nexthop": "10.1.1.254"}},
            {"op": "mutate", "table": "Logical_Router", "where": [["name", "==", "lr1"]],
             "mutations": [["static_routes", "insert", ["named-uuid", "r"]]]},
        )
        t_last = time.monotonic()
        pump_for(selector, args.interval)
    t_all = pump_until(lambda: all(ic_routes.has_prefix(p) and learned2.has_prefix(p)
                                   for p in prefixes), args.timeout)
    pump_for(selector, 1.0)  # anything doubled would show up by now
    bench.check()
    # Exactly once: count the rows of each prefix in IC-SB and in AZ2's NB.
    rows = ic.call("transact", ["OVN_IC_Southbound", {"op": "select", "table": "Route",
                                                      "where": [], "columns": ["ip_prefix"]}])
    ic_count = collections.Counter(r["ip_prefix"] for r in rows[0]["rows"])
    nb_rows = az2.call("transact", ["OVN_Northbound", {
        "op": "select", "table": "Logical_Router_Static_Route", "where": [],
        "columns": ["ip_prefix", "external_ids"]}])
    nb_count = collections.Counter(r["ip_prefix"] for r in nb_rows[0]["rows"] if learned(r))
    for c in (ic, az2, writer):
        c.close()
    return {
        "agent": kind,
        "first_change_s": (first_change[0] - kill_at[0]) if first_change else None,
        "all_s": t_all - kill_at[0],
        "after_last_s": t_all - t_last,
        "lost": [p for p in prefixes if ic_count[p] == 0 or nb_count[p] == 0],
        "doubled": [p for p in prefixes if ic_count[p] > 1 or nb_count[p] > 1],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print a table."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--agents", default="ovn-ic,engine")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--routes", type=int, default=100, help="static routes per AZ")
    ap.add_argument("--before", type=int, default=10, help="routes added before the kill")
    ap.add_argument("--after", type=int, default=20, help="routes added after the kill")
    ap.add_argument("--interval", type=float, default=0.05, help="seconds between routes")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds the standby waits before the stream starts")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    print(f"# {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; AZs {', '.join(AZS)}, "
          f"R={args.routes}, {args.before} routes before the kill, {args.after} after, "
          f"one per {args.interval:g} s", flush=True)
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for kind in [a for a in args.agents.split(",") if a]:
            r = run_round(kind, args)
            print(f"#   {r}", flush=True)
            results.setdefault(kind, []).append(r)
    print("| agent | rounds | kill -> standby's first IC-SB change, median (max) s | "
          "kill -> every route everywhere, median (max) s | last insert -> everywhere, "
          "median (max) s | lost | doubled |")
    print("|---|---:|---|---|---|---:|---:|")
    for kind, rs in results.items():
        first = [r["first_change_s"] for r in rs if r["first_change_s"] is not None]
        alls = [r["all_s"] for r in rs]
        lasts = [r["after_last_s"] for r in rs]
        print(f"| {kind} | {len(rs)} | "
              f"{statistics.median(first):.3f} ({max(first):.3f}) | "
              f"{statistics.median(alls):.3f} ({max(alls):.3f}) | "
              f"{statistics.median(lasts):.3f} ({max(lasts):.3f}) | "
              f"{sum(len(r['lost']) for r in rs)} | {sum(len(r['doubled']) for r in rs)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
