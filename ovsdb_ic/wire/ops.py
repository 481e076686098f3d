"""Transaction operations, conditions, mutations and results (RFC 7047 section 5).

Every builder takes the :class:`~ovsdb_ic.wire.schema.DatabaseSchema`, validates
table and column names, operator/type compatibility and every value, and
returns the operation's JSON. Values are Python values as described in
:mod:`ovsdb_ic.wire.data`; :class:`~ovsdb_ic.wire.data.NamedUUID` refers to a row
inserted by the same transaction (``uuid_name`` of :func:`insert`).

:func:`transact_params` wraps operations into the ``transact`` params and
:func:`decode_transact_result` turns the reply into :class:`OpResult` objects,
raising :class:`~ovsdb_ic.errors.TransactionError` (with the failing operation's
index, JSON, error and details) when any operation failed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Any, Final, Literal, TypeAlias

import attrs

from ovsdb_ic.errors import DataError, LocalProtocolError, RemoteProtocolError, transaction_error
from ovsdb_ic.wire.data import _ID_RE, NamedUUID, column_codec, parse_uuid
from ovsdb_ic.wire.schema import ColumnSchema, ColumnType, DatabaseSchema, TableSchema

__all__ = [
    "Function",
    "Mutator",
    "FUNCTIONS",
    "MUTATORS",
    "Condition",
    "Mutation",
    "condition_to_json",
    "mutation_to_json",
    "insert",
    "select",
    "update",
    "mutate",
    "delete",
    "wait",
    "commit",
    "abort",
    "comment",
    "assert_lock",
    "transact_params",
    "OpResult",
    "decode_transact_result",
]

Function: TypeAlias = Literal["<", "<=", "==", "!=", ">=", ">", "includes", "excludes"]
"""A condition function."""
Mutator: TypeAlias = Literal["+=", "-=", "*=", "/=", "%=", "insert", "delete"]
"""A mutator."""

FUNCTIONS: Final[frozenset[str]] = frozenset(
    {"<", "<=", "==", "!=", ">=", ">", "includes", "excludes"}
)
"""All condition functions."""
MUTATORS: Final[frozenset[str]] = frozenset({"+=", "-=", "*=", "/=", "%=", "insert", "delete"})
"""All mutators."""

_ORDERING: Final = frozenset({"<", "<=", ">=", ">"})
_LOCK_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ARITH: Final = frozenset({"+=", "-=", "*=", "/=", "%="})


@attrs.frozen
class Condition:
    """``[column, function, value]``: a condition on a row.

    ``value`` is a Python value of the column's type (relaxed for ``includes``
    and ``excludes``, which take any subset).
    """

    column: str
    function: Function = attrs.field()
    value: Any

    @function.validator
    def _check(self, _a: Any, f: str) -> None:
        if f not in FUNCTIONS:
            raise LocalProtocolError(f"unknown condition function {f!r}")


@attrs.frozen
class Mutation:
    """``[column, mutator, value]``: an in-place change of a column."""

    column: str
    mutator: Mutator = attrs.field()
    value: Any

    @mutator.validator
    def _check(self, _a: Any, m: str) -> None:
        if m not in MUTATORS:
            raise LocalProtocolError(f"unknown mutator {m!r}")


def _table(schema: DatabaseSchema, name: str) -> TableSchema:
    t = schema.tables.get(name)
    if t is None:
        raise LocalProtocolError(f"database {schema.name} has no table {name!r}")
    return t


def _column(table: TableSchema, name: str) -> ColumnSchema:
    try:
        return table.column(name)
    except KeyError:
        raise LocalProtocolError(f"table {table.name} has no column {name!r}") from None


def _encode(table: TableSchema, col: ColumnSchema, ctype: ColumnType, value: Any) -> Any:
    return column_codec(ctype, f"{table.name}.{col.name}").encode(value)


def condition_to_json(table: TableSchema, cond: Condition) -> list[Any]:
    """Validate ``cond`` against ``table`` and return its JSON."""
    col = _column(table, cond.column)
    ctype = col.type
    f = cond.function
    where = f"{table.name}.{col.name}"
    if f in _ORDERING:
        if ctype.value is not None or ctype.max != 1 or ctype.key.type not in ("integer", "real"):
            raise LocalProtocolError(
                f"{where}: {f!r} applies only to integer or real columns holding one value"
            )
        return [col.name, f, column_codec(ColumnType(ctype.key), where).encode(cond.value)]
    value = cond.value
    if f in ("includes", "excludes") and not ctype.is_scalar:
        # The server relaxes the minimum for both, and the maximum for
        # excludes only (includes of more elements than fit can never hold).
        ctype = ColumnType(ctype.key, ctype.value, 0, ctype.max if f == "includes" else None)
        if ctype.is_set and not isinstance(value, Set | list | tuple):
            # A value in the column's own form: an atom, or None for optional columns.
            optional = col.type.is_optional
            value = frozenset() if value is None and optional else frozenset([value])
    return [col.name, f, column_codec(ctype, where).encode(value)]


def mutation_to_json(table: TableSchema, mut: Mutation) -> list[Any]:
    """Validate ``mut`` against ``table`` and return its JSON."""
    col = _column(table, mut.column)
    where = f"{table.name}.{col.name}"
    if not col.mutable or col.name.startswith("_"):
        raise LocalProtocolError(f"{where} is immutable and cannot be mutated")
    ctype = col.type
    m = mut.mutator
    if m in _ARITH:
        if ctype.value is not None or ctype.key.type not in ("integer", "real"):
            raise LocalProtocolError(f"{where}: {m!r} applies only to integer or real columns")
        if m == "%=" and ctype.key.type != "integer":
            raise LocalProtocolError(f"{where}: '%=' applies only to integer columns")
        base = attrs.evolve(ctype.key, enum=None, min_integer=None, max_integer=None,
                            min_real=None, max_real=None)
        return [col.name, m, column_codec(ColumnType(base), where).encode(mut.value)]
    if ctype.is_scalar:
        raise LocalProtocolError(f"{where}: {m!r} applies only to set and map columns")
    if m == "delete" and ctype.value is not None and not isinstance(mut.value, Mapping):
        # Deleting keys from a map: the value is a set of keys.
        keys = ColumnType(ctype.key, None, 0, None)
        return [col.name, m, column_codec(keys, where).encode(mut.value)]
    # ovsdb-server parses the value with min 0, and keeps max for "insert".
    relaxed = ColumnType(ctype.key, ctype.value, 0, ctype.max if m == "insert" else None)
    value = mut.value
    if ctype.value is None and not isinstance(value, Set | list | tuple):
        value = frozenset([value])  # a single atom
    return [col.name, m, column_codec(relaxed, where).encode(value)]


def _where(table: TableSchema, where: Iterable[Condition]) -> list[Any]:
    return [condition_to_json(table, c) for c in where]


def _row(table: TableSchema, row: Mapping[str, Any], *, for_update: bool) -> dict[str, Any]:
    writable = _writable(table)
    out: dict[str, Any] = {}
    for name, value in row.items():
        found = writable.get(name)
        if found is None or (for_update and not found[1]):
            raise _row_error(table, name, for_update)
        out[name] = found[0](value)
    return out


def _row_error(table: TableSchema, name: str, for_update: bool) -> LocalProtocolError:
    """The error of writing column ``name`` of ``table``: unknown (raised here), implicit,
    or immutable in an update."""
    col = _column(table, name)
    if name.startswith("_"):
        return LocalProtocolError(f"{table.name}.{name} cannot be written")
    if for_update and not col.mutable:
        return LocalProtocolError(f"{table.name}.{name} is immutable and cannot be updated")
    raise AssertionError(f"{table.name}.{name} is writable")  # pragma: no cover


_WRITABLE: dict[int, tuple[TableSchema, dict[str, tuple[Any, bool]]]] = {}
_WRITABLE_SIZE: Final = 256


def _writable(table: TableSchema) -> dict[str, tuple[Any, bool]]:
    """``column -> (encoder, mutable)`` of the columns of ``table`` a row may write.

    Cached per table object (by ``id``; the entry holds the table, so the id cannot be
    reused while it is cached); bounded, cleared when full.
    """
    found = _WRITABLE.get(id(table))
    if found is not None and found[0] is table:
        return found[1]
    cols = {
        name: (column_codec(col.type, f"{table.name}.{name}").encode, col.mutable)
        for name, col in table.columns.items() if not name.startswith("_")
    }
    if len(_WRITABLE) >= _WRITABLE_SIZE:
        _WRITABLE.clear()
    _WRITABLE[id(table)] = (table, cols)
    return cols


def insert(
    schema: DatabaseSchema,
    table: str,
    row: Mapping[str, Any],
    *,
    uuid_name: str | None = None,
    uuid: uuid.UUID | None = None,
) -> dict[str, Any]:
    """An ``insert`` operation.

    ``uuid_name`` lets later operations refer to the row as ``NamedUUID(name)``;
    ``uuid`` asks the server to use that UUID (an OVS extension).
    """
    t = _table(schema, table)
    op: dict[str, Any] = {"op": "insert", "table": table, "row": _row(t, row, for_update=False)}
    if uuid_name is not None:
        # NamedUUID checks the name; a valid one is used as it is.
        op["uuid-name"] = (uuid_name if type(uuid_name) is str and _ID_RE.match(uuid_name)
                           else NamedUUID(uuid_name).name)
    if uuid is not None:
        op["uuid"] = str(uuid)
    return op


def select(
    schema: DatabaseSchema,
    table: str,
    where: Iterable[Condition] = (),
    columns: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A ``select`` operation (all columns when ``columns`` is None)."""
    t = _table(schema, table)
    op: dict[str, Any] = {"op": "select", "table": table, "where": _where(t, where)}
    if columns is not None:
        for c in columns:
            _column(t, c)
        op["columns"] = list(columns)
    return op


def update(
    schema: DatabaseSchema, table: str, where: Iterable[Condition], row: Mapping[str, Any]
) -> dict[str, Any]:
    """An ``update`` operation: set the columns in ``row`` of every matching row."""
    t = _table(schema, table)
    return {"op": "update", "table": table, "where": _where(t, where),
            "row": _row(t, row, for_update=True)}


def mutate(
    schema: DatabaseSchema, table: str, where: Iterable[Condition],
    mutations: Iterable[Mutation],
) -> dict[str, Any]:
    """A ``mutate`` operation."""
    t = _table(schema, table)
    muts = [mutation_to_json(t, m) for m in mutations]
    if not muts:
        raise LocalProtocolError("mutate needs at least one mutation")
    return {"op": "mutate", "table": table, "where": _where(t, where), "mutations": muts}


def delete(schema: DatabaseSchema, table: str, where: Iterable[Condition]) -> dict[str, Any]:
    """A ``delete`` operation."""
    t = _table(schema, table)
    return {"op": "delete", "table": table, "where": _where(t, where)}


def wait(
    schema: DatabaseSchema,
    table: str,
    where: Iterable[Condition],
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    *,
    until: Literal["==", "!="] = "==",
    timeout_ms: int | None = 0,
) -> dict[str, Any]:
    """A ``wait`` operation: the selected ``columns`` of matching rows must (not) equal ``rows``.

    The default ``timeout_ms=0`` fails at once if the condition does not hold,
    which is how optimistic concurrency checks use it; ``None`` waits forever.
    """
    t = _table(schema, table)
    if until not in ("==", "!="):
        raise LocalProtocolError(f"wait 'until' must be '==' or '!=', not {until!r}")
    cols = [_column(t, c) for c in columns]
    rows_json = []
    for r in rows:
        extra = set(r) - set(columns)
        if extra:
            raise LocalProtocolError(f"wait row has columns not in 'columns': {sorted(extra)}")
        rows_json.append({c.name: _encode(t, c, c.type, r[c.name]) for c in cols if c.name in r})
    op: dict[str, Any] = {
        "op": "wait", "table": table, "where": _where(t, where),
        "columns": list(columns), "until": until, "rows": rows_json,
    }
    if timeout_ms is not None:
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms < 0:
            raise LocalProtocolError(f"wait timeout must be a non-negative integer: {timeout_ms!r}")
        op["timeout"] = timeout_ms
    return op


def commit(durable: bool = False) -> dict[str, Any]:
    """A ``commit`` operation (``durable`` waits for the data to reach disk)."""
    return {"op": "commit", "durable": bool(durable)}


def abort() -> dict[str, Any]:
    """An ``abort`` operation: the transaction fails with error ``aborted``."""
    return {"op": "abort"}


def comment(text: str) -> dict[str, Any]:
    """A ``comment`` operation (recorded in the database log)."""
    if not isinstance(text, str):
        raise LocalProtocolError("a comment must be a string")
    return {"op": "comment", "comment": text}


def assert_lock(lock: str) -> dict[str, Any]:
    """An ``assert`` operation: fail with ``not owner`` unless we hold ``lock``."""
    if not isinstance(lock, str) or not _LOCK_NAME.match(lock):
        raise LocalProtocolError(
            f"a lock name is an identifier (letters, digits, underscores), not {lock!r}"
        )
    return {"op": "assert", "lock": lock}


def transact_params(schema: DatabaseSchema, ops: Iterable[Mapping[str, Any]]) -> list[Any]:
    """The params of a ``transact`` request: the database name, then the operations."""
    return [schema.name, *ops]


# --------------------------------------------------------------------------- results


@attrs.frozen
class OpResult:
    """The successful result of one operation.

    ``uuid`` for inserts, ``rows`` (decoded) for selects, ``count`` for
    update/mutate/delete; all ``None`` for the rest.
    """

    op: str
    uuid: uuid.UUID | None = None
    rows: tuple[dict[str, Any], ...] | None = None
    count: int | None = None


def decode_transact_result(
    schema: DatabaseSchema, ops: Sequence[Mapping[str, Any]], result: Any
) -> list[OpResult]:
    """Decode the ``result`` of ``transact`` for ``ops``.

    Raises :class:`~ovsdb_ic.errors.TransactionError` (the subclass matching the
    server's error, e.g. :class:`~ovsdb_ic.errors.ConstraintViolationError` or
    :class:`~ovsdb_ic.errors.WaitTimedOutError`) for the first failed
    operation (``index == len(ops)`` for errors found at commit, such as
    referential integrity or constraint violations), and
    :class:`~ovsdb_ic.errors.RemoteProtocolError` for a malformed result.
    """
    if type(result) is not list:
        raise RemoteProtocolError(f"transact result must be an array, got {result!r:.200}")
    if len(ops) == 1 and len(result) == 1 and type(r0 := result[0]) is dict and len(r0) == 1:
        # One operation that succeeded (the commonest transaction): its result
        # object holds just its uuid or count.
        kind = ops[0].get("op")
        if kind == "insert":
            u = r0.get("uuid")
            if type(u) is list and len(u) == 2 and u[0] == "uuid":
                try:
                    return [OpResult(kind, uuid=parse_uuid(u[1]))]
                except DataError as exc:
                    raise RemoteProtocolError(f"malformed insert result: {exc}") from None
        elif kind in ("update", "mutate", "delete"):
            c = r0.get("count")
            if type(c) is int:
                return [OpResult(kind, count=c)]
    for i, r in enumerate(result):
        if type(r) is dict and "error" in r:
            err = r.get("error")
            details = r.get("details")
            op = dict(ops[i]) if i < len(ops) else None
            raise transaction_error(i, op, str(err), None if details is None else str(details))
    if len(result) < len(ops):
        raise RemoteProtocolError(
            f"transact result has {len(result)} entries for {len(ops)} operations"
        )
    out: list[OpResult] = []
    for spec, r in zip(ops, result, strict=False):
        kind = str(spec.get("op"))
        if type(r) is not dict:
            raise RemoteProtocolError(f"result of {kind} must be an object, got {r!r:.200}")
        try:
            if kind == "insert":
                u = r.get("uuid")
                if type(u) is not list or len(u) != 2 or u[0] != "uuid":
                    raise RemoteProtocolError(f"insert result lacks a uuid: {r!r:.200}")
                out.append(OpResult(kind, uuid=parse_uuid(u[1])))
            elif kind == "select":
                from ovsdb_ic.wire.monitor import TableDecoder

                table = _table(schema, str(spec.get("table")))
                cols = spec.get("columns")
                dec = TableDecoder(table, ["_uuid", "_version", *table.columns]
                                   if cols is None else cols)
                rows = r.get("rows")
                if type(rows) is not list:
                    raise RemoteProtocolError(f"select result lacks rows: {r!r:.200}")
                out.append(OpResult(kind, rows=tuple(dec.partial(row) for row in rows)))
            elif kind in ("update", "mutate", "delete"):
                c = r.get("count")
                if type(c) is not int:
                    raise RemoteProtocolError(f"{kind} result lacks a count: {r!r:.200}")
                out.append(OpResult(kind, count=c))
            else:
                out.append(OpResult(kind))
        except DataError as exc:
            raise RemoteProtocolError(f"malformed {kind} result: {exc}") from None
    return out
