"""The route planner (ovsdb_ic.sync.routes) and its address helpers (ovsdb_ic.ic.addr).

Snapshots are built with ``empty_snapshot(REQUIREMENTS)`` and populated by
``simulate()``-ing small Insert plans (the :class:`World` builder below). One named test
per advertise and learn rule of the spec, one per 23.03 defect the engine does not
copy, and hypothesis properties: determinism (also under a different row insertion
order), and convergence of generated one-AZ and two-AZ topologies to an empty plan
within three passes, with the resulting databases checked for consistency.

The planner's cache (:class:`RouteCache`) is checked last: a warm cache plans exactly as
a cold one across random change sequences, it re-derives only what changed (counted
through the filters), a failed call leaves nothing half-updated behind, and the change
detection it rests on (``_row_changes``) reports every changed row.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.ic.addr import (
    Cidr,
    cidr_text,
    eui64_link_local,
    format_address,
    parse_cidr,
    parse_cidr_list,
    parse_mac,
)
from ovsdb_ic.ic.databases import Snapshot, empty_snapshot
from ovsdb_ic.models.mapping import model_schema
from ovsdb_ic.replica import Row, RowLayout
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Plan, Update, simulate
from ovsdb_ic.sync.routes import (
    LEARNED_ROUTE_KEY,
    REQUIREMENTS,
    RouteCache,
    RouteFilters,
    RouteInfo,
    RouteOptions,
    _row_changes,
    plan_routes,
)
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.monitor import RowUpdate

ROUTE_UNIQUE = "transit_switch,availability_zone,route_table,ip_prefix,nexthop"
ON = {"ic-route-adv": "true", "ic-route-learn": "true"}

# ---------------------------------------------------------------------------- builders


class World:
    """One AZ's snapshot (its own NB, shared IC-NB/IC-SB) with builder helpers."""

    def __init__(self, snap: Snapshot | None = None, *, seed: int = 0) -> None:
        self.snap = snap if snap is not None else empty_snapshot(REQUIREMENTS)
        self.rng = random.Random(seed)

    def new_uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def sibling(self, *, seed: int = 1) -> World:
        """Another AZ: fresh NB and SB, the same IC-NB and IC-SB replicas."""
        fresh = empty_snapshot(REQUIREMENTS)
        return World(attrs.evolve(fresh, ic_nb=self.snap.ic_nb, ic_sb=self.snap.ic_sb),
                     seed=seed)

    def apply(self, plan: Plan) -> dict[str, dict[str, uuid.UUID]]:
        return simulate(self.snap, plan, new_uuid=self.new_uuid)  # type: ignore[return-value]

    def insert(self, db: Any, table: str, values: Mapping[str, Any]) -> uuid.UUID:
        return self.apply(Plan((Insert(db, table, values, name="row"),)))[db]["row"]

    # -- NB / IC objects

    def az(self, name: str = "az1", options: Mapping[str, str] | None = None) -> uuid.UUID:
        """NB_Global{name, options} and the IC-SB Availability_Zone row (if missing)."""
        self.insert("nb", "NB_Global", {"name": name, "options": dict(options or {})})
        return self.az_row(name)

    def az_row(self, name: str) -> uuid.UUID:
        row = self.snap.ic_sb.table("Availability_Zone").lookup_one(("name",), name)
        if row is None:
            return self.insert("ic_sb", "Availability_Zone", {"name": name})
        return row.uuid

    def set_options(self, options: Mapping[str, str]) -> None:
        (g,) = self.snap.nb.table("NB_Global")
        self.apply(Plan((Update("nb", "NB_Global", g.uuid, {"options": dict(options)}),)))

    def ts(self, name: str) -> uuid.UUID:
        """IC-NB Transit_Switch (if missing) and this AZ's NB Logical_Switch for it."""
        if self.snap.ic_nb.table("Transit_Switch").lookup_one(("name",), name) is None:
            self.insert("ic_nb", "Transit_Switch", {"name": name})
        return self.insert("nb", "Logical_Switch",
                           {"name": name, "other_config": {"interconn-ts": name}})

    def switch(self, name: str) -> Row:
        for ls in self.snap.nb.table("Logical_Switch"):
            if ls["name"] == name:
                return ls
        raise KeyError(name)

    def router(self, name: str = "lr1") -> uuid.UUID:
        return self.insert("nb", "Logical_Router", {"name": name})

    def router_row(self, name: str) -> Row:
        for lr in self.snap.nb.table("Logical_Router"):
            if lr["name"] == name:
                return lr
        raise KeyError(name)

    def lrp(self, router: uuid.UUID, name: str, mac: str, networks: Iterable[str],
            options: Mapping[str, str] | None = None) -> uuid.UUID:
        plan = Plan((
            Insert("nb", "Logical_Router_Port", {
                "name": name, "mac": mac, "networks": frozenset(networks),
                "options": dict(options or {})}, name="p"),
            Mutate("nb", "Logical_Router", router, "ports", insert=frozenset({NamedUUID("p")})),
        ))
        return self.apply(plan)["nb"]["p"]

    def ts_port(self, ts: str, router: uuid.UUID, lrp_name: str, mac: str,
                networks: Iterable[str], *, route_table: str = "") -> uuid.UUID:
        """An LRP plus the TS's LSP of type router pointing at it; returns the LRP uuid."""
        opts = {"route_table": route_table} if route_table else {}
        lrp = self.lrp(router, lrp_name, mac, networks, opts)
        ls = self.switch(ts)
        plan = Plan((
            Insert("nb", "Logical_Switch_Port", {
                "name": f"{ts}-{lrp_name}", "type": "router", "addresses": frozenset({"router"}),
                "options": {"router-port": lrp_name}}, name="sp"),
            Mutate("nb", "Logical_Switch", ls.uuid, "ports", insert=frozenset({NamedUUID("sp")})),
        ))
        self.apply(plan)
        return lrp

    def static(self, router: uuid.UUID, prefix: str, nexthop: str, *, route_table: str = "",
               policy: str | None = None, external_ids: Mapping[str, str] | None = None,
               options: Mapping[str, str] | None = None) -> uuid.UUID:
        values: dict[str, Any] = {"ip_prefix": prefix, "nexthop": nexthop,
                                  "route_table": route_table,
                                  "external_ids": dict(external_ids or {}),
                                  "options": dict(options or {})}
        if policy is not None:
            values["policy"] = policy
        plan = Plan((
            Insert("nb", "Logical_Router_Static_Route", values, name="r"),
            Mutate("nb", "Logical_Router", router, "static_routes",
                   insert=frozenset({NamedUUID("r")})),
        ))
        return self.apply(plan)["nb"]["r"]

    def remote(self, ts: str, az: uuid.UUID, prefix: str, nexthop: str, *,
               origin: str = "connected", route_table: str = "",
               external_ids: Mapping[str, str] | None = None) -> uuid.UUID:
        """An IC-SB Route row, as another AZ (or router) would have advertised it."""
        return self.insert("ic_sb", "Route", {
            "transit_switch": ts, "availability_zone": az, "route_table": route_table,
            "ip_prefix": prefix, "nexthop": nexthop, "origin": origin,
            "external_ids": dict(external_ids or {})})

    # -- running and reading

    def plan(self, filters: RouteFilters | None = None) -> Plan:
        return plan_routes(self.snap, filters=filters)

    def step(self, filters: RouteFilters | None = None) -> Plan:
        plan = self.plan(filters)
        self.apply(plan)
        return plan

    def settle(self, filters: RouteFilters | None = None, passes: int = 3) -> int:
        """Plan and apply until the plan is empty; return the number of non-empty passes."""
        for n in range(passes + 1):
            if not self.step(filters):
                return n
        raise AssertionError(f"no fixpoint after {passes} passes: {self.plan().describe()}")

    def ads(self, az: str = "az1") -> set[tuple[str, str, str, str, str]]:
        """This AZ's IC-SB routes as (ts, prefix, nexthop, origin, route_table)."""
        az_uuid = self.az_row(az)
        return {(r["transit_switch"], r["ip_prefix"], r["nexthop"], r["origin"],
                 r["route_table"])
                for r in self.snap.ic_sb.table("Route") if r["availability_zone"] == az_uuid}

    def ad_rows(self, az: str = "az1") -> list[Row]:
        az_uuid = self.az_row(az)
        return [r for r in self.snap.ic_sb.table("Route") if r["availability_zone"] == az_uuid]

    def learned_rows(self, router: str = "lr1") -> list[Row]:
        lr = self.router_row(router)
        table = self.snap.nb.table("Logical_Router_Static_Route")
        rows = [table[u] for u in lr["static_routes"]]
        return [r for r in rows if LEARNED_ROUTE_KEY in r["external_ids"]]

    def learned(self, router: str = "lr1") -> set[tuple[str, str, str, str]]:
        """The router's learned routes as (prefix, nexthop, origin, route_table)."""
        return {(r["ip_prefix"], r["nexthop"], r["options"].get("origin", ""), r["route_table"])
                for r in self.learned_rows(router)}


def basic(options: Mapping[str, str] | None = ON, *, seed: int = 0) -> tuple[World, uuid.UUID]:
    """az1 with router lr1: TS port on ts1 (169.254.100.1/24) and an internal 10.16.0.1/16."""
    w = World(seed=seed)
    w.az("az1", options)
    w.ts("ts1")
    lr = w.router("lr1")
    w.ts_port("ts1", lr, "lr1-ts1", "00:00:00:00:01:01", ["169.254.100.1/24"])
    w.lrp(lr, "lr1-int", "00:00:00:00:00:01", ["10.16.0.1/16"])
    return w, lr


CONNECTED = ("ts1", "10.16.0.1/16", "169.254.100.1", "connected", "")


# ---------------------------------------------------------------------------- address helpers


def test_parse_cidr_forms() -> None:
    assert parse_cidr("10.16.0.1/16") == Cidr(4, 0x0A100001, 16)
    assert str(parse_cidr("10.16.0.1/16")) == "10.16.0.1/16"  # host bits kept
    assert parse_cidr("10.0.0.1") == Cidr(4, 0x0A000001, 32)
    assert parse_cidr("10.0.0.0/255.255.0.0") == Cidr(4, 0x0A000000, 16)
    assert parse_cidr("10.0.0.0/255.0.255.0") is None  # not a CIDR mask
    assert str(parse_cidr("FD00:0:0::1/64")) == "fd00::1/64"
    assert parse_cidr("fd00::/129") is None
    assert parse_cidr("10.0.0.0/33") is None
    assert parse_cidr("::ffff:10.0.0.1/128") is None  # v4-mapped: refused
    for bad in ("discard", "", "10.0.0", "10.0.0.256/24", "fe80::1%eth0", "1.2.3.4/", "x/24"):
        assert parse_cidr(bad) is None, bad
    assert parse_cidr_list(" 10.0.0.0/8, bogus,,fd00::/16") == (
        Cidr(4, 0x0A000000, 8), Cidr(6, 0xFD00 << 112, 16))


def test_eui64_link_local() -> None:
    mac = parse_mac("00:00:00:00:01:01")
    assert mac is not None
    assert format_address(6, eui64_link_local(mac)) == "fe80::200:ff:fe00:101"
    assert parse_mac("0a:1b:2c:3d:4e:5f") == 0x0A1B2C3D4E5F
    assert parse_mac("0a:1b:2c:3d:4e") is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0, 0, 0, 1, 0xFFFF]) | st.integers(0, 0xFFFF),
                min_size=8, max_size=8))
def test_format_v6_matches_inet_ntop(words: list[int]) -> None:
    value = 0
    for w in words:
        value = (value << 16) | w
    assert format_address(6, value) == socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_v4_round_trip(address: int, plen: int) -> None:
    text = f"{socket.inet_ntoa(address.to_bytes(4, 'big'))}/{plen}"
    cidr = parse_cidr(text)
    assert cidr == Cidr(4, address, plen) and str(cidr) == text


def test_options_parsing() -> None:
    o = RouteOptions.from_nb_options({"ic-route-adv": "TRUE", "ic-route-learn": "yes",
                                      "ic-route-blacklist": "10.0.0.0/8"})
    assert o.advertise and not o.learn
    assert o.denylist == (Cidr(4, 0x0A000000, 8),)


# ---------------------------------------------------------------------------- set-up cases


def test_no_name_or_no_az_row_gives_empty_plan() -> None:
    w = World()
    w.insert("nb", "NB_Global", {"name": "", "options": ON})
    assert not w.plan()
    w2 = World()
    w2.insert("nb", "NB_Global", {"name": "az9", "options": ON})  # no Availability_Zone row
    w2.ts("ts1")
    lr = w2.router()
    w2.ts_port("ts1", lr, "p", "00:00:00:00:01:01", ["169.254.100.1/24"])
    w2.lrp(lr, "int", "00:00:00:00:00:01", ["10.16.0.1/16"])
    assert not w2.plan()
    assert not World().plan()  # no NB_Global at all


def test_only_real_transit_switches_count() -> None:
    w = World()
    w.az("az1", ON)
    w.insert("ic_nb", "Transit_Switch", {"name": "ts1"})
    # marked, but named differently from its interconn-ts value
    w.insert("nb", "Logical_Switch", {"name": "other", "other_config": {"interconn-ts": "ts1"}})
    # named and marked, but IC-NB has no such transit switch
    w.insert("nb", "Logical_Switch", {"name": "tsx", "other_config": {"interconn-ts": "tsx"}})
    lr = w.router()
    w.lrp(lr, "int", "00:00:00:00:00:01", ["10.16.0.1/16"])
    for ls in ("other", "tsx"):
        w.ts_port(ls, lr, f"p-{ls}", "00:00:00:00:01:01", ["169.254.100.1/24"])
    assert not w.plan()
    w.insert("nb", "Logical_Switch", {"name": "ts1", "other_config": {"interconn-ts": "ts1"}})
    w.ts_port("ts1", lr, "p-ts1", "00:00:00:00:01:02", ["169.254.100.3/24"])
    w.settle()
    assert w.ads() == {("ts1", "10.16.0.1/16", "169.254.100.3", "connected", "")}


def test_basic_advertisement_rows_and_idempotence() -> None:
    w, lr = basic()
    plan = w.plan()
    assert plan.databases() == ("ic_sb",)
    (op,) = plan.ops
    assert isinstance(op, Insert) and op.table == "Route"
    lrp_int = next(r for r in w.snap.nb.table("Logical_Router_Port") if r["name"] == "lr1-int")
    assert op.values == {
        "transit_switch": "ts1", "availability_zone": w.az_row("az1"), "route_table": "",
        "ip_prefix": "10.16.0.1/16", "nexthop": "169.254.100.1", "origin": "connected",
        "external_ids": {"nb-id": str(lrp_int.uuid), "lr-id": str(lr)}}
    w.apply(plan)
    assert not w.plan()
    assert w.plan() == Plan()


def test_orphan_routes_of_deleted_ts_are_deleted() -> None:
    w, _ = basic()
    w.settle()
    az = w.az_row("az1")
    gone = w.remote("ts-gone", az, "10.9.0.0/16", "169.254.100.1")
    other_az = w.az_row("az2")
    foreign = w.remote("ts-gone", other_az, "10.8.0.0/16", "169.254.100.2")
    plan = w.plan()
    assert plan.ops == (Delete("ic_sb", "Route", gone),)
    w.apply(plan)
    assert foreign in w.snap.ic_sb.table("Route")  # another AZ's rows are not ours to touch


def test_route_of_this_az_not_wanted_is_deleted_and_stale_ids_updated() -> None:
    w, lr = basic()
    w.settle()
    (row,) = w.ad_rows()
    extra = w.remote("ts1", w.az_row("az1"), "10.99.0.0/16", "169.254.100.1")
    w.apply(Plan((Update("ic_sb", "Route", row.uuid,
                         {"external_ids": {"nb-id": "x", "lr-id": "y", "keep": "1"}}),)))
    plan = w.plan()
    assert Delete("ic_sb", "Route", extra) in plan.ops
    upd = next(op for op in plan.ops if isinstance(op, Update))
    assert upd.values["external_ids"]["lr-id"] == str(lr)
    assert upd.values["external_ids"]["keep"] == "1"  # other keys are kept
    w.apply(plan)
    assert w.ads() == {CONNECTED}
    assert not w.plan()


# ---------------------------------------------------------------------------- advertise rules


def test_adv_off_advertises_nothing_and_withdraws() -> None:
    w, _ = basic({"ic-route-learn": "true"})
    assert w.settle() == 0
    assert w.ads() == set()
    w.set_options(ON)
    w.settle()
    assert w.ads() == {CONNECTED}
    w.set_options({"ic-route-learn": "true"})
    w.settle()
    assert w.ads() == set()


def test_adv_plen0_needs_adv_default() -> None:
    w, lr = basic()
    w.static(lr, "0.0.0.0/0", "10.16.0.254")
    w.settle()
    assert ("ts1", "0.0.0.0/0", "169.254.100.1", "static", "") not in w.ads()
    w.set_options({**ON, "ic-route-adv-default": "true"})
    w.settle()
    assert ("ts1", "0.0.0.0/0", "169.254.100.1", "static", "") in w.ads()


def test_adv_src_ip_policy_not_advertised() -> None:
    w, lr = basic()
    w.static(lr, "10.50.0.0/16", "10.16.0.254", policy="src-ip")
    w.static(lr, "10.51.0.0/16", "10.16.0.254", policy="dst-ip")
    w.settle()
    assert w.ads() == {CONNECTED, ("ts1", "10.51.0.0/16", "169.254.100.1", "static", "")}


def test_adv_link_local_prefixes_not_advertised() -> None:
    w, lr = basic()
    w.static(lr, "169.254.5.0/24", "10.16.0.254")
    w.static(lr, "169.0.0.0/8", "10.16.0.254")  # shorter than /16: not link-local
    w.static(lr, "fe80::/64", "fd00::1")
    w.static(lr, "fe80::/9", "fd00::1")  # shorter than /10
    w.settle()
    prefixes = {a[1] for a in w.ads()}
    assert "169.254.5.0/24" not in prefixes and "fe80::/64" not in prefixes
    assert {"169.0.0.0/8", "fe80::/9"} <= prefixes


def test_adv_denylist_v4() -> None:
    w, lr = basic({**ON, "ic-route-denylist": "10.16.0.0/16,10.60.0.0/15"})
    w.static(lr, "10.60.1.0/24", "10.16.0.254")  # inside 10.60.0.0/15
    w.static(lr, "10.62.0.0/24", "10.16.0.254")  # outside
    w.static(lr, "10.60.0.0/14", "10.16.0.254")  # shorter than the entry: not denied
    w.settle()
    assert {a[1] for a in w.ads()} == {"10.62.0.0/24", "10.60.0.0/14"}


def test_adv_denylist_v6_and_family() -> None:
    w, lr = basic({**ON, "ic-route-denylist": "fd00:1::/32,10.0.0.0/8"})
    w.static(lr, "fd00:1:2::/48", "fd00::1")  # inside fd00:1::/32
    w.static(lr, "fd01::/48", "fd00::1")  # outside
    w.settle()
    assert {a[1] for a in w.ads()} == {"fd01::/48"}  # 10.16.0.1/16 denied by 10.0.0.0/8


def test_adv_unparsable_or_discard_nexthop_not_advertised() -> None:
    w, lr = basic()
    w.static(lr, "10.70.0.0/16", "discard")
    w.static(lr, "10.71.0.0/16", "not-an-ip")
    w.static(lr, "bogus/16", "10.16.0.254")
    w.static(lr, "10.72.0.0/16", "10.16.0.254")
    w.settle()
    assert {a[1] for a in w.ads()} == {"10.16.0.1/16", "10.72.0.0/16"}


def test_adv_v6_nexthop_in_fe80_64_not_advertised() -> None:
    w, lr = basic()
    w.static(lr, "fd10::/64", "fe80::1")
    w.static(lr, "fd11::/64", "fe80:0:0:1::1")  # outside fe80::/64
    w.settle()
    prefixes = {a[1] for a in w.ads()}
    assert "fd10::/64" not in prefixes and "fd11::/64" in prefixes


def test_adv_ecmp_static_routes_collapse_to_one_row() -> None:
    w, lr = basic()
    r1 = w.static(lr, "10.80.0.0/16", "10.16.0.2")
    r2 = w.static(lr, "10.80.0.0/16", "10.16.0.3")
    w.settle()
    rows = [r for r in w.ad_rows() if r["ip_prefix"] == "10.80.0.0/16"]
    assert len(rows) == 1
    assert rows[0]["nexthop"] == "169.254.100.1"
    assert rows[0]["external_ids"]["nb-id"] == str(min(r1, r2, key=lambda u: u.int))


def test_adv_nexthop_first_ipv4_of_ts_port() -> None:
    w = World()
    w.az("az1", ON)
    w.ts("ts1")
    lr = w.router()
    w.ts_port("ts1", lr, "p", "00:00:00:00:01:01",
              ["169.254.100.9/24", "169.254.100.10/24", "fd00:100::5/64"])
    w.lrp(lr, "int", "00:00:00:00:00:01", ["10.16.0.1/16"])
    w.settle()
    # first by the networks' (sorted) order, as northd lists them
    assert w.ads() == {("ts1", "10.16.0.1/16", "169.254.100.10", "connected", "")}


def test_adv_nexthop_first_ipv6_of_ts_port() -> None:
    w = World()
    w.az("az1", ON)
    w.ts("ts1")
    lr = w.router()
    w.ts_port("ts1", lr, "p", "00:00:00:00:01:01", ["169.254.100.1/24", "fd00:100::5/64"])
    w.lrp(lr, "int", "00:00:00:00:00:01", ["fd00:16::1/64"])
    w.settle()
    assert w.ads() == {("ts1", "fd00:16::1/64", "fd00:100::5", "connected", "")}


def test_adv_nexthop_eui64_link_local_from_mac() -> None:
    w = World()
    w.az("az1", ON)
    w.ts("ts1")
    lr = w.router()
    w.ts_port("ts1", lr, "p", "0a:00:00:00:01:01", ["169.254.100.1/24"])
    w.lrp(lr, "int", "00:00:00:00:00:01", ["fd00:16::1/64", "10.16.0.1/16"])
    w.settle()
    assert w.ads() == {("ts1", "fd00:16::1/64", "fe80::800:ff:fe00:101", "connected", ""),
                       ("ts1", "10.16.0.1/16", "169.254.100.1", "connected", "")}


def test_adv_v4_prefix_on_v6_only_port_and_bad_mac() -> None:
    w = World()
    w.az("az1", ON)
    w.ts("ts1")
    w.ts("ts2")
    lr = w.router()
    w.ts_port("ts1", lr, "p1", "00:00:00:00:01:01", ["fd00:100::1/64"])  # no IPv4
    w.ts_port("ts2", lr, "p2", "not-a-mac", ["169.254.101.1/24"])  # unusable port
    w.lrp(lr, "int", "00:00:00:00:00:01", ["10.16.0.1/16"])
    w.settle()
    assert w.ads() == set()


def test_adv_connected_routes_keep_host_bits_and_skip_ts_ports() -> None:
    w, lr = basic()
    w.ts("ts2")
    w.ts_port("ts2", lr, "lr1-ts2", "00:00:00:00:02:01", ["169.254.101.1/24"])
    w.lrp(lr, "lr1-int2", "00:00:00:00:00:02", ["10.17.5.9/16"])
    w.settle()
    assert w.ads() == {
        CONNECTED, ("ts1", "10.17.5.9/16", "169.254.100.1", "connected", ""),
        ("ts2", "10.16.0.1/16", "169.254.101.1", "connected", ""),
        ("ts2", "10.17.5.9/16", "169.254.101.1", "connected", ""),
    }  # neither TS port network (169.254.10x.1/24) is advertised


def test_adv_static_route_table_must_match_ts_port() -> None:
    w, lr = basic()
    w.ts("ts2")
    w.ts_port("ts2", lr, "lr1-ts2", "00:00:00:00:02:01", ["169.254.101.1/24"],
              route_table="rtb1")
    w.static(lr, "10.90.0.0/16", "10.16.0.2", route_table="rtb1")
    w.static(lr, "10.91.0.0/16", "10.16.0.2")
    w.settle()
    statics = {a for a in w.ads() if a[3] == "static"}
    assert statics == {("ts2", "10.90.0.0/16", "169.254.101.1", "static", "rtb1"),
                       ("ts1", "10.91.0.0/16", "169.254.100.1", "static", "")}
    # connected routes go through every TS port, in the main table
    assert ("ts2", "10.16.0.1/16", "169.254.101.1", "connected", "") in w.ads()


def test_adv_learned_routes_are_not_readvertised() -> None:
    w, lr = basic()
    w.static(lr, "10.95.0.0/16", "169.254.100.2",
             external_ids={LEARNED_ROUTE_KEY: str(uuid.uuid4())}, options={"origin": "static"})
    w.settle()
    assert "10.95.0.0/16" not in {a[1] for a in w.ads()}


def test_adv_denylist_takes_precedence_over_blacklist() -> None:
    w, lr = basic({**ON, "ic-route-denylist": "10.20.0.0/16",
                   "ic-route-blacklist": "10.16.0.0/16"})
    w.static(lr, "10.20.1.0/24", "10.16.0.254")
    w.settle()
    assert w.ads() == {CONNECTED}  # blacklist ignored, denylist applied
    w.set_options({**ON, "ic-route-blacklist": "10.16.0.0/16"})
    w.settle()
    assert w.ads() == {("ts1", "10.20.1.0/24", "169.254.100.1", "static", "")}
    w.set_options({**ON, "ic-route-denylist": "", "ic-route-blacklist": "10.16.0.0/16"})
    w.settle()  # an empty denylist counts as absent (newer OVN)
    assert w.ads() == {("ts1", "10.20.1.0/24", "169.254.100.1", "static", "")}


def test_adv_filter_applies_on_top_of_options() -> None:
    seen: list[RouteInfo] = []

    def adv(info: RouteInfo) -> bool:
        seen.append(info)
        return not info.prefix.startswith("10.16.")

    w, lr = basic()
    w.static(lr, "10.30.0.0/16", "10.16.0.254")
    w.static(lr, "10.16.7.0/24", "10.16.0.254")
    w.settle(RouteFilters(advertise=adv))
    assert w.ads() == {("ts1", "10.30.0.0/16", "169.254.100.1", "static", "")}
    assert RouteInfo("lr1", "10.30.0.0/16", "169.254.100.1", "static", "", "ts1") in seen


# ---------------------------------------------------------------------------- learn rules


def remote_setup(options: Mapping[str, str] | None = ON) -> tuple[World, uuid.UUID, uuid.UUID]:
    """basic() plus the IC-SB Availability_Zone az2, whose routes tests add."""
    w, lr = basic(options)
    return w, lr, w.az_row("az2")


def test_learn_basic_insert_and_mutate() -> None:
    w, lr, az2 = remote_setup()
    r = w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2",
                 external_ids={"lr-id": str(uuid.uuid4())})
    plan = w.plan()
    nb_ops = plan.for_db("nb")
    ins = next(op for op in nb_ops if isinstance(op, Insert))
    mut = next(op for op in nb_ops if isinstance(op, Mutate))
    assert ins.table == "Logical_Router_Static_Route" and ins.name
    assert ins.values == {"ip_prefix": "10.17.0.0/16", "nexthop": "169.254.100.2",
                          "route_table": "", "options": {"origin": "connected"},
                          "external_ids": {LEARNED_ROUTE_KEY: str(r)}}
    assert "policy" not in ins.values  # default: dst-ip
    assert mut == Mutate("nb", "Logical_Router", lr, "static_routes",
                         insert=frozenset({NamedUUID(ins.name)}))
    w.apply(plan)
    assert w.learned() == {("10.17.0.0/16", "169.254.100.2", "connected", "")}
    assert not w.plan()


def test_learn_off() -> None:
    w, _, az2 = remote_setup({"ic-route-adv": "true"})
    w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2")
    w.settle()
    assert w.learned() == set()


def test_learn_plen0_needs_learn_default() -> None:
    w, _, az2 = remote_setup()
    w.remote("ts1", az2, "0.0.0.0/0", "169.254.100.2", origin="static")
    w.settle()
    assert w.learned() == set()
    w.set_options({**ON, "ic-route-learn-default": "true"})
    w.settle()
    assert w.learned() == {("0.0.0.0/0", "169.254.100.2", "static", "")}


def test_learn_skips_link_local_prefix_and_nexthop() -> None:
    w, _, az2 = remote_setup()
    w.remote("ts1", az2, "169.254.7.0/24", "169.254.100.2")
    w.remote("ts1", az2, "fd20::/64", "fe80::2")  # link-local next hop
    w.remote("ts1", az2, "fd21::/64", "fd00:100::2")
    w.settle()
    assert w.learned() == {("fd21::/64", "fd00:100::2", "connected", "")}


def test_learn_skips_unparsable() -> None:
    w, _, az2 = remote_setup()
    w.remote("ts1", az2, "bogus", "169.254.100.2")
    w.remote("ts1", az2, "10.40.0.0/16", "discard")
    w.remote("ts1", az2, "10.41.0.0/16", "169.254.100.2")
    w.settle()
    assert w.learned() == {("10.41.0.0/16", "169.254.100.2", "connected", "")}


def test_learn_skips_denylisted() -> None:
    w, _, az2 = remote_setup({**ON, "ic-route-blacklist": "10.40.0.0/16,fd30::/16"})
    w.remote("ts1", az2, "10.40.3.0/24", "169.254.100.2")
    w.remote("ts1", az2, "fd30:1::/64", "fd00:100::2")
    w.remote("ts1", az2, "fd31:1::/64", "fd00:100::2")
    w.settle()
    assert w.learned() == {("fd31:1::/64", "fd00:100::2", "connected", "")}


def test_learn_route_table_must_match_when_set() -> None:
    w, _, az2 = remote_setup()
    w.remote("ts1", az2, "10.42.0.0/16", "169.254.100.2", route_table="rtb1", origin="static")
    w.remote("ts1", az2, "10.43.0.0/16", "169.254.100.2", route_table="", origin="static")
    w.settle()
    assert w.learned() == {("10.43.0.0/16", "169.254.100.2", "static", "")}
    w2 = World()
    w2.az("az1", ON)
    w2.ts("ts1")
    lr = w2.router()
    w2.ts_port("ts1", lr, "p", "00:00:00:00:01:01", ["169.254.100.1/24"], route_table="rtb1")
    az2b = w2.az_row("az2")
    w2.remote("ts1", az2b, "10.42.0.0/16", "169.254.100.2", route_table="rtb1", origin="static")
    w2.remote("ts1", az2b, "10.43.0.0/16", "169.254.100.2", route_table="", origin="static")
    w2.remote("ts1", az2b, "10.44.0.0/16", "169.254.100.2", route_table="rtb2", origin="static")
    w2.settle()
    assert w2.learned() == {("10.42.0.0/16", "169.254.100.2", "static", "rtb1"),
                            ("10.43.0.0/16", "169.254.100.2", "static", "")}


def test_learn_local_route_wins() -> None:
    w, lr, az2 = remote_setup()
    w.static(lr, "10.45.0.0/16", "10.16.0.9")
    w.remote("ts1", az2, "10.45.0.0/16", "169.254.100.2", origin="static")
    w.remote("ts1", az2, "10.45.0.0/17", "169.254.100.2", origin="static")
    w.settle()
    assert w.learned() == {("10.45.0.0/17", "169.254.100.2", "static", "")}


def test_learn_lr_id_rule_skips_own_router_and_same_az_without_lr_id() -> None:
    w, lr, az2 = remote_setup()
    az1 = w.az_row("az1")
    w.settle()
    # this router's own advertisement (lr-id = lr1) is never learned back
    assert w.learned() == set()
    w.remote("ts1", az1, "10.46.0.0/16", "169.254.100.5")  # same AZ, no lr-id: skipped
    w.remote("ts1", az2, "10.47.0.0/16", "169.254.100.2")  # other AZ, no lr-id: learned
    w.remote("ts1", az2, "10.49.0.0/16", "169.254.100.2",
             external_ids={"lr-id": str(lr)})  # claims to be this router: skipped
    w.remote("ts1", az2, "10.50.0.0/16", "169.254.100.2",
             external_ids={"lr-id": "garbage"})  # unreadable lr-id: skipped
    w.settle()  # (the stray az1 row, with no local source, is also withdrawn)
    assert w.learned() == {("10.47.0.0/16", "169.254.100.2", "connected", "")}
    assert w.ads() == {CONNECTED}


def test_learn_ecmp_from_two_transit_switches() -> None:
    w, lr, az2 = remote_setup()
    w.ts("ts2")
    w.ts_port("ts2", lr, "lr1-ts2", "00:00:00:00:02:01", ["169.254.101.1/24"])
    w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2")
    w.remote("ts2", az2, "10.17.0.0/16", "169.254.101.2")
    w.settle()
    assert w.learned() == {("10.17.0.0/16", "169.254.100.2", "connected", ""),
                           ("10.17.0.0/16", "169.254.101.2", "connected", "")}


def test_learn_unmatched_learned_route_deleted() -> None:
    w, lr, az2 = remote_setup()
    r = w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2")
    w.settle()
    (learned,) = w.learned_rows()
    stale = w.static(lr, "10.18.0.0/16", "169.254.100.2",
                     external_ids={LEARNED_ROUTE_KEY: str(uuid.uuid4())},
                     options={"origin": "connected"})
    bad = w.static(lr, "junk", "169.254.100.2", external_ids={LEARNED_ROUTE_KEY: str(r)})
    plan = w.plan()
    assert plan.ops == (Mutate("nb", "Logical_Router", lr, "static_routes",
                               delete=frozenset({stale, bad})),)
    w.apply(plan)
    # the rows are garbage collected (non-root table)
    table = w.snap.nb.table("Logical_Router_Static_Route")
    assert stale not in table and bad not in table and learned.uuid in table
    # the remote withdraws: the learned route goes too
    w.apply(Plan((Delete("ic_sb", "Route", r),)))
    w.settle()
    assert w.learned() == set()


def test_learn_refreshes_ic_learned_route_uuid() -> None:
    w, _, az2 = remote_setup()
    r1 = w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2")
    w.settle()
    (learned,) = w.learned_rows()
    # the remote AZ re-creates its row (new uuid, same route)
    w.apply(Plan((Delete("ic_sb", "Route", r1),)))
    r2 = w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2")
    plan = w.plan()
    assert plan.ops == (Update("nb", "Logical_Router_Static_Route", learned.uuid,
                               {"external_ids": {LEARNED_ROUTE_KEY: str(r2)}}),)
    w.apply(plan)
    (again,) = w.learned_rows()
    assert again.uuid == learned.uuid and again["external_ids"][LEARNED_ROUTE_KEY] == str(r2)
    assert not w.plan()


def test_learn_origin_change_replaces_route() -> None:
    w, _, az2 = remote_setup()
    r = w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2", origin="static")
    w.settle()
    w.apply(Plan((Update("ic_sb", "Route", r, {"origin": "connected"}),)))
    w.settle()
    assert w.learned() == {("10.17.0.0/16", "169.254.100.2", "connected", "")}


def test_learn_filter_applies_on_top_of_options() -> None:
    w, _, az2 = remote_setup()
    w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2")
    w.remote("ts1", az2, "10.18.0.0/16", "169.254.100.2")
    flt = RouteFilters(learn=lambda info: info.prefix != "10.18.0.0/16")
    w.settle(flt)
    assert w.learned() == {("10.17.0.0/16", "169.254.100.2", "connected", "")}
    w.set_options({"ic-route-adv": "true"})  # the filter cannot override the options
    w.settle(RouteFilters(learn=lambda info: True))
    assert w.learned() == set()


# ---------------------------------------------------------------------------- 23.03 defects


def test_defect_ipv6_denylist_blocks_only_inside_prefixes() -> None:
    """23.03 blocks every IPv6 prefix at least as long as a v6 deny-list entry."""
    w, lr, az2 = remote_setup({**ON, "ic-route-denylist": "fd00:aaaa::/32"})
    w.static(lr, "fd00:aaaa:1::/48", "fd00::1")
    w.static(lr, "fd00:bbbb:1::/48", "fd00::1")
    w.remote("ts1", az2, "fd00:aaaa:2::/48", "fd00:100::2")
    w.remote("ts1", az2, "fd00:cccc:2::/48", "fd00:100::2")
    w.settle()
    assert {a[1] for a in w.ads() if a[1].startswith("fd")} == {"fd00:bbbb:1::/48"}
    assert w.learned() == {("fd00:cccc:2::/48", "fd00:100::2", "connected", "")}


def test_defect_two_routers_of_one_az_on_one_ts_both_advertise() -> None:
    """23.03 reconciles per router against all the AZ's rows: each deletes the other's."""
    w, lr1 = basic()
    lr2 = w.router("lr2")
    w.ts_port("ts1", lr2, "lr2-ts1", "00:00:00:00:01:02", ["169.254.100.3/24"])
    w.lrp(lr2, "lr2-int", "00:00:00:00:00:02", ["10.26.0.1/16"])
    w.settle()
    assert {a for a in w.ads() if a[1] in ("10.16.0.1/16", "10.26.0.1/16")} == {
        CONNECTED, ("ts1", "10.26.0.1/16", "169.254.100.3", "connected", "")}
    by_prefix = {r["ip_prefix"]: r["external_ids"]["lr-id"] for r in w.ad_rows()}
    assert by_prefix == {"10.16.0.1/16": str(lr1), "10.26.0.1/16": str(lr2)}
    assert not w.plan()


def test_defect_same_az_routers_learn_each_other_by_lr_id() -> None:
    """23.03 skips every row of its own AZ; the lr-id rule only skips the router's own."""
    w, _ = basic()
    lr2 = w.router("lr2")
    w.ts_port("ts1", lr2, "lr2-ts1", "00:00:00:00:01:02", ["169.254.100.3/24"])
    w.lrp(lr2, "lr2-int", "00:00:00:00:00:02", ["10.26.0.1/16"])
    passes = w.settle()
    assert passes == 2  # advertise, then learn the rows written by the first pass
    assert w.learned("lr1") == {("10.26.0.1/16", "169.254.100.3", "connected", "")}
    assert w.learned("lr2") == {("10.16.0.1/16", "169.254.100.1", "connected", "")}


def test_defect_ipv6_prefix_on_ipv4_only_ts_port_settles() -> None:
    """23.03 writes the EUI-64 next hop, then deletes it as link-local, forever."""
    w, lr = basic()
    w.static(lr, "fd40::/64", "fd00::1")
    assert w.settle() == 1
    lla = format_address(6, eui64_link_local(0x000000000101))
    assert ("ts1", "fd40::/64", lla, "static", "") in w.ads()
    for _ in range(3):
        assert not w.plan()
    # a remote AZ does not learn it (link-local next hop), and settles too
    other = w.sibling()
    other.az("az2", ON)
    other.ts("ts1")
    lr2 = other.router("lr2")
    other.ts_port("ts1", lr2, "az2-ts1", "00:00:00:00:01:02", ["169.254.100.2/24"])
    other.settle()
    assert ("fd40::/64", lla, "static", "") not in other.learned("lr2")
    assert ("10.16.0.1/16", "169.254.100.1", "connected", "") in other.learned("lr2")


def test_defect_static_route_equal_to_lrp_network_no_duplicate_key() -> None:
    """23.03 inserts a static and a connected row with the same unique key and its whole
    IC-SB transaction fails; the engine writes one row (connected wins)."""
    w, lr = basic()
    w.static(lr, "10.16.0.1/16", "10.16.0.254")
    plan = w.plan()
    inserts = [op for op in plan.ops if isinstance(op, Insert)]
    assert len(inserts) == 1 and inserts[0].values["origin"] == "connected"
    w.apply(plan)
    assert w.ads() == {CONNECTED}
    assert not w.snap.ic_sb.table("Route").index(ROUTE_UNIQUE).conflicts
    assert not w.plan()
    # an existing static row with that key (written by 23.03) is replaced, in one transaction
    w2, lr2 = basic()
    az = w2.az_row("az1")
    old = w2.remote("ts1", az, "10.16.0.1/16", "169.254.100.1", origin="static",
                    external_ids={"lr-id": str(lr2)})
    w2.static(lr2, "10.16.0.1/16", "10.16.0.254")
    plan2 = w2.plan()
    assert plan2.ops[0] == Delete("ic_sb", "Route", old)
    w2.apply(plan2)
    assert w2.ads() == {CONNECTED}
    assert not w2.snap.ic_sb.table("Route").index(ROUTE_UNIQUE).conflicts


def test_defect_identical_learned_keys_from_two_ts_settle() -> None:
    """23.03 keeps re-learning a key offered on two switches (one NB route per pass)."""
    w, lr, az2 = remote_setup()
    w.ts("ts2")
    w.ts_port("ts2", lr, "lr1-ts2", "00:00:00:00:02:01", ["169.254.101.1/24"])
    r1 = w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2")
    r2 = w.remote("ts2", az2, "10.17.0.0/16", "169.254.100.2")
    assert w.settle() == 1
    (learned,) = w.learned_rows()
    assert learned["external_ids"][LEARNED_ROUTE_KEY] in {str(r1), str(r2)}
    assert learned["external_ids"][LEARNED_ROUTE_KEY] == str(r1)  # ts1 sorts first
    # a duplicate left behind by 23.03 is cleaned up, the one pointing at a row kept
    dup = w.static(lr, "10.17.0.0/16", "169.254.100.2",
                   external_ids={LEARNED_ROUTE_KEY: str(r2)}, options={"origin": "connected"})
    plan = w.plan()
    assert plan.ops == (Mutate("nb", "Logical_Router", lr, "static_routes",
                               delete=frozenset({max(learned.uuid, dup, key=lambda u: u.int)})),)
    w.apply(plan)
    assert len(w.learned_rows()) == 1
    assert not w.plan()


# ---------------------------------------------------------------------------- properties

PREFIXES = ["10.1.0.0/16", "10.1.0.0/24", "10.16.0.1/16", "0.0.0.0/0", "169.254.3.0/24",
            "10.2.0.1/32", "fd00:1::/64", "fd00:1::1/64", "fe80::/64", "::/0", "bogus",
            "10.3.0.0/255.255.0.0"]
NEXTHOPS = ["10.16.0.254", "10.16.0.253", "fd00::1", "fe80::1", "discard", "x"]
REMOTE_NEXTHOPS = ["169.254.100.2", "169.254.101.2", "169.254.100.9", "fd00:100::2",
                   "fe80::2", "discard", "zz"]
NETWORKS = ["10.16.0.1/16", "10.17.0.0/24", "fd00:16::1/64", "10.1.0.0/16", "169.254.9.1/24"]
DENY = ["", "10.1.0.0/16", "fd00::/16", "10.0.0.0/8,fd00:1::/32", "junk"]


@st.composite
def options(draw: st.DrawFn) -> dict[str, str]:
    opts = {}
    for key, weight in (("ic-route-adv", 4), ("ic-route-learn", 4),
                        ("ic-route-adv-default", 1), ("ic-route-learn-default", 1)):
        if draw(st.sampled_from([True] * weight + [False])):
            opts[key] = "true"
    deny = draw(st.sampled_from(DENY))
    if deny:
        opts[draw(st.sampled_from(["ic-route-denylist", "ic-route-blacklist"]))] = deny
    return opts


@st.composite
def local_side(draw: st.DrawFn, az_index: int) -> dict[str, Any]:
    """Routers with TS ports, internal networks and static routes for one AZ."""
    routers = []
    for i in range(draw(st.integers(1, 2))):
        ports = []
        ts_list = st.lists(st.sampled_from(["ts1", "ts2"]), min_size=int(i == 0), max_size=2,
                           unique=True)
        for ts in draw(ts_list):
            third = 100 + (ts == "ts2")
            host = 1 + 2 * i + 4 * az_index
            nets = draw(st.sampled_from([
                [f"169.254.{third}.{host}/24"],
                [f"169.254.{third}.{host}/24", f"fd00:{third}::{host:x}/64"],
                [f"fd00:{third}::{host:x}/64"],
            ]))
            rt = draw(st.sampled_from(["", "", "rtb1"]))
            ports.append((ts, nets, rt))
        internal = draw(st.lists(st.sampled_from(NETWORKS), min_size=1, max_size=3, unique=True))
        statics = draw(st.lists(st.tuples(
            st.sampled_from(PREFIXES), st.sampled_from(NEXTHOPS),
            st.sampled_from(["", "rtb1"]), st.sampled_from([None, "src-ip", "dst-ip"])),
            max_size=5))
        routers.append({"ports": ports, "internal": internal, "statics": statics})
    return {"options": draw(options()), "routers": routers}


def build_local(w: World, az: str, az_index: int, spec: dict[str, Any]) -> None:
    w.az(az, spec["options"])
    for ts in ("ts1", "ts2"):
        w.ts(ts)
    for i, r in enumerate(spec["routers"]):
        lr = w.router(f"{az}-lr{i}")
        for j, (ts, nets, rt) in enumerate(r["ports"]):
            mac = f"00:00:00:{az_index:02x}:{i:02x}:{j + 1:02x}"
            w.ts_port(ts, lr, f"{az}-lr{i}-{ts}", mac, nets, route_table=rt)
        if r["internal"]:
            w.lrp(lr, f"{az}-lr{i}-int", f"00:00:00:{az_index:02x}:{i:02x}:ff", r["internal"])
        for prefix, nexthop, rt, policy in r["statics"]:
            w.static(lr, prefix, nexthop, route_table=rt, policy=policy)


remote_rows = st.lists(st.tuples(
    st.sampled_from(["ts1", "ts2", "ts-gone"]), st.sampled_from(PREFIXES),
    st.sampled_from(REMOTE_NEXTHOPS), st.sampled_from(["connected", "static"]),
    st.sampled_from(["", "rtb1", "rtb2"]),
    st.sampled_from(["none", "random", "garbage"])), max_size=12)


def add_remote_rows(w: World, rows: list[tuple[str, str, str, str, str, str]]) -> None:
    az2 = w.az_row("az-remote")
    unique = w.snap.ic_sb.table("Route").index(ROUTE_UNIQUE)
    for ts, prefix, nexthop, origin, rt, lr_id in rows:
        if (ts, az2, rt, prefix, nexthop) in unique:
            continue  # the server keeps the 5-column index unique
        ext = {"none": {}, "random": {"lr-id": str(w.new_uuid())},
               "garbage": {"lr-id": "nope"}}[lr_id]
        w.remote(ts, az2, prefix, nexthop, origin=origin, route_table=rt, external_ids=ext)


def check_consistent(w: World, az: str) -> None:
    """After a fixpoint: rows unique, every row and learned route traceable to its source."""
    snap = w.snap
    routes = snap.ic_sb.table("Route")
    assert not routes.index(ROUTE_UNIQUE).conflicts
    routers = {lr.uuid: lr for lr in snap.nb.table("Logical_Router")}
    ts_names = {t["name"] for t in snap.ic_nb.table("Transit_Switch")}
    for row in w.ad_rows(az):
        assert row["transit_switch"] in ts_names
        lr = routers[uuid.UUID(row["external_ids"]["lr-id"])]
        nb_id = uuid.UUID(row["external_ids"]["nb-id"])
        assert nb_id in lr["ports"] or nb_id in lr["static_routes"]
        assert parse_cidr(row["ip_prefix"]) is not None
    for lr in routers.values():
        keys = set()
        for nb_route in w.learned_rows(lr["name"]):
            src = routes.get(nb_route["external_ids"][LEARNED_ROUTE_KEY])
            assert src is not None, "a learned route points at a missing IC-SB row"
            assert src["external_ids"].get("lr-id") != str(lr.uuid)
            assert (src["ip_prefix"], src["nexthop"], src["route_table"]) == (
                nb_route["ip_prefix"], nb_route["nexthop"], nb_route["route_table"])
            key = (nb_route["ip_prefix"], nb_route["nexthop"], nb_route["route_table"],
                   nb_route["options"]["origin"])
            assert key not in keys, "two learned routes with one key"
            keys.add(key)


def rebuilt(snap: Snapshot) -> Snapshot:
    """The same contents, every table's rows applied in reverse order, into new replicas."""
    fresh = empty_snapshot(REQUIREMENTS)
    for db in ("nb", "sb", "ic_nb", "ic_sb"):
        src, dst = snap.db(db), fresh.db(db)
        updates = [RowUpdate(name, row.uuid, "insert", new=row.to_dict())
                   for name in reversed(list(src.tables))
                   for row in reversed(list(src.table(name)))]
        if updates:
            dst.apply(updates)
    return fresh


@settings(max_examples=60, deadline=None)
@given(local_side(0), remote_rows, st.randoms(use_true_random=False))
def test_property_same_snapshot_same_plan(spec: dict[str, Any], rows: list[Any],
                                          rnd: random.Random) -> None:
    w = World(seed=rnd.getrandbits(32))
    build_local(w, "az1", 0, spec)
    add_remote_rows(w, rows)
    # some learned routes already present, so refreshes and deletes appear too
    w.step()
    add_remote_rows(w, rows[::-1])
    first = w.plan()
    assert w.plan() == first
    assert plan_routes(rebuilt(w.snap)) == first
    assert first.describe() == plan_routes(rebuilt(w.snap)).describe()


@settings(max_examples=60, deadline=None)
@given(local_side(0), remote_rows)
def test_property_fake_remote_az_converges(spec: dict[str, Any], rows: list[Any]) -> None:
    w = World(seed=7)
    build_local(w, "az1", 0, spec)
    add_remote_rows(w, rows)
    assert w.settle(passes=3) <= 3
    assert not w.plan()
    check_consistent(w, "az1")


@settings(max_examples=40, deadline=None)
@given(local_side(0), local_side(1))
def test_property_two_azs_converge(spec1: dict[str, Any], spec2: dict[str, Any]) -> None:
    w1 = World(seed=1)
    w2 = w1.sibling(seed=2)
    build_local(w1, "az1", 0, spec1)
    build_local(w2, "az2", 1, spec2)
    for _ in range(3):
        p1 = w1.step()
        p2 = w2.step()
        if not p1 and not p2:
            break
    assert not w1.plan() and not w2.plan()
    check_consistent(w1, "az1")
    check_consistent(w2, "az2")
    # what each AZ learned is exactly what the other (and its own other routers) offer
    opts1 = RouteOptions.from_nb_options(spec1["options"])
    if not opts1.learn:
        assert all(not w1.learned_rows(lr["name"]) for lr in w1.snap.nb.table("Logical_Router"))


def test_two_az_exchange_example() -> None:
    w1, _ = basic()
    w2 = w1.sibling()
    w2.az("az2", ON)
    w2.ts("ts1")
    lr2 = w2.router("lr2")
    w2.ts_port("ts1", lr2, "az2-ts1", "00:00:00:00:01:02", ["169.254.100.2/24"])
    w2.lrp(lr2, "az2-int", "00:00:00:00:00:02", ["10.17.0.1/16"])
    w2.static(lr2, "192.168.0.0/24", "10.17.0.100")
    for _ in range(2):
        w1.step()
        w2.step()
    assert not w1.plan() and not w2.plan()
    assert w1.learned() == {("10.17.0.1/16", "169.254.100.2", "connected", ""),
                            ("192.168.0.0/24", "169.254.100.2", "static", "")}
    assert w2.learned("lr2") == {("10.16.0.1/16", "169.254.100.1", "connected", "")}


@pytest.mark.parametrize("n_routes", [2000])
def test_many_remote_routes_one_pass(n_routes: int) -> None:
    """A larger IC-SB: one planning pass learns them all, the next is empty."""
    w, _, az2 = remote_setup()
    ops = tuple(Insert("ic_sb", "Route", {
        "transit_switch": "ts1", "availability_zone": az2, "route_table": "",
        "ip_prefix": f"10.{100 + i // 256}.{i % 256}.0/24", "nexthop": "169.254.100.2",
        "origin": "connected", "external_ids": {}}) for i in range(n_routes))
    w.apply(Plan(ops))
    w.settle()
    assert len(w.learned_rows()) == n_routes


# ---------------------------------------------------------------------------- the cache


def _adv_not_10_2(info: RouteInfo) -> bool:
    return not info.prefix.startswith("10.2.")


def _learn_not_100_9(info: RouteInfo) -> bool:
    return info.nexthop != "169.254.100.9"


CACHE_FILTERS = [None, RouteFilters(advertise=_adv_not_10_2, learn=_learn_not_100_9)]


def _pick(rnd: random.Random, rows: Iterable[Row]) -> Row | None:
    ordered = sorted(rows, key=lambda r: r.uuid.int)
    return rnd.choice(ordered) if ordered else None


def random_change(w: World, rnd: random.Random) -> str:
    """One random change to the world (NB, IC-NB or IC-SB); returns what it did."""
    nb, ic_sb = w.snap.nb, w.snap.ic_sb
    lr = _pick(rnd, nb.table("Logical_Router"))
    route = _pick(rnd, ic_sb.table("Route"))
    static = _pick(rnd, nb.table("Logical_Router_Static_Route"))
    learned_ext = {LEARNED_ROUTE_KEY: str(route.uuid if route else uuid.UUID(int=7))}
    column: str
    value: Any
    kind = rnd.choice(["add static", "drop static", "edit static", "add remote", "add remote",
                       "drop remote", "edit remote", "options", "ts port", "edit lrp",
                       "router", "drop router", "transit switch", "ls marker", "step",
                       "step"])
    if kind == "add static" and lr is not None:
        w.static(lr.uuid, rnd.choice(PREFIXES), rnd.choice(NEXTHOPS),
                 route_table=rnd.choice(["", "rtb1"]), policy=rnd.choice([None, "src-ip"]),
                 external_ids=rnd.choice([{}, {}, learned_ext]),
                 options=rnd.choice([{}, {"origin": "connected"}]))
    elif kind == "drop static" and lr is not None and lr["static_routes"]:
        u = rnd.choice(sorted(lr["static_routes"], key=lambda u: u.int))
        w.apply(Plan((Mutate("nb", "Logical_Router", lr.uuid, "static_routes",
                             delete=frozenset({u})),)))
    elif kind == "edit static" and static is not None:
        column, value = rnd.choice([
            ("ip_prefix", rnd.choice(PREFIXES)), ("nexthop", rnd.choice(REMOTE_NEXTHOPS)),
            ("route_table", rnd.choice(["", "rtb1"])), ("policy", rnd.choice([None, "src-ip"])),
            ("external_ids", rnd.choice([{}, learned_ext])),
            ("options", rnd.choice([{}, {"origin": "connected"}, {"origin": "static"}]))])
        w.apply(Plan((Update("nb", "Logical_Router_Static_Route", static.uuid,
                             {column: value}),)))
    elif kind == "add remote":
        lr_ids = [{}, {"lr-id": "nope"}, {"lr-id": str(w.new_uuid())}]
        lr_ids += [{"lr-id": str(r.uuid)} for r in nb.table("Logical_Router")]
        add_remote_rows(w, [(rnd.choice(["ts1", "ts2", "ts-gone"]), rnd.choice(PREFIXES),
                             rnd.choice(REMOTE_NEXTHOPS), rnd.choice(["connected", "static"]),
                             rnd.choice(["", "rtb1"]), "none")])
        added = _pick(rnd, ic_sb.table("Route"))
        if added is not None and rnd.random() < 0.5:
            w.apply(Plan((Update("ic_sb", "Route", added.uuid,
                                 {"external_ids": rnd.choice(lr_ids)}),)))
    elif kind == "drop remote" and route is not None:
        w.apply(Plan((Delete("ic_sb", "Route", route.uuid),)))
    elif kind == "edit remote" and route is not None:
        column, value = rnd.choice([
            ("nexthop", rnd.choice(REMOTE_NEXTHOPS)), ("origin", "static"),
            ("route_table", rnd.choice(["", "rtb1"])), ("ip_prefix", rnd.choice(PREFIXES)),
            ("availability_zone", w.az_row(rnd.choice(["az1", "az-remote"]))),
            ("external_ids", {"nb-id": "x", "lr-id": str(lr.uuid if lr else w.new_uuid())})])
        w.apply(Plan((Update("ic_sb", "Route", route.uuid, {column: value}),)))
    elif kind == "options":
        opts = {k: "true" for k in ("ic-route-adv", "ic-route-learn", "ic-route-adv-default")
                if rnd.random() < 0.75}
        w.set_options(opts)
    elif kind == "ts port" and lr is not None:
        n = w.new_uuid().hex[:12]  # names are unique (schema index)
        w.ts_port(rnd.choice(["ts1", "ts2"]), lr.uuid, f"p{n}",
                  rnd.choice(["00:00:00:00:09:01", "bad"]),
                  [rnd.choice(["169.254.100.7/24", "169.254.101.7/24", "fd00:100::7/64"])],
                  route_table=rnd.choice(["", "rtb1"]))
    elif kind == "edit lrp":
        lrp = _pick(rnd, nb.table("Logical_Router_Port"))
        if lrp is not None:
            column, value = rnd.choice([
                ("networks", frozenset(rnd.sample(NETWORKS, 2))), ("mac", "zz"),
                ("options", rnd.choice([{}, {"route_table": "rtb1"}]))])
            w.apply(Plan((Update("nb", "Logical_Router_Port", lrp.uuid, {column: value}),)))
    elif kind == "router":
        n = w.new_uuid().hex[:12]
        new = w.router(f"new{n}")
        w.ts_port(rnd.choice(["ts1", "ts2"]), new, f"np{n}", "00:00:00:00:0a:01",
                  ["169.254.100.11/24"])
        w.lrp(new, f"ni{n}", "00:00:00:00:0a:02", [rnd.choice(NETWORKS)])
    elif kind == "drop router" and lr is not None:
        w.apply(Plan((Delete("nb", "Logical_Router", lr.uuid),)))
    elif kind == "transit switch":
        ts = _pick(rnd, w.snap.ic_nb.table("Transit_Switch"))
        if ts is not None and rnd.random() < 0.5:
            w.apply(Plan((Delete("ic_nb", "Transit_Switch", ts.uuid),)))
        elif w.snap.ic_nb.table("Transit_Switch").lookup_one(("name",), "ts2") is None:
            w.insert("ic_nb", "Transit_Switch", {"name": "ts2"})
    elif kind == "ls marker":
        ls = _pick(rnd, nb.table("Logical_Switch"))
        if ls is not None:
            marker = rnd.choice([{}, {"interconn-ts": ls["name"]}])
            w.apply(Plan((Update("nb", "Logical_Switch", ls.uuid, {"other_config": marker}),)))
    elif kind == "step":
        w.step()
    return kind


@settings(max_examples=80, deadline=None)
@given(local_side(0), remote_rows, st.randoms(use_true_random=False),
       st.sampled_from(CACHE_FILTERS))
def test_property_warm_cache_plans_as_cold_cache(
    spec: dict[str, Any], rows: list[Any], rnd: random.Random, filters: RouteFilters | None,
) -> None:
    w = World(seed=rnd.getrandbits(32))
    build_local(w, "az1", 0, spec)
    add_remote_rows(w, rows)
    cache = RouteCache()
    for _ in range(12):
        warm = plan_routes(w.snap, filters=filters, cache=cache)
        cold = plan_routes(w.snap, filters=filters, cache=RouteCache())
        assert warm == cold
        assert warm.describe() == cold.describe()
        if rnd.random() < 0.3:
            w.apply(warm)
        random_change(w, rnd)
    assert plan_routes(w.snap, filters=filters, cache=cache) == plan_routes(
        w.snap, filters=filters, cache=RouteCache())


@settings(max_examples=40, deadline=None)
@given(local_side(0), local_side(1), st.randoms(use_true_random=False))
def test_property_two_azs_one_cache_plan_as_cold(
    spec1: dict[str, Any], spec2: dict[str, Any], rnd: random.Random,
) -> None:
    """Two AZs sharing IC-SB, planned alternately through one cache (two sources)."""
    w1 = World(seed=1)
    w2 = w1.sibling(seed=2)
    build_local(w1, "az1", 0, spec1)
    build_local(w2, "az2", 1, spec2)
    cache = RouteCache(size=2)
    for _ in range(14):
        w = rnd.choice([w1, w2])
        plan = plan_routes(w.snap, cache=cache)
        assert plan == plan_routes(w.snap, cache=RouteCache())
        if rnd.random() < 0.6:
            w.apply(plan)
        else:
            random_change(w, rnd)
    for w in (w1, w2):
        assert plan_routes(w.snap, cache=cache) == plan_routes(w.snap, cache=RouteCache())
    assert cache.held == 2


def test_cache_rederives_only_what_changed() -> None:
    """With a warm cache the filters see only the routes a change touched."""
    seen: list[RouteInfo] = []

    def adv(info: RouteInfo) -> bool:
        seen.append(info)
        return True

    flt = RouteFilters(advertise=adv)
    w, lr = basic()
    for i in range(30):
        w.static(lr, f"10.60.{i}.0/24", "10.16.0.254")
    cache = RouteCache()
    w.apply(plan_routes(w.snap, filters=flt, cache=cache))
    assert len(seen) == 31  # 30 static routes and the connected network
    seen.clear()
    assert not plan_routes(w.snap, filters=flt, cache=cache)
    assert seen == []  # nothing changed: nothing re-derived
    w.static(lr, "10.61.0.0/24", "10.16.0.254")
    plan = plan_routes(w.snap, filters=flt, cache=cache)
    assert [op.values["ip_prefix"] for op in plan.ops if isinstance(op, Insert)] == [
        "10.61.0.0/24"]
    assert [info.prefix for info in seen] == ["10.61.0.0/24"]
    seen.clear()
    assert plan_routes(w.snap, filters=flt, cache=RouteCache()) == plan
    assert len(seen) == 32  # a cold cache looks at every route again


def test_cache_failed_call_leaves_no_half_updated_state() -> None:
    fail = {"on": False}

    def learn(info: RouteInfo) -> bool:
        if fail["on"] and info.prefix == "10.18.0.0/16":
            raise RuntimeError("filter failed")
        return True

    flt = RouteFilters(learn=learn)
    w, _, az2 = remote_setup()
    w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2")
    cache = RouteCache()
    w.apply(plan_routes(w.snap, filters=flt, cache=cache))
    assert cache.held == 1
    w.remote("ts1", az2, "10.18.0.0/16", "169.254.100.2")
    fail["on"] = True
    with pytest.raises(RuntimeError):
        plan_routes(w.snap, filters=flt, cache=cache)
    assert cache.held == 0  # the half-updated state was dropped
    fail["on"] = False
    plan = plan_routes(w.snap, filters=flt, cache=cache)
    assert plan == plan_routes(w.snap, filters=flt, cache=RouteCache())
    assert [op.values["ip_prefix"] for op in plan.ops if isinstance(op, Insert)] == [
        "10.18.0.0/16"]


def test_cache_is_bounded_and_clearable() -> None:
    cache = RouteCache(size=2)
    worlds = [basic(seed=i)[0] for i in range(3)]
    for w in worlds:
        plan_routes(w.snap, cache=cache)
    assert cache.held == 2
    for w in worlds:  # the evicted source is planned from scratch, correctly
        assert plan_routes(w.snap, cache=cache) == plan_routes(w.snap, cache=RouteCache())
    cache.clear()
    assert cache.held == 0


def test_cache_follows_replica_reset_and_option_changes() -> None:
    w, lr, az2 = remote_setup()
    r = w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2")
    w.static(lr, "10.30.0.0/16", "10.16.0.254")
    cache = RouteCache()
    w.apply(plan_routes(w.snap, cache=cache))
    assert not plan_routes(w.snap, cache=cache)
    # a full copy from the server (reconnect) in which one remote route moved
    ic_sb = w.snap.ic_sb
    copy = [RowUpdate(t, row.uuid, "initial", new={
                **row.to_dict(), **({"nexthop": "169.254.100.3"} if row.uuid == r else {})})
            for t in ic_sb.tables for row in ic_sb.table(t)]
    ic_sb.reset(copy)
    plan = plan_routes(w.snap, cache=cache)
    assert plan == plan_routes(w.snap, cache=RouteCache())
    w.apply(plan)
    assert w.learned() == {("10.17.0.0/16", "169.254.100.3", "connected", "")}
    w.set_options({"ic-route-adv": "true"})  # learning off: the learned route goes
    plan = plan_routes(w.snap, cache=cache)
    assert plan == plan_routes(w.snap, cache=RouteCache())
    w.apply(plan)
    assert w.learned() == set() and not plan_routes(w.snap, cache=cache)


_ROUTE_LAYOUT = RowLayout(model_schema("OVN_IC_Southbound").tables["Route"], ["ip_prefix"])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 80),
       st.lists(st.tuples(st.sampled_from(["modify", "same value", "delete", "insert"]),
                          st.integers(0, 10_000)), max_size=70),
       st.booleans(), st.randoms(use_true_random=False))
def test_property_row_changes_reports_every_change(
    n: int, edits: list[tuple[str, int]], shuffle: bool, rnd: random.Random,
) -> None:
    """Whatever happened between two listings of a table, every row that is new or
    replaced is reported with its current object, and every row gone as ``None``."""
    def row(u: uuid.UUID, value: str) -> Row:
        return Row(_ROUTE_LAYOUT, u, [value])

    table = {i: row(uuid.UUID(int=i + 1), f"v{i}") for i in range(n)}
    old = tuple(table.values())
    next_id = n
    for what, pick in edits:
        keys = list(table)
        if what == "insert" or not keys:
            table[next_id] = row(uuid.UUID(int=next_id + 1), f"v{next_id}")
            next_id += 1
            continue
        k = keys[pick % len(keys)]
        if what == "delete":
            del table[k]
        elif what == "modify":
            table[k] = row(table[k].uuid, f"{table[k]['ip_prefix']}+")
        else:
            table[k] = row(table[k].uuid, table[k]["ip_prefix"])  # equal, not identical
    new = list(table.values())
    if shuffle:
        rnd.shuffle(new)
    changes = _row_changes(old, tuple(new))
    before = {r.uuid.int: r for r in old}
    now = {r.uuid.int: r for r in new}
    for uid, current in now.items():
        prev = before.get(uid)
        if prev is not current:
            assert changes.get(uid, prev) is current or (
                uid not in changes and prev == current), uid
    for uid in before.keys() - now.keys():
        assert uid in changes and changes[uid] is None
    for uid, reported in changes.items():
        assert reported is now.get(uid)  # never a stale row, never a ghost


def test_row_changes_usual_cases_are_exact() -> None:
    rows = tuple(Row(_ROUTE_LAYOUT, uuid.UUID(int=i + 1), [f"v{i}"]) for i in range(500))
    extra = Row(_ROUTE_LAYOUT, uuid.UUID(int=1000), ["x"])
    assert _row_changes(rows, (*rows, extra)) == {extra.uuid.int: extra}
    edited = Row(_ROUTE_LAYOUT, rows[250].uuid, ["edited"])
    new = (*rows[:250], edited, *rows[251:])
    assert _row_changes(rows, new) == {edited.uuid.int: edited}
    assert _row_changes(rows, rows[:100] + rows[101:]) == {rows[100].uuid.int: None}
    assert _row_changes(rows, rows) == {}
    assert cidr_text(Cidr(4, 0x0A000001, 16)) == "10.0.0.1/16"
