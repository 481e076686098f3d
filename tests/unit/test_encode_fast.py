"""The encoders' inline paths and ``wire.ops``' per-table encoder cache give exactly what
the full encoders give: the same JSON for every valid value, the same error for every
invalid one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import DataError, LocalProtocolError
from ovsdb_ic.wire import ops
from ovsdb_ic.wire.data import NamedUUID, _build_codec, column_codec
from ovsdb_ic.wire.schema import BaseType, ColumnType, TableSchema
from tests.strategies import all_columns, column_id, schema, schemas, values

ALL = all_columns()
IDS = [column_id(c) for c in ALL]

per_column = settings(max_examples=15, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])


class _UuidSub(uuid.UUID):
    """A UUID subclass: not the exact type the inline path takes."""


class _Str(str):
    """A str subclass: not the exact type the inline path takes."""


# Values of the wrong type or shape, NUL and lone surrogates, subclasses, out-of-range
# integers: what the inline paths must leave to the full encoders.
_ODD = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=4),
    st.sampled_from(["a\x00b", "\ud800", "é", "x" * 300, _Str("s"), 2**63, -(2**63) - 1,
                     _UuidSub(int=5), NamedUUID("n1"), uuid.UUID(int=7), b"bytes"]),
    st.lists(st.integers(), max_size=2), st.frozensets(st.text(max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=2), st.sampled_from(["v", "\x00", 1]), max_size=2),
)


def _outcome(encode: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", encode(value)
    except DataError as exc:
        return "error", (str(exc), exc.where, repr(exc.value))


def _both(ctype: ColumnType, where: str) -> tuple[Any, Any]:
    return (column_codec(ctype, where).encode,
            _build_codec(ctype, where, False, fast=False).encode)


@per_column
@pytest.mark.parametrize("item", ALL, ids=IDS)
@given(data=st.data())
def test_inline_encoders_match_the_full_ones(item: Any, data: st.DataObject) -> None:
    _, table, col = item
    fast, full = _both(col.type, f"{table.name}.{col.name}")
    for value in (data.draw(values(col.type)), data.draw(_ODD)):
        got = _outcome(fast, value)
        assert got == _outcome(full, value)
        if got[0] == "ok":
            assert type(got[1]) is type(full(value))


@settings(max_examples=300, deadline=None)
@given(
    key=st.sampled_from(["string", "integer", "boolean", "uuid", "real"]),
    value=st.sampled_from([None, "string", "integer", "uuid"]),
    bounds=st.sampled_from([(1, 1), (0, 1), (0, None), (1, 3)]),
    constrained=st.booleans(),
    data=st.data(),
)
def test_inline_encoders_match_on_constrained_types(
    key: str, value: str | None, bounds: tuple[int, int | None], constrained: bool,
    data: st.DataObject,
) -> None:
    limits: dict[str, Any] = {}
    if constrained:
        limits = {"string": {"min_length": 1, "max_length": 3},
                  "integer": {"min_integer": -5, "max_integer": 5},
                  "real": {"min_real": -1.0}, "boolean": {"enum": frozenset({True})},
                  "uuid": {"enum": frozenset({uuid.UUID(int=7)})}}[key]
    kbase = BaseType(key, **limits)
    vbase = None if value is None else BaseType(value)
    lo, hi = bounds
    ctype = ColumnType(kbase, vbase, lo, hi)
    fast, full = _both(ctype, "T.c")
    for v in (data.draw(values(ctype)), data.draw(_ODD)):
        assert _outcome(fast, v) == _outcome(full, v)


def _row_outcome(table: TableSchema, row: dict[str, Any], for_update: bool) -> Any:
    try:
        return "ok", ops._row(table, row, for_update=for_update)
    except (DataError, LocalProtocolError) as exc:
        return "error", type(exc), str(exc)


def _reference_row(table: TableSchema, row: dict[str, Any], for_update: bool) -> Any:
    """What ``_row`` did before its per-table cache: a column lookup and a codec per cell."""
    out: dict[str, Any] = {}
    try:
        for name, value in row.items():
            col = ops._column(table, name)
            if name.startswith("_"):
                raise LocalProtocolError(f"{table.name}.{name} cannot be written")
            if for_update and not col.mutable:
                raise LocalProtocolError(
                    f"{table.name}.{name} is immutable and cannot be updated")
            out[name] = _build_codec(col.type, f"{table.name}.{name}", False,
                                     fast=False).encode(value)
    except (DataError, LocalProtocolError) as exc:
        return "error", type(exc), str(exc)
    return "ok", out


_TABLES = [(db, t) for db in sorted(schemas()) for t in sorted(schema(db).tables)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=st.sampled_from(_TABLES), for_update=st.booleans(), data=st.data())
def test_row_encoding_matches_the_column_by_column_reference(
    item: tuple[str, str], for_update: bool, data: st.DataObject,
) -> None:
    table = schema(item[0]).table(item[1])
    names = sorted(table.columns)
    cols = data.draw(st.lists(st.sampled_from([*names, "_uuid", "_version", "nope"]),
                              max_size=4, unique=True))
    row: dict[str, Any] = {}
    for name in cols:
        if name in table.columns and data.draw(st.booleans()):
            row[name] = data.draw(values(table.column(name).type))
        else:
            row[name] = data.draw(_ODD)
    assert _row_outcome(table, row, for_update) == _reference_row(table, row, for_update)


def test_insert_checks_the_uuid_name_as_before() -> None:
    db = schema("OVN_IC_Southbound")
    op = ops.insert(db, "Availability_Zone", {"name": "az1"}, uuid_name="az_1")
    assert op["uuid-name"] == "az_1"
    for bad in ("1abc", "a-b", "", _Str("x y")):
        with pytest.raises(DataError, match="named-uuid"):
            ops.insert(db, "Availability_Zone", {"name": "az1"}, uuid_name=bad)
    assert ops.insert(db, "Availability_Zone", {}, uuid_name=_Str("ok"))["uuid-name"] == "ok"
