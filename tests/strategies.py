"""Shared hypothesis strategies for OVSDB schemas, atoms and datums.

* :func:`schemas` / :func:`schema` / :func:`schema_json`: the four ``.ovsschema`` files of
  ``schemas/``, parsed with :func:`~ovsdb_ic.wire.schema.parse_schema` (cached);
* :func:`all_columns`: every ``(database, table, column)`` of the four schemas, the implicit
  ``_uuid`` included, with :func:`column_id` naming them ``"DB.Table.column"``;
* :func:`atoms` / :func:`values`: valid Python atoms of a base type and valid Python values
  of a column type (sizes kept small for speed);
* :func:`base_type_json` / :func:`column_type_json`: well-formed schema JSON of random
  base and column types.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from ovsdb_ic.wire.schema import (
    INT64_MAX,
    INT64_MIN,
    UUID_COLUMN,
    BaseType,
    ColumnSchema,
    ColumnType,
    DatabaseSchema,
    TableSchema,
    parse_schema,
)

__all__ = [
    "SCHEMA_DIR",
    "SCHEMA_FILES",
    "MAX_ELEMENTS",
    "schemas",
    "schema",
    "schema_json",
    "all_columns",
    "column_id",
    "text",
    "atoms",
    "values",
    "base_type_json",
    "column_type_json",
]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
"""The directory of the four ``.ovsschema`` files."""

SCHEMA_FILES = {
    "OVN_IC_Northbound": "ovn-ic-nb.ovsschema",
    "OVN_IC_Southbound": "ovn-ic-sb.ovsschema",
    "OVN_Northbound": "ovn-nb.ovsschema",
    "OVN_Southbound": "ovn-sb.ovsschema",
}
"""Database name -> file name in :data:`SCHEMA_DIR`."""

MAX_ELEMENTS = 5
"""Upper bound on generated set and map sizes (the schemas' own max when smaller)."""

_EXTRA_CHARS = 6
"""How much longer than their minimum length generated strings may be."""


def schema_json(name: str, release: str = "") -> dict[str, Any]:
    """The raw JSON of the schema of database ``name`` (a fresh copy each call).

    *release*: ``""`` for the OVN 23.03 schemas at the top of ``schemas/``, ``"25.03"``
    for ``schemas/25.03`` (the typed models are generated from those)."""
    path = SCHEMA_DIR / release / SCHEMA_FILES[name]
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def schemas(release: str = "") -> dict[str, DatabaseSchema]:
    """The four schemas, parsed, keyed by database name (in :data:`SCHEMA_FILES` order)."""
    return {name: parse_schema(schema_json(name, release)) for name in SCHEMA_FILES}


def schema(name: str, release: str = "") -> DatabaseSchema:
    """The parsed schema of database ``name``."""
    return schemas(release)[name]


@functools.cache
def all_columns() -> list[tuple[DatabaseSchema, TableSchema, ColumnSchema]]:
    """Every column of the four schemas, plus each table's implicit ``_uuid`` column."""
    out: list[tuple[DatabaseSchema, TableSchema, ColumnSchema]] = []
    for db in schemas().values():
        for table in db.tables.values():
            out.append((db, table, UUID_COLUMN))
            out.extend((db, table, col) for col in table.columns.values())
    return out


def column_id(item: tuple[DatabaseSchema, TableSchema, ColumnSchema]) -> str:
    """``"DB.Table.column"`` for an item of :func:`all_columns` (pytest ids)."""
    db, table, col = item
    return f"{db.name}.{table.name}.{col.name}"


# Arbitrary unicode (multi-byte UTF-8 included) but no surrogates and no NUL: lone
# surrogates cannot be encoded as UTF-8, and ovsdb-server refuses U+0000, so no OVSDB
# string holds either (the encoders refuse both).
_chars = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


def text(min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[str]:
    """Unicode strings without surrogates, ``min_size..max_size`` characters long."""
    if max_size is None:
        max_size = min_size + _EXTRA_CHARS
    return st.text(_chars, min_size=min_size, max_size=max_size)


def _kept(x: float) -> bool:
    written = float(f"{x:.15g}")
    return written == 0 or sys.float_info.min <= abs(written) <= sys.float_info.max


def reals(lo: float | None = None, hi: float | None = None) -> st.SearchStrategy[float]:
    """Finite reals in ``lo..hi`` that ovsdb-server keeps: zero or normal doubles whose
    15-significant-digit form (how the server writes reals) is zero or normal too; the
    encoders refuse the others (tests/integration/test_server_refusals.py)."""
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False,
                     allow_subnormal=False).filter(_kept)


def atoms(base: BaseType) -> st.SearchStrategy[Any]:
    """Valid Python atoms of ``base``, honouring its enum and range/length constraints."""
    if base.enum is not None:
        return st.sampled_from(sorted(base.enum))
    t = base.type
    if t == "integer":
        lo = INT64_MIN if base.min_integer is None else base.min_integer
        hi = INT64_MAX if base.max_integer is None else base.max_integer
        return st.integers(lo, hi)
    if t == "real":
        return reals(base.min_real, base.max_real)
    if t == "boolean":
        return st.booleans()
    if t == "string":
        lo = base.min_length or 0
        hi = lo + _EXTRA_CHARS
        if base.max_length is not None:
            hi = min(hi, base.max_length)
        return text(lo, hi)
    return st.uuids()


def values(ctype: ColumnType) -> st.SearchStrategy[Any]:
    """Valid Python values of a column type.

    Scalar: an atom; optional: an atom or ``None``; set: a ``frozenset``; map: a
    ``dict``; sizes within the column's bounds and at most :data:`MAX_ELEMENTS`.
    """
    key = atoms(ctype.key)
    if ctype.is_scalar:
        return key
    if ctype.is_optional:
        return st.none() | key
    hi = MAX_ELEMENTS if ctype.max is None else min(ctype.max, MAX_ELEMENTS)
    if ctype.value is not None:
        return st.dictionaries(key, atoms(ctype.value), min_size=ctype.min, max_size=hi)
    return st.frozensets(key, min_size=ctype.min, max_size=hi)


# --------------------------------------------------------------------------- schema JSON

_ids = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)


@st.composite
def base_type_json(draw: st.DrawFn, tables: tuple[str, ...] = ()) -> Any:
    """Well-formed JSON of a base type (short string form or object form).

    uuid base types may refer to one of ``tables``.
    """
    atype = draw(st.sampled_from(["integer", "real", "boolean", "string", "uuid"]))
    if draw(st.booleans()):
        return atype
    out: dict[str, Any] = {"type": atype}
    if atype == "integer":
        if draw(st.booleans()):
            lo = draw(st.integers(INT64_MIN, INT64_MAX))
            out["minInteger"] = lo
        if draw(st.booleans()):
            out["maxInteger"] = draw(st.integers(out.get("minInteger", INT64_MIN), INT64_MAX))
        if draw(st.booleans()):
            out["enum"] = ["set", draw(st.lists(st.integers(-1000, 1000), min_size=1,
                                                max_size=4, unique=True))]
            out.pop("minInteger", None)
            out.pop("maxInteger", None)
    elif atype == "real":
        finite = st.floats(-1e9, 1e9, allow_nan=False)
        if draw(st.booleans()):
            out["minReal"] = draw(finite)
        if draw(st.booleans()):
            out["maxReal"] = draw(st.floats(out.get("minReal", -1e9), 1e9))
    elif atype == "boolean":
        if draw(st.booleans()):
            out["enum"] = draw(st.sampled_from([True, False, ["set", [True]],
                                                ["set", [False, True]]]))
    elif atype == "string":
        if draw(st.booleans()):
            out["minLength"] = draw(st.integers(0, 10))
        if draw(st.booleans()):
            out["maxLength"] = draw(st.integers(out.get("minLength", 0), 100))
        if draw(st.booleans()):
            words = draw(st.lists(text(0, 4), min_size=1, max_size=4, unique=True))
            out["enum"] = words[0] if len(words) == 1 else ["set", words]
            out.pop("minLength", None)
            out.pop("maxLength", None)
    elif tables and draw(st.booleans()):
        out["refTable"] = draw(st.sampled_from(tables))
        if draw(st.booleans()):
            out["refType"] = draw(st.sampled_from(["strong", "weak"]))
    return out


@st.composite
def column_type_json(draw: st.DrawFn, tables: tuple[str, ...] = ()) -> Any:
    """Well-formed JSON of a column type: an atomic type name or a ``key``/``value`` object."""
    key = draw(base_type_json(tables))
    if draw(st.integers(0, 4)) == 0:
        return key if isinstance(key, str) else {"key": key}
    out: dict[str, Any] = {"key": key}
    if draw(st.booleans()):
        out["value"] = draw(base_type_json(tables))
    mn = draw(st.sampled_from([None, 0, 1]))
    if mn is not None:
        out["min"] = mn
    mx = draw(st.sampled_from([None, "unlimited", 1, 2, 7, 2**31 - 1]))
    if mx is not None:
        out["max"] = mx
    return out

