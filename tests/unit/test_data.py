"""Atoms and datums: codecs for every column of the four schemas, diffs and validation."""

from __future__ import annotations

import json
import math
import sys
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import DataError
from ovsdb_ic.wire.data import (
    NamedUUID,
    apply_diff,
    atom_from_json,
    atom_to_json,
    datum_from_json,
    datum_to_json,
    diff_from_json,
    make_diff,
    parse_uuid,
)
from ovsdb_ic.wire.schema import INT64_MAX, INT64_MIN, BaseType, ColumnType
from tests.strategies import all_columns, atoms, column_id, schema, values

ALL = all_columns()
IDS = [column_id(c) for c in ALL]

per_column = settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

U1 = "0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e"
U2 = "ffffffff-0000-4000-8000-000000000001"

_PY_TYPES = {"integer": int, "real": float, "boolean": bool, "string": str, "uuid": uuid.UUID}


def _jsonify(value: Any) -> Any:
    """Send ``value`` through JSON text, as it would travel on the wire."""
    return json.loads(json.dumps(value, ensure_ascii=False))


def _column(db: str, table: str, column: str) -> tuple[ColumnType, str]:
    return schema(db).table(table).column(column).type, f"{table}.{column}"


def _is_atom(base: BaseType, value: Any) -> bool:
    return type(value) is _PY_TYPES[base.type]


def _has_shape(t: ColumnType, value: Any) -> bool:
    """Does a decoded value have the documented Python form of its column shape?"""
    if t.value is not None:
        return type(value) is dict and all(
            _is_atom(t.key, k) and _is_atom(t.value, v) for k, v in value.items()
        )
    if t.is_scalar:
        return _is_atom(t.key, value)
    if t.is_optional:
        return value is None or _is_atom(t.key, value)
    return type(value) is frozenset and all(_is_atom(t.key, a) for a in value)


def _unbounded(t: ColumnType) -> ColumnType:
    return ColumnType(t.key, t.value, 0, None)


def _encode_diff(t: ColumnType, diff: Any) -> Any:
    """The update2 JSON of a decoded diff, as ovsdb-server sends it.

    Columns holding at most one value (max 1) get their new value; sets and maps the
    set/map of elements to toggle, which may exceed the column's bounds.
    """
    if t.max == 1:
        return datum_to_json(t, diff)
    return datum_to_json(_unbounded(t), diff)


def _fits(t: ColumnType, n: int) -> bool:
    return n >= t.min and (t.max is None or n <= t.max)


@st.composite
def _old_new(draw: st.DrawFn, t: ColumnType) -> tuple[Any, Any]:
    """Two values of ``t``; often the second is an edit of the first (shared keys)."""
    old = draw(values(t), label="old")
    fresh = draw(values(t), label="fresh")
    if t.is_scalar or t.is_optional or not draw(st.booleans()):
        return old, fresh
    if t.value is not None:
        new = {k: v for k, v in old.items() if draw(st.booleans())}
        for k in list(new):
            if draw(st.booleans()):
                new[k] = draw(atoms(t.value))
        for k, v in fresh.items():
            new.setdefault(k, v)
    else:
        new = frozenset(a for a in old if draw(st.booleans())) | fresh
    if not _fits(t, len(new)):
        new = fresh
    return old, new


# --------------------------------------------------------------------------- every column


@pytest.mark.parametrize("item", ALL, ids=IDS)
@per_column
@given(data=st.data())
def test_codec_round_trip_and_json_forms(item: Any, data: st.DataObject) -> None:
    _db, table, col = item
    t = col.type
    where = f"{table.name}.{col.name}"
    value = data.draw(values(t), label="value")

    wire = _jsonify(datum_to_json(t, value, where=where))
    back = datum_from_json(t, wire, where=where)
    assert back == value
    assert _has_shape(t, back)

    if t.value is not None:
        # Maps always travel as ["map", pairs]; pair order is irrelevant.
        assert wire[0] == "map"
        assert len(wire[1]) == len(value)
        assert datum_from_json(t, ["map", wire[1][::-1]]) == value
        # A set (or a bare atom) is not a map.
        with pytest.raises(DataError):
            datum_from_json(t, ["set", [p[0] for p in wire[1]]], where=where)
    elif t.is_scalar or t.is_optional:
        if value is None:
            assert wire == ["set", []]
        else:
            assert not (type(wire) is list and wire[0] == "set")
            # The one-element set is accepted for a single atom.
            assert datum_from_json(t, ["set", [wire]]) == value
        if t.is_optional:
            assert datum_from_json(t, ["set", []]) is None
        else:
            with pytest.raises(DataError):
                datum_from_json(t, ["set", []])
    else:
        if len(value) == 1:
            # One-element sets are sent as the bare atom, and the long form is accepted.
            (only,) = value
            assert wire == _jsonify(atom_to_json(t.key, only))
            assert datum_from_json(t, ["set", [wire]]) == value
        else:
            assert wire[0] == "set"
            assert len(wire[1]) == len(value)
            assert datum_from_json(t, ["set", wire[1][::-1]]) == value


def _strings_in(value: Any) -> list[str]:
    """Every ``str`` object inside a decoded value or a JSON tree (map keys included)."""
    if type(value) is str:
        return [value]
    if type(value) is dict:
        return [*value, *(s for v in value.values() for s in _strings_in(v))]
    if type(value) in (list, frozenset):
        return [s for v in value for s in _strings_in(v)]
    return []


STRING_COLUMNS = [
    c for c in ALL if "string" in (c[2].type.key.type, c[2].type.value and c[2].type.value.type)
]


@pytest.mark.parametrize("item", STRING_COLUMNS, ids=[column_id(c) for c in STRING_COLUMNS])
@per_column
@given(data=st.data())
def test_decoded_strings_are_not_the_parsers_objects(item: Any, data: st.DataObject) -> None:
    """A decoded string is a copy, an enum's shared member or an interned map key, never
    (map keys aside: the first of each is interned as it comes) an object of the parsed
    JSON, which would keep the parser's memory around it."""
    _db, _table, col = item
    t = col.type
    value = data.draw(values(t), label="value")
    wire = orjson.loads(orjson.dumps(datum_to_json(t, value)))
    parsed = {id(s) for s in _strings_in(wire) if len(s) > 1}  # 0/1-char: CPython singletons
    for back in (datum_from_json(t, wire), diff_from_json(t, wire)):
        assert back == value
        kept = list(back.values()) if t.value is not None else back
        for s in _strings_in(kept):
            assert id(s) not in parsed, s
        if t.value is not None and t.key.type == "string":
            assert all(k is sys.intern(k) for k in back)
        for base, atoms_ in ((t.key, _atoms_of(t, back, "key")),
                             (t.value, _atoms_of(t, back, "value"))):
            if base is not None and base.type == "string" and base.enum is not None:
                assert all(a is sys.intern(a) for a in atoms_)


def _atoms_of(t: ColumnType, value: Any, part: str) -> list[Any]:
    if value is None:
        return []
    if t.value is not None:
        return list(value) if part == "key" else list(value.values())
    if part == "value":
        return []
    return list(value) if type(value) is frozenset else [value]


@pytest.mark.parametrize("item", ALL, ids=IDS)
@per_column
@given(data=st.data())
def test_diff_round_trip(item: Any, data: st.DataObject) -> None:
    _db, _table, col = item
    t = col.type
    old, new = data.draw(_old_new(t), label="old/new")

    diff = make_diff(t, old, new)
    assert apply_diff(t, old, diff) == new

    wire = _jsonify(_encode_diff(t, diff))
    decoded = diff_from_json(t, wire)
    assert decoded == diff
    assert apply_diff(t, old, decoded) == new

    if t.max == 1:
        assert diff == new
    else:
        # Set and map diffs are empty exactly when nothing changed.
        assert (len(diff) == 0) == (old == new)


# --------------------------------------------------------------------------- JSON forms


def test_optional_empty_set_is_none() -> None:
    t, _ = _column("OVN_IC_Southbound", "Port_Binding", "encap")
    assert datum_from_json(t, ["set", []]) is None
    assert datum_to_json(t, None) == ["set", []]
    assert datum_from_json(t, ["uuid", U1]) == uuid.UUID(U1)
    assert datum_from_json(t, ["set", [["uuid", U1]]]) == uuid.UUID(U1)


def test_scalar_long_form_needs_exactly_one_atom() -> None:
    t, where = _column("OVN_IC_Southbound", "Route", "ip_prefix")
    assert datum_from_json(t, ["set", ["10.0.0.0/24"]]) == "10.0.0.0/24"
    for bad in (["set", []], ["set", ["a", "b"]]):
        with pytest.raises(DataError) as exc:
            datum_from_json(t, bad, where=where)
        assert exc.value.where == where
        assert exc.value.value == bad


def test_set_forms() -> None:
    t, _ = _column("OVN_IC_Southbound", "IC_SB_Global", "connections")
    assert datum_from_json(t, ["set", []]) == frozenset()
    assert datum_from_json(t, ["uuid", U1]) == frozenset({uuid.UUID(U1)})
    both = datum_from_json(t, ["set", [["uuid", U2], ["uuid", U1]]])
    assert both == frozenset({uuid.UUID(U1), uuid.UUID(U2)})
    assert datum_to_json(t, frozenset()) == ["set", []]
    assert datum_to_json(t, {uuid.UUID(U1)}) == ["uuid", U1]
    # Lists and other iterables are accepted as sets on encode (duplicates collapse).
    assert datum_to_json(t, [uuid.UUID(U1), uuid.UUID(U1)]) == ["uuid", U1]


def test_maps_need_the_map_form() -> None:
    t, where = _column("OVN_IC_Southbound", "Route", "external_ids")
    assert datum_from_json(t, ["map", []]) == {}
    assert datum_from_json(t, ["map", [["k", "v"]]]) == {"k": "v"}
    for bad in ("k", ["set", []], ["set", [["k", "v"]]], ["map", {"k": "v"}], {"k": "v"},
                ["map", [["k", "v"]], "extra"]):
        with pytest.raises(DataError) as exc:
            datum_from_json(t, bad, where=where)
        assert exc.value.where == where
        assert exc.value.value == bad
    with pytest.raises(DataError) as exc:
        datum_from_json(t, ["map", [["k", "v", "w"]]], where=where)
    assert exc.value.value == ["k", "v", "w"]
    with pytest.raises(DataError):
        datum_to_json(t, [("k", "v")], where=where)


# --------------------------------------------------------------------------- diffs


def test_map_diff_inserts_deletes_and_replaces() -> None:
    t, _ = _column("OVN_IC_Southbound", "Route", "external_ids")
    old = {"a": "1", "b": "2", "c": "3"}
    # a: same value -> deleted; b: other value -> replaced; d: new key -> inserted.
    diff = diff_from_json(t, ["map", [["a", "1"], ["b", "20"], ["d", "4"]]])
    assert diff == {"a": "1", "b": "20", "d": "4"}
    assert apply_diff(t, old, diff) == {"b": "20", "c": "3", "d": "4"}
    assert make_diff(t, old, {"b": "20", "c": "3", "d": "4"}) == diff
    assert apply_diff(t, old, {}) == old
    assert apply_diff(t, None, {"x": "y"}) == {"x": "y"}


def test_set_diff_toggles() -> None:
    t, _ = _column("OVN_IC_Southbound", "IC_SB_Global", "connections")
    a, b, c = (uuid.UUID(int=i) for i in (1, 2, 3))
    diff = diff_from_json(t, ["set", [["uuid", str(b)], ["uuid", str(c)]]])
    assert diff == frozenset({b, c})
    assert apply_diff(t, frozenset({a, b}), diff) == frozenset({a, c})
    # A single toggled atom may be sent bare.
    assert apply_diff(t, frozenset({a}), diff_from_json(t, ["uuid", str(a)])) == frozenset()


def test_set_diff_is_unbounded() -> None:
    # Gateway.encaps needs at least one element, but its diffs may be empty or large.
    t, _ = _column("OVN_IC_Southbound", "Gateway", "encaps")
    assert diff_from_json(t, ["set", []]) == frozenset()
    many = [["uuid", str(uuid.UUID(int=i))] for i in range(1, 8)]
    assert len(diff_from_json(t, ["set", many])) == 7


def test_optional_diff_is_the_new_value() -> None:
    # ovsdb-server treats columns with max 1 as non-composite: an update2 "modify"
    # carries their new value, not a toggle set. Observed from ovsdb-server 3.1 for
    # IC_SB_Global.ssl: x -> y sends ["uuid", y], y -> none sends ["set", []].
    t, where = _column("OVN_IC_Southbound", "IC_SB_Global", "ssl")
    x, y = uuid.UUID(U1), uuid.UUID(U2)
    assert apply_diff(t, x, diff_from_json(t, ["uuid", U2])) == y
    assert apply_diff(t, y, diff_from_json(t, ["set", []])) is None
    assert apply_diff(t, None, diff_from_json(t, ["set", [["uuid", U1]]])) == x
    assert make_diff(t, x, y) == y
    assert make_diff(t, x, None) is None
    # The new value is validated like any value: at most one element.
    with pytest.raises(DataError) as exc:
        diff_from_json(t, ["set", [["uuid", U1], ["uuid", U2]]], where=where)
    assert exc.value.where == where
    tag, where = _column("OVN_Northbound", "Logical_Switch_Port", "tag")
    assert apply_diff(tag, 5, diff_from_json(tag, 7)) == 7
    with pytest.raises(DataError):
        diff_from_json(tag, 4096, where=where)


def test_single_pair_map_diff_is_the_new_value() -> None:
    t = ColumnType(BaseType("string"), BaseType("integer"), 0, 1)
    assert apply_diff(t, {"a": 1}, diff_from_json(t, ["map", [["b", 2]]])) == {"b": 2}
    assert apply_diff(t, {"a": 1}, diff_from_json(t, ["map", []])) == {}
    assert make_diff(t, {"a": 1}, {"a": 2}) == {"a": 2}


def test_scalar_diff_is_the_new_value() -> None:
    t, where = _column("OVN_IC_Southbound", "Port_Binding", "tunnel_key")
    assert diff_from_json(t, 7) == 7
    assert apply_diff(t, 3, 7) == 7
    assert make_diff(t, 3, 7) == 7
    # Scalar diffs are validated like values.
    with pytest.raises(DataError):
        diff_from_json(t, 0, where=where)


# --------------------------------------------------------------------------- validation


def _rejects(t: ColumnType, where: str, wire: Any, **kw: Any) -> DataError:
    with pytest.raises(DataError) as exc:
        datum_from_json(t, wire, where=where, **kw)
    err = exc.value
    assert err.where == where
    assert where in str(err)
    return err


@pytest.mark.parametrize(
    ("db", "table", "column", "wire", "offending"),
    [
        ("OVN_IC_Southbound", "Route", "ip_prefix", 5, 5),
        ("OVN_IC_Southbound", "Route", "ip_prefix", None, None),
        ("OVN_IC_Southbound", "Route", "ip_prefix", ["set", [1]], 1),
        ("OVN_IC_Southbound", "Port_Binding", "tunnel_key", "5", "5"),
        ("OVN_IC_Southbound", "Port_Binding", "tunnel_key", 5.0, 5.0),
        ("OVN_IC_Southbound", "Port_Binding", "tunnel_key", True, True),
        ("OVN_IC_Southbound", "SSL", "bootstrap_ca_cert", "true", "true"),
        ("OVN_IC_Southbound", "SSL", "bootstrap_ca_cert", 1, 1),
        ("OVN_IC_Southbound", "Route", "availability_zone", U1, U1),
        ("OVN_IC_Southbound", "Route", "availability_zone", ["uuid", 5], ["uuid", 5]),
        ("OVN_IC_Southbound", "Route", "external_ids", ["map", [["k", 1]]], 1),
        ("OVN_IC_Southbound", "Route", "external_ids", ["map", [[1, "v"]]], 1),
        ("OVN_IC_Southbound", "Gateway", "encaps", ["set", ["x"]], "x"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_wrong_json_type(
    db: str, table: str, column: str, wire: Any, offending: Any
) -> None:
    t, where = _column(db, table, column)
    err = _rejects(t, where, wire)
    assert err.value == offending
    assert type(err.value) is type(offending)


def test_enum_violation() -> None:
    t, where = _column("OVN_IC_Southbound", "Route", "origin")
    assert datum_from_json(t, "static") == "static"
    assert datum_from_json(t, "connected") == "connected"
    err = _rejects(t, where, "bogus")
    assert err.value == "bogus"
    assert "connected" in str(err) and "static" in str(err)
    assert _rejects(t, where, ["set", ["Static"]]).value == "Static"
    with pytest.raises(DataError) as exc:
        datum_to_json(t, "bogus", where=where)
    assert exc.value.value == "bogus"
    assert exc.value.where == where


def test_enum_in_set_and_map_columns() -> None:
    t, where = _column("OVN_Northbound", "Load_Balancer", "selection_fields")
    assert datum_from_json(t, ["set", ["eth_src", "tp_dst"]]) == {"eth_src", "tp_dst"}
    assert _rejects(t, where, ["set", ["eth_src", "vlan"]]).value == "vlan"
    t, where = _column("OVN_Northbound", "QoS", "bandwidth")
    assert datum_from_json(t, ["map", [["rate", 1], ["burst", 4294967295]]]) == {
        "rate": 1, "burst": 4294967295,
    }
    assert _rejects(t, where, ["map", [["speed", 1]]]).value == "speed"
    assert _rejects(t, where, ["map", [["rate", 0]]]).value == 0
    assert _rejects(t, where, ["map", [["rate", 4294967296]]]).value == 4294967296


@pytest.mark.parametrize(
    ("db", "table", "column", "good", "bad"),
    [
        ("OVN_IC_Southbound", "Port_Binding", "tunnel_key", [1, 32767], [0, 32768, -1]),
        ("OVN_IC_Southbound", "Datapath_Binding", "tunnel_key", [1, 16777215], [0, 16777216]),
        ("OVN_IC_Southbound", "Connection", "max_backoff", [1000, INT64_MAX], [999, INT64_MIN]),
        ("OVN_IC_Southbound", "Connection", "inactivity_probe",
         [INT64_MIN, 0, INT64_MAX], [INT64_MIN - 1, INT64_MAX + 1, 2**64]),
        ("OVN_Northbound", "ACL", "label", [0, 4294967295], [-1, 4294967296]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_integer_range(db: str, table: str, column: str, good: list[int], bad: list[int]) -> None:
    t, where = _column(db, table, column)
    for v in good:
        assert datum_from_json(t, v) == v
        assert datum_to_json(t, v) == v
    for v in bad:
        assert _rejects(t, where, v).value == v
        with pytest.raises(DataError) as exc:
            datum_to_json(t, v, where=where)
        assert exc.value.value == v
        assert exc.value.where == where


def test_string_length_counts_characters() -> None:
    t, where = _column("OVN_Northbound", "ACL", "name")  # optional, maxLength 63
    assert t.key.max_length == 63
    for ok in ("", "x" * 63, "é" * 63, "日本語" * 21, "\U0001f600" * 63):
        assert datum_from_json(t, ok) == (ok or "")
        assert datum_to_json(t, ok) == ok
    for long in ("x" * 64, "é" * 64, "\U0001f600" * 64):
        assert _rejects(t, where, long).value == long
        with pytest.raises(DataError) as exc:
            datum_to_json(t, long, where=where)
        assert exc.value.value == long
    minimum = ColumnType(BaseType("string", min_length=2, max_length=3))
    assert datum_from_json(minimum, "ab") == "ab"
    assert _rejects(minimum, "T.s", "a").value == "a"
    assert _rejects(minimum, "T.s", "abcd").value == "abcd"


def test_too_many_elements() -> None:
    t, where = _column("OVN_Northbound", "Logical_Switch_Port", "tag")  # optional
    err = _rejects(t, where, ["set", [1, 2]])
    assert err.value == ["set", [1, 2]]
    with pytest.raises(DataError) as exc:
        datum_to_json(t, [1, 2], where=where)
    assert exc.value.where == where
    small = ColumnType(BaseType("integer"), None, 0, 3)
    assert datum_from_json(small, ["set", [1, 2, 3]]) == {1, 2, 3}
    assert _rejects(small, "T.s", ["set", [1, 2, 3, 4]]).value == ["set", [1, 2, 3, 4]]
    with pytest.raises(DataError) as exc:
        datum_to_json(small, frozenset({1, 2, 3, 4}), where="T.s")
    assert exc.value.value == frozenset({1, 2, 3, 4})
    small_map = ColumnType(BaseType("string"), BaseType("string"), 0, 1)
    bad_map = ["map", [["a", "1"], ["b", "2"]]]
    assert _rejects(small_map, "T.m", bad_map).value == bad_map
    with pytest.raises(DataError):
        datum_to_json(small_map, {"a": "1", "b": "2"}, where="T.m")


def test_too_few_elements() -> None:
    t, where = _column("OVN_IC_Southbound", "Gateway", "encaps")  # min 1
    assert _rejects(t, where, ["set", []]).value == ["set", []]
    with pytest.raises(DataError) as exc:
        datum_to_json(t, frozenset(), where=where)
    assert exc.value.where == where
    assert exc.value.value == frozenset()
    full_map = ColumnType(BaseType("string"), BaseType("integer"), 1, None)
    assert _rejects(full_map, "T.m", ["map", []]).value == ["map", []]
    with pytest.raises(DataError):
        datum_to_json(full_map, {}, where="T.m")


def test_duplicate_set_elements() -> None:
    t, where = _column("OVN_IC_Southbound", "IC_SB_Global", "connections")
    dup = ["set", [["uuid", U1], ["uuid", U2], ["uuid", U1]]]
    err = _rejects(t, where, dup)
    assert err.value == dup
    assert "duplicate" in err.reason
    # The same UUID in upper and lower case is the same atom.
    assert "duplicate" in _rejects(t, where, ["set", [["uuid", U2], ["uuid", U2.upper()]]]).reason


def test_duplicate_map_keys() -> None:
    t, where = _column("OVN_IC_Southbound", "Route", "external_ids")
    for dup in (["map", [["a", "1"], ["a", "2"]]], ["map", [["a", "1"], ["a", "1"]]]):
        err = _rejects(t, where, dup)
        assert err.value == dup
        assert "duplicate" in err.reason


@pytest.mark.parametrize(
    "wire",
    [
        ["uuid", "not-a-uuid"],
        ["uuid", U1.replace("-", "")],
        ["uuid", "{" + U1 + "}"],
        ["uuid", "urn:uuid:" + U1],
        ["uuid", U1[:-1]],
        ["uuid", U1 + "0"],
        ["uuid", U1 + "\n"],
        ["uuid", U1.replace("0", "g", 1)],
        ["uuid"],
        ["uuid", U1, U2],
        ["UUID", U1],
        U1,
    ],
)
def test_malformed_uuid(wire: Any) -> None:
    t, where = _column("OVN_IC_Southbound", "Route", "availability_zone")
    assert _rejects(t, where, wire).value == wire


def test_named_uuid() -> None:
    t, where = _column("OVN_IC_Southbound", "Gateway", "encaps")
    named = ["named-uuid", "encap_1"]
    assert _rejects(t, where, named).value == named
    assert datum_from_json(t, named, allow_named=True) == frozenset({NamedUUID("encap_1")})
    mixed = datum_from_json(t, ["set", [named, ["uuid", U1]]], allow_named=True)
    assert mixed == frozenset({NamedUUID("encap_1"), uuid.UUID(U1)})
    assert datum_to_json(t, {NamedUUID("encap_1")}) == named
    # A named-uuid must be an identifier.
    bad = ["named-uuid", "1st row"]
    err = _rejects(t, where, bad, allow_named=True)
    assert err.value == bad
    with pytest.raises(DataError):
        NamedUUID("has space")
    with pytest.raises(DataError):
        NamedUUID("")


def test_bool_is_not_an_integer() -> None:
    t, where = _column("OVN_IC_Southbound", "Connection", "inactivity_probe")
    for b in (True, False):
        assert _rejects(t, where, b).value is b
        with pytest.raises(DataError) as exc:
            datum_to_json(t, b, where=where)
        assert exc.value.value is b
    real = ColumnType(BaseType("real"))
    with pytest.raises(DataError):
        datum_from_json(real, True)
    with pytest.raises(DataError):
        datum_to_json(real, False)


def test_int_accepted_for_real() -> None:
    real = ColumnType(BaseType("real", min_real=-1.5, max_real=10.0))
    for j in (3, 0, -1, 10):
        got = datum_from_json(real, j)
        assert type(got) is float and got == j
        assert datum_to_json(real, j) == j
    assert datum_from_json(real, 2.5) == 2.5
    assert datum_to_json(real, -1.5) == -1.5
    for j in (-2, 10.5, 11):
        assert _rejects(real, "T.r", j).value == j
    # The converse does not hold: a JSON real is not an integer.
    with pytest.raises(DataError):
        datum_from_json(ColumnType(BaseType("integer")), 2.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_reals_refused(bad: float) -> None:
    real = ColumnType(BaseType("real"))
    with pytest.raises(DataError) as exc:
        datum_to_json(real, bad, where="T.r")
    assert exc.value.where == "T.r"
    assert exc.value.value is bad
    # The stdlib json module parses NaN and Infinity; such datums are refused too.
    with pytest.raises(DataError) as exc:
        datum_from_json(real, json.loads(json.dumps(bad)), where="T.r")
    assert exc.value.where == "T.r"
    assert math.isnan(exc.value.value) or math.isinf(exc.value.value)


def test_reals_out_of_float_range_refused() -> None:
    real = ColumnType(BaseType("real"))
    huge = 10**400
    with pytest.raises(DataError) as exc:
        datum_from_json(real, huge, where="T.r")
    assert exc.value.where == "T.r"
    with pytest.raises(DataError):
        datum_to_json(real, huge, where="T.r")
    assert datum_from_json(real, 2**63) == float(2**63)


def test_encode_rejects_wrong_python_types() -> None:
    t, where = _column("OVN_IC_Southbound", "Route", "ip_prefix")
    with pytest.raises(DataError) as exc:
        datum_to_json(t, None, where=where)
    assert exc.value.where == where
    with pytest.raises(DataError) as exc:
        datum_to_json(t, b"10.0.0.0/8", where=where)
    assert exc.value.value == b"10.0.0.0/8"
    s, where = _column("OVN_IC_Southbound", "IC_SB_Global", "connections")
    for bad in ("abc", 5, {uuid.UUID(U1): uuid.UUID(U2)}, {U1}):
        with pytest.raises(DataError) as exc:
            datum_to_json(s, bad, where=where)
        assert exc.value.where == where
    m, where = _column("OVN_IC_Southbound", "Route", "external_ids")
    for bad in ({"a": 1}, {1: "a"}, "a=b"):
        with pytest.raises(DataError):
            datum_to_json(m, bad, where=where)


@pytest.mark.parametrize("atype", ["integer", "real", "boolean", "string", "uuid"])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_atom_round_trip(atype: str, data: st.DataObject) -> None:
    base = BaseType(atype)  # type: ignore[arg-type]
    atom = data.draw(atoms(base))
    assert atom_from_json(base, _jsonify(atom_to_json(base, atom))) == atom


# --------------------------------------------------------------------------- parse_uuid


def test_parse_uuid_canonical_only() -> None:
    assert parse_uuid(U1) == uuid.UUID(U1)
    assert parse_uuid(U1.upper()) == uuid.UUID(U1)
    assert parse_uuid("00000000-0000-0000-0000-000000000000") == uuid.UUID(int=0)
    for bad in (
        U1.replace("-", ""), "{" + U1 + "}", "urn:uuid:" + U1, U1 + "\n", " " + U1,
        U1[:-1], U1 + "a", U1.replace("-", "_"), "", "0b3c6d9e1f2a-4b5c-8d7e-9f0a-1b2c3d4e",
    ):
        with pytest.raises(DataError) as exc:
            parse_uuid(bad)
        assert exc.value.value == bad
    for not_text in (uuid.UUID(U1), U1.encode(), None, 5):
        with pytest.raises(DataError):
            parse_uuid(not_text)  # type: ignore[arg-type]
    parsed = parse_uuid(U2)
    assert str(parsed) == U2
    assert hash(parsed) == hash(uuid.UUID(U2))


def test_fast_paths_still_reject_look_alikes() -> None:
    """The inline decoders for common columns must not accept what the full ones refuse."""
    sb = schema("OVN_IC_Southbound")
    route = sb.tables["Route"].columns
    ids = route["external_ids"].type
    with pytest.raises(DataError, match=r"Route\.external_ids: map entries must be"):
        datum_from_json(ids, ["map", ["ab"]], where="Route.external_ids")  # "ab" is no pair
    with pytest.raises(DataError, match="duplicate keys"):
        datum_from_json(ids, ["map", [["a", "1"], ["a", "2"]]], where="Route.external_ids")
    with pytest.raises(DataError, match="expected a string"):
        datum_from_json(ids, ["map", [["a", 1]]], where="Route.external_ids")
    origin = route["origin"].type
    with pytest.raises(DataError, match="not one of the allowed values"):
        datum_from_json(origin, "bogus", where="Route.origin")
    az = route["availability_zone"].type
    with pytest.raises(DataError, match="8-4-4-4-12"):
        datum_from_json(az, ["uuid", "not-a-uuid"], where="Route.availability_zone")
    tkey = sb.tables["Datapath_Binding"].columns["tunnel_key"].type
    with pytest.raises(DataError, match="out of range"):
        datum_from_json(tkey, 2**70, where="Datapath_Binding.tunnel_key")


# ----------------------------------------------------------- what ovsdb-server refuses


_STRING_COLUMN = ColumnType(BaseType("string"))
_REAL_MAP = ColumnType(BaseType("string"), BaseType("real"), 0, None)


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                 st.floats(1.79769313486e308, 1.7976931348623157e308),
                 st.floats(2.2250738585e-308, 2.22507385851e-308)).map(
    lambda x: x if x else 0.0))
def test_reals_are_refused_exactly_where_ovsdb_server_cannot_keep_them(x: float) -> None:
    # ovsdb-server reads only zero and normal doubles, and writes reals with 15
    # significant digits (tests/integration/test_server_refusals.py shows both on a
    # real server), so a real is kept iff its 15-digit form is zero or normal.
    written = float("%.15g" % x)  # noqa: UP031 (the C format ovsdb-server uses)
    kept = written == 0 or sys.float_info.min <= abs(written) <= sys.float_info.max
    if kept:
        assert datum_to_json(_REAL_MAP, {"k": x}) == ["map", [["k", x]]]
    else:
        with pytest.raises(DataError, match=r"written as") as exc:
            datum_to_json(_REAL_MAP, {"k": x}, where="T.c")
        assert exc.value.where == "T.c"


@pytest.mark.parametrize("value, reason", [
    ("a\x00b", r"U\+0000"),
    ("\ud800", "lone surrogate"),
    ("ok \udfff", "lone surrogate"),
])
def test_strings_the_server_cannot_take_are_refused_naming_the_column(
    value: str, reason: str
) -> None:
    with pytest.raises(DataError, match=reason) as exc:
        datum_to_json(_STRING_COLUMN, value, where="Route.ip_prefix")
    assert exc.value.where == "Route.ip_prefix"
    assert datum_to_json(_STRING_COLUMN, "é\u2028\U0001f600") == "é\u2028\U0001f600"
