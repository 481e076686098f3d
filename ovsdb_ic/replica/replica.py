"""The replica: monitored tables kept in memory, indexed, changed one transaction at a time.

:class:`Replica` holds, for each monitored table, its rows (compact immutable
:class:`~ovsdb_ic.replica.rows.Row` objects), the schema's unique indexes, and any
client index added with :meth:`Replica.add_index`. :meth:`Replica.apply` takes the
:class:`~ovsdb_ic.wire.monitor.RowUpdate` list of one server transaction (one
``update``/``update2``/``update3`` notification, or a monitor reply) and applies all
of it, or, when the updates do not fit the replica (a modify or delete of a row it
does not have, an insert of a row it already has), none of it. It returns the
:class:`Change` events of that transaction.

Pure: no I/O, no clocks, no concurrency. The trio client feeds it and turns its
changes into channel messages.
"""

from __future__ import annotations

from collections import deque as _consume
from collections.abc import Iterable, Iterator, Mapping, Sequence, ValuesView
from itertools import groupby, repeat
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias, final
from uuid import UUID

from ovsdb_ic.errors import DataError, LocalProtocolError, RemoteProtocolError
from ovsdb_ic.replica import _gc
from ovsdb_ic.replica._intern import Interner
from ovsdb_ic.replica.indexes import Index, IndexColumn
from ovsdb_ic.replica.rows import Row, RowLayout, _make_row
from ovsdb_ic.wire.data import parse_uuid
from ovsdb_ic.wire.monitor import MonitorRequest, RowUpdate
from ovsdb_ic.wire.schema import DatabaseSchema, TableSchema

if TYPE_CHECKING:
    from ovsdb_ic.replica.staged import StagedApply

__all__ = ["Change", "ChangeKind", "Replica", "RowsView", "TableView"]

ChangeKind: TypeAlias = Literal["insert", "modify", "delete"]
"""What happened to a row."""

_UUID = UUID
_new_tuple = tuple.__new__
_new_row = object.__new__
_set = object.__setattr__

_UNSEEN: Any = object()

_BIG_BATCH: Final = 2000
"""Updates from which apply/reset pause the cyclic GC (see ``_gc``)."""


@final
class _Stage:
    """The rows of one table a transaction touches, before they are committed.

    ``origs``: each touched row as it was (``None``: absent); ``news``: as it will
    be; ``initial``: keys inserted by ``initial`` updates.
    """

    __slots__ = ("initial", "news", "origs", "view")

    def __init__(self, view: TableView) -> None:
        self.view = view
        self.origs: dict[int, Row | None] = {}
        self.news: dict[int, Row | None] = {}
        self.initial: set[int] = set()


class Change(NamedTuple):
    """One row's net change in one applied transaction.

    ``kind`` is ``"insert"`` (``old`` is ``None``), ``"modify"`` (both set, and
    different) or ``"delete"`` (``new`` is ``None``). Rows of an initial copy (a
    monitor reply's ``initial`` rows) are inserts with ``initial`` true, so code
    that only cares about contents handles one kind; rows inserted by
    :meth:`Replica.reset` are ordinary inserts (``initial`` false).
    """

    table: str
    kind: ChangeKind
    uuid: UUID
    old: Row | None
    new: Row | None
    initial: bool = False

    @property
    def row(self) -> Row:
        """The row after the change, or before it for a delete."""
        row = self.new if self.new is not None else self.old
        assert row is not None
        return row

    def changed_columns(self) -> frozenset[str]:
        """The columns whose values differ between ``old`` and ``new``.

        All columns for inserts and deletes.
        """
        if self.old is None or self.new is None:
            return frozenset(self.row.columns)
        return frozenset(
            c for c, a, b in zip(self.new.columns, self.old._values, self.new._values,
                                 strict=True)
            if a != b
        )


@final
class RowsView(Mapping[UUID, Row]):
    """A live read-only mapping ``uuid -> Row`` of one table."""

    __slots__ = ("_rows",)

    def __init__(self, rows: dict[int, Row]) -> None:
        """A view of ``rows`` (keyed by ``uuid.int``)."""
        self._rows = rows

    def __getitem__(self, key: UUID) -> Row:
        try:
            return self._rows[key.int]
        except (KeyError, AttributeError):
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, _UUID) and key.int in self._rows

    def __iter__(self) -> Iterator[UUID]:
        return (r.uuid for r in self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)

    def values(self) -> ValuesView[Row]:
        """The rows (a live view)."""
        return self._rows.values()


def _as_int(key: UUID | str) -> int:
    if type(key) is _UUID or isinstance(key, _UUID):
        return key.int
    return parse_uuid(key).int


@final
class TableView:
    """One table of a :class:`Replica`: its rows and indexes (a live, read-only view).

    ``len(table)``, iteration over rows, ``uuid in table``, :meth:`get`,
    :attr:`rows`, :meth:`index`, :meth:`lookup` and :meth:`lookup_one`. Views and
    their rows change only inside :meth:`Replica.apply` (and ``reset``/``clear``).
    """

    __slots__ = ("_by_columns", "_indexes", "_interner", "_layout", "_rows", "_version")

    def __init__(self, layout: RowLayout, *, share_strings: bool = True) -> None:
        """An empty table of ``layout``, with the schema's unique indexes it can hold.

        A schema index naming a column the replica does not hold is left out.
        ``share_strings``: see :class:`Replica`.
        """
        self._layout = layout
        self._rows: dict[int, Row] = {}
        self._indexes: dict[str, Index] = {}
        self._by_columns: dict[tuple[IndexColumn, ...], Index] = {}
        self._version = 0
        self._interner = Interner(layout.schema, layout.columns)
        if not share_strings:
            self._interner.active = False
        for cols in layout.schema.indexes:
            if all(c in layout.positions for c in cols):
                self._add_index(Index(layout, ",".join(cols), cols, unique=True,
                                      from_schema=True))

    @property
    def name(self) -> str:
        """The table's name."""
        return self._layout.table

    @property
    def schema(self) -> TableSchema:
        """The table's schema."""
        return self._layout.schema

    @property
    def layout(self) -> RowLayout:
        """The column layout its rows share."""
        return self._layout

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns its rows hold."""
        return self._layout.columns

    @property
    def version(self) -> int:
        """Bumped each time a transaction changes this table."""
        return self._version

    @property
    def rows(self) -> RowsView:
        """A live read-only mapping ``uuid -> Row``."""
        return RowsView(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows.values())

    def __contains__(self, key: object) -> bool:
        if isinstance(key, _UUID):
            return key.int in self._rows
        try:
            return isinstance(key, str) and parse_uuid(key).int in self._rows
        except DataError:
            return False

    def get(self, key: UUID | str) -> Row | None:
        """The row with UUID ``key`` (a ``UUID`` or its text), or ``None``."""
        return self._rows.get(_as_int(key))

    def __getitem__(self, key: UUID | str) -> Row:
        row = self._rows.get(_as_int(key))
        if row is None:
            raise KeyError(f"{self.name} has no row {key}")
        return row

    # ------------------------------------------------------------------ indexes

    @property
    def indexes(self) -> Mapping[str, Index]:
        """The table's indexes by name (schema indexes are named ``"col1,col2"``)."""
        return MappingProxyType(self._indexes)

    def index(self, name: str | Sequence[IndexColumn]) -> Index:
        """The index called ``name``, or the one over the columns ``name`` lists.

        ``table.index("by_lr")``, ``table.index(("name",))``; raises ``KeyError``.
        """
        if isinstance(name, str):
            found = self._indexes.get(name)
        else:
            found = self._by_columns.get(tuple(name))
        if found is None:
            raise KeyError(f"{self.name} has no index {name!r} "
                           f"(indexes: {', '.join(self._indexes) or 'none'})")
        return found

    def lookup(self, index: str | Sequence[IndexColumn], *values: Any) -> tuple[Row, ...]:
        """All rows whose key in ``index`` is ``values`` (one value per key part)."""
        return self.index(index).find(values[0] if len(values) == 1 else values)

    def lookup_one(self, index: str | Sequence[IndexColumn], *values: Any) -> Row | None:
        """The row whose key in ``index`` is ``values``, or ``None``.

        Raises :class:`~ovsdb_ic.replica.IndexConflictError` if several rows match.
        """
        return self.index(index).get(values[0] if len(values) == 1 else values)

    def _add_index(self, index: Index) -> None:
        if index.name in self._indexes:
            raise LocalProtocolError(f"{self.name} already has an index named {index.name!r}")
        index._fill(iter(self._rows.values()))
        self._indexes[index.name] = index
        self._by_columns.setdefault(index.columns, index)

    def __repr__(self) -> str:
        return f"<TableView {self.name}: {len(self)} rows, indexes {list(self._indexes)}>"


@final
class Replica:
    """An in-memory replica of some tables of one database.

    ``tables`` names the tables to hold, each with the columns to hold (``None``
    for all of them); by default every table with every column. Feed it with
    :meth:`apply` (one call per server transaction), resynchronise it with
    :meth:`reset`; read it through :meth:`table`.
    """

    __slots__ = ("_tables", "_txn_count", "_version", "schema")

    schema: DatabaseSchema
    """The database schema the replica follows."""

    def __init__(
        self,
        schema: DatabaseSchema,
        tables: Mapping[str, Sequence[str] | None] | None = None,
        *,
        share_strings: bool = True,
    ) -> None:
        """Hold ``tables`` of ``schema`` (default: all tables, all columns).

        With ``share_strings`` (the default) rows share equal strings of columns
        whose values repeat (names, origins, map keys, ...), which saves about a
        third of a ``Route`` row's memory for a little CPU time per row.
        Raises :class:`~ovsdb_ic.errors.LocalProtocolError` for an unknown table
        or column.
        """
        if tables is None:
            tables = dict.fromkeys(schema.tables)
        self.schema = schema
        self._tables: dict[str, TableView] = {}
        for name, columns in tables.items():
            ts = schema.tables.get(name)
            if ts is None:
                raise LocalProtocolError(f"database {schema.name} has no table {name!r}")
            self._tables[name] = TableView(RowLayout(ts, columns), share_strings=share_strings)
        self._version = 0
        self._txn_count = 0

    # ------------------------------------------------------------------ reading

    @property
    def tables(self) -> Mapping[str, TableView]:
        """The held tables by name."""
        return MappingProxyType(self._tables)

    def table(self, name: str) -> TableView:
        """The held table ``name`` (``KeyError`` if the replica does not hold it)."""
        try:
            return self._tables[name]
        except KeyError:
            raise KeyError(f"the replica holds no table {name!r} "
                           f"(tables: {', '.join(self._tables)})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tables

    @property
    def version(self) -> int:
        """Bumped by every :meth:`apply`, :meth:`reset` or :meth:`clear` that changed a row.

        Compare it with a remembered value to know whether anything changed.
        """
        return self._version

    @property
    def txn_count(self) -> int:
        """How many transactions :meth:`apply` (and copies :meth:`reset`) applied."""
        return self._txn_count

    @property
    def columns(self) -> Mapping[str, tuple[str, ...]]:
        """The held columns per table: pass it as ``columns=`` to the update decoders."""
        return {name: t.columns for name, t in self._tables.items()}

    def monitor_requests(self) -> list[MonitorRequest]:
        """One :class:`~ovsdb_ic.wire.monitor.MonitorRequest` per held table and its columns."""
        return [MonitorRequest(name, columns=t.columns) for name, t in self._tables.items()]

    # ------------------------------------------------------------------ indexes

    def add_index(
        self,
        table: str,
        name: str,
        columns: str | Sequence[IndexColumn],
        *,
        unique: bool = False,
    ) -> Index:
        """Add an index called ``name`` over ``columns`` of ``table`` and fill it.

        A column part is a column name or a ``(map column, key)`` pair: rows are
        then indexed by ``row[column][key]``, and rows without the key are left
        out. A single column may be given as a plain string. With ``unique``,
        :meth:`Index.get` promises one row per key; keys the data does not keep
        unique are reported in :attr:`Index.conflicts` (never refused: the server
        owns the data) and looking one up raises ``IndexConflictError``.
        """
        view = self.table(table)
        cols: Sequence[IndexColumn] = (columns,) if isinstance(columns, str) else columns
        index = Index(view._layout, name, cols, unique=unique)
        view._add_index(index)
        return index

    def remove_index(self, table: str, name: str) -> None:
        """Drop the client index ``name`` of ``table`` (schema indexes stay)."""
        view = self.table(table)
        index = view.index(name)
        if index.from_schema:
            raise LocalProtocolError(f"index {name!r} of {table} comes from the schema")
        del view._indexes[name]
        if view._by_columns.get(index.columns) is index:
            del view._by_columns[index.columns]
            for other in view._indexes.values():
                view._by_columns.setdefault(other.columns, other)

    # ------------------------------------------------------------------ changing

    def apply(self, updates: Sequence[RowUpdate]) -> list[Change]:
        """Apply the updates of one server transaction, all or nothing.

        Returns the net change of every row the transaction touched (a row
        inserted and modified by it is one insert; modifies that change nothing
        are dropped). Raises :class:`~ovsdb_ic.errors.RemoteProtocolError` and
        leaves the replica unchanged when an update names a table the replica
        does not hold, modifies or deletes a row it does not have, or inserts a
        row it already has. The values of the updates become the rows' values:
        do not mutate them afterwards. The updates of several consecutive
        transactions, in order, may be applied in one call (``LiveReplica`` does so
        with those already queued): the replica then moves to the state after the
        last one, and the changes are each row's net change over all of them.

        A large transaction is applied in one go; :meth:`stage` applies it in
        steps instead, for callers that must stay responsive meanwhile.
        """
        if len(updates) >= _BIG_BATCH:
            with _gc.paused(promote=True):
                return self._apply(updates)
        return self._apply(updates)

    def _apply(self, updates: Sequence[RowUpdate]) -> list[Change]:
        stages: dict[str, _Stage] = {}
        _stage_updates(self._tables, stages, updates)
        changes = self._commit(stages.values())
        self._txn_count += 1
        return changes

    def stage(
        self, updates: Sequence[RowUpdate], *, initial: bool = False, consume: bool = False
    ) -> StagedApply:
        """Prepare ``updates`` for applying in steps; see :class:`StagedApply`.

        With ``initial`` false the updates are one server transaction, as for
        :meth:`apply`; with ``initial`` true they are a complete copy, as for
        :meth:`reset`. Nothing changes until :meth:`StagedApply.commit`, which
        returns exactly the changes that :meth:`apply` (or :meth:`reset`) would
        have returned, and leaves the replica exactly as they would have.

        With ``consume`` true, ``updates`` must be a ``list`` that the caller
        gives up: the steps of a full copy replace its entries with ``None`` once
        their rows are built, so the decoded updates are freed while the replica
        is built instead of all at the end (a lower peak of memory). Only do this
        with a list nothing else reads.
        """
        from ovsdb_ic.replica.staged import StagedApply

        if consume and type(updates) is not list:
            raise TypeError("stage(consume=True) needs a list of updates, "
                            f"not {type(updates).__name__}")
        return StagedApply(self, updates, initial=initial, consume=consume)

    def reset(self, updates: Sequence[RowUpdate]) -> list[Change]:
        """Replace the contents with a fresh full copy; return the differences.

        ``updates`` is a complete initial copy of the held tables (what
        ``monitor_cond_since`` sends with ``found`` false, or a new ``monitor_cond``
        reply): only ``initial``/``insert`` updates, each row once. Held tables it
        does not mention become empty. The returned changes are ordinary inserts,
        modifies and deletes turning the old contents into the new ones; rows that
        did not change are kept (the same objects) and not reported. All or
        nothing, like :meth:`apply`.
        """
        if len(updates) >= _BIG_BATCH:
            with _gc.paused(promote=True):
                return self._reset(updates)
        return self._reset(updates)

    def _reset(self, updates: Sequence[RowUpdate]) -> list[Change]:
        tables = self._tables
        fresh: dict[str, dict[int, Row]] = {name: {} for name in tables}
        for u in updates:
            view = tables.get(u.table)
            if view is None:
                raise RemoteProtocolError(
                    f"update names table {u.table!r}, which the replica does not hold"
                )
            if u.kind not in ("initial", "insert") or u.new is None:
                raise RemoteProtocolError(
                    f"a full copy holds only initial rows, not a {u.kind} of {u.table} {u.uuid}"
                )
            target = fresh[u.table]
            key = u.uuid.int
            if key in target:
                raise RemoteProtocolError(f"a full copy holds {u.table} row {u.uuid} twice")
            target[key] = _build(view, u.uuid, u.new)
        stages: list[_Stage] = []
        for name, view in tables.items():
            st = _Stage(view)
            new_rows, rows = fresh[name], view._rows
            for key, new in new_rows.items():
                old = rows.get(key)
                if old is None or old._values != new._values:
                    st.origs[key] = old
                    st.news[key] = new
            for key, old in rows.items():
                if key not in new_rows:
                    st.origs[key] = old
                    st.news[key] = None
            stages.append(st)
        changes = self._commit(stages)
        self._txn_count += 1
        return changes

    def clear(self) -> list[Change]:
        """Empty every table (indexes stay, empty); return a delete per row."""
        stages = []
        for view in self._tables.values():
            st = _Stage(view)
            st.origs = dict(view._rows)
            st.news = dict.fromkeys(view._rows)
            stages.append(st)
        return self._commit(stages)

    def _commit(self, stages: Iterable[_Stage]) -> list[Change]:
        """Turn staged rows into changes and apply them (nothing fails once mutating)."""
        changes: list[Change] = []
        plans = [plan for st in stages if (plan := _prepare(st, changes)) is not None]
        self._publish(plans, changes)
        return changes

    def _publish(self, plans: Sequence[_Plan], changes: Sequence[Change],
                 *, late_indexes: bool = False) -> None:
        """Apply prepared plans: rows, then indexes (nothing can fail once mutating).

        With ``late_indexes`` (a staged apply), indexes added since the plans were
        made are planned first and indexes removed meanwhile are skipped.
        """
        if late_indexes:
            for plan in plans:
                planned = {id(ix) for ix, _, _ in plan.keyed}
                planned.update(id(ix) for ix, _, _, _ in plan.built)
                for ix in plan.view._indexes.values():
                    if id(ix) not in planned:
                        oks, nks = ix._plan(plan.olds, plan.news)
                        plan.keyed.append((ix, oks, nks))
        for plan in plans:
            view = plan.view
            rows = view._rows
            if plan.bulk is not None:
                rows.update(plan.bulk)
            else:
                for old, new in zip(plan.olds, plan.news, strict=True):
                    if new is None:
                        assert old is not None
                        del rows[old.uuid.int]
                    else:
                        rows[new.uuid.int] = new
            indexes = view._indexes
            for ix, oks, nks in plan.keyed:
                if not late_indexes or indexes.get(ix.name) is ix:
                    ix._commit(plan.olds, plan.news, oks, nks)
            for ix, built, conflicts, _ in plan.built:
                if indexes.get(ix.name) is ix:
                    ix._swap_in(built, conflicts)
            view._version += 1
        if changes:
            self._version += 1

    def __repr__(self) -> str:
        body = ", ".join(f"{n}: {len(t)}" for n, t in self._tables.items())
        return f"<Replica {self.schema.name} version {self._version}: {body}>"


@final
class _Plan:
    """One table's prepared changes: rows before/after and the index keys of both.

    ``keyed``: (index, old keys, new keys) for :meth:`Index._commit`; ``built``:
    (index, map, conflicts, new keys) built beforehand for an index that was empty
    (a staged initial copy); ``bulk``: the new rows by key when they are all
    inserts into an empty table.
    """

    __slots__ = ("built", "bulk", "keyed", "news", "olds", "view")

    def __init__(self, view: TableView, olds: list[Row | None], news: list[Row | None]) -> None:
        self.view = view
        self.olds = olds
        self.news = news
        self.keyed: list[tuple[Index, list[Any], list[Any]]] = []
        self.built: list[tuple[Index, dict[Any, Any], set[Any], list[Any]]] = []
        self.bulk: dict[int, Row] | None = None


def _prepare(st: _Stage, changes: list[Change]) -> _Plan | None:
    """Add the net changes of ``st`` to ``changes``; its plan (``None``: no change)."""
    name = st.view.name
    origs, initial = st.origs, st.initial
    olds: list[Row | None] = []
    news: list[Row | None] = []
    add_old, add_new, add_change = olds.append, news.append, changes.append
    for key, new in st.news.items():
        orig = origs[key]
        if new is None:
            if orig is None:
                continue
            add_change(_new_tuple(Change, (name, "delete", orig.uuid, orig, None, False)))
        elif orig is None:
            add_change(_new_tuple(Change, (name, "insert", new.uuid, None, new,
                                           key in initial)))
        elif orig._values == new._values:
            continue
        else:
            add_change(_new_tuple(Change, (name, "modify", new.uuid, orig, new, False)))
        add_old(orig)
        add_new(new)
    if not news:
        return None
    plan = _Plan(st.view, olds, news)
    # Index keys are computed (and hashed) before anything changes.
    plan.keyed = [(ix, *ix._plan(olds, news)) for ix in st.view._indexes.values()]
    return plan


def _stage_updates(
    tables: Mapping[str, TableView], stages: dict[str, _Stage], updates: Iterable[RowUpdate]
) -> None:
    """Stage the rows ``updates`` touch (one transaction's, or a slice of it) into ``stages``.

    Raises :class:`~ovsdb_ic.errors.RemoteProtocolError` for an update that does
    not fit; the replica itself is never changed here. A run of at least
    :data:`_RUN_MIN` inserts of new rows into one table (the echo of a big
    transaction) is built a column at a time (:func:`_stage_inserts`); the result is
    the same.
    """
    if type(updates) not in _SEQUENCES or len(updates) < _RUN_MIN:  # type: ignore[arg-type]
        _stage_each(tables, stages, updates)
        return
    for table, group in groupby(updates, _table_of):
        run = list(group)
        if len(run) < _RUN_MIN or not _stage_inserts(tables, stages, table, run):
            _stage_each(tables, stages, run)


_RUN_MIN: Final = 64
"""Inserts of one table in a row from which :func:`_stage_updates` builds them a column
at a time."""
_INSERT_KINDS: Final = frozenset({"initial", "insert"})
_SEQUENCES: Final = (list, tuple)  # a monitor's UpdateBatch holds a tuple
_table_of = itemgetter(0)
_uuid_of = itemgetter(1)
_kind_of = itemgetter(2)
_new_of = itemgetter(3)
_int_of = attrgetter("int")
# Setters of Row's slots, for filling many rows with C-level loops.
_set_uuid = Row.__dict__["uuid"].__set__
_set_layout = Row.__dict__["_layout"].__set__
_set_values = Row.__dict__["_values"].__set__


def _stage_inserts(tables: Mapping[str, TableView], stages: dict[str, _Stage], table: str,
                   run: list[RowUpdate]) -> bool:
    """Stage ``run`` (updates of ``table``) when all are inserts of rows that neither the
    table nor the stage holds, each once; False (nothing staged) otherwise."""
    view = tables.get(table)
    if view is None or not _INSERT_KINDS.issuperset(map(_kind_of, run)):
        return False
    fulls = list(map(_new_of, run))
    if None in fulls:
        return False
    keys = list(map(_int_of, map(_uuid_of, run)))
    st = stages.get(table)
    if (len(set(keys)) != len(keys) or not view._rows.keys().isdisjoint(keys)
            or (st is not None and not st.news.keys().isdisjoint(keys))):
        return False
    if st is None:
        st = stages[table] = _Stage(view)
    st.origs.update(dict.fromkeys(keys))
    st.news.update(zip(keys, _rows_of(view, run, fulls), strict=True))
    st.initial.update(key for key, u in zip(keys, run, strict=True) if u.kind == "initial")
    return True


def _rows_of(view: TableView, run: Sequence[RowUpdate], fulls: list[Mapping[str, Any]],
             owned: bool = False) -> list[Row]:
    """The rows of ``view`` built from the full rows ``fulls`` of ``run``, column by column.

    One C-level pass per column extracts its values and shares its strings (see
    ``_intern``), then the value tuples are zipped into rows. ``owned``: the updates
    are given up, their maps may be kept (:meth:`Interner.columns`).
    """
    layout = view._layout
    cols: list[list[Any]] = []
    for column, default in zip(layout.columns, layout.defaults, strict=True):
        try:
            cols.append(list(map(itemgetter(column), fulls)))
        except KeyError:
            cols.append([full.get(column, default) for full in fulls])
    if view._interner.active:
        view._interner.columns(cols, owned=owned)
    values = zip(*cols, strict=True) if cols else repeat((), len(run))
    # Rows made and filled by C-level loops (a third faster than one Python loop).
    rows: list[Row] = list(map(_new_row, repeat(Row, len(run))))
    _consume(map(_set_uuid, rows, map(_uuid_of, run)), maxlen=0)
    _consume(map(_set_layout, rows, repeat(layout)), maxlen=0)
    _consume(map(_set_values, rows, values), maxlen=0)
    return rows


def _stage_each(
    tables: Mapping[str, TableView], stages: dict[str, _Stage], updates: Iterable[RowUpdate]
) -> None:
    """:func:`_stage_updates`, update by update."""
    last: str | None = None
    st: _Stage | None = None
    rows: dict[int, Row] = {}
    origs: dict[int, Row | None] = {}
    news: dict[int, Row | None] = {}
    layout: RowLayout | None = None
    interner: Interner | None = None
    unseen = _UNSEEN
    for u in updates:
        table = u.table
        if table != last:
            st = stages.get(table)
            if st is None:
                view = tables.get(table)
                if view is None:
                    raise RemoteProtocolError(
                        f"update names table {table!r}, which the replica does not hold"
                    )
                st = stages[table] = _Stage(view)
            rows, layout, last = st.view._rows, st.view._layout, table
            interner = st.view._interner
            origs, news = st.origs, st.news
        assert st is not None and layout is not None and interner is not None
        u_uuid = u.uuid
        key = u_uuid.int
        cur = news.get(key, unseen)
        if cur is unseen:
            cur = origs[key] = rows.get(key)
        kind = u.kind
        if kind == "initial" or kind == "insert":
            if cur is not None:
                raise RemoteProtocolError(
                    f"{kind} of {table} row {u_uuid}, which the replica already has"
                )
            full = u.new
            if full is None:
                raise RemoteProtocolError(f"{kind} of {table} row {u_uuid} without a row")
            # _build and _make_row, inlined: this is the initial copy's hot path.
            try:
                vals = tuple(map(full.__getitem__, layout.columns))
            except KeyError:
                vals = _with_defaults(layout, full)
            if interner.active:
                vals = interner.values(vals)
            row = _new_row(Row)
            _set(row, "uuid", u_uuid)
            _set(row, "_layout", layout)
            _set(row, "_values", vals)
            news[key] = row
            if kind == "initial":
                st.initial.add(key)
        elif kind == "modify":
            if cur is None:
                raise RemoteProtocolError(
                    f"modify of {table} row {u_uuid}, which the replica does not have"
                )
            assert type(cur) is Row
            if u.diff is not None:
                news[key] = _patch(st.view, cur, u.diff)
            elif u.new is not None:
                news[key] = _build(st.view, u_uuid, u.new)
            else:
                raise RemoteProtocolError(
                    f"modify of {table} row {u_uuid} carries neither a diff nor a new row"
                )
        elif kind == "delete":
            if cur is None:
                raise RemoteProtocolError(
                    f"delete of {table} row {u_uuid}, which the replica does not have"
                )
            news[key] = None
        else:
            raise RemoteProtocolError(f"unknown update kind {kind!r} for {table} {u_uuid}")


def _with_defaults(layout: RowLayout, values: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values of ``layout``'s columns in ``values``, defaults for those missing."""
    return tuple(values.get(c, d) for c, d in zip(layout.columns, layout.defaults, strict=True))


def _build(view: TableView, row_uuid: UUID, values: Mapping[str, Any]) -> Row:
    """A row of ``view`` from a decoded full row; missing columns get their defaults."""
    layout = view._layout
    try:
        vals = tuple(map(values.__getitem__, layout.columns))
    except KeyError:
        vals = _with_defaults(layout, values)
    if view._interner.active:
        vals = view._interner.values(vals)
    return _make_row(layout, row_uuid, vals)


def _patch(view: TableView, row: Row, diff: Mapping[str, Any]) -> Row:
    """``row`` with an ``update2`` diff applied (columns the layout lacks are ignored)."""
    layout = view._layout
    vals = list(row._values)
    positions, appliers = layout.positions, layout.appliers
    changed: list[int] = []
    for col, d in diff.items():
        i = positions.get(col)
        if i is not None:
            vals[i] = appliers[i](vals[i], d)
            changed.append(i)
    if not changed:
        return row
    # Only the changed values need sharing: the others were shared when the row was built.
    interner = view._interner
    if interner.active:
        interner.values_at(vals, changed)
    return _make_row(layout, row.uuid, tuple(vals))
