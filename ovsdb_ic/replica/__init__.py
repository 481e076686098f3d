"""A pure in-memory replica of monitored OVSDB tables (no I/O, no trio, no clocks).

* :class:`Replica`: the tables it holds; :meth:`Replica.apply` applies one server
  transaction's :class:`~ovsdb_ic.wire.monitor.RowUpdate` list atomically and returns
  its :class:`Change` events; :meth:`Replica.reset` swaps in a fresh full copy and
  reports the differences; :meth:`Replica.add_index` adds client indexes;
* :class:`TableView`: one table's rows and indexes (``replica.table("Route")``);
* :class:`Row`: a compact immutable row, a read-only mapping ``column -> value``
  sharing one :class:`RowLayout` per table;
* :class:`StagedApply`: a large batch applied in small steps (:meth:`Replica.stage`),
  published at once by :meth:`StagedApply.commit`; :class:`StaleStageError` when the
  replica changed meanwhile; :func:`gc_paused` keeps the cyclic garbage collector
  paused across the steps (and awaits) of such a run;
* :class:`Index`: an O(1) equality index (schema unique indexes, client indexes over
  columns and map keys); :class:`IndexConflictError` when a unique lookup is ambiguous.

See docs/replica.md.
"""

from ovsdb_ic.replica._gc import paused as gc_paused
from ovsdb_ic.replica.indexes import MISSING, Index, IndexColumn, IndexConflictError
from ovsdb_ic.replica.replica import Change, ChangeKind, Replica, RowsView, TableView
from ovsdb_ic.replica.rows import Row, RowLayout
from ovsdb_ic.replica.staged import StagedApply, StagedState, StaleStageError

__all__ = [
    "MISSING",
    "Change",
    "ChangeKind",
    "Index",
    "IndexColumn",
    "IndexConflictError",
    "Replica",
    "Row",
    "RowLayout",
    "RowsView",
    "StagedApply",
    "StagedState",
    "StaleStageError",
    "TableView",
    "gc_paused",
]
