"""Equality indexes over the rows of one table.

An :class:`Index` maps a key, built from one or more columns of a row, to the rows
having that key, in a ``dict``: lookups are O(1). A column part is either a column
name or a ``(map column, key)`` pair that indexes rows by the value stored under
that key of the map (rows whose map lacks the key are not indexed).

Keys: a single-part index uses the bare value as its key, a multi-part index a
tuple of values. A whole map column is keyed by the ``frozenset`` of its items
(lookups accept a mapping and convert it).

Storage is compact: a key held by one row maps straight to the :class:`Row`; only
keys shared by several rows hold a small ``dict`` of them (by UUID). A *unique*
index differs only in what lookups promise: :meth:`Index.get` returns the one row
or ``None``, and raises :class:`IndexConflictError` when a key is shared
(possible only for client indexes declared unique over data the server does not
keep unique). Shared keys of a unique index are listed in :attr:`Index.conflicts`;
when the data changes so that a key is unique again, the conflict disappears.
"""

from __future__ import annotations

import operator
from collections import deque as _consume
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeAlias, final
from uuid import UUID

from ovsdb_ic.errors import LocalProtocolError, OvsdbError
from ovsdb_ic.replica.rows import Row, RowLayout
from ovsdb_ic.wire.schema import BaseType

__all__ = ["Index", "IndexColumn", "IndexConflictError"]

IndexColumn: TypeAlias = str | tuple[str, Any]
"""One part of an index key: a column name, or ``(map column, map key)``."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()
"""Key of a row an index does not hold (its map lacks an indexed key)."""

_Bucket: TypeAlias = Row | dict[int, Row]


class IndexConflictError(OvsdbError, LookupError):
    """A unique lookup matched more than one row.

    ``index`` and ``table`` name the index, ``key`` is the looked-up key and
    ``rows`` the rows sharing it.
    """

    def __init__(self, table: str, index: str, key: Any, rows: tuple[Row, ...]) -> None:
        uuids = ", ".join(str(r.uuid) for r in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        super().__init__(
            f"unique index {index!r} of {table} holds {len(rows)} rows for key {key!r:.200}: "
            f"{uuids}{more}"
        )
        self.table = table
        self.index = index
        self.key = key
        self.rows = rows


_PY_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "integer": (int,),
    "real": (float, int),
    "boolean": (bool,),
    "string": (str,),
}


def _atom_ok(base: BaseType, value: Any) -> bool:
    if base.type == "uuid":
        return isinstance(value, UUID)
    if base.type == "integer" and type(value) is bool:
        return False
    return isinstance(value, _PY_TYPES[base.type])


def _whole_map(v: Any) -> Any:
    return frozenset(v.items())


def _compile(
    layout: RowLayout, name: str, columns: Sequence[IndexColumn]
) -> tuple[tuple[IndexColumn, ...], Callable[[tuple[Any, ...]], Any], tuple[bool, ...]]:
    """Validate ``columns``; return them, the key function and which parts are whole maps."""
    where = f"index {name!r} of {layout.table}"
    if not columns:
        raise LocalProtocolError(f"{where} needs at least one column")
    specs: list[IndexColumn] = []
    parts: list[tuple[int, Any, bool]] = []  # position, map key (or MISSING), whole map
    for spec in columns:
        if isinstance(spec, str):
            col, key = spec, MISSING
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
            col, key = spec
        else:
            raise LocalProtocolError(
                f"{where}: a column is a name or a (map column, key) pair, not {spec!r}"
            )
        pos = layout.positions.get(col)
        if pos is None:
            raise LocalProtocolError(f"{where} names column {col!r}, which the replica does "
                                     f"not hold (held: {', '.join(layout.columns)})")
        ctype = layout.column(col).type
        if key is not MISSING:
            if ctype.value is None:
                raise LocalProtocolError(f"{where}: {col} is not a map; cannot index key {key!r}")
            if not _atom_ok(ctype.key, key):
                raise LocalProtocolError(
                    f"{where}: {key!r} is not a {ctype.key.type} key of map {col}"
                )
            specs.append((col, key))
        else:
            specs.append(col)
        parts.append((pos, key, key is MISSING and ctype.is_map))
    if len(set(specs)) != len(specs):
        raise LocalProtocolError(f"{where} names the same column twice")
    whole = tuple(w for _, _, w in parts)
    fn: Callable[[tuple[Any, ...]], Any]
    if all(k is MISSING and not w for _, k, w in parts):
        # Plain columns only: itemgetter returns the value, or the tuple of values.
        fn = operator.itemgetter(*[p for p, _, _ in parts])
    elif len(parts) == 1:
        ((pos, key, w),) = parts
        if w:
            def fn(values: tuple[Any, ...]) -> Any:
                return frozenset(values[pos].items())
        else:
            def fn(values: tuple[Any, ...]) -> Any:
                return values[pos].get(key, MISSING)
    else:
        frozen = tuple(parts)

        def fn(values: tuple[Any, ...]) -> Any:
            out = []
            for pos, key, w in frozen:
                v = values[pos]
                if w:
                    v = frozenset(v.items())
                elif key is not MISSING:
                    v = v.get(key, MISSING)
                    if v is MISSING:
                        return MISSING
                out.append(v)
            return tuple(out)

    return tuple(specs), fn, whole


@final
class Index:
    """An equality index over some columns (or map keys) of one table.

    Created by the replica: one per unique index of the schema (named by its
    columns joined with ``","``, ``from_schema`` true) and one per
    :meth:`~ovsdb_ic.replica.Replica.add_index` call. Kept up to date through
    every insert, modify and delete; all lookups are O(1).

    A lookup key is the value for a single-part index (a 1-tuple is accepted too)
    and a tuple of values, in :attr:`columns` order, otherwise.
    """

    __slots__ = (
        "_conflicts",
        "_key",
        "_map",
        "_whole",
        "columns",
        "from_schema",
        "name",
        "table",
        "unique",
    )

    name: str
    """The index's name."""
    table: str
    """The table it indexes."""
    columns: tuple[IndexColumn, ...]
    """The key parts: column names and ``(map column, key)`` pairs."""
    unique: bool
    """Whether :meth:`get` promises at most one row per key."""
    from_schema: bool
    """Whether the index is one of the schema's (always unique)."""

    def __init__(
        self,
        layout: RowLayout,
        name: str,
        columns: Sequence[IndexColumn],
        *,
        unique: bool = False,
        from_schema: bool = False,
    ) -> None:
        """An empty index of ``layout``'s table over ``columns`` (validated against it)."""
        specs, key, whole = _compile(layout, name, columns)
        self.name = name
        self.table = layout.table
        self.columns = specs
        self.unique = unique
        self.from_schema = from_schema
        self._key = key
        self._whole = whole
        self._map: dict[Any, _Bucket] = {}
        self._conflicts: set[Any] = set()

    # ------------------------------------------------------------------ lookups

    def _norm(self, key: Any) -> Any:
        whole = self._whole
        if len(whole) == 1:
            if type(key) is tuple and len(key) == 1:
                key = key[0]
            if whole[0] and isinstance(key, Mapping):
                key = frozenset(key.items())
            return key
        if type(key) is not tuple or len(key) != len(whole):
            raise LocalProtocolError(
                f"index {self.name!r} of {self.table} needs a tuple of {len(whole)} values "
                f"({', '.join(map(str, self.columns))}), not {key!r:.200}"
            )
        if any(whole):
            key = tuple(
                frozenset(v.items()) if w and isinstance(v, Mapping) else v
                for v, w in zip(key, whole, strict=True)
            )
        return key

    def get(self, key: Any) -> Row | None:
        """The row with ``key``, or ``None``.

        Raises :class:`IndexConflictError` when several rows share the key (a
        non-unique index, or a unique one in conflict); :meth:`find` returns them all.
        """
        try:
            found = self._map.get(self._norm(key))
        except TypeError:  # unhashable: no row can have it
            return None
        if found is None or type(found) is Row:
            return found
        raise IndexConflictError(self.table, self.name, key, tuple(found.values()))

    def find(self, key: Any) -> tuple[Row, ...]:
        """All rows with ``key`` (a new tuple; empty when none)."""
        try:
            found = self._map.get(self._norm(key))
        except TypeError:
            return ()
        if found is None:
            return ()
        if type(found) is Row:
            return (found,)
        return tuple(found.values())

    def __contains__(self, key: Any) -> bool:
        try:
            return self._norm(key) in self._map
        except TypeError:
            return False

    def __len__(self) -> int:
        """The number of distinct keys."""
        return len(self._map)

    def keys(self) -> Iterator[Any]:
        """The distinct keys (do not change the replica while iterating)."""
        return iter(self._map)

    def __iter__(self) -> Iterator[Any]:
        """The distinct keys, as :meth:`keys`."""
        return iter(self._map)

    def count(self, key: Any) -> int:
        """How many rows have ``key``."""
        try:
            found = self._map.get(self._norm(key))
        except TypeError:
            return 0
        return 0 if found is None else 1 if type(found) is Row else len(found)

    @property
    def conflicts(self) -> Mapping[Any, tuple[Row, ...]]:
        """For a unique index: each key shared by several rows, with those rows.

        Empty for a consistent index (always, for schema indexes fed by a correct
        server) and for non-unique indexes.
        """
        out: dict[Any, tuple[Row, ...]] = {}
        for k in self._conflicts:
            bucket = self._map[k]
            assert type(bucket) is dict
            out[k] = tuple(bucket.values())
        return out

    def key_of(self, row: Row) -> Any:
        """The key this index files ``row`` under (:data:`MISSING` if it is not indexed)."""
        return self._key(row._values)

    def __repr__(self) -> str:
        kind = "unique " if self.unique else ""
        return (f"<{kind}Index {self.name!r} of {self.table} on {list(self.columns)}: "
                f"{len(self)} keys>")

    # ------------------------------------------------------------------ maintenance

    def _add(self, key: Any, row: Row) -> None:
        m = self._map
        cur = m.setdefault(key, row)
        if cur is row:
            return
        if type(cur) is Row:
            m[key] = {cur.uuid.int: cur, row.uuid.int: row}
            if self.unique:
                self._conflicts.add(key)
        else:
            cur[row.uuid.int] = row

    def _remove(self, key: Any, row: Row) -> None:
        m = self._map
        cur = m[key]
        if type(cur) is Row:
            del m[key]
        else:
            del cur[row.uuid.int]
            if len(cur) == 1:
                (m[key],) = cur.values()
                self._conflicts.discard(key)

    def _replace(self, key: Any, row: Row) -> None:
        """``row`` replaces the row with its UUID, under an unchanged key."""
        m = self._map
        cur = m[key]
        if type(cur) is Row:
            m[key] = row
        else:
            cur[row.uuid.int] = row

    def _plan(
        self, olds: Sequence[Row | None], news: Sequence[Row | None]
    ) -> tuple[list[Any], list[Any]]:
        """The old and new keys of a batch; new keys are hashed once, to fail early."""
        key = self._key
        oks = [MISSING if old is None else key(old._values) for old in olds]
        nks = [MISSING if new is None else key(new._values) for new in news]
        _consume(map(hash, nks), maxlen=0)
        return oks, nks

    def _commit(
        self,
        olds: Sequence[Row | None],
        news: Sequence[Row | None],
        oks: Sequence[Any],
        nks: Sequence[Any],
    ) -> None:
        """Apply a planned batch: removals first, then additions (no transient conflicts)."""
        adds: list[int] = []
        for i, ok in enumerate(oks):
            if ok is not MISSING:
                new = news[i]
                if new is not None and ok == nks[i]:
                    self._replace(ok, new)
                    continue
                old = olds[i]
                assert old is not None
                self._remove(ok, old)
            if nks[i] is not MISSING:
                adds.append(i)
        add = self._add
        for i in adds:
            new = news[i]
            assert new is not None
            add(nks[i], new)

    def _keys(self, rows: Sequence[Row | None]) -> list[Any]:
        """The keys of ``rows`` (:data:`MISSING` for ``None`` and for rows not indexed)."""
        key = self._key
        return [MISSING if row is None else key(row._values) for row in rows]

    def _build_into(
        self, m: dict[Any, _Bucket], conflicts: set[Any], keys: Sequence[Any],
        rows: Sequence[Row],
    ) -> None:
        """Add ``rows`` under ``keys`` to a map being built (as :meth:`_add` does)."""
        unique = self.unique
        setdefault = m.setdefault
        for k, row in zip(keys, rows, strict=True):
            if k is MISSING:
                continue
            cur = setdefault(k, row)
            if cur is row:
                continue
            if type(cur) is Row:
                m[k] = {cur.uuid.int: cur, row.uuid.int: row}
                if unique:
                    conflicts.add(k)
            else:
                cur[row.uuid.int] = row

    def _swap_in(self, m: dict[Any, _Bucket], conflicts: set[Any]) -> None:
        """Take a map built by :meth:`_build_into` over an empty index."""
        assert not self._map, "a built map replaces only an empty index"
        self._map = m
        self._conflicts = conflicts

    def _fill(self, rows: Iterator[Row]) -> None:
        """Index ``rows`` (an index added to a populated table)."""
        key = self._key
        for row in rows:
            k = key(row._values)
            if k is not MISSING:
                self._add(k, row)
