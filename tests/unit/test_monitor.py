"""Monitor requests and the decoding of update, update2 and update3."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import DataError, LocalProtocolError, RemoteProtocolError
from ovsdb_ic.wire.data import datum_to_json, make_diff
from ovsdb_ic.wire.monitor import (
    ZERO_TXN_ID,
    MonitorRequest,
    RowUpdate,
    TableDecoder,
    apply_update,
    decode_cond_since_reply,
    decode_update,
    decode_update2,
    decode_update3_params,
    default_value,
    monitor_cond_change_params,
    monitor_params,
)
from ovsdb_ic.wire.ops import Condition
from ovsdb_ic.wire.schema import BaseType, ColumnType, TableSchema
from tests.strategies import schema, values

SB = schema("OVN_IC_Southbound")
NB = schema("OVN_Northbound")

U1 = "0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e"
U2 = "ffffffff-0000-4000-8000-000000000001"
U3 = "12345678-9abc-4def-8123-456789abcdef"
R1 = "00000000-0000-4000-8000-00000000000a"
R2 = "00000000-0000-4000-8000-00000000000b"
TXN = "5f2a1c3e-0000-4000-8000-123456789abc"

ROUTE_DEFAULTS = {
    "transit_switch": "", "availability_zone": uuid.UUID(int=0), "route_table": "",
    "ip_prefix": "", "nexthop": "", "origin": "", "external_ids": {},
}


def _jsonify(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _route_json(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "transit_switch": "ts1", "availability_zone": ["uuid", U1], "route_table": "",
        "ip_prefix": "10.0.0.0/24", "nexthop": "169.254.100.1", "origin": "connected",
        "external_ids": ["map", [["k", "v"]]],
    }
    row.update(over)
    return row


def _route(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "transit_switch": "ts1", "availability_zone": uuid.UUID(U1), "route_table": "",
        "ip_prefix": "10.0.0.0/24", "nexthop": "169.254.100.1", "origin": "connected",
        "external_ids": {"k": "v"},
    }
    row.update(over)
    return row


# --------------------------------------------------------------------------- update2


def test_decode_update2_kinds() -> None:
    updates = decode_update2(SB, {
        "Route": {
            R1: {"initial": _route_json()},
            R2: {"insert": _route_json(origin="static")},
        },
        "Availability_Zone": {
            U1: {"modify": {"name": "az-renamed"}},
            U2: {"delete": None},
            U3: {"delete": {"name": "gone"}},
        },
    })
    assert updates == [
        RowUpdate("Route", uuid.UUID(R1), "initial", new=_route()),
        RowUpdate("Route", uuid.UUID(R2), "insert", new=_route(origin="static")),
        RowUpdate("Availability_Zone", uuid.UUID(U1), "modify", diff={"name": "az-renamed"}),
        RowUpdate("Availability_Zone", uuid.UUID(U2), "delete"),
        RowUpdate("Availability_Zone", uuid.UUID(U3), "delete", old={"name": "gone"}),
    ]


def test_decode_update2_fills_defaults() -> None:
    (upd,) = decode_update2(SB, {"Route": {R1: {"insert": {"ip_prefix": "10.0.0.0/8"}}}})
    assert upd.new == {**ROUTE_DEFAULTS, "ip_prefix": "10.0.0.0/8"}
    (pb,) = decode_update2(SB, {"Port_Binding": {R1: {"initial": {}}}})
    assert pb.new is not None
    assert pb.new["encap"] is None  # optional
    assert pb.new["tunnel_key"] == 0
    assert pb.new["external_ids"] == {}
    # Gateway.encaps has min 1: like ovsdb-server, its default is one default atom.
    (gw,) = decode_update2(SB, {"Gateway": {R1: {"initial": {}}}})
    assert gw.new is not None and gw.new["encaps"] == frozenset({uuid.UUID(int=0)})
    (lrp,) = decode_update2(NB, {"Logical_Router_Port": {R1: {"insert": {"name": "p"}}}})
    assert lrp.new is not None and lrp.new["networks"] == frozenset({""})
    (ssl,) = decode_update2(SB, {"SSL": {R1: {"initial": {}}}})
    assert ssl.new is not None and ssl.new["bootstrap_ca_cert"] is False


def test_default_values() -> None:
    assert default_value(ColumnType(BaseType("integer"))) == 0
    real = default_value(ColumnType(BaseType("real")))
    assert real == 0.0 and type(real) is float
    assert default_value(ColumnType(BaseType("boolean"))) is False
    assert default_value(ColumnType(BaseType("string"))) == ""
    assert default_value(ColumnType(BaseType("uuid"))) == uuid.UUID(int=0)
    assert default_value(ColumnType(BaseType("string"), None, 0, 1)) is None
    assert default_value(ColumnType(BaseType("string"), None, 0, None)) == frozenset()
    assert default_value(ColumnType(BaseType("string"), BaseType("string"), 0, None)) == {}
    # min 1: one default atom (pair), as ovsdb-server fills new rows.
    assert default_value(ColumnType(BaseType("string"), None, 1, None)) == frozenset({""})
    assert default_value(ColumnType(BaseType("integer"), None, 1, 5)) == frozenset({0})
    assert default_value(ColumnType(BaseType("string"), BaseType("integer"), 1, None)) == {"": 0}


def test_decode_update2_ignores_unknown_columns() -> None:
    (upd,) = decode_update2(SB, {"Route": {R1: {"initial": _route_json(new_col=["set", [1]])}}})
    assert upd.new == _route()
    (mod,) = decode_update2(SB, {"Route": {R1: {"modify": {"new_col": 5, "nexthop": "x"}}}})
    assert mod.diff == {"nexthop": "x"}


def test_decode_update2_restricted_columns() -> None:
    cols = {"Route": ["ip_prefix", "nexthop"]}
    (upd,) = decode_update2(SB, {"Route": {R1: {"initial": _route_json()}}}, columns=cols)
    assert upd.new == {"ip_prefix": "10.0.0.0/24", "nexthop": "169.254.100.1"}


def test_decode_update2_reuses_decoder_cache() -> None:
    cache: dict[str, TableDecoder] = {}
    decode_update2(SB, {"Route": {R1: {"initial": {}}}}, decoders=cache)
    assert set(cache) == {"Route"}
    route_dec = cache["Route"]
    decode_update2(SB, {"Route": {R2: {"initial": {}}}}, decoders=cache)
    assert cache["Route"] is route_dec


def test_decode_update2_unknown_table() -> None:
    with pytest.raises(RemoteProtocolError, match="Logical_Switch"):
        decode_update2(SB, {"Logical_Switch": {R1: {"initial": {}}}})


@pytest.mark.parametrize(
    ("updates", "where"),
    [
        ([], None),
        ({"Route": []}, "Route"),
        ({"Route": {"not-a-uuid": {"initial": {}}}}, "Route"),
        ({"Route": {R1: {}}}, "Route"),
        ({"Route": {R1: {"initial": {}, "modify": {}}}}, "Route"),
        ({"Route": {R1: {"upsert": {}}}}, "Route"),
        ({"Route": {R1: ["initial", {}]}}, "Route"),
        ({"Route": {R1: {"initial": []}}}, "Route"),
        ({"Route": {R1: {"modify": "x"}}}, "Route"),
        ({"Route": {R1: {"initial": {"origin": "bogus"}}}}, "Route.origin"),
        ({"Route": {R1: {"insert": {"ip_prefix": 5}}}}, "Route.ip_prefix"),
        ({"Route": {R1: {"modify": {"availability_zone": "x"}}}}, "Route.availability_zone"),
        ({"Route": {R1: {"modify": {"external_ids": ["set", []]}}}}, "Route.external_ids"),
    ],
)
def test_decode_update2_malformed(updates: Any, where: str | None) -> None:
    with pytest.raises(DataError) as exc:
        decode_update2(SB, updates)
    assert exc.value.where == where


def test_decode_update2_uppercase_row_uuid() -> None:
    (upd,) = decode_update2(SB, {"Availability_Zone": {R1.upper(): {"initial": {"name": "a"}}}})
    assert upd.uuid == uuid.UUID(R1)


# --------------------------------------------------------------------------- update (v1)


def test_decode_update_v1() -> None:
    updates = decode_update(SB, {
        "Route": {
            R1: {"new": _route_json()},
            R2: {"old": {"nexthop": "1.1.1.1", "external_ids": ["map", []]},
                 "new": _route_json()},
            U1: {"old": _route_json()},
        },
    })
    assert updates == [
        RowUpdate("Route", uuid.UUID(R1), "insert", new=_route()),
        RowUpdate("Route", uuid.UUID(R2), "modify", new=_route(),
                  old={"nexthop": "1.1.1.1", "external_ids": {}}),
        RowUpdate("Route", uuid.UUID(U1), "delete", old=_route()),
    ]
    (initial,) = decode_update(SB, {"Route": {R1: {"new": {}}}}, initial=True)
    assert initial.kind == "initial" and initial.new == ROUTE_DEFAULTS


@pytest.mark.parametrize(
    "updates",
    [
        [],
        {"Route": 5},
        {"Route": {R1: {}}},
        {"Route": {R1: {"new": {}, "diff": {}}}},
        {"Route": {R1: {"new": 5}}},
        {"Route": {"x": {"new": {}}}},
        {"Route": {R1: {"new": {"origin": "bogus"}}}},
        {"Route": {R1: {"old": {"origin": 1}, "new": {}}}},
    ],
)
def test_decode_update_v1_malformed(updates: Any) -> None:
    with pytest.raises(DataError):
        decode_update(SB, updates)


def test_decode_update_v1_unknown_table() -> None:
    with pytest.raises(RemoteProtocolError, match="Nope"):
        decode_update(SB, {"Nope": {R1: {"new": {}}}})


# --------------------------------------------------------------------------- cond_since, update3


def test_decode_cond_since_reply() -> None:
    found, txn, updates = decode_cond_since_reply(
        SB, [True, TXN, {"Availability_Zone": {U1: {"insert": {"name": "az2"}}}}]
    )
    assert found is True
    assert txn == TXN
    assert updates == [RowUpdate("Availability_Zone", uuid.UUID(U1), "insert",
                                 new={"name": "az2"})]
    found, txn, updates = decode_cond_since_reply(SB, [False, TXN, {}])
    assert (found, txn, updates) == (False, TXN, [])
    cols = {"Route": ["nexthop"]}
    _, _, ups = decode_cond_since_reply(SB, [False, TXN, {"Route": {R1: {"initial": {}}}}],
                                        columns=cols)
    assert ups[0].new == {"nexthop": ""}


@pytest.mark.parametrize(
    "result",
    [None, {}, [True, TXN], [1, TXN, {}], ["true", TXN, {}], [True, 5, {}], [True, TXN, []],
     [True, TXN, {}, None]],
)
def test_decode_cond_since_reply_malformed(result: Any) -> None:
    with pytest.raises(DataError):
        decode_cond_since_reply(SB, result)


def test_decode_update3_params() -> None:
    mon, txn, updates = decode_update3_params(
        SB, [["ic-sb", 7], TXN, {"Route": {R1: {"delete": None}}}]
    )
    assert mon == ["ic-sb", 7]
    assert txn == TXN
    assert updates == [RowUpdate("Route", uuid.UUID(R1), "delete")]


@pytest.mark.parametrize("params", [None, [None, TXN], [None, 5, {}], [None, TXN, []]])
def test_decode_update3_params_malformed(params: Any) -> None:
    with pytest.raises(DataError):
        decode_update3_params(SB, params)


# --------------------------------------------------------------------------- apply_update


def test_apply_update_sequence() -> None:
    route = SB.table("Route")
    ext = {"a": "1", "b": "2"}
    steps = [
        {R1: {"insert": _route_json(external_ids=["map", [["a", "1"], ["b", "2"]]])}},
        # a: same value -> removed; b: new value -> replaced; c: new key -> added.
        {R1: {"modify": {"nexthop": "169.254.100.2",
                         "external_ids": ["map", [["a", "1"], ["b", "3"], ["c", "4"]]]}}},
        {R1: {"modify": {"origin": "static"}}},
        {R1: {"delete": None}},
    ]
    expected = [
        _route(external_ids=ext),
        _route(nexthop="169.254.100.2", external_ids={"b": "3", "c": "4"}),
        _route(nexthop="169.254.100.2", external_ids={"b": "3", "c": "4"}, origin="static"),
        None,
    ]
    row: dict[str, Any] | None = None
    for step, want in zip(steps, expected, strict=True):
        (upd,) = decode_update2(SB, {"Route": step})
        row = apply_update(route, row, upd)
        assert row == want


def test_apply_update_sets_and_optional() -> None:
    gw = SB.table("Gateway")
    (ins,) = decode_update2(SB, {"Gateway": {R1: {"initial": {
        "name": "gw", "encaps": ["set", [["uuid", U1], ["uuid", U2]]]}}}})
    row = apply_update(gw, None, ins)
    assert row is not None and row["encaps"] == {uuid.UUID(U1), uuid.UUID(U2)}
    (mod,) = decode_update2(SB, {"Gateway": {R1: {"modify": {
        "encaps": ["set", [["uuid", U2], ["uuid", U3]]]}}}})
    row = apply_update(gw, row, mod)
    assert row is not None and row["encaps"] == {uuid.UUID(U1), uuid.UUID(U3)}
    assert row["name"] == "gw"

    # Optional columns: the modify carries the new value (as ovsdb-server 3.1 sends
    # for IC_SB_Global.ssl), plus _version, which is not a schema column.
    glob = SB.table("IC_SB_Global")
    (ins,) = decode_update2(SB, {"IC_SB_Global": {R1: {"insert": {
        "_version": ["uuid", U3], "options": ["map", [["k", "v"]]], "ssl": ["uuid", U1]}}}})
    row = apply_update(glob, None, ins)
    assert row == {"ssl": uuid.UUID(U1), "options": {"k": "v"}, "external_ids": {},
                   "connections": frozenset()}
    for diff, want in ((["uuid", U2], uuid.UUID(U2)),
                       (["set", []], None),
                       (["set", [["uuid", U1]]], uuid.UUID(U1))):
        (mod,) = decode_update2(SB, {"IC_SB_Global": {R1: {"modify": {
            "_version": ["uuid", U3], "ssl": diff}}}})
        row = apply_update(glob, row, mod)
        assert row is not None and row["ssl"] == want
        assert row["options"] == {"k": "v"}


def test_apply_update_v1_modify_and_missing_row() -> None:
    route = SB.table("Route")
    (mod,) = decode_update(SB, {"Route": {R1: {"old": {"nexthop": "x"},
                                               "new": _route_json()}}})
    assert apply_update(route, _route(nexthop="x"), mod) == _route()
    (mod2,) = decode_update2(SB, {"Route": {R1: {"modify": {"nexthop": "y"}}}})
    with pytest.raises(RemoteProtocolError):
        apply_update(route, None, mod2)
    # The replica row is not changed in place.
    old = _route()
    assert apply_update(route, old, mod2) == _route(nexthop="y")
    assert old == _route()


# --------------------------------------------------------------------------- requests


def test_monitor_params_plain_monitor() -> None:
    params = monitor_params(SB, None, [
        MonitorRequest("Route", columns=("ip_prefix", "nexthop")),
        MonitorRequest("Availability_Zone"),
    ], method="monitor")
    assert params == [
        "OVN_IC_Southbound", None,
        {"Route": [{"columns": ["ip_prefix", "nexthop"]}], "Availability_Zone": [{}]},
    ]


def test_monitor_cond_with_where() -> None:
    params = monitor_params(SB, "mon", [
        MonitorRequest("Route", where=(Condition("availability_zone", "==", uuid.UUID(U1)),
                                       Condition("origin", "!=", "static"))),
        MonitorRequest("Port_Binding", where=(True,)),
        MonitorRequest("Gateway", where=()),
    ])
    assert params == [
        "OVN_IC_Southbound", "mon",
        {
            "Route": [{"where": [["availability_zone", "==", ["uuid", U1]],
                                 ["origin", "!=", "static"]]}],
            "Port_Binding": [{"where": [True]}],
            "Gateway": [{"where": []}],
        },
    ]


def test_monitor_cond_since() -> None:
    params = monitor_params(SB, ["sb", 1], [MonitorRequest("Availability_Zone")],
                            method="monitor_cond_since", last_txn_id=TXN)
    assert params == ["OVN_IC_Southbound", ["sb", 1], {"Availability_Zone": [{}]}, TXN]
    first = monitor_params(SB, 1, [MonitorRequest("Availability_Zone")],
                           method="monitor_cond_since")
    assert first[3] == ZERO_TXN_ID == "00000000-0000-0000-0000-000000000000"
    assert len(monitor_params(SB, 1, [MonitorRequest("Route")])) == 3


def test_select_flags() -> None:
    (req,) = monitor_params(SB, 0, [MonitorRequest("Route", initial=False, modify=False)],
                            method="monitor")[2]["Route"]
    assert req == {"select": {"initial": False, "insert": True, "delete": True,
                              "modify": False}}
    all_on = MonitorRequest("Route").to_json(SB, cond=True)
    assert "select" not in all_on


def test_several_requests_for_one_table() -> None:
    params = monitor_params(SB, 0, [MonitorRequest("Route", columns=("nexthop",)),
                                    MonitorRequest("Route", columns=("origin",))],
                            method="monitor")
    assert params[2] == {"Route": [{"columns": ["nexthop"]}, {"columns": ["origin"]}]}


def test_conditions_rejected_for_plain_monitor() -> None:
    with pytest.raises(LocalProtocolError):
        monitor_params(SB, 0, [MonitorRequest("Route", where=(True,))], method="monitor")


@pytest.mark.parametrize(
    "req",
    [
        MonitorRequest("Nope"),
        MonitorRequest("Route", columns=("nope",)),
        MonitorRequest("Route", where=(Condition("nope", "==", 1),)),
        MonitorRequest("Route", where=(Condition("ip_prefix", "<", 1),)),
    ],
)
def test_monitor_request_rejects(req: MonitorRequest) -> None:
    with pytest.raises(LocalProtocolError):
        monitor_params(SB, 0, [req])


def test_monitor_request_bad_values() -> None:
    with pytest.raises(DataError) as exc:
        monitor_params(SB, 0, [MonitorRequest("Route", where=(Condition("origin", "==", "x"),))])
    assert exc.value.where == "Route.origin"
    with pytest.raises(LocalProtocolError):
        monitor_params(SB, 0, [])


def test_monitor_cond_change_params() -> None:
    params = monitor_cond_change_params(SB, "old", "new", [
        MonitorRequest("Route", where=(Condition("transit_switch", "==", "ts1"),),
                       initial=False),
        MonitorRequest("Port_Binding", where=(False,)),
    ])
    # select flags are not part of a condition change; columns can't change.
    assert params == [
        "old", "new",
        {"Route": [{"where": [["transit_switch", "==", "ts1"]]}],
         "Port_Binding": [{"where": [False]}]},
    ]


# --------------------------------------------------------------------------- generated rows


def _row_values(table: TableSchema) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: values(col.type)
                                  for name, col in table.columns.items()})


def _encode_diff(ctype: ColumnType, diff: Any) -> Any:
    if ctype.max == 1:  # the new value
        return datum_to_json(ctype, diff)
    return datum_to_json(ColumnType(ctype.key, ctype.value, 0, None), diff)


@pytest.mark.parametrize(("db", "table"), [("OVN_IC_Southbound", "Route"),
                                           ("OVN_Northbound", "Logical_Router")])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_generated_modify_applies(db: str, table: str, data: st.DataObject) -> None:
    s = schema(db)
    ts = s.table(table)
    old = data.draw(_row_values(ts), label="old")
    new = data.draw(_row_values(ts), label="new")
    # update2 sends only the changed columns, each as its diff.
    body = {
        name: _encode_diff(col.type, make_diff(col.type, old[name], new[name]))
        for name, col in ts.columns.items()
        if old[name] != new[name]
    }
    insert_json = {name: datum_to_json(col.type, old[name]) for name, col in ts.columns.items()}
    (ins,) = decode_update2(s, _jsonify({table: {R1: {"insert": insert_json}}}))
    assert ins.new == old
    (mod,) = decode_update2(s, _jsonify({table: {R1: {"modify": body}}}))
    assert mod.kind == "modify" and mod.diff is not None and set(mod.diff) == set(body)
    assert apply_update(ts, apply_update(ts, None, ins), mod) == new


# --------------------------------------------------------------------- parts of big replies


@settings(max_examples=100, deadline=None)
@given(
    counts=st.lists(st.integers(0, 12), min_size=1, max_size=3),
    part=st.integers(1, 7),
    data=st.data(),
)
def test_take_table_updates_decodes_like_the_whole(counts: list[int], part: int,
                                                   data: Any) -> None:
    from ovsdb_ic.wire.monitor import row_count, take_table_updates

    tables = ["Route", "Availability_Zone", "Datapath_Binding"][:len(counts)]
    updates: dict[str, Any] = {}
    for table, n in zip(tables, counts, strict=True):
        rows: dict[str, Any] = {}
        for i in range(n):
            key = str(uuid.UUID(int=data.draw(st.integers(1, 2**64)), version=4))
            if table == "Route":
                rows[key] = {"initial": _route_json(ip_prefix=f"10.0.{i}.0/24")}
            elif table == "Availability_Zone":
                rows[key] = {"initial": {"name": f"az{i}"}}
            else:
                rows[key] = {"insert": {"transit_switch": f"ts{i}", "tunnel_key": 16711682 + i}}
        updates[table] = rows
    whole = decode_update2(SB, json.loads(json.dumps(updates)))
    total = row_count(updates)
    parts = list(take_table_updates(updates, part))
    assert updates == {}  # every row was taken out of the source
    assert all(row_count(p) <= part for p in parts)
    assert sum(row_count(p) for p in parts) == total
    assert [u for p in parts for u in decode_update2(SB, p)] == whole


def test_take_table_updates_passes_malformed_input_through() -> None:
    from ovsdb_ic.wire.monitor import take_table_updates

    assert list(take_table_updates([1, 2], 10)) == [[1, 2]]
    assert list(take_table_updates({"Route": 3}, 10)) == [{"Route": 3}]
    with pytest.raises(ValueError):
        list(take_table_updates({}, 0))


# --------------------------------------------------------------------------- many row keys

_KEY = st.one_of(
    st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()),
    st.sampled_from(["nope", "", "0" * 32, "{" + str(uuid.UUID(int=1)) + "}",
                     str(uuid.UUID(int=2)) + "\n", str(uuid.UUID(int=3))[:-1] + "g"]),
)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_many_row_keys_parsed_together_decode_as_one_by_one(data: st.DataObject) -> None:
    """Property: the row keys of a big table update, parsed together, give the same
    updates (equal UUIDs, same order), and the same first error, as parsing them one by
    one; also with bad row bodies among them."""
    from ovsdb_ic.wire import monitor

    keys = data.draw(st.lists(st.uuids().map(str), min_size=1, max_size=40, unique=True))
    if data.draw(st.booleans()):  # a bad or odd key somewhere
        keys.insert(data.draw(st.integers(0, len(keys))), data.draw(_KEY))
    rows: dict[str, Any] = {}
    for k in keys:
        body = {"name": data.draw(st.sampled_from(["az1", "az2"]))}
        rows[k] = data.draw(st.sampled_from([
            {"initial": body}, {"insert": body}, {"delete": {}}, {"modify": body},
            {"initial": body}, {"initial": body}, {"bad": body}, [],
        ]))

    def outcome(many: int) -> Any:
        saved = monitor._MANY_KEYS
        monitor._MANY_KEYS = many  # type: ignore[misc]
        try:
            return decode_update2(SB, {"Availability_Zone": dict(rows)})
        except DataError as exc:
            return str(exc), exc.where, repr(exc.value)
        finally:
            monitor._MANY_KEYS = saved  # type: ignore[misc]

    together, one_by_one = outcome(1), outcome(10**9)
    assert together == one_by_one
    if isinstance(together, list):
        assert [type(u.uuid) for u in together] == [uuid.UUID] * len(together)
        assert [u.uuid.is_safe for u in together] == [u.uuid.is_safe for u in one_by_one]
