"""Per-row costs of the engine at 1,000 routes, without servers: process CPU time per step.

Steps (each the median of ``--repeat`` runs, CPU time of this process):

* ``encode``: the JSON operations of a cold pass's big commit: 1,000 IC-SB ``Route``
  inserts and 1,000 NB ``Logical_Router_Static_Route`` inserts (named, with their
  ``options`` and ``external_ids`` maps), as ``sync.commit`` builds them
  (``wire.ops.insert``);
* ``decode echo`` / ``apply echo``: the ``update2`` notifications that echo those rows
  (1,000 inserts per database), decoded (``decode_update2``) and applied to a replica
  holding 1,000 rows of the table already (``Replica.apply``), the collector paused as
  ``commit_plan`` pauses it;
* ``plan`` / ``re-plan``: the route planner (``benchmarks/planner.py``'s two AZs) when AZ2
  has advertised its routes: AZ1's first plan (1,001 advertisements, 1,001 learned
  routes) and, once that plan is applied, its next plan (empty), which reads the echo
  of its own 2,000 rows;
* ``decode 50k`` / ``apply 50k``: a 50,000-row ``Route`` initial copy, decoded in parts
  and applied in steps as ``Monitor`` and ``LiveReplica`` do (the client's share of
  ``replica_sync.py``'s initial sync).

``--baseline DIR`` runs the same steps from another checkout (in a subprocess, the two
alternating) and prints the ratios::

    git -C /work/main archive main ovsdb_ic schemas benchmarks | tar -x -C /tmp/base
    .venv/bin/python benchmarks/rows.py --baseline /tmp/base --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("ROWS_ROOT", Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import orjson  # noqa: E402

from ovsdb_ic.replica import Replica, gc_paused  # noqa: E402
from ovsdb_ic.wire import ops as wire_ops  # noqa: E402
from ovsdb_ic.wire.monitor import decode_update2, take_table_updates  # noqa: E402
from ovsdb_ic.wire.schema import DatabaseSchema, parse_schema  # noqa: E402

N = 1000


def _schema(name: str) -> DatabaseSchema:
    return parse_schema(orjson.loads((ROOT / "schemas" / name).read_bytes()))


SB = _schema("ovn-ic-sb.ovsschema")
NB = _schema("ovn-nb.ovsschema")
RNG = random.Random(1)


def _uuid() -> uuid.UUID:
    return uuid.UUID(int=RNG.getrandbits(128), version=4)


AZ = _uuid()


def _route(i: int, octet: int) -> dict[str, Any]:
    return {"transit_switch": "ts1", "availability_zone": AZ, "route_table": "",
            "ip_prefix": f"10.{octet}.{i // 256}.{i % 256}/32", "nexthop": "169.254.100.1",
            "origin": "static", "external_ids": {"nb-id": str(_uuid()), "lr-id": str(_uuid())}}


def _static(i: int, octet: int) -> dict[str, Any]:
    return {"ip_prefix": f"10.{octet}.{i // 256}.{i % 256}/32", "nexthop": "169.254.100.2",
            "route_table": "", "options": {"origin": "static"},
            "external_ids": {"ic-learned-route": str(_uuid())}}


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, uuid.UUID):
            out[k] = ["uuid", str(v)]
        elif isinstance(v, dict):
            out[k] = ["map", [[a, b] for a, b in v.items()]]
        elif v != "":  # update2 leaves out default values
            out[k] = v
    return out


def _updates(table: str, rows: list[dict[str, Any]], kind: str) -> bytes:
    return orjson.dumps({table: {str(_uuid()): {kind: _json_row(r)} for r in rows}})


ROUTES = [_route(i, 60) for i in range(N)]
STATICS = [_static(i, 60) for i in range(N)]
OLD_ROUTES = _updates("Route", [_route(i, 70) for i in range(N)], "initial")
OLD_STATICS = _updates("Logical_Router_Static_Route", [_static(i, 70) for i in range(N)],
                       "initial")
ECHO_ROUTES = _updates("Route", ROUTES, "insert")
ECHO_STATICS = _updates("Logical_Router_Static_Route", STATICS, "insert")


def _cpu(fn: Callable[[], Any]) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def encode() -> float:
    def run() -> None:
        for row in ROUTES:
            wire_ops.insert(SB, "Route", row)
        for i, row in enumerate(STATICS):
            wire_ops.insert(NB, "Logical_Router_Static_Route", row,
                            uuid_name=f"ic_learned_route{i}")
    return _cpu(run)


def echo() -> tuple[float, float]:
    replicas = []
    for schema, old, new in ((SB, OLD_ROUTES, ECHO_ROUTES), (NB, OLD_STATICS, ECHO_STATICS)):
        replica = Replica(schema, {next(iter(orjson.loads(old))): None})
        replica.reset(decode_update2(schema, orjson.loads(old)))
        replicas.append((schema, replica, orjson.loads(new)))
    decoded: list[Any] = []
    with gc_paused():
        t_dec = _cpu(lambda: decoded.extend(
            (r, decode_update2(s, msg)) for s, r, msg in replicas))
        t_apply = _cpu(lambda: [r.apply(u) for r, u in decoded])
    return t_dec, t_apply


def plans() -> tuple[float, float]:
    import planner as pb

    from ovsdb_ic.ic.databases import Snapshot, empty_snapshot
    from ovsdb_ic.sync import routes

    snap1 = empty_snapshot(routes.REQUIREMENTS)
    a1 = pb.Az(snap1, "az1", 0, seed=1)
    a1.build(N, 50)
    fresh = empty_snapshot(routes.REQUIREMENTS)
    snap2 = Snapshot(nb=fresh.nb, sb=fresh.sb, ic_nb=snap1.ic_nb, ic_sb=snap1.ic_sb)
    a2 = pb.Az(snap2, "az2", 1, seed=2)
    a2.build(N, 60)
    a2.apply(a2.plan())
    got: list[Any] = []
    t_plan = _cpu(lambda: got.append(a1.plan()))
    a1.apply(got[0])
    t_replan = _cpu(lambda: got.append(a1.plan()))
    assert len(got[0]) > 2 * N and not got[1]
    return t_plan, t_replan


_BIG: list[bytes] = []


def big_copy() -> tuple[float, float]:
    if not _BIG:
        rng = random.Random(2)

        def text() -> str:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

        az = text()
        _BIG.append(orjson.dumps({"Route": {text(): {"initial": {
            "availability_zone": ["uuid", az], "transit_switch": f"ts{i % 4}",
            "ip_prefix": f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}/32",
            "nexthop": "169.254.100.1", "origin": "static",
            "external_ids": ["map", [["lr-id", text()], ["nb-id", text()]]]}}
            for i in range(50_000)}}))
    msg = orjson.loads(_BIG[0])
    updates: list[Any] = []

    def decode() -> None:
        with gc_paused():
            for part in take_table_updates(msg, 5000):
                updates.extend(decode_update2(SB, part))

    def apply() -> None:
        replica = Replica(SB, {"Route": None, "Availability_Zone": None})
        with gc_paused(promote=True):
            staged = replica.stage(updates, initial=True, consume=True)
            while not staged.step(4096):
                pass
            staged.commit()

    return _cpu(decode), _cpu(apply)


def measure(repeat: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {}

    def add(names: tuple[str, ...], values: tuple[float, ...]) -> None:
        for name, value in zip(names, values, strict=True):
            samples.setdefault(name, []).append(value)

    # The big copy first, in a fresh process as in replica_sync.py (after the other
    # steps' garbage its decode is a few percent slower, old code and new alike).
    for _ in range(repeat):
        add(("decode 50k", "apply 50k"), big_copy())
    for _ in range(repeat):
        add(("encode",), (encode(),))
        add(("decode echo", "apply echo"), echo())
        add(("plan", "re-plan"), plans())
    order = ["encode", "decode echo", "apply echo", "plan", "re-plan", "decode 50k",
             "apply 50k"]
    return {name: statistics.median(samples[name]) for name in order}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per step (median)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds, alternating with the baseline")
    ap.add_argument("--baseline", metavar="DIR", help="another checkout to compare with")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.json:
        print(json.dumps(measure(args.repeat)))
        return

    def child(root: Path) -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, __file__, "--json", "--repeat", str(args.repeat)],
            env={**os.environ, "ROWS_ROOT": str(root)}, check=True, capture_output=True,
            text=True).stdout
        return dict(json.loads(out))

    roots = [("this", ROOT)] + ([("baseline", Path(args.baseline))] if args.baseline else [])
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in roots}
    for _ in range(args.rounds):
        for name, root in (roots if _ % 2 == 0 else roots[::-1]):
            results[name].append(child(root))
    steps = list(results["this"][0])
    head = f"{'step (CPU ms, median of rounds)':34s} {'this':>9s}"
    if args.baseline:
        head += f" {'baseline':>9s} {'this/base':>9s}"
    print(head)
    for step in steps:
        this = statistics.median(r[step] for r in results["this"]) * 1e3
        line = f"{step:34s} {this:9.1f}"
        if args.baseline:
            base = statistics.median(r[step] for r in results["baseline"]) * 1e3
            line += f" {base:9.1f} {this / base:9.2f}"
        print(line)
    print(f"# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
