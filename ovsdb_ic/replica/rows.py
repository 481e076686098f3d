"""Compact immutable rows and the column layout they share.

A replica may hold hundreds of thousands of rows, so a :class:`Row` is small: the
row's UUID, a reference to the :class:`RowLayout` shared by every row of its table,
and one tuple of values in the layout's column order. There is no per-row
dictionary and no per-row object per column.

Values have the Python shapes of :mod:`ovsdb_ic.wire.data`: atoms, ``None`` for an
empty optional column, ``frozenset`` for sets. Map columns are stored as ``dict``
objects that are never mutated (a modify builds a new ``dict``), and rows hand them
out wrapped in a read-only :class:`types.MappingProxyType`, so a row cannot be
changed through them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar, final
from uuid import UUID

from ovsdb_ic.errors import LocalProtocolError
from ovsdb_ic.wire.data import column_codec
from ovsdb_ic.wire.monitor import default_value
from ovsdb_ic.wire.schema import ColumnSchema, TableSchema

__all__ = ["Row", "RowLayout"]

T = TypeVar("T")

_UUID = UUID
_new = object.__new__
_set = object.__setattr__
_proxy = MappingProxyType


@final
class RowLayout:
    """The columns of one table as a replica holds them, shared by all its rows.

    ``columns`` is the column order of every row's value tuple, ``positions`` maps
    a column name to its index in that tuple, ``defaults`` holds each column's
    empty value (see :func:`~ovsdb_ic.wire.monitor.default_value`).
    ``_uuid`` is never a column: it is :attr:`Row.uuid`.
    """

    __slots__ = (
        "appliers",
        "columns",
        "defaults",
        "is_map",
        "positions",
        "schema",
        "table",
    )

    table: str
    schema: TableSchema
    columns: tuple[str, ...]
    positions: dict[str, int]
    defaults: tuple[Any, ...]
    is_map: tuple[bool, ...]
    appliers: tuple[Callable[[Any, Any], Any], ...]

    def __init__(self, table: TableSchema, columns: Sequence[str] | None = None) -> None:
        """Lay out ``columns`` of ``table`` (default: all schema columns, in schema order).

        Raises :class:`~ovsdb_ic.errors.LocalProtocolError` for a column the table
        does not have or a column named twice; ``_uuid`` is skipped (it is the row's
        :attr:`~Row.uuid`), ``_version`` may be held like any column.
        """
        names = list(table.columns) if columns is None else [c for c in columns if c != "_uuid"]
        if isinstance(columns, str):
            raise LocalProtocolError(
                f"columns of {table.name} must be a sequence of names, not a string"
            )
        cols: list[ColumnSchema] = []
        for name in names:
            try:
                cols.append(table.column(name))
            except KeyError:
                raise LocalProtocolError(f"table {table.name} has no column {name!r}") from None
        if len(set(names)) != len(names):
            raise LocalProtocolError(f"columns of {table.name} name a column twice: {names}")
        _set(self, "table", table.name)
        _set(self, "schema", table)
        _set(self, "columns", tuple(names))
        _set(self, "positions", {n: i for i, n in enumerate(names)})
        _set(self, "defaults", tuple(default_value(c.type) for c in cols))
        _set(self, "is_map", tuple(c.type.is_map for c in cols))
        _set(self, "appliers", tuple(
            column_codec(c.type, f"{table.name}.{c.name}").apply_diff for c in cols
        ))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"RowLayout is immutable (cannot set {name!r})")

    def column(self, name: str) -> ColumnSchema:
        """The schema of column ``name`` (raises ``KeyError`` when not held)."""
        if name not in self.positions:
            raise KeyError(f"{self.table} rows hold no column {name!r}")
        return self.schema.column(name)

    def row(self, row_uuid: UUID, values: Mapping[str, Any]) -> Row:
        """Build a row from a ``column -> value`` mapping.

        Columns missing from ``values`` hold their default; entries for columns
        this layout does not hold are ignored. Values are not validated (decoded
        monitor updates already are); map values are copied into a new ``dict``.
        """
        out = []
        for name, default, is_map in zip(self.columns, self.defaults, self.is_map, strict=True):
            v = values.get(name, default)
            out.append(dict(v) if is_map else v)
        return _make_row(self, row_uuid, tuple(out))

    def getter(self, *columns: str) -> Callable[[Row], tuple[Any, ...]]:
        """A function returning the values of ``columns`` of a row, as a tuple.

        ``getter("ip_prefix", "nexthop")(row) == (row["ip_prefix"], row["nexthop"])``
        for any row, with one C-level lookup for the rows of this layout instead of
        one call per column (map columns come back read-only, as from ``row[...]``).
        Raises ``KeyError`` for a column this layout does not hold.
        """
        positions = []
        for name in columns:
            if name not in self.positions:
                raise KeyError(f"{self.table} rows hold no column {name!r}")
            positions.append(self.positions[name])
        if not positions:
            return _no_values
        maps = [i for i, p in enumerate(positions) if self.is_map[p]]
        names = columns

        def slow(row: Row) -> tuple[Any, ...]:
            return tuple(map(row.__getitem__, names))

        if len(positions) == 1:
            (pos,) = positions
            is_map = bool(maps)

            def get_one(row: Row) -> tuple[Any, ...]:
                if row._layout is not self:
                    return slow(row)
                v = row._values[pos]
                return (_proxy(v),) if is_map else (v,)

            return get_one
        take = itemgetter(*positions)
        if maps:
            def get_with_maps(row: Row) -> tuple[Any, ...]:
                if row._layout is not self:
                    return slow(row)
                vals = list(take(row._values))
                for i in maps:
                    vals[i] = _proxy(vals[i])
                return tuple(vals)

            return get_with_maps

        def get(row: Row) -> tuple[Any, ...]:
            if row._layout is not self:
                return slow(row)
            return take(row._values)  # type: ignore[no-any-return]

        return get

    def __repr__(self) -> str:
        return f"RowLayout({self.table}, {list(self.columns)})"


def _no_values(_row: Row) -> tuple[Any, ...]:
    return ()


def _make_row(layout: RowLayout, row_uuid: UUID, values: tuple[Any, ...]) -> Row:
    """Create a row without the checks of :meth:`Row.__init__` (the replica's hot path)."""
    r = _new(Row)
    _set(r, "uuid", row_uuid)
    _set(r, "_layout", layout)
    _set(r, "_values", values)
    return r


@final
class Row(Mapping[str, Any]):
    """One immutable row: ``row.uuid`` plus a read-only mapping ``column -> value``.

    ``row["ip_prefix"]``, ``row.get("route_table")``, ``"nexthop" in row``,
    ``len(row)`` (the number of columns held), iteration over column names, and
    :meth:`to_dict`. Map columns come back as read-only mappings. The typed
    accessors (:meth:`get_str`, :meth:`get_int`, ...) check the value's type, for
    code that wants ``str`` rather than ``Any``.

    Two rows are equal when they belong to the same table, have the same UUID,
    columns and values; the hash is that of the UUID. Rows are created by the
    replica; :meth:`RowLayout.row` builds one from a mapping.
    """

    __slots__ = ("_layout", "_values", "uuid")

    uuid: UUID
    """The row's ``_uuid``."""
    _layout: RowLayout
    _values: tuple[Any, ...]

    def __init__(self, layout: RowLayout, row_uuid: UUID, values: Sequence[Any]) -> None:
        """A row of ``layout`` with ``values`` in the layout's column order."""
        if not isinstance(row_uuid, _UUID):
            raise TypeError(f"a row's uuid must be a uuid.UUID, not {type(row_uuid).__name__}")
        vals = tuple(values)
        if len(vals) != len(layout.columns):
            raise ValueError(
                f"{layout.table} rows hold {len(layout.columns)} values, got {len(vals)}"
            )
        _set(self, "uuid", row_uuid)
        _set(self, "_layout", layout)
        _set(self, "_values", vals)

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"rows are immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"rows are immutable (cannot delete {name!r})")

    def __copy__(self) -> Row:
        return self

    def __deepcopy__(self, memo: Any) -> Row:
        return self

    # ------------------------------------------------------------------ mapping

    @property
    def table(self) -> str:
        """The name of the row's table."""
        return self._layout.table

    @property
    def layout(self) -> RowLayout:
        """The layout shared by the rows of this table."""
        return self._layout

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of the columns the row holds, in layout order."""
        return self._layout.columns

    def __getitem__(self, column: str) -> Any:
        """The value of ``column`` (maps read-only); ``KeyError`` if not held."""
        layout = self._layout
        i = layout.positions.get(column)
        if i is None:
            raise KeyError(f"{layout.table} rows hold no column {column!r}")
        v = self._values[i]
        return _proxy(v) if layout.is_map[i] else v

    def get(self, column: str, default: Any = None) -> Any:
        """The value of ``column``, or ``default`` if the row holds no such column."""
        layout = self._layout
        i = layout.positions.get(column)
        if i is None:
            return default
        v = self._values[i]
        return _proxy(v) if layout.is_map[i] else v

    def __contains__(self, column: object) -> bool:
        return column in self._layout.positions

    def __iter__(self) -> Iterator[str]:
        return iter(self._layout.columns)

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, Any]:
        """A new ``dict`` of ``column -> value``; map values are new ``dict`` copies."""
        return {
            c: dict(v) if m else v
            for c, v, m in zip(self._layout.columns, self._values, self._layout.is_map,
                               strict=True)
        }

    # ------------------------------------------------------------------ typed access

    def _typed(self, column: str, kind: type[T], what: str) -> T:
        v = self[column]
        if type(v) is not kind:
            raise TypeError(
                f"{self._layout.table}.{column} holds {v!r:.60}, not {what}"
                + ("; use get_optional() for optional columns" if v is None else "")
            )
        return v

    def get_str(self, column: str) -> str:
        """The value of a string column (``TypeError`` if it is not a ``str``)."""
        return self._typed(column, str, "a string")

    def get_int(self, column: str) -> int:
        """The value of an integer column (``TypeError`` if it is not an ``int``)."""
        return self._typed(column, int, "an integer")

    def get_float(self, column: str) -> float:
        """The value of a real column (``TypeError`` if it is not a ``float``)."""
        return self._typed(column, float, "a real")

    def get_bool(self, column: str) -> bool:
        """The value of a boolean column (``TypeError`` if it is not a ``bool``)."""
        return self._typed(column, bool, "a boolean")

    def get_uuid(self, column: str) -> UUID:
        """The value of a uuid (reference) column (``TypeError`` if it is not a UUID)."""
        v = self[column]
        if not isinstance(v, _UUID):
            raise TypeError(f"{self._layout.table}.{column} holds {v!r:.60}, not a UUID"
                            + ("; use get_optional() for optional columns" if v is None else ""))
        return v

    def get_optional(self, column: str, kind: type[T]) -> T | None:
        """The value of an optional column: a ``kind`` instance or ``None`` when empty."""
        v = self[column]
        if v is not None and not isinstance(v, kind):
            raise TypeError(f"{self._layout.table}.{column} holds {v!r:.60}, "
                            f"not {kind.__name__} or None")
        return v

    def get_set(self, column: str) -> frozenset[Any]:
        """The value of a set column (``TypeError`` if it is not a ``frozenset``)."""
        v = self[column]
        if type(v) is not frozenset:
            raise TypeError(f"{self._layout.table}.{column} holds {v!r:.60}, not a set")
        return v

    def get_map(self, column: str) -> Mapping[Any, Any]:
        """The value of a map column, read-only (``TypeError`` if it is not a map)."""
        v = self[column]
        if type(v) is not MappingProxyType:
            raise TypeError(f"{self._layout.table}.{column} holds {v!r:.60}, not a map")
        return v

    # ------------------------------------------------------------------ identity

    def __eq__(self, other: object) -> bool:
        if type(other) is not Row:
            return NotImplemented
        if self is other:
            return True
        a, b = self._layout, other._layout
        return (
            self.uuid == other.uuid
            and self._values == other._values
            and (a is b or (a.table == b.table and a.columns == b.columns))
        )

    def __hash__(self) -> int:
        return hash(self.uuid)

    def __repr__(self) -> str:
        body = ", ".join(f"{c}={v!r}" for c, v in zip(self._layout.columns, self._values,
                                                       strict=True))
        return f"Row({self._layout.table} {self.uuid}: {body})"
