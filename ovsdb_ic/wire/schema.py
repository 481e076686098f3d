"""OVSDB schemas: ``.ovsschema`` files and ``get_schema`` replies as typed objects.

:func:`parse_schema` turns the JSON of a database schema (RFC 7047 section 3.2,
plus the OVS extensions ``indexes``, ``maxRows``, ``isRoot`` and ``cksum``) into
a :class:`DatabaseSchema`. Anything malformed raises
:class:`~ovsdb_ic.errors.SchemaError` whose ``path`` names the offending element,
for example ``tables.Route.columns.origin.type.key.enum``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias, cast, final

import attrs
import orjson

from ovsdb_ic.errors import SchemaError

__all__ = [
    "AtomicType",
    "ATOMIC_TYPES",
    "INT64_MIN",
    "INT64_MAX",
    "BaseType",
    "ColumnType",
    "ColumnSchema",
    "TableSchema",
    "DatabaseSchema",
    "UUID_COLUMN",
    "VERSION_COLUMN",
    "parse_schema",
    "parse_schema_cached",
    "parse_schema_lazy",
    "same_column_types",
    "same_table",
    "parse_column_type",
]

AtomicType: TypeAlias = Literal["integer", "real", "boolean", "string", "uuid"]
"""The five atomic types of RFC 7047."""

ATOMIC_TYPES: Final[frozenset[str]] = frozenset({"integer", "real", "boolean", "string", "uuid"})
"""The names of the atomic types, for membership tests."""

INT64_MIN: Final = -(2**63)
"""Smallest OVSDB integer."""
INT64_MAX: Final = 2**63 - 1
"""Largest OVSDB integer."""

_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VERSION_RE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\Z")


@attrs.frozen(cache_hash=True)
class BaseType:
    """The type of one atom: an atomic type plus its optional constraints.

    ``enum`` holds the allowed atoms (already converted to Python values) or is
    ``None``. Integer and real bounds default to the full range; string lengths
    are counted in characters. ``ref_table``/``ref_type`` are set only for uuid
    atoms that reference a table (``ref_type`` is ``"strong"`` or ``"weak"``).
    """

    type: AtomicType
    enum: frozenset[Any] | None = None
    min_integer: int | None = None
    max_integer: int | None = None
    min_real: float | None = None
    max_real: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    ref_table: str | None = None
    ref_type: Literal["strong", "weak"] = "strong"

    @property
    def has_constraints(self) -> bool:
        """True when anything beyond the bare atomic type restricts values."""
        return (
            self.enum is not None
            or self.min_integer is not None
            or self.max_integer is not None
            or self.min_real is not None
            or self.max_real is not None
            or self.min_length is not None
            or self.max_length is not None
        )

    def to_json(self) -> Any:
        """The schema JSON of this base type (the short form when unconstrained)."""
        if not self.has_constraints and self.ref_table is None:
            return self.type
        out: dict[str, Any] = {"type": self.type}
        if self.enum is not None:
            from ovsdb_ic.wire.data import atom_to_json

            atoms = sorted(self.enum)
            out["enum"] = ["set", [atom_to_json(self, a) for a in atoms]]
        for key, value in (
            ("minInteger", self.min_integer),
            ("maxInteger", self.max_integer),
            ("minReal", self.min_real),
            ("maxReal", self.max_real),
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
            ("refTable", self.ref_table),
        ):
            if value is not None:
                out[key] = value
        if self.ref_table is not None and self.ref_type != "strong":
            out["refType"] = self.ref_type
        return out


@attrs.frozen(cache_hash=True)
class ColumnType:
    """The type of a column: key type, optional value type (maps), and bounds.

    ``max`` is ``None`` for ``"unlimited"``. Python values of a column follow the
    shape properties: :attr:`is_scalar` columns hold one atom, :attr:`is_optional`
    columns hold an atom or ``None``, :attr:`is_set` columns hold a ``frozenset``
    and :attr:`is_map` columns hold a ``dict``.
    """

    key: BaseType
    value: BaseType | None = None
    min: int = 1
    max: int | None = 1

    @property
    def is_map(self) -> bool:
        """True for map columns (a value type is present)."""
        return self.value is not None

    @property
    def is_scalar(self) -> bool:
        """True for columns holding exactly one atom (min = max = 1, no value type)."""
        return self.value is None and self.min == 1 and self.max == 1

    @property
    def is_optional(self) -> bool:
        """True for columns holding zero or one atom (min 0, max 1, no value type)."""
        return self.value is None and self.min == 0 and self.max == 1

    @property
    def is_set(self) -> bool:
        """True for set columns that may hold more than one atom."""
        return self.value is None and self.max != 1

    def to_json(self) -> Any:
        """The schema JSON of this column type."""
        if self.is_scalar and not self.key.has_constraints and self.key.ref_table is None:
            return self.key.type
        out: dict[str, Any] = {"key": self.key.to_json()}
        if self.value is not None:
            out["value"] = self.value.to_json()
        if self.min != 1:
            out["min"] = self.min
        if self.max != 1:
            out["max"] = "unlimited" if self.max is None else self.max
        return out


@attrs.frozen(cache_hash=True)
class ColumnSchema:
    """One column of a table: its name, type and the ephemeral/mutable flags."""

    name: str
    type: ColumnType
    ephemeral: bool = False
    mutable: bool = True


UUID_COLUMN: Final = ColumnSchema("_uuid", ColumnType(BaseType("uuid")), mutable=False)
"""The implicit ``_uuid`` column every table has."""
VERSION_COLUMN: Final = ColumnSchema("_version", ColumnType(BaseType("uuid")), mutable=False)
"""The implicit ``_version`` column every table has."""


@attrs.frozen
class TableSchema:
    """One table: its columns (without the implicit ones), indexes and flags."""

    name: str
    columns: Mapping[str, ColumnSchema]
    indexes: tuple[tuple[str, ...], ...] = ()
    is_root: bool = False
    max_rows: int | None = None

    def column(self, name: str) -> ColumnSchema:
        """Return the column ``name``, including the implicit ``_uuid``/``_version``.

        Raises ``KeyError`` when the table has no such column.
        """
        if name == "_uuid":
            return UUID_COLUMN
        if name == "_version":
            return VERSION_COLUMN
        return self.columns[name]

    def to_json(self) -> dict[str, Any]:
        """The schema JSON of this table."""
        cols: dict[str, Any] = {}
        for c in self.columns.values():
            cj: dict[str, Any] = {"type": c.type.to_json()}
            if c.ephemeral:
                cj["ephemeral"] = True
            if not c.mutable:
                cj["mutable"] = False
            cols[c.name] = cj
        out: dict[str, Any] = {"columns": cols}
        if self.indexes:
            out["indexes"] = [list(i) for i in self.indexes]
        if self.is_root:
            out["isRoot"] = True
        if self.max_rows is not None:
            out["maxRows"] = self.max_rows
        return out


@attrs.frozen
class DatabaseSchema:
    """A whole database schema: name, version, checksum and tables."""

    name: str
    version: str
    tables: Mapping[str, TableSchema]
    cksum: str | None = None

    def table(self, name: str) -> TableSchema:
        """Return table ``name``; raise ``KeyError`` naming the database if absent."""
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"database {self.name} has no table {name!r}") from None

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        """The version as three integers, for comparisons."""
        a, b, c = self.version.split(".")
        return int(a), int(b), int(c)

    def to_json(self) -> dict[str, Any]:
        """The schema JSON (as ``get_schema`` would return it)."""
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "tables": {t.name: t.to_json() for t in self.tables.values()},
        }
        if self.cksum is not None:
            out["cksum"] = self.cksum
        return out


# --------------------------------------------------------------------------- parsing


_SCHEMA_MEMBERS: Final = frozenset({"name", "version", "cksum", "tables", "doc"})
_TABLE_MEMBERS: Final = frozenset({"columns", "maxRows", "isRoot", "indexes"})
_COLUMN_MEMBERS: Final = frozenset({"type", "ephemeral", "mutable"})
_TYPE_MEMBERS: Final = frozenset({"key", "value", "min", "max"})


def _obj(value: Any, path: str, allowed: frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError(path, f"{what} must be a JSON object, not {_kind(value)}")
    if value.keys() <= allowed:
        return value
    extra = sorted(set(value) - allowed)
    if extra:
        raise SchemaError(
            path, f"unknown member {extra[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _int(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaError(path, f"must be an integer, not {_kind(value)}")
    if not lo <= value <= hi:
        raise SchemaError(path, f"{value} is out of range {lo}..{hi}")
    return value


def _real(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaError(path, f"must be a number, not {_kind(value)}")
    return float(value)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise SchemaError(path, f"must be true or false, not {_kind(value)}")
    return value


_BASE_MEMBERS: Final = {
    "integer": frozenset({"type", "enum", "minInteger", "maxInteger"}),
    "real": frozenset({"type", "enum", "minReal", "maxReal"}),
    "boolean": frozenset({"type", "enum"}),
    "string": frozenset({"type", "enum", "minLength", "maxLength"}),
    "uuid": frozenset({"type", "enum", "refTable", "refType"}),
}


def _parse_base(value: Any, path: str) -> BaseType:
    if isinstance(value, str):
        if value not in ATOMIC_TYPES:
            raise SchemaError(path, f"unknown atomic type {value!r}")
        return BaseType(cast(AtomicType, value))
    if not isinstance(value, dict):
        raise SchemaError(path, f"base type must be a string or an object, not {_kind(value)}")
    atype = value.get("type")
    if not isinstance(atype, str) or atype not in ATOMIC_TYPES:
        raise SchemaError(f"{path}.type", f"must name an atomic type, not {atype!r}")
    _obj(value, path, _BASE_MEMBERS[atype], "base type")
    t = cast(AtomicType, atype)
    kw: dict[str, Any] = {}
    if "minInteger" in value:
        kw["min_integer"] = _int(value["minInteger"], f"{path}.minInteger", INT64_MIN, INT64_MAX)
    if "maxInteger" in value:
        kw["max_integer"] = _int(value["maxInteger"], f"{path}.maxInteger", INT64_MIN, INT64_MAX)
    if kw.get("min_integer", INT64_MIN) > kw.get("max_integer", INT64_MAX):
        raise SchemaError(path, "minInteger is greater than maxInteger")
    if "minReal" in value:
        kw["min_real"] = _real(value["minReal"], f"{path}.minReal")
    if "maxReal" in value:
        kw["max_real"] = _real(value["maxReal"], f"{path}.maxReal")
    if kw.get("min_real", float("-inf")) > kw.get("max_real", float("inf")):
        raise SchemaError(path, "minReal is greater than maxReal")
    if "minLength" in value:
        kw["min_length"] = _int(value["minLength"], f"{path}.minLength", 0, 2**32 - 1)
    if "maxLength" in value:
        kw["max_length"] = _int(value["maxLength"], f"{path}.maxLength", 0, 2**32 - 1)
    if kw.get("min_length", 0) > kw.get("max_length", 2**32):
        raise SchemaError(path, "minLength is greater than maxLength")
    if "refTable" in value:
        ref = value["refTable"]
        if not isinstance(ref, str) or not _ID_RE.match(ref):
            raise SchemaError(f"{path}.refTable", f"must be a table name, not {ref!r}")
        kw["ref_table"] = ref
    if "refType" in value:
        rt = value["refType"]
        if rt not in ("strong", "weak"):
            raise SchemaError(f"{path}.refType", f"must be \"strong\" or \"weak\", not {rt!r}")
        if "refTable" not in value:
            raise SchemaError(f"{path}.refType", "refType is only allowed with refTable")
        kw["ref_type"] = rt
    base = BaseType(t, **kw)
    if "enum" in value:
        from ovsdb_ic.errors import DataError
        from ovsdb_ic.wire.data import atoms_from_json_set

        try:
            enum = atoms_from_json_set(base, value["enum"])
        except DataError as exc:
            raise SchemaError(f"{path}.enum", exc.reason) from None
        if not enum:
            raise SchemaError(f"{path}.enum", "an enum must allow at least one value")
        base = BaseType(t, enum, **kw)  # not attrs.evolve: several times slower
    return base


_TYPE_CACHE: Final[dict[Any, ColumnType]] = {}
_TYPE_CACHE_MAX: Final = 4096
# Equal column types parsed from different JSON (``{"key": "integer", "min": 0}`` and
# ``{"key": "integer", "max": 1, "min": 0}``) are one object: comparing a server's
# schema with the models' is then mostly ``is``.
_INTERNED: Final[dict[ColumnType, ColumnType]] = {}


def _type_key(value: Any) -> Any:
    """A hashable key of a column type's JSON (``None``: not cacheable)."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError: not plain JSON (a huge integer...)
        return None


def parse_column_type(value: Any, path: str = "type") -> ColumnType:
    """Parse the JSON of a column type (``<type>`` in RFC 7047).

    Types that parsed once are remembered by their JSON (the same few types make up
    most columns, and the clients parse the server's schema and the models' at every
    start): a type already seen is not validated again, and equal types are the same
    object. Errors are never cached.
    """
    key = _type_key(value)
    if key is None:
        return _parse_column_type(value, path)
    cached = _TYPE_CACHE.get(key)
    if cached is not None:
        return cached
    # Another spelling of a type seen before (the models' schemas and a server's spell
    # defaults differently): looked up only when the JSON itself is new.
    short = _short_type_key(value)
    ctype = _TYPE_CACHE.get(short) if short is not None else None
    if ctype is None:
        ctype = _parse_column_type(value, path)
        if len(_INTERNED) < _TYPE_CACHE_MAX:
            ctype = _INTERNED.setdefault(ctype, ctype)
    if len(_TYPE_CACHE) < _TYPE_CACHE_MAX:
        _TYPE_CACHE[key] = ctype
        if short is not None:
            _TYPE_CACHE[short] = ctype
    return ctype


def _short_type_key(value: Any) -> Any:
    """The key of a column type's JSON written without its defaults (``None``: none).

    Left out: ``"min": 1`` and ``"max": 1``, ``"refType": "strong"`` (with a
    ``refTable``); a base type ``{"type": T}`` is written ``T``, a column type
    ``{"key": T}`` too. Each spelling parses exactly as the short one does (the same
    type, or the same failure: only integers equal to 1 are defaults, never ``true``
    or ``1.0``), so they may share a cache entry.
    """
    if type(value) is not dict:
        return None
    out = dict(value)
    for member in ("min", "max"):
        v = out.get(member)
        if type(v) is int and v == 1:
            del out[member]
    for member in ("key", "value"):
        base = out.get(member)
        if type(base) is dict:
            if "refTable" in base and type(base.get("refType")) is str and (
                base["refType"] == "strong"
            ):
                base = {k: v for k, v in base.items() if k != "refType"}
            if len(base) == 1 and type(base.get("type")) is str:
                base = base["type"]
            out[member] = base
    if len(out) == 1 and type(out.get("key")) is str:
        return out["key"]
    return _type_key(out)


def _parse_column_type(value: Any, path: str) -> ColumnType:
    if isinstance(value, str):
        return ColumnType(_parse_base(value, path))
    obj = _obj(value, path, _TYPE_MEMBERS, "column type")
    if "key" not in obj:
        raise SchemaError(path, "missing member 'key'")
    key = _parse_base(obj["key"], f"{path}.key")
    val = _parse_base(obj["value"], f"{path}.value") if "value" in obj else None
    mn = _int(obj.get("min", 1), f"{path}.min", 0, 1)
    mx_raw = obj.get("max", 1)
    mx: int | None
    if mx_raw == "unlimited":
        mx = None
    else:
        mx = _int(mx_raw, f"{path}.max", 1, 2**31 - 1)
        if mx < mn:
            raise SchemaError(f"{path}.max", f"max ({mx}) is less than min ({mn})")
    return ColumnType(key, val, mn, mx)


def _parse_column(name: str, value: Any, path: str) -> ColumnSchema:
    obj = _obj(value, path, _COLUMN_MEMBERS, "column")
    if "type" not in obj:
        raise SchemaError(path, "missing member 'type'")
    ctype = parse_column_type(obj["type"], f"{path}.type")
    eph = _bool(obj.get("ephemeral", False), f"{path}.ephemeral")
    mut = _bool(obj.get("mutable", True), f"{path}.mutable")
    return ColumnSchema(name, ctype, eph, mut)


def _parse_table(name: str, value: Any, path: str) -> TableSchema:
    obj = _obj(value, path, _TABLE_MEMBERS, "table")
    cols_json = obj.get("columns")
    if not isinstance(cols_json, dict):
        raise SchemaError(f"{path}.columns", "a table needs a \"columns\" object")
    if not cols_json:
        raise SchemaError(f"{path}.columns", "a table needs at least one column")
    columns: dict[str, ColumnSchema] = {}
    cache = _TYPE_CACHE
    for cname, cjson in cols_json.items():
        # The usual column, {"type": <a type seen before>} with valid flags, takes no
        # path string and no checks that cannot fail; anything else the full way.
        if type(cjson) is dict and cjson.keys() <= _COLUMN_MEMBERS and (
            _ID_RE.match(cname) and cname[0] != "_"
        ):
            tjson = cjson.get("type")
            ctype = cache.get(tjson if type(tjson) is str else _type_key(tjson))
            if ctype is not None:
                eph = cjson.get("ephemeral", False)
                mut = cjson.get("mutable", True)
                if (eph is True or eph is False) and (mut is True or mut is False):
                    columns[cname] = ColumnSchema(cname, ctype, eph, mut)
                    continue
        cpath = f"{path}.columns.{cname}"
        if not _ID_RE.match(cname):
            raise SchemaError(cpath, f"{cname!r} is not a valid column name")
        if cname.startswith("_"):
            raise SchemaError(cpath, "names beginning with '_' are reserved")
        columns[cname] = _parse_column(cname, cjson, cpath)
    max_rows = None
    if "maxRows" in obj:
        max_rows = _int(obj["maxRows"], f"{path}.maxRows", 1, 2**31 - 1)
    is_root = _bool(obj.get("isRoot", False), f"{path}.isRoot")
    indexes: list[tuple[str, ...]] = []
    raw_idx = obj.get("indexes", [])
    if not isinstance(raw_idx, list):
        raise SchemaError(f"{path}.indexes", "must be an array of arrays of column names")
    for i, idx in enumerate(raw_idx):
        ipath = f"{path}.indexes[{i}]"
        if not isinstance(idx, list) or not idx:
            raise SchemaError(ipath, "an index must be a non-empty array of column names")
        for col in idx:
            if not isinstance(col, str):
                raise SchemaError(ipath, f"column names must be strings, not {_kind(col)}")
            if col not in columns:
                raise SchemaError(ipath, f"index names unknown column {col!r}")
            if columns[col].ephemeral:
                raise SchemaError(ipath, f"ephemeral column {col!r} may not be indexed")
        if len(set(idx)) != len(idx):
            raise SchemaError(ipath, "an index names the same column twice")
        indexes.append(tuple(idx))
    return TableSchema(name, MappingProxyType(columns), tuple(indexes), is_root, max_rows)


def parse_schema(value: Any) -> DatabaseSchema:
    """Parse a database schema (the JSON of an ``.ovsschema`` file or ``get_schema``).

    Raises :class:`~ovsdb_ic.errors.SchemaError` naming the offending element.
    """
    return _parse_schema(value, None)


def _schema_header(value: Any) -> tuple[str, str, str | None, dict[str, Any]]:
    """The name, version, checksum and ``tables`` object of a schema's JSON, checked."""
    obj = _obj(value, "", _SCHEMA_MEMBERS, "schema")
    name = obj.get("name")
    if not isinstance(name, str) or not _ID_RE.match(name):
        raise SchemaError("name", f"must be a database name, not {name!r}")
    version = obj.get("version")
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise SchemaError("version", f"must look like \"x.y.z\", not {version!r}")
    cksum = obj.get("cksum")
    if cksum is not None and not isinstance(cksum, str):
        raise SchemaError("cksum", f"must be a string, not {_kind(cksum)}")
    tables_json = obj.get("tables")
    if not isinstance(tables_json, dict):
        raise SchemaError("tables", "a schema needs a \"tables\" object")
    return name, version, cksum, tables_json


def _parse_schema(value: Any, like: _LazyTables | None) -> DatabaseSchema:
    """:func:`parse_schema`; a table whose JSON is exactly that of the same table of
    *like* (tables known to be valid) is not parsed: it is *like*'s, when used."""
    name, version, cksum, tables_json = _schema_header(value)
    tables: dict[str, TableSchema] = {}
    shared: dict[str, _LazyTables] = {}
    for tname, tjson in tables_json.items():
        tpath = f"tables.{tname}"
        if not isinstance(tname, str) or not _ID_RE.match(tname) or tname.startswith("_"):
            raise SchemaError(tpath, f"{tname!r} is not a valid table name")
        if like is not None and like.same_json(tname, tjson):
            shared[tname] = like  # valid: the same JSON as a valid table
            continue
        tables[tname] = _parse_table(tname, tjson, tpath)
    for tname in tables_json:
        table = tables.get(tname)
        refs = _refs_of_json(tname, tables_json[tname]) if table is None else _refs(table)
        for where, ref in refs:
            if ref not in tables_json:
                raise SchemaError(where, f"refers to unknown table {ref!r}")
    if not shared:
        if not any(t.is_root for t in tables.values()):
            # Schemas from before "isRoot" existed have no garbage collection: when no
            # table is in the root set, every table is (as ovsdb-server and python-ovs
            # do).
            tables = {n: attrs.evolve(t, is_root=True) for n, t in tables.items()}
        return DatabaseSchema(name, version, MappingProxyType(tables), cksum)
    if not any(t.get("isRoot") is True for t in tables_json.values()):
        return _parse_schema(value, None)  # every table a root: not like's tables
    tables_now = dict(tables_json)  # the names and their order, as they are now
    return DatabaseSchema(name, version, _LazyTables(tables_now, False, tables, shared), cksum)


def _refs(table: TableSchema) -> list[tuple[str, str]]:
    """(path, table) of each reference of *table*, in column order."""
    out = []
    for col in table.columns.values():
        ctype = col.type
        if ctype.key.ref_table is None and (ctype.value is None
                                            or ctype.value.ref_table is None):
            continue
        for part, base in (("key", ctype.key), ("value", ctype.value)):
            if base is not None and base.ref_table is not None:
                out.append((f"tables.{table.name}.columns.{col.name}.type.{part}.refTable",
                            base.ref_table))
    return out


def _refs_of_json(name: str, table: dict[str, Any]) -> list[tuple[str, str]]:
    """:func:`_refs` of the JSON of a valid table, without parsing it."""
    out = []
    for cname, column in table["columns"].items():
        ctype = column["type"]
        if type(ctype) is not dict:
            continue
        for part in ("key", "value"):
            base = ctype.get(part)
            if type(base) is dict and "refTable" in base:
                out.append((f"tables.{name}.columns.{cname}.type.{part}.refTable",
                            base["refTable"]))
    return out


_SCHEMA_CACHE: Final[dict[bytes, DatabaseSchema]] = {}
_SCHEMA_CACHE_MAX: Final = 16


def parse_schema_cached(value: Any, like: DatabaseSchema | None = None) -> DatabaseSchema:
    """:func:`parse_schema` of JSON decoded from text (a ``get_schema`` reply, a file),
    remembered: the same JSON, members in the same order, gives the same
    :class:`DatabaseSchema` object, parsed once per process.

    A client parses the schema of its database and ``_Server``'s on every connection,
    and every server of a deployment answers with the same ``_Server`` schema: each is
    parsed once. *value* must hold JSON values only (``dict``, ``list``, ``str``,
    ``int``, ``float``, ``bool``, ``None``), as a JSON decoder makes them; otherwise use
    :func:`parse_schema`. Errors are never remembered: a bad schema raises the same
    :class:`~ovsdb_ic.errors.SchemaError` every time.

    *like*, a schema of :func:`parse_schema_lazy` (the models' schema of the database):
    a table whose JSON is exactly (key order aside) that of *like*'s table is not
    parsed here; it is valid, and is *like*'s table when first used (the models'
    schemas are kept in the spelling of ``ovsdb-server``'s ``get_schema``, so a server
    of the models' release parses almost nothing). The result equals
    :func:`parse_schema`'s in every way but speed.
    """
    tables = like.tables if like is not None else None
    lazy = tables if isinstance(tables, _LazyTables) and not tables._all_root else None
    try:
        key = orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: not plain JSON (a huge integer...)
        return parse_schema(value)
    schema = _SCHEMA_CACHE.get(key)
    if schema is None:
        schema = _parse_schema(value, lazy)
        if len(_SCHEMA_CACHE) >= _SCHEMA_CACHE_MAX:
            del _SCHEMA_CACHE[next(iter(_SCHEMA_CACHE))]
        _SCHEMA_CACHE[key] = schema
    return schema


# --------------------------------------------------------------------------- lazily


@final
class _LazyTables(Mapping[str, TableSchema]):
    """The tables of a schema known to be valid, each parsed when first used."""

    __slots__ = ("_all_root", "_json", "_parsed", "_raw", "_shared")

    def __init__(
        self, raw: dict[str, Any], all_root: bool,
        parsed: dict[str, TableSchema] | None = None,
        shared: dict[str, _LazyTables] | None = None,
    ) -> None:
        self._raw = raw
        self._parsed: dict[str, TableSchema] = {} if parsed is None else parsed
        self._shared: dict[str, _LazyTables] = {} if shared is None else shared
        self._all_root = all_root
        self._json: dict[str, bytes] = {}

    def same_json(self, name: str, table: Any) -> bool:
        """Whether *table* is exactly (key order aside) the JSON of table *name*."""
        raw = self._raw.get(name)
        if raw is None or type(table) is not dict:
            return False
        mine = self._json.get(name)
        if mine is None:
            mine = self._json[name] = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
        try:
            return orjson.dumps(table, option=orjson.OPT_SORT_KEYS) == mine
        except TypeError:  # not plain JSON
            return False

    def shares(self, name: str, other: _LazyTables) -> bool:
        """Whether table *name* is *other*'s (the same JSON), parsed or not."""
        return self._shared.get(name) is other

    def __getitem__(self, name: str) -> TableSchema:
        table = self._parsed.get(name)
        if table is None:
            source = self._shared.get(name)
            if source is not None:
                return self._parsed.setdefault(name, source[name])
            table = _parse_table(name, self._raw[name], f"tables.{name}")
            if self._all_root and not table.is_root:
                table = attrs.evolve(table, is_root=True)
            table = self._parsed.setdefault(name, table)
        return table

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __repr__(self) -> str:
        return f"mappingproxy({dict(self.items())!r})"

    def same_types(self, name: str, other: TableSchema) -> bool:
        """:func:`same_column_types` without parsing table *name*."""
        table = self._parsed.get(name)
        if table is not None:
            return _same_types(table, other)
        columns = self._raw[name]["columns"]
        theirs = other.columns
        if len(columns) != len(theirs):
            return False
        cache = _TYPE_CACHE
        for cname, cjson in columns.items():
            col = theirs.get(cname)
            if col is None:
                return False
            tjson = cjson["type"]
            ctype = cache.get(tjson if type(tjson) is str else _type_key(tjson))
            if ctype is None:
                ctype = parse_column_type(tjson, f"tables.{name}.columns.{cname}.type")
            if ctype is not col.type:
                return False
        return True


def _same_types(table: TableSchema, other: TableSchema) -> bool:
    theirs = other.columns
    if len(table.columns) != len(theirs):
        return False
    for cname, col in table.columns.items():
        their = theirs.get(cname)
        if their is None or (their.type is not col.type and their.type != col.type):
            return False
    return True


def same_column_types(schema: DatabaseSchema, name: str, other: TableSchema) -> bool:
    """Whether table *name* of *schema* has exactly the columns of *other*, each of an
    equal type (flags and indexes are not compared): comparing their columns one by one
    would find no difference.

    For a schema of :func:`parse_schema_lazy` the table is not parsed for this (its
    column types are looked up by their JSON). Raises ``KeyError`` when *schema* has no
    table *name*.
    """
    tables = schema.tables
    if isinstance(tables, _LazyTables):
        return tables.same_types(name, other)
    return _same_types(tables[name], other)


def same_table(a: DatabaseSchema, b: DatabaseSchema, name: str) -> bool:
    """Whether both schemas have table *name* and it is known, without parsing it, to
    be the same (``False`` when unsure): one schema took it from the other
    (:func:`parse_schema_cached` with ``like``), or it is the same object."""
    ta, tb = a.tables, b.tables
    if isinstance(ta, _LazyTables) and isinstance(tb, _LazyTables):
        if ta.shares(name, tb) or tb.shares(name, ta):
            return True
        one, other = ta._parsed.get(name), tb._parsed.get(name)
        return one is not None and one is other
    if isinstance(ta, _LazyTables) or isinstance(tb, _LazyTables):
        return False
    one = ta.get(name)
    return one is not None and one is tb.get(name)


def parse_schema_lazy(value: Any) -> DatabaseSchema:
    """:func:`parse_schema` for the JSON of a schema known to be valid (the models' own,
    checked when they were generated): the name, version, checksum and table names are
    checked now, each table is parsed when it is first used.

    The result behaves as :func:`parse_schema`'s does (equality, iteration order,
    ``to_json``), but a malformed table raises its
    :class:`~ovsdb_ic.errors.SchemaError` when it is used, not here, and references to
    unknown tables are not looked for: for schemas from elsewhere (a server) use
    :func:`parse_schema`.
    """
    name, version, cksum, tables_json = _schema_header(value)
    for tname, tjson in tables_json.items():
        if not isinstance(tname, str) or not _ID_RE.match(tname) or tname.startswith("_"):
            raise SchemaError(f"tables.{tname}", f"{tname!r} is not a valid table name")
        if not isinstance(tjson, dict):
            raise SchemaError(f"tables.{tname}",
                              f"table must be a JSON object, not {_kind(tjson)}")
    all_root = not any(t.get("isRoot") is True for t in tables_json.values())
    return DatabaseSchema(name, version, _LazyTables(tables_json, all_root), cksum)
