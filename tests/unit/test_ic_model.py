"""The IC object model (ovsdb_ic.ic): lookups, navigation, requirements and the show renderer.

Replicas are filled directly with RowUpdate inserts (and, for one test, through the sync
layer's ``simulate``). The hypothesis properties check every lookup against a brute-force
scan of the same contents, before and after the contents change, and ``render_show``
against a scan-based transcription of ``ovn-ic-sbctl``'s algorithm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import ConfigError
from ovsdb_ic.ic import (
    REQUIREMENTS,
    AvailabilityZoneView,
    GatewayView,
    Interconnection,
    MissingRequirementError,
    install_indexes,
    render_show,
)
from ovsdb_ic.ic.databases import Requirements, empty_snapshot, index_name
from ovsdb_ic.models import ic_nb as inb
from ovsdb_ic.models import ic_sb as isb
from ovsdb_ic.models import model_schema, to_model
from ovsdb_ic.replica import Replica, Row
from ovsdb_ic.sync.plan import Insert, Plan, simulate
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.monitor import RowUpdate

SB = model_schema("OVN_IC_Southbound")
NB = model_schema("OVN_IC_Northbound")

Contents = dict[str, list[tuple[UUID, dict[str, Any]]]]


def U(n: int) -> UUID:
    """A readable fixed UUID."""
    return UUID(int=n)


def inserts(contents: Contents) -> list[RowUpdate]:
    return [RowUpdate(table, u, "insert", new=dict(values))
            for table, rows in contents.items() for u, values in rows]


def replicas(sb: Contents, nb: Contents | None = None, *, install: bool = True
             ) -> tuple[Replica, Replica]:
    rs, rn = Replica(SB), Replica(NB)
    if install:
        install_indexes(rs)
        install_indexes(rn)
    rs.apply(inserts(sb))
    if nb:
        rn.apply(inserts(nb))
    return rs, rn


def az(u: UUID, name: str) -> tuple[UUID, dict[str, Any]]:
    return u, {"name": name}


def encap(u: UUID, gw: str, type_: str, ip: str) -> tuple[UUID, dict[str, Any]]:
    return u, {"type": type_, "ip": ip, "gateway_name": gw, "options": {"csum": "true"}}


def gateway(u: UUID, name: str, zone: UUID, encaps: Iterable[UUID], hostname: str = ""
            ) -> tuple[UUID, dict[str, Any]]:
    return u, {"name": name, "availability_zone": zone, "hostname": hostname,
               "encaps": frozenset(encaps), "external_ids": {}}


def port(u: UUID, lp: str, ts: str, zone: UUID, key: int, gw: str = "", address: str = ""
         ) -> tuple[UUID, dict[str, Any]]:
    return u, {"logical_port": lp, "transit_switch": ts, "availability_zone": zone,
               "tunnel_key": key, "gateway": gw, "address": address, "encap": None,
               "external_ids": {}}


def route(u: UUID, ts: str, zone: UUID, prefix: str, nexthop: str, table: str = "",
          origin: str = "connected") -> tuple[UUID, dict[str, Any]]:
    return u, {"transit_switch": ts, "availability_zone": zone, "route_table": table,
               "ip_prefix": prefix, "nexthop": nexthop, "origin": origin,
               "external_ids": {}}


AZ1, AZ2, AZ3 = U(0xA1), U(0xA2), U(0xA3)

# Two zones with gateways and ports, one empty zone; encap UUIDs chosen so that their
# order differs from the order they are listed in.
EXAMPLE: Contents = {
    "Availability_Zone": [az(AZ1, "az1"), az(AZ2, "az2"), az(AZ3, "az0")],
    "Encap": [
        encap(U(0xE3), "gw1", "geneve", "10.0.0.1"),
        encap(U(0xE1), "gw1", "vxlan", "10.0.0.2"),
        encap(U(0xE2), "gw0", "geneve", "10.0.0.3"),
        encap(U(0xE4), "gw2", "stt", "10.0.1.1"),
    ],
    "Gateway": [
        gateway(U(0x61), "gw1", AZ1, [U(0xE3), U(0xE1)], "host1"),
        gateway(U(0x60), "gw0", AZ1, [U(0xE2)]),
        gateway(U(0x62), "gw2", AZ2, [U(0xE4)], "host2"),
    ],
    "Port_Binding": [
        port(U(0xB1), "p1", "ts1", AZ1, 1, "gw1", "00:00:00:00:00:01 169.254.100.1/24"),
        port(U(0xB0), "p0", "ts1", AZ1, 2, "gw1"),
        port(U(0xB2), "p2", "ts1", AZ1, 3),                   # unbound: not shown
        port(U(0xB3), "p3", "ts2", AZ1, 1, "gw2"),            # gw2 is az2's: not shown
        port(U(0xB4), "p4", "ts2", AZ2, 2, "gw2", "00:00:00:00:00:04"),
        port(U(0xB5), "p5", "ts1", AZ2, 4, "ghost"),          # no such gateway
    ],
    "Route": [
        route(U(0xC1), "ts1", AZ1, "10.16.0.0/16", "169.254.100.1"),
        route(U(0xC2), "ts1", AZ2, "10.17.0.0/16", "169.254.100.2", origin="static"),
        route(U(0xC3), "ts2", AZ1, "10.16.0.0/16", "169.254.101.1", table="rtb"),
    ],
    "Datapath_Binding": [
        (U(0xD1), {"transit_switch": "ts1", "tunnel_key": 16711682, "external_ids": {}}),
        (U(0xD2), {"transit_switch": "ts2", "tunnel_key": 16711683, "external_ids": {}}),
        (U(0xD3), {"transit_switch": "gone", "tunnel_key": 16711684, "external_ids": {}}),
    ],
}
EXAMPLE_NB: Contents = {
    "Transit_Switch": [
        (U(0xF1), {"name": "ts1", "other_config": {}, "external_ids": {"vendor": "kube-ovn"}}),
        (U(0xF2), {"name": "ts2", "other_config": {}, "external_ids": {}}),
        (U(0xF3), {"name": "ts3", "other_config": {}, "external_ids": {}}),
    ],
}

EXAMPLE_SHOW = """\
availability-zone az0
availability-zone az1
    gateway gw0
        type: geneve
            ip: 10.0.0.3
    gateway gw1
        hostname: host1
        type: vxlan
            ip: 10.0.0.2
        type: geneve
            ip: 10.0.0.1
        port p0
            transit switch: ts1
            address: [""]
        port p1
            transit switch: ts1
            address: ["00:00:00:00:00:01 169.254.100.1/24"]
availability-zone az2
    gateway gw2
        hostname: host2
        type: stt
            ip: 10.0.1.1
        port p4
            transit switch: ts2
            address: ["00:00:00:00:00:04"]
"""


@pytest.fixture
def example() -> Interconnection:
    sb, nb = replicas(EXAMPLE, EXAMPLE_NB)
    return Interconnection(sb, nb)


# ---------------------------------------------------------------------------- show


def test_show_renders_the_tools_structure_and_order(example: Interconnection) -> None:
    assert render_show(example) == EXAMPLE_SHOW
    # A bare replica works too (the indexes are installed on it).
    assert render_show(Replica(SB)) == ""
    bare = Replica(SB)
    bare.apply(inserts(EXAMPLE))
    assert render_show(bare) == EXAMPLE_SHOW
    assert index_name(("availability_zone", "gateway")) in bare.table("Port_Binding").indexes


def test_show_one_zone_by_name_or_uuid(example: Interconnection) -> None:
    az2_text = EXAMPLE_SHOW[EXAMPLE_SHOW.index("availability-zone az2"):]
    assert render_show(example, "az2") == az2_text
    assert render_show(example, str(AZ2)) == az2_text
    assert render_show(example, str(AZ2).upper()) == az2_text
    assert render_show(example, "az0") == "availability-zone az0\n"
    assert render_show(example, "nope") == ""
    assert render_show(example, str(U(0x999))) == ""


def test_show_zone_named_like_a_uuid_falls_back_to_the_name() -> None:
    name = str(U(0x777))
    sb, _ = replicas({"Availability_Zone": [az(AZ1, name), az(AZ2, "x")]})
    assert render_show(sb, name) == f"availability-zone {name}\n"
    assert render_show(sb, str(AZ2)) == "availability-zone x\n"


def test_show_gateway_named_empty_collects_unbound_ports() -> None:
    # ovn-ic-sbctl groups ports under the gateway whose name equals the port's
    # gateway column, so a gateway called "" shows the ports bound to no gateway.
    sb, _ = replicas({
        "Availability_Zone": [az(AZ1, "az1")],
        "Encap": [encap(U(0xE1), "", "geneve", "1.1.1.1")],
        "Gateway": [gateway(U(0x60), "", AZ1, [U(0xE1)])],
        "Port_Binding": [port(U(0xB1), "lp", "ts", AZ1, 1)],
    })
    assert render_show(sb) == (
        "availability-zone az1\n    gateway \n        type: geneve\n"
        "            ip: 1.1.1.1\n        port lp\n            transit switch: ts\n"
        '            address: [""]\n'
    )


# ---------------------------------------------------------------------------- lookups


def test_zone_lookups_and_navigation(example: Interconnection) -> None:
    assert [z.name for z in example.availability_zones()] == ["az0", "az1", "az2"]
    z1 = example.availability_zone("az1")
    assert z1 is not None and z1.uuid == AZ1 and z1.model == isb.AvailabilityZone(
        uuid=AZ1, name="az1")
    assert example.availability_zone(AZ1) == z1
    assert example.availability_zone("AZ1") is None
    assert example.availability_zone(U(1)) is None
    assert [g.name for g in z1.gateways()] == ["gw0", "gw1"]
    assert [p.logical_port for p in z1.port_bindings()] == ["p0", "p1", "p2", "p3"]
    assert [(r.model.transit_switch, r.model.ip_prefix) for r in z1.routes()] == [
        ("ts1", "10.16.0.0/16"), ("ts2", "10.16.0.0/16")]
    empty = example.availability_zone("az0")
    assert empty is not None
    assert empty.gateways() == ()
    assert empty.port_bindings() == ()
    assert empty.routes() == ()


def test_gateway_lookups_and_encaps(example: Interconnection) -> None:
    gw1 = example.gateway("gw1")
    assert isinstance(gw1, GatewayView)
    assert gw1.hostname == "host1" and gw1.uuid == U(0x61)
    assert [(e.type, e.ip) for e in gw1.encaps()] == [("vxlan", "10.0.0.2"),
                                                      ("geneve", "10.0.0.1")]
    assert gw1.encaps()[0] == isb.Encap(uuid=U(0xE1), type="vxlan", ip="10.0.0.2",
                                        gateway_name="gw1", options={"csum": "true"})
    zone = gw1.availability_zone()
    assert zone is not None and zone.name == "az1"
    assert [p.logical_port for p in gw1.port_bindings()] == ["p0", "p1"]
    assert example.gateway("nope") is None
    assert [g.name for g in example.gateways()] == ["gw0", "gw1", "gw2"]
    assert [g.name for g in example.gateways(az="az2")] == ["gw2"]
    assert example.gateways(az="nope") == ()


def test_port_binding_lookups(example: Interconnection) -> None:
    p4 = example.port_binding("p4")
    assert p4 is not None and p4.model.tunnel_key == 2 and p4.model.address == "00:00:00:00:00:04"
    gw = p4.gateway()
    assert gw is not None and gw.name == "gw2"
    ts = p4.transit_switch()
    assert ts is not None and ts.name == "ts2" and ts.tunnel_key == 16711683
    zone = p4.availability_zone()
    assert zone is not None and zone.name == "az2"
    assert p4.encap() is None
    p3 = example.port_binding("p3")
    assert p3 is not None and p3.gateway() is None        # gw2 belongs to another zone
    assert example.port_binding("p5") is not None
    assert example.port_binding("p9") is None

    def lps(views: Sequence[Any]) -> list[str]:
        return [v.logical_port for v in views]

    assert lps(example.port_bindings()) == ["p0", "p1", "p2", "p3", "p4", "p5"]
    assert lps(example.port_bindings(transit_switch="ts2")) == ["p3", "p4"]
    assert lps(example.port_bindings(az="az2")) == ["p4", "p5"]
    assert lps(example.port_bindings(az=AZ1, transit_switch="ts1")) == ["p0", "p1", "p2"]
    assert lps(example.port_bindings(gateway="gw2")) == ["p4"]
    assert lps(example.port_bindings(gateway="gw1", transit_switch="ts2")) == []
    assert lps(example.port_bindings(gateway="gw1", az="az2")) == []
    assert lps(example.port_bindings(gateway="ghost")) == []


def test_route_lookups(example: Interconnection) -> None:
    r = example.route("ts2", "az1", "rtb", "10.16.0.0/16", "169.254.101.1")
    assert r is not None and r.uuid == U(0xC3)
    assert r.key == ("ts2", AZ1, "rtb", "10.16.0.0/16", "169.254.101.1")
    assert example.route("ts2", AZ1, "", "10.16.0.0/16", "169.254.101.1") is None
    assert example.route("ts2", "nope", "rtb", "10.16.0.0/16", "169.254.101.1") is None
    zone = r.availability_zone()
    assert zone is not None and zone.name == "az1"
    ts = r.transit_switch()
    assert ts is not None and ts.name == "ts2"
    assert [x.uuid for x in example.routes(transit_switch="ts1")] == [
        *sorted([U(0xC1), U(0xC2)], key=lambda u: str(u))]
    assert [x.uuid for x in example.routes(transit_switch="ts1", az="az2")] == [U(0xC2)]
    assert [x.model.origin for x in example.routes(az="az2")] == ["static"]
    assert len(example.routes()) == 3


def test_transit_switches_with_and_without_ic_nb(example: Interconnection) -> None:
    ts1 = example.transit_switch("ts1")
    assert ts1 is not None and ts1.tunnel_key == 16711682
    assert ts1.nb is not None and ts1.nb.external_ids == {"vendor": "kube-ovn"}
    assert [p.logical_port for p in ts1.port_bindings()] == ["p0", "p1", "p2", "p5"]
    assert len(ts1.routes()) == 2
    ts3 = example.transit_switch("ts3")          # no datapath binding yet
    assert ts3 is not None and ts3.tunnel_key is None and ts3.datapath_bindings == ()
    assert example.transit_switch("gone") is None   # IC-NB decides what exists
    assert [t.name for t in example.transit_switches()] == ["ts1", "ts2", "ts3"]
    only_sb = Interconnection(example.ic_sb)
    assert [t.name for t in only_sb.transit_switches()] == ["gone", "ts1", "ts2"]
    gone = only_sb.transit_switch("gone")
    assert gone is not None and gone.nb is None and gone.tunnel_key == 16711684
    assert only_sb.transit_switch("ts3") is None
    assert only_sb.datapath_binding(16711683) == isb.DatapathBinding(
        uuid=U(0xD2), transit_switch="ts2", tunnel_key=16711683)
    assert only_sb.datapath_binding(1) is None


def test_duplicate_datapath_bindings_are_all_listed() -> None:
    sb, _ = replicas({"Datapath_Binding": [
        (U(1), {"transit_switch": "ts", "tunnel_key": 16711690}),
        (U(2), {"transit_switch": "ts", "tunnel_key": 16711682}),
    ]})
    ts = Interconnection(sb).transit_switch("ts")
    assert ts is not None and ts.tunnel_key == 16711682
    assert [d.tunnel_key for d in ts.datapath_bindings] == [16711682, 16711690]


def test_views_are_values_and_navigation_reads_the_replica_now() -> None:
    sb, _ = replicas(EXAMPLE)
    ic = Interconnection(sb)
    gw1 = ic.gateway("gw1")
    assert gw1 is not None and gw1 == ic.gateway("gw1") and hash(gw1) == hash(ic.gateway("gw1"))
    assert "ic=" not in repr(gw1)
    sb.apply([
        RowUpdate("Gateway", U(0x61), "modify", diff={"hostname": "renamed"}),
        RowUpdate("Port_Binding", U(0xB2), "modify", diff={"gateway": "gw1"}),
        RowUpdate("Port_Binding", U(0xB0), "delete"),
    ])
    assert gw1.hostname == "host1"                       # the view is a snapshot ...
    assert [p.logical_port for p in gw1.port_bindings()] == ["p1", "p2"]   # ... navigation is live
    fresh = ic.gateway("gw1")
    assert fresh is not None and fresh.hostname == "renamed" and fresh != gw1
    assert isinstance(fresh.availability_zone(), AvailabilityZoneView)


# ---------------------------------------------------------------------------- requirements


def test_requirements_describe_tables_and_indexes() -> None:
    assert set(REQUIREMENTS.tables_for("ic_sb")) == {
        "Availability_Zone", "Gateway", "Encap", "Datapath_Binding", "Port_Binding", "Route"}
    assert REQUIREMENTS.tables_for("ic_nb") == {"Transit_Switch": None}
    assert REQUIREMENTS.indexes_for("ic_nb") == ()
    for db, table, name, columns in REQUIREMENTS.indexes:
        assert db == "ic_sb" and name == index_name(columns)
        assert all(c in SB.tables[table].columns for c in columns)


def test_install_indexes_is_idempotent_and_reuses_equal_indexes() -> None:
    sb = Replica(SB)
    sb.add_index("Route", "mine", ("transit_switch",))
    added = install_indexes(sb)
    assert len(added) == len(REQUIREMENTS.indexes) - 1
    assert index_name(("transit_switch",)) not in sb.table("Route").indexes
    assert install_indexes(sb) == []
    assert install_indexes(Replica(NB)) == []
    # Indexes added after the rows are filled from them.
    late = Replica(SB)
    late.apply(inserts(EXAMPLE))
    install_indexes(late)
    assert late.table("Port_Binding").index(("availability_zone", "gateway")).count(
        (AZ1, "gw1")) == 2
    # Partial replicas: tables not held are skipped.
    partial = Replica(SB, {"Availability_Zone": None, "Gateway": None})
    assert [ix.table for ix in install_indexes(partial)] == ["Gateway"]


def test_missing_requirements_raise_typed_errors() -> None:
    sb, _ = replicas(EXAMPLE, install=False)
    ic = Interconnection(sb, install=False)
    assert ic.availability_zone("az1") is not None       # schema index: always there
    with pytest.raises(MissingRequirementError, match="install_indexes") as info:
        ic.gateways(az="az1")
    assert isinstance(info.value, LookupError)
    assert info.value.table == "Gateway" and info.value.database == "OVN_IC_Southbound"
    partial = Replica(SB, {"Availability_Zone": None})
    with pytest.raises(MissingRequirementError, match="does not hold this table"):
        Interconnection(partial).gateways()
    assert render_show(partial) == ""
    thin = Replica(SB, {"Gateway": ("name", "availability_zone")})
    with pytest.raises(MissingRequirementError, match="encaps"):
        Interconnection(thin).gateway("gw1")
    with pytest.raises(MissingRequirementError, match="availability_zone"):
        install_indexes(Replica(SB, {"Gateway": ("name",)}))
    with pytest.raises(ConfigError):
        Interconnection(Replica(NB))
    with pytest.raises(ConfigError):
        Interconnection(Replica(SB), Replica(SB))
    with pytest.raises(ConfigError):
        install_indexes(Replica(model_schema("OVN_Northbound"), {"NB_Global": None}))


def test_indexes_merge_into_sync_requirements_and_simulate() -> None:
    # The sync layer's Requirements take our index tuples as they are; a snapshot
    # prepared from them needs no further installation.
    req = Requirements(tables={"ic_sb": REQUIREMENTS.tables_for("ic_sb")},
                       indexes=REQUIREMENTS.indexes)
    snap = empty_snapshot(req)
    plan = Plan((
        Insert("ic_sb", "Availability_Zone", {"name": "az1"}, name="az"),
        Insert("ic_sb", "Encap", {"type": "geneve", "ip": "1.2.3.4", "gateway_name": "gw"},
               name="e"),
        Insert("ic_sb", "Gateway", {"name": "gw", "availability_zone": NamedUUID("az"),
                                    "hostname": "h", "encaps": frozenset({NamedUUID("e")})}),
        Insert("ic_sb", "Port_Binding", {"logical_port": "lp", "transit_switch": "ts",
                                         "availability_zone": NamedUUID("az"),
                                         "tunnel_key": 7, "gateway": "gw",
                                         "address": "00:00:00:00:00:07"}),
    ))
    names = simulate(snap, plan)
    ic = Interconnection(snap.ic_sb, snap.ic_nb, install=False)
    pb = ic.port_binding("lp")
    assert pb is not None and pb.model.availability_zone == names["ic_sb"]["az"]
    assert render_show(ic) == (
        "availability-zone az1\n    gateway gw\n        hostname: h\n        type: geneve\n"
        "            ip: 1.2.3.4\n        port lp\n            transit switch: ts\n"
        '            address: ["00:00:00:00:00:07"]\n'
    )


# ---------------------------------------------------------------------------- properties

NAMES = st.text(alphabet="ab z\u00e9", max_size=3)
TS_NAMES = st.sampled_from(["ts", "ts1", "ts2", "a b", ""])


@st.composite
def ic_contents(draw: st.DrawFn, pool: Sequence[UUID]) -> tuple[Contents, Contents]:
    """IC-SB and IC-NB contents a real server could hold (unique indexes respected).

    Row UUIDs come from ``pool`` in order, so two drawn contents share UUIDs and one
    turned into the other modifies rows as well as inserting and deleting them.
    """
    uuids = iter(pool)
    sb: Contents = {t: [] for t in REQUIREMENTS.tables_for("ic_sb")}
    zones = draw(st.lists(NAMES, max_size=4, unique=True))
    zone_ids = [next(uuids) for _ in zones]
    sb["Availability_Zone"] = [az(u, n) for u, n in zip(zone_ids, zones, strict=True)]
    gw_names: list[str] = []
    if zone_ids:
        gw_names = draw(st.lists(NAMES, max_size=5, unique=True))
        ip = 0
        for name in gw_names:
            encaps = []
            for _ in range(draw(st.integers(1, 3))):
                ip += 1
                e = next(uuids)
                encaps.append(e)
                sb["Encap"].append(encap(e, name, draw(st.sampled_from(["geneve", "vxlan",
                                                                          "stt"])),
                                         f"10.0.0.{ip}"))
            sb["Gateway"].append(gateway(next(uuids), name, draw(st.sampled_from(zone_ids)),
                                         encaps, draw(st.sampled_from(["", "h1", "h 2"]))))
        lports = draw(st.lists(st.text(alphabet="pq1", min_size=1, max_size=3),
                               max_size=8, unique=True))
        for key, lp in enumerate(lports, start=1):
            gw = draw(st.sampled_from([*gw_names, "", "ghost"]))
            sb["Port_Binding"].append(port(next(uuids), lp, draw(TS_NAMES),
                                           draw(st.sampled_from(zone_ids)), key, gw,
                                           draw(st.sampled_from(["", "00:00:00:00:00:01",
                                                                 "0a:00:00:00:00:02 "
                                                                 "169.254.100.2/24"]))))
        keys = draw(st.lists(st.tuples(TS_NAMES, st.sampled_from(zone_ids),
                                       st.sampled_from(["", "rtb"]),
                                       st.sampled_from(["10.0.0.0/24", "10.1.0.0/16",
                                                        "fd00::/64"]),
                                       st.sampled_from(["169.254.100.1", "169.254.100.2"])),
                             max_size=8, unique=True))
        for ts, zone, table, prefix, nexthop in keys:
            sb["Route"].append(route(next(uuids), ts, zone, prefix, nexthop, table,
                                     draw(st.sampled_from(["connected", "static"]))))
    for key, ts in enumerate(draw(st.lists(TS_NAMES, max_size=4)), start=16711682):
        sb["Datapath_Binding"].append((next(uuids), {"transit_switch": ts, "tunnel_key": key}))
    nb: Contents = {"Transit_Switch": [
        (next(uuids), {"name": n}) for n in draw(st.lists(TS_NAMES, max_size=3, unique=True))
    ]}
    return sb, nb


def _models(cls: Any, rows: Iterable[Row]) -> list[Any]:
    return [to_model(cls, r.uuid, r) for r in rows]


def check_lookups_against_scans(ic: Interconnection) -> None:
    """Every lookup of ``ic`` equals a brute-force scan of the replica's tables."""
    sb = ic.ic_sb
    zones = list(sb.table("Availability_Zone"))
    gws = list(sb.table("Gateway"))
    pbs = list(sb.table("Port_Binding"))
    routes = list(sb.table("Route"))
    dbs = list(sb.table("Datapath_Binding"))
    zone_names = sorted({z["name"] for z in zones} | {"missing"})
    zone_keys: list[Any] = [*zone_names, *(z.uuid for z in zones), U(12345)]

    def zid(key: Any) -> UUID | None:
        if isinstance(key, UUID):
            return key
        found = [z.uuid for z in zones if z["name"] == key]
        return found[0] if found else None

    def by(rows: Iterable[Row], column: str) -> list[Row]:
        return sorted(rows, key=lambda r: r[column])

    assert [v.model for v in ic.availability_zones()] == _models(isb.AvailabilityZone,
                                                                 by(zones, "name"))
    for key in zone_keys:
        want = [z for z in zones if (z.uuid if isinstance(key, UUID) else z["name"]) == key]
        got = ic.availability_zone(key)
        assert (got.model if got else None) == (
            _models(isb.AvailabilityZone, want)[0] if want else None)
        zu = zid(key)
        assert [v.model for v in ic.gateways(az=key)] == _models(
            isb.Gateway, by((g for g in gws if g["availability_zone"] == zu), "name"))
        assert [v.model for v in ic.port_bindings(az=key)] == _models(
            isb.PortBinding, by((p for p in pbs if p["availability_zone"] == zu),
                                "logical_port"))
        assert {v.model for v in ic.routes(az=key)} == set(_models(
            isb.Route, (r for r in routes if r["availability_zone"] == zu)))
    gw_names = sorted({g["name"] for g in gws} | {"ghost", ""})
    for name in gw_names:
        want = [g for g in gws if g["name"] == name]
        got_gw = ic.gateway(name)
        assert (got_gw.model if got_gw else None) == (
            _models(isb.Gateway, want)[0] if want else None)
        bound = [p for p in pbs for g in want
                 if p["gateway"] == g["name"] and p["availability_zone"] == g["availability_zone"]]
        assert [v.model for v in ic.port_bindings(gateway=name)] == _models(
            isb.PortBinding, by(bound, "logical_port"))
        for ts in ("ts", "ts1", ""):
            assert [v.model for v in ic.port_bindings(gateway=name, transit_switch=ts)] == (
                _models(isb.PortBinding, by((p for p in bound if p["transit_switch"] == ts),
                                            "logical_port")))
        for key in zone_keys:
            zu = zid(key)
            assert [v.model for v in ic.port_bindings(gateway=name, az=key)] == _models(
                isb.PortBinding, by((p for p in bound if p["availability_zone"] == zu),
                                    "logical_port"))
        if got_gw is not None:
            encaps = sorted(got_gw.model.encaps, key=lambda u: u.int)
            assert [e.uuid for e in got_gw.encaps()] == encaps
            assert got_gw.port_bindings() == ic.port_bindings(gateway=name)
    assert [v.model for v in ic.gateways()] == _models(isb.Gateway, by(gws, "name"))
    for p in [*pbs, None]:
        lp = p["logical_port"] if p is not None else "nope"
        got_pb = ic.port_binding(lp)
        assert (got_pb.model if got_pb else None) == (
            to_model(isb.PortBinding, p.uuid, p) if p is not None else None)
    ts_names = sorted({p["transit_switch"] for p in pbs} | {r["transit_switch"] for r in routes}
                      | {d["transit_switch"] for d in dbs} | {"ts", "none"})
    for ts in ts_names:
        assert [v.model for v in ic.port_bindings(transit_switch=ts)] == _models(
            isb.PortBinding, by((p for p in pbs if p["transit_switch"] == ts), "logical_port"))
        assert {v.model for v in ic.routes(transit_switch=ts)} == set(_models(
            isb.Route, (r for r in routes if r["transit_switch"] == ts)))
        for key in zone_keys:
            zu = zid(key)
            assert [v.model for v in ic.port_bindings(az=key, transit_switch=ts)] == _models(
                isb.PortBinding, by((p for p in pbs if p["transit_switch"] == ts
                                     and p["availability_zone"] == zu), "logical_port"))
            assert {v.model for v in ic.routes(az=key, transit_switch=ts)} == set(_models(
                isb.Route, (r for r in routes if r["transit_switch"] == ts
                            and r["availability_zone"] == zu)))
        want_dbs = _models(isb.DatapathBinding, by((d for d in dbs
                                                    if d["transit_switch"] == ts), "tunnel_key"))
        assert list(ic.datapath_bindings(transit_switch=ts)) == want_dbs
        got_ts = ic.transit_switch(ts)
        if ic.ic_nb is not None:
            nbs = [r for r in ic.ic_nb.table("Transit_Switch") if r["name"] == ts]
            assert (got_ts.nb if got_ts else None) == (
                to_model(inb.TransitSwitch, nbs[0].uuid, nbs[0]) if nbs else None)
        else:
            assert (got_ts is not None) == bool(want_dbs)
        if got_ts is not None:
            assert list(got_ts.datapath_bindings) == want_dbs
    for r in [*routes, None]:
        key5 = (tuple(r[c] for c in ("transit_switch", "availability_zone", "route_table",
                                     "ip_prefix", "nexthop"))
                if r is not None else ("ts", U(1), "", "10.0.0.0/24", "169.254.100.1"))
        got_route = ic.route(*key5)
        assert (got_route.model if got_route else None) == (
            to_model(isb.Route, r.uuid, r) if r is not None else None)
        if r is not None:
            zone_name = sb.table("Availability_Zone")[r["availability_zone"]]["name"]
            by_name = ic.route(key5[0], zone_name, *key5[2:])
            assert by_name is not None and by_name.uuid == r.uuid
    assert {v.model for v in ic.routes()} == set(_models(isb.Route, routes))
    if ic.ic_nb is not None:
        assert [t.name for t in ic.transit_switches()] == sorted(
            r["name"] for r in ic.ic_nb.table("Transit_Switch"))
    else:
        assert [t.name for t in ic.transit_switches()] == sorted(
            {d["transit_switch"] for d in dbs})


def show_by_scanning(sb: Replica) -> str:
    """ovn-ic-sbctl's show algorithm, transcribed with full scans (no index used)."""
    zones: dict[str, tuple[Row, dict[str, tuple[Row, dict[str, Row]]]]] = {}
    for z in sb.table("Availability_Zone"):
        zones[z["name"]] = (z, {})
    for g in sb.table("Gateway"):
        zone = sb.table("Availability_Zone")[g["availability_zone"]]
        zones[zone["name"]][1][g["name"]] = (g, {})
    for p in sb.table("Port_Binding"):
        zone = sb.table("Availability_Zone")[p["availability_zone"]]
        gw = zones[zone["name"]][1].get(p["gateway"])
        if gw is not None:
            gw[1][p["logical_port"]] = p
    out = []
    for name in sorted(zones, key=lambda n: n.encode()):
        out.append(f"availability-zone {name}\n")
        gws = zones[name][1]
        for gname in sorted(gws, key=lambda n: n.encode()):
            g, ports = gws[gname]
            out.append(f"    gateway {gname}\n")
            if g["hostname"]:
                out.append(f"        hostname: {g['hostname']}\n")
            for e in sorted(g["encaps"], key=lambda u: str(u)):
                encap_row = sb.table("Encap")[e]
                out.append(f"        type: {encap_row['type']}\n")
                out.append(f"            ip: {encap_row['ip']}\n")
            for lp in sorted(ports, key=lambda n: n.encode()):
                p = ports[lp]
                out.append(f"        port {lp}\n")
                out.append(f"            transit switch: {p['transit_switch']}\n")
                out.append(f'            address: ["{p["address"]}"]\n')
    return "".join(out)


POOL = st.lists(st.uuids(), min_size=90, max_size=90, unique=True)


@settings(max_examples=100, deadline=None)
@given(POOL, st.data(), st.booleans(), st.booleans())
def test_lookups_equal_scans_through_changes(
    pool: list[UUID], data: st.DataObject, install_first: bool, with_nb: bool
) -> None:
    first_sb, first_nb = data.draw(ic_contents(pool), label="first")
    second_sb, second_nb = data.draw(ic_contents(pool), label="second")
    sb, nb = Replica(SB), Replica(NB)
    if install_first:
        install_indexes(sb)
    sb.apply(inserts(first_sb))
    nb.apply(inserts(first_nb))
    ic = Interconnection(sb, nb if with_nb else None)
    check_lookups_against_scans(ic)
    assert render_show(ic) == show_by_scanning(sb)
    # Turning the first contents into the second modifies, inserts and deletes rows;
    # the indexes must follow.
    sb.reset(inserts(second_sb))
    nb.reset(inserts(second_nb))
    check_lookups_against_scans(ic)
    assert render_show(ic) == show_by_scanning(sb)
    for zone in ic.availability_zones():
        text = render_show(ic, zone.name)
        assert text == render_show(ic, str(zone.uuid))
        assert text.startswith(f"availability-zone {zone.name}\n") and text in render_show(ic)
