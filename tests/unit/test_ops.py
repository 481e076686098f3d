"""Operations, conditions, mutations and transact results."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import DataError, LocalProtocolError, RemoteProtocolError, TransactionError
from ovsdb_ic.wire import ops
from ovsdb_ic.wire.data import NamedUUID, datum_from_json
from ovsdb_ic.wire.ops import Condition, Mutation, OpResult, decode_transact_result
from ovsdb_ic.wire.schema import ColumnType, parse_schema
from tests.strategies import all_columns, atoms, schema, values

SB = schema("OVN_IC_Southbound")
NB = schema("OVN_Northbound")

U1 = "0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e"
U2 = "ffffffff-0000-4000-8000-000000000001"
U3 = "12345678-9abc-4def-8123-456789abcdef"

# None of the four schemas has an immutable column or a real column; this one does.
THINGS = parse_schema({
    "name": "Things",
    "version": "1.0.0",
    "tables": {
        "Thing": {
            "columns": {
                "name": {"type": "string", "mutable": False},
                "count": {"type": {"key": {"type": "integer", "minInteger": 0,
                                           "maxInteger": 10}}},
                "ratio": {"type": "real"},
                "ratios": {"type": {"key": "real", "min": 0, "max": "unlimited"}},
                "weights": {"type": {"key": "string", "value": "real",
                                     "min": 0, "max": "unlimited"}},
            },
        },
    },
})


def _jsonify(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _sorted_set(wire: Any) -> Any:
    """A set datum with its elements sorted (set order on the wire is arbitrary)."""
    if isinstance(wire, list) and wire and wire[0] in ("set", "map"):
        return [wire[0], sorted(wire[1], key=json.dumps)]
    return wire


# --------------------------------------------------------------------------- builders


def test_insert_with_uuid_name_and_named_reference() -> None:
    az = ops.insert(SB, "Availability_Zone", {"name": "az1"}, uuid_name="new_az")
    assert az == {"op": "insert", "table": "Availability_Zone", "row": {"name": "az1"},
                  "uuid-name": "new_az"}
    route = ops.insert(SB, "Route", {
        "transit_switch": "ts1",
        "availability_zone": NamedUUID("new_az"),
        "route_table": "",
        "ip_prefix": "10.0.0.0/24",
        "nexthop": "169.254.100.1",
        "origin": "connected",
        "external_ids": {"ic-learned-route": U1},
    })
    assert route == {
        "op": "insert",
        "table": "Route",
        "row": {
            "transit_switch": "ts1",
            "availability_zone": ["named-uuid", "new_az"],
            "route_table": "",
            "ip_prefix": "10.0.0.0/24",
            "nexthop": "169.254.100.1",
            "origin": "connected",
            "external_ids": ["map", [["ic-learned-route", U1]]],
        },
    }
    assert _jsonify(route) == route


def test_insert_sets_and_explicit_uuid() -> None:
    gw = ops.insert(SB, "Gateway", {
        "name": "gw1", "availability_zone": uuid.UUID(U1), "hostname": "host1",
        "encaps": {uuid.UUID(U2), uuid.UUID(U3)},
    }, uuid=uuid.UUID(U1))
    assert gw["uuid"] == U1
    assert "uuid-name" not in gw
    assert gw["row"]["availability_zone"] == ["uuid", U1]
    assert _sorted_set(gw["row"]["encaps"]) == ["set", [["uuid", U3], ["uuid", U2]]]
    one = ops.insert(SB, "Gateway", {"encaps": {NamedUUID("e")}})
    assert one["row"] == {"encaps": ["named-uuid", "e"]}
    # Optional columns: None is the empty set.
    pb = ops.insert(SB, "Port_Binding", {"encap": None, "tunnel_key": 1})
    assert pb["row"] == {"encap": ["set", []], "tunnel_key": 1}


def test_insert_rejects_bad_uuid_name() -> None:
    with pytest.raises(DataError):
        ops.insert(SB, "Availability_Zone", {"name": "az"}, uuid_name="not valid")


def test_select_with_columns() -> None:
    op = ops.select(SB, "Route", [Condition("transit_switch", "==", "ts1"),
                                  Condition("origin", "!=", "static")],
                    columns=["_uuid", "ip_prefix", "nexthop"])
    assert op == {
        "op": "select", "table": "Route",
        "where": [["transit_switch", "==", "ts1"], ["origin", "!=", "static"]],
        "columns": ["_uuid", "ip_prefix", "nexthop"],
    }
    assert ops.select(SB, "Availability_Zone") == {
        "op": "select", "table": "Availability_Zone", "where": [],
    }


def test_update_by_uuid() -> None:
    op = ops.update(SB, "Port_Binding", [Condition("_uuid", "==", uuid.UUID(U1))],
                    {"address": "00:00:00:00:00:01 10.0.0.1", "encap": uuid.UUID(U2),
                     "tunnel_key": 32767})
    assert op == {
        "op": "update", "table": "Port_Binding",
        "where": [["_uuid", "==", ["uuid", U1]]],
        "row": {"address": "00:00:00:00:00:01 10.0.0.1", "encap": ["uuid", U2],
                "tunnel_key": 32767},
    }


def test_mutate_sets_and_maps() -> None:
    where = [Condition("name", "==", "gw1")]
    op = ops.mutate(SB, "Gateway", where, [
        Mutation("encaps", "insert", {uuid.UUID(U1)}),
        Mutation("encaps", "delete", uuid.UUID(U2)),  # a single atom
        Mutation("external_ids", "insert", {"a": "1"}),
        Mutation("external_ids", "delete", {"b": "2"}),  # pairs
        Mutation("external_ids", "delete", {"c", "d"}),  # keys
        Mutation("external_ids", "delete", ["e"]),  # keys as a list
    ])
    assert op["op"] == "mutate" and op["table"] == "Gateway"
    assert op["where"] == [["name", "==", "gw1"]]
    m = op["mutations"]
    assert m[0] == ["encaps", "insert", ["uuid", U1]]
    assert m[1] == ["encaps", "delete", ["uuid", U2]]
    assert m[2] == ["external_ids", "insert", ["map", [["a", "1"]]]]
    assert m[3] == ["external_ids", "delete", ["map", [["b", "2"]]]]
    assert _sorted_set(m[4][2]) == ["set", ["c", "d"]] and m[4][:2] == ["external_ids", "delete"]
    assert m[5] == ["external_ids", "delete", "e"]
    # The mutation value is a subset: empty is fine even where the column needs min 1.
    empty = ops.mutate(SB, "Gateway", [], [Mutation("encaps", "insert", frozenset())])
    assert empty["mutations"] == [["encaps", "insert", ["set", []]]]
    # A single string atom is one element, not a sequence of characters.
    lb = ops.mutate(NB, "Load_Balancer", [], [Mutation("selection_fields", "insert", "ip_src")])
    assert lb["mutations"] == [["selection_fields", "insert", "ip_src"]]


def test_mutate_insert_keeps_the_column_max() -> None:
    # ovsdb-server relaxes min to 0 for insert and delete, but max only for delete.
    t = "Connection"
    two = frozenset({1000, 2000})
    with pytest.raises(DataError) as exc:
        ops.mutate(SB, t, [], [Mutation("max_backoff", "insert", two)])
    assert exc.value.where == "Connection.max_backoff"
    deleted = ops.mutate(SB, t, [], [Mutation("max_backoff", "delete", two)])
    assert _sorted_set(deleted["mutations"][0][2]) == ["set", [1000, 2000]]
    one = ops.mutate(SB, t, [], [Mutation("max_backoff", "insert", 1000)])
    name, mutator, wire = one["mutations"][0]
    assert (name, mutator) == ("max_backoff", "insert")
    key = SB.table(t).column("max_backoff").type.key
    assert datum_from_json(ColumnType(key, None, 0, 1), wire) == 1000
    # The atoms keep their constraints (range, enum) either way.
    with pytest.raises(DataError):
        ops.mutate(SB, t, [], [Mutation("max_backoff", "delete", 999)])


def test_mutate_arithmetic() -> None:
    op = ops.mutate(SB, "Port_Binding", [Condition("logical_port", "==", "lsp1")], [
        Mutation("tunnel_key", "+=", 1),
        Mutation("tunnel_key", "-=", 40000),  # deltas are not bound by the column's range
        Mutation("tunnel_key", "*=", 2),
        Mutation("tunnel_key", "/=", 3),
        Mutation("tunnel_key", "%=", 7),
    ])
    assert op["mutations"] == [["tunnel_key", "+=", 1], ["tunnel_key", "-=", 40000],
                               ["tunnel_key", "*=", 2], ["tunnel_key", "/=", 3],
                               ["tunnel_key", "%=", 7]]
    real = ops.mutate(THINGS, "Thing", [], [Mutation("ratio", "*=", 0.5),
                                            Mutation("ratios", "+=", 1.5),
                                            Mutation("ratio", "+=", 2)])
    assert real["mutations"] == [["ratio", "*=", 0.5], ["ratios", "+=", 1.5], ["ratio", "+=", 2]]
    with pytest.raises(DataError) as exc:
        ops.mutate(SB, "Port_Binding", [], [Mutation("tunnel_key", "+=", 1.5)])
    assert exc.value.where == "Port_Binding.tunnel_key"


def test_delete() -> None:
    assert ops.delete(SB, "Route", [Condition("_uuid", "==", uuid.UUID(U3))]) == {
        "op": "delete", "table": "Route", "where": [["_uuid", "==", ["uuid", U3]]],
    }


def test_wait() -> None:
    op = ops.wait(SB, "Route", [Condition("ip_prefix", "==", "10.0.0.0/24")],
                  ["nexthop", "external_ids"],
                  [{"nexthop": "1.1.1.1", "external_ids": {}}, {"nexthop": "2.2.2.2"}],
                  until="!=", timeout_ms=500)
    assert op == {
        "op": "wait", "table": "Route",
        "where": [["ip_prefix", "==", "10.0.0.0/24"]],
        "columns": ["nexthop", "external_ids"],
        "until": "!=",
        "rows": [{"nexthop": "1.1.1.1", "external_ids": ["map", []]}, {"nexthop": "2.2.2.2"}],
        "timeout": 500,
    }
    default = ops.wait(SB, "Route", [], ["nexthop"], [])
    assert default["until"] == "==" and default["timeout"] == 0 and default["rows"] == []
    assert "timeout" not in ops.wait(SB, "Route", [], ["nexthop"], [], timeout_ms=None)


@pytest.mark.parametrize(
    "kw",
    [{"until": "<"}, {"timeout_ms": -1}, {"timeout_ms": True}, {"timeout_ms": 1.5}],
)
def test_wait_rejects(kw: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        ops.wait(SB, "Route", [], ["nexthop"], [], **kw)


def test_wait_rows_limited_to_columns() -> None:
    with pytest.raises(LocalProtocolError, match="ip_prefix"):
        ops.wait(SB, "Route", [], ["nexthop"], [{"nexthop": "x", "ip_prefix": "y"}])
    with pytest.raises(DataError) as exc:
        ops.wait(SB, "Route", [], ["nexthop"], [{"nexthop": 1}])
    assert exc.value.where == "Route.nexthop"


def test_simple_operations() -> None:
    assert ops.commit() == {"op": "commit", "durable": False}
    assert ops.commit(durable=True) == {"op": "commit", "durable": True}
    assert ops.abort() == {"op": "abort"}
    assert ops.comment("ovn-ic: sync routes") == {"op": "comment",
                                                   "comment": "ovn-ic: sync routes"}
    assert ops.assert_lock("ovn_ic") == {"op": "assert", "lock": "ovn_ic"}
    with pytest.raises(LocalProtocolError):
        ops.comment(5)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        ops.assert_lock("")


def test_transact_params() -> None:
    a = ops.insert(SB, "Availability_Zone", {"name": "az1"})
    assert ops.transact_params(SB, [a, ops.commit()]) == [
        "OVN_IC_Southbound", a, {"op": "commit", "durable": False},
    ]
    assert ops.transact_params(SB, []) == ["OVN_IC_Southbound"]


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    "build",
    [
        lambda: ops.insert(SB, "Nope", {}),
        lambda: ops.select(SB, "Nope"),
        lambda: ops.update(SB, "Nope", [], {}),
        lambda: ops.mutate(SB, "Nope", [], [Mutation("x", "+=", 1)]),
        lambda: ops.delete(SB, "Nope", []),
        lambda: ops.wait(SB, "Nope", [], [], []),
    ],
    ids=["insert", "select", "update", "mutate", "delete", "wait"],
)
def test_unknown_table(build: Any) -> None:
    with pytest.raises(LocalProtocolError, match="'Nope'") as exc:
        build()
    assert "OVN_IC_Southbound" in str(exc.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ops.insert(SB, "Route", {"nope": "x"}),
        lambda: ops.select(SB, "Route", [Condition("nope", "==", "x")]),
        lambda: ops.select(SB, "Route", columns=["ip_prefix", "nope"]),
        lambda: ops.update(SB, "Route", [], {"nope": 1}),
        lambda: ops.mutate(SB, "Route", [], [Mutation("nope", "insert", {"a": "b"})]),
        lambda: ops.delete(SB, "Route", [Condition("nope", "==", 1)]),
        lambda: ops.wait(SB, "Route", [], ["nope"], []),
    ],
    ids=["insert", "select-where", "select-columns", "update", "mutate", "delete", "wait"],
)
def test_unknown_column(build: Any) -> None:
    with pytest.raises(LocalProtocolError, match="'nope'") as exc:
        build()
    assert "Route" in str(exc.value)


@pytest.mark.parametrize("f", ["<", "<=", ">=", ">"])
def test_ordering_needs_a_single_number(f: str) -> None:
    with pytest.raises(LocalProtocolError, match=r"Route\.ip_prefix"):
        ops.select(SB, "Route", [Condition("ip_prefix", f, "10.0.0.0/8")])  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match=r"Thing\.ratios"):
        ops.select(THINGS, "Thing", [Condition("ratios", f, 1.0)])  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match=r"Route\.external_ids"):
        ops.select(SB, "Route", [Condition("external_ids", f, {})])  # type: ignore[arg-type]


def test_modulo_needs_an_integer() -> None:
    with pytest.raises(LocalProtocolError, match=r"Thing\.ratio"):
        ops.mutate(THINGS, "Thing", [], [Mutation("ratio", "%=", 2)])
    with pytest.raises(LocalProtocolError, match=r"Route\.ip_prefix"):
        ops.mutate(SB, "Route", [], [Mutation("ip_prefix", "+=", 1)])
    with pytest.raises(LocalProtocolError, match=r"Route\.external_ids"):
        ops.mutate(SB, "Route", [], [Mutation("external_ids", "+=", 1)])
    with pytest.raises(LocalProtocolError, match=r"Route\.nexthop"):
        ops.mutate(SB, "Route", [], [Mutation("nexthop", "insert", "x")])


def test_immutable_columns() -> None:
    assert not THINGS.table("Thing").column("name").mutable
    with pytest.raises(LocalProtocolError, match=r"Thing\.name"):
        ops.mutate(THINGS, "Thing", [], [Mutation("name", "insert", "x")])
    with pytest.raises(LocalProtocolError, match=r"Thing\.name"):
        ops.update(THINGS, "Thing", [], {"name": "x"})
    # Immutable columns are written once, at insert.
    assert ops.insert(THINGS, "Thing", {"name": "x"})["row"] == {"name": "x"}
    with pytest.raises(LocalProtocolError, match=r"Route\._uuid"):
        ops.mutate(SB, "Route", [], [Mutation("_uuid", "insert", uuid.UUID(U1))])


@pytest.mark.parametrize("column", ["_uuid", "_version"])
def test_implicit_columns_cannot_be_written(column: str) -> None:
    with pytest.raises(LocalProtocolError, match=f"Route.{column}"):
        ops.insert(SB, "Route", {column: uuid.UUID(U1)})
    with pytest.raises(LocalProtocolError, match=f"Route.{column}"):
        ops.update(SB, "Route", [], {column: uuid.UUID(U1)})


@pytest.mark.parametrize(
    ("build", "where", "offending"),
    [
        (lambda: ops.insert(SB, "Port_Binding", {"tunnel_key": "5"}),
         "Port_Binding.tunnel_key", "5"),
        (lambda: ops.insert(SB, "Port_Binding", {"tunnel_key": 0}),
         "Port_Binding.tunnel_key", 0),
        (lambda: ops.insert(SB, "Route", {"origin": "bogus"}), "Route.origin", "bogus"),
        (lambda: ops.insert(SB, "Route", {"availability_zone": U1}),
         "Route.availability_zone", U1),
        (lambda: ops.update(SB, "Route", [], {"external_ids": {"a": 1}}),
         "Route.external_ids", 1),
        (lambda: ops.update(SB, "Gateway", [], {"encaps": frozenset()}),
         "Gateway.encaps", frozenset()),
        (lambda: ops.select(SB, "Route", [Condition("nexthop", "==", None)]),
         "Route.nexthop", None),
        (lambda: ops.select(SB, "Port_Binding", [Condition("tunnel_key", "<", 40000)]),
         "Port_Binding.tunnel_key", 40000),
        (lambda: ops.delete(SB, "Route", [Condition("_uuid", "==", U1)]), "Route._uuid", U1),
        (lambda: ops.mutate(SB, "Gateway", [], [Mutation("encaps", "insert", U1)]),
         "Gateway.encaps", U1),
        (lambda: ops.mutate(SB, "Route", [], [Mutation("external_ids", "delete", {1})]),
         "Route.external_ids", 1),
        (lambda: ops.mutate(NB, "Load_Balancer", [],
                            [Mutation("selection_fields", "insert", "vlan")]),
         "Load_Balancer.selection_fields", "vlan"),
    ],
)
def test_wrong_values_name_the_column(build: Any, where: str, offending: Any) -> None:
    with pytest.raises(DataError) as exc:
        build()
    assert exc.value.where == where
    assert where in str(exc.value)
    assert exc.value.value == offending


def test_unknown_function_and_mutator() -> None:
    with pytest.raises(LocalProtocolError):
        Condition("name", "=", "x")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        Mutation("name", "append", "x")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        ops.mutate(SB, "Route", [], [])


# --------------------------------------------------------------------------- conditions


CONDITION_CASES = [
    # (table, column, function, value, expected JSON value)
    ("Route", "ip_prefix", "==", "10.0.0.0/24", "10.0.0.0/24"),
    ("Route", "ip_prefix", "!=", "", ""),
    ("Route", "ip_prefix", "includes", "a", "a"),
    ("Route", "ip_prefix", "excludes", "b", "b"),
    ("Port_Binding", "tunnel_key", "<", 5, 5),
    ("Port_Binding", "tunnel_key", "<=", 1, 1),
    ("Port_Binding", "tunnel_key", ">", 32766, 32766),
    ("Port_Binding", "tunnel_key", ">=", 32767, 32767),
    ("Connection", "inactivity_probe", "<", 0, 0),  # optional integer: one value
    ("Connection", "max_backoff", ">=", 1000, 1000),
    ("Port_Binding", "encap", "==", None, ["set", []]),
    ("Port_Binding", "encap", "!=", uuid.UUID(U1), ["uuid", U1]),
    ("Port_Binding", "encap", "includes", uuid.UUID(U1), ["uuid", U1]),
    ("Port_Binding", "encap", "excludes", None, ["set", []]),
    ("Gateway", "encaps", "==", {uuid.UUID(U1)}, ["uuid", U1]),
    ("Gateway", "encaps", "includes", frozenset(), ["set", []]),
    ("Gateway", "encaps", "excludes", uuid.UUID(U2), ["uuid", U2]),
    ("Route", "external_ids", "==", {}, ["map", []]),
    ("Route", "external_ids", "!=", {"a": "b"}, ["map", [["a", "b"]]]),
    ("Route", "external_ids", "includes", {"a": "b"}, ["map", [["a", "b"]]]),
    ("Route", "external_ids", "excludes", {"k": ""}, ["map", [["k", ""]]]),
    ("Route", "_uuid", "==", uuid.UUID(U3), ["uuid", U3]),
    ("Connection", "is_connected", "==", True, True),
]


@pytest.mark.parametrize(("table", "column", "f", "value", "wire"), CONDITION_CASES)
def test_condition_functions(table: str, column: str, f: str, value: Any, wire: Any) -> None:
    cond = Condition(column, f, value)  # type: ignore[arg-type]
    assert ops.condition_to_json(SB.table(table), cond) == [column, f, wire]
    assert ops.select(SB, table, [cond])["where"] == [[column, f, wire]]


def test_every_function_is_covered() -> None:
    assert {c[2] for c in CONDITION_CASES} == ops.FUNCTIONS


def test_includes_on_a_set_still_checks_atoms() -> None:
    t = SB.table("Gateway")
    with pytest.raises(DataError) as exc:
        ops.condition_to_json(t, Condition("encaps", "includes", None))
    assert exc.value.where == "Gateway.encaps"
    # == keeps the column's bounds (min 1), includes does not.
    with pytest.raises(DataError):
        ops.condition_to_json(t, Condition("encaps", "==", frozenset()))


def _condition_type(ctype: ColumnType, f: str) -> ColumnType:
    """The type the server parses a condition's value with."""
    if f in ("<", "<=", ">=", ">"):
        return ColumnType(ctype.key)
    if f in ("includes", "excludes") and not ctype.is_scalar:
        return ColumnType(ctype.key, ctype.value, 0, ctype.max if f == "includes" else None)
    return ctype


def _expected(ctype: ColumnType, f: str, value: Any) -> Any:
    # includes keeps the column's max (an optional column stays optional);
    # excludes takes any number of elements (decoded as a set).
    if f == "excludes" and ctype.is_optional:
        return frozenset() if value is None else frozenset([value])
    return value


@st.composite
def _conditions(draw: st.DrawFn) -> tuple[Any, Condition]:
    _db, table, col = draw(st.sampled_from(all_columns()), label="column")
    t = col.type
    numeric = t.value is None and t.max == 1 and t.key.type in ("integer", "real")
    f = draw(st.sampled_from(sorted(ops.FUNCTIONS) if numeric else
                             ["==", "!=", "includes", "excludes"]))
    ordering = f in ("<", "<=", ">=", ">")
    value = draw(atoms(t.key) if ordering else values(t))
    return table, Condition(col.name, f, value)


@settings(max_examples=300, deadline=None)
@given(item=_conditions())
def test_generated_conditions_round_trip(item: tuple[Any, Condition]) -> None:
    table, cond = item
    wire = _jsonify(ops.condition_to_json(table, cond))
    assert wire[:2] == [cond.column, cond.function]
    ctype = table.column(cond.column).type
    decoded = datum_from_json(_condition_type(ctype, cond.function), wire[2])
    assert decoded == _expected(ctype, cond.function, cond.value)


# --------------------------------------------------------------------------- results


def _ops() -> list[dict[str, Any]]:
    return [
        ops.insert(SB, "Availability_Zone", {"name": "az1"}, uuid_name="az"),
        ops.select(SB, "Availability_Zone", []),
        ops.select(SB, "Route", [], columns=["ip_prefix", "external_ids"]),
        ops.update(SB, "Route", [], {"nexthop": "1.1.1.1"}),
        ops.mutate(SB, "Gateway", [], [Mutation("encaps", "insert", {uuid.UUID(U1)})]),
        ops.delete(SB, "Route", []),
        ops.wait(SB, "Route", [], ["nexthop"], []),
        ops.comment("hello"),
        ops.commit(),
    ]


def _success() -> list[Any]:
    return [
        {"uuid": ["uuid", U1]},
        {"rows": [{"_uuid": ["uuid", U2], "_version": ["uuid", U3], "name": "az1"}]},
        {"rows": [{"ip_prefix": "10.0.0.0/24", "external_ids": ["map", [["k", "v"]]]},
                  {"ip_prefix": "10.1.0.0/24"}]},
        {"count": 2},
        {"count": 1},
        {"count": 0},
        {},
        {},
        {},
    ]


def test_decode_success() -> None:
    results = decode_transact_result(SB, _ops(), _success())
    assert results == [
        OpResult("insert", uuid=uuid.UUID(U1)),
        OpResult("select", rows=({"_uuid": uuid.UUID(U2), "_version": uuid.UUID(U3),
                                  "name": "az1"},)),
        OpResult("select", rows=({"ip_prefix": "10.0.0.0/24", "external_ids": {"k": "v"}},
                                 {"ip_prefix": "10.1.0.0/24"})),
        OpResult("update", count=2),
        OpResult("mutate", count=1),
        OpResult("delete", count=0),
        OpResult("wait"),
        OpResult("comment"),
        OpResult("commit"),
    ]


def test_decode_failed_operation() -> None:
    the_ops = _ops()
    result: list[Any] = _success()[:3] + [
        {"error": "constraint violation", "details": "tunnel_key out of range"},
    ] + [None] * 5
    with pytest.raises(TransactionError) as exc:
        decode_transact_result(SB, the_ops, result)
    err = exc.value
    assert err.index == 3
    assert err.op == the_ops[3]
    assert err.error == "constraint violation"
    assert err.details == "tunnel_key out of range"
    assert "update" in str(err) and "Route" in str(err)


def test_decode_error_without_details() -> None:
    the_ops = [ops.assert_lock("ovn_ic")]
    with pytest.raises(TransactionError) as exc:
        decode_transact_result(SB, the_ops, [{"error": "not owner"}])
    assert (exc.value.index, exc.value.error, exc.value.details) == (0, "not owner", None)
    assert exc.value.op == the_ops[0]


def test_decode_commit_time_error() -> None:
    the_ops = _ops()
    result = [*_success(), {"error": "referential integrity violation",
                            "details": "cannot delete Encap row"}]
    with pytest.raises(TransactionError) as exc:
        decode_transact_result(SB, the_ops, result)
    err = exc.value
    assert err.index == len(the_ops)
    assert err.op is None
    assert err.error == "referential integrity violation"
    assert err.details == "cannot delete Encap row"


@pytest.mark.parametrize(
    ("index", "bad"),
    [
        (None, {"ok": []}),
        (None, None),
        (0, {"uuid": U1}),
        (0, {"uuid": ["uuid", "nope"]}),
        (0, {"uuid": ["named-uuid", "az"]}),
        (0, {}),
        (1, {"rows": {}}),
        (1, {"rows": [{"name": 5}]}),
        (1, {"rows": ["row"]}),
        (3, {"count": "2"}),
        (3, {"count": True}),
        (4, {}),
        (6, None),
        (6, []),
    ],
)
def test_decode_malformed(index: int | None, bad: Any) -> None:
    result: Any = _success()
    if index is None:
        result = bad
    else:
        result[index] = bad
    with pytest.raises(RemoteProtocolError):
        decode_transact_result(SB, _ops(), result)


def test_decode_too_few_results() -> None:
    with pytest.raises(RemoteProtocolError):
        decode_transact_result(SB, _ops(), _success()[:-1])


def test_includes_keeps_the_column_maximum_excludes_does_not() -> None:
    """ovsdb-server: includes of more elements than the column holds is a syntax error."""
    import uuid as _uuid

    from ovsdb_ic.wire import ops as _ops
    from tests.strategies import schema as _schema

    sb = _schema("OVN_IC_Southbound")
    two = {_uuid.UUID(int=1), _uuid.UUID(int=2)}
    with pytest.raises(DataError, match=r"Port_Binding\.encap"):
        _ops.select(sb, "Port_Binding", [_ops.Condition("encap", "includes", two)])
    op = _ops.select(sb, "Port_Binding", [_ops.Condition("encap", "excludes", two)])
    assert op["where"][0][1] == "excludes"


def test_monitor_cond_change_refuses_column_changes() -> None:
    from ovsdb_ic.wire.monitor import MonitorRequest, monitor_cond_change_params
    from tests.strategies import schema as _schema

    sb = _schema("OVN_IC_Southbound")
    with pytest.raises(LocalProtocolError, match="cannot change the columns"):
        monitor_cond_change_params(sb, "m1", "m2", [MonitorRequest("Route", ("nexthop",))])


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("constraint violation", "ConstraintViolationError"),
        ("referential integrity violation", "ReferentialIntegrityError"),
        ("timed out", "WaitTimedOutError"),
        ("aborted", "TransactionAbortedError"),
        ("not owner", "NotOwnerError"),
        ("resources exhausted", "ResourcesExhaustedError"),
        ("some future error", "TransactionError"),
    ],
)
def test_server_errors_map_to_typed_exceptions(error: str, kind: str) -> None:
    import ovsdb_ic.errors as errors_module

    op = ops.insert(SB, "Availability_Zone", {"name": "az"})
    with pytest.raises(TransactionError) as exc:
        decode_transact_result(SB, [op, op], [{"uuid": ["uuid", U1]}, {"error": error,
                                                                       "details": "why"}])
    assert type(exc.value).__name__ == kind
    assert isinstance(exc.value, getattr(errors_module, kind))
    assert (exc.value.index, exc.value.error, exc.value.details) == (1, error, "why")
    assert exc.value.op == op
