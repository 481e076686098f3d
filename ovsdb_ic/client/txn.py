"""A typed transaction builder and an optimistic read-modify-write helper.

::

    txn = client.transaction()
    az = txn.insert(ic_sb.AvailabilityZone(name="az1"))
    txn.insert(ic_sb.Route(transit_switch="ts", ip_prefix="10.0.0.0/24",
                           nexthop="169.254.100.1", origin="connected",
                           availability_zone=az))   # a reference to the row above
    txn.update(ic_sb.AvailabilityZone, "az0", name="az-zero")   # by class and key
    result = await client.commit(txn)         # RowNotFoundError if az0 does not exist
    result.uuid(az)                           # the real UUID

:meth:`Txn.update`, :meth:`Txn.mutate` and :meth:`Txn.delete` act on exactly one row
and put a ``wait`` before the operation, so a missing row fails the whole transaction
with :class:`~ovsdb_ic.errors.RowNotFoundError` (see :meth:`Client.commit`) instead of
counting 0. :meth:`Txn.expect` adds a ``wait`` that fails the transaction (with
:class:`~ovsdb_ic.errors.WaitTimedOutError`) when a row read from the replica
has changed since; :meth:`Client.retry` re-reads and re-runs the builder then.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Mapping, Sequence
from typing import Any, final

import attrs

from ovsdb_ic.errors import LocalProtocolError, RowNotFoundError, WaitTimedOutError
from ovsdb_ic.models.base import FrozenMap, Model
from ovsdb_ic.models.mapping import server_row, to_row
from ovsdb_ic.replica import Row
from ovsdb_ic.wire import ops as wire_ops
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.ops import Condition, Mutation, OpResult
from ovsdb_ic.wire.schema import DatabaseSchema

__all__ = ["Key", "Target", "Txn", "TxnResult"]

Target = uuid_module.UUID | Row | Model | NamedUUID
"""A row to act on: its UUID, a replica Row, a model instance read from the server,
or the NamedUUID of a row inserted earlier in the same transaction."""

Key = Target | str | int | Mapping[str, Any]
"""A :data:`Target`, a value of the table's one-column index (e.g. a transit switch's
name), or ``{column: value}`` conditions that must match exactly one row."""

_NO_KEY: Any = object()


@final
@attrs.frozen(repr=False, eq=False)
class TxnResult:
    """The outcome of a committed transaction."""

    results: tuple[OpResult, ...]
    uuids: Mapping[str, uuid_module.UUID]

    def uuid(self, named: NamedUUID) -> uuid_module.UUID:
        """The real UUID of a row this transaction inserted."""
        return self.uuids[named.name]

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


def _target_uuid(target: Target) -> uuid_module.UUID | NamedUUID:
    if isinstance(target, uuid_module.UUID | NamedUUID):
        return target
    if isinstance(target, Row):
        return target.uuid
    u = getattr(target, "uuid", None)
    if not isinstance(u, uuid_module.UUID) or u.int == 0:
        raise LocalProtocolError(f"{type(target).__name__} has no server UUID to act on")
    return u


@final
class Txn:
    """Operations of one transaction, built with table/column validation."""

    def __init__(self, schema: DatabaseSchema) -> None:
        """An empty transaction on ``schema``'s database."""
        self.schema = schema
        self.ops: list[dict[str, Any]] = []
        self._inserts: dict[int, str] = {}
        self._guards: dict[int, tuple[str, Any]] = {}
        self._names = 0

    def _where(self, target: Target) -> list[Condition]:
        return [Condition("_uuid", "==", _target_uuid(target))]

    def insert(self, row: Model, **references: NamedUUID | uuid_module.UUID) -> NamedUUID:
        """Insert a model instance; keyword arguments override columns (for references
        to rows inserted by this same transaction). Returns the row's NamedUUID.

        Columns the server's schema lacks (an older OVN than the models') are left out
        when they hold their default; another value raises
        :class:`~ovsdb_ic.errors.SchemaError` naming ``Table.column``."""
        values = server_row(type(row), to_row(row), self.schema)
        for column, value in references.items():
            if column not in values:
                raise LocalProtocolError(f"{row.__table__} has no column {column!r}")
            values[column] = value
        self._names += 1
        name = f"row{self._names}"
        self._inserts[len(self.ops)] = name
        self.ops.append(wire_ops.insert(self.schema, row.__table__, values, uuid_name=name))
        return NamedUUID(name)

    def _resolve(self, table: str, key: Key) -> tuple[list[Condition], bool]:
        """The ``where`` of the one row *key* names in *table*, and whether the row may
        be missing (a NamedUUID's row is inserted by this transaction: it exists)."""
        if isinstance(key, uuid_module.UUID | NamedUUID | Row) or hasattr(key, "__table__"):
            return self._where(key), not isinstance(key, NamedUUID)  # type: ignore[arg-type]
        t = self.schema.tables.get(table)
        if t is None:
            raise LocalProtocolError(f"database {self.schema.name} has no table {table!r}")
        if isinstance(key, Mapping):
            if not key:
                raise LocalProtocolError(f"{table}: an empty key names no row")
            return [Condition(c, "==", v) for c, v in key.items()], True
        single = [ix[0] for ix in t.indexes if len(ix) == 1]
        if not single:
            raise LocalProtocolError(
                f"{table} has no one-column index to look {key!r} up by: pass the row's "
                "UUID, a model or Row read from the server, or {column: value}")
        return [Condition(single[0], "==", key)], True

    def _guarded(self, table: str, key: Key, op: dict[str, Any],
                 where: list[Condition], check: bool) -> None:
        """Add ``op`` after a ``wait`` that fails the transaction unless exactly one row
        matches ``where`` (so a missing row is an error, not a count of 0)."""
        if check:
            self._guards[len(self.ops)] = (table, key)
            self.ops.append(wire_ops.wait(self.schema, table, where, [], [{}], until="==",
                                          timeout_ms=0))
        self.ops.append(op)

    def update(
        self,
        target: str | Model | type[Model],
        key: Any = _NO_KEY,
        values: Mapping[str, Any] | None = None,
        /,
        *,
        columns: Sequence[str] | None = None,
        **changes: Any,
    ) -> None:
        """Set columns of exactly one row; the transaction fails with
        :class:`~ovsdb_ic.errors.RowNotFoundError` when there is no such row.

        Three forms:

        * ``txn.update(model)``: the row of a model instance read from the server
          (``attrs.evolve(row, ...)`` gives a changed copy), setting its ``columns``
          (default: every column);
        * ``txn.update(TransitSwitch, "ts1", external_ids={...})``: by model class and
          key, setting the fields given as keywords;
        * ``txn.update("Transit_Switch", key, {"external_ids": {...}})``: by table name.

        A key is a UUID, a NamedUUID, a replica ``Row``, a model instance, a value of the
        table's one-column index (a name), or ``{column: value}``.
        """
        if isinstance(target, str):
            if values is None or key is _NO_KEY or changes:
                raise LocalProtocolError(
                    "update(table, key, values): a table name needs a key and a values dict")
            table, row_values = target, dict(values)
        elif isinstance(target, type):
            if key is _NO_KEY or values is not None:
                raise LocalProtocolError(
                    f"update({target.__name__}, key, column=value, ...): give the row's key "
                    "and the new values as keywords")
            table = target.__table__
            row_values = self._columns_of(target, changes)
        else:
            if key is not _NO_KEY or values is not None or changes:
                raise LocalProtocolError(
                    "update(model, columns=...): a model instance carries its own values")
            table, key = target.__table__, target
            row_values = server_row(type(target), to_row(target, columns), self.schema)
        if not row_values:
            raise LocalProtocolError(f"update of {table}: no columns to set")
        where, check = self._resolve(table, key)
        self._guarded(table, key, wire_ops.update(self.schema, table, where, row_values),
                      where, check)

    def mutate(self, table: str | type[Model], target: Key,
               mutations: Sequence[Mutation]) -> None:
        """Mutate columns of exactly one row (table name or model class, and a key as
        for :meth:`update`); :class:`~ovsdb_ic.errors.RowNotFoundError` when missing."""
        name = table if isinstance(table, str) else table.__table__
        where, check = self._resolve(name, target)
        self._guarded(name, target, wire_ops.mutate(self.schema, name, where, mutations),
                      where, check)

    def delete(self, target: str | Model | type[Model], key: Any = _NO_KEY, /) -> None:
        """Delete exactly one row: ``txn.delete(model)``, ``txn.delete(TransitSwitch,
        "ts1")`` or ``txn.delete("Transit_Switch", key)`` (keys as for :meth:`update`);
        :class:`~ovsdb_ic.errors.RowNotFoundError` when there is no such row."""
        if isinstance(target, str | type):
            if key is _NO_KEY:
                raise LocalProtocolError("delete(table, key): which row?")
            table = target if isinstance(target, str) else target.__table__
        else:
            if key is not _NO_KEY:
                raise LocalProtocolError("delete(model): the model names its row")
            table, key = target.__table__, target
        where, check = self._resolve(table, key)
        self._guarded(table, key, wire_ops.delete(self.schema, table, where), where, check)

    @staticmethod
    def _columns_of(cls: type[Model], changes: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword fields -> columns, each value checked against its column."""
        by_field = dict(zip(cls.__fields__, cls.__columns__, strict=True))
        out: dict[str, Any] = {}
        for field, value in changes.items():
            column = by_field.get(field)
            if column is None:
                raise LocalProtocolError(f"{cls.__table__} has no column {field!r}")
            out[column] = value.to_dict() if isinstance(value, FrozenMap) else value
        return out

    def not_found(self, exc: WaitTimedOutError) -> RowNotFoundError | None:
        """The :class:`~ovsdb_ic.errors.RowNotFoundError` for a failed existence guard of
        this transaction, or None when ``exc`` comes from another ``wait``."""
        guard = self._guards.get(exc.index)
        if guard is None:
            return None
        table, key = guard
        shown = key.uuid if hasattr(key, "__table__") or isinstance(key, Row) else key
        return RowNotFoundError(table, shown, why="no such row (nothing was changed)")

    def expect(self, row: Row, columns: Sequence[str] | None = None) -> None:
        """Fail the transaction unless ``row`` (from a replica) still has these values.

        ``columns`` default: every column the replica holds for the row.
        """
        cols = list(columns) if columns is not None else list(row.columns)
        self.ops.append(wire_ops.wait(
            self.schema, row.table, [Condition("_uuid", "==", row.uuid)], cols,
            [{c: row[c] for c in cols}], until="==", timeout_ms=0,
        ))

    def comment(self, text: str) -> None:
        """Record a comment in the database log."""
        self.ops.append(wire_ops.comment(text))

    def result(self, results: Sequence[OpResult]) -> TxnResult:
        """Pair the server's results with this transaction's named rows."""
        uuids = {}
        for index, name in self._inserts.items():
            u = results[index].uuid
            assert u is not None
            uuids[name] = u
        return TxnResult(tuple(results), uuids)
