"""The in-memory replica: rows, atomic transactions, indexes, change events, resync.

Hand-written sequences on IC-SB Route / Availability_Zone / Gateway and NB
Logical_Router, then a hypothesis state machine that drives random transactions
(inserts, update2 diffs and v1 modifies, deletes, failing transactions, resyncs)
and checks the replica, its indexes and its change events against a naive model.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ovsdb_ic.errors import LocalProtocolError, OvsdbError, RemoteProtocolError
from ovsdb_ic.replica import (
    MISSING,
    Change,
    Index,
    IndexConflictError,
    Replica,
    Row,
    RowLayout,
)
from ovsdb_ic.replica._intern import LIMIT
from ovsdb_ic.wire.data import make_diff
from ovsdb_ic.wire.monitor import RowUpdate, decode_update, decode_update2, default_value
from ovsdb_ic.wire.schema import DatabaseSchema
from tests.strategies import schema

SB = schema("OVN_IC_Southbound")
NB = schema("OVN_Northbound")
ROUTE_INDEX = ("transit_switch", "availability_zone", "route_table", "ip_prefix", "nexthop")
AZ1 = uuid.UUID("63bda227-474e-4eac-b239-c0277a7fb8bb")
AZ2 = uuid.UUID("0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e")
DOC = Path(__file__).resolve().parents[2] / "docs" / "replica.md"


def U(n: int) -> uuid.UUID:
    """A readable row UUID."""
    return uuid.UUID(int=n)


def full(db: DatabaseSchema, table: str, **values: Any) -> dict[str, Any]:
    """A complete decoded row: every column's default, overridden by ``values``."""
    ts = db.tables[table]
    row = {name: default_value(col.type) for name, col in ts.columns.items()}
    row.update(values)
    return row


def route(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "transit_switch": "ts1", "availability_zone": AZ1, "route_table": "",
        "ip_prefix": "10.0.0.0/24", "nexthop": "169.254.100.1", "origin": "connected",
        "external_ids": {"lr-id": "lr1", "nb-id": "nb1"},
    }
    values.update(over)
    return full(SB, "Route", **values)


def ins(table: str, u: uuid.UUID, row: dict[str, Any], kind: str = "insert") -> RowUpdate:
    return RowUpdate(table, u, kind, new=row)  # type: ignore[arg-type]


def mod(table: str, u: uuid.UUID, **diff: Any) -> RowUpdate:
    return RowUpdate(table, u, "modify", diff=diff)


def dele(table: str, u: uuid.UUID) -> RowUpdate:
    return RowUpdate(table, u, "delete")


def contents(replica: Replica, table: str) -> dict[uuid.UUID, dict[str, Any]]:
    return {r.uuid: r.to_dict() for r in replica.table(table)}


def snapshot(replica: Replica) -> Any:
    """Everything observable about a replica, deep enough to detect any change."""
    out: dict[str, Any] = {"version": replica.version, "txn": replica.txn_count}
    for name, t in replica.tables.items():
        out[name] = (
            t.version,
            {r.uuid: (id(r), r.to_dict()) for r in t},
            {
                ix.name: {k: frozenset(id(r) for r in ix.find(k)) for k in ix}
                for ix in t.indexes.values()
            },
        )
    return out


def route_replica(**kw: Any) -> Replica:
    return Replica(SB, {"Route": None, "Availability_Zone": None, "Gateway": None}, **kw)


# --------------------------------------------------------------------------- basics


def test_initial_copy_is_inserts_flagged_initial() -> None:
    r = route_replica()
    assert (r.version, r.txn_count) == (0, 0)
    changes = r.apply([
        ins("Availability_Zone", AZ1, full(SB, "Availability_Zone", name="az1"), "initial"),
        ins("Route", U(1), route(), "initial"),
        ins("Route", U(2), route(ip_prefix="10.0.1.0/24"), "initial"),
    ])
    assert [(c.table, c.kind, c.uuid, c.initial) for c in changes] == [
        ("Availability_Zone", "insert", AZ1, True),
        ("Route", "insert", U(1), True),
        ("Route", "insert", U(2), True),
    ]
    assert all(c.old is None and c.new is not None for c in changes)
    assert (r.version, r.txn_count) == (1, 1)
    routes = r.table("Route")
    assert len(routes) == 2 and routes.version == 1
    assert r.table("Availability_Zone").version == 1 and r.table("Gateway").version == 0
    assert contents(r, "Route") == {U(1): route(), U(2): route(ip_prefix="10.0.1.0/24")}
    # a later insert is not initial
    (c,) = r.apply([ins("Route", U(3), route(ip_prefix="10.0.2.0/24"))])
    assert (c.kind, c.initial) == ("insert", False)
    assert c.changed_columns() == frozenset(routes.columns)


def test_table_view_access() -> None:
    r = route_replica()
    r.apply([ins("Route", U(1), route())])
    t = r.table("Route")
    row = t.get(U(1))
    assert row is not None
    assert t.get(str(U(1))) is row and t[U(1)] is row
    assert t["00000000-0000-0000-0000-000000000001"] is row
    assert t.get(U(9)) is None
    with pytest.raises(KeyError, match="no row"):
        t[U(9)]
    assert U(1) in t and U(9) not in t and "x" not in t and 5 not in t
    assert str(U(1)) in t and str(U(9)) not in t
    assert list(t) == [row]
    rows = t.rows
    assert len(rows) == 1 and list(rows) == [U(1)] and rows[U(1)] is row
    assert U(1) in rows and "nope" not in rows and list(rows.values()) == [row]
    with pytest.raises(KeyError):
        rows[U(2)]
    assert dict(rows.items()) == {U(1): row}
    assert t.name == "Route" and t.schema is SB.tables["Route"]
    assert t.columns == tuple(SB.tables["Route"].columns)
    assert "Route" in r and "Encap" not in r
    with pytest.raises(KeyError, match="holds no table 'Encap'"):
        r.table("Encap")
    assert "Route: 1" in repr(r) and "1 rows" in repr(t)
    assert set(r.columns) == {"Route", "Availability_Zone", "Gateway"}
    reqs = {m.table: m.columns for m in r.monitor_requests()}
    assert reqs["Route"] == t.columns


def test_row_api() -> None:
    r = route_replica()
    r.apply([ins("Route", U(1), route())])
    row = r.table("Route")[U(1)]
    assert row.uuid == U(1) and row.table == "Route"
    assert row["ip_prefix"] == "10.0.0.0/24" and row.get("nexthop") == "169.254.100.1"
    assert row.get("nope") is None and row.get("nope", 5) == 5
    with pytest.raises(KeyError, match="no column 'nope'"):
        row["nope"]
    assert "origin" in row and "nope" not in row
    assert len(row) == 7 and list(row) == list(row.columns) == list(SB.tables["Route"].columns)
    # maps are read-only; to_dict hands out copies
    ids = row["external_ids"]
    assert isinstance(ids, MappingProxyType) and ids == {"lr-id": "lr1", "nb-id": "nb1"}
    with pytest.raises(TypeError):
        ids["x"] = "y"  # type: ignore[index]
    d = row.to_dict()
    d["external_ids"]["x"] = "y"
    assert row["external_ids"] == {"lr-id": "lr1", "nb-id": "nb1"}
    assert dict(row) == {**route(), "external_ids": row["external_ids"]}
    # typed access
    assert row.get_str("origin") == "connected"
    assert row.get_uuid("availability_zone") == AZ1
    assert row.get_map("external_ids")["lr-id"] == "lr1"
    with pytest.raises(TypeError, match="not an integer"):
        row.get_int("origin")
    with pytest.raises(TypeError, match="not a map"):
        row.get_map("origin")
    with pytest.raises(TypeError, match="not a set"):
        row.get_set("origin")
    with pytest.raises(TypeError, match="not a UUID"):
        row.get_uuid("origin")
    with pytest.raises(TypeError, match="not a real"):
        row.get_float("origin")
    with pytest.raises(TypeError, match="not a boolean"):
        row.get_bool("origin")
    with pytest.raises(TypeError, match="not int or None"):
        row.get_optional("origin", int)
    # immutable
    with pytest.raises(AttributeError):
        row.uuid = U(2)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del row.uuid
    with pytest.raises(AttributeError):
        row.extra = 1  # type: ignore[attr-defined]
    assert copy.copy(row) is row and copy.deepcopy(row) is row
    # equality: same table, uuid and values; hash by uuid
    same = Row(row.layout, U(1), [row[c] if c != "external_ids" else dict(row[c])
                                   for c in row.columns])
    assert same == row and hash(same) == hash(row) == hash(U(1)) and same is not row
    assert Row(row.layout, U(2), row._values) != row
    assert row.layout.row(U(1), {**route(), "origin": "static"}) != row
    assert row != row.to_dict()
    assert {row, same} == {row}
    text = repr(row)
    assert text.startswith("Row(Route 00000000-0000-0000-0000-000000000001: transit_switch='ts1'")
    with pytest.raises(ValueError, match="hold 7 values"):
        Row(row.layout, U(1), [1, 2])
    with pytest.raises(TypeError, match=r"uuid\.UUID"):
        Row(row.layout, "x", row._values)  # type: ignore[arg-type]


def test_nb_logical_router_typed_columns() -> None:
    r = Replica(NB, {"Logical_Router": None})
    lr = full(NB, "Logical_Router", name="lr0", enabled=True,
              options={"chassis": "gw1"}, static_routes=frozenset({U(7)}))
    r.apply([ins("Logical_Router", U(1), lr, "initial")])
    row = r.table("Logical_Router")[U(1)]
    assert row.get_optional("enabled", bool) is True
    assert row.get_optional("copp", uuid.UUID) is None
    assert row.get_set("static_routes") == {U(7)} and row.get_set("ports") == frozenset()
    with pytest.raises(TypeError, match="use get_optional"):
        row.get_bool("copp")
    with pytest.raises(TypeError, match="use get_optional"):
        row.get_uuid("copp")
    (c,) = r.apply([mod("Logical_Router", U(1), enabled=None,
                        static_routes=frozenset({U(7), U(8)}),
                        ports=frozenset({U(9)}), options={"chassis": "gw1", "x": "1"})])
    assert c.kind == "modify" and c.old is row
    new = r.table("Logical_Router")[U(1)]
    assert new.get_optional("enabled", bool) is None
    assert new.get_set("static_routes") == {U(8)} and new.get_set("ports") == {U(9)}
    assert new.get_map("options") == {"x": "1"}  # same value removes the pair
    assert c.changed_columns() == {"enabled", "static_routes", "ports", "options"}
    # the old row is untouched
    assert row.get_set("static_routes") == {U(7)} and row["options"] == {"chassis": "gw1"}


def test_update2_modify_and_delete_from_json() -> None:
    r = route_replica()
    wire = {"Gateway": {str(U(1)): {"initial": {
        "name": "gw1", "availability_zone": ["uuid", str(AZ1)], "hostname": "h",
        "encaps": ["set", [["uuid", str(U(10))], ["uuid", str(U(11))]]],
        "external_ids": ["map", [["a", "1"], ["b", "2"]]],
    }}}}
    r.apply(decode_update2(SB, wire, columns=r.columns))
    gw = r.table("Gateway")[U(1)]
    assert gw.get_set("encaps") == {U(10), U(11)}
    diff = {"Gateway": {str(U(1)): {"modify": {
        "encaps": ["set", [["uuid", str(U(11))], ["uuid", str(U(12))]]],
        "external_ids": ["map", [["a", "1"], ["b", "3"], ["c", "4"]]],
        "hostname": "h2",
    }}}}
    (c,) = r.apply(decode_update2(SB, diff, columns=r.columns))
    new = r.table("Gateway")[U(1)]
    assert new.get_set("encaps") == {U(10), U(12)}
    assert new["external_ids"] == {"b": "3", "c": "4"}
    assert new["hostname"] == "h2" and new["name"] == "gw1"
    assert (c.kind, c.old, c.new) == ("modify", gw, new)
    assert c.changed_columns() == {"encaps", "external_ids", "hostname"}
    assert r.table("Gateway").lookup_one("name", "gw1") is new
    (c,) = r.apply(decode_update2(SB, {"Gateway": {str(U(1)): {"delete": None}}}))
    assert (c.kind, c.old, c.new, c.row) == ("delete", new, None, new)
    assert len(r.table("Gateway")) == 0 and r.table("Gateway").lookup("name", "gw1") == ()


def test_v1_modify_with_full_new_row() -> None:
    r = route_replica()
    u = str(U(1))
    r.apply(decode_update(SB, {"Availability_Zone": {u: {"new": {"name": "az1"}}}},
                          initial=True))
    (c,) = r.apply(decode_update(SB, {"Availability_Zone": {u: {
        "old": {"name": "az1"}, "new": {"name": "az2"}}}}))
    assert c.kind == "modify" and c.old is not None and c.new is not None
    assert (c.old["name"], c.new["name"]) == ("az1", "az2")
    assert r.table("Availability_Zone").lookup_one("name", "az2") is c.new
    assert r.table("Availability_Zone").lookup_one("name", "az1") is None
    (c,) = r.apply(decode_update(SB, {"Availability_Zone": {u: {"old": {"name": "az2"}}}}))
    assert c.kind == "delete"


# --------------------------------------------------------------------------- atomicity


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (mod("Route", U(99), origin="static"), "modify of Route row .* does not have"),
        (dele("Route", U(99)), "delete of Route row .* does not have"),
        (ins("Route", U(1), route(ip_prefix="10.9.9.0/24")), "already has"),
        (ins("Encap", U(5), full(SB, "Encap")), "does not hold"),
        (RowUpdate("Route", U(1), "modify"), "neither a diff nor a new row"),
        (RowUpdate("Route", U(6), "insert"), "without a row"),
        (RowUpdate("Route", U(1), "bogus"), "unknown update kind"),  # type: ignore[arg-type]
    ],
)
def test_failing_transaction_leaves_replica_unchanged(bad: RowUpdate, message: str) -> None:
    r = route_replica()
    r.add_index("Route", "by_lr", [("external_ids", "lr-id")])
    r.apply([ins("Route", U(1), route()), ins("Route", U(2), route(ip_prefix="10.0.1.0/24"))])
    before = snapshot(r)
    txn = [
        mod("Route", U(1), origin="static", external_ids={"lr-id": "lr2"}),
        dele("Route", U(2)),
        ins("Route", U(3), route(ip_prefix="10.0.3.0/24")),
        bad,
        ins("Route", U(4), route(ip_prefix="10.0.4.0/24")),
    ]
    with pytest.raises(RemoteProtocolError, match=message):
        r.apply(txn)
    assert snapshot(r) == before
    # the same transaction without the bad update applies
    changes = r.apply([u for u in txn if u is not bad])
    assert [c.kind for c in changes] == ["modify", "delete", "insert", "insert"]


def test_failing_index_key_leaves_replica_unchanged() -> None:
    """Even values no decoder would produce (unhashable index keys) change nothing."""
    r = route_replica()
    r.apply([ins("Route", U(1), route())])
    before = snapshot(r)
    with pytest.raises(TypeError):
        r.apply([ins("Route", U(2), route(ip_prefix="10.0.2.0/24")),
                 ins("Route", U(3), route(ip_prefix=["unhashable"]))])
    assert snapshot(r) == before


def test_net_change_per_row_within_a_transaction() -> None:
    r = route_replica()
    r.apply([ins("Route", U(1), route())])
    v = r.version
    changes = r.apply([
        ins("Route", U(2), route(ip_prefix="10.0.2.0/24"), "initial"),
        mod("Route", U(2), origin="static"),
        ins("Route", U(3), route(ip_prefix="10.0.3.0/24")),
        dele("Route", U(3)),
        mod("Route", U(1), origin="static"),
        mod("Route", U(1), origin="connected"),
    ])
    ((c,),) = [changes]
    assert (c.kind, c.uuid, c.initial) == ("insert", U(2), True)
    assert c.new is not None and c.new["origin"] == "static"
    assert r.version == v + 1 and r.txn_count == 2
    # a transaction that changes nothing: counted, but the version stays
    assert r.apply([mod("Route", U(1), nexthop="169.254.100.1")]) == []
    assert r.apply([]) == []
    assert r.version == v + 1 and r.txn_count == 4
    # delete then re-insert of the same row is a modify
    (c,) = r.apply([dele("Route", U(1)), ins("Route", U(1), route(origin="static"))])
    assert c.kind == "modify" and c.changed_columns() == {"origin"}


# --------------------------------------------------------------------------- indexes


def test_schema_indexes() -> None:
    r = route_replica()
    routes = r.table("Route")
    assert set(routes.indexes) == {",".join(ROUTE_INDEX)}
    ix = routes.index(ROUTE_INDEX)
    assert ix.unique and ix.from_schema and ix.columns == ROUTE_INDEX
    assert routes.index(",".join(ROUTE_INDEX)) is ix
    r.apply([ins("Route", U(1), route()), ins("Route", U(2), route(ip_prefix="10.0.1.0/24"))])
    key = ("ts1", AZ1, "", "10.0.0.0/24", "169.254.100.1")
    assert ix.get(key) is routes[U(1)] and key in ix and len(ix) == 2
    assert routes.lookup_one(ROUTE_INDEX, *key) is routes[U(1)]
    assert routes.lookup(ROUTE_INDEX, *key) == (routes[U(1)],)
    r.apply([mod("Route", U(1), ip_prefix="10.0.9.0/24")])
    assert ix.get(key) is None and key not in ix
    assert ix.get(("ts1", AZ1, "", "10.0.9.0/24", "169.254.100.1")) is routes[U(1)]
    assert ix.key_of(routes[U(1)]) == ("ts1", AZ1, "", "10.0.9.0/24", "169.254.100.1")
    r.apply([dele("Route", U(1))])
    assert len(ix) == 1 and ix.conflicts == {}
    with pytest.raises(LocalProtocolError, match="needs a tuple of 5 values"):
        ix.get(("ts1",))
    with pytest.raises(KeyError, match="no index"):
        routes.index("nope")
    assert "unique Index" in repr(ix)
    # single-column index: bare value or 1-tuple
    azs = r.table("Availability_Zone")
    r.apply([ins("Availability_Zone", AZ1, full(SB, "Availability_Zone", name="az1"))])
    assert azs.index(("name",)).get("az1") is azs[AZ1] is azs.index("name").get(("az1",))
    assert azs.lookup_one("name", "az1") is azs[AZ1]
    assert azs.index("name").get(["unhashable"]) is None
    assert azs.index("name").find(["unhashable"]) == ()
    assert azs.index("name").count(["unhashable"]) == 0
    assert ["unhashable"] not in azs.index("name")


def test_unique_keys_swapped_in_one_transaction() -> None:
    r = route_replica()
    az = r.table("Availability_Zone")
    r.apply([ins("Availability_Zone", U(1), full(SB, "Availability_Zone", name="a")),
             ins("Availability_Zone", U(2), full(SB, "Availability_Zone", name="b"))])
    r.apply([mod("Availability_Zone", U(1), name="b"), mod("Availability_Zone", U(2), name="a")])
    assert az.lookup_one("name", "a") is az[U(2)] and az.lookup_one("name", "b") is az[U(1)]
    assert az.index("name").conflicts == {}
    # delete + insert of the same key in one transaction
    r.apply([dele("Availability_Zone", U(1)),
             ins("Availability_Zone", U(3), full(SB, "Availability_Zone", name="b"))])
    assert az.lookup_one("name", "b") is az[U(3)] and len(az.index("name")) == 2


def test_client_map_key_index() -> None:
    r = route_replica()
    r.apply([
        ins("Route", U(1), route()),
        ins("Route", U(2), route(ip_prefix="10.0.2.0/24", external_ids={"lr-id": "lr2"})),
        ins("Route", U(3), route(ip_prefix="10.0.3.0/24", external_ids={})),
    ])
    routes = r.table("Route")
    ix = r.add_index("Route", "by_lr", [("external_ids", "lr-id")])
    assert isinstance(ix, Index) and not ix.unique and not ix.from_schema
    assert routes.index("by_lr") is ix and routes.index([("external_ids", "lr-id")]) is ix
    assert routes.lookup("by_lr", "lr1") == (routes[U(1)],)
    assert routes.lookup("by_lr", "lr2") == (routes[U(2)],)
    assert set(ix.keys()) == {"lr1", "lr2"}  # U(3) lacks the key: not indexed
    assert ix.key_of(routes[U(3)]) is MISSING
    # adding the key indexes the row; several rows per key come back together
    r.apply([mod("Route", U(3), external_ids={"lr-id": "lr1"})])
    assert set(routes.lookup("by_lr", "lr1")) == {routes[U(1)], routes[U(3)]}
    assert ix.count("lr1") == 2
    with pytest.raises(IndexConflictError):
        routes.lookup_one("by_lr", "lr1")
    # changing the value moves it; removing the key un-indexes it
    r.apply([mod("Route", U(1), external_ids={"lr-id": "lr2"})])
    assert routes.lookup("by_lr", "lr1") == (routes[U(3)],)
    assert set(routes.lookup("by_lr", "lr2")) == {routes[U(1)], routes[U(2)]}
    r.apply([mod("Route", U(2), external_ids={"lr-id": "lr2"})])  # same value: removes the key
    assert routes.lookup("by_lr", "lr2") == (routes[U(1)],)
    r.apply([dele("Route", U(1))])
    assert routes.lookup("by_lr", "lr2") == () and set(ix.keys()) == {"lr1"}
    # multi-column with a map key, and a whole map column
    two = r.add_index("Route", "ts_lr", ["transit_switch", ("external_ids", "lr-id")])
    assert routes.lookup("ts_lr", "ts1", "lr1") == (routes[U(3)],)
    assert two.get(("ts1", "lr1")) is routes[U(3)]
    whole = r.add_index("Route", "ids", "external_ids")
    assert whole.get({"lr-id": "lr1"}) is routes[U(3)]
    assert routes.lookup("ids", {}) == (routes[U(2)],)
    both = r.add_index("Route", "ids_ts", ["external_ids", "transit_switch"])
    assert both.get(({"lr-id": "lr1"}, "ts1")) is routes[U(3)]
    r.apply([mod("Route", U(3), external_ids={"lr-id": "lr1", "x": "y"})])
    assert routes[U(3)]["external_ids"] == {"x": "y"}
    assert routes.lookup("ts_lr", "ts1", "lr1") == () and len(two) == 0
    assert whole.get({"x": "y"}) is routes[U(3)] and whole.get({"lr-id": "lr1"}) is None


def test_client_index_on_populated_replica_and_removal() -> None:
    r = route_replica()
    r.apply([ins("Route", U(i), route(ip_prefix=f"10.0.{i}.0/24",
                                      origin="static" if i % 2 else "connected"))
             for i in range(10)])
    routes = r.table("Route")
    r.add_index("Route", "origin", "origin")
    assert {x.uuid for x in routes.lookup("origin", "static")} == {U(i) for i in range(1, 10, 2)}
    assert len(routes.lookup("origin", "connected")) == 5
    r.remove_index("Route", "origin")
    with pytest.raises(KeyError):
        routes.index("origin")
    with pytest.raises(LocalProtocolError, match="from the schema"):
        r.remove_index("Route", ",".join(ROUTE_INDEX))
    # two indexes over the same columns: lookup by columns finds one, by name each
    a = r.add_index("Route", "a", ["origin"])
    b = r.add_index("Route", "b", ["origin"], unique=True)
    assert routes.index(("origin",)) is a
    r.remove_index("Route", "a")
    assert routes.index(("origin",)) is b


def test_unique_client_index_conflicts() -> None:
    r = route_replica()
    r.apply([ins("Route", U(1), route()),
             ins("Route", U(2), route(ip_prefix="10.0.2.0/24", origin="static"))])
    routes = r.table("Route")
    ix = r.add_index("Route", "by_nb", [("external_ids", "nb-id")], unique=True)
    assert ix.unique and ix.conflicts == {"nb1": (routes[U(1)], routes[U(2)])}
    with pytest.raises(IndexConflictError, match="holds 2 rows for key 'nb1'") as info:
        ix.get("nb1")
    assert isinstance(info.value, OvsdbError) and isinstance(info.value, LookupError)
    assert set(info.value.rows) == {routes[U(1)], routes[U(2)]}
    assert (info.value.index, info.value.table, info.value.key) == ("by_nb", "Route", "nb1")
    assert set(ix.find("nb1")) == {routes[U(1)], routes[U(2)]}
    # the data becomes unique again: the conflict goes away
    r.apply([mod("Route", U(2), external_ids={"lr-id": "lr1", "nb-id": "nb2"})])
    assert ix.conflicts == {}
    assert ix.get("nb1") is routes[U(1)] and ix.get("nb2") is routes[U(2)]
    # and comes back with a modify
    r.apply([mod("Route", U(1), external_ids={"nb-id": "nb2"})])
    assert set(ix.conflicts) == {"nb2"}
    r.apply([dele("Route", U(2))])
    assert ix.conflicts == {} and ix.get("nb2") is routes[U(1)]


@pytest.mark.parametrize(
    ("table", "columns", "message"),
    [
        ("Route", [], "at least one column"),
        ("Route", ["nope"], "names column 'nope'"),
        ("Route", [("origin", "k")], "origin is not a map"),
        ("Route", [("external_ids", 5)], "is not a string key"),
        ("Route", ["origin", "origin"], "same column twice"),
        ("Route", [("a", "b", "c")], "a name or a"),
        ("Route", ",".join(ROUTE_INDEX), "names column"),
    ],
)
def test_add_index_errors(table: str, columns: Any, message: str) -> None:
    r = route_replica()
    with pytest.raises(LocalProtocolError, match=message):
        r.add_index(table, "x", columns)


def test_add_index_duplicate_name_and_unknown_table() -> None:
    r = route_replica()
    r.add_index("Route", "x", "origin")
    with pytest.raises(LocalProtocolError, match="already has an index named 'x'"):
        r.add_index("Route", "x", "nexthop")
    with pytest.raises(LocalProtocolError, match="already has an index"):
        r.add_index("Availability_Zone", "name", "name")
    with pytest.raises(KeyError):
        r.add_index("Encap", "x", "ip")
    # map keys are checked against the key type
    nb = Replica(NB, {"Logical_Router": None, "Load_Balancer": None})
    nb.add_index("Logical_Router", "o", [("options", "chassis")])
    with pytest.raises(LocalProtocolError, match="not a string key"):
        nb.add_index("Logical_Router", "bad", [("options", True)])


# --------------------------------------------------------------------------- columns


def test_column_subset() -> None:
    r = Replica(SB, {"Route": ["ip_prefix", "_uuid", "nexthop"]})
    t = r.table("Route")
    assert t.columns == ("ip_prefix", "nexthop")
    assert t.indexes == {}  # the schema index needs columns the replica does not hold
    r.apply([ins("Route", U(1), route())])
    assert t[U(1)].to_dict() == {"ip_prefix": "10.0.0.0/24", "nexthop": "169.254.100.1"}
    r.apply([mod("Route", U(1), origin="static", nexthop="x")])
    assert t[U(1)].to_dict() == {"ip_prefix": "10.0.0.0/24", "nexthop": "x"}
    # a row that lacks columns gets their defaults
    r.apply([ins("Route", U(2), {"ip_prefix": "p"})])
    assert t[U(2)].to_dict() == {"ip_prefix": "p", "nexthop": ""}
    assert r.columns == {"Route": ("ip_prefix", "nexthop")}
    with pytest.raises(LocalProtocolError, match="no column 'nope'"):
        Replica(SB, {"Route": ["nope"]})
    with pytest.raises(LocalProtocolError, match="twice"):
        Replica(SB, {"Route": ["nexthop", "nexthop"]})
    with pytest.raises(LocalProtocolError, match="not a string"):
        Replica(SB, {"Route": "nexthop"})
    with pytest.raises(LocalProtocolError, match="no table 'Nope'"):
        Replica(SB, {"Nope": None})
    everything = Replica(SB)
    assert set(everything.tables) == set(SB.tables)
    with_version = Replica(SB, {"Availability_Zone": ["name", "_version"]})
    assert with_version.table("Availability_Zone").columns == ("name", "_version")
    layout = RowLayout(SB.tables["Route"], ["origin"])
    assert "RowLayout(Route" in repr(layout)
    with pytest.raises(AttributeError):
        layout.table = "x"  # type: ignore[misc]
    with pytest.raises(KeyError):
        layout.column("nexthop")


# --------------------------------------------------------------------------- resync


def test_reset_reports_exactly_the_differences() -> None:
    r = route_replica()
    r.add_index("Route", "by_lr", [("external_ids", "lr-id")])
    r.apply([
        ins("Availability_Zone", AZ1, full(SB, "Availability_Zone", name="az1"), "initial"),
        *[ins("Route", U(i), route(ip_prefix=f"10.0.{i}.0/24"), "initial") for i in range(1, 6)],
    ])
    routes = r.table("Route")
    kept = routes[U(1)]
    v = r.version
    # while disconnected: U(2) deleted, U(3) modified, U(9) inserted, the AZ is gone
    fresh = [
        ins("Route", U(1), route(ip_prefix="10.0.1.0/24"), "initial"),
        ins("Route", U(3), route(ip_prefix="10.0.3.0/24", external_ids={"lr-id": "lr9"}),
            "initial"),
        ins("Route", U(4), route(ip_prefix="10.0.4.0/24"), "initial"),
        ins("Route", U(5), route(ip_prefix="10.0.5.0/24"), "initial"),
        ins("Route", U(9), route(ip_prefix="10.0.9.0/24"), "initial"),
    ]
    changes = r.reset(fresh)
    got = {(c.table, c.kind, c.uuid) for c in changes}
    assert got == {
        ("Route", "delete", U(2)), ("Route", "modify", U(3)), ("Route", "insert", U(9)),
        ("Availability_Zone", "delete", AZ1),
    }
    assert len(changes) == 4 and not any(c.initial for c in changes)
    (m,) = [c for c in changes if c.kind == "modify"]
    assert m.changed_columns() == {"external_ids"}
    assert routes[U(1)] is kept  # unchanged rows are kept as they are
    assert r.version == v + 1
    assert contents(r, "Route") == {u.uuid: u.new for u in fresh}
    assert routes.lookup("by_lr", "lr9") == (routes[U(3)],)
    assert {x.uuid for x in routes.lookup("by_lr", "lr1")} == {U(1), U(4), U(5), U(9)}
    # the same copy again: nothing to report
    assert r.reset(fresh) == [] and r.version == v + 1
    # a bad copy changes nothing
    before = snapshot(r)
    for bad in (
        [*fresh, mod("Route", U(1), origin="static")],
        [*fresh, ins("Route", U(1), route())],
        [*fresh, ins("Encap", U(1), full(SB, "Encap"))],
    ):
        with pytest.raises(RemoteProtocolError):
            r.reset(bad)
        assert snapshot(r) == before


def test_clear() -> None:
    r = route_replica()
    r.apply([ins("Route", U(1), route()),
             ins("Availability_Zone", AZ1, full(SB, "Availability_Zone", name="az1"))])
    v = r.version
    changes = r.clear()
    assert {(c.kind, c.uuid) for c in changes} == {("delete", U(1)), ("delete", AZ1)}
    assert len(r.table("Route")) == 0 and len(r.table("Route").index(ROUTE_INDEX)) == 0
    assert r.version == v + 1
    assert r.clear() == [] and r.version == v + 1


# --------------------------------------------------------------------------- memory


def test_rows_share_repeated_strings() -> None:
    r = route_replica()
    n = LIMIT + 50
    r.apply([
        ins("Route", U(i), route(
            ip_prefix=f"10.{i >> 8}.{i & 255}.0/24", transit_switch="".join(["t", "s1"]),
            external_ids={"".join(["lr", "-id"]): "".join(["lr", "1"]), "nb-id": f"nb{i}"},
        ))
        for i in range(n)
    ])
    rows = list(r.table("Route"))
    first, last = rows[0], rows[-1]
    assert first["transit_switch"] is last["transit_switch"]
    k1, k2 = next(iter(first["external_ids"])), next(iter(last["external_ids"]))
    assert k1 is k2
    assert first["external_ids"]["lr-id"] is last["external_ids"]["lr-id"]
    assert first["external_ids"]["nb-id"] == "nb0" and last["external_ids"]["nb-id"] == f"nb{n-1}"
    table = r.table("Route")
    # high-cardinality columns are no longer cached: their caches are dropped
    cached = [table.columns[pos] for pos, _ in table._interner._scalars]
    assert "ip_prefix" not in cached and "transit_switch" in cached
    assert "nb-id" in table._interner._maps[0][3]
    plain = Replica(SB, {"Route": None}, share_strings=False)
    plain.apply([ins("Route", U(1), route(transit_switch="".join(["t", "s1"]))),
                 ins("Route", U(2), route(transit_switch="".join(["t", "s1"]),
                                          ip_prefix="x"))])
    a, b = plain.table("Route")
    assert a["transit_switch"] == b["transit_switch"]
    assert a["transit_switch"] is not b["transit_switch"]


def test_docs_memory_snippet_runs() -> None:
    """The measurement snippet of docs/replica.md runs (on fewer rows)."""
    text = DOC.read_text(encoding="utf-8")
    (snippet,) = re.findall(r"<!-- measure -->\n```python\n(.*?)```", text, re.S)
    assert "N = 200_000" in snippet
    ns: dict[str, Any] = {}
    exec(compile(snippet.replace("N = 200_000", "N = 300"), str(DOC), "exec"), ns)
    assert 200 < ns["per_row"] < 2000


# --------------------------------------------------------------------------- state machine

IDS = st.dictionaries(st.sampled_from(["lr-id", "nb-id", "x"]), st.sampled_from(["a", "b", "c"]),
                      max_size=3)
ROUTE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "transit_switch": st.sampled_from(["ts1", "ts2"]),
    "availability_zone": st.sampled_from([AZ1, AZ2]),
    "route_table": st.sampled_from(["", "rtb"]),
    "ip_prefix": st.sampled_from(["10.0.0.0/24", "10.0.1.0/24", "fd00::/64"]),
    "nexthop": st.sampled_from(["169.254.100.1", "169.254.100.2"]),
    "origin": st.sampled_from(["connected", "static"]),
    "external_ids": IDS,
}
AZ_VALUES: dict[str, st.SearchStrategy[Any]] = {"name": st.sampled_from(["az1", "az2", "az3"])}
TABLE_VALUES = {"Route": ROUTE_VALUES, "Availability_Zone": AZ_VALUES}
# Client indexes of the machine: (table, name, columns, unique)
CLIENT_INDEXES = [
    ("Route", "by_lr", [("external_ids", "lr-id")], False),
    ("Route", "by_origin", ["origin"], False),
    ("Route", "by_nb", [("external_ids", "nb-id")], True),
    ("Route", "ts_lr", ["transit_switch", ("external_ids", "lr-id")], False),
]
Model = dict[str, dict[uuid.UUID, dict[str, Any]]]


def model_key(row: Mapping[str, Any], columns: Iterable[Any]) -> Any:
    """An index key computed from a model row, independently of the replica."""
    parts = []
    for spec in columns:
        if isinstance(spec, tuple):
            col, key = spec
            if key not in row[col]:
                return MISSING
            parts.append(row[col][key])
        else:
            v = row[spec]
            parts.append(frozenset(v.items()) if isinstance(v, dict) else v)
    return parts[0] if len(parts) == 1 else tuple(parts)


def schema_unique(model: Model) -> bool:
    for table, rows in model.items():
        for cols in SB.tables[table].indexes:
            keys = [model_key(r, cols) for r in rows.values()]
            if len(keys) != len(set(keys)):
                return False
    return True


def replay(model: Model, changes: list[Change]) -> Model:
    """Apply change events to a copy of ``model``, checking each against it."""
    out = {t: dict(rows) for t, rows in model.items()}
    for c in changes:
        rows = out[c.table]
        if c.kind == "insert":
            assert c.old is None and c.new is not None and c.uuid not in rows
            rows[c.uuid] = c.new.to_dict()
        elif c.kind == "modify":
            assert c.old is not None and c.new is not None
            assert rows[c.uuid] == c.old.to_dict() != c.new.to_dict()
            assert c.changed_columns() == {k for k, v in c.new.items() if c.old[k] != v}
            rows[c.uuid] = c.new.to_dict()
        else:
            assert c.new is None and c.old is not None
            assert rows.pop(c.uuid) == c.old.to_dict()
        assert c.uuid == c.row.uuid and c.row.table == c.table
    return out


class ReplicaMachine(RuleBasedStateMachine):
    """Random transactions against a replica and a naive ``{uuid: dict}`` model."""

    def __init__(self) -> None:
        super().__init__()
        self.replica = Replica(SB, {"Route": None, "Availability_Zone": None})
        self.model: Model = {"Route": {}, "Availability_Zone": {}}
        self.next_uuid = 1
        for table, name, columns, unique in CLIENT_INDEXES:
            self.replica.add_index(table, name, columns, unique=unique)
        self.indexed = {name for _, name, _, _ in CLIENT_INDEXES}

    def fresh_uuid(self) -> uuid.UUID:
        self.next_uuid += 1
        return uuid.UUID(int=self.next_uuid)

    def draw_ops(self, data: st.DataObject, model: Model, size: int) -> list[RowUpdate]:
        """Up to ``size`` valid updates; ``model`` is updated to the result."""
        ops: list[RowUpdate] = []
        for _ in range(size):
            table = data.draw(st.sampled_from(sorted(TABLE_VALUES)))
            rows = model[table]
            strategies = TABLE_VALUES[table]
            action = data.draw(st.sampled_from(["insert", "modify", "modify", "v1", "delete"]))
            if action == "insert" or not rows:
                u = self.fresh_uuid()
                values = full(SB, table, **{c: data.draw(s) for c, s in strategies.items()})
                kind = data.draw(st.sampled_from(["insert", "initial"]))
                ops.append(RowUpdate(table, u, kind, new=dict(values)))  # type: ignore[arg-type]
                rows[u] = values
                continue
            u = data.draw(st.sampled_from(sorted(rows)))
            if action == "delete":
                ops.append(RowUpdate(table, u, "delete"))
                del rows[u]
                continue
            old = rows[u]
            changed = data.draw(st.sets(st.sampled_from(sorted(strategies)), max_size=3))
            new = {**old, **{c: data.draw(strategies[c]) for c in changed}}
            if action == "v1":
                ops.append(RowUpdate(table, u, "modify", new=dict(new),
                                     old={c: old[c] for c in changed}))
            else:
                cols = SB.tables[table].columns
                diff = {c: make_diff(cols[c].type, old[c], new[c]) for c in changed}
                ops.append(RowUpdate(table, u, "modify", diff=diff))
            rows[u] = new
        return ops

    @rule(data=st.data(), size=st.integers(0, 6))
    def transaction(self, data: st.DataObject, size: int) -> None:
        after = {t: dict(rows) for t, rows in self.model.items()}
        ops = self.draw_ops(data, after, size)
        if not schema_unique(after):
            event("transaction: not unique, skipped")
            return  # a server would have refused this transaction
        version, txns = self.replica.version, self.replica.txn_count
        changes = self.replica.apply(ops)
        event(f"transaction: {len(changes)} changes "
              f"({'+'.join(sorted({c.kind for c in changes})) or 'none'})")
        assert replay(self.model, changes) == after
        assert self.replica.version == version + bool(changes)
        assert self.replica.txn_count == txns + 1
        touched = {(u.table, u.uuid) for u in ops}
        assert {(c.table, c.uuid) for c in changes} <= touched
        assert len(changes) == len({(c.table, c.uuid) for c in changes})
        initial_inserts = {(u.table, u.uuid) for u in ops if u.kind == "initial"}
        for c in changes:
            assert c.initial == (c.kind == "insert" and (c.table, c.uuid) in initial_inserts)
        self.model = after

    @rule(data=st.data(), size=st.integers(0, 4),
          bad=st.sampled_from(["modify", "delete", "insert", "table"]))
    def failing_transaction(self, data: st.DataObject, size: int, bad: str) -> None:
        after = {t: dict(rows) for t, rows in self.model.items()}
        ops = self.draw_ops(data, after, size)
        existing = [(t, u) for t, rows in after.items() for u in rows]
        if bad == "modify":
            wrong = RowUpdate("Route", self.fresh_uuid(), "modify", diff={"origin": "static"})
        elif bad == "delete":
            wrong = RowUpdate("Availability_Zone", self.fresh_uuid(), "delete")
        elif bad == "insert" and existing:
            t, u = data.draw(st.sampled_from(existing))
            wrong = RowUpdate(t, u, "insert", new=full(SB, t))
        else:
            wrong = RowUpdate("Encap", self.fresh_uuid(), "insert", new=full(SB, "Encap"))
        ops.insert(data.draw(st.integers(0, len(ops))), wrong)
        before = snapshot(self.replica)
        with pytest.raises(RemoteProtocolError):
            self.replica.apply(ops)
        assert snapshot(self.replica) == before

    @rule(data=st.data(), size=st.integers(0, 6))
    def resync(self, data: st.DataObject, size: int) -> None:
        """A reconnect with found=false: a fresh copy that differs by some transactions."""
        after = {t: dict(rows) for t, rows in self.model.items()}
        self.draw_ops(data, after, size)
        if not schema_unique(after):
            return
        copy_ = [RowUpdate(t, u, "initial", new=dict(v)) for t, rows in after.items()
                 for u, v in rows.items()]
        copy_ = data.draw(st.permutations(copy_))
        version = self.replica.version
        changes = self.replica.reset(copy_)
        event(f"resync: {len(changes)} changes")
        assert replay(self.model, changes) == after
        expected = {
            (t, u) for t in after for u in set(after[t]) | set(self.model[t])
            if after[t].get(u) != self.model[t].get(u)
        }
        assert {(c.table, c.uuid) for c in changes} == expected
        assert len(changes) == len(expected) and not any(c.initial for c in changes)
        assert self.replica.version == version + bool(changes)
        self.model = after

    @rule(spec=st.sampled_from(CLIENT_INDEXES))
    def add_index(self, spec: tuple[str, str, list[Any], bool]) -> None:
        """Client indexes go, and come back on a populated replica."""
        table, name, columns, unique = spec
        if name in self.indexed:
            with pytest.raises(LocalProtocolError, match="already has an index"):
                self.replica.add_index(table, name, columns, unique=unique)
            self.replica.remove_index(table, name)
            self.indexed.discard(name)
        else:
            index = self.replica.add_index(table, name, columns, unique=unique)
            assert index.unique == unique and self.replica.table(table).index(name) is index
            self.indexed.add(name)

    @invariant()
    def replica_equals_model(self) -> None:
        for table, rows in self.model.items():
            view = self.replica.table(table)
            assert len(view) == len(rows)
            assert contents(self.replica, table) == rows
            for u in rows:
                row = view.get(u)
                assert row is not None and row.uuid == u and view.rows[u] is row

    @invariant()
    def indexes_agree_with_a_full_scan(self) -> None:
        for table, rows in self.model.items():
            view = self.replica.table(table)
            for ix in view.indexes.values():
                expected: dict[Any, set[uuid.UUID]] = {}
                for u, row in rows.items():
                    k = model_key(row, ix.columns)
                    if k is not MISSING:
                        expected.setdefault(k, set()).add(u)
                assert set(ix.keys()) == set(expected)
                for k, us in expected.items():
                    assert {r.uuid for r in ix.find(k)} == us
                    assert ix.count(k) == len(us)
                    if len(us) == 1:
                        hit = ix.get(k)
                        assert hit is not None and hit.uuid in us
                    else:
                        with pytest.raises(IndexConflictError):
                            ix.get(k)
                conflicts = {k for k, us in expected.items() if len(us) > 1}
                if ix.unique:
                    assert set(ix.conflicts) == conflicts
                    if ix.from_schema:
                        assert not conflicts
                else:
                    assert ix.conflicts == {}
            for _table, name, _columns, _unique in CLIENT_INDEXES:
                if table == "Route" and name not in self.indexed:
                    with pytest.raises(KeyError):
                        view.index(name)


ReplicaMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestReplicaMachine = ReplicaMachine.TestCase



# --------------------------------------------------------------------------- staged apply


def observe(replica: Replica) -> Any:
    """Everything observable about a replica, by value (comparable across replicas)."""
    out: dict[str, Any] = {"version": replica.version, "txn": replica.txn_count}
    for name, t in replica.tables.items():
        out[name] = (
            t.version,
            contents(replica, name),
            {
                ix.name: ({k: frozenset(r.uuid for r in ix.find(k)) for k in ix},
                          frozenset(ix.conflicts))
                for ix in t.indexes.values()
            },
        )
    return out


def staged_replica(share_strings: bool = True) -> Replica:
    r = Replica(SB, {"Route": None, "Availability_Zone": None}, share_strings=share_strings)
    for table, name, columns, unique in CLIENT_INDEXES:
        r.add_index(table, name, columns, unique=unique)
    return r


def copy_updates(updates: Iterable[RowUpdate]) -> list[RowUpdate]:
    """The same updates with fresh value containers (each replica owns its values)."""
    return [u._replace(new=None if u.new is None else copy.deepcopy(dict(u.new)),
                       diff=None if u.diff is None else copy.deepcopy(dict(u.diff)))
            for u in updates]


def draw_row(data: st.DataObject, table: str) -> dict[str, Any]:
    return full(SB, table, **{c: data.draw(s) for c, s in TABLE_VALUES[table].items()})


def draw_full_copy(data: st.DataObject, model: Model, uuids: Iterable[int]) -> list[RowUpdate]:
    """A complete copy: some rows of ``model`` kept (maybe changed), some dropped, some new."""
    fresh = iter(uuids)
    out: list[RowUpdate] = []
    for table, rows in model.items():
        for u, values in rows.items():
            fate = data.draw(st.sampled_from(["keep", "keep", "change", "drop"]))
            if fate == "drop":
                continue
            new = dict(values) if fate == "keep" else draw_row(data, table)
            out.append(RowUpdate(table, u, "initial", new=new))
        for _ in range(data.draw(st.integers(0, 12))):
            out.append(RowUpdate(table, uuid.UUID(int=next(fresh)), "initial",
                                 new=draw_row(data, table)))
    out = data.draw(st.permutations(out)) if data.draw(st.booleans()) else out
    if out and data.draw(st.integers(0, 9)) == 0:  # a broken copy
        i = data.draw(st.integers(0, len(out) - 1))
        bad = data.draw(st.sampled_from(["twice", "modify", "table", "no row"]))
        u = out[i]
        wrong = {
            "twice": u,
            "modify": u._replace(kind="modify"),
            "table": RowUpdate("Encap", u.uuid, "initial", new=full(SB, "Encap")),
            "no row": u._replace(new=None),
        }[bad]
        out.insert(data.draw(st.integers(0, len(out))), wrong)
    return out


def draw_transaction(data: st.DataObject, model: Model, uuids: Iterable[int]) -> list[RowUpdate]:
    """One transaction's updates (inserts, update2 diffs, v1 modifies, deletes), maybe bad."""
    fresh = iter(uuids)
    after = {t: dict(rows) for t, rows in model.items()}
    out: list[RowUpdate] = []
    for _ in range(data.draw(st.integers(0, 25))):
        table = data.draw(st.sampled_from(sorted(TABLE_VALUES)))
        rows = after[table]
        action = data.draw(st.sampled_from(["insert", "insert", "modify", "v1", "delete"]))
        if action == "insert" or not rows:
            u = uuid.UUID(int=next(fresh))
            values = draw_row(data, table)
            kind = data.draw(st.sampled_from(["insert", "initial"]))
            out.append(RowUpdate(table, u, kind, new=dict(values)))  # type: ignore[arg-type]
            rows[u] = values
            continue
        u = data.draw(st.sampled_from(sorted(rows)))
        if action == "delete":
            out.append(RowUpdate(table, u, "delete"))
            del rows[u]
            continue
        old = rows[u]
        strategies = TABLE_VALUES[table]
        changed = data.draw(st.sets(st.sampled_from(sorted(strategies)), max_size=3))
        new = {**old, **{c: data.draw(strategies[c]) for c in changed}}
        if action == "v1":
            out.append(RowUpdate(table, u, "modify", new=dict(new)))
        else:
            cols = SB.tables[table].columns
            out.append(RowUpdate(table, u, "modify",
                                 diff={c: make_diff(cols[c].type, old[c], new[c])
                                       for c in changed}))
        rows[u] = new
    if data.draw(st.integers(0, 9)) == 0:  # a transaction that does not fit
        existing = [(t, u) for t, rows in model.items() for u in rows]
        bad = data.draw(st.sampled_from(["modify", "delete", "insert", "table"]))
        if bad == "insert" and existing:
            t, u = data.draw(st.sampled_from(existing))
            wrong = RowUpdate(t, u, "insert", new=full(SB, t))
        elif bad == "modify":
            wrong = RowUpdate("Route", uuid.UUID(int=next(fresh)), "modify",
                              diff={"origin": "static"})
        elif bad == "delete":
            wrong = RowUpdate("Availability_Zone", uuid.UUID(int=next(fresh)), "delete")
        else:
            wrong = RowUpdate("Encap", uuid.UUID(int=next(fresh)), "insert",
                              new=full(SB, "Encap"))
        out.insert(data.draw(st.integers(0, len(out))), wrong)
    return out


def run_staged(replica: Replica, updates: list[RowUpdate], initial: bool,
               steps: list[int]) -> list[Change]:
    staged = replica.stage(updates, initial=initial)
    assert staged.total == len(updates) and staged.state == "staging"
    before = observe(replica)
    i = 0
    while not staged.step(steps[i % len(steps)]):
        i += 1
        # Readers never see a half-applied batch.
        if i % 3 == 0:
            assert observe(replica) == before
    assert staged.done and staged.state == "ready"
    assert staged.processed == staged.total == len(updates)
    assert observe(replica) == before
    changes = staged.commit()
    assert staged.state == "committed"
    return changes


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_staged_apply_in_any_steps_equals_one_shot(data: st.DataObject) -> None:
    """Property: staging a batch in any steps, then committing, is apply/reset in one go:
    the same changes in the same order, rows, indexes (and their conflicts), counters;
    the same error and an untouched replica for a batch that does not fit."""
    share = data.draw(st.booleans())
    one, staged = staged_replica(share), staged_replica(share)
    counter = iter(range(1000, 10**6))
    model: Model = {"Route": {}, "Availability_Zone": {}}
    if data.draw(st.booleans()):  # start from a populated replica (else: the empty fast path)
        start = [u for u in draw_full_copy(data, model, counter)]
        start = [u for u in start if u.table != "Encap" and u.kind == "initial"
                 and u.new is not None]
        start = list({(u.table, u.uuid): u for u in start}.values())
        one.reset(copy_updates(start))
        staged.reset(copy_updates(start))
        for u in start:
            assert u.new is not None
            model[u.table][u.uuid] = dict(u.new)
    initial = data.draw(st.booleans())
    batch = (draw_full_copy if initial else draw_transaction)(data, model, counter)
    steps = data.draw(st.lists(st.integers(1, 9), min_size=1, max_size=4))
    kept = {name: {r.uuid: r for r in staged.table(name)} for name in staged.tables}

    expected: list[Change] | RemoteProtocolError
    try:
        expected = (one.reset if initial else one.apply)(copy_updates(batch))
    except RemoteProtocolError as exc:
        expected = exc
    before = observe(staged)
    try:
        got: list[Change] | RemoteProtocolError = run_staged(
            staged, copy_updates(batch), initial, steps)
    except RemoteProtocolError as exc:
        got = exc
    if isinstance(expected, RemoteProtocolError):
        event("staged: batch refused")
        assert isinstance(got, RemoteProtocolError) and str(got) == str(expected)
        assert observe(staged) == before
        return
    event(f"staged: {'full copy' if initial else 'transaction'}, {len(expected)} changes")
    assert isinstance(got, list)
    assert got == expected  # Change equality: table, kind, uuid, old and new rows, initial
    assert observe(staged) == observe(one)
    changed = {(c.table, c.uuid) for c in got}
    for name, rows in kept.items():  # rows a batch does not change stay the same objects
        for u, row in rows.items():
            if (name, u) not in changed:
                assert staged.table(name).get(u) is row


def test_staged_initial_copy_into_an_empty_replica() -> None:
    """The common case: a big initial copy, built off to the side and swapped in at once."""
    one, staged = route_replica(), route_replica()
    staged.add_index("Route", "by_lr", [("external_ids", "lr-id")])
    one.add_index("Route", "by_lr", [("external_ids", "lr-id")])
    batch = [ins("Availability_Zone", AZ1, full(SB, "Availability_Zone", name="az1"), "initial")]
    batch += [ins("Route", U(i), route(ip_prefix=f"10.{i >> 8}.{i & 255}.0/24",
                                       external_ids={"lr-id": f"lr{i % 3}", "nb-id": f"n{i}"}),
                  "initial") for i in range(1, 3001)]
    st_ = staged.stage(copy_updates(batch), initial=True)
    assert "staging" in repr(st_)
    steps = 0
    while not st_.step(100):
        steps += 1
        assert len(staged.table("Route")) == 0 and staged.version == 0
    assert steps > 30
    changes = st_.commit()
    assert changes == one.reset(copy_updates(batch))
    assert len(changes) == 3001 and {c.kind for c in changes} == {"insert"}
    assert not any(c.initial for c in changes)  # reset semantics: ordinary inserts
    assert observe(staged) == observe(one)
    assert len(staged.table("Route").lookup("by_lr", "lr1")) == 1000
    assert staged.table("Route").version == 1 and staged.txn_count == 1


def test_staged_full_copy_consumes_its_list() -> None:
    """stage(consume=True) drops each update once its row is built: same result, and the
    list ends up holding only None (the decoded updates can be freed during the copy)."""
    batch = [ins("Availability_Zone", AZ1, full(SB, "Availability_Zone", name="az1"), "initial")]
    batch += [ins("Route", U(i), route(ip_prefix=f"10.{i >> 8}.{i & 255}.0/24"), "initial")
              for i in range(1, 2001)]
    one, staged = route_replica(), route_replica()
    expected = one.reset(copy_updates(batch))
    updates = copy_updates(batch)
    st_ = staged.stage(updates, initial=True, consume=True)
    assert st_.total == len(batch)
    seen_none = False
    while not st_.step(300):
        # Each step releases exactly the updates it has read, from the front.
        done = st_.processed
        assert updates[:done] == [None] * done
        assert None not in updates[done:]
        seen_none = seen_none or done > 0
    assert seen_none
    assert st_.commit() == expected
    assert updates == [None] * len(batch)
    assert observe(staged) == observe(one)
    # Only a list can be given up; a transaction (not a full copy) leaves it as it is.
    with pytest.raises(TypeError, match="list"):
        staged.stage(tuple(batch), initial=True, consume=True)
    mods = [RowUpdate("Route", U(1), "modify", diff={"nexthop": "10.9.9.9"})]
    staged.stage(mods, consume=True).commit()
    assert mods[0] is not None and staged.table("Route")[U(1)]["nexthop"] == "10.9.9.9"


def test_staged_consumed_copy_keeps_decoded_maps_and_shares_their_values() -> None:
    """Decoded maps (keys interned by the decoder) given up with consume=True become the
    rows' maps, their repeated values shared; maps not given up are copied."""
    import orjson

    def wire(n: int) -> Any:
        return orjson.loads(orjson.dumps({"Route": {
            str(U(i)): {"initial": {
                "ip_prefix": f"10.{i >> 8}.{i & 255}.0/24",
                "external_ids": ["map", [["lr-id", f"lr{i % 2}"], ["nb-id", f"nb{i}"]]]}}
            for i in range(1, n + 1)}}))

    kept = decode_update2(SB, wire(3000))
    maps = {id(u.new["external_ids"]) for u in kept}  # type: ignore[index]
    given, copied = route_replica(), route_replica()
    given.stage(list(kept), initial=True, consume=True).commit()
    copied.stage(kept, initial=True).commit()
    assert observe(given) == observe(copied)
    for r in (given, copied):
        first, third = r.table("Route")[U(1)], r.table("Route")[U(3)]
        assert first["external_ids"]["lr-id"] is third["external_ids"]["lr-id"]

    def held(r: Replica) -> set[int]:
        pos = r.table("Route")._layout.positions["external_ids"]
        return {id(row._values[pos]) for row in r.table("Route")}

    assert held(given) == maps  # the decoded dicts themselves
    assert not held(copied) & maps  # new dicts: the caller still holds its updates


def test_staged_rows_share_strings() -> None:
    r = route_replica()
    n = LIMIT + 500
    batch = [ins("Route", U(i), route(
        ip_prefix=f"10.{i >> 8}.{i & 255}.0/24", transit_switch="".join(["t", "s1"]),
        external_ids={"".join(["lr", "-id"]): "".join(["lr", "1"]), "nb-id": f"nb{i}"}
        if i % 7 else {"nb-id": f"nb{i}"},  # two shapes of map
    ), "initial") for i in range(n)]
    r.stage(batch, initial=True).commit()
    rows = list(r.table("Route"))
    first, last = rows[1], rows[-1]
    assert first["transit_switch"] is last["transit_switch"]
    assert first["external_ids"]["lr-id"] is last["external_ids"]["lr-id"]
    k1, k2 = next(iter(first["external_ids"])), next(iter(last["external_ids"]))
    assert k1 is k2
    assert dict(rows[0]["external_ids"]) == {"nb-id": "nb0"}
    table = r.table("Route")
    cached = [table.columns[pos] for pos, _ in table._interner._scalars]
    assert "ip_prefix" not in cached and "transit_switch" in cached
    assert "nb-id" in table._interner._maps[0][3]
    # later ordinary transactions keep sharing
    r.apply([ins("Route", U(n + 1), route(transit_switch="".join(["t", "s1"])))])
    assert r.table("Route")[U(n + 1)]["transit_switch"] is first["transit_switch"]


def test_staged_apply_refuses_a_changed_replica() -> None:
    r = route_replica()
    staged = r.stage([ins("Route", U(1), route())])
    r.apply([ins("Route", U(2), route(ip_prefix="10.9.9.0/24"))])
    with pytest.raises(LocalProtocolError) as info:
        staged.step()
    assert type(info.value).__name__ == "StaleStageError"
    assert staged.state == "aborted"
    with pytest.raises(LocalProtocolError, match="aborted"):
        staged.commit()
    # stale between the last step and the commit too
    staged = r.stage([ins("Route", U(3), route(ip_prefix="10.9.8.0/24"))])
    assert staged.step(100)
    r.clear()
    from ovsdb_ic.replica import StaleStageError
    with pytest.raises(StaleStageError):
        staged.commit()
    assert len(r.table("Route")) == 0


def test_staged_apply_abort_failure_and_misuse() -> None:
    r = route_replica()
    r.apply([ins("Route", U(1), route())])
    before = snapshot(r)
    with r.stage([ins("Route", U(i), route(ip_prefix=f"10.1.{i}.0/24"))
                  for i in range(2, 50)]) as staged:
        staged.step(10)
    assert staged.state == "aborted" and snapshot(r) == before
    staged.abort()  # idempotent
    with pytest.raises(LocalProtocolError, match="aborted"):
        staged.step()
    with pytest.raises(ValueError):
        r.stage([]).step(0)
    # a bad update fails the step that reaches it; the replica is untouched
    bad = r.stage([ins("Route", U(5), route(ip_prefix="x")), dele("Route", U(99))])
    with pytest.raises(RemoteProtocolError, match="does not have"):
        bad.commit()
    assert bad.state == "failed" and snapshot(r) == before
    with pytest.raises(LocalProtocolError, match="failed"):
        bad.step()
    # an empty batch commits as an empty transaction
    empty = r.stage([], initial=False)
    assert empty.commit() == [] and r.txn_count == before["txn"] + 1
    with pytest.raises(LocalProtocolError, match="committed"):
        empty.commit()


def test_indexes_added_or_removed_while_staged() -> None:
    r = staged_replica()
    r.reset([ins("Route", U(1), route(), "initial")])
    batch = [ins("Route", U(i), route(ip_prefix=f"10.2.{i}.0/24", origin="static"))
             for i in range(2, 40)]
    staged = r.stage(batch)
    staged.step(50)
    added = r.add_index("Route", "by_prefix", "ip_prefix", unique=True)
    r.remove_index("Route", "by_origin")
    staged.commit()
    assert len(added) == 39 and added.get("10.2.7.0/24") is r.table("Route")[U(7)]
    with pytest.raises(KeyError):
        r.table("Route").index("by_origin")
    # the same for a full copy into an empty replica (indexes built beforehand)
    r2 = staged_replica()
    staged = r2.stage([u._replace(kind="initial") for u in batch], initial=True)
    staged.step(60)
    r2.remove_index("Route", "by_lr")
    late = r2.add_index("Route", "by_origin2", "origin")
    staged.commit()
    assert len(late.find("static")) == 38
    assert "by_lr" not in r2.table("Route").indexes


def test_gc_paused_counts_and_restores() -> None:
    import gc

    from ovsdb_ic.replica import gc_paused
    from ovsdb_ic.replica._gc import pause, resume

    assert gc.isenabled()
    pause()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the outer pause still holds
    resume()
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        resume()
    with gc_paused(active=False):
        assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector the program disabled stays disabled
    finally:
        gc.enable()
    # promotion: the objects allocated meanwhile land in the oldest generation
    with gc_paused(promote=True):
        young = [[i] for i in range(5000)]
    assert gc.get_count()[0] < 100 and gc.get_freeze_count() == 0
    assert young[-1] == [4999]
    with gc_paused(promote=True):
        with gc_paused():
            pass
        assert not gc.isenabled()  # the outer pause still holds; nothing promoted yet
    assert gc.isenabled()
    gc.freeze()  # a program that keeps objects frozen keeps them frozen
    try:
        frozen = gc.get_freeze_count()
        with gc_paused(promote=True):
            more = [[i] for i in range(10)]
        assert gc.get_freeze_count() == frozen and len(more) == 10
    finally:
        gc.unfreeze()
    # a staged step pauses only inside the step
    r = route_replica()
    staged = r.stage([ins("Route", U(i), route(ip_prefix=str(i))) for i in range(3000)])
    staged.step(10)
    assert gc.isenabled()
    staged.commit()
    assert gc.isenabled() and len(r.table("Route")) == 3000


def test_live_replica_applies_a_big_batch_in_steps() -> None:
    """LiveReplica stages big batches: other tasks run between its steps, and nobody
    sees the batch before it is complete (no server needed: the monitor is fed by hand)."""
    import trio

    from ovsdb_ic.client.live import LiveReplica
    from ovsdb_ic.client.monitor import Monitor, UpdateBatch

    replica = route_replica()
    mon = Monitor("m1", SB, replica.monitor_requests(), "monitor_cond")
    live = LiveReplica(replica, mon, stage_threshold=1000, step_budget=0.002)
    n = 20_000
    mon._deliver(UpdateBatch(tuple(
        ins("Route", U(i), route(ip_prefix=f"10.{i >> 8}.{i & 255}.0/24"), "initial")
        for i in range(1, n + 1)), initial=True))
    mon._deliver(UpdateBatch((dele("Route", U(1)),)))
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(len(replica.table("Route")))
            await trio.lowlevel.checkpoint()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch)
            await trio.lowlevel.checkpoint()
            nursery.start_soon(live.run)
            await live.wait_for(lambda r: len(r.table("Route")) == n - 1)
            mon.close()
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert live.staged_batches == 1 and live.transactions == 2
    assert len(replica.table("Route")) == n - 1
    assert 0 < live.longest_step < 1.0
    during = [s for s in seen if s == 0]
    assert len(during) > 10  # the watcher ran many times while the batch was staged
    assert set(seen) <= {0, n, n - 1}  # never a partial table


# --------------------------------------------------------------------------- insert runs


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_insert_runs_built_column_wise_equal_row_by_row(data: st.DataObject) -> None:
    """Property: a transaction whose inserts of one table come in runs (the echo of a big
    transaction) gives the same changes, rows, indexes, counters and errors whether its
    runs are built a column at a time (``_stage_inserts``) or update by update; also
    when a run re-inserts a row it deleted, inserts a row twice or one the replica has."""
    from ovsdb_ic.replica import replica as replica_mod

    share = data.draw(st.booleans())
    columnwise, each = staged_replica(share), staged_replica(share)
    counter = iter(range(1000, 10**6))
    model: Model = {"Route": {}, "Availability_Zone": {}}
    start = [u for u in draw_full_copy(data, model, counter)
             if u.table != "Encap" and u.kind == "initial" and u.new is not None]
    start = list({(u.table, u.uuid): u for u in start}.values())
    columnwise.reset(copy_updates(start))
    each.reset(copy_updates(start))
    for u in start:
        assert u.new is not None
        model[u.table][u.uuid] = dict(u.new)
    batch = draw_transaction(data, model, counter)
    for _ in range(data.draw(st.integers(1, 3))):  # runs of inserts, somewhere
        table = data.draw(st.sampled_from(sorted(TABLE_VALUES)))
        run = [RowUpdate(table, uuid.UUID(int=next(counter)),
                         data.draw(st.sampled_from(["insert", "initial"])),
                         new=draw_row(data, table))
               for _ in range(data.draw(st.integers(2, 8)))]
        trouble = data.draw(st.sampled_from(["none"] * 5 + ["twice", "again", "deleted"]))
        if trouble == "twice":
            run.append(run[0])
        elif trouble == "again" and model[table]:
            u = data.draw(st.sampled_from(sorted(model[table])))
            run.append(RowUpdate(table, u, "insert", new=draw_row(data, table)))
        elif trouble == "deleted" and model[table]:
            # Deleted earlier in the transaction (another table's update in between),
            # inserted again by the run: allowed.
            u = data.draw(st.sampled_from(sorted(model[table])))
            other = "Route" if table == "Availability_Zone" else "Availability_Zone"
            run[:0] = [RowUpdate(table, u, "delete"),
                       RowUpdate(other, uuid.UUID(int=next(counter)), "insert",
                                 new=draw_row(data, other))]
            run.append(RowUpdate(table, u, "insert", new=draw_row(data, table)))
        at = data.draw(st.integers(0, len(batch)))
        batch[at:at] = run

    as_tuple = data.draw(st.booleans())  # a monitor's batch holds a tuple

    def outcome(replica: Replica, run_min: int) -> Any:
        before = observe(replica)
        saved = replica_mod._RUN_MIN
        replica_mod._RUN_MIN = run_min  # type: ignore[misc]
        try:
            updates = copy_updates(batch)
            return replica.apply(tuple(updates) if as_tuple else updates)
        except RemoteProtocolError as exc:
            assert observe(replica) == before
            return str(exc)
        finally:
            replica_mod._RUN_MIN = saved  # type: ignore[misc]

    built = []
    stage_inserts = replica_mod._stage_inserts

    def spy(*args: Any) -> bool:
        done = stage_inserts(*args)
        built.append(done)
        return done

    replica_mod._stage_inserts = spy  # type: ignore[assignment]
    try:
        got = outcome(columnwise, 2)
    finally:
        replica_mod._stage_inserts = stage_inserts  # type: ignore[assignment]
    expected = outcome(each, 10**9)
    event("refused" if isinstance(expected, str) else "applied")
    event(f"runs built column-wise: {min(sum(built), 3)}")
    assert got == expected
    assert observe(columnwise) == observe(each)


# --------------------------------------------------------------------------- getters


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_layout_getter_equals_row_lookups(data: st.DataObject) -> None:
    """Property: ``layout.getter(*cols)(row)`` is ``tuple(row[c] for c in cols)`` for any
    columns (maps read-only, as ``row[...]`` gives them), for rows of its layout and of
    another layout of the same table; an unknown column is a KeyError."""
    r = route_replica()
    r.apply([ins("Route", U(1), draw_row(data, "Route"))])
    row = r.table("Route").get(U(1))
    assert row is not None
    layout = row.layout
    cols = data.draw(st.lists(st.sampled_from(layout.columns), max_size=5))
    get = layout.getter(*cols)
    got = get(row)
    assert got == tuple(row[c] for c in cols)
    for c, v in zip(cols, got, strict=True):
        assert type(v) is type(row[c])
        if layout.is_map[layout.positions[c]]:
            with pytest.raises(TypeError):
                v["x"] = "y"  # read-only
    # A row of another layout of the table (other columns held): looked up by name.
    other = Replica(SB, {"Route": tuple(reversed(layout.columns))})
    other.apply([ins("Route", U(1), dict(row.to_dict()))])
    orow = other.table("Route").get(U(1))
    assert orow is not None and orow.layout is not layout
    assert get(orow) == got
    with pytest.raises(KeyError, match="nope"):
        layout.getter("ip_prefix", "nope")
