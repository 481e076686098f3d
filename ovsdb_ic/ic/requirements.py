"""What the IC views read: tables, and the client indexes that make their lookups O(1).

:data:`REQUIREMENTS` lists, per database (``"ic_sb"``, ``"ic_nb"``), the tables the
views read (every column) and the client indexes their lookups use. The schema's own
unique indexes (``Availability_Zone.name``, ``Gateway.name``, ``Port_Binding.logical_port``,
the five-column ``Route`` key, ``Datapath_Binding.tunnel_key``, ``Transit_Switch.name``)
are created by every :class:`~ovsdb_ic.replica.Replica` holding those columns, so they
are not listed.

:func:`install_indexes` adds the missing client indexes to a replica; do it before the
first lookup (an index added later is filled from the rows already held, so it is never
wrong, only a one-time cost).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, TypeAlias, final

import attrs

from ovsdb_ic.errors import ConfigError, OvsdbError
from ovsdb_ic.replica import Index, IndexColumn, Replica

__all__ = [
    "DATABASES",
    "REQUIREMENTS",
    "IcDatabase",
    "IcRequirements",
    "IndexRequirement",
    "MissingRequirementError",
    "database_key",
    "install_indexes",
]

IcDatabase: TypeAlias = Literal["ic_nb", "ic_sb"]
"""Which interconnection database: the same keys as the sync layer's ``DatabaseKey``."""

DATABASES: Final[Mapping[IcDatabase, str]] = {
    "ic_nb": "OVN_IC_Northbound",
    "ic_sb": "OVN_IC_Southbound",
}
"""The schema name of each database key."""

IndexRequirement: TypeAlias = tuple[IcDatabase, str, str, tuple[IndexColumn, ...]]
"""One client index: ``(database key, table, index name, columns)``."""


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


@final
@attrs.frozen
class IcRequirements:
    """Tables (``None``: every column) and client indexes, per database key.

    ``indexes`` entries have the shape of the sync layer's ``Requirements.indexes``,
    ``(db, table, name, columns)``, so the two can be merged.
    """

    tables: Mapping[IcDatabase, Mapping[str, tuple[str, ...] | None]]
    """Per database key: table -> columns to monitor (``None``: all of them)."""
    indexes: tuple[IndexRequirement, ...]
    """The client indexes the lookups use."""

    def tables_for(self, db: IcDatabase) -> dict[str, tuple[str, ...] | None]:
        """The tables of ``db`` to replicate (pass it to ``client.replicate``)."""
        return dict(self.tables.get(db, {}))

    def indexes_for(self, db: IcDatabase) -> tuple[IndexRequirement, ...]:
        """The client indexes of ``db``."""
        return tuple(ix for ix in self.indexes if ix[0] == db)


def _ix(db: IcDatabase, table: str, *columns: str) -> IndexRequirement:
    return (db, table, "ic:" + ",".join(columns), tuple(columns))


REQUIREMENTS: Final = IcRequirements(
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
"""What the IC views read: every column of their tables and nine client indexes.

Index names are ``"ic:"`` followed by the columns joined with commas.
"""


def database_key(replica: Replica) -> IcDatabase:
    """``"ic_sb"`` or ``"ic_nb"`` for a replica of that database.

    Raises :class:`~ovsdb_ic.errors.ConfigError` for a replica of another database.
    """
    for key, name in DATABASES.items():
        if replica.schema.name == name:
            return key
    raise ConfigError(
        "replica", replica.schema.name,
        "not a replica of OVN_IC_Southbound or OVN_IC_Northbound",
    )


def install_indexes(
    replica: Replica, requirements: IcRequirements = REQUIREMENTS
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
    added: list[Index] = []
    for _db, table, name, columns in requirements.indexes_for(db):
        if table not in replica:
            continue
        view = replica.table(table)
        try:
            view.index(columns)
            continue
        except KeyError:
            pass
        lacking = [c for c in columns if isinstance(c, str) and c not in view.columns]
        if lacking:
            raise MissingRequirementError(
                replica.schema.name, table,
                f"the replica does not hold column(s) {', '.join(lacking)} needed by index "
                f"{name!r}; replicate the table with all its columns",
            )
        added.append(replica.add_index(table, name, columns))
    return added
