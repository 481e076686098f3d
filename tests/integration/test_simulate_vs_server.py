"""``simulate`` (sync/plan.py) against a real ovsdb-server.

Every planner property test uses :func:`~ovsdb_ic.sync.plan.simulate` in place of the
server. Here hypothesis generates plans over IC-SB (inserts with named references,
whole-column updates, set and map mutations, deletes whose rows' dependents go in the
same plan, and the garbage collection of non-root ``Encap`` rows that nothing refers to
any more, and a set mutation that goes below the column's minimum), commits each one to a
real ``ovsdb-server`` through the guarded transactions
of :func:`~ovsdb_ic.sync.commit.transaction_ops`, applies it with ``simulate`` to a copy
of the replica as it was, giving ``simulate`` the UUIDs the server chose, and checks
that the two replicas hold exactly the same rows.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovsdb_ic.client import connect
from ovsdb_ic.errors import ConstraintViolationError
from ovsdb_ic.ic.databases import Snapshot, empty_snapshot
from ovsdb_ic.replica import Replica
from ovsdb_ic.sync.commit import transaction_ops, wire_ops_for
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, PlanError, Update, simulate
from ovsdb_ic.testing import Server
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.monitor import RowUpdate

DB = "OVN_IC_Southbound"
TABLES = ["Availability_Zone", "Gateway", "Encap", "Route"]
_fresh = itertools.count()  # reset by every example, whose first step empties the database


def _name(kind: str) -> str:
    return f"{kind}{next(_fresh)}"


def _number(name: str) -> int:
    return int(name.lstrip("abcdefghijklmnopqrstuvwxyz"))


def _ip(first: int) -> str:
    """An address no earlier call gave (unique keys never collide by accident)."""
    n = next(_fresh)
    return f"{first}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255:03}"


def _copy(replica: Replica) -> Replica:
    """A plain replica holding the same rows (what the plan is simulated on)."""
    out = Replica(replica.schema, {t: None for t in TABLES})
    out.apply([RowUpdate(t, row.uuid, "insert", new=row.to_dict())
               for t in TABLES for row in replica.table(t)])
    return out


def _contents(replica: Replica) -> dict[str, dict[uuid.UUID, dict[str, Any]]]:
    return {t: {row.uuid: row.to_dict() for row in replica.table(t)} for t in TABLES}


_small_map = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "2"]),
                             max_size=2)


def _draw_ops(data: Any, replica: Replica) -> list[Op]:
    """A valid plan for IC-SB as ``replica`` holds it (the server accepts it)."""
    # Natural keys, not UUIDs: the server's UUIDs differ from run to run, and the
    # draws must not.
    azs = sorted(replica.table("Availability_Zone"), key=lambda r: _number(r["name"]))
    gws = sorted(replica.table("Gateway"), key=lambda r: _number(r["name"]))
    routes = sorted(replica.table("Route"), key=lambda r: r["ip_prefix"])
    ops: list[Op] = []
    new_azs: list[NamedUUID] = []
    touched: set[uuid.UUID] = set()  # mutated or deleted rows: not picked again
    deleted: set[uuid.UUID] = set()
    kinds = ["az", "gateway", "route"]
    if gws:
        kinds += ["gw_update", "gw_ids", "gw_encap", "gw_delete"]
    if routes:
        kinds += ["route_delete", "route_ids"]
    if azs:
        kinds += ["az_delete"]
    for kind in data.draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=6)):
        live_gws = [g for g in gws if g.uuid not in touched]
        live_routes = [r for r in routes if r.uuid not in touched]
        live_azs = [a for a in azs if a.uuid not in touched]
        az_refs: list[Any] = [a.uuid for a in live_azs] + new_azs
        if kind == "az":
            ref = _name("az")
            ops.append(Insert("ic_sb", "Availability_Zone", {"name": _name("zone")}, name=ref))
            new_azs.append(NamedUUID(ref))
        elif kind == "gateway" and az_refs:
            encap = _name("encap")
            gw = _name("gw")
            ops.append(Insert("ic_sb", "Encap", {
                "type": data.draw(st.sampled_from(["geneve", "vxlan"])),
                "ip": _ip(10), "gateway_name": gw,
            }, name=encap))
            ops.append(Insert("ic_sb", "Gateway", {
                "name": gw, "hostname": "host", "availability_zone": data.draw(
                    st.sampled_from(az_refs)),
                "encaps": frozenset({NamedUUID(encap)}),
                "external_ids": data.draw(_small_map),
            }))
        elif kind == "route" and az_refs:
            ops.append(Insert("ic_sb", "Route", {
                "transit_switch": "ts", "availability_zone": data.draw(st.sampled_from(az_refs)),
                "ip_prefix": _ip(12) + "/32", "nexthop": "169.254.100.1",
                "origin": "connected", "external_ids": data.draw(_small_map),
            }))
        elif kind == "gw_update" and live_gws:
            gw = data.draw(st.sampled_from(live_gws))
            ops.append(Update("ic_sb", "Gateway", gw.uuid, {
                "hostname": data.draw(st.sampled_from(["h1", "h2"])),
                "external_ids": data.draw(_small_map),
            }))
        elif kind == "gw_ids" and live_gws:
            gw = data.draw(st.sampled_from(live_gws))
            ops.append(Mutate("ic_sb", "Gateway", gw.uuid, "external_ids",
                              insert=data.draw(_small_map),
                              delete=frozenset(data.draw(st.sets(st.sampled_from("abc"))))))
        elif kind == "gw_encap" and live_gws:
            gw = data.draw(st.sampled_from(live_gws))
            encap = _name("encap")
            ops.append(Insert("ic_sb", "Encap", {
                "type": "geneve", "ip": _ip(11),
                "gateway_name": gw["name"],
            }, name=encap))
            # Add one encap, and maybe drop an old one (referenced by nothing, it is
            # collected). In one Mutate the delete runs first, so dropping the only
            # encap there leaves the set empty for a moment, below its minimum of one:
            # the server refuses the transaction, and so must simulate.
            how = data.draw(st.sampled_from(["add", "replace", "replace_in_one"]))
            old = frozenset(sorted(gw["encaps"])[:1])
            new = frozenset({NamedUUID(encap)})
            if how == "replace_in_one":
                ops.append(Mutate("ic_sb", "Gateway", gw.uuid, "encaps", insert=new, delete=old))
            else:
                ops.append(Mutate("ic_sb", "Gateway", gw.uuid, "encaps", insert=new))
                if how == "replace":
                    ops.append(Mutate("ic_sb", "Gateway", gw.uuid, "encaps", delete=old))
            touched.add(gw.uuid)
        elif kind == "gw_delete" and live_gws:
            gw = data.draw(st.sampled_from(live_gws))
            ops.append(Delete("ic_sb", "Gateway", gw.uuid))
            touched.add(gw.uuid)
            deleted.add(gw.uuid)
        elif kind == "route_delete" and live_routes:
            route = data.draw(st.sampled_from(live_routes))
            ops.append(Delete("ic_sb", "Route", route.uuid))
            touched.add(route.uuid)
            deleted.add(route.uuid)
        elif kind == "route_ids" and live_routes:
            route = data.draw(st.sampled_from(live_routes))
            ops.append(Mutate("ic_sb", "Route", route.uuid, "external_ids",
                              insert=data.draw(_small_map)))
        elif kind == "az_delete" and live_azs:
            az = data.draw(st.sampled_from(live_azs))
            # Its dependents go first, in the same plan (strong references).
            for row in [*gws, *routes]:
                if row["availability_zone"] == az.uuid and row.uuid not in deleted:
                    ops.append(Delete("ic_sb", row.table, row.uuid))
                    touched.add(row.uuid)
                    deleted.add(row.uuid)
            ops.append(Delete("ic_sb", "Availability_Zone", az.uuid))
            touched.add(az.uuid)
            deleted.add(az.uuid)
            # New rows of this plan must not refer to it.
            ops = [op for op in ops if not (
                isinstance(op, Insert) and op.values.get("availability_zone") == az.uuid)]
    return ops


def _draw_setup(data: Any) -> list[Op]:
    """A plan filling an empty database: zones, each with gateways (one or two encaps
    each) and routes, all referring to each other through named UUIDs."""
    ops: list[Op] = []
    for _ in range(data.draw(st.integers(1, 3))):
        az = _name("az")
        ops.append(Insert("ic_sb", "Availability_Zone", {"name": _name("zone")}, name=az))
        for _ in range(data.draw(st.integers(0, 2))):
            gw = _name("gw")
            encaps = []
            for _ in range(data.draw(st.integers(1, 2))):
                encaps.append(_name("encap"))
                ops.append(Insert("ic_sb", "Encap", {
                    "type": "geneve", "ip": _ip(10), "gateway_name": gw}, name=encaps[-1]))
            ops.append(Insert("ic_sb", "Gateway", {
                "name": gw, "hostname": "host", "availability_zone": NamedUUID(az),
                "encaps": frozenset(NamedUUID(e) for e in encaps),
                "external_ids": data.draw(_small_map),
            }))
        for _ in range(data.draw(st.integers(0, 2))):
            ops.append(Insert("ic_sb", "Route", {
                "transit_switch": "ts", "availability_zone": NamedUUID(az),
                "ip_prefix": _ip(12) + "/32", "nexthop": "169.254.100.1",
                "origin": "static", "external_ids": data.draw(_small_map),
            }))
    return ops


def _server_uuids(plan: Plan, replica: Replica, results: list[Any]) -> list[uuid.UUID]:
    """The server's UUIDs in the order ``simulate`` draws them: named inserts first,
    then the unnamed ones, each in plan order."""
    total = len(transaction_ops(replica, plan, "ic_sb"))
    sizes = [len(wire_ops_for(replica, op)) for op in plan]
    index = total - sum(sizes)  # the guards come first
    named: list[uuid.UUID] = []
    unnamed: list[uuid.UUID] = []
    for op, size in zip(plan, sizes, strict=True):
        if isinstance(op, Insert):
            got = results[index].uuid
            assert isinstance(got, uuid.UUID)
            (named if op.name is not None else unnamed).append(got)
        index += size
    return named + unnamed


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_simulate_commits_what_the_server_commits(ic_sb_server: Server, data: Any) -> None:
    global _fresh
    _fresh = itertools.count()

    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            live = await client.replicate(TABLES)
            # Start from an empty database: a plan deleting every root row (the Encaps
            # go with their gateways) is the first one checked.
            rows = [Delete("ic_sb", t, r.uuid) for t in ("Gateway", "Route", "Availability_Zone")
                    for r in sorted(live.replica.table(t), key=lambda r: r.uuid)]
            for step in range(4):
                before = _copy(live.replica)
                if step == 0:
                    plan = Plan(tuple(rows))
                elif step == 1:
                    plan = Plan(tuple(_draw_setup(data)))
                else:
                    plan = Plan(tuple(_draw_ops(data, before)))
                if not plan:
                    continue
                empty = empty_snapshot()
                snap = Snapshot(nb=empty.nb, sb=empty.sb, ic_nb=empty.ic_nb, ic_sb=before)
                try:
                    results = await client.transact(
                        transaction_ops(live.replica, plan, "ic_sb"))
                except ConstraintViolationError:
                    # The server refused the plan: simulate must refuse it too.
                    with pytest.raises(PlanError, match="elements after the delete"):
                        simulate(snap, plan)
                    assert _contents(before) == _contents(live.replica)
                    continue
                with trio.fail_after(10):
                    await client.caught_up(live)
                uuids = iter(_server_uuids(plan, before, results))
                simulate(snap, plan, new_uuid=lambda: next(uuids))  # noqa: B023
                assert _contents(before) == _contents(live.replica), plan.describe()

    trio.run(main)
