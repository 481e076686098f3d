"""A typed transaction builder and an optimistic read-modify-write helper.

::

    txn = client.transaction()
    az = txn.insert(ic_sb.AvailabilityZone(name="az1"))
    txn.insert(ic_sb.Route(transit_switch="ts", ip_prefix="10.0.0.0/24",
                           nexthop="169.254.100.1", origin="connected"),
               availability_zone=az)          # a reference to the row inserted above
    result = await client.commit(txn)
    result.uuid(az)                           # the real UUID

:meth:`Txn.expect` adds a ``wait`` that fails the transaction (with
:class:`~ovsdb_ic.errors.WaitTimedOutError`) when a row read from the replica
has changed since; :meth:`Client.retry` re-reads and re-runs the builder then.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Mapping, Sequence
from typing import Any, final

import attrs

from ovsdb_ic.errors import LocalProtocolError
from ovsdb_ic.models.base import Model
from ovsdb_ic.models.mapping import server_row, to_row
from ovsdb_ic.replica import Row
from ovsdb_ic.wire import ops as wire_ops
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.ops import Condition, Mutation, OpResult
from ovsdb_ic.wire.schema import DatabaseSchema

__all__ = ["Target", "Txn", "TxnResult"]

Target = uuid_module.UUID | Row | Model | NamedUUID
"""A row to act on: its UUID, a replica Row, a model instance read from the server,
or the NamedUUID of a row inserted earlier in the same transaction."""


@final
@attrs.frozen
class TxnResult:
    """The outcome of a committed transaction."""

    results: tuple[OpResult, ...]
    uuids: Mapping[str, uuid_module.UUID]

    def uuid(self, named: NamedUUID) -> uuid_module.UUID:
        """The real UUID of a row this transaction inserted."""
        return self.uuids[named.name]


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

    def update(self, table: str, target: Target, values: Mapping[str, Any]) -> None:
        """Set columns of one row."""
        self.ops.append(wire_ops.update(self.schema, table, self._where(target), values))

    def mutate(self, table: str, target: Target, mutations: Sequence[Mutation]) -> None:
        """Mutate columns of one row."""
        self.ops.append(wire_ops.mutate(self.schema, table, self._where(target), mutations))

    def delete(self, table: str, target: Target) -> None:
        """Delete one row."""
        self.ops.append(wire_ops.delete(self.schema, table, self._where(target)))

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
