"""Kube-OVN establish / teardown planners and the manual-route helpers, on simulated
replicas (``empty_snapshot`` + ``simulate``): what they write, idempotence, ECMP gateway
rotation, address choice, and that teardown never touches another AZ."""

from __future__ import annotations

import ipaddress
import itertools
import random
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import ConfigError
from ovsdb_ic.ic.databases import DatabaseKey, Snapshot, empty_snapshot
from ovsdb_ic.kubeovn import (
    AUTO_ROUTE_KEYS,
    REQUIREMENTS,
    EstablishError,
    IcConfig,
    RemotePort,
    deny_list,
    plan_establish,
    plan_static_routes,
    plan_teardown,
    remote_ts_ports,
    ts_index,
    ts_name,
    ts_subnet,
)
from ovsdb_ic.replica import Row
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, Update, simulate
from ovsdb_ic.wire.data import NamedUUID

# ------------------------------------------------------------------- helpers


def config(
    az: str = "az1",
    gw: Iterable[str] = ("gw1", "gw2", "gw3"),
    *,
    auto_route: bool = True,
    enable: bool = True,
) -> IcConfig:
    return IcConfig(enable_ic=enable, az_name=az, ic_db_hosts=("10.0.0.1",),
                    gw_nodes=tuple(gw), auto_route=auto_route)


def fresh() -> Snapshot:
    return empty_snapshot(REQUIREMENTS)


_rng = random.Random(2024)


def new_uuid() -> uuid.UUID:
    # simulate()'s default generator restarts for every plan (seeded by its length), so
    # two plans of the same length would insert rows with one UUID: draw from one stream.
    return uuid.UUID(int=_rng.getrandbits(128), version=4)


def apply(snap: Snapshot, plan: Plan) -> dict[Any, dict[str, uuid.UUID]]:
    return simulate(snap, plan, new_uuid=new_uuid)


def converge(snap: Snapshot, make: Callable[[], Plan]) -> Plan:
    """Apply ``make()`` and check that planning again leaves nothing to do."""
    plan = make()
    apply(snap, plan)
    again = make()
    assert not again, "\n".join(again.describe())
    return plan


def rows(snap: Snapshot, db: DatabaseKey, table: str, **match: Any) -> list[Row]:
    return sorted(
        (r for r in snap.db(db).table(table) if all(r[k] == v for k, v in match.items())),
        key=lambda r: r.uuid,
    )


def one(snap: Snapshot, db: DatabaseKey, table: str, **match: Any) -> Row:
    found = rows(snap, db, table, **match)
    assert len(found) == 1, (table, match, found)
    return found[0]


def contents(snap: Snapshot) -> dict[tuple[str, str], dict[uuid.UUID, dict[str, Any]]]:
    """Every row of every table of the four replicas (to compare before and after)."""
    out: dict[tuple[str, str], dict[uuid.UUID, dict[str, Any]]] = {}
    dbs: tuple[DatabaseKey, ...] = ("nb", "sb", "ic_nb", "ic_sb")
    for db in dbs:
        replica = snap.db(db)
        for table in replica.tables:
            out[(db, table)] = {r.uuid: r.to_dict() for r in replica.table(table)}
    return out


_keys = itertools.count(1)


def add_az(
    snap: Snapshot,
    az: str,
    *,
    ports: Iterable[tuple[str, str]] = (),
    gateways: Iterable[str] = (),
    routes: Iterable[tuple[str, str, str]] = (),
) -> uuid.UUID:
    """Give IC-SB an AZ with Port_Bindings ``(ts, address)`` named ``<ts>-<az>``,
    Gateways (with one encap each) and Routes ``(ts, prefix, nexthop)``."""
    ops: list[Op] = [Insert("ic_sb", "Availability_Zone", {"name": az}, name="az")]
    ref = NamedUUID("az")
    for ts, address in ports:
        ops.append(Insert("ic_sb", "Port_Binding", {
            "logical_port": f"{ts}-{az}", "transit_switch": ts, "availability_zone": ref,
            "tunnel_key": next(_keys), "address": address, "gateway": f"{az}-gw",
        }))
    for i, gw in enumerate(gateways):
        ops.append(Insert("ic_sb", "Encap", {
            "type": "geneve", "ip": f"172.16.{next(_keys) % 250}.{i + 1}", "gateway_name": gw,
        }, name=f"encap{i}"))
        ops.append(Insert("ic_sb", "Gateway", {
            "name": gw, "availability_zone": ref, "hostname": gw,
            "encaps": frozenset({NamedUUID(f"encap{i}")}),
        }))
    for ts, prefix, nexthop in routes:
        ops.append(Insert("ic_sb", "Route", {
            "transit_switch": ts, "availability_zone": ref, "ip_prefix": prefix,
            "nexthop": nexthop, "origin": "connected",
        }))
    return apply(snap, Plan(tuple(ops)))["ic_sb"]["az"]


def add_transit_switch(snap: Snapshot, name: str, **external_ids: str) -> None:
    apply(snap, Plan((Insert("ic_nb", "Transit_Switch",
                             {"name": name, "external_ids": external_ids}),)))


def add_chassis(snap: Snapshot, name: str, hostname: str, **other_config: str) -> None:
    apply(snap, Plan((
        Insert("sb", "Encap", {"type": "geneve", "ip": f"10.9.{next(_keys) % 250}.1",
                               "chassis_name": name}, name="e"),
        Insert("sb", "Chassis", {"name": name, "hostname": hostname,
                                 "encaps": frozenset({NamedUUID("e")}),
                                 "other_config": other_config}),
    )))


def add_nb_remote_port(snap: Snapshot, ts: str, name: str, address: str) -> None:
    switch = one(snap, "nb", "Logical_Switch", name=ts)
    apply(snap, Plan((
        Insert("nb", "Logical_Switch_Port", {"name": name, "type": "remote",
                                             "addresses": frozenset({address})}, name="p"),
        Mutate("nb", "Logical_Switch", switch.uuid, "ports", frozenset({NamedUUID("p")})),
    )))


def lrp(snap: Snapshot, name: str) -> Row:
    return one(snap, "nb", "Logical_Router_Port", name=name)


def v4(row: Row) -> ipaddress.IPv4Interface:
    (net,) = [n for n in row["networks"] if ":" not in n]
    return ipaddress.IPv4Interface(net)


def v6(row: Row) -> ipaddress.IPv6Interface:
    (net,) = [n for n in row["networks"] if ":" in n]
    return ipaddress.IPv6Interface(net)


def gateways(snap: Snapshot, lrp_name: str) -> list[tuple[str, int]]:
    """(chassis_name, priority) of a router port's Gateway_Chassis, best first."""
    gcs = snap.nb.table("Gateway_Chassis")
    found = [gcs[u] for u in lrp(snap, lrp_name)["gateway_chassis"]]
    return sorted(((g["chassis_name"], g["priority"]) for g in found), key=lambda x: -x[1])


def router(snap: Snapshot, name: str = "ovn-cluster") -> Row:
    return one(snap, "nb", "Logical_Router", name=name)


def router_port_names(snap: Snapshot, name: str = "ovn-cluster") -> set[str]:
    lrps = snap.nb.table("Logical_Router_Port")
    return {lrps[u]["name"] for u in router(snap, name)["ports"]}


def address(mac: str, host: int, base: int = 100) -> str:
    return f"{mac} 169.254.{base}.{host}/24 fe80:a9fe:{base:02x}::{host:x}/112"


# ------------------------------------------------------------------- naming


def test_transit_switch_names_and_subnets() -> None:
    assert [ts_name(i) for i in range(4)] == ["ts", "ts1", "ts2", "ts3"]
    assert [ts_index(n) for n in ("ts", "ts1", "ts12", "ts0", "ts01", "tsx", "t", "xts")] == [
        0, 1, 12, None, None, None, None, None,
    ]
    assert ts_subnet(0) == "169.254.100.0/24,fe80:a9fe:64::/112"
    assert ts_subnet(2, "IPv4") == "169.254.102.0/24"
    assert ts_subnet(155, "IPv6") == "fe80:a9fe:ff::/112"
    with pytest.raises(ValueError):
        ts_subnet(156)
    with pytest.raises(ValueError):
        ts_name(-1)


def test_deny_list() -> None:
    assert deny_list(["10.16.0.0/16", "10.17.0.0/16,fd00::/112", "10.16.0.0/16"],
                     "100.64.0.0/16", ["192.168.0.2", "fd00::2"]) == (
        "10.16.0.0/16", "10.17.0.0/16", "fd00::/112", "100.64.0.0/16", "192.168.0.2", "fd00::2",
    )
    assert deny_list() == ()
    with pytest.raises(ConfigError) as info:
        deny_list(["10.16.0.0/33"])
    assert info.value.field == "disabled_subnets"
    with pytest.raises(ConfigError) as info:
        deny_list(node_ips=["10.0.0.0/8"])
    assert info.value.field == "node_ips"
    with pytest.raises(ConfigError) as info:
        deny_list(join_subnet="join")
    assert info.value.field == "join_subnet"


# ---------------------------------------------------------------- establish


def test_establish_on_an_empty_deployment() -> None:
    snap = fresh()
    plan = converge(snap, lambda: plan_establish(snap, config(), ts_num=3))
    assert plan.databases() == ("ic_nb", "nb")  # transit switches before their mirrors

    nbg = one(snap, "nb", "NB_Global")
    assert nbg["name"] == "az1"
    assert dict(nbg["options"]) == {"ic-route-adv": "true", "ic-route-learn": "true"}
    for i in range(3):
        ts = ts_name(i)
        tsw = one(snap, "ic_nb", "Transit_Switch", name=ts)
        assert dict(tsw["external_ids"]) == {"vendor": "kube-ovn", "subnet": ts_subnet(i)}
        mirror = one(snap, "nb", "Logical_Switch", name=ts)
        assert dict(mirror["other_config"]) == {"interconn-ts": ts}
        lsp = one(snap, "nb", "Logical_Switch_Port", name=f"{ts}-az1")
        assert lsp["type"] == "router"
        assert lsp["addresses"] == frozenset({"router"})
        assert dict(lsp["options"]) == {"router-port": f"az1-{ts}"}
        assert dict(lsp["external_ids"]) == {"ls": ts, "vendor": "kube-ovn"}
        assert mirror["ports"] == frozenset({lsp.uuid})
        port = lrp(snap, f"az1-{ts}")
        assert v4(port).network == ipaddress.ip_network(f"169.254.{100 + i}.0/24")
        assert v6(port).network == ipaddress.ip_network(f"fe80:a9fe:{100 + i:02x}::/112")
        assert int(v4(port).ip) & 0xFF == int(v6(port).ip) & 0xFFFF  # same host number
        assert port["mac"].startswith("00:00:00:")
        assert dict(port["external_ids"]) == {"vendor": "kube-ovn"}
    assert router_port_names(snap) == {"az1-ts", "az1-ts1", "az1-ts2"}
    assert len({lrp(snap, f"az1-{ts_name(i)}")["mac"] for i in range(3)}) == 3
    assert not rows(snap, "ic_sb", "Availability_Zone")  # the sync engine's job


def test_establish_twice_is_idempotent_and_deterministic() -> None:
    snap = fresh()
    first = plan_establish(snap, config(), ts_num=2)
    assert first.describe() == plan_establish(snap, config(), ts_num=2).describe()
    apply(snap, first)
    assert not plan_establish(snap, config(), ts_num=2)
    assert not plan_establish(snap, config(), ts_num=2)


def test_ecmp_gateway_rotation() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(gw=("a", "b", "c")), ts_num=4))
    assert gateways(snap, "az1-ts") == [("a", 100), ("b", 99), ("c", 98)]
    assert gateways(snap, "az1-ts1") == [("b", 100), ("c", 99), ("a", 98)]
    assert gateways(snap, "az1-ts2") == [("c", 100), ("a", 99), ("b", 98)]
    assert gateways(snap, "az1-ts3") == [("a", 100), ("b", 99), ("c", 98)]
    names = {g["name"] for g in snap.nb.table("Gateway_Chassis")}
    assert {"az1-ts-a", "az1-ts1-b", "az1-ts2-c", "az1-ts3-a"} <= names
    gc = one(snap, "nb", "Gateway_Chassis", name="az1-ts1-c")
    assert dict(gc["external_ids"]) == {"lrp": "az1-ts1"}


def test_fewer_gateways_than_transit_switches() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(gw=("a", "b")), ts_num=3))
    assert [gateways(snap, f"az1-{ts_name(i)}")[0][0] for i in range(3)] == ["a", "b", "a"]


def test_changed_gateways_are_reconciled() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(gw=("a", "b")), ts_num=2))
    before = lrp(snap, "az1-ts1")
    converge(snap, lambda: plan_establish(snap, config(gw=("c", "b")), ts_num=2))
    assert gateways(snap, "az1-ts") == [("c", 100), ("b", 99)]
    assert gateways(snap, "az1-ts1") == [("b", 100), ("c", 99)]
    assert lrp(snap, "az1-ts1")["networks"] == before["networks"]  # the port is kept
    assert not rows(snap, "nb", "Gateway_Chassis", chassis_name="a")  # collected


def test_gateway_nodes_resolve_to_their_chassis() -> None:
    snap = fresh()
    add_chassis(snap, "6a1c7b3e-chassis", "gw1")
    add_chassis(snap, "remote-gw2", "gw2", **{"is-remote": "true"})
    converge(snap, lambda: plan_establish(snap, config(gw=("gw1", "gw2")), ts_num=1))
    assert gateways(snap, "az1-ts") == [("6a1c7b3e-chassis", 100), ("gw2", 99)]
    assert rows(snap, "nb", "Gateway_Chassis", name="az1-ts-6a1c7b3e-chassis")


def test_an_existing_cluster_router_and_mirror_switch_are_reused() -> None:
    snap = fresh()
    add_transit_switch(snap, "ts", vendor="kube-ovn", subnet=ts_subnet(0))
    apply(snap, Plan((
        Insert("nb", "Logical_Router_Port", {"name": "ovn-cluster-join", "mac": "0a:00:00:00:00:01",
                                             "networks": frozenset({"100.64.0.1/16"})}, name="p"),
        Insert("nb", "Logical_Router", {"name": "ovn-cluster",
                                        "ports": frozenset({NamedUUID("p")})}),
        Insert("nb", "Logical_Switch", {"name": "ts", "other_config": {
            "interconn-ts": "ts", "requested-tnl-key": "16711682"}}),
    )))
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    assert router_port_names(snap) == {"ovn-cluster-join", "az1-ts"}
    mirror = one(snap, "nb", "Logical_Switch", name="ts")
    assert mirror["other_config"]["requested-tnl-key"] == "16711682"
    assert len(mirror["ports"]) == 1


def test_a_custom_cluster_router() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1, cluster_router="vpc1"))
    assert router_port_names(snap, "vpc1") == {"az1-ts"}
    assert not rows(snap, "nb", "Logical_Router", name="ovn-cluster")


def test_an_ambiguous_cluster_router_is_an_error() -> None:
    snap = fresh()
    apply(snap, Plan(tuple(Insert("nb", "Logical_Router", {"name": "ovn-cluster"})
                           for _ in range(2))))
    with pytest.raises(EstablishError, match="2 logical routers are named 'ovn-cluster'"):
        plan_establish(snap, config())


def test_a_port_on_the_wrong_router_or_switch_is_moved() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1, cluster_router="old"))
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1, cluster_router="new"))
    assert router_port_names(snap, "old") == set()
    assert router_port_names(snap, "new") == {"az1-ts"}


def test_ports_that_drifted_are_repaired() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    lsp = one(snap, "nb", "Logical_Switch_Port", name="ts-az1")
    port = lrp(snap, "az1-ts")
    apply(snap, Plan((
        Update("nb", "Logical_Switch_Port", lsp.uuid, {"type": "", "addresses": frozenset()}),
        Mutate("nb", "Logical_Switch_Port", lsp.uuid, "options",
               {"router-port": "x", "requested-tnl-key": "3"}, frozenset({"router-port"})),
        Update("nb", "Logical_Router_Port", port.uuid, {"networks": frozenset({"10.0.0.1/24"})}),
    )))
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    lsp = one(snap, "nb", "Logical_Switch_Port", name="ts-az1")
    assert lsp["type"] == "router" and lsp["addresses"] == frozenset({"router"})
    # router-port is ours; requested-tnl-key (the sync engine's) is left alone
    assert dict(lsp["options"]) == {"router-port": "az1-ts", "requested-tnl-key": "3"}
    assert v4(lrp(snap, "az1-ts")) in ipaddress.ip_network("169.254.100.0/24")


def test_enable_ic_false_and_bad_parameters_are_refused() -> None:
    snap = fresh()
    with pytest.raises(ConfigError, match="plan a teardown"):
        plan_establish(snap, config(enable=False))
    for bad in (0, 157, True, "3"):
        with pytest.raises(ConfigError) as info:
            plan_establish(snap, config(), ts_num=bad)  # type: ignore[arg-type]
        assert info.value.field == "ts_num"
    with pytest.raises(ConfigError):
        plan_establish(snap, config(), protocol="IPv5")  # type: ignore[arg-type]


# ------------------------------------------------------------- transit switches


def test_without_ts_num_the_existing_kube_ovn_switches_are_used() -> None:
    snap = fresh()
    add_transit_switch(snap, "ts1", vendor="kube-ovn", subnet=ts_subnet(1))
    add_transit_switch(snap, "ts", vendor="kube-ovn", subnet=ts_subnet(0))
    add_transit_switch(snap, "ts2")                       # not Kube-OVN's
    add_transit_switch(snap, "other", vendor="kube-ovn")  # not a Kube-OVN name
    converge(snap, lambda: plan_establish(snap, config(gw=("a", "b"))))
    assert router_port_names(snap) == {"az1-ts", "az1-ts1"}
    assert gateways(snap, "az1-ts1")[0] == ("b", 100)
    assert "vendor" not in one(snap, "ic_nb", "Transit_Switch", name="ts2")["external_ids"]


def test_without_ts_num_and_no_switch_ts_is_created() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config()))
    assert [r["name"] for r in rows(snap, "ic_nb", "Transit_Switch")] == ["ts"]


def test_a_switch_without_vendor_is_adopted_and_its_subnet_kept() -> None:
    snap = fresh()
    add_transit_switch(snap, "ts", subnet="10.255.0.0/29", owner="admin")
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    tsw = one(snap, "ic_nb", "Transit_Switch", name="ts")
    assert dict(tsw["external_ids"]) == {"subnet": "10.255.0.0/29", "owner": "admin",
                                         "vendor": "kube-ovn"}
    (net,) = lrp(snap, "az1-ts")["networks"]
    assert ipaddress.ip_interface(net) in ipaddress.ip_network("10.255.0.0/29")
    assert ipaddress.ip_interface(net).ip not in (ipaddress.ip_address("10.255.0.0"),
                                                  ipaddress.ip_address("10.255.0.7"))


def test_a_switch_with_another_vendor_becomes_kube_ovns() -> None:
    snap = fresh()
    add_transit_switch(snap, "ts", vendor="someone", subnet=ts_subnet(0))
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    assert one(snap, "ic_nb", "Transit_Switch", name="ts")["external_ids"]["vendor"] == "kube-ovn"


def test_ipv4_only_transit_switches() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(), ts_num=2, protocol="IPv4"))
    assert all(":" not in n for n in lrp(snap, "az1-ts1")["networks"])
    assert one(snap, "ic_nb", "Transit_Switch", name="ts1")["external_ids"]["subnet"] == (
        "169.254.101.0/24"
    )


def test_an_unreadable_subnet_is_an_error() -> None:
    snap = fresh()
    add_transit_switch(snap, "ts", vendor="kube-ovn", subnet="not-a-cidr")
    with pytest.raises(EstablishError, match="external_ids:subnet='not-a-cidr'"):
        plan_establish(snap, config(), ts_num=1)


def test_fewer_transit_switches_removes_only_our_ports_on_the_others() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(), ts_num=3))
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    assert router_port_names(snap) == {"az1-ts"}
    assert not rows(snap, "nb", "Logical_Switch_Port", name="ts1-az1")
    assert not rows(snap, "nb", "Logical_Router_Port", name="az1-ts2")
    assert not rows(snap, "nb", "Gateway_Chassis", name="az1-ts2-gw3")
    assert {r["name"] for r in rows(snap, "ic_nb", "Transit_Switch")} == {"ts", "ts1", "ts2"}


# --------------------------------------------------------------- addresses


def _first_choice(ts_num: int = 1, az: str = "az1") -> Row:
    snap = fresh()
    apply(snap, plan_establish(snap, config(az), ts_num=ts_num))
    return lrp(snap, f"{az}-ts")


def test_the_address_is_never_a_remote_ports_address() -> None:
    taken = _first_choice()
    host = int(v4(taken).ip) & 0xFF
    snap = fresh()
    add_az(snap, "az0", ports=[("ts", address("00:00:00:00:00:01", host))])
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    port = lrp(snap, "az1-ts")
    assert v4(port).ip != v4(taken).ip
    assert v6(port).ip != v6(taken).ip


def test_remote_ipv6_addresses_count_too() -> None:
    taken = _first_choice()
    snap = fresh()
    add_az(snap, "az0", ports=[("ts", f"00:00:00:00:00:01 169.254.100.1/24 {v6(taken)}")])
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    assert v6(lrp(snap, "az1-ts")).ip != v6(taken).ip


def test_remote_ports_known_only_in_nb_count_too() -> None:
    taken = _first_choice()
    host = int(v4(taken).ip) & 0xFF
    snap = fresh()
    apply(snap, plan_establish(snap, config("az9"), ts_num=1))  # makes the ts mirror
    add_nb_remote_port(snap, "ts", "ts-az0", address("00:00:00:00:00:02", host))
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    assert v4(lrp(snap, "az1-ts")).ip != v4(taken).ip


def test_a_clash_is_resolved_by_the_az_whose_name_sorts_last() -> None:
    taken = _first_choice(az="az2")
    clash = " ".join(["00:00:00:00:00:01", str(v4(taken)), str(v6(taken))])
    # az2 holds the address and sees az1 with it: az2 moves.
    snap = fresh()
    apply(snap, plan_establish(snap, config("az2"), ts_num=1))
    add_az(snap, "az1", ports=[("ts", clash)])
    converge(snap, lambda: plan_establish(snap, config("az2"), ts_num=1))
    assert v4(lrp(snap, "az2-ts")).ip != v4(taken).ip
    # az1 holds the address and sees az3 with it: az1 keeps it.
    taken = _first_choice(az="az1")
    clash = " ".join(["00:00:00:00:00:01", str(v4(taken)), str(v6(taken))])
    snap = fresh()
    apply(snap, plan_establish(snap, config("az1"), ts_num=1))
    add_az(snap, "az3", ports=[("ts", clash)])
    assert not plan_establish(snap, config("az1"), ts_num=1)


def test_the_mac_avoids_remote_macs() -> None:
    taken = _first_choice()
    snap = fresh()
    add_az(snap, "az0", ports=[("ts", f"{taken['mac']} 169.254.100.3/24")])
    converge(snap, lambda: plan_establish(snap, config(), ts_num=1))
    assert lrp(snap, "az1-ts")["mac"] != taken["mac"]


def test_a_full_transit_switch_is_an_error() -> None:
    snap = fresh()
    add_transit_switch(snap, "ts", vendor="kube-ovn", subnet="169.254.200.0/30")
    add_az(snap, "az0", ports=[("ts", "00:00:00:00:00:01 169.254.200.1/30")])
    add_az(snap, "az2", ports=[("ts", "00:00:00:00:00:02 169.254.200.2/30")])
    with pytest.raises(EstablishError, match="no free address"):
        plan_establish(snap, config(), ts_num=1)


@settings(max_examples=60, deadline=None)
@given(
    used=st.lists(st.integers(1, 254), max_size=60, unique=True),
    via_nb=st.lists(st.booleans(), min_size=60, max_size=60),
    az=st.from_regex(r"az[a-z0-9]{1,6}", fullmatch=True),
)
def test_the_chosen_address_is_free_and_stable(
    used: list[int], via_nb: list[bool], az: str
) -> None:
    snap = fresh()
    apply(snap, plan_establish(snap, config("zz-mirror-maker"), ts_num=1))
    ic_sb_ports = [h for h, nb in zip(used, via_nb, strict=False) if not nb]
    nb_ports = [h for h, nb in zip(used, via_nb, strict=False) if nb]
    for i, host in enumerate(ic_sb_ports):
        add_az(snap, f"peer{i}", ports=[("ts", address(f"00:00:00:01:00:{i:02x}", host))])
    for i, host in enumerate(nb_ports):
        add_nb_remote_port(snap, "ts", f"ts-nbpeer{i}", address(f"00:00:00:02:00:{i:02x}", host))
    converge(snap, lambda: plan_establish(snap, config(az), ts_num=1))
    port = lrp(snap, f"{az}-ts")
    host = int(v4(port).ip) & 0xFF
    assert host not in used
    assert 1 <= host <= 254
    assert int(v6(port).ip) & 0xFFFF == host
    mirror = lrp(snap, "zz-mirror-maker-ts")
    assert v4(port).ip != v4(mirror).ip or az > "zz-mirror-maker"


# ------------------------------------------------------------------ auto-route


def test_auto_route_sets_the_options_and_the_deny_list() -> None:
    snap = fresh()
    apply(snap, Plan((Insert("nb", "NB_Global", {"name": "", "options": {
        "mac_prefix": "0a:00:00", "ic-route-adv-default": "false"}}),)))
    converge(snap, lambda: plan_establish(
        snap, config(), ts_num=1, disabled_subnets=["10.17.0.0/16,fd00:17::/64"],
        join_subnet="100.64.0.0/16", node_ips=["172.18.0.2", "172.18.0.3"],
    ))
    assert dict(one(snap, "nb", "NB_Global")["options"]) == {
        "mac_prefix": "0a:00:00",
        "ic-route-adv-default": "false",
        "ic-route-adv": "true",
        "ic-route-learn": "true",
        "ic-route-blacklist": "10.17.0.0/16,fd00:17::/64,100.64.0.0/16,172.18.0.2,172.18.0.3",
    }


def test_marking_a_subnet_changes_only_the_deny_list() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(), join_subnet="100.64.0.0/16"))
    plan = converge(snap, lambda: plan_establish(
        snap, config(), join_subnet="100.64.0.0/16", disabled_subnets=["10.18.0.0/16"]))
    (op,) = plan.ops
    assert isinstance(op, Mutate) and op.table == "NB_Global" and op.column == "options"
    assert dict(op.insert) == {"ic-route-blacklist": "10.18.0.0/16,100.64.0.0/16"}
    assert op.delete == frozenset({"ic-route-blacklist"})


def test_manual_route_mode_removes_the_auto_route_keys() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config(), join_subnet="100.64.0.0/16"))
    converge(snap, lambda: plan_establish(snap, config(auto_route=False),
                                          join_subnet="100.64.0.0/16"))
    options = one(snap, "nb", "NB_Global")["options"]
    assert not set(AUTO_ROUTE_KEYS) & set(options)


def test_an_empty_deny_list_writes_no_key() -> None:
    snap = fresh()
    converge(snap, lambda: plan_establish(snap, config()))
    assert "ic-route-blacklist" not in one(snap, "nb", "NB_Global")["options"]


def test_a_bad_deny_list_entry_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        plan_establish(fresh(), config(), node_ips=["node-1"])
    assert info.value.field == "node_ips" and info.value.value == "node-1"


# ------------------------------------------------------------------- teardown


def _two_az_world() -> tuple[Snapshot, uuid.UUID, uuid.UUID]:
    """az1 (ours) established on ts, ts1 with learned routes; az2 present in IC-SB."""
    snap = fresh()
    apply(snap, plan_establish(snap, config(), ts_num=2, join_subnet="100.64.0.0/16"))
    ours = add_az(
        snap, "az1",
        ports=[("ts", address("00:00:00:00:01:01", 1)),
               ("ts1", address("00:00:00:00:01:02", 1, 101))],
        gateways=["az1-gw1", "az1-gw2"],
        routes=[("ts", "10.16.0.0/16", "169.254.100.1"), ("ts1", "10.16.0.0/16", "169.254.101.1")],
    )
    theirs = add_az(
        snap, "az2",
        ports=[("ts", address("00:00:00:00:02:01", 2)),
               ("ts1", address("00:00:00:00:02:02", 2, 101))],
        gateways=["az2-gw1"],
        routes=[("ts", "10.17.0.0/16", "169.254.100.2"), ("ts1", "10.17.0.0/16", "169.254.101.2")],
    )
    add_nb_remote_port(snap, "ts", "ts-az2", address("00:00:00:00:02:01", 2))
    add_chassis(snap, "az2-gw1", "az2-gw1", **{"is-remote": "true"})
    add_chassis(snap, "local-chassis", "gw1")
    lr = router(snap)
    apply(snap, Plan((
        Insert("nb", "Logical_Router_Static_Route", {
            "ip_prefix": "10.17.0.0/16", "nexthop": "169.254.100.2",
            "external_ids": {"ic-learned-route": str(uuid.uuid4())}}, name="learned"),
        Insert("nb", "Logical_Router_Static_Route", {
            "ip_prefix": "0.0.0.0/0", "nexthop": "100.64.0.1"}, name="default"),
        Mutate("nb", "Logical_Router", lr.uuid, "static_routes",
               frozenset({NamedUUID("learned"), NamedUUID("default")})),
    )))
    return snap, ours, theirs


def test_teardown_removes_this_az_and_leaves_another_az_intact() -> None:
    snap, ours, theirs = _two_az_world()
    before = contents(snap)
    plan = converge(snap, lambda: plan_teardown(snap, config()))
    after = contents(snap)

    # IC-NB untouched; every row of az2 untouched; no row of az1 left.
    assert after[("ic_nb", "Transit_Switch")] == before[("ic_nb", "Transit_Switch")]
    for table in ("Port_Binding", "Gateway", "Route"):
        theirs_before = {u: r for u, r in before[("ic_sb", table)].items()
                         if r["availability_zone"] == theirs}
        assert theirs_before
        assert {u: r for u, r in after[("ic_sb", table)].items()} == theirs_before
    assert [r["name"] for r in rows(snap, "ic_sb", "Availability_Zone")] == ["az2"]
    assert len(after[("ic_sb", "Encap")]) == 1  # az1's encaps went with its gateways
    deleted = {op.uuid for op in plan if isinstance(op, Delete) and op.db == "ic_sb"}
    assert theirs not in deleted and ours in deleted

    # NB: no port, gateway or mirror of the transit switches, no learned route.
    assert not rows(snap, "nb", "Logical_Router_Port")
    assert not rows(snap, "nb", "Logical_Switch_Port")
    assert not rows(snap, "nb", "Gateway_Chassis")
    assert not rows(snap, "nb", "Logical_Switch")
    (kept,) = rows(snap, "nb", "Logical_Router_Static_Route")
    assert kept["ip_prefix"] == "0.0.0.0/0"
    nbg = one(snap, "nb", "NB_Global")
    assert nbg["name"] == "az1"
    assert not set(AUTO_ROUTE_KEYS) & set(nbg["options"])
    # SB: the chassis made for az2's gateway is gone, the local one is kept.
    assert [r["name"] for r in rows(snap, "sb", "Chassis")] == ["local-chassis"]


def test_teardown_by_az_name_and_options() -> None:
    snap, _, _ = _two_az_world()
    converge(snap, lambda: plan_teardown(snap, "az1", remove_remote_chassis=False,
                                         clear_az_name=True))
    assert one(snap, "nb", "NB_Global")["name"] == ""
    assert {r["name"] for r in rows(snap, "sb", "Chassis")} == {"az2-gw1", "local-chassis"}
    with pytest.raises(ConfigError):
        plan_teardown(snap, " ")


def test_teardown_of_the_other_az_leaves_ours() -> None:
    snap, ours, _ = _two_az_world()
    before = contents(snap)
    plan = converge(snap, lambda: plan_teardown(snap, "az2", remove_remote_chassis=False))
    assert {op.db for op in plan} <= {"nb", "ic_sb"}
    after = contents(snap)
    for table in ("Port_Binding", "Gateway", "Route"):
        ours_before = {u: r for u, r in before[("ic_sb", table)].items()
                       if r["availability_zone"] == ours}
        assert after[("ic_sb", table)] == ours_before


def test_teardown_of_nothing_is_empty() -> None:
    assert not plan_teardown(fresh(), "az1")


def test_a_config_change_is_teardown_then_establish() -> None:
    snap = fresh()
    old = config("az1", gw=("a", "b"))
    new = config("az9", gw=("c",))
    converge(snap, lambda: plan_establish(snap, old, ts_num=2))
    add_az(snap, "az1", ports=[("ts", address("00:00:00:00:01:01", 1))], gateways=["a"])
    converge(snap, lambda: plan_teardown(snap, old))
    converge(snap, lambda: plan_establish(snap, new, ts_num=2))
    assert one(snap, "nb", "NB_Global")["name"] == "az9"
    names = [r["name"] for t in ("Logical_Router_Port", "Logical_Switch_Port", "Gateway_Chassis")
             for r in rows(snap, "nb", t)]
    assert not [n for n in names if "az1" in n]
    assert router_port_names(snap) == {"az9-ts", "az9-ts1"}
    assert gateways(snap, "az9-ts1") == [("c", 100)]
    assert not rows(snap, "ic_sb", "Availability_Zone", name="az1")


# -------------------------------------------------------- property: any world


@st.composite
def worlds(draw: st.DrawFn) -> tuple[IcConfig, int | None, list[tuple[str, list[int]]]]:
    nodes = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4,
                          unique=True))
    ts_num = draw(st.one_of(st.none(), st.integers(1, 4)))
    peers = draw(st.lists(
        st.tuples(st.sampled_from(["az0", "az5", "peer"]),
                  st.lists(st.integers(0, 3), max_size=4, unique=True)),
        max_size=3, unique_by=lambda p: p[0],
    ))
    return config("az3", gw=nodes, auto_route=draw(st.booleans())), ts_num, peers


@settings(max_examples=40, deadline=None)
@given(worlds(), st.data())
def test_establish_and_teardown_converge_in_one_step(
    world: tuple[IcConfig, int | None, list[tuple[str, list[int]]]], data: st.DataObject
) -> None:
    cfg, ts_num, peers = world
    snap = fresh()
    for az, indexes in peers:
        for i in indexes:
            if not rows(snap, "ic_nb", "Transit_Switch", name=ts_name(i)):
                add_transit_switch(snap, ts_name(i), vendor="kube-ovn", subnet=ts_subnet(i))
        host = data.draw(st.integers(1, 254))
        add_az(snap, az, ports=[(ts_name(i), address("00:00:00:00:00:09", host, 100 + i))
                                for i in indexes], gateways=[f"{az}-gw"])
    others = contents(snap)[("ic_sb", "Port_Binding")]
    converge(snap, lambda: plan_establish(snap, cfg, ts_num=ts_num, node_ips=["10.0.0.5"]))
    remote_ips = {
        ip for pb in others.values()
        for ip in (ipaddress.ip_interface(t).ip for t in pb["address"].split()[1:])
    }
    ports = rows(snap, "nb", "Logical_Router_Port")
    attached = sorted(ts_index(p["name"].removeprefix("az3-")) for p in ports)  # type: ignore
    if ts_num is not None:
        assert attached == list(range(ts_num))
    for port in ports:
        assert not {ipaddress.ip_interface(n).ip for n in port["networks"]} & remote_ips
        position = attached.index(ts_index(port["name"].removeprefix("az3-")))
        best = gateways(snap, port["name"])[0][0]
        assert best == cfg.gw_nodes[position % len(cfg.gw_nodes)]
    add_az(snap, "az3", ports=[("ts", address("00:00:00:00:03:01", 7))])
    converge(snap, lambda: plan_teardown(snap, cfg))
    assert contents(snap)[("ic_sb", "Port_Binding")] == others
    assert not rows(snap, "nb", "Logical_Router_Port")


# --------------------------------------------------------------- manual routes


def _peers_world() -> Snapshot:
    snap = fresh()
    apply(snap, plan_establish(snap, config(auto_route=False), ts_num=2))
    add_az(snap, "az1", ports=[("ts", address("00:00:00:00:01:01", 1))])
    add_az(snap, "az2", ports=[("ts1", address("00:00:00:00:02:02", 2, 101)),
                               ("ts", address("00:00:00:00:02:01", 2))])
    add_az(snap, "az3", ports=[("ts", "00:00:00:00:03:01 169.254.100.3/24")])
    return snap


def test_remote_ts_ports() -> None:
    snap = _peers_world()
    ports = remote_ts_ports(snap, config())
    assert [(p.transit_switch, p.availability_zone) for p in ports] == [
        ("ts", "az2"), ("ts", "az3"), ("ts1", "az2"),
    ]
    first = ports[0]
    assert first == RemotePort(
        transit_switch="ts", logical_port="ts-az2", availability_zone="az2",
        mac="00:00:00:00:02:01", networks=("169.254.100.2/24", "fe80:a9fe:64::2/112"),
        gateway="az2-gw",
    )
    assert first.nexthops == ("169.254.100.2", "fe80:a9fe:64::2")
    assert first.nexthop(4) == "169.254.100.2" and first.nexthop(6) == "fe80:a9fe:64::2"
    assert ports[1].nexthop(6) is None
    assert [p.transit_switch for p in remote_ts_ports(snap, "az1", peer="az2")] == ["ts", "ts1"]
    assert [p.availability_zone for p in remote_ts_ports(snap, "az1", transit_switches=["ts1"])] \
        == ["az2"]


def test_static_routes_to_a_peer_through_its_ts_ports() -> None:
    snap = _peers_world()
    via = remote_ts_ports(snap, "az1", peer="az2")
    plan = converge(snap, lambda: plan_static_routes(
        snap, "ovn-cluster", ["10.17.0.0/16", "fd00:17::/64", "10.17.5.5/32"], via))
    assert sum(isinstance(op, Insert) for op in plan) == 6
    routes = {(r["ip_prefix"], r["nexthop"], r["route_table"])
              for r in rows(snap, "nb", "Logical_Router_Static_Route")}
    assert routes == {
        ("10.17.0.0/16", "169.254.100.2", ""), ("10.17.0.0/16", "169.254.101.2", ""),
        ("fd00:17::/64", "fe80:a9fe:64::2", ""), ("fd00:17::/64", "fe80:a9fe:65::2", ""),
        ("10.17.5.5", "169.254.100.2", ""), ("10.17.5.5", "169.254.101.2", ""),
    }
    assert len(router(snap)["static_routes"]) == 6


def test_static_routes_ignore_learned_ones_and_accept_plain_nexthops() -> None:
    snap = _peers_world()
    lr = router(snap)
    apply(snap, Plan((
        Insert("nb", "Logical_Router_Static_Route", {
            "ip_prefix": "10.17.0.0/16", "nexthop": "169.254.100.2",
            "external_ids": {"ic-learned-route": "x"}}, name="r"),
        Mutate("nb", "Logical_Router", lr.uuid, "static_routes", frozenset({NamedUUID("r")})),
    )))
    plan = converge(snap, lambda: plan_static_routes(snap, "ovn-cluster", "10.17.0.0/16",
                                                     "169.254.100.2"))
    assert len(plan) == 2
    assert not plan_static_routes(snap, "ovn-cluster", ["10.17.0.1/16"], ["169.254.100.2"])


def test_static_route_errors() -> None:
    snap = _peers_world()
    via = remote_ts_ports(snap, "az1", peer="az3")
    with pytest.raises(EstablishError, match="no IPv6 nexthop"):
        plan_static_routes(snap, "ovn-cluster", ["fd00::/64"], via)
    with pytest.raises(EstablishError, match="no logical router named 'vpc9'"):
        plan_static_routes(snap, "vpc9", ["10.0.0.0/8"], via)
    with pytest.raises(ConfigError) as info:
        plan_static_routes(snap, "ovn-cluster", ["10.0.0.0/33"], via)
    assert info.value.field == "cidrs"
    with pytest.raises(ConfigError) as info:
        plan_static_routes(snap, "ovn-cluster", ["10.0.0.0/8"], ["gw"])
    assert info.value.field == "via"
