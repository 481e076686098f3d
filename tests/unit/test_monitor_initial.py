"""``ovsdb-ic monitor``'s initial copy printed without decoding equals the decoded path.

The command prints the rows of its first initial copy straight from the parsed reply
(:func:`~ovsdb_ic.wire.rowjson.initial_columns`, validated column-wise) and decodes a
row into its replica only when a later update touches it. These tests hold that to
the path it replaces (decode every row, apply to a replica, print each change):

* for every column type of the four schemas, valid values in the forms a server may
  send (upper-case UUIDs, integral reals written as integers, a one-element set
  wrapped in ``["set", [...]]``) give exactly the JSON the decoded path gives;
* an invalid value raises the same :class:`~ovsdb_ic.errors.DataError` (same reason,
  naming ``Table.column``) as decoding it does;
* whole initial copies of random tables give the same events, byte for byte;
* updates, deletes and a resync after the initial copy give the same events as when
  every row had been decoded at once.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ovsdb_ic.client.commands import (
    _decode_reply,
    _encoders,
    _event,
    _initial_lines,
    _initial_rows,
    _materialize,
    _Pending,
)
from ovsdb_ic.errors import DataError
from ovsdb_ic.replica import Replica
from ovsdb_ic.wire.data import column_codec
from ovsdb_ic.wire.monitor import RowUpdate, decode_update2
from ovsdb_ic.wire.rowjson import json_column, value_encoder
from ovsdb_ic.wire.schema import ColumnType, DatabaseSchema
from tests.strategies import schema, schemas, values

TYPES = sorted({col.type for db in schemas().values() for table in db.tables.values()
                for col in table.columns.values()}, key=repr)
TABLES = [(db, name) for db in schemas() for name in schemas()[db].tables]


def _walk(j: Any, upper: bool, int_reals: bool, wrap: bool, top: bool = True) -> Any:
    """``j`` (a datum's JSON) rewritten into another form a server may send."""
    if type(j) is float and int_reals and j.is_integer() and abs(j) < 2**53:
        return int(j)
    if type(j) is list and len(j) == 2 and j[0] == "uuid" and type(j[1]) is str:
        return ["uuid", j[1].upper()] if upper else j
    if type(j) is list and len(j) == 2 and j[0] in ("set", "map") and top:
        if j[0] == "set":
            return ["set", [_walk(a, upper, int_reals, wrap, False) for a in j[1]]]
        return ["map", [[_walk(k, upper, int_reals, wrap, False),
                         _walk(v, upper, int_reals, wrap, False)] for k, v in j[1]]]
    atom = j
    if top and wrap:
        return ["set", [_walk(atom, upper, int_reals, wrap, False)]]
    return atom


@st.composite
def _wire_values(draw: st.DrawFn, ctype: ColumnType, n: int = 4) -> list[Any]:
    """Valid JSON datums of ``ctype``, some in the less usual forms."""
    out = []
    for value in draw(st.lists(values(ctype), max_size=n)):
        j = column_codec(ctype).encode(value)
        wrap = (not ctype.is_scalar and ctype.value is None
                and not (type(j) is list and len(j) == 2 and j[0] == "set")
                and draw(st.booleans()))
        out.append(_walk(j, draw(st.booleans()), draw(st.booleans()), wrap))
    return out


def _decoded_json(ctype: ColumnType, jsons: list[Any], where: str) -> list[Any]:
    dec = column_codec(ctype, where).decode
    enc = value_encoder(ctype)
    return [dec(j) if enc is None else enc(dec(j)) for j in jsons]


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_json_column_equals_decoding_then_encoding(data: st.DataObject) -> None:
    ctype = data.draw(st.sampled_from(TYPES))
    jsons = data.draw(_wire_values(ctype))
    got = json_column(ctype, copy.deepcopy(jsons), "T.c")
    assert orjson.dumps(got) == orjson.dumps(_decoded_json(ctype, jsons, "T.c"))


_JUNK: list[Any] = [
    None, {}, [], 1.5, -1, 0, 2**63, True, "", "x", "connected", ["uuid", "nope"],
    ["uuid", "0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4"], ["named-uuid", "row"], ["set", "a"],
    ["set", [1, "a"]], ["set", ["a", "a"]], ["set", [1, 1]], ["map", {}], ["map", [["a"]]],
    ["map", [["a", "b"], ["a", "c"]]], ["map", [[1, 2], [1, 3]]], ["map", [["a", 1]]],
    ["set", [["uuid", "0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e"],
             ["uuid", "0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e"]]],
    "x" * 300, -(2**63) - 1, float("inf"),
]


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_an_invalid_value_raises_the_decoders_error(data: st.DataObject) -> None:
    ctype = data.draw(st.sampled_from(TYPES))
    jsons = data.draw(_wire_values(ctype))
    junk = data.draw(st.sampled_from(_JUNK))
    jsons.insert(data.draw(st.integers(0, len(jsons))), junk)
    try:
        _decoded_json(ctype, jsons, "T.c")
    except DataError as exc:
        expected = exc
    else:
        assume(False)
    with pytest.raises(DataError) as got:
        json_column(ctype, jsons, "T.c")
    assert str(got.value) == str(expected)
    assert got.value.where == "T.c"


def _today(db: DatabaseSchema, tables: list[str], raw: Any) -> list[dict[str, Any]]:
    """The events of the path this replaces: decode, apply to a fresh replica, print."""
    replica = Replica(db, dict.fromkeys(tables))
    encoders = _encoders(db, tables)
    return [_event(encoders, c) for c in replica.apply(decode_update2(db, raw))]


def _fast(db: DatabaseSchema, tables: list[str], raw: Any) -> tuple[list[dict[str, Any]], bytes]:
    rows = _initial_rows(db, tables, raw)
    assert rows is not None
    events: list[dict[str, Any]] = []
    _initial_lines(rows, events.append, None)
    written: list[bytes] = []
    _initial_lines(rows, _no_emit, written.append)
    return events, b"".join(written)


def _no_emit(event: dict[str, Any]) -> None:
    raise AssertionError(f"emitted {event} although write was given")


@st.composite
def _initial_copy(draw: st.DrawFn) -> tuple[str, list[str], dict[str, Any]]:
    """A random ``<table-updates2>`` initial copy of one or two tables of one schema."""
    db_name, name = draw(st.sampled_from(TABLES))
    db = schema(db_name)
    names = [name]
    other = draw(st.sampled_from(sorted(db.tables)))
    if other != name and draw(st.booleans()):
        names.append(other)
    raw: dict[str, Any] = {}
    for t in names:
        table = db.tables[t]
        keys = draw(st.lists(st.uuids(), max_size=3, unique=True))
        rows = {}
        for key in keys:
            row = {}
            for c, col in table.columns.items():
                if draw(st.booleans()):  # update2 leaves out columns holding defaults
                    row[c] = draw(_wire_values(col.type, 1).filter(bool))[0]
            if draw(st.booleans()):
                row["no_such_column"] = 1  # a newer server's column: ignored
            rows[str(key)] = {"initial": row}
        raw[t] = rows
    return db_name, names, raw


@settings(max_examples=300, deadline=None)
@given(case=_initial_copy())
def test_initial_events_equal_the_decoded_paths(case: tuple[str, list[str], Any]) -> None:
    db_name, tables, raw = case
    db = schema(db_name)
    expected = _today(db, tables, copy.deepcopy(raw))
    events, written = _fast(db, tables, raw)
    assert events == expected
    assert written == b"".join(orjson.dumps(e) + b"\n" for e in expected)


_NASTY = ['","', '"', "\\", '\\"', '}},{"table":', '}}', '{"table":', ",", "{}", "\n",
          "\u00e9\u4e2d", "\x00", "table", ""]
_NASTY_TEXT = st.lists(st.sampled_from(_NASTY), max_size=4).map("".join)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(st.uuids(), _NASTY_TEXT, _NASTY_TEXT,
                               st.dictionaries(_NASTY_TEXT, _NASTY_TEXT, max_size=3)),
                     max_size=4, unique_by=lambda r: r[0]))
def test_lines_split_only_between_events(rows: list[Any]) -> None:
    """Strings holding the separator the written lines are split at stay whole."""
    db = schema("OVN_IC_Southbound")
    raw = {"Route": {str(u): {"initial": {
        "ip_prefix": a, "nexthop": b,
        "external_ids": ["map", [list(p) for p in sorted(m.items())]]}}
        for u, a, b, m in rows}}
    events, written = _fast(db, ["Route"], raw)
    assert written == b"".join(orjson.dumps(e) + b"\n" for e in events)
    assert len(events) == len(rows)


def test_unusual_replies_take_the_decoding_path() -> None:
    db = schema("OVN_IC_Southbound")
    u = "0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e"
    for raw in ({"Route": {u: {"insert": {}}}}, {"Route": {u.upper(): {"initial": {}}}},
                {"Route": {u: {"initial": {}, "delete": None}}}, {"Gateway": {}},
                {"Route": {u: {"initial": []}}}, {"Route": []}, []):
        assert _initial_rows(db, ["Route"], raw) is None
    route = db.tables["Route"]
    assert _initial_rows(db, ["Route"], {"Route": {}}) == [
        (route, [], list(route.columns), [[] for _ in route.columns])]
    with pytest.raises(DataError, match=r"Route\.origin"):
        _initial_rows(db, ["Route"], {"Route": {u: {"initial": {"origin": "elsewhere"}}}})


U = [str(uuid.UUID(int=i, version=4)) for i in range(1, 6)]
AZ = ["uuid", "0b3c6d9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e"]


def _route(prefix: str, **extra: Any) -> dict[str, Any]:
    return {"transit_switch": "ts1", "availability_zone": AZ, "ip_prefix": prefix,
            "nexthop": "169.254.100.1", "origin": "static", **extra}


def test_following_updates_and_a_resync_print_as_with_every_row_decoded() -> None:
    db = schema("OVN_IC_Southbound")
    tables = ["Route"]
    initial = {"Route": {U[0]: {"initial": _route("10.0.0.0/24", external_ids=[
                             "map", [["a", "1"], ["c", "3"]]])},
                         U[1]: {"initial": _route("10.0.1.0/24")},
                         U[2]: {"initial": _route("10.0.2.0/24")}}}
    batches: list[Any] = [
        {"Route": {U[0]: {"modify": {"external_ids": ["map", [["b", "2"], ["c", "3"]]],
                                     "nexthop": "169.254.100.2"}},
                   U[1]: {"delete": None},
                   U[3]: {"insert": _route("10.0.3.0/24")}}},
        {"Route": {U[3]: {"modify": {"route_table": "rtb"}}, U[2]: {"modify": {}}}},
    ]
    resync = {"Route": {U[0]: {"initial": _route("10.0.0.0/24")},
                        U[2]: {"initial": _route("10.0.2.0/24")},
                        U[4]: {"initial": _route("10.0.4.0/24")}}}
    requests = Replica(db, dict.fromkeys(tables)).monitor_requests()
    encoders = _encoders(db, tables)

    # Every row decoded at once, as before.
    full = Replica(db, dict.fromkeys(tables))
    expected = [_event(encoders, c) for c in full.apply(decode_update2(db, initial))]
    for b in batches:
        expected += [_event(encoders, c) for c in full.apply(decode_update2(db, b))]
    expected += [_event(encoders, c) for c in full.reset(decode_update2(db, resync))]

    # The initial copy printed from JSON; rows decoded when an update needs them.
    lazy = Replica(db, dict.fromkeys(tables))
    raw = copy.deepcopy(initial)
    events, _ = _fast(db, tables, raw)
    pending: _Pending = dict(raw)
    left = []
    for b in batches:
        updates: list[RowUpdate] = decode_update2(db, b)
        _materialize(lazy, requests, pending, updates)
        left.append(sorted(pending["Route"]))
        events += [_event(encoders, c) for c in lazy.apply(updates)]
    assert left == [[U[2]], []]  # only the rows an update touched were decoded
    fresh = _decode_reply(db, "monitor_cond_since", requests, copy.deepcopy(resync))
    _materialize(lazy, requests, pending, None)
    assert pending == {}
    events += [_event(encoders, c) for c in lazy.reset(fresh)]
    assert events == expected
    assert [e["kind"] for e in events] == [
        "initial", "initial", "initial", "modify", "delete", "insert", "modify",
        "modify", "insert", "delete"]
