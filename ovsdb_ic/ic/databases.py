"""The vocabulary of an OVN-IC deployment's four databases, defined once.

Every layer above (the IC views, the sync planners, the Kube-OVN planners, the
orchestration in :mod:`ovsdb_ic.sync.session`) names databases, tables, indexes and the
rows it looks up with what this module defines:

* :data:`DatabaseKey` and :data:`DATABASES`: ``"nb"``, ``"sb"``, ``"ic_nb"``,
  ``"ic_sb"`` and their schema names; :data:`LABELS` for messages;
* :class:`Requirements`: what a reader needs replicated (tables and columns) and the
  client indexes its lookups use, with one naming rule for indexes
  (:func:`index_name`), so two readers asking for the same index share it;
* :class:`Snapshot`: the four replicas one planning pass reads;
* row lookups: :func:`find_rows` (through an index over the columns, whatever its
  name, or a scan), :func:`first_row` (a one-row table's row, e.g. ``IC_NB_Global``)
  and :func:`nb_global` (the AZ's ``NB_Global`` row);
* the OVN constants the planners share (:data:`LEARNED_ROUTE_KEY`, :data:`TS_KEY`),
  re-exported from :mod:`ovsdb_ic.constants` where each is defined.

Pure: no I/O, no trio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs

from ovsdb_ic.constants import LEARNED_ROUTE_KEY, TS_KEY
from ovsdb_ic.replica import Index, IndexColumn, Replica, Row, TableView
from ovsdb_ic.wire._attrs import attrs_repr

__all__ = [
    "DATABASES",
    "LABELS",
    "LEARNED_ROUTE_KEY",
    "TS_KEY",
    "DatabaseKey",
    "IndexRequirement",
    "Requirements",
    "Snapshot",
    "empty_snapshot",
    "find_rows",
    "first_row",
    "index_name",
    "index_over",
    "nb_global",
]

DatabaseKey: TypeAlias = Literal["nb", "sb", "ic_nb", "ic_sb"]
"""Which of the four databases: the AZ's NB and SB, IC-NB, IC-SB."""

DATABASES: Final[Mapping[DatabaseKey, str]] = {
    "nb": "OVN_Northbound",
    "sb": "OVN_Southbound",
    "ic_nb": "OVN_IC_Northbound",
    "ic_sb": "OVN_IC_Southbound",
}
"""The schema name of each database key."""

LABELS: Final[Mapping[DatabaseKey, str]] = {
    "nb": "NB", "sb": "SB", "ic_nb": "IC-NB", "ic_sb": "IC-SB",
}
"""How messages name each database."""

IndexRequirement: TypeAlias = tuple[DatabaseKey, str, str, tuple[IndexColumn, ...]]
"""One client index: ``(database key, table, index name, columns)``."""


def index_name(columns: Sequence[IndexColumn]) -> str:
    """The name of the client index over ``columns``: the parts joined with commas, a
    map key part written ``column:key`` (``("other_config", "interconn-ts")`` ->
    ``"other_config:interconn-ts"``), as the schema's own indexes are named."""
    return ",".join(c if isinstance(c, str) else f"{c[0]}:{c[1]}" for c in columns)


@attrs.frozen(repr=False)
class Snapshot:
    """The four replicas a planning pass reads, at one consistent moment.

    Planners only read: they never call ``apply`` or keep references past the call.
    """

    nb: Replica
    sb: Replica
    ic_nb: Replica
    ic_sb: Replica

    def db(self, key: DatabaseKey) -> Replica:
        """The replica of one database."""
        replica: Replica = getattr(self, key)
        return replica

    __repr__ = attrs_repr


@attrs.frozen(repr=False)
class Requirements:
    """What a reader needs: tables (with columns, ``None`` for all) and client indexes.

    The orchestration (:mod:`ovsdb_ic.sync.session`) monitors the union of its
    readers' tables and adds their indexes before the first pass; :func:`empty_snapshot`
    and :meth:`install` do the same for tests. ``indexes`` entries are ``(db, table,
    index name, columns)`` where a column part is a column name or a ``(map column,
    key)`` pair, as :meth:`~ovsdb_ic.replica.Replica.add_index` takes them; build them
    with :meth:`index` so the name follows :func:`index_name`.
    """

    tables: Mapping[DatabaseKey, Mapping[str, tuple[str, ...] | None]] = attrs.field(factory=dict)
    """Per database key: table -> columns to monitor (``None``: all of them)."""
    indexes: tuple[IndexRequirement, ...] = ()
    """The client indexes the lookups use."""

    @staticmethod
    def index(db: DatabaseKey, table: str, *columns: IndexColumn) -> IndexRequirement:
        """One ``indexes`` entry over ``columns``, named by :func:`index_name`."""
        return (db, table, index_name(columns), tuple(columns))

    def __or__(self, other: Requirements) -> Requirements:
        tables: dict[DatabaseKey, dict[str, tuple[str, ...] | None]] = {}
        for req in (self, other):
            for db, ts in req.tables.items():
                out = tables.setdefault(db, {})
                for t, cols in ts.items():
                    if t in out and (out[t] is None or cols is None):
                        out[t] = None
                    elif t in out:
                        prev = out[t]
                        assert prev is not None and cols is not None
                        out[t] = tuple(dict.fromkeys(prev + cols))
                    else:
                        out[t] = cols
        indexes = tuple(dict.fromkeys(self.indexes + other.indexes))
        return Requirements(tables, indexes)

    def tables_for(self, db: DatabaseKey) -> dict[str, tuple[str, ...] | None]:
        """The tables of ``db`` to replicate (pass it to ``client.replicate``)."""
        return dict(self.tables.get(db, {}))

    def indexes_for(self, db: DatabaseKey) -> tuple[IndexRequirement, ...]:
        """The client indexes of ``db``."""
        return tuple(ix for ix in self.indexes if ix[0] == db)

    def install(self, snapshot: Snapshot) -> None:
        """Add the client indexes to the snapshot's replicas (see :meth:`install_on`)."""
        for db in dict.fromkeys(ix[0] for ix in self.indexes):
            self.install_on(snapshot.db(db), db)

    def install_on(self, replica: Replica, db: DatabaseKey) -> list[Index]:
        """Add ``db``'s client indexes to ``replica``; returns the indexes added.

        Idempotent: a table that already has an index over the same columns (under
        any name) keeps it, and tables the replica does not hold are skipped.
        """
        added: list[Index] = []
        for _db, table, name, columns in self.indexes_for(db):
            if table not in replica:
                continue
            if index_over(replica.table(table), columns) is None:
                added.append(replica.add_index(table, name, columns))
        return added

    __repr__ = attrs_repr


_ABSENT: Final = object()


def index_over(view: TableView, columns: Sequence[IndexColumn]) -> Index | None:
    """The index of ``view`` over exactly ``columns`` (client or schema index, under
    whatever name), or ``None``: the one lookup the planners (:func:`find_rows`) and
    the IC views (:class:`~ovsdb_ic.ic.Interconnection`) go through."""
    try:
        return view.index(tuple(columns))
    except KeyError:
        return None


def find_rows(
    replica: Replica, table: str, index: str, columns: Sequence[IndexColumn], key: Any
) -> tuple[Row, ...]:
    """Rows of ``table`` whose ``columns`` equal ``key`` (a tuple for several parts).

    Uses the index called ``index``, or any index over the same columns, and scans
    the table when there is none (a snapshot built without the readers'
    :class:`Requirements`). Sorted by UUID, so callers iterate deterministically.
    """
    view = replica.table(table)
    by = view.indexes.get(index) or index_over(view, columns)
    found = None if by is None else by.find(key)
    if found is None:
        values = (key,) if len(columns) == 1 else tuple(key)
        out = []
        for row in view:
            for part, want in zip(columns, values, strict=True):
                if isinstance(part, str):
                    if row[part] != want:
                        break
                else:
                    column, map_key = part
                    if row[column].get(map_key, _ABSENT) != want:
                        break
            else:
                out.append(row)
        found = tuple(out)
    return tuple(sorted(found, key=lambda r: r.uuid.int))


def first_row(replica: Replica, table: str) -> Row | None:
    """The row of a one-row table such as ``NB_Global`` or ``IC_NB_Global`` (the one
    with the lowest UUID if, against the schema's intent, there are several), or
    ``None``."""
    rows = replica.table(table)
    if not len(rows):
        return None
    return min(rows, key=lambda r: r.uuid.int)


def nb_global(nb: Replica) -> Row | None:
    """The NB database's ``NB_Global`` row (:func:`first_row`), or ``None``."""
    return first_row(nb, "NB_Global")


def empty_snapshot(requirements: Requirements | None = None) -> Snapshot:
    """Four empty replicas of every table, with the schemas of ``schemas/`` (for tests).

    ``requirements`` adds their indexes.
    """
    from ovsdb_ic.models.mapping import model_schema

    snap = Snapshot(**{key: Replica(model_schema(name)) for key, name in DATABASES.items()})
    if requirements is not None:
        requirements.install(snap)
    return snap
