"""The short ways through schemas, each against the full parse it stands for.

A client parses its database's schema and ``_Server``'s at every connection and checks
the first against the models' schemas; these paths make that cheap:

* :func:`parse_schema_cached`: the same JSON gives the same schema object;
* :func:`parse_schema_lazy` (the models' own schemas): tables parsed when first used;
* :func:`same_column_types`: a table with nothing to say, without parsing it;
* :func:`parse_schema_cached` with ``like``: a server's table that is the models' own
  JSON is not parsed, and :func:`same_table` says so;
* column types spelled with their defaults share the short spelling's cache entry;
* the usual column (a known type, plain flags) skips the checks that cannot fail.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import SchemaError
from ovsdb_ic.models import mapping
from ovsdb_ic.models._schemas import SCHEMA_JSON
from ovsdb_ic.models.generate import server_spelling
from ovsdb_ic.models.mapping import MODULES, check_compatible, model_schema
from ovsdb_ic.wire import schema as ws
from ovsdb_ic.wire.schema import (
    DatabaseSchema,
    parse_column_type,
    parse_schema,
    parse_schema_cached,
    parse_schema_lazy,
    same_column_types,
    same_table,
)
from tests.strategies import column_type_json
from tests.unit.test_schema import _schemas_json


def _jsonify(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _outcome(f: Callable[[], Any]) -> Any:
    """What ``f()`` returns, or the (type, path, message) of the SchemaError it raises."""
    try:
        return f()
    except SchemaError as exc:
        return ("SchemaError", exc.path, str(exc))


def _same_schema(a: DatabaseSchema, b: DatabaseSchema) -> None:
    assert a == b and b == a
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        assert a.table(name) == b.table(name)
        assert list(a.table(name).columns) == list(b.table(name).columns)
    assert a.to_json() == b.to_json()


# --------------------------------------------------------------------------- cached


@settings(max_examples=60, deadline=None)
@given(j=_schemas_json())
def test_cached_parse_is_the_parse_and_the_same_json_the_same_object(j: dict[str, Any]) -> None:
    first = parse_schema_cached(_jsonify(j))
    _same_schema(first, parse_schema(copy.deepcopy(j)))
    assert parse_schema_cached(_jsonify(j)) is first
    # Another order of the tables is another JSON: parsed on its own, in its order.
    reordered = dict(j, tables=dict(reversed(list(j["tables"].items()))))
    other = parse_schema_cached(_jsonify(reordered))
    assert other == first and list(other.tables) == list(reordered["tables"])


def test_cached_parse_never_remembers_an_error() -> None:
    good = {"name": "D", "version": "1.0.0", "tables": {"T": {"columns": {"c": {
        "type": "string"}}}}}
    assert parse_schema_cached(copy.deepcopy(good)).table("T").column("c").type.key.type \
        == "string"
    bad = copy.deepcopy(good)
    bad["tables"]["T"]["columns"]["c"]["type"] = "strin"
    for _ in range(2):
        with pytest.raises(SchemaError) as exc:
            parse_schema_cached(copy.deepcopy(bad))
        assert exc.value.path == "tables.T.columns.c.type"
    # Not plain JSON (an integer beyond 64 bits): parsed every time, errors as usual.
    huge = copy.deepcopy(good)
    huge["tables"]["T"]["columns"]["c"]["type"] = {"key": {"type": "integer",
                                                           "minInteger": 2**70}}
    with pytest.raises(SchemaError) as exc:
        parse_schema_cached(huge)
    assert exc.value.path == "tables.T.columns.c.type.key.minInteger"


def test_cached_parse_keeps_a_bounded_number_of_schemas() -> None:
    for i in range(ws._SCHEMA_CACHE_MAX + 5):
        parse_schema_cached({"name": "D", "version": f"1.0.{i}", "tables": {
            "T": {"columns": {"c": {"type": "string"}}}}})
    assert len(ws._SCHEMA_CACHE) <= ws._SCHEMA_CACHE_MAX


# --------------------------------------------------------------------------- lazy


@settings(max_examples=60, deadline=None)
@given(j=_schemas_json())
def test_lazy_parse_equals_the_full_parse(j: dict[str, Any]) -> None:
    full = parse_schema(copy.deepcopy(j))
    lazy = parse_schema_lazy(copy.deepcopy(j))
    assert len(lazy.tables) == len(full.tables)
    assert all(name in lazy.tables for name in full.tables)
    assert "Nope_" not in lazy.tables and lazy.tables.get("Nope_") is None
    _same_schema(lazy, full)
    # A second lazy one compares equal before any table is parsed.
    assert parse_schema_lazy(copy.deepcopy(j)) == lazy
    assert parse_schema_lazy(copy.deepcopy(j)) == full


@pytest.mark.parametrize("db", sorted(SCHEMA_JSON))
def test_lazy_models_schemas_equal_their_full_parse(db: str) -> None:
    raw = json.loads(SCHEMA_JSON[db])
    _same_schema(parse_schema_lazy(json.loads(SCHEMA_JSON[db])), parse_schema(raw))
    with pytest.raises(KeyError, match=f"database {db} has no table 'Nope'"):
        parse_schema_lazy(raw).table("Nope")


def test_lazy_parse_of_a_schema_without_root_tables_makes_every_table_a_root() -> None:
    legacy = {"name": "Old", "version": "1.0.0", "tables": {
        "A": {"columns": {"x": {"type": "string"}}},
        "B": {"columns": {"y": {"type": "integer"}}, "isRoot": False},
    }}
    lazy = parse_schema_lazy(copy.deepcopy(legacy))
    assert lazy.table("A").is_root and lazy.table("B").is_root
    _same_schema(lazy, parse_schema(legacy))


def test_lazy_parse_checks_the_top_level_at_once_and_a_table_when_used() -> None:
    with pytest.raises(SchemaError) as exc:
        parse_schema_lazy({"name": "D", "version": "1.0", "tables": {}})
    assert exc.value.path == "version"
    with pytest.raises(SchemaError) as exc:
        parse_schema_lazy({"name": "D", "version": "1.0.0", "tables": {"_T": {}}})
    assert exc.value.path == "tables._T"
    with pytest.raises(SchemaError) as exc:
        parse_schema_lazy({"name": "D", "version": "1.0.0", "tables": {"T": []}})
    assert exc.value.path == "tables.T"
    bad = {"name": "D", "version": "1.0.0", "tables": {
        "Good": {"columns": {"c": {"type": "string"}}},
        "Bad": {"columns": {"c": {"type": {"key": "string", "max": 0}}}},
    }}
    lazy = parse_schema_lazy(copy.deepcopy(bad))  # not parsed yet: no error
    assert lazy.table("Good").column("c").type.is_scalar
    with pytest.raises(SchemaError) as exc:
        lazy.table("Bad")
    assert exc.value.path == "tables.Bad.columns.c.type.max"
    with pytest.raises(SchemaError) as full:
        parse_schema(bad)
    assert full.value.path == exc.value.path


# --------------------------------------------------------------------------- same types


def _columns_compare_equal(a: ws.TableSchema, b: ws.TableSchema) -> bool:
    return set(a.columns) == set(b.columns) and all(
        a.columns[c].type == b.columns[c].type for c in a.columns)


@settings(max_examples=80, deadline=None)
@given(a=_schemas_json(), b=_schemas_json(), data=st.data())
def test_same_column_types_is_comparing_the_parsed_columns(
    a: dict[str, Any], b: dict[str, Any], data: st.DataObject
) -> None:
    # Make some tables alike: b's copy of a table of a, perhaps respelled or changed.
    for name, table in a["tables"].items():
        if name in b["tables"] and data.draw(st.booleans()):
            alike = copy.deepcopy(table)
            for cj in alike["columns"].values():
                cj["type"] = data.draw(_respelled(cj["type"]))
            b["tables"][name] = alike
    theirs = parse_schema(copy.deepcopy(b))
    for name in a["tables"]:
        if name not in theirs.tables:
            continue
        expected = _columns_compare_equal(parse_schema(copy.deepcopy(a)).table(name),
                                          theirs.table(name))
        assert same_column_types(parse_schema_lazy(copy.deepcopy(a)), name,
                                 theirs.table(name)) is expected
        assert same_column_types(parse_schema(copy.deepcopy(a)), name,
                                 theirs.table(name)) is expected


# --------------------------------------------------------------------------- spellings


@st.composite
def _respelled(draw: st.DrawFn, j: Any) -> Any:
    """The JSON of the same column type, written with (some of) its defaults."""
    if isinstance(j, str) or "key" not in j:
        if draw(st.booleans()):
            return j
        j = {"key": j}
    out = dict(j)
    for member in ("min", "max"):
        if member not in out and draw(st.booleans()):
            out[member] = 1
    for member in ("key", "value"):
        base = out.get(member)
        if base is None:
            continue
        if isinstance(base, str) and draw(st.booleans()):
            base = {"type": base}
        if isinstance(base, dict) and "refTable" in base and "refType" not in base and (
            draw(st.booleans())
        ):
            base = dict(base, refType="strong")
        out[member] = base
    items = list(out.items())
    return dict(draw(st.permutations(items)))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_spellings_with_defaults_are_one_type(data: st.DataObject) -> None:
    j = data.draw(column_type_json(("A", "B")))
    other = data.draw(_respelled(j))
    full = ws._parse_column_type(copy.deepcopy(other), "type")  # no cache
    assert full == ws._parse_column_type(copy.deepcopy(j), "type")
    assert parse_column_type(copy.deepcopy(j)) is parse_column_type(copy.deepcopy(other))
    assert parse_column_type(copy.deepcopy(other)) == full


@pytest.mark.parametrize("spelling", [
    {"key": "integer", "min": True},
    {"key": "integer", "max": 1.0},
    {"key": "integer", "min": 1.0},
    {"key": {"type": "uuid", "refType": "strong"}},
    {"key": {"type": "integer"}, "max": True},
    {"key": {"type": 5}},
    {"key": "integer", "extra": 1},
])
def test_a_bad_spelling_is_never_taken_for_a_good_one(spelling: dict[str, Any]) -> None:
    for good in ("integer", {"key": "integer"}, {"key": {"type": "uuid", "refTable": "T"}},
                 {"key": "integer", "max": 1, "min": 1}):
        parse_column_type(good)
    with pytest.raises(SchemaError):
        parse_column_type(spelling)
    with pytest.raises(SchemaError):
        ws._parse_column_type(spelling, "type")


# --------------------------------------------------------------------------- columns


_FLAG = st.sampled_from([True, False, 0, 1, None, "true", 1.0])


@st.composite
def _column(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(["c", "_c", "9c", "c-d", "ok_1"]))
    cj: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        cj["type"] = draw(st.sampled_from(["string", "strin", {"key": "integer", "min": 0},
                                           {"key": "string", "value": "string", "min": 0,
                                            "max": "unlimited"}, 7]))
    for flag in ("ephemeral", "mutable"):
        if draw(st.booleans()):
            cj[flag] = draw(_FLAG)
    if not draw(st.integers(0, 9)):
        cj["doc"] = "x"
    return name, cj if draw(st.integers(0, 19)) else [cj]


@settings(max_examples=300, deadline=None)
@given(col=_column())
def test_the_usual_column_path_is_the_full_one(col: tuple[str, Any]) -> None:
    name, cj = col
    parse_column_type("string")
    parse_column_type({"key": "integer", "min": 0})
    raw = {"name": "D", "version": "1.0.0", "tables": {"T": {"columns": {name: cj}}}}

    def full() -> Any:
        # What _parse_table did for a column before it had a short path.
        path = f"tables.T.columns.{name}"
        if not ws._ID_RE.match(name):
            raise SchemaError(path, f"{name!r} is not a valid column name")
        if name.startswith("_"):
            raise SchemaError(path, "names beginning with '_' are reserved")
        return ws._parse_column(name, copy.deepcopy(cj), path)

    expected = _outcome(full)
    got = _outcome(lambda: parse_schema(copy.deepcopy(raw)).table("T").column(name))
    assert got == expected


# --------------------------------------------------------------------------- check


@st.composite
def _server_edit(draw: st.DrawFn, db: str, dangling: bool = False) -> dict[str, Any]:
    """The models' schema of *db*, changed as an older or newer server's would be
    (*dangling*: a dropped table may still be referred to, as no valid schema is)."""
    raw = json.loads(SCHEMA_JSON[db])
    tables = raw["tables"]
    names = sorted(tables)
    for name in draw(st.lists(st.sampled_from(names), max_size=6, unique=True)):
        table = tables[name]
        cols = sorted(table["columns"])
        action = draw(st.sampled_from(["drop_table", "drop_column", "add_column",
                                       "retype", "respell", "respell"]))
        if action == "drop_table" and len(tables) > 1:
            for other in ([] if dangling and draw(st.booleans()) else tables.values()):
                for cj in other["columns"].values():
                    t = cj["type"]
                    if isinstance(t, dict) and any(
                        isinstance(t.get(p), dict) and t[p].get("refTable") == name
                        for p in ("key", "value")
                    ):
                        cj["type"] = "string"
            tables.pop(name)
            continue
        col = draw(st.sampled_from(cols))
        if action == "drop_column" and len(cols) > 1:
            table["columns"].pop(col)
            table.pop("indexes", None)
        elif action == "add_column":
            table["columns"]["zz_new"] = {"type": "integer"}
        elif action == "retype":
            table["columns"][col]["type"] = draw(column_type_json())
            table.pop("indexes", None)
        else:
            table["columns"][col]["type"] = draw(_respelled(table["columns"][col]["type"]))
    if draw(st.booleans()):
        tables["Zz_New_Table"] = {"columns": {"x": {"type": "string"}}}
    if not draw(st.integers(0, 5)):
        for table in tables.values():
            table.pop("isRoot", None)  # a legacy schema: every table a root
    if dangling and not draw(st.integers(0, 4)):
        name = draw(st.sampled_from(sorted(tables)))
        tables[name]["columns"]["zz_bad"] = draw(st.sampled_from([
            {"type": "strin"}, {"type": "string", "mutable": 1}, {"type": {"key": "string",
                                                                            "max": 0}}]))
    items = list(tables.items())
    raw["tables"] = dict(draw(st.permutations(items)))  # a server's own order
    return raw


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_check_compatible_equals_the_check_on_fully_parsed_models(data: st.DataObject) -> None:
    db = data.draw(st.sampled_from(sorted(MODULES)))
    raw = data.draw(_server_edit(db))
    tables = data.draw(st.none() | st.lists(st.sampled_from(sorted(json.loads(
        SCHEMA_JSON[db])["tables"])), max_size=3, unique=True))
    mapping._schema_of_text.cache_clear()
    ws._SCHEMA_CACHE.clear()
    server = parse_schema_cached(_jsonify(raw), model_schema(db))  # as the clients do
    fast = _outcome(lambda: check_compatible(db, server, tables))
    server = parse_schema(raw)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mapping, "_schema_of_text", lambda text: parse_schema(json.loads(text)))
        mp.setattr(mapping, "same_column_types", lambda *_: False)
        mp.setattr(mapping, "same_table", lambda *_: False)
        full = _outcome(lambda: check_compatible(db, server, tables))
    assert fast == full


# --------------------------------------------------------------------------- like


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_parse_like_the_models_is_the_full_parse(data: st.DataObject) -> None:
    db = data.draw(st.sampled_from(sorted(MODULES)))
    raw = data.draw(_server_edit(db, dangling=True))
    ws._SCHEMA_CACHE.clear()
    mapping._schema_of_text.cache_clear()
    models = model_schema(db)
    expected = _outcome(lambda: parse_schema(copy.deepcopy(raw)))
    got = _outcome(lambda: parse_schema_cached(_jsonify(raw), models))
    if isinstance(expected, tuple):
        assert got == expected  # the same error, naming the same field
        return
    assert isinstance(got, DatabaseSchema)
    for name in raw["tables"]:
        if same_table(got, models, name):  # taken from the models: the same JSON
            assert ws._LazyTables.same_json(models.tables, name,  # type: ignore[arg-type]
                                            raw["tables"][name])
            assert name not in models.tables._parsed  # type: ignore[attr-defined]
    _same_schema(got, expected)
    for name in raw["tables"]:
        if name in models.tables and same_table(got, models, name):
            assert got.table(name) is models.table(name)


@pytest.mark.parametrize("db", sorted(SCHEMA_JSON))
def test_the_models_schemas_are_kept_in_the_servers_spelling(db: str) -> None:
    full = parse_schema(json.loads(SCHEMA_JSON[db]))
    assert json.loads(SCHEMA_JSON[db]) == server_spelling(full)
    # Their own JSON, like themselves: every table taken, none parsed.
    ws._SCHEMA_CACHE.clear()
    mapping._schema_of_text.cache_clear()
    models = model_schema(db)
    server = parse_schema_cached(json.loads(SCHEMA_JSON[db]), models)
    assert all(same_table(server, models, t) for t in full.tables)
    assert check_compatible(db, server) == []
    assert not models.tables._parsed  # type: ignore[attr-defined]
    _same_schema(server, full)


@settings(max_examples=60, deadline=None)
@given(j=_schemas_json())
def test_server_spelling_parses_to_the_same_schema(j: dict[str, Any]) -> None:
    s = parse_schema(copy.deepcopy(j))
    _same_schema(parse_schema(_jsonify(server_spelling(s))), s)


def test_same_table_is_false_when_unsure() -> None:
    a = parse_schema(json.loads(SCHEMA_JSON["OVN_IC_Northbound"]))
    b = parse_schema(json.loads(SCHEMA_JSON["OVN_IC_Northbound"]))
    assert not same_table(a, b, "SSL")  # equal, but not known without comparing
    assert same_table(a, a, "SSL") and not same_table(a, a, "Nope")
    lazy = parse_schema_lazy(json.loads(SCHEMA_JSON["OVN_IC_Northbound"]))
    assert not same_table(a, lazy, "SSL") and not same_table(lazy, a, "SSL")
