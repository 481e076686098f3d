"""What the IC views read: tables, and the client indexes that make their lookups O(1).

:data:`REQUIREMENTS` (a :class:`~ovsdb_ic.ic.databases.Requirements`, the one type every
reader uses) lists, for ``"ic_sb"`` and ``"ic_nb"``, the tables the views read (every
column) and the client indexes their lookups use, named by
:func:`~ovsdb_ic.ic.databases.index_name` like every other reader's, so a replica shared
with the sync planners holds each index once. The schema's own unique indexes
(``Availability_Zone.name``, ``Gateway.name``, ``Port_Binding.logical_port``, the
five-column ``Route`` key, ``Datapath_Binding.tunnel_key``, ``Transit_Switch.name``) are
created by every :class:`~ovsdb_ic.replica.Replica` holding those columns, so they are
not listed.

:func:`install_indexes` adds the missing client indexes to a replica; do it before the
first lookup (an index added later is filled from the rows already held, so it is never
wrong, only a one-time cost).
"""

from __future__ import annotations

from typing import Final

from ovsdb_ic.errors import ConfigError, OvsdbError
from ovsdb_ic.ic.databases import DATABASES, DatabaseKey, Requirements
from ovsdb_ic.replica import Index, Replica

__all__ = [
    "REQUIREMENTS",
    "MissingRequirementError",
    "database_key",
    "install_indexes",
]


class MissingRequirementError(OvsdbError, LookupError):
    """A replica lacks a table, column or index that an IC view needs.

    ``database`` is the schema name, ``table`` the table, ``reason`` says what is
    missing and how to fix it.
    """

    def __init__(self, database: str, table: str, reason: str) -> None:
        """Describe what ``table`` of ``database`` lacks."""
        super().__init__(f"{database}.{table}: {reason}")
        self.database = database
        self.table = table
        self.reason = reason


_ix = Requirements.index

REQUIREMENTS: Final = Requirements(
    tables={
        "ic_sb": {
            "Availability_Zone": None,
            "Gateway": None,
            "Encap": None,
            "Datapath_Binding": None,
            "Port_Binding": None,
            "Route": None,
        },
        "ic_nb": {"Transit_Switch": None},
    },
    indexes=(
        _ix("ic_sb", "Gateway", "availability_zone"),
        _ix("ic_sb", "Datapath_Binding", "transit_switch"),
        _ix("ic_sb", "Port_Binding", "availability_zone"),
        _ix("ic_sb", "Port_Binding", "transit_switch"),
        _ix("ic_sb", "Port_Binding", "transit_switch", "availability_zone"),
        _ix("ic_sb", "Port_Binding", "availability_zone", "gateway"),
        _ix("ic_sb", "Route", "availability_zone"),
        _ix("ic_sb", "Route", "transit_switch"),
        _ix("ic_sb", "Route", "transit_switch", "availability_zone"),
    ),
)
"""What the IC views read: every column of their tables and nine client indexes."""


def database_key(replica: Replica) -> DatabaseKey:
    """``"ic_sb"`` or ``"ic_nb"`` for a replica of that database.

    Raises :class:`~ovsdb_ic.errors.ConfigError` for a replica of another database.
    """
    for key in ("ic_sb", "ic_nb"):
        if replica.schema.name == DATABASES[key]:
            return key
    raise ConfigError(
        "replica", replica.schema.name,
        "not a replica of OVN_IC_Southbound or OVN_IC_Northbound",
    )


def install_indexes(
    replica: Replica, requirements: Requirements = REQUIREMENTS
) -> list[Index]:
    """Add the client indexes ``requirements`` lists for ``replica``'s database.

    Idempotent: a table that already has an index over the same columns (under any
    name, for example one a sync planner installed) keeps it. Tables the replica
    does not hold are skipped (lookups that need them raise
    :class:`MissingRequirementError`). Returns the indexes added.
    Raises :class:`MissingRequirementError` when a held table lacks an indexed column,
    and :class:`~ovsdb_ic.errors.ConfigError` for a replica of another database.
    """
    db = database_key(replica)
    for _db, table, name, columns in requirements.indexes_for(db):
        if table not in replica:
            continue
        view = replica.table(table)
        lacking = [c for c in columns if isinstance(c, str) and c not in view.columns]
        if lacking:
            raise MissingRequirementError(
                replica.schema.name, table,
                f"the replica does not hold column(s) {', '.join(lacking)} needed by index "
                f"{name!r}; replicate the table with all its columns",
            )
    return requirements.install_on(replica, db)
