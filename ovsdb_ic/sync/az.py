"""Planner 1: the availability zone's IC-SB ``Availability_Zone`` row.

The AZ name is ``NB_Global.name``. An empty name (or no ``NB_Global`` row) means
the AZ takes no part in interconnection: this planner and every later one return
an empty plan. Otherwise IC-SB must hold ``Availability_Zone{name}``; later
planners wait (return empty plans) until that row exists, so a fresh AZ converges
over two passes.

Renames: the planners are pure and remember nothing, and an IC-SB row whose name
nobody uses any more cannot be told apart from another AZ's row. So a rename is
told to the planner: the runner remembers the name it last acted for (as the C
daemon keeps a static) and passes it as ``previous_name``. When it differs from the
current name the old row is renamed in place (as newer OVN does; the rows that
refer to it follow) or, when the new name is already registered, deleted. When the
name was emptied, the old row is deleted. A deleted AZ row takes this AZ's
``Gateway``, ``Port_Binding`` and ``Route`` rows with it (they refer to it, and
the server refuses to delete a row that is still referred to).

Also here: :func:`az_name` and :func:`local_az` (used by the later planners) and
:func:`~ovsdb_ic.ic.find_rows` (defined in the IC layer, listed here for the planners),
an index lookup that falls back to a scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ovsdb_ic.ic.databases import Requirements, Snapshot, find_rows, nb_global
from ovsdb_ic.replica import Row
from ovsdb_ic.sync.plan import Delete, Insert, Op, Plan, Update

__all__ = [
    "DEPENDENT_TABLES",
    "LOCAL_AZ_REQUIREMENTS",
    "REQUIREMENTS",
    "az_name",
    "find_rows",
    "local_az",
    "plan_az",
    "smap_get_bool",
]

DEPENDENT_TABLES: Final = ("Gateway", "Port_Binding", "Route")
"""IC-SB tables whose rows refer to an ``Availability_Zone`` (strongly)."""

_BY_AZ: Final = "availability_zone"

REQUIREMENTS: Final = Requirements(
    tables={
        "nb": {"NB_Global": ("name",)},
        "ic_sb": {
            "Availability_Zone": ("name",),
            **{t: ("availability_zone",) for t in DEPENDENT_TABLES},
        },
    },
    indexes=tuple(("ic_sb", t, _BY_AZ, ("availability_zone",)) for t in DEPENDENT_TABLES),
)
"""What :func:`plan_az` reads (and :func:`local_az`, which every planner uses)."""

LOCAL_AZ_REQUIREMENTS: Final = Requirements(
    tables={"nb": {"NB_Global": ("name",)}, "ic_sb": {"Availability_Zone": ("name",)}},
)
"""What :func:`local_az` reads: the part of :data:`REQUIREMENTS` the other planners
depend on (not the tables whose rows refer to an AZ, which only :func:`plan_az` reads
to delete an AZ), so a new IC-SB route does not re-run them (their memo key in
:func:`~ovsdb_ic.sync.passes.plan_pass`)."""


def smap_get_bool(smap: Mapping[str, str], key: str, default: bool = False) -> bool:
    """``smap[key]`` as a boolean, as OVS's ``smap_get_bool`` reads it.

    With ``default`` false only ``"true"`` (any case) is true; with ``default``
    true only ``"false"`` (any case) is false.
    """
    value = smap.get(key)
    if value is None:
        return default
    if default:
        return value.lower() != "false"
    return value.lower() == "true"


def _nb_global(snap: Snapshot) -> Row | None:
    return nb_global(snap.nb)


def az_name(snap: Snapshot) -> str:
    """The AZ's name: ``NB_Global.name`` ("" when unset or there is no ``NB_Global``)."""
    row = _nb_global(snap)
    return "" if row is None else str(row["name"])


def local_az(snap: Snapshot) -> Row | None:
    """The IC-SB ``Availability_Zone`` row of this AZ, or ``None`` (not registered yet)."""
    name = az_name(snap)
    if not name:
        return None
    rows = find_rows(snap.ic_sb, "Availability_Zone", "name", ("name",), name)
    return rows[0] if rows else None


def _delete_az(snap: Snapshot, az: Row) -> list[Op]:
    """Delete ``az`` and the rows that refer to it."""
    ops: list[Op] = []
    for table in DEPENDENT_TABLES:
        for row in find_rows(snap.ic_sb, table, _BY_AZ, ("availability_zone",), az.uuid):
            ops.append(Delete("ic_sb", table, row.uuid))
    ops.append(Delete("ic_sb", "Availability_Zone", az.uuid))
    return ops


def plan_az(snap: Snapshot, *, previous_name: str | None = None) -> Plan:
    """Register this AZ in IC-SB; rename or delete the row of ``previous_name``.

    ``previous_name`` is the name the runner last acted for (``None``: unknown, no
    rename handling). See the module documentation for the rules.
    """
    if _nb_global(snap) is None:
        return Plan()
    name = az_name(snap)
    ops: list[Op] = []

    def row_named(n: str) -> Row | None:
        rows = find_rows(snap.ic_sb, "Availability_Zone", "name", ("name",), n)
        return rows[0] if rows else None

    current = row_named(name) if name else None
    if previous_name and previous_name != name:
        old = row_named(previous_name)
        if old is not None:
            if name and current is None:
                ops.append(Update("ic_sb", "Availability_Zone", old.uuid, {"name": name}))
                return Plan(tuple(ops))
            ops.extend(_delete_az(snap, old))
    if name and current is None:
        ops.append(Insert("ic_sb", "Availability_Zone", {"name": name}))
    return Plan(tuple(ops))
