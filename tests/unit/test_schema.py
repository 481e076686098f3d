"""Schemas: the four OVN-IC schemas, malformed schemas, and generated column types."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import SchemaError
from ovsdb_ic.wire.schema import (
    UUID_COLUMN,
    VERSION_COLUMN,
    BaseType,
    ColumnType,
    DatabaseSchema,
    parse_column_type,
    parse_schema,
)
from tests.strategies import SCHEMA_FILES, column_type_json, schema, schema_json

DB_NAMES = list(SCHEMA_FILES)


def _jsonify(value: Any) -> Any:
    return json.loads(json.dumps(value))


# --------------------------------------------------------------------------- the four schemas


@pytest.mark.parametrize("name", DB_NAMES)
def test_schema_parses_with_its_name_and_version(name: str) -> None:
    raw = schema_json(name)
    s = parse_schema(raw)
    assert isinstance(s, DatabaseSchema)
    assert s.name == raw["name"] == name
    assert s.version == raw["version"]
    assert s.cksum == raw["cksum"]
    assert list(s.tables) == list(raw["tables"])
    assert s.version_tuple == tuple(int(x) for x in raw["version"].split("."))


@pytest.mark.parametrize("name", DB_NAMES)
def test_schema_round_trips_through_to_json(name: str) -> None:
    s = schema(name)
    again = parse_schema(_jsonify(s.to_json()))
    assert again == s
    assert again.to_json() == s.to_json()


def _normal_base(j: Any) -> dict[str, Any]:
    return {"type": j} if isinstance(j, str) else j


def _check_base(base: BaseType, j: Any) -> None:
    j = _normal_base(j)
    assert base.type == j["type"]
    assert base.min_integer == j.get("minInteger")
    assert base.max_integer == j.get("maxInteger")
    assert base.min_real == j.get("minReal")
    assert base.max_real == j.get("maxReal")
    assert base.min_length == j.get("minLength")
    assert base.max_length == j.get("maxLength")
    assert base.ref_table == j.get("refTable")
    if "refTable" in j:
        assert base.ref_type == j.get("refType", "strong")
    if "enum" in j:
        enum = j["enum"]
        atoms = enum[1] if isinstance(enum, list) and enum[0] == "set" else [enum]
        assert base.enum == frozenset(atoms)
    else:
        assert base.enum is None


def _check_column_type(ctype: ColumnType, j: Any) -> None:
    """Compare a parsed column type with its JSON, read independently of the parser."""
    if isinstance(j, str):
        j = {"key": j}
    _check_base(ctype.key, j["key"])
    if "value" in j:
        assert ctype.value is not None
        _check_base(ctype.value, j["value"])
    else:
        assert ctype.value is None
    assert ctype.min == j.get("min", 1)
    mx = j.get("max", 1)
    assert ctype.max == (None if mx == "unlimited" else mx)


@pytest.mark.parametrize("name", DB_NAMES)
def test_every_table_and_column_matches_the_json(name: str) -> None:
    raw = schema_json(name)
    s = schema(name)
    for tname, tj in raw["tables"].items():
        table = s.table(tname)
        assert table.name == tname
        assert table.is_root is tj.get("isRoot", False)
        assert table.max_rows == tj.get("maxRows")
        assert table.indexes == tuple(tuple(i) for i in tj.get("indexes", []))
        assert list(table.columns) == list(tj["columns"])
        for cname, cj in tj["columns"].items():
            col = table.column(cname)
            assert col.name == cname
            assert col.ephemeral is cj.get("ephemeral", False)
            assert col.mutable is cj.get("mutable", True)
            _check_column_type(col.type, cj["type"])


def test_known_ic_sb_details() -> None:
    s = schema("OVN_IC_Southbound")
    assert s.version == "1.1.1"
    assert s.cksum == "3684563024 6914"
    glob = s.table("IC_SB_Global")
    assert glob.max_rows == 1 and glob.is_root
    assert not s.table("Encap").is_root
    assert s.table("Encap").indexes == (("type", "ip"),)
    assert s.table("Route").indexes == (
        ("transit_switch", "availability_zone", "route_table", "ip_prefix", "nexthop"),
    )
    assert s.table("Port_Binding").indexes == (("transit_switch", "tunnel_key"),
                                                ("logical_port",))

    encap = s.table("Port_Binding").column("encap").type
    assert encap.is_optional and not encap.is_set and not encap.is_scalar
    assert encap.key == BaseType("uuid", ref_table="Encap", ref_type="weak")

    encaps = s.table("Gateway").column("encaps").type
    assert encaps.is_set and encaps.min == 1 and encaps.max is None
    assert encaps.key.ref_table == "Encap" and encaps.key.ref_type == "strong"

    az = s.table("Route").column("availability_zone").type
    assert az.is_scalar and az.key.ref_table == "Availability_Zone"

    origin = s.table("Route").column("origin").type
    assert origin.is_scalar and origin.key.enum == frozenset({"connected", "static"})

    key = s.table("Port_Binding").column("tunnel_key").type.key
    assert (key.min_integer, key.max_integer) == (1, 32767)
    backoff = s.table("Connection").column("max_backoff").type
    assert backoff.is_optional
    assert (backoff.key.min_integer, backoff.key.max_integer) == (1000, None)

    conn = s.table("Connection")
    assert conn.column("is_connected").ephemeral
    assert conn.column("status").ephemeral and conn.column("status").type.is_map
    assert not conn.column("target").ephemeral
    ext = s.table("Route").column("external_ids").type
    assert ext.is_map and ext.min == 0 and ext.max is None
    assert ext.key == ext.value == BaseType("string")


def test_known_nb_details() -> None:
    s = schema("OVN_Northbound")
    name = s.table("ACL").column("name").type
    assert name.is_optional and name.key.max_length == 63 and name.key.min_length is None
    bw = s.table("QoS").column("bandwidth").type
    assert bw.key.enum == frozenset({"rate", "burst"})
    assert bw.value == BaseType("integer", min_integer=1, max_integer=4294967295)
    assert s.table("NB_Global").max_rows == 1
    assert s.table("Logical_Switch_Port").is_root is False


def test_implicit_columns() -> None:
    table = schema("OVN_IC_Southbound").table("Route")
    assert table.column("_uuid") is UUID_COLUMN
    assert table.column("_version") is VERSION_COLUMN
    assert UUID_COLUMN.type == ColumnType(BaseType("uuid"))
    assert not UUID_COLUMN.mutable
    assert "_uuid" not in table.columns
    with pytest.raises(KeyError):
        table.column("no_such_column")


def test_unknown_table_names_the_database() -> None:
    with pytest.raises(KeyError, match="OVN_IC_Southbound"):
        schema("OVN_IC_Southbound").table("Logical_Switch")


def test_no_root_table_means_every_table_is_root() -> None:
    # Schemas from before "isRoot" existed: with an empty root set, all tables are roots.
    legacy = {"name": "Old", "version": "1.0.0", "tables": {
        "A": {"columns": {"x": {"type": "string"}}},
        "B": {"columns": {"y": {"type": "integer"}}, "isRoot": False},
    }}
    s = parse_schema(copy.deepcopy(legacy))
    assert s.table("A").is_root and s.table("B").is_root
    assert parse_schema(_jsonify(s.to_json())) == s
    # With at least one root table, "isRoot" defaults to false.
    legacy["tables"]["B"]["isRoot"] = True
    s = parse_schema(legacy)
    assert not s.table("A").is_root and s.table("B").is_root


# --------------------------------------------------------------------------- malformed schemas


def _base() -> dict[str, Any]:
    return {
        "name": "Test_DB",
        "version": "1.2.3",
        "tables": {
            "T": {
                "columns": {
                    "c": {"type": "string"},
                    "r": {"type": {"key": {"type": "uuid", "refTable": "T"},
                                   "min": 0, "max": 1}},
                    "e": {"type": "integer", "ephemeral": True},
                },
                "indexes": [["c"]],
            },
        },
    }


Edit = Callable[[dict[str, Any]], Any]


def _col(j: dict[str, Any]) -> dict[str, Any]:
    col: dict[str, Any] = j["tables"]["T"]["columns"]["c"]
    return col


def _set_type(t: Any) -> Edit:
    def edit(j: dict[str, Any]) -> None:
        _col(j)["type"] = t
    return edit


_C = "tables.T.columns.c"

MALFORMED: list[tuple[str, Edit, str]] = [
    ("not an object", lambda j: ["name"], ""),
    ("unknown top-level member", lambda j: j.update(extra=1), ""),
    ("missing name", lambda j: j.pop("name"), "name"),
    ("name not an identifier", lambda j: j.update(name="1db"), "name"),
    ("bad version 1.0", lambda j: j.update(version="1.0"), "version"),
    ("version with leading zero", lambda j: j.update(version="1.02.3"), "version"),
    ("version not a string", lambda j: j.update(version=1), "version"),
    ("cksum not a string", lambda j: j.update(cksum=5), "cksum"),
    ("tables not an object", lambda j: j.update(tables=[]), "tables"),
    ("table name reserved", lambda j: j["tables"].update(_T={"columns": {"a": {"type": "string"}}}),
     "tables._T"),
    ("table not an object", lambda j: j["tables"].update(U=[]), "tables.U"),
    ("unknown member at table level", lambda j: j["tables"]["T"].update(rows=1), "tables.T"),
    ("table without columns", lambda j: j["tables"]["T"].pop("columns"), "tables.T.columns"),
    ("table with no column", lambda j: j["tables"]["T"].update(columns={}), "tables.T.columns"),
    ("maxRows 0", lambda j: j["tables"]["T"].update(maxRows=0), "tables.T.maxRows"),
    ("isRoot not a boolean", lambda j: j["tables"]["T"].update(isRoot="yes"), "tables.T.isRoot"),
    ("column name starting with _",
     lambda j: j["tables"]["T"]["columns"].update(_x={"type": "string"}), "tables.T.columns._x"),
    ("column name not an identifier",
     lambda j: j["tables"]["T"]["columns"].update({"a-b": {"type": "string"}}),
     "tables.T.columns.a-b"),
    ("unknown member at column level", lambda j: _col(j).update(default=""), _C),
    ("column without type", lambda j: _col(j).pop("type"), _C),
    ("column not an object", lambda j: j["tables"]["T"]["columns"].update(c="string"), _C),
    ("ephemeral not a boolean", lambda j: _col(j).update(ephemeral="true"), f"{_C}.ephemeral"),
    ("mutable not a boolean", lambda j: _col(j).update(mutable=0), f"{_C}.mutable"),
    ("column type a number", _set_type(5), f"{_C}.type"),
    ("column type an array", _set_type(["string"]), f"{_C}.type"),
    ("unknown atomic type", _set_type("int"), f"{_C}.type"),
    ("unknown atomic key type", _set_type({"key": "float"}), f"{_C}.type.key"),
    ("unknown atomic type in object", _set_type({"key": {"type": "map"}}), f"{_C}.type.key.type"),
    ("type without key", _set_type({"value": "string"}), f"{_C}.type"),
    ("unknown member at column type level", _set_type({"key": "string", "maxx": 2}),
     f"{_C}.type"),
    ("unknown member at base type level", _set_type({"key": {"type": "string", "minInteger": 1}}),
     f"{_C}.type.key"),
    ("unknown member at value type level",
     _set_type({"key": "string", "value": {"type": "boolean", "maxLength": 1}}),
     f"{_C}.type.value"),
    ("minInteger > maxInteger",
     _set_type({"key": {"type": "integer", "minInteger": 5, "maxInteger": 4}}), f"{_C}.type.key"),
    ("minInteger not an integer",
     _set_type({"key": {"type": "integer", "minInteger": 1.5}}), f"{_C}.type.key.minInteger"),
    ("maxInteger beyond int64",
     _set_type({"key": {"type": "integer", "maxInteger": 2**63}}), f"{_C}.type.key.maxInteger"),
    ("minReal > maxReal",
     _set_type({"key": {"type": "real", "minReal": 1.5, "maxReal": 1.0}}), f"{_C}.type.key"),
    ("minLength > maxLength",
     _set_type({"key": {"type": "string", "minLength": 3, "maxLength": 2}}), f"{_C}.type.key"),
    ("negative maxLength",
     _set_type({"key": {"type": "string", "maxLength": -1}}), f"{_C}.type.key.maxLength"),
    ("max 0", _set_type({"key": "string", "min": 0, "max": 0}), f"{_C}.type.max"),
    ("min 2", _set_type({"key": "string", "min": 2, "max": "unlimited"}), f"{_C}.type.min"),
    ("min a boolean", _set_type({"key": "string", "min": False}), f"{_C}.type.min"),
    ("unlimited typo", _set_type({"key": "string", "max": "unlimted"}), f"{_C}.type.max"),
    ("max as a string number", _set_type({"key": "string", "max": "2"}), f"{_C}.type.max"),
    ("enum empty", _set_type({"key": {"type": "string", "enum": ["set", []]}}),
     f"{_C}.type.key.enum"),
    ("enum of the wrong type", _set_type({"key": {"type": "string", "enum": ["set", ["a", 1]]}}),
     f"{_C}.type.key.enum"),
    ("enum with a duplicate", _set_type({"key": {"type": "integer", "enum": ["set", [1, 1]]}}),
     f"{_C}.type.key.enum"),
    ("enum not a set", _set_type({"key": {"type": "string", "enum": ["a", "b"]}}),
     f"{_C}.type.key.enum"),
    ("refTable to unknown table",
     _set_type({"key": {"type": "uuid", "refTable": "Nope"}}), f"{_C}.type.key.refTable"),
    ("value refTable to unknown table",
     _set_type({"key": "string", "value": {"type": "uuid", "refTable": "Nope"}}),
     f"{_C}.type.value.refTable"),
    ("refTable not a name",
     _set_type({"key": {"type": "uuid", "refTable": 7}}), f"{_C}.type.key.refTable"),
    ("refType without refTable",
     _set_type({"key": {"type": "uuid", "refType": "weak"}}), f"{_C}.type.key.refType"),
    ("refType neither strong nor weak",
     _set_type({"key": {"type": "uuid", "refTable": "T", "refType": "soft"}}),
     f"{_C}.type.key.refType"),
    ("refTable on a string", _set_type({"key": {"type": "string", "refTable": "T"}}),
     f"{_C}.type.key"),
    ("indexes not an array", lambda j: j["tables"]["T"].update(indexes={"c": 1}),
     "tables.T.indexes"),
    ("index on unknown column", lambda j: j["tables"]["T"].update(indexes=[["c"], ["x"]]),
     "tables.T.indexes[1]"),
    ("index on ephemeral column", lambda j: j["tables"]["T"].update(indexes=[["c", "e"]]),
     "tables.T.indexes[0]"),
    ("empty index", lambda j: j["tables"]["T"].update(indexes=[[]]), "tables.T.indexes[0]"),
    ("index naming a column twice", lambda j: j["tables"]["T"].update(indexes=[["c", "c"]]),
     "tables.T.indexes[0]"),
    ("index of non-strings", lambda j: j["tables"]["T"].update(indexes=[[1]]),
     "tables.T.indexes[0]"),
]


def test_base_schema_is_valid() -> None:
    s = parse_schema(_base())
    assert s.table("T").indexes == (("c",),)
    assert s.table("T").column("e").ephemeral


@pytest.mark.parametrize(("edit", "path"), [(e, p) for _, e, p in MALFORMED],
                         ids=[name for name, _, _ in MALFORMED])
def test_malformed_schema_rejected(edit: Edit, path: str) -> None:
    j = _base()
    replaced = edit(j)
    if isinstance(replaced, list):
        j = replaced  # type: ignore[assignment]
    with pytest.raises(SchemaError) as exc:
        parse_schema(j)
    err = exc.value
    assert isinstance(err, ValueError)
    assert err.path == path
    assert err.reason
    if path:
        assert str(err).startswith(f"{path}: ")


def test_schema_error_does_not_depend_on_later_elements() -> None:
    # The first offending element is reported even when a later one is also wrong.
    j = _base()
    _col(j)["type"] = "int"
    j["tables"]["T"]["indexes"] = [["nope"]]
    with pytest.raises(SchemaError) as exc:
        parse_schema(j)
    assert exc.value.path == f"{_C}.type"


def test_doc_member_allowed_and_real_bounds_accept_integers() -> None:
    j = _base()
    j["doc"] = "a test schema"
    _col(j)["type"] = {"key": {"type": "real", "minReal": 0, "maxReal": 10}}
    base = parse_schema(j).table("T").column("c").type.key
    assert base.min_real == 0.0 and type(base.min_real) is float
    assert base.max_real == 10.0


def test_parse_column_type_default_path() -> None:
    with pytest.raises(SchemaError) as exc:
        parse_column_type({"key": "string", "max": 0})
    assert exc.value.path == "type.max"
    assert parse_column_type("boolean") == ColumnType(BaseType("boolean"))


# --------------------------------------------------------------------------- generated types


@settings(max_examples=200, deadline=None)
@given(j=column_type_json())
def test_generated_column_types_parse_and_round_trip(j: Any) -> None:
    ctype = parse_column_type(j)
    _check_column_type(ctype, j)
    out = _jsonify(ctype.to_json())
    assert parse_column_type(out) == ctype
    # to_json is canonical: a second trip gives the same JSON.
    assert parse_column_type(out).to_json() == out


@st.composite
def _schemas_json(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.from_regex(r"[A-Z][a-z]{0,5}", fullmatch=True),
                          min_size=1, max_size=3, unique=True))
    tables: dict[str, Any] = {}
    for name in names:
        cols = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True),
                             min_size=1, max_size=4, unique=True))
        columns: dict[str, Any] = {}
        for c in cols:
            cj: dict[str, Any] = {"type": draw(column_type_json(tuple(names)))}
            if draw(st.booleans()):
                cj["ephemeral"] = draw(st.booleans())
            if draw(st.booleans()):
                cj["mutable"] = draw(st.booleans())
            columns[c] = cj
        tj: dict[str, Any] = {"columns": columns}
        durable = [c for c, cj in columns.items() if not cj.get("ephemeral")]
        if durable and draw(st.booleans()):
            tj["indexes"] = [draw(st.lists(st.sampled_from(durable), min_size=1, unique=True))]
        if draw(st.booleans()):
            tj["isRoot"] = draw(st.booleans())
        if draw(st.booleans()):
            tj["maxRows"] = draw(st.integers(1, 2**31 - 1))
        tables[name] = tj
    version = ".".join(str(draw(st.integers(0, 99))) for _ in range(3))
    return {"name": "Gen", "version": version, "tables": tables}


@settings(max_examples=60, deadline=None)
@given(j=_schemas_json())
def test_generated_schemas_round_trip(j: dict[str, Any]) -> None:
    s = parse_schema(copy.deepcopy(j))
    assert parse_schema(_jsonify(s.to_json())) == s
    for tname, tj in j["tables"].items():
        for cname, cj in tj["columns"].items():
            col = s.table(tname).column(cname)
            _check_column_type(col.type, cj["type"])
            assert col.ephemeral is cj.get("ephemeral", False)
            assert col.mutable is cj.get("mutable", True)


def test_column_types_are_remembered_by_their_json_and_errors_are_not() -> None:
    from ovsdb_ic.wire.schema import parse_column_type

    raw = {"key": {"type": "integer", "minInteger": 7}, "min": 0, "max": "unlimited"}
    first = parse_column_type(raw)
    # Another dict with the same JSON (keys in another order) gives the same instance.
    again = parse_column_type({"max": "unlimited", "min": 0,
                               "key": {"minInteger": 7, "type": "integer"}})
    assert again is first and first.to_json() == raw
    assert parse_column_type({"key": "integer", "min": 0}) is not first
    bad = {"key": {"type": "integer", "minInteger": 9, "maxInteger": 1}}
    for path in ("a.type", "b.type"):  # raised each time, naming the path given
        with pytest.raises(SchemaError) as exc:
            parse_column_type(bad, path)
        assert exc.value.path == f"{path}.key"
