"""Datums against python-ovs (``ovs.db``): both libraries must read each other's JSON.

For every distinct column type of the four schemas, as python-ovs reads it from the
same ``.ovsschema`` files: our JSON must be accepted by ``ovs.db.data.Datum.from_json``
and mean the same atoms there, and python-ovs's ``to_json`` must decode (with ours) to
the original value. Invalid datums must be refused by both.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import ovs.db.data
import ovs.db.error
import ovs.db.schema
import ovs.db.types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import DataError
from ovsdb_ic.wire.data import apply_diff, datum_from_json, datum_to_json, diff_from_json, make_diff
from ovsdb_ic.wire.monitor import default_value
from ovsdb_ic.wire.schema import ColumnType, parse_column_type, parse_schema
from tests.strategies import SCHEMA_FILES, all_columns, schema, schema_json, values

_OVS_SCHEMAS = {name: ovs.db.schema.DbSchema.from_json(schema_json(name))
                for name in SCHEMA_FILES}


def _ovs_type(db: str, table: str, column: str) -> Any:
    return _OVS_SCHEMAS[db].tables[table].columns[column].type


def _distinct_types() -> list[tuple[str, str, str, ColumnType]]:
    """One (db, table, column, type) per distinct column type, first occurrence first."""
    seen: set[ColumnType] = set()
    out = []
    for db, table, col in all_columns():
        if col.name.startswith("_") or col.type in seen:
            continue
        seen.add(col.type)
        out.append((db.name, table.name, col.name, col.type))
    return out


TYPES = _distinct_types()
TYPE_IDS = [f"{db}.{table}.{col}" for db, table, col, _ in TYPES]
COLUMNS = [(db.name, t.name, c.name) for db, t, c in all_columns() if not c.name.startswith("_")]


def _jsonify(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False))


def _ovs_atoms(datum: Any, ctype: ColumnType) -> Any:
    """python-ovs's datum as our Python form (its atoms' values)."""
    if ctype.value is not None:
        return {k.value: v.value for k, v in datum.values.items()}
    atoms = frozenset(k.value for k in datum.values)
    if ctype.is_scalar:
        (only,) = atoms
        return only
    if ctype.is_optional:
        return next(iter(atoms)) if atoms else None
    return atoms


def _unwrap(atom: Any) -> Any:
    value = atom.value
    while isinstance(value, ovs.db.data.Atom):
        value = value.value
    return value


def _ovs_python(ctype: ColumnType, value: Any) -> Any:
    """Our Python value in the form ``Datum.from_python`` takes."""
    if ctype.value is not None:
        return dict(value)
    if ctype.is_optional:
        return [] if value is None else [value]
    if ctype.is_set:
        return sorted(value, key=repr)
    return value


def test_every_column_type_is_covered() -> None:
    assert len(TYPES) > 50
    assert {c.type for _, _, c in all_columns() if not c.name.startswith("_")} == {
        t for *_, t in TYPES
    }


@pytest.mark.parametrize("name", list(SCHEMA_FILES))
def test_python_ovs_reads_tables_alike(name: str) -> None:
    ours = schema(name)
    theirs = _OVS_SCHEMAS[name]
    assert theirs.name == ours.name and theirs.version == ours.version
    assert set(theirs.tables) == set(ours.tables)
    for tname, t in theirs.tables.items():
        mine = ours.table(tname)
        assert t.is_root == mine.is_root
        assert t.max_rows == (sys.maxsize if mine.max_rows is None else mine.max_rows)
        assert [tuple(c.name for c in i) for i in t.indexes] == list(mine.indexes)
        assert set(t.columns) == set(mine.columns)
        for cname, c in t.columns.items():
            assert c.mutable == mine.column(cname).mutable
            # python-ovs forces ephemeral strong references to non-root tables to be
            # persistent; none of these schemas has one, so the flags agree.
            assert (not c.persistent) == mine.column(cname).ephemeral


def test_python_ovs_agrees_on_legacy_root_set() -> None:
    legacy = {"name": "Old", "version": "1.0.0", "tables": {
        "A": {"columns": {"x": {"type": "string"}}},
        "B": {"columns": {"y": {"type": {"key": {"type": "uuid", "refTable": "A"}}}}},
    }}
    theirs = ovs.db.schema.DbSchema.from_json(json.loads(json.dumps(legacy)))
    ours = parse_schema(legacy)
    for tname in ("A", "B"):
        assert ours.table(tname).is_root == theirs.tables[tname].is_root


@pytest.mark.parametrize(("db", "table", "column"), COLUMNS,
                         ids=[".".join(c) for c in COLUMNS])
def test_python_ovs_reads_column_types_alike(db: str, table: str, column: str) -> None:
    ours = schema(db).table(table).column(column).type
    theirs = _ovs_type(db, table, column)
    assert parse_column_type(_jsonify(theirs.to_json())) == ours
    assert theirs.n_min == ours.min
    assert theirs.n_max == (sys.maxsize if ours.max is None else ours.max)
    assert theirs.is_map() == ours.is_map
    assert theirs.is_scalar() == ours.is_scalar
    assert theirs.is_optional() == ours.is_optional


@pytest.mark.parametrize(("db", "table", "column", "ctype"), TYPES, ids=TYPE_IDS)
def test_default_values_alike(db: str, table: str, column: str, ctype: ColumnType) -> None:
    # update2 omits columns holding their default value, so both must agree on it.
    theirs = ovs.db.data.Datum.default(_ovs_type(db, table, column))
    # python-ovs 4.0 wraps default atoms twice (Atom(Atom(...))): unwrap them.
    unwrapped = ovs.db.data.Datum(theirs.type, {
        ovs.db.data.Atom(k.type, _unwrap(k)):
            None if v is None else ovs.db.data.Atom(v.type, _unwrap(v))
        for k, v in theirs.values.items()
    })
    # (Defaults may violate the column's constraints, e.g. "" for an enum; the
    # server refuses to commit such rows, so they are compared as atoms only.)
    assert _ovs_atoms(unwrapped, ctype) == default_value(ctype)


@pytest.mark.parametrize(("db", "table", "column", "ctype"), TYPES, ids=TYPE_IDS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_json_accepted_by_both(
    db: str, table: str, column: str, ctype: ColumnType, data: st.DataObject
) -> None:
    ovs_type = _ovs_type(db, table, column)
    value = data.draw(values(ctype), label="value")

    ours = _jsonify(datum_to_json(ctype, value))
    theirs = ovs.db.data.Datum.from_json(ovs_type, ours)
    assert _ovs_atoms(theirs, ctype) == value

    their_json = _jsonify(theirs.to_json())
    assert datum_from_json(ctype, their_json) == value
    assert datum_from_json(ctype, their_json) == datum_from_json(ctype, ours)

    # python-ovs's own encoding of the same Python value decodes to it as well.
    from_python = ovs.db.data.Datum.from_python(ovs_type, _ovs_python(ctype, value),
                                                lambda x: x)
    assert datum_from_json(ctype, _jsonify(from_python.to_json())) == value


@pytest.mark.parametrize(("db", "table", "column", "ctype"), TYPES, ids=TYPE_IDS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_update2_diff_applied_alike(
    db: str, table: str, column: str, ctype: ColumnType, data: st.DataObject
) -> None:
    old = data.draw(values(ctype), label="old")
    new = data.draw(values(ctype), label="new")
    diff = make_diff(ctype, old, new)
    # What ovsdb-server sends: the new value for columns holding at most one value,
    # else the set/map of changes (which may exceed the column's bounds).
    diff_type = ctype if ctype.max == 1 else ColumnType(ctype.key, ctype.value, 0, None)
    diff_json = _jsonify(datum_to_json(diff_type, diff))
    assert apply_diff(ctype, old, diff_from_json(ctype, diff_json)) == new
    if old == new:
        return  # the server sends only changed columns
    # python-ovs's IDL parses the diff with the column's type and applies Datum.diff.
    ovs_type = _ovs_type(db, table, column)
    theirs = ovs.db.data.Datum.from_json(ovs_type, _jsonify(datum_to_json(ctype, old)))
    applied = theirs.diff(ovs.db.data.Datum.from_json(ovs_type, diff_json))
    assert datum_from_json(ctype, _jsonify(applied.to_json())) == new


INVALID = [
    ("OVN_IC_Southbound", "Route", "origin", "bogus"),
    ("OVN_IC_Southbound", "Route", "origin", ["set", ["static", "connected"]]),
    ("OVN_IC_Southbound", "Route", "ip_prefix", 5),
    ("OVN_IC_Southbound", "Route", "ip_prefix", ["set", []]),
    ("OVN_IC_Southbound", "Route", "availability_zone", "0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e"),
    ("OVN_IC_Southbound", "Route", "availability_zone", ["uuid", "0b3c6d9e"]),
    ("OVN_IC_Southbound", "Route", "external_ids", ["set", ["a"]]),
    ("OVN_IC_Southbound", "Route", "external_ids", ["map", [["a", "1"], ["a", "2"]]]),
    ("OVN_IC_Southbound", "Route", "external_ids", ["map", [["a", 1]]]),
    ("OVN_IC_Southbound", "Port_Binding", "tunnel_key", 0),
    ("OVN_IC_Southbound", "Port_Binding", "tunnel_key", 32768),
    ("OVN_IC_Southbound", "Port_Binding", "tunnel_key", "1"),
    ("OVN_IC_Southbound", "Port_Binding", "encap", ["set", [["uuid", str(uuid.UUID(int=1))],
                                                            ["uuid", str(uuid.UUID(int=2))]]]),
    ("OVN_IC_Southbound", "Gateway", "encaps", ["set", []]),
    ("OVN_IC_Southbound", "IC_SB_Global", "connections",
     ["set", [["uuid", str(uuid.UUID(int=1))], ["uuid", str(uuid.UUID(int=1))]]]),
    ("OVN_Northbound", "Logical_Switch_Port", "tag", ["set", [1, 2]]),
    ("OVN_Northbound", "Logical_Switch_Port", "tag", 4096),
    ("OVN_Northbound", "ACL", "name", "x" * 64),
    ("OVN_Northbound", "QoS", "bandwidth", ["map", [["speed", 1]]]),
    ("OVN_Northbound", "Load_Balancer", "selection_fields", ["set", ["eth_src", "vlan"]]),
]


@pytest.mark.parametrize(("db", "table", "column", "wire"), INVALID,
                         ids=[f"{t}.{c}-{i}" for i, (_, t, c, _) in enumerate(INVALID)])
def test_invalid_json_refused_by_both(db: str, table: str, column: str, wire: Any) -> None:
    ctype = schema(db).table(table).column(column).type
    with pytest.raises(DataError):
        datum_from_json(ctype, wire, where=f"{table}.{column}")
    with pytest.raises(ovs.db.error.Error):
        ovs.db.data.Datum.from_json(_ovs_type(db, table, column), wire)
