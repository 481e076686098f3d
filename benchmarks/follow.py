"""The update path of a live replica, step by step, without a server (CPU time).

``benchmarks/replica_sync.py`` measures how far behind ovsdb-server a live replica
finishes; on a shared machine its wall-clock numbers move with the load. This
benchmark runs the same code path in one thread, on bytes shaped as ovsdb-server
sends them, and reports each step's thread CPU time, which the load distorts far
less:

1. a replica of ``--rows`` IC-SB ``Route`` rows (the rows of ``benchmarks/capture.py``)
   is built as :class:`~ovsdb_ic.client.LiveReplica` builds an initial copy;
2. ``--updates`` single-row modifies (``nexthop``, each row once), ``--per-notification``
   rows per ``update3`` notification (ovsdb-server merges the transactions of a client
   that falls behind into one), are framed (``Connection.receive_data`` in reads of
   ``--read`` bytes, then ``next_event``), decoded (``Monitor.handle_notification``),
   applied (``Replica.apply``, one call per notification, or with ``--merge`` one per
   read, as ``LiveReplica`` applies the batches already queued) and read by a consumer
   that looks at each change's new ``nexthop``;
3. reported: thread CPU time per step and per update, and the cyclic collector's
   collections and CPU per generation (``gc.callbacks``), best of ``--repeat`` rounds.

The GC work is counted inside the step that triggered it as well as in the ``gc``
line. Usage::

    .venv/bin/python benchmarks/follow.py --rows 50000 --updates 10000
    .venv/bin/python benchmarks/follow.py --profile /tmp/follow.prof
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

from capture import route_rows

from ovsdb_ic.client.monitor import Monitor
from ovsdb_ic.replica import Replica
from ovsdb_ic.testing import schema_path
from ovsdb_ic.wire.jsonrpc import NEED_DATA, Connection, Notification
from ovsdb_ic.wire.monitor import decode_update2
from ovsdb_ic.wire.schema import parse_schema

clock = time.thread_time


class GcStats:
    """Collections and thread CPU per generation."""

    def __init__(self) -> None:
        self.by_gen = [[0, 0.0], [0, 0.0], [0, 0.0]]
        self._t = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t = clock()
        else:
            g = self.by_gen[info["generation"]]
            g[0] += 1
            g[1] += clock() - self._t

    def snapshot(self) -> list[list[float]]:
        return [list(g) for g in self.by_gen]


def build(rows: int) -> tuple[Replica, Monitor, list[str]]:
    with open(schema_path("ic-sb"), encoding="utf-8") as f:
        schema = parse_schema(json.load(f))
    replica = Replica(schema, {"Route": None, "Availability_Zone": None})
    mon = Monitor("m1", schema, replica.monitor_requests(), "monitor_cond_since")
    az = str(uuid.UUID(int=1))
    rng_uuids = [str(uuid.UUID(int=(i + 2) * 7919 + (1 << 100))) for i in range(rows)]
    routes = zip(rng_uuids, route_rows(rows, az), strict=True)
    initial = {"Route": {u: {"initial": r} for u, r in routes},
               "Availability_Zone": {az: {"initial": {"name": "az1"}}}}
    updates = decode_update2(schema, initial, columns=mon.columns or None)
    # Updated in an order unrelated to the order the rows were built (as the benchmark's
    # writer, which takes the rows in the server's order): memory is touched at random.
    random.Random(14).shuffle(rng_uuids)
    # As LiveReplica applies a big initial copy: collector paused, rows promoted.
    staged = replica.stage(updates, initial=True)
    from ovsdb_ic.replica import gc_paused

    with gc_paused(promote=True), staged:
        while not staged.step(1 << 20):
            pass
        staged.commit()
    return replica, mon, rng_uuids


def notifications(uuids: list[str], count: int, per: int, nexthop: str) -> bytes:
    out = bytearray()
    for start in range(0, count, per):
        rows = {u: {"modify": {"nexthop": nexthop}} for u in uuids[start:start + per]}
        out += json.dumps({"id": None, "method": "update3",
                           "params": ["m1", str(uuid.UUID(int=start + 5)), {"Route": rows}]},
                          separators=(",", ":")).encode()
    return bytes(out)


def one_round(replica: Replica, mon: Monitor, data: bytes, read: int, count: int,
              nexthop: str, gcs: GcStats, merge: bool) -> dict[str, Any]:
    conn = Connection()
    t: dict[str, Any] = {"framing": 0.0, "decode": 0.0, "apply": 0.0, "consume": 0.0}
    seen = 0
    g0 = gcs.snapshot()
    start = clock()
    view = memoryview(data)
    for pos in range(0, len(data), read):
        c = clock()
        conn.receive_data(view[pos:pos + read])
        events = []
        while (ev := conn.next_event()) is not NEED_DATA:
            events.append(ev)
        c2 = clock()
        t["framing"] += c2 - c
        for ev in events:
            assert isinstance(ev, Notification)
            mon.handle_notification(ev.method, ev.params)
        del events, ev
        c3 = clock()
        t["decode"] += c3 - c2
        c = clock()
        groups: list[Any] = []
        while (batch := mon.next_batch_nowait()) is not None:
            if merge and groups:
                groups[-1].extend(batch.updates)
            else:
                groups.append(list(batch.updates) if merge else batch.updates)
        del batch
        t["apply"] += clock() - c
        for updates in groups:
            c = clock()
            changes = replica.apply(updates)
            c2 = clock()
            for ch in changes:
                if ch.new is not None and ch.new["nexthop"] == nexthop:
                    seen += 1
            del changes
            c3 = clock()
            t["apply"] += c2 - c
            t["consume"] += c3 - c2
        del groups
    t["total"] = clock() - start
    if seen != count:
        raise RuntimeError(f"saw {seen} of {count} updates")
    g1 = gcs.snapshot()
    t["gc"] = sum(b[1] - a[1] for a, b in zip(g0, g1, strict=True))
    t["gc_gens"] = [[b[0] - a[0], round(b[1] - a[1], 4)] for a, b in zip(g0, g1, strict=True)]
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50000)
    ap.add_argument("--updates", type=int, default=10000)
    ap.add_argument("--per-notification", type=int, default=8,
                    help="row changes per update3 notification")
    ap.add_argument("--read", type=int, default=16384, help="bytes per read")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--merge", action="store_true",
                    help="apply the notifications of one read together, as LiveReplica "
                         "applies the batches already queued")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the rounds into FILE")
    args = ap.parse_args(argv)
    if args.updates > args.rows:
        ap.error("--updates must not exceed --rows (each row is updated once per round)")

    gc.collect()
    replica, mon, uuids = build(args.rows)
    gcs = GcStats()
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
    results = []
    for r in range(args.repeat):
        nexthop = f"192.0.2.{r + 1}"
        data = notifications(uuids, args.updates, args.per_notification, nexthop)
        if profile is not None:
            profile.enable()
        results.append(one_round(replica, mon, data, args.read, args.updates, nexthop, gcs,
                                 args.merge))
        if profile is not None:
            profile.disable()
    if profile is not None:
        profile.dump_stats(args.profile)
    best = min(results, key=lambda t: t["total"])
    per = 1e6 / args.updates
    print(f"# {args.rows} rows, {args.updates} updates, {args.per_notification} per "
          f"notification, reads of {args.read} bytes{', merged' if args.merge else ''}; "
          f"best of {args.repeat} rounds, thread CPU")
    for k in ("framing", "decode", "apply", "consume", "gc", "total"):
        print(f"{k:>8}: {best[k]:.4f} s  {best[k] * per:6.2f} us/update")
    print(f"gc per generation [collections, cpu s]: {best['gc_gens']}")
    print("totals of every round:", " ".join(f"{t['total']:.4f}" for t in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
