"""The first four sync planners: availability zone, transit switches, gateways, port bindings.

Snapshots are built with ``empty_snapshot`` and filled by ``simulate``-ing small Insert
plans (the builders below), including the SB rows ovn-northd and ovn-controller would
write in a real deployment (port bindings, chassis). Named examples cover each rule of
sections 1-4 of the IC sync spec; hypothesis checks determinism, convergence to an empty
plan within a few passes, and key uniqueness when two AZs share the IC databases.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ovsdb_ic.ic.databases import DatabaseKey, Snapshot, empty_snapshot
from ovsdb_ic.replica import Row
from ovsdb_ic.sync import az as az_mod
from ovsdb_ic.sync import routes
from ovsdb_ic.sync.az import az_name, find_rows, local_az, plan_az, smap_get_bool
from ovsdb_ic.sync.gateways import encaps_differ, plan_gateways
from ovsdb_ic.sync.keys import (
    DP_KEY_MAX,
    DP_KEY_MIN,
    PORT_KEY_MAX,
    PORT_KEY_MIN,
    KeyAllocator,
    KeyHints,
    allocate_tnlid,
    next_tnlid,
    smap_get_int,
)
from ovsdb_ic.sync.passes import REQUIREMENTS, plan_pass
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, Update, simulate
from ovsdb_ic.sync.port_bindings import plan_port_bindings, redirect_port_name
from ovsdb_ic.sync.transit_switches import nb_transit_switches, plan_transit_switches
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.monitor import RowUpdate

# ----------------------------------------------------------------------------- builders

_rng = random.Random(20240601)


def _new_uuid() -> uuid.UUID:
    return uuid.UUID(int=_rng.getrandbits(128), version=4)


def run(snap: Snapshot, plan: Plan | Iterable[Op]) -> dict[DatabaseKey, dict[str, uuid.UUID]]:
    """Commit ``plan`` to the snapshot's replicas (fresh UUIDs every call)."""
    if not isinstance(plan, Plan):
        plan = Plan(tuple(plan))
    return simulate(snap, plan, new_uuid=_new_uuid)


def ins(snap: Snapshot, db: DatabaseKey, table: str, values: Mapping[str, Any]) -> uuid.UUID:
    """Insert one row; its UUID."""
    return run(snap, [Insert(db, table, values, name="row")])[db]["row"]


def new_az(name: str = "az1", *, shared: Snapshot | None = None) -> Snapshot:
    """A snapshot whose NB_Global is named ``name`` (IC replicas shared with ``shared``)."""
    snap = empty_snapshot(REQUIREMENTS)
    if shared is not None:
        snap = Snapshot(nb=snap.nb, sb=snap.sb, ic_nb=shared.ic_nb, ic_sb=shared.ic_sb)
    ins(snap, "nb", "NB_Global", {"name": name})
    return snap


def set_name(snap: Snapshot, name: str) -> None:
    row = next(iter(snap.nb.table("NB_Global")))
    run(snap, [Update("nb", "NB_Global", row.uuid, {"name": name})])


def registered(name: str = "az1", *, shared: Snapshot | None = None) -> Snapshot:
    """An AZ whose Availability_Zone row exists."""
    snap = new_az(name, shared=shared)
    run(snap, plan_az(snap))
    assert local_az(snap) is not None
    return snap


def add_ts(snap: Snapshot, name: str) -> uuid.UUID:
    return ins(snap, "ic_nb", "Transit_Switch", {"name": name})


def rows(snap: Snapshot, db: DatabaseKey, table: str) -> list[Row]:
    return sorted(snap.db(db).table(table), key=lambda r: r.uuid.int)


def one(snap: Snapshot, db: DatabaseKey, table: str, **where: Any) -> Row:
    found = [r for r in rows(snap, db, table) if all(r[k] == v for k, v in where.items())]
    assert len(found) == 1, found
    return found[0]


def converge(snap: Snapshot, *, limit: int = 6, **kw: Any) -> int:
    """Plan and commit passes until a plan is empty; the number of non-empty passes."""
    for n in range(limit + 1):
        plan = plan_pass(snap, **kw)
        if not plan:
            return n
        run(snap, plan)
    raise AssertionError(f"no fixpoint after {limit} passes; still: {plan.describe()}")


_keys = itertools.count(1)


def add_chassis(
    snap: Snapshot,
    name: str,
    *,
    hostname: str | None = None,
    encaps: Iterable[tuple[str, str, Mapping[str, str]]] = (("geneve", "192.0.2.1", {}),),
    other_config: Mapping[str, str] | None = None,
) -> uuid.UUID:
    """An SB Chassis with encaps (as ovn-controller registers it); ``is-interconn`` default."""
    ops: list[Op] = []
    refs = []
    for i, (type_, ip, options) in enumerate(encaps):
        ops.append(Insert("sb", "Encap", {"type": type_, "ip": ip, "options": dict(options),
                                          "chassis_name": name}, name=f"e{i}"))
        refs.append(NamedUUID(f"e{i}"))
    ops.append(Insert("sb", "Chassis", {
        "name": name, "hostname": hostname if hostname is not None else name,
        "other_config": dict(other_config) if other_config is not None
        else {"is-interconn": "true"},
        "encaps": frozenset(refs)}, name="ch"))
    return run(snap, ops)["sb"]["ch"]


def sb_datapath(snap: Snapshot, external_ids: Mapping[str, str]) -> uuid.UUID:
    for row in rows(snap, "sb", "Datapath_Binding"):
        if dict(row["external_ids"]) == dict(external_ids):
            return row.uuid
    return ins(snap, "sb", "Datapath_Binding",
               {"tunnel_key": next(_keys), "external_ids": dict(external_ids)})


def add_router_port(
    snap: Snapshot,
    ts: str,
    *,
    lsp: str | None = None,
    lrp: str | None = None,
    mac: str | None = "00:00:00:00:01:01 169.254.100.1/24",
    chassis: uuid.UUID | None = None,
    router: uuid.UUID | None = None,
    with_sb: bool = True,
) -> dict[str, uuid.UUID]:
    """A router port on transit switch ``ts``: the NB LSP, and the SB bindings northd makes.

    The NB switch must exist. SB: the LSP's binding (``options:peer`` = the LRP), the
    LRP's binding (``mac``, on the router's datapath with ``external_ids:logical-router``)
    and ``cr-<lrp>`` bound to ``chassis``.
    """
    name = az_name(snap)
    lsp = lsp or f"{ts}-{name}"
    lrp = lrp or f"{name}-{ts}"
    router = router or _new_uuid()
    ls = nb_transit_switches(snap, ts)
    assert ls is not None
    names = run(snap, [
        Insert("nb", "Logical_Switch_Port", {
            "name": lsp, "type": "router", "addresses": frozenset({"router"}),
            "options": {"router-port": lrp}}, name="lsp"),
        Mutate("nb", "Logical_Switch", ls.uuid, "ports", insert=frozenset({NamedUUID("lsp")})),
    ])
    out = {"lsp": names["nb"]["lsp"]}
    if not with_sb:
        return out
    ts_dp = sb_datapath(snap, {"logical-switch": str(ls.uuid)})
    lr_dp = sb_datapath(snap, {"logical-router": str(router)})
    names = run(snap, [
        Insert("sb", "Port_Binding", {
            "logical_port": lsp, "type": "patch", "datapath": ts_dp, "tunnel_key": next(_keys),
            "options": {"peer": lrp}, "mac": frozenset({"router"})}, name="pb"),
        Insert("sb", "Port_Binding", {
            "logical_port": lrp, "type": "patch", "datapath": lr_dp, "tunnel_key": next(_keys),
            "options": {"peer": lsp}, "mac": frozenset({mac}) if mac else frozenset()},
            name="lrp"),
        Insert("sb", "Port_Binding", {
            "logical_port": redirect_port_name(lrp), "type": "chassisredirect",
            "datapath": lr_dp, "tunnel_key": next(_keys), "chassis": chassis}, name="crp"),
    ])
    out.update(names["sb"])
    return out


def ts_ready(snap: Snapshot, *names: str) -> None:
    """Transit switches exist in IC-NB and their NB switches were created."""
    for name in names:
        add_ts(snap, name)
    run(snap, plan_transit_switches(snap))
    for name in names:
        assert nb_transit_switches(snap, name) is not None


def isb_pb(snap: Snapshot, port: str) -> Row:
    return one(snap, "ic_sb", "Port_Binding", logical_port=port)


def lsp_named(snap: Snapshot, name: str) -> Row | None:
    found = [r for r in rows(snap, "nb", "Logical_Switch_Port") if r["name"] == name]
    return found[0] if found else None


def other_az_pb(snap: Snapshot, other: str, ts: str, port: str, key: int,
                address: str = "", gateway: str = "") -> uuid.UUID:
    """An IC-SB Port_Binding of AZ ``other`` (registering that AZ when needed)."""
    rows_ = find_rows(snap.ic_sb, "Availability_Zone", "name", ("name",), other)
    az = rows_[0].uuid if rows_ else ins(snap, "ic_sb", "Availability_Zone", {"name": other})
    return ins(snap, "ic_sb", "Port_Binding", {
        "logical_port": port, "transit_switch": ts, "availability_zone": az,
        "tunnel_key": key, "address": address, "gateway": gateway})


def other_az_gateway(snap: Snapshot, other: str, name: str, hostname: str,
                     encaps: Iterable[tuple[str, str, Mapping[str, str]]]) -> uuid.UUID:
    rows_ = find_rows(snap.ic_sb, "Availability_Zone", "name", ("name",), other)
    az = rows_[0].uuid if rows_ else ins(snap, "ic_sb", "Availability_Zone", {"name": other})
    ops: list[Op] = []
    refs = []
    for i, (t, ip, o) in enumerate(encaps):
        ops.append(Insert("ic_sb", "Encap", {"type": t, "ip": ip, "options": dict(o),
                                             "gateway_name": name}, name=f"e{i}"))
        refs.append(NamedUUID(f"e{i}"))
    ops.append(Insert("ic_sb", "Gateway", {"name": name, "availability_zone": az,
                                           "hostname": hostname, "encaps": frozenset(refs)},
                      name="gw"))
    return run(snap, ops)["ic_sb"]["gw"]


def encaps_of(snap: Snapshot, db: DatabaseKey, row: Row) -> set[tuple[str, str, tuple[Any, ...]]]:
    view = snap.db(db).table("Encap")
    return {(e["type"], e["ip"], tuple(sorted(e["options"].items())))
            for e in (view[u] for u in row["encaps"])}


# ----------------------------------------------------------------------------- keys


def test_first_datapath_key_is_after_the_lowest() -> None:
    assert DP_KEY_MIN == 16711681 and DP_KEY_MAX == 16777215
    assert allocate_tnlid(set(), DP_KEY_MIN, DP_KEY_MAX, KeyHints().datapath) == 16711682
    assert allocate_tnlid(set(), PORT_KEY_MIN, PORT_KEY_MAX, KeyHints().port) == 1


def test_allocation_wraps_and_tries_the_hint_last() -> None:
    assert next_tnlid(10, 1, 10) == 1
    assert allocate_tnlid({9, 10}, 1, 10, 8) == 1
    assert allocate_tnlid(set(range(1, 11)) - {8}, 1, 10, 8) == 8
    assert allocate_tnlid(set(range(1, 11)), 1, 10, 8) is None
    # A hint outside the range (the port hint starts at 0) must not loop forever.
    assert allocate_tnlid(set(range(1, 11)), 1, 10, 0) is None


def test_allocator_moves_its_hint() -> None:
    alloc = KeyAllocator(1, 5, 0, {2})
    assert [alloc.allocate() for _ in range(5)] == [1, 3, 4, 5, None]
    assert alloc.hint == 5


@pytest.mark.parametrize(("value", "expected"), [
    ("7", 7), ("  7", 7), ("+7", 7), ("-3", -3), ("007", 7), ("7 ", 0), ("", 0), ("x", 0),
    ("2147483647", 2147483647), ("2147483648", 0), (None, 0),
])
def test_smap_get_int_parses_like_ovs(value: str | None, expected: int) -> None:
    smap = {} if value is None else {"k": value}
    assert smap_get_int(smap, "k") == expected


@pytest.mark.parametrize(("value", "default", "expected"), [
    ("true", False, True), ("TRUE", False, True), ("yes", False, False), (None, False, False),
    ("false", True, False), ("no", True, True), (None, True, True),
])
def test_smap_get_bool_parses_like_ovs(value: str | None, default: bool, expected: bool) -> None:
    smap = {} if value is None else {"k": value}
    assert smap_get_bool(smap, "k", default) is expected


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(1, 64), max_size=64), st.integers(0, 64))
def test_allocation_never_hands_out_a_used_key(used: set[int], hint: int) -> None:
    key = allocate_tnlid(used, 1, 64, hint)
    if len(used) == 64:
        assert key is None
    else:
        assert key is not None and 1 <= key <= 64 and key not in used
        # It is the first free key after the hint, wrapping.
        order = [(hint + i - 1) % 64 + 1 for i in range(1, 65)]
        assert key == next(k for k in order if k not in used)


def test_hints_after_a_plan_are_the_last_keys() -> None:
    plan = Plan((
        Insert("ic_sb", "Datapath_Binding", {"transit_switch": "a", "tunnel_key": 16711690}),
        Insert("ic_sb", "Port_Binding", {"tunnel_key": 4}),
        Insert("ic_sb", "Port_Binding", {"tunnel_key": 9}),
        Insert("nb", "Logical_Switch", {"name": "x"}),
    ))
    assert KeyHints().after(plan) == KeyHints(datapath=16711690, port=9)
    assert KeyHints(5, 6).after(Plan()) == KeyHints(5, 6)


# ----------------------------------------------------------------------------- 1. AZ


def test_empty_name_plans_nothing_at_all() -> None:
    snap = new_az("")
    add_ts(snap, "ts1")
    add_chassis(snap, "gw1")
    ins(snap, "ic_sb", "Availability_Zone", {"name": "other"})
    assert az_name(snap) == ""
    assert local_az(snap) is None
    for planner in (plan_az, plan_transit_switches, plan_gateways, plan_port_bindings):
        assert planner(snap) == Plan()
    assert plan_pass(snap, route_planner=lambda s: pytest.fail("routes planned")) == Plan()


def test_no_nb_global_plans_nothing() -> None:
    snap = empty_snapshot(REQUIREMENTS)
    assert plan_az(snap, previous_name="az1") == Plan()
    assert plan_pass(snap) == Plan()


def test_az_row_is_registered_once() -> None:
    snap = new_az("az1")
    plan = plan_az(snap)
    assert plan.describe() == ["ic_sb: insert Availability_Zone name='az1'"]
    run(snap, plan)
    assert local_az(snap) is not None and local_az(snap)["name"] == "az1"  # type: ignore[index]
    assert plan_az(snap) == Plan()
    assert plan_az(snap, previous_name="az1") == Plan()


def test_later_planners_wait_for_the_az_row() -> None:
    snap = new_az("az1")
    add_ts(snap, "ts1")
    add_chassis(snap, "gw1")
    for planner in (plan_transit_switches, plan_gateways, plan_port_bindings):
        assert planner(snap) == Plan()
    called: list[Snapshot] = []

    def routes(s: Snapshot) -> Plan:
        called.append(s)
        return Plan()

    plan = plan_pass(snap, route_planner=routes)
    assert [op.table for op in plan] == ["Availability_Zone"]
    assert called == []
    run(snap, plan)
    assert plan_transit_switches(snap)
    assert plan_gateways(snap)


def test_rename_renames_the_row_in_place() -> None:
    snap = registered("az1")
    old = local_az(snap)
    assert old is not None
    add_chassis(snap, "gw1")
    converge(snap, previous_name="az1")
    set_name(snap, "az2")
    plan = plan_pass(snap, previous_name="az1")
    assert plan.ops == (Update("ic_sb", "Availability_Zone", old.uuid, {"name": "az2"}),)
    run(snap, plan)
    new = local_az(snap)
    assert new is not None and new.uuid == old.uuid
    # The gateway that referred to the row still does: nothing else to do.
    assert converge(snap, previous_name="az2") == 0
    assert one(snap, "ic_sb", "Gateway", name="gw1")["availability_zone"] == old.uuid


def test_previous_name_without_a_row_just_registers() -> None:
    snap = new_az("az2")
    plan = plan_az(snap, previous_name="az1")
    assert plan.describe() == ["ic_sb: insert Availability_Zone name='az2'"]


def test_emptied_name_deletes_the_row_and_what_refers_to_it() -> None:
    snap = registered("az1")
    ts_ready(snap, "ts1")
    add_chassis(snap, "gw1")
    add_router_port(snap, "ts1")
    converge(snap, previous_name="az1")
    me = local_az(snap)
    assert me is not None
    other = ins(snap, "ic_sb", "Availability_Zone", {"name": "az9"})
    route = ins(snap, "ic_sb", "Route", {
        "transit_switch": "ts1", "availability_zone": me.uuid, "ip_prefix": "10.0.0.0/24",
        "nexthop": "169.254.100.1", "origin": "connected"})
    set_name(snap, "")
    plan = plan_pass(snap, previous_name="az1")
    deleted = {(op.table, op.uuid) for op in plan if isinstance(op, Delete)}
    assert len(deleted) == len(plan)
    assert ("Availability_Zone", me.uuid) in deleted
    assert ("Route", route) in deleted
    assert {t for t, _ in deleted} == {"Availability_Zone", "Gateway", "Port_Binding", "Route"}
    run(snap, plan)
    assert [r["name"] for r in rows(snap, "ic_sb", "Availability_Zone")] == ["az9"]
    assert rows(snap, "ic_sb", "Gateway") == rows(snap, "ic_sb", "Port_Binding") == []
    assert rows(snap, "ic_sb", "Encap") == []  # collected with their gateway
    assert other in snap.ic_sb.table("Availability_Zone")
    assert plan_pass(snap, previous_name="") == Plan()


def test_rename_onto_a_registered_name_deletes_the_old_row() -> None:
    snap = registered("az1")
    add_chassis(snap, "gw1")
    converge(snap)
    old = local_az(snap)
    assert old is not None
    taken = ins(snap, "ic_sb", "Availability_Zone", {"name": "az2"})
    set_name(snap, "az2")
    plan = plan_pass(snap, previous_name="az1")
    assert {(op.table, type(op)) for op in plan} == {
        ("Gateway", Delete), ("Availability_Zone", Delete)}
    run(snap, plan)
    assert local_az(snap) is not None and local_az(snap).uuid == taken  # type: ignore[union-attr]
    assert converge(snap, previous_name="az2") == 1  # the gateway is registered again
    assert one(snap, "ic_sb", "Gateway", name="gw1")["availability_zone"] == taken


# ----------------------------------------------------------------------------- 2. TS


def test_transit_switch_gets_a_key_then_nb_gets_it() -> None:
    snap = registered()
    add_ts(snap, "ts2")
    add_ts(snap, "ts1")
    plan = plan_transit_switches(snap)
    assert plan.describe() == [
        "nb: insert Logical_Switch name='ts1' other_config={'interconn-ts'='ts1'}",
        "nb: insert Logical_Switch name='ts2' other_config={'interconn-ts'='ts2'}",
        "ic_sb: insert Datapath_Binding transit_switch='ts1' tunnel_key=16711682",
        "ic_sb: insert Datapath_Binding transit_switch='ts2' tunnel_key=16711683",
    ]
    run(snap, plan)
    plan = plan_transit_switches(snap)
    assert [(op.db, op.table, type(op)) for op in plan] == [("nb", "Logical_Switch", Mutate)] * 2
    run(snap, plan)
    assert plan_transit_switches(snap) == Plan()
    for name, key in (("ts1", "16711682"), ("ts2", "16711683")):
        ls = one(snap, "nb", "Logical_Switch", name=name)
        assert dict(ls["other_config"]) == {"interconn-ts": name, "requested-tnl-key": key}


def test_new_nb_switch_for_a_bound_switch_carries_the_key() -> None:
    snap = registered()
    add_ts(snap, "ts1")
    ins(snap, "ic_sb", "Datapath_Binding", {"transit_switch": "ts1", "tunnel_key": 16711700})
    assert plan_transit_switches(snap).describe() == [
        "nb: insert Logical_Switch name='ts1' "
        "other_config={'interconn-ts'='ts1', 'requested-tnl-key'='16711700'}"]


def test_wrong_or_unparsable_nb_key_is_replaced() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    converge(snap)
    ls = one(snap, "nb", "Logical_Switch", name="ts1")
    for bad in ("16711699", "abc", " 16711682x"):
        run(snap, [Update("nb", "Logical_Switch", ls.uuid, {
            "other_config": {"interconn-ts": "ts1", "requested-tnl-key": bad, "keep": "me"}})])
        plan = plan_transit_switches(snap)
        assert plan.ops == (Mutate("nb", "Logical_Switch", ls.uuid, "other_config",
                                   insert={"requested-tnl-key": "16711682"},
                                   delete=frozenset({"requested-tnl-key"})),)
        run(snap, plan)
        assert dict(one(snap, "nb", "Logical_Switch", name="ts1")["other_config"]) == {
            "interconn-ts": "ts1", "requested-tnl-key": "16711682", "keep": "me"}


def test_gone_switch_loses_its_binding_and_nb_switch() -> None:
    snap = registered()
    ts_ready(snap, "ts1", "ts2")
    converge(snap)
    plain = ins(snap, "nb", "Logical_Switch", {"name": "ts2"})  # not a transit switch
    gone = one(snap, "ic_nb", "Transit_Switch", name="ts2")
    run(snap, [Delete("ic_nb", "Transit_Switch", gone.uuid)])
    plan = plan_transit_switches(snap)
    assert [(op.db, op.table, type(op)) for op in plan] == [
        ("nb", "Logical_Switch", Delete), ("ic_sb", "Datapath_Binding", Delete)]
    run(snap, plan)
    assert [r["transit_switch"] for r in rows(snap, "ic_sb", "Datapath_Binding")] == ["ts1"]
    assert {r.uuid for r in rows(snap, "nb", "Logical_Switch") if r["name"] == "ts2"} == {plain}


def test_duplicate_bindings_and_nb_switches_keep_one() -> None:
    snap = registered()
    add_ts(snap, "ts1")
    ins(snap, "ic_sb", "Datapath_Binding", {"transit_switch": "ts1", "tunnel_key": 16711690})
    loser = ins(snap, "ic_sb", "Datapath_Binding",
                {"transit_switch": "ts1", "tunnel_key": 16711695})
    keep = ins(snap, "nb", "Logical_Switch",
               {"name": "ts1", "other_config": {"interconn-ts": "ts1",
                                                "requested-tnl-key": "16711690"}})
    dup = ins(snap, "nb", "Logical_Switch",
              {"name": "other", "other_config": {"interconn-ts": "ts1"}})
    plan = plan_transit_switches(snap)
    assert set(plan.ops) == {Delete("nb", "Logical_Switch", dup),
                             Delete("ic_sb", "Datapath_Binding", loser)}
    run(snap, plan)
    assert nb_transit_switches(snap, "ts1") is not None
    assert nb_transit_switches(snap, "ts1").uuid == keep  # type: ignore[union-attr]
    assert plan_transit_switches(snap) == Plan()


def test_a_taken_key_is_skipped() -> None:
    snap = registered()
    add_ts(snap, "ts1")
    ins(snap, "ic_sb", "Datapath_Binding", {"transit_switch": "ts0", "tunnel_key": 16711682})
    add_ts(snap, "ts0")
    plan = plan_transit_switches(snap)
    inserts = [op for op in plan if isinstance(op, Insert) and op.db == "ic_sb"]
    assert [op.values["tunnel_key"] for op in inserts] == [16711683]


def dp_keys(plan: Plan) -> list[int]:
    return [op.values["tunnel_key"] for op in plan
            if isinstance(op, Insert) and op.table == "Datapath_Binding"]


def test_datapath_hint_is_followed_like_a_running_daemon() -> None:
    snap = registered()
    add_ts(snap, "ts1")
    plan = plan_transit_switches(snap, hints=KeyHints(datapath=16711700))
    assert dp_keys(plan) == [16711701]
    plan = plan_transit_switches(snap, hints=KeyHints(datapath=DP_KEY_MAX))
    assert dp_keys(plan) == [DP_KEY_MIN]


# ----------------------------------------------------------------------------- 3. gateways


def test_interconnection_chassis_becomes_a_gateway() -> None:
    snap = registered()
    add_chassis(snap, "gw1", hostname="host1",
                encaps=[("geneve", "192.0.2.1", {"csum": "true"}), ("vxlan", "192.0.2.1", {})])
    add_chassis(snap, "plain", other_config={})
    add_chassis(snap, "upper", other_config={"is-interconn": "TRUE"},
                encaps=[("geneve", "192.0.2.9", {})])
    run(snap, plan_gateways(snap))
    me = local_az(snap)
    assert me is not None
    gw = one(snap, "ic_sb", "Gateway", name="gw1")
    assert gw["hostname"] == "host1" and gw["availability_zone"] == me.uuid
    assert encaps_of(snap, "ic_sb", gw) == {("geneve", "192.0.2.1", (("csum", "true"),)),
                                            ("vxlan", "192.0.2.1", ())}
    assert {e["gateway_name"] for e in rows(snap, "ic_sb", "Encap")} == {"gw1", "upper"}
    assert {r["name"] for r in rows(snap, "ic_sb", "Gateway")} == {"gw1", "upper"}
    assert plan_gateways(snap) == Plan()


@pytest.mark.parametrize("change", ["hostname", "options", "ip", "count"])
def test_gateway_is_resynced_when_the_chassis_changes(change: str) -> None:
    snap = registered()
    ch = add_chassis(snap, "gw1", hostname="host1", encaps=[("geneve", "192.0.2.1", {})])
    run(snap, plan_gateways(snap))
    chassis = snap.sb.table("Chassis")[ch]
    encap = snap.sb.table("Encap")[next(iter(chassis["encaps"]))]
    if change == "hostname":
        run(snap, [Update("sb", "Chassis", ch, {"hostname": "host2"})])
    elif change in ("options", "ip"):
        values = {"options": {"dst_port": "6082"}} if change == "options" else {"ip": "192.0.2.2"}
        run(snap, [Update("sb", "Encap", encap.uuid, values)])
    else:
        run(snap, [
            Insert("sb", "Encap", {"type": "vxlan", "ip": "192.0.2.1", "chassis_name": "gw1"},
                   name="e"),
            Mutate("sb", "Chassis", ch, "encaps", insert=frozenset({NamedUUID("e")}))])
    plan = plan_gateways(snap)
    assert plan
    run(snap, plan)
    assert plan_gateways(snap) == Plan()
    gw = one(snap, "ic_sb", "Gateway", name="gw1")
    chassis = snap.sb.table("Chassis")[ch]
    assert gw["hostname"] == chassis["hostname"]
    assert encaps_of(snap, "ic_sb", gw) == encaps_of(snap, "sb", chassis)
    assert len(rows(snap, "ic_sb", "Encap")) == len(chassis["encaps"])  # old ones collected


def test_encap_comparison_follows_c() -> None:
    a = [("geneve", "1.1.1.1", {"x": "1"})]
    assert not encaps_differ("h", a, "h", [("geneve", "1.1.1.1", {"x": "1"})])
    assert encaps_differ("h", a, "h2", a)
    assert encaps_differ("h", a, "h", [("geneve", "1.1.1.1", {"x": "2"})])
    assert encaps_differ("h", a, "h", [("vxlan", "1.1.1.1", {"x": "1"})])
    assert encaps_differ("h", a, "h", [*a, ("vxlan", "1.1.1.1", {})])


def test_gateway_without_interconn_chassis_is_deleted() -> None:
    snap = registered()
    ch = add_chassis(snap, "gw1")
    run(snap, plan_gateways(snap))
    run(snap, [Update("sb", "Chassis", ch, {"other_config": {}})])
    plan = plan_gateways(snap)
    assert [(op.table, type(op)) for op in plan] == [("Gateway", Delete)]
    run(snap, plan)
    assert rows(snap, "ic_sb", "Gateway") == rows(snap, "ic_sb", "Encap") == []


def test_remote_gateway_becomes_a_remote_chassis_and_goes_with_it() -> None:
    snap = registered()
    gw = other_az_gateway(snap, "az2", "gw9", "host9", [("geneve", "198.51.100.9", {"a": "b"})])
    run(snap, plan_gateways(snap))
    ch = one(snap, "sb", "Chassis", name="gw9")
    assert ch["hostname"] == "host9"
    assert dict(ch["other_config"]) == {"is-remote": "true"}
    assert encaps_of(snap, "sb", ch) == {("geneve", "198.51.100.9", (("a", "b"),))}
    assert {e["chassis_name"] for e in rows(snap, "sb", "Encap")} == {"gw9"}
    assert plan_gateways(snap) == Plan()
    # Changed in IC-SB: resynced.
    run(snap, [Update("ic_sb", "Gateway", gw, {"hostname": "host10"})])
    run(snap, plan_gateways(snap))
    assert one(snap, "sb", "Chassis", name="gw9")["hostname"] == "host10"
    assert plan_gateways(snap) == Plan()
    # Gone from IC-SB: the remote chassis goes.
    run(snap, [Delete("ic_sb", "Gateway", gw)])
    plan = plan_gateways(snap)
    assert [(op.db, op.table, type(op)) for op in plan] == [("sb", "Chassis", Delete)]
    run(snap, plan)
    assert rows(snap, "sb", "Chassis") == rows(snap, "sb", "Encap") == []


def test_gateway_rows_the_server_would_refuse_are_not_planned() -> None:
    snap = registered()
    add_chassis(snap, "bare", encaps=())  # no encaps: no Gateway (C asserts)
    add_chassis(snap, "clash")  # another AZ already has a gateway of that name
    other_az_gateway(snap, "az2", "clash", "h", [("geneve", "198.51.100.1", {})])
    add_chassis(snap, "plain", other_config={})  # a remote gateway of that name: no chassis
    other_az_gateway(snap, "az2", "plain", "h", [("geneve", "198.51.100.2", {})])
    assert plan_gateways(snap) == Plan()


def test_chassis_both_interconn_and_remote_is_local() -> None:
    snap = registered()
    add_chassis(snap, "gw1", other_config={"is-interconn": "true", "is-remote": "true"})
    plan = plan_gateways(snap)
    assert [(op.db, op.table) for op in plan] == [("ic_sb", "Encap"), ("ic_sb", "Gateway")]


# ----------------------------------------------------------------------------- 4. ports


def test_router_port_is_published_then_gets_its_key() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    ch = add_chassis(snap, "gw1")
    router = _new_uuid()
    made = add_router_port(snap, "ts1", chassis=ch, router=router)
    me = local_az(snap)
    assert me is not None
    plan = plan_port_bindings(snap)
    assert plan.ops == (Insert("ic_sb", "Port_Binding", {
        "availability_zone": me.uuid, "transit_switch": "ts1", "logical_port": "ts1-az1",
        "tunnel_key": 1, "address": "00:00:00:00:01:01 169.254.100.1/24",
        "gateway": "gw1", "external_ids": {"router-id": str(router)}}),)
    run(snap, plan)
    plan = plan_port_bindings(snap)
    assert plan.ops == (Mutate("nb", "Logical_Switch_Port", made["lsp"], "options",
                               insert={"requested-tnl-key": "1"},
                               delete=frozenset({"requested-tnl-key"})),)
    run(snap, plan)
    assert plan_port_bindings(snap) == Plan()
    assert dict(snap.nb.table("Logical_Switch_Port")[made["lsp"]]["options"]) == {
        "router-port": "az1-ts1", "requested-tnl-key": "1"}


def test_router_port_without_peer_data_publishes_empty_values() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    add_router_port(snap, "ts1", mac=None, chassis=None)
    lr_dp = one(snap, "sb", "Port_Binding", logical_port="az1-ts1")["datapath"]
    run(snap, [Update("sb", "Datapath_Binding", lr_dp, {"external_ids": {
        "logical-router": "not-a-uuid"}})])
    (op,) = plan_port_bindings(snap).ops
    assert isinstance(op, Insert)
    assert "address" not in op.values and "gateway" not in op.values
    assert "external_ids" not in op.values
    run(snap, [op])
    pb = isb_pb(snap, "ts1-az1")
    assert (pb["address"], pb["gateway"], dict(pb["external_ids"])) == ("", "", {})


def test_router_port_waits_for_its_sb_binding() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    add_router_port(snap, "ts1", with_sb=False)
    assert plan_port_bindings(snap) == Plan()


def test_local_binding_follows_address_gateway_and_router() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    ch1 = add_chassis(snap, "gw1", encaps=[("geneve", "192.0.2.1", {})])
    ch2 = add_chassis(snap, "gw2", encaps=[("geneve", "192.0.2.2", {})])
    made = add_router_port(snap, "ts1", chassis=ch1)
    converge(snap)
    pb = isb_pb(snap, "ts1-az1")
    # Failover to gw2, a new MAC string (the first in sorted order wins), a new router.
    router = _new_uuid()
    lr_dp = snap.sb.table("Port_Binding")[made["lrp"]]["datapath"]
    run(snap, [
        Update("sb", "Port_Binding", made["crp"], {"chassis": ch2}),
        Update("sb", "Port_Binding", made["lrp"], {"mac": frozenset({
            "00:00:00:00:02:02 169.254.100.2/24", "00:00:00:00:09:09 169.254.100.9/24"})}),
        Update("sb", "Datapath_Binding", lr_dp, {"external_ids": {
            "logical-router": str(router)}}),
    ])
    plan = plan_port_bindings(snap)
    assert plan.ops == (
        Update("ic_sb", "Port_Binding", pb.uuid, {
            "address": "00:00:00:00:02:02 169.254.100.2/24", "gateway": "gw2"}),
        Mutate("ic_sb", "Port_Binding", pb.uuid, "external_ids",
               insert={"router-id": str(router)}, delete=frozenset({"router-id"})),
    )
    run(snap, plan)
    # Unbound and MAC-less: both emptied; an equal router-id in upper case is kept.
    run(snap, [
        Update("sb", "Port_Binding", made["crp"], {"chassis": None}),
        Update("sb", "Port_Binding", made["lrp"], {"mac": frozenset()}),
        Update("ic_sb", "Port_Binding", pb.uuid, {"external_ids": {
            "router-id": str(router).upper()}}),
    ])
    plan = plan_port_bindings(snap)
    assert plan.ops == (Update("ic_sb", "Port_Binding", pb.uuid,
                               {"address": "", "gateway": ""}),)


def test_local_binding_goes_with_its_port_or_switch() -> None:
    snap = registered()
    ts_ready(snap, "ts1", "ts2")
    made = add_router_port(snap, "ts1")
    add_router_port(snap, "ts2")
    converge(snap)
    assert len(rows(snap, "ic_sb", "Port_Binding")) == 2
    ls1 = one(snap, "nb", "Logical_Switch", name="ts1")
    run(snap, [Mutate("nb", "Logical_Switch", ls1.uuid, "ports",
                      delete=frozenset({made["lsp"]}))])
    plan = plan_port_bindings(snap)
    assert plan.ops == (Delete("ic_sb", "Port_Binding", isb_pb(snap, "ts1-az1").uuid),)
    run(snap, plan)
    # The whole transit switch goes: its binding goes too (and its NB switch).
    ts2 = one(snap, "ic_nb", "Transit_Switch", name="ts2")
    run(snap, [Delete("ic_nb", "Transit_Switch", ts2.uuid)])
    pb2 = isb_pb(snap, "ts2-az1")
    assert Delete("ic_sb", "Port_Binding", pb2.uuid) in plan_port_bindings(snap).ops
    converge(snap)
    assert rows(snap, "ic_sb", "Port_Binding") == []


def test_missing_sb_binding_drops_the_published_one_like_c() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    made = add_router_port(snap, "ts1")
    converge(snap)
    run(snap, [Delete("sb", "Port_Binding", made["pb"])])
    assert plan_port_bindings(snap).ops == (
        Delete("ic_sb", "Port_Binding", isb_pb(snap, "ts1-az1").uuid),)


def pb_keys(plan: Plan) -> dict[str, int]:
    return {op.values["transit_switch"]: op.values["tunnel_key"] for op in plan
            if isinstance(op, Insert) and op.table == "Port_Binding"}


def test_port_keys_are_unique_per_switch_and_the_hint_is_shared() -> None:
    snap = registered()
    ts_ready(snap, "ts1", "ts2")
    other_az_pb(snap, "az2", "ts1", "ts1-az2", 1)
    add_router_port(snap, "ts1")
    add_router_port(snap, "ts2")
    plan = plan_port_bindings(snap)
    keys = pb_keys(plan)
    # ts1: 1 is taken -> 2; ts2: C's static hint (now 2) carries over -> 3.
    assert keys == {"ts1": 2, "ts2": 3}
    assert KeyHints().after(plan).port == 3
    plan = plan_port_bindings(snap, hints=KeyHints(port=PORT_KEY_MAX))
    keys = pb_keys(plan)
    assert keys == {"ts1": 2, "ts2": 3}
    plan = plan_port_bindings(snap, hints=KeyHints(port=10))
    keys = pb_keys(plan)
    assert keys == {"ts1": 11, "ts2": 12}


def test_remote_binding_becomes_a_remote_port() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    other_az_pb(snap, "az2", "ts1", "ts1-az2", 2, address="00:00:00:00:02:01 169.254.100.2/24",
                gateway="gw9")
    ls = one(snap, "nb", "Logical_Switch", name="ts1")
    plan = plan_port_bindings(snap)
    assert plan.ops == (
        Insert("nb", "Logical_Switch_Port", {
            "name": "ts1-az2", "type": "remote", "up": True,
            "addresses": frozenset({"00:00:00:00:02:01 169.254.100.2/24"}),
            "options": {"requested-tnl-key": "2"}}, name="pb_lsp_1"),
        Mutate("nb", "Logical_Switch", ls.uuid, "ports",
               insert=frozenset({NamedUUID("pb_lsp_1")})),
    )
    run(snap, plan)
    lsp = lsp_named(snap, "ts1-az2")
    assert lsp is not None and lsp.uuid in one(snap, "nb", "Logical_Switch", name="ts1")["ports"]
    assert plan_port_bindings(snap) == Plan()
    # A binding without address gets a port without addresses.
    other_az_pb(snap, "az3", "ts1", "ts1-az3", 3)
    (op, _) = plan_port_bindings(snap).ops
    assert isinstance(op, Insert) and op.values["addresses"] == frozenset()


def test_remote_port_follows_its_binding_and_binds_to_the_gateway() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    pb = other_az_pb(snap, "az2", "ts1", "ts1-az2", 2, address="00:00:00:00:02:01 10.0.0.2/24",
                     gateway="gw9")
    converge(snap)
    lsp = lsp_named(snap, "ts1-az2")
    assert lsp is not None
    # northd binds the remote port in SB; the gateway's chassis is not there yet.
    ls = one(snap, "nb", "Logical_Switch", name="ts1")
    sb_pb = ins(snap, "sb", "Port_Binding", {
        "logical_port": "ts1-az2", "type": "remote", "tunnel_key": 2,
        "datapath": sb_datapath(snap, {"logical-switch": str(ls.uuid)})})
    assert plan_port_bindings(snap) == Plan()
    ch = add_chassis(snap, "gw9", other_config={"is-remote": "true"})
    assert plan_port_bindings(snap).ops == (
        Update("sb", "Port_Binding", sb_pb, {"chassis": ch}),)
    run(snap, plan_port_bindings(snap))
    assert plan_port_bindings(snap) == Plan()
    # The binding changes: address, key (a user edited it), gateway emptied.
    run(snap, [Update("ic_sb", "Port_Binding", pb, {"address": "", "gateway": ""}),
               Update("nb", "Logical_Switch_Port", lsp.uuid, {"options": {}})])
    assert plan_port_bindings(snap).ops == (
        Update("nb", "Logical_Switch_Port", lsp.uuid, {"addresses": frozenset()}),
        Mutate("nb", "Logical_Switch_Port", lsp.uuid, "options",
               insert={"requested-tnl-key": "2"}, delete=frozenset({"requested-tnl-key"})),
        Update("sb", "Port_Binding", sb_pb, {"chassis": None}),
    )
    run(snap, plan_port_bindings(snap))
    assert plan_port_bindings(snap) == Plan()


def test_remote_port_without_binding_is_removed() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    pb = other_az_pb(snap, "az2", "ts1", "ts1-az2", 2)
    converge(snap)
    lsp = lsp_named(snap, "ts1-az2")
    assert lsp is not None
    run(snap, [Delete("ic_sb", "Port_Binding", pb)])
    ls = one(snap, "nb", "Logical_Switch", name="ts1")
    assert plan_port_bindings(snap).ops == (
        Mutate("nb", "Logical_Switch", ls.uuid, "ports", delete=frozenset({lsp.uuid})),)
    run(snap, plan_port_bindings(snap))
    assert lsp_named(snap, "ts1-az2") is None  # collected: nothing refers to it


def test_other_port_types_are_ignored_and_names_are_not_reused() -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    ls = one(snap, "nb", "Logical_Switch", name="ts1")
    run(snap, [
        Insert("nb", "Logical_Switch_Port", {"name": "vm1"}, name="p"),
        Mutate("nb", "Logical_Switch", ls.uuid, "ports", insert=frozenset({NamedUUID("p")})),
    ])
    assert plan_port_bindings(snap) == Plan()
    # A remote binding named like an existing NB port: no second port of that name.
    other_az_pb(snap, "az2", "ts1", "vm1", 5)
    assert plan_port_bindings(snap) == Plan()


# ----------------------------------------------------------------------------- whole passes


def test_a_fresh_az_converges_in_a_few_passes() -> None:
    snap = new_az("az1")
    add_ts(snap, "ts1")
    add_chassis(snap, "gw1")
    passes = 0
    for _ in range(3):  # AZ row, then TS + gateway, then NB key
        plan = plan_pass(snap)
        assert plan
        run(snap, plan)
        passes += 1
    assert plan_pass(snap) == Plan()
    assert passes == 3


def test_route_planner_runs_last_on_the_same_snapshot() -> None:
    snap = registered()
    add_ts(snap, "ts1")
    seen: list[Snapshot] = []
    marker = Insert("ic_sb", "Route", {"ip_prefix": "marker"})

    def routes(s: Snapshot) -> Plan:
        seen.append(s)
        return Plan((marker,))

    plan = plan_pass(snap, route_planner=routes)
    assert seen == [snap]
    assert plan.ops[-1] is marker
    assert plan.ops[:-1] == plan_pass(snap).ops


def test_requirements_cover_what_the_planners_read() -> None:
    tables = REQUIREMENTS.tables
    assert set(tables) == {"nb", "sb", "ic_nb", "ic_sb"}
    assert "other_config" in (tables["nb"]["Logical_Switch"] or ())
    assert "ports" in (tables["nb"]["Logical_Switch"] or ())
    assert set(tables["sb"]) == {"Chassis", "Encap", "Port_Binding", "Datapath_Binding"}
    names = {(db, table, name) for db, table, name, _ in REQUIREMENTS.indexes}
    assert ("ic_sb", "Port_Binding", "transit_switch") in names
    assert ("nb", "Logical_Switch", "other_config:interconn-ts") in names
    # Each planner's own REQUIREMENTS is contained in the union.
    for req in (az_mod.REQUIREMENTS,):
        for db, ts in req.tables.items():
            for table, cols in ts.items():
                assert set(cols or ()) <= set(tables[db][table] or ())


def test_indexes_share_names_with_the_routes_planner() -> None:
    """One index per (table, columns) once the routes planner's requirements join in."""
    union = REQUIREMENTS | routes.REQUIREMENTS
    snap = empty_snapshot(union)
    dbs: tuple[DatabaseKey, ...] = ("nb", "sb", "ic_nb", "ic_sb")
    for db in dbs:
        for table in snap.db(db).tables.values():
            columns = [index.columns for index in table.indexes.values()]
            assert len(columns) == len(set(columns)), (table.name, columns)


def test_planners_work_without_the_client_indexes() -> None:
    """Lookups fall back to scans on a snapshot built without the requirements."""
    indexed = registered()
    bare = empty_snapshot()
    ts_ready(indexed, "ts1")
    add_router_port(indexed, "ts1")
    other_az_pb(indexed, "az2", "ts1", "ts1-az2", 7, address="a")
    # Copy every row of the indexed snapshot into the bare one, same UUIDs.
    dbs: tuple[DatabaseKey, ...] = ("nb", "sb", "ic_nb", "ic_sb")
    for db in dbs:
        src, dst = indexed.db(db), bare.db(db)
        dst.apply([RowUpdate(t, r.uuid, "insert", new=r.to_dict())
                   for t in src.tables for r in src.table(t)])
    assert plan_pass(bare).describe() == plan_pass(indexed).describe()
    assert plan_pass(bare)


# ----------------------------------------------------------------------------- properties


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Transit switches, and per AZ: gateway chassis and router ports on some switches."""
    tses = draw(st.lists(st.sampled_from(["ts", "ts1", "ts2", "ts3"]), unique=True,
                         max_size=3))
    azs = []
    for i in range(2):
        gws = draw(st.lists(st.tuples(st.integers(0, 3), st.booleans()), unique_by=lambda t: t[0],
                            max_size=2))
        ports = draw(st.lists(st.sampled_from(tses), unique=True)) if tses else []
        azs.append({"name": f"az{i + 1}", "gateways": gws, "ports": ports,
                    "bound": draw(st.booleans())})
    stale = draw(st.booleans())
    return {"tses": tses, "azs": azs, "stale": stale}


def build(scenario: dict[str, Any]) -> list[Snapshot]:
    """One snapshot per AZ, sharing the IC-NB and IC-SB replicas."""
    snaps: list[Snapshot] = []
    for spec in scenario["azs"]:
        snap = registered(spec["name"], shared=snaps[0] if snaps else None)
        snaps.append(snap)
    first = snaps[0]
    for name in scenario["tses"]:
        add_ts(first, name)
    if scenario["stale"]:
        ins(first, "ic_sb", "Datapath_Binding", {"transit_switch": "gone", "tunnel_key": 16711682})
    for snap, spec in zip(snaps, scenario["azs"], strict=True):
        run(snap, plan_transit_switches(snap))
        if scenario["stale"]:
            ins(snap, "nb", "Logical_Switch", {"name": "old", "other_config": {
                "interconn-ts": "old"}})
        chassis = []
        for n, host_changed in spec["gateways"]:
            chassis.append(add_chassis(
                snap, f"{spec['name']}-gw{n}", hostname=f"h{n}{'x' if host_changed else ''}",
                encaps=[("geneve", f"10.{spec['name'][-1]}.0.{n + 1}", {})]))
        for ts in spec["ports"]:
            add_router_port(snap, ts, chassis=chassis[0] if chassis and spec["bound"] else None)
    return snaps


def converge_all(snaps: list[Snapshot], *, limit: int = 8) -> int:
    """Round-robin passes over the AZs until every plan is empty; the rounds taken."""
    for n in range(limit + 1):
        busy = False
        for snap in snaps:
            plan = plan_pass(snap)
            if plan:
                busy = True
                run(snap, plan)
        if not busy:
            return n
    raise AssertionError(f"no fixpoint after {limit} rounds")


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_plans_are_deterministic(scenario: dict[str, Any]) -> None:
    snaps = build(scenario)
    for snap in snaps:
        first = plan_pass(snap)
        assert plan_pass(snap) == first
        assert plan_pass(snap).describe() == first.describe()


@settings(max_examples=40, deadline=None)
@given(scenarios())
def test_passes_reach_an_empty_plan(scenario: dict[str, Any]) -> None:
    snaps = build(scenario)
    converge_all(snaps, limit=5)
    for snap in snaps:
        assert plan_pass(snap) == Plan()
    # What the fixpoint holds: one binding per switch, distinct keys, NB in step.
    dps = rows(snaps[0], "ic_sb", "Datapath_Binding")
    assert sorted(r["transit_switch"] for r in dps) == sorted(scenario["tses"])
    assert len({r["tunnel_key"] for r in dps}) == len(dps)
    for snap in snaps:
        for dp in dps:
            ls = nb_transit_switches(snap, dp["transit_switch"])
            assert ls is not None
            assert ls["other_config"]["requested-tnl-key"] == str(dp["tunnel_key"])
        assert not [r for r in rows(snap, "nb", "Logical_Switch") if r["name"] == "old"]
    pbs = rows(snaps[0], "ic_sb", "Port_Binding")
    assert len({(r["transit_switch"], r["tunnel_key"]) for r in pbs}) == len(pbs)
    expected = {(ts, f"{ts}-{spec['name']}") for spec in scenario["azs"] for ts in spec["ports"]}
    assert {(r["transit_switch"], r["logical_port"]) for r in pbs} == expected
    # Every AZ sees every other AZ's ports as remote ports, and its gateways as chassis.
    for snap, spec in zip(snaps, scenario["azs"], strict=True):
        for _ts, port in expected:
            if port.endswith(spec["name"]):
                continue
            lsp = lsp_named(snap, port)
            assert lsp is not None and lsp["type"] == "remote"
        remote = {r["name"] for r in rows(snap, "sb", "Chassis")
                  if r["other_config"].get("is-remote") == "true"}
        theirs = {f"{o['name']}-gw{n}" for o in scenario["azs"] if o is not spec
                  for n, _ in o["gateways"]}
        assert remote == theirs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.text("abcdef", min_size=1, max_size=3)),
                max_size=12),
       st.lists(st.integers(DP_KEY_MIN, DP_KEY_MIN + 6), max_size=4))
def test_two_azs_allocating_in_turn_never_share_a_key(
    steps: list[tuple[int, str]], hints: list[int]
) -> None:
    """Two AZs on one pair of IC replicas take turns adding switches and planning."""
    az1 = registered("az1")
    az2 = registered("az2", shared=az1)
    snaps = [az1, az2]
    hint_of = [KeyHints(datapath=h) for h in [*hints, DP_KEY_MIN, DP_KEY_MIN][:2]]
    for who, name in steps:
        if not find_rows(az1.ic_nb, "Transit_Switch", "name", ("name",), name):
            add_ts(az1, name)
        snap = snaps[who]
        plan = plan_transit_switches(snap, hints=hint_of[who])
        taken = {r["tunnel_key"] for r in rows(snap, "ic_sb", "Datapath_Binding")}
        for op in plan:
            if isinstance(op, Insert) and op.table == "Datapath_Binding":
                assert op.values["tunnel_key"] not in taken
                taken.add(op.values["tunnel_key"])
        hint_of[who] = hint_of[who].after(plan)
        run(snap, plan)
        keys = [r["tunnel_key"] for r in rows(az1, "ic_sb", "Datapath_Binding")]
        assert len(keys) == len(set(keys))
    converge_all(snaps, limit=4)
    dps = rows(az1, "ic_sb", "Datapath_Binding")
    assert sorted(r["transit_switch"] for r in dps) == sorted({n for _, n in steps})


@settings(max_examples=60, deadline=None)
@given(st.sets(st.integers(PORT_KEY_MIN, 8), max_size=8), st.integers(0, 8))
def test_port_planner_picks_a_free_key(used: set[int], hint: int) -> None:
    snap = registered()
    ts_ready(snap, "ts1")
    for i, key in enumerate(sorted(used)):
        other_az_pb(snap, "az2", "ts1", f"remote{i}", key)
    add_router_port(snap, "ts1")
    plan = plan_port_bindings(snap, hints=KeyHints(port=hint))
    new = [op.values["tunnel_key"] for op in plan
           if isinstance(op, Insert) and op.table == "Port_Binding"]
    assert len(new) == 1 and new[0] not in used
    assert new[0] == allocate_tnlid(used, PORT_KEY_MIN, PORT_KEY_MAX, hint)


# ----------------------------------------------------------------------------- pass memo

_STEPS = st.lists(st.sampled_from([
    "ts", "chassis", "port", "other_pb", "other_gateway", "other_route", "own_route",
    "drop_other_route", "drop_chassis", "chassis_host", "encap_ip", "gateway_rename",
    "other_pb_address",
]), min_size=1, max_size=16)


@settings(max_examples=150, deadline=None)
@given(steps=_STEPS)
@example(steps=["other_gateway", "gateway_rename"])
@example(steps=["chassis", "chassis_host", "encap_ip", "drop_chassis"])
@example(steps=["ts", "other_pb", "other_pb_address"])
@example(steps=["ts", "chassis", "port", "other_route", "own_route", "drop_other_route"])
def test_the_pass_memo_never_changes_a_plan(steps: list[str]) -> None:
    """``plan_pass`` with its memo (planners skipped while the tables in their memo key
    keep their versions) plans exactly what it plans without one, whatever changes in
    between: here routes of other AZs and of this one coming and going in IC-SB, which
    the transit switch, gateway and port binding planners do not read, among changes
    they do read."""
    snap = registered("az1")
    memo: dict[str, tuple[int, ...]] = {}
    count = itertools.count()
    chassis: list[uuid.UUID] = []
    for step in [*steps, "settle"]:
        k = next(count)
        if step == "ts":
            add_ts(snap, f"ts{k}")
        elif step == "chassis":
            chassis.append(add_chassis(snap, f"gw{k}"))
        elif step == "port":
            switches = [r["name"] for r in rows(snap, "ic_nb", "Transit_Switch")
                        if nb_transit_switches(snap, r["name"]) is not None]
            if switches:
                add_router_port(snap, switches[0], lsp=f"lsp{k}", lrp=f"lrp{k}",
                                chassis=chassis[0] if chassis else None)
        elif step == "other_pb":
            switches = [r["name"] for r in rows(snap, "ic_nb", "Transit_Switch")]
            if switches:
                other_az_pb(snap, "az2", switches[0], f"az2-port{k}", 100 + k,
                            address="00:00:00:00:02:01 169.254.100.8/24")
        elif step == "other_gateway":
            other_az_gateway(snap, "az2", f"az2-gw{k}", f"h{k}", [("geneve", "192.0.2.9", {})])
        elif step in ("other_route", "own_route"):
            owner = "az2" if step == "other_route" else "az1"
            found = find_rows(snap.ic_sb, "Availability_Zone", "name", ("name",), owner)
            az = found[0].uuid if found else ins(snap, "ic_sb", "Availability_Zone",
                                                  {"name": owner})
            ins(snap, "ic_sb", "Route", {"transit_switch": "ts0", "availability_zone": az,
                                         "ip_prefix": f"10.{k}.0.0/24",
                                         "nexthop": "169.254.100.2", "origin": "static"})
        elif step == "drop_other_route":
            routes_ = rows(snap, "ic_sb", "Route")
            if routes_:
                run(snap, [Delete("ic_sb", "Route", routes_[0].uuid)])
        elif step == "drop_chassis" and chassis:
            run(snap, [Delete("sb", "Chassis", chassis.pop())])
        # Changes of one column of one table: only that table gets a new version.
        elif step == "chassis_host" and chassis:
            run(snap, [Update("sb", "Chassis", chassis[0], {"hostname": f"host{k}"})])
        elif step == "encap_ip" and rows(snap, "sb", "Encap"):
            run(snap, [Update("sb", "Encap", rows(snap, "sb", "Encap")[0].uuid,
                              {"ip": f"192.0.2.{k % 250 + 1}"})])
        elif step == "gateway_rename":
            remote = [r for r in rows(snap, "ic_sb", "Gateway") if r["name"].startswith("az2")]
            if remote:
                run(snap, [Update("ic_sb", "Gateway", remote[0].uuid, {"name": f"az2-gw{k}"})])
        elif step == "other_pb_address":
            remote = [r for r in rows(snap, "ic_sb", "Port_Binding")
                      if r["logical_port"].startswith("az2")]
            if remote:
                run(snap, [Update("ic_sb", "Port_Binding", remote[0].uuid,
                                  {"address": f"00:00:00:00:02:{k % 99:02d} 169.254.100.9/24"})])
        for _ in range(4):  # a few passes after each change, as the runner does
            plain = plan_pass(snap)
            assert plan_pass(snap, memo=memo) == plain, (step, plain.describe())
            if not plain:
                break
            run(snap, plain)
