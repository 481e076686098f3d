"""Plans: what a sync pass wants written, as plain data (no I/O, no trio).

A planner reads a :class:`~ovsdb_ic.ic.databases.Snapshot` (replicas of the AZ's NB
and SB and of IC-NB and IC-SB) and returns a :class:`Plan`: a tuple of operations,
each naming the database it is for. Values use the Python forms of
:mod:`ovsdb_ic.wire.data` (``frozenset`` for sets, ``dict`` for maps,
:class:`uuid.UUID` for references) and may refer to a row inserted by the same plan,
in the same database, through :class:`~ovsdb_ic.wire.data.NamedUUID`.

:func:`simulate` applies a plan to a snapshot's replicas the way ovsdb-server would
commit it (fresh UUIDs, named references resolved, set and map mutations, weak
references to deleted rows dropped, unreferenced rows of non-root tables collected).
It exists for the planners' property tests ("apply the plan, plan again, nothing left
to do"); the runner commits plans to real servers.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeAlias

import attrs

from ovsdb_ic.errors import OvsdbError
from ovsdb_ic.ic.databases import DatabaseKey, Snapshot
from ovsdb_ic.replica import Replica, Row
from ovsdb_ic.wire._attrs import attrs_repr
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.monitor import RowUpdate
from ovsdb_ic.wire.schema import ColumnType, DatabaseSchema

__all__ = [
    "Delete",
    "Insert",
    "Mutate",
    "Op",
    "Plan",
    "PlanError",
    "Update",
    "simulate",
]


class PlanError(OvsdbError, ValueError):
    """A plan that cannot be applied (unknown row, unresolved named UUID, bad value)."""


def _fmt(value: Any) -> str:
    if isinstance(value, frozenset | set):
        return "[" + ", ".join(sorted(_fmt(v) for v in value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_fmt(k)}={_fmt(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, NamedUUID):
        return f"@{value.name}"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _fmt_values(values: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in sorted(values.items()))


@attrs.frozen(hash=False, repr=False)
class Insert:
    """Insert a row into ``db``'s ``table``; ``name`` lets other ops refer to it."""

    db: DatabaseKey
    table: str
    values: Mapping[str, Any]
    name: str | None = None

    def describe(self) -> str:
        """One human-readable line (dry-run output)."""
        named = f" as @{self.name}" if self.name else ""
        return f"{self.db}: insert {self.table}{named} {_fmt_values(self.values)}"

    __repr__ = attrs_repr


@attrs.frozen(hash=False, repr=False)
class Update:
    """Set ``values`` (whole column values) on one row."""

    db: DatabaseKey
    table: str
    uuid: uuid.UUID
    values: Mapping[str, Any]

    def describe(self) -> str:
        """One human-readable line (dry-run output)."""
        return f"{self.db}: update {self.table} {self.uuid} {_fmt_values(self.values)}"

    __repr__ = attrs_repr


@attrs.frozen(hash=False, repr=False)
class Mutate:
    """Add to or remove from a set or map column of one row.

    For a set column ``insert`` and ``delete`` are sets of atoms. For a map column
    ``insert`` is a mapping (keys already present keep their value, as OVSDB's
    ``insert`` mutator does) and ``delete`` a set of keys.
    """

    db: DatabaseKey
    table: str
    uuid: uuid.UUID
    column: str
    insert: frozenset[Any] | Mapping[Any, Any] = frozenset()
    delete: frozenset[Any] = frozenset()

    def describe(self) -> str:
        """One human-readable line (dry-run output)."""
        parts = []
        if self.insert:
            parts.append(f"+{_fmt(self.insert)}")
        if self.delete:
            parts.append(f"-{_fmt(self.delete)}")
        return f"{self.db}: mutate {self.table} {self.uuid} {self.column} {' '.join(parts)}"

    __repr__ = attrs_repr


@attrs.frozen(repr=False)
class Delete:
    """Delete one row."""

    db: DatabaseKey
    table: str
    uuid: uuid.UUID

    def describe(self) -> str:
        """One human-readable line (dry-run output)."""
        return f"{self.db}: delete {self.table} {self.uuid}"

    __repr__ = attrs_repr


Op: TypeAlias = Insert | Update | Mutate | Delete
"""One planned operation."""


@attrs.frozen(repr=False)
class Plan:
    """An ordered tuple of operations; empty when there is nothing to do."""

    ops: tuple[Op, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __add__(self, other: Plan) -> Plan:
        return Plan(self.ops + other.ops)

    def for_db(self, db: DatabaseKey) -> tuple[Op, ...]:
        """The operations for one database, in order."""
        return tuple(op for op in self.ops if op.db == db)

    def databases(self) -> tuple[DatabaseKey, ...]:
        """The databases the plan writes to, in the order of their first operation."""
        seen: dict[DatabaseKey, None] = {}
        for op in self.ops:
            seen.setdefault(op.db, None)
        return tuple(seen)

    def describe(self) -> list[str]:
        """One line per operation (what ``--dry-run`` prints)."""
        return [op.describe() for op in self.ops]

    __repr__ = attrs_repr


# ---------------------------------------------------------------------------- simulate


def _resolve(value: Any, names: Mapping[str, uuid.UUID]) -> Any:
    if isinstance(value, NamedUUID):
        try:
            return names[value.name]
        except KeyError:
            raise PlanError(f"named uuid @{value.name} is not inserted by the plan") from None
    if isinstance(value, frozenset | set):
        return frozenset(_resolve(v, names) for v in value)
    if isinstance(value, Mapping):
        return {_resolve(k, names): _resolve(v, names) for k, v in value.items()}
    return value


def _check_count(ctype: ColumnType, value: Any, op: Mutate, step: str) -> None:
    """The server checks a column's size after each mutator of a ``mutate``."""
    n = len(value)
    if n < ctype.min or (ctype.max is not None and n > ctype.max):
        bound = f"{ctype.min} to {'unlimited' if ctype.max is None else ctype.max}"
        raise PlanError(f"{op.table}.{op.column}: {n} elements after the {step} mutation "
                        f"(the column holds {bound})")


def _mutated(ctype: ColumnType, old: Any, op: Mutate, names: Mapping[str, uuid.UUID]) -> Any:
    """The column after ``op``'s mutators, applied as the runner sends them: ``delete``
    first, then ``insert``, the size checked after each (as ovsdb-server does)."""
    ins = _resolve(op.insert, names)
    dele = _resolve(op.delete, names)
    if ctype.value is not None:
        new = {k: v for k, v in old.items() if k not in dele}
        if op.delete:
            _check_count(ctype, new, op, "delete")
        for k, v in dict(ins).items():
            new.setdefault(k, v)
        if op.insert:
            _check_count(ctype, new, op, "insert")
        return new
    if ctype.max == 1:
        raise PlanError(f"{op.table}.{op.column} is not a set or map; use Update")
    kept = frozenset(old) - frozenset(dele)
    if op.delete:
        _check_count(ctype, kept, op, "delete")
    out = kept | frozenset(ins)
    if op.insert:
        _check_count(ctype, out, op, "insert")
    return out


def _references(schema: DatabaseSchema) -> list[tuple[str, str, str, str, bool]]:
    """(table, column, part, referenced table, strong) for every reference column."""
    out = []
    for tname, ts in schema.tables.items():
        for cname, cs in ts.columns.items():
            for part, base in (("key", cs.type.key), ("value", cs.type.value)):
                if base is not None and base.ref_table is not None:
                    out.append((tname, cname, part, base.ref_table, base.ref_type == "strong"))
    return out


def _uuids_in(value: Any, part: str) -> Iterable[Any]:
    if isinstance(value, Mapping):
        return value.keys() if part == "key" else value.values()
    if isinstance(value, frozenset):
        return value
    return () if value is None else (value,)


def _drop_refs(value: Any, part: str, gone: set[uuid.UUID]) -> Any:
    if isinstance(value, Mapping):
        if part == "key":
            return {k: v for k, v in value.items() if k not in gone}
        return {k: v for k, v in value.items() if v not in gone}
    if isinstance(value, frozenset):
        return value - gone
    return None if value in gone else value


_RNG: Final = random.Random(20261126)


def _next_uuid() -> uuid.UUID:
    """Fresh UUIDs from one seeded generator: distinct across calls, repeatable across runs."""
    return uuid.UUID(int=_RNG.getrandbits(128), version=4)


def simulate(
    snapshot: Snapshot,
    plan: Plan,
    *,
    new_uuid: Callable[[], uuid.UUID] | None = None,
) -> dict[DatabaseKey, dict[str, uuid.UUID]]:
    """Apply ``plan`` to the snapshot's replicas as ovsdb-server would commit it.

    Returns, per database, the UUID given to each named insert. ``new_uuid``
    makes the UUIDs (default: one module-wide seeded generator, so runs repeat). Raises
    :class:`PlanError` when an operation names a row the replica does not have or
    a named UUID no insert defines. Referential integrity is enforced as the
    server does for what the replica holds: weak references to deleted rows are
    dropped and rows of non-root tables that nothing references are deleted.
    """
    if new_uuid is None:
        new_uuid = _next_uuid
    named: dict[DatabaseKey, dict[str, uuid.UUID]] = {}
    for db in plan.databases():
        named[db] = _simulate_db(snapshot.db(db), db, plan.for_db(db), new_uuid)
    return named


def _simulate_db(
    replica: Replica, db: str, ops: tuple[Op, ...], new_uuid: Callable[[], uuid.UUID]
) -> dict[str, uuid.UUID]:
    """Apply one database's operations to its replica (see :func:`simulate`)."""
    schema = replica.schema
    names: dict[str, uuid.UUID] = {}
    for op in ops:
        if isinstance(op, Insert) and op.name is not None:
            if op.name in names:
                raise PlanError(f"named uuid @{op.name} is inserted twice")
            names[op.name] = new_uuid()
    # Working copy: (table, uuid) -> values dict, or None when deleted.
    work: dict[tuple[str, uuid.UUID], dict[str, Any] | None] = {}
    original: dict[tuple[str, uuid.UUID], Row | None] = {}

    def current(table: str, row_uuid: uuid.UUID) -> dict[str, Any]:
        key = (table, row_uuid)
        if key not in work:
            row = replica.table(table).get(row_uuid)
            original[key] = row
            work[key] = None if row is None else row.to_dict()
        cur = work[key]
        if cur is None:
            raise PlanError(f"{db}: {table} row {row_uuid} does not exist")
        return cur

    for op in ops:
        ts = schema.tables.get(op.table)
        if ts is None or op.table not in replica:
            raise PlanError(f"{db}: table {op.table} is not held")
        if isinstance(op, Insert):
            row_uuid = names[op.name] if op.name is not None else new_uuid()
            key = (op.table, row_uuid)
            original[key] = None
            view = replica.table(op.table)
            values = dict(zip(view.columns, view.layout.defaults, strict=True))
            for col, val in op.values.items():
                if col not in ts.columns:
                    raise PlanError(f"{db}: {op.table} has no column {col!r}")
                values[col] = _resolve(val, names)
            work[key] = values
        elif isinstance(op, Update):
            cur = current(op.table, op.uuid)
            for col, val in op.values.items():
                if col not in ts.columns:
                    raise PlanError(f"{db}: {op.table} has no column {col!r}")
                cur[col] = _resolve(val, names)
        elif isinstance(op, Mutate):
            cur = current(op.table, op.uuid)
            cs = ts.columns.get(op.column)
            if cs is None:
                raise PlanError(f"{db}: {op.table} has no column {op.column!r}")
            cur[op.column] = _mutated(cs.type, cur[op.column], op, names)
        else:
            current(op.table, op.uuid)
            work[(op.table, op.uuid)] = None
    _integrity(replica, work, original)
    updates: list[RowUpdate] = []
    for (table, row_uuid), final in work.items():
        orig = original[(table, row_uuid)]
        if final is None:
            if orig is not None:
                updates.append(RowUpdate(table, row_uuid, "delete"))
        elif orig is None:
            updates.append(RowUpdate(table, row_uuid, "insert", new=final))
        else:
            updates.append(RowUpdate(table, row_uuid, "modify", new=final))
    replica.apply(updates)
    return names


def _integrity(
    replica: Replica,
    work: dict[tuple[str, uuid.UUID], dict[str, Any] | None],
    original: dict[tuple[str, uuid.UUID], Row | None],
) -> None:
    """Drop weak references to deleted rows and collect orphans of non-root tables."""
    schema = replica.schema
    refs = [r for r in _references(schema) if r[0] in replica and r[3] in replica]

    def rows_of(table: str) -> Iterator[tuple[uuid.UUID, Mapping[str, Any]]]:
        for row in replica.table(table):
            key = (table, row.uuid)
            if key in work:
                continue
            yield row.uuid, row
        for (t, u), values in work.items():
            if t == table and values is not None:
                yield u, values

    while True:
        changed = False
        live: dict[str, set[uuid.UUID]] = {}
        for t in replica.tables:
            live[t] = {u for u, _ in rows_of(t)}
        # Weak references to rows that no longer exist are removed.
        for table, column, part, target, strong in refs:
            if strong:
                continue
            for u, values in list(rows_of(table)):
                gone = {x for x in _uuids_in(values[column], part)
                        if isinstance(x, uuid.UUID) and x not in live[target]}
                if gone:
                    key = (table, u)
                    if key not in work:
                        original[key] = replica.table(table)[u]
                        work[key] = dict(values)
                    row = work[key]
                    assert row is not None
                    row[column] = _drop_refs(row[column], part, gone)
                    changed = True
        # Rows of non-root tables with no strong reference are garbage collected.
        referenced: dict[str, set[Any]] = {}
        for table, column, part, target, strong in refs:
            if strong:
                for _u, values in rows_of(table):
                    referenced.setdefault(target, set()).update(_uuids_in(values[column], part))
        for t, ids in live.items():
            if schema.tables[t].is_root:
                continue
            if not any(r[3] == t and r[4] for r in refs):
                continue  # nothing held refers to it: cannot judge, leave it
            for u in ids - referenced.get(t, set()):
                key = (t, u)
                if key not in work:
                    original[key] = replica.table(t)[u]
                work[key] = None
                changed = True
        if not changed:
            return
