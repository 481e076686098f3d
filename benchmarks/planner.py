"""Route planner benchmark: :func:`ovsdb_ic.sync.routes.plan_routes` at 1k/10k routes per AZ.

Pure, in memory, no servers: two AZs (``az1``, ``az2``) share the IC-NB and IC-SB
replicas, as two ``ovn-ic`` daemons share the IC databases. Each AZ has one router
with one port on transit switch ``ts1`` (``169.254.100.{1,2}/24``), one internal
network, and N static routes (``10.{50,60}.x.y/32``) to advertise. Plans are applied
with :func:`~ovsdb_ic.sync.plan.simulate` (what ovsdb-server would commit), so once
settled each AZ has N advertised IC-SB ``Route`` rows (with valid ``lr-id`` and
``nb-id``) and N learned NB static routes: at N = 10000 each AZ's NB holds 20000
static routes and IC-SB holds 20000 routes.

Measured, planner time only (``simulate`` is not timed), median of ``--repeat``:

* **cold**: the passes from nothing advertised to settled, each AZ with its own cache;
* **settled**: re-planning an unchanged snapshot (an idle wakeup), with the AZ's warm
  cache and with an empty one (``RouteCache()``: what every call cost before the
  planner kept state between calls);
* **changes**, each followed until both AZs settle, each step timed with the warm
  cache (and, in the ``cold`` column, with an empty cache on the same snapshot):

  - ``add``: a static route added to AZ1's router. AZ1 plans one IC-SB insert, then
    AZ2 (after that commit) one learned route, then both re-plan to nothing -- the
    planner's share of the issue's "one added route, end to end";
  - ``withdraw``: that route removed again;
  - ``edit``: one of AZ1's static routes gets another prefix (one IC-SB row replaced,
    one learned route replaced in AZ2), and ``edit back``.

Usage::

    PYTHONPATH=. python benchmarks/planner.py                 # 1000 and 10000
    PYTHONPATH=. python benchmarks/planner.py --routes 10000 --repeat 7 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from ovsdb_ic.ic.databases import Snapshot, empty_snapshot
from ovsdb_ic.sync import routes
from ovsdb_ic.sync.plan import Insert, Mutate, Plan, Update, simulate
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.monitor import RowUpdate

ON = {"ic-route-adv": "true", "ic-route-learn": "true"}


class Az:
    """One AZ: its own NB replica, the shared IC-NB/IC-SB replicas, a seeded uuid stream,
    and its own planner cache (as one engine per AZ would have)."""

    def __init__(self, snap: Snapshot, name: str, index: int, seed: int) -> None:
        self.snap = snap
        self.name = name
        self.index = index
        self.rng = random.Random(seed)
        self.cache = routes.RouteCache()
        self.lr = uuid.UUID(int=0)

    def new_uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def plan(self) -> Plan:
        return routes.plan_routes(self.snap, cache=self.cache)

    def plan_cold(self) -> Plan:
        return routes.plan_routes(self.snap, cache=routes.RouteCache())

    def apply(self, plan: Plan) -> None:
        simulate(self.snap, plan, new_uuid=self.new_uuid)

    def build(self, n_routes: int, first_octet: int) -> None:
        """NB_Global, the AZ row, ts1, one router with a TS port and N static routes."""
        nb, ic_nb, ic_sb = self.snap.nb, self.snap.ic_nb, self.snap.ic_sb
        nb.apply([RowUpdate("NB_Global", self.new_uuid(), "insert",
                            new={"name": self.name, "options": dict(ON)})])
        ic_sb.apply([RowUpdate("Availability_Zone", self.new_uuid(), "insert",
                               new={"name": self.name})])
        if ic_nb.table("Transit_Switch").lookup_one(("name",), "ts1") is None:
            ic_nb.apply([RowUpdate("Transit_Switch", self.new_uuid(), "insert",
                                   new={"name": "ts1"})])
        lr, lrp_ts, lrp_int, ls, lsp = (self.new_uuid() for _ in range(5))
        self.lr = lr
        host = self.index + 1
        route_ids = [self.new_uuid() for _ in range(n_routes)]
        updates = [
            RowUpdate("Logical_Router_Port", lrp_ts, "insert", new={
                "name": f"{self.name}-ts1", "mac": f"00:00:00:00:01:{host:02x}",
                "networks": frozenset({f"169.254.100.{host}/24"})}),
            RowUpdate("Logical_Router_Port", lrp_int, "insert", new={
                "name": f"{self.name}-int", "mac": f"00:00:00:00:00:{host:02x}",
                "networks": frozenset({f"10.{16 + self.index}.0.1/16"})}),
            RowUpdate("Logical_Switch_Port", lsp, "insert", new={
                "name": f"ts1-{self.name}", "type": "router",
                "addresses": frozenset({"router"}),
                "options": {"router-port": f"{self.name}-ts1"}}),
            RowUpdate("Logical_Switch", ls, "insert", new={
                "name": "ts1", "ports": frozenset({lsp}),
                "other_config": {"interconn-ts": "ts1"}}),
        ]
        updates += [
            RowUpdate("Logical_Router_Static_Route", u, "insert", new={
                "ip_prefix": f"10.{first_octet + i // 65536}.{(i // 256) % 256}.{i % 256}/32",
                "nexthop": f"10.{16 + self.index}.0.254"})
            for i, u in enumerate(route_ids)
        ]
        updates.append(RowUpdate("Logical_Router", lr, "insert", new={
            "name": f"{self.name}-lr", "ports": frozenset({lrp_ts, lrp_int}),
            "static_routes": frozenset(route_ids)}))
        nb.apply(updates)

    def static_uuid(self, prefix: str) -> uuid.UUID:
        table = self.snap.nb.table("Logical_Router_Static_Route")
        return next(r.uuid for r in table if r["ip_prefix"] == prefix)

    def add_static(self, prefix: str) -> None:
        self.apply(Plan((
            Insert("nb", "Logical_Router_Static_Route",
                   {"ip_prefix": prefix, "nexthop": "10.16.0.253"}, name="r"),
            Mutate("nb", "Logical_Router", self.lr, "static_routes",
                   insert=frozenset({NamedUUID("r")})),
        )))

    def remove_static(self, prefix: str) -> None:
        self.apply(Plan((Mutate("nb", "Logical_Router", self.lr, "static_routes",
                                delete=frozenset({self.static_uuid(prefix)})),)))

    def edit_static(self, prefix: str, new_prefix: str) -> None:
        self.apply(Plan((Update("nb", "Logical_Router_Static_Route", self.static_uuid(prefix),
                                {"ip_prefix": new_prefix}),)))


def timed(fn: Callable[[], Plan]) -> tuple[float, Plan]:
    t = time.perf_counter()
    plan = fn()
    return time.perf_counter() - t, plan


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms"


def counts(plan: Plan) -> str:
    kinds: dict[str, int] = {}
    for op in plan:
        k = f"{op.db}:{type(op).__name__.lower()}"
        kinds[k] = kinds.get(k, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) or "empty"


class Samples:
    """Timings per label (warm cache and cold cache) and the plan sizes seen."""

    def __init__(self) -> None:
        self.warm: dict[str, list[float]] = {}
        self.cold: dict[str, list[float]] = {}
        self.ops: dict[str, int] = {}

    def add(self, label: str, warm: float, cold: float, n_ops: int) -> None:
        self.warm.setdefault(label, []).append(warm)
        self.cold.setdefault(label, []).append(cold)
        self.ops[label] = n_ops

    def print(self) -> None:
        print(f"  {'':44s} {'warm cache':>12s} {'cold cache':>12s}   ops")
        for label, values in self.warm.items():
            print(f"  {label:44s} {ms(statistics.median(values))} "
                  f"{ms(statistics.median(self.cold[label]))}   {self.ops[label]}")


def change_round(a1: Az, a2: Az, label: str, change: Callable[[], None],
                 samples: Samples) -> None:
    """Make a change in AZ1 and let both AZs settle, timing each plan (warm and cold)."""
    change()
    steps = [("az1 plans the change", a1), ("az2 plans (learns)", a2),
             ("az1 re-plans (settled)", a1), ("az2 re-plans (settled)", a2)]
    warm_total = cold_total = 0.0
    for step, az in steps:
        cold, cold_plan = timed(az.plan_cold)
        warm, plan = timed(az.plan)
        assert plan == cold_plan, "a warm cache must plan as a cold one"
        samples.add(f"{label}: {step}", warm, cold, len(plan))
        warm_total += warm
        cold_total += cold
        az.apply(plan)
    samples.add(f"{label}: all four plans", warm_total, cold_total, 0)


def run(n_routes: int, repeat: int, profile: bool) -> None:
    print(f"\n== {n_routes} static routes per AZ (2 AZs, 1 router each, ts1) ==")
    snap1 = empty_snapshot(routes.REQUIREMENTS)
    a1 = Az(snap1, "az1", 0, seed=1)
    a1.build(n_routes, 50)
    fresh = empty_snapshot(routes.REQUIREMENTS)
    snap2 = Snapshot(nb=fresh.nb, sb=fresh.sb, ic_nb=snap1.ic_nb, ic_sb=snap1.ic_sb)
    a2 = Az(snap2, "az2", 1, seed=2)
    a2.build(n_routes, 60)

    total = 0.0
    for i in range(4):
        for az in (a1, a2):
            seconds, plan = timed(az.plan)
            total += seconds
            if plan:
                print(f"  {f'cold pass {i + 1}, {az.name}':44s} {ms(seconds)}   ({counts(plan)})")
            az.apply(plan)
    print(f"  {'cold: all passes until settled':44s} {ms(total)}")
    assert not a1.plan() and not a2.plan(), "did not settle"
    n_sr = len(snap1.nb.table("Logical_Router_Static_Route"))
    n_rt = len(snap1.ic_sb.table("Route"))
    print(f"  (settled: az1 NB static routes {n_sr}, IC-SB routes {n_rt})")

    samples = Samples()
    for _ in range(repeat):
        cold = timed(a1.plan_cold)[0]
        warm, plan = timed(a1.plan)
        samples.add("settled re-plan (idle wakeup), az1", warm, cold, len(plan))
    for i in range(repeat):
        prefix = f"192.168.{i // 256}.{i % 256}/32"
        change_round(a1, a2, "add", functools.partial(a1.add_static, prefix), samples)
        change_round(a1, a2, "withdraw", functools.partial(a1.remove_static, prefix), samples)
        old, new = f"10.50.0.{i}/32", f"172.16.0.{i}/32"
        change_round(a1, a2, "edit", functools.partial(a1.edit_static, old, new), samples)
        change_round(a1, a2, "edit back", functools.partial(a1.edit_static, new, old), samples)
    samples.print()

    if profile:
        a1.add_static("192.168.255.1/32")
        prof = cProfile.Profile()
        prof.enable()
        plan = a1.plan()
        prof.disable()
        a1.apply(plan)
        prof.enable()
        a2.plan()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--routes", type=int, action="append",
                        help="static routes per AZ (repeatable; default 1000 and 10000)")
    parser.add_argument("--repeat", type=int, default=5, help="samples per measurement")
    parser.add_argument("--profile", action="store_true",
                        help="profile the warm plans of one added route")
    args = parser.parse_args()
    for n in args.routes or [1000, 10000]:
        run(n, args.repeat, args.profile)


if __name__ == "__main__":
    main()
