"""Turning a :class:`~ovsdb_ic.sync.plan.Plan` into guarded OVSDB transactions (pure).

:func:`transaction_ops` gives, for one database, the JSON operations of one
transaction that carries out the plan's operations for it, preceded by optimistic
``wait`` guards: every row the plan updates must still have the values the planner saw
in the columns it sets, and every row it mutates or deletes must still exist, or the
transaction fails with ``timed out`` and nothing is written. The runner then waits for
its replicas to catch up and plans again. Unique indexes on the server catch the other
race (two agents inserting the same key at once): the loser gets a ``constraint
violation`` and plans again too.

Order inside a mutation follows ``simulate``: ``delete`` before ``insert``, so a map
key can be replaced in one Mutate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ovsdb_ic.ic.databases import DatabaseKey
from ovsdb_ic.replica import Replica
from ovsdb_ic.sync.plan import Delete, Insert, Op, Plan, Update
from ovsdb_ic.wire import ops as wire_ops
from ovsdb_ic.wire.ops import Condition, Mutation

__all__ = ["transaction_ops", "wire_ops_for"]


def _where(row_uuid: Any) -> list[Condition]:
    return [Condition("_uuid", "==", row_uuid)]


def wire_ops_for(replica: Replica, op: Op) -> list[dict[str, Any]]:
    """The JSON operation(s) of one plan operation (no guards)."""
    schema = replica.schema
    if isinstance(op, Insert):
        return [wire_ops.insert(schema, op.table, op.values, uuid_name=op.name)]
    if isinstance(op, Update):
        return [wire_ops.update(schema, op.table, _where(op.uuid), op.values)]
    if isinstance(op, Delete):
        return [wire_ops.delete(schema, op.table, _where(op.uuid))]
    muts: list[Mutation] = []
    if op.delete:
        muts.append(Mutation(op.column, "delete", frozenset(op.delete)))
    if op.insert:
        value = dict(op.insert) if isinstance(op.insert, Mapping) else frozenset(op.insert)
        muts.append(Mutation(op.column, "insert", value))
    if not muts:
        return []
    return [wire_ops.mutate(schema, op.table, _where(op.uuid), muts)]


def _guards(replica: Replica, ops: Sequence[Op]) -> list[dict[str, Any]]:
    """``wait`` operations: touched rows still hold what the planner read."""
    touched: dict[tuple[str, Any], set[str] | None] = {}
    for op in ops:
        if isinstance(op, Insert):
            continue
        key = (op.table, op.uuid)
        if isinstance(op, Delete):
            touched[key] = None  # the row must still exist
        elif isinstance(op, Update):
            cols = touched.setdefault(key, set())
            if cols is not None:
                cols.update(op.values)
        else:
            # A set or map mutation adds or removes only its own elements, whatever the
            # rest of the column holds, so it is not guarded by the column's value (for
            # a router's static_routes that would be tens of thousands of UUIDs sent and
            # compared on every learned route); the row must still exist.
            touched.setdefault(key, set())
    out = []
    for (table, row_uuid), cols in touched.items():
        view = replica.table(table) if table in replica else None
        row = None if view is None else view.get(row_uuid)
        if row is None:
            continue  # planned against a row the replica no longer has: the op fails anyway
        columns = sorted(c for c in (cols or ()) if c in row.columns)
        out.append(wire_ops.wait(
            replica.schema, table, _where(row_uuid), columns,
            [{c: row[c] for c in columns}], until="==", timeout_ms=0,
        ))
    return out


def transaction_ops(
    replica: Replica, plan: Plan, db: DatabaseKey, *, comment: str | None = None
) -> list[dict[str, Any]]:
    """One guarded transaction for ``db``'s part of ``plan``, read against ``replica``.

    Empty when the plan has nothing for ``db``.
    """
    ops = plan.for_db(db)
    if not ops:
        return []
    out = _guards(replica, ops)
    for op in ops:
        out.extend(wire_ops_for(replica, op))
    if comment:
        out.append(wire_ops.comment(comment))
    return out
