"""Monitor requests and the decoding of ``update``, ``update2`` and ``update3``.

Requests: :func:`monitor_params` builds the params of ``monitor``,
``monitor_cond`` and ``monitor_cond_since``; :func:`monitor_cond_change_params`
those of ``monitor_cond_change``.

Notifications and replies decode into :class:`RowUpdate` objects, one per row:

* ``initial`` / ``insert`` carry the full new row in :attr:`RowUpdate.new`
  (columns the server left out hold their default value, as ``update2``
  omits defaults);
* ``modify`` carries :attr:`RowUpdate.diff` for ``update2``/``update3`` (decoded
  by :func:`~ovsdb_ic.wire.data.diff_from_json`, applied with :func:`apply_update`)
  or the old values of changed columns in :attr:`RowUpdate.old` plus the full
  new row for ``update`` (v1);
* ``delete`` carries the old row when the server sent it.

All changes of one notification belong to one server transaction; callers that
keep replicas apply the whole list before anyone observes it.
"""

from __future__ import annotations

import uuid
from collections import deque as _consume
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice, repeat
from typing import Any, Final, Literal, NamedTuple, TypeAlias

import attrs

from ovsdb_ic.errors import DataError, LocalProtocolError, RemoteProtocolError
from ovsdb_ic.wire._gc import gc_paused
from ovsdb_ic.wire.data import _UUID_RE, ColumnCodec, column_codec, parse_uuid
from ovsdb_ic.wire.ops import Condition, condition_to_json
from ovsdb_ic.wire.schema import ColumnType, DatabaseSchema, TableSchema

__all__ = [
    "ZERO_TXN_ID",
    "UpdateKind",
    "RowUpdate",
    "MonitorRequest",
    "monitor_params",
    "monitor_cond_change_params",
    "decode_update",
    "decode_update2",
    "row_count",
    "split_cond_since_reply",
    "take_table_updates",
    "decode_cond_since_reply",
    "decode_update3_params",
    "apply_update",
    "default_value",
    "TableDecoder",
]

ZERO_TXN_ID: Final = "00000000-0000-0000-0000-000000000000"
"""The ``last-txn-id`` that asks ``monitor_cond_since`` for a full initial copy."""

UpdateKind: TypeAlias = Literal["initial", "insert", "modify", "delete"]
"""What happened to a row."""

_ZERO_UUID: Final = uuid.UUID(int=0)


class RowUpdate(NamedTuple):
    """One row's change within one server transaction (an immutable NamedTuple).

    ``new`` is the full new row (initial, insert; and modify for ``update`` v1),
    ``old`` the old values (v1 modify: only changed columns; delete: the old row
    when sent), ``diff`` the decoded ``update2`` modify diff.
    """

    table: str
    uuid: uuid.UUID
    kind: UpdateKind
    new: Mapping[str, Any] | None = None
    old: Mapping[str, Any] | None = None
    diff: Mapping[str, Any] | None = None


def default_value(ctype: ColumnType) -> Any:
    """The value a column has when nothing was written to it.

    As in ovsdb-server, a column holds ``min`` default atoms: sets and maps with
    min 1 hold one default atom (pair), e.g. ``{""}`` for a set of strings.
    """
    if ctype.value is not None:
        if ctype.min == 1:
            return {_default_atom(ctype.key.type): _default_atom(ctype.value.type)}
        return {}
    if ctype.is_optional:
        return None
    if ctype.is_set:
        return frozenset([_default_atom(ctype.key.type)]) if ctype.min == 1 else frozenset()
    return _default_atom(ctype.key.type)


def _default_atom(t: str) -> Any:
    if t == "integer":
        return 0
    if t == "real":
        return 0.0
    if t == "boolean":
        return False
    if t == "string":
        return ""
    return _ZERO_UUID


class TableDecoder:
    """Compiled row decoder for one table (and a chosen set of columns).

    Unknown columns (a server with a newer schema) are ignored.
    """

    __slots__ = ("codecs", "columns", "decoders", "defaults", "diff_decoders", "table")

    def __init__(self, table: TableSchema, columns: Iterable[str] | None = None) -> None:
        """Compile decoders of ``columns`` (default: all) of ``table``."""
        self.table = table
        names = list(table.columns) if columns is None else list(columns)
        codecs: dict[str, ColumnCodec] = {}
        for name in names:
            try:
                col = table.column(name)
            except KeyError:
                raise LocalProtocolError(f"table {table.name} has no column {name!r}") from None
            codecs[name] = column_codec(col.type, f"{table.name}.{name}")
        self.columns: tuple[str, ...] = tuple(names)
        self.codecs = codecs
        self.decoders: dict[str, Callable[[Any], Any]] = {n: c.decode for n, c in codecs.items()}
        self.diff_decoders: dict[str, Callable[[Any], Any]] = {
            n: c.decode_diff for n, c in codecs.items()
        }
        self.defaults: dict[str, Any] = {
            n: default_value(c.type) for n, c in codecs.items() if not n.startswith("_")
        }

    def row(self, data: Any) -> dict[str, Any]:
        """Decode a full ``<row>`` object, filling omitted columns with defaults."""
        if type(data) is not dict:
            raise DataError("a row must be a JSON object", value=data, where=self.table.name)
        out = self.defaults.copy()
        decoders = self.decoders
        for name, value in data.items():
            dec = decoders.get(name)
            if dec is not None:
                out[name] = dec(value)
        return out

    def partial(self, data: Any) -> dict[str, Any]:
        """Decode only the columns present (v1 ``old`` values)."""
        if type(data) is not dict:
            raise DataError("a row must be a JSON object", value=data, where=self.table.name)
        decoders = self.decoders
        return {n: decoders[n](v) for n, v in data.items() if n in decoders}

    def diff(self, data: Any) -> dict[str, Any]:
        """Decode an ``update2`` modify diff (columns present only)."""
        if type(data) is not dict:
            raise DataError("a row diff must be a JSON object", value=data, where=self.table.name)
        out = {}
        decoders = self.diff_decoders
        for n, v in data.items():
            dec = decoders.get(n)
            if dec is not None:
                out[n] = dec(v)
        return out


def _decoders(
    schema: DatabaseSchema,
    cache: dict[str, TableDecoder],
    table: str,
    columns: Mapping[str, Sequence[str]] | None,
) -> TableDecoder:
    dec = cache.get(table)
    if dec is None:
        try:
            ts = schema.tables[table]
        except KeyError:
            raise RemoteProtocolError(
                f"update names table {table!r}, which database {schema.name} does not have"
            ) from None
        dec = cache[table] = TableDecoder(ts, None if columns is None else columns.get(table))
    return dec


def _uuid_key(key: Any, table: str) -> uuid.UUID:
    try:
        return parse_uuid(key)
    except DataError:
        raise DataError("row key is not a UUID", value=key, where=table) from None


_BIG_UPDATE: Final = 2000
"""Updates with at least this many rows are decoded with the cyclic GC paused."""


def take_table_updates(table_updates: Any, rows_per_part: int) -> Iterator[Any]:
    """Yield a ``<table-updates2>`` object in parts of at most ``rows_per_part`` rows,
    taking each part's rows out of ``table_updates`` (which ends up empty).

    Decoding the parts one by one gives the same updates, in the same order, as decoding
    the whole; an event loop can pause between parts, and the JSON of each part can be
    freed once it is decoded. Anything that is not a well-formed object is yielded
    whole, for :func:`decode_update2` to reject with its usual error.
    """
    if rows_per_part < 1:
        raise ValueError("rows_per_part must be at least 1")
    if type(table_updates) is not dict or any(type(r) is not dict
                                              for r in table_updates.values()):
        yield table_updates
        return
    for table in list(table_updates):
        rows = table_updates.pop(table)
        while rows:
            yield {table: _take_front(rows, rows_per_part)}


def _take_front(rows: dict[Any, Any], n: int) -> dict[Any, Any]:
    """Remove the first ``n`` entries of ``rows`` and return them as a new dict.

    No list of every key is kept meanwhile (nor a reference to a part while it is
    decoded): once a part is decoded and dropped, all of its JSON can be freed.
    """
    part = dict(islice(rows.items(), n))
    _consume(map(rows.__delitem__, part), maxlen=0)
    return part


def row_count(table_updates: Any) -> int:
    """The number of rows in a ``<table-updates>``/``<table-updates2>`` object (0 when
    it is not one)."""
    if type(table_updates) is not dict:
        return 0
    n = 0  # a plain loop: cheaper than sum() over a generator for the usual one table
    for rows in table_updates.values():
        if type(rows) is dict:
            n += len(rows)
    return n


def decode_update2(
    schema: DatabaseSchema,
    table_updates: Any,
    *,
    columns: Mapping[str, Sequence[str]] | None = None,
    decoders: dict[str, TableDecoder] | None = None,
) -> list[RowUpdate]:
    """Decode ``<table-updates2>`` (monitor_cond replies, update2 and update3).

    ``columns`` restricts the columns per table (as monitored); ``decoders`` is
    an optional cache of compiled table decoders to reuse across calls. Large
    updates are decoded with the cyclic garbage collector paused
    (:mod:`ovsdb_ic.wire._gc`).
    """
    if type(table_updates) is not dict:
        raise DataError("table-updates2 must be a JSON object", value=table_updates)
    cache = {} if decoders is None else decoders
    if row_count(table_updates) >= _BIG_UPDATE:
        with gc_paused():
            return _decode_update2(schema, table_updates, columns, cache)
    # Small updates (the stream that follows the initial copy): no pause to set up.
    return _decode_update2(schema, table_updates, columns, cache)


_new_update = tuple.__new__


def _decode_update2(
    schema: DatabaseSchema,
    table_updates: dict[str, Any],
    columns: Mapping[str, Sequence[str]] | None,
    cache: dict[str, TableDecoder],
) -> list[RowUpdate]:
    out: list[RowUpdate] = []
    append = out.append
    for table, rows in table_updates.items():
        dec = _decoders(schema, cache, table, columns)
        if type(rows) is not dict:
            raise DataError("table-update2 must be a JSON object", value=rows, where=table)
        # The row keys: parsed together (C-level loops) when there are many, else one by
        # one as the loop reaches them (the first bad key raises in its turn).
        keys = _row_keys(rows) if len(rows) >= _MANY_KEYS else None
        for u, upd in zip(keys or map(_uuid_key, rows, repeat(table)), rows.values(),
                          strict=True):
            if type(upd) is not dict or len(upd) != 1:
                raise DataError(
                    "row-update2 must have exactly one of initial/insert/modify/delete",
                    value=upd, where=table,
                )
            ((kind, body),) = upd.items()
            # RowUpdate(...) without the keyword-argument handling of its __new__.
            if kind == "modify":
                append(_new_update(RowUpdate, (table, u, "modify", None, None, dec.diff(body))))
            elif kind == "initial" or kind == "insert":
                append(_new_update(RowUpdate, (table, u, kind, dec.row(body), None, None)))
            elif kind == "delete":
                old = dec.row(body) if type(body) is dict and body else None
                append(_new_update(RowUpdate, (table, u, "delete", None, old, None)))
            else:
                raise DataError(f"unknown row-update2 kind {kind!r}", value=upd, where=table)
    return out


_MANY_KEYS: Final = 16
"""From this many rows of a table in one update, their keys are parsed together."""
_STR_TYPES: Final = frozenset({str})
_UUID_MATCH: Final = _UUID_RE.match
_UUID = uuid.UUID
_new_object = object.__new__
_set_attr = object.__setattr__
_SAFE_UNKNOWN = uuid.SafeUUID.unknown


def _row_keys(rows: dict[Any, Any]) -> list[uuid.UUID] | None:
    """:func:`parse_uuid` of every key of ``rows``, with C-level loops; ``None`` when a
    key is not a UUID (the caller then parses them one by one, which raises)."""
    keys = list(rows)
    if not set(map(type, keys)) <= _STR_TYPES or not all(map(_UUID_MATCH, keys)):
        return None
    n = len(keys)
    out = list(map(_new_object, repeat(_UUID, n)))
    _consume(map(_set_attr, out, repeat("int", n),
                 map(int, map(str.replace, keys, repeat("-", n), repeat("", n)),
                     repeat(16, n))), maxlen=0)
    _consume(map(_set_attr, out, repeat("is_safe", n), repeat(_SAFE_UNKNOWN, n)), maxlen=0)
    return out


def decode_update(
    schema: DatabaseSchema,
    table_updates: Any,
    *,
    initial: bool = False,
    columns: Mapping[str, Sequence[str]] | None = None,
    decoders: dict[str, TableDecoder] | None = None,
) -> list[RowUpdate]:
    """Decode a v1 ``<table-updates>`` (``monitor`` replies and ``update``).

    ``initial`` marks rows of a monitor reply as ``initial`` instead of ``insert``.
    """
    if type(table_updates) is not dict:
        raise DataError("table-updates must be a JSON object", value=table_updates)
    cache = {} if decoders is None else decoders
    out: list[RowUpdate] = []
    with gc_paused(row_count(table_updates) >= _BIG_UPDATE):
        for table, rows in table_updates.items():
            dec = _decoders(schema, cache, table, columns)
            if type(rows) is not dict:
                raise DataError("table-update must be a JSON object", value=rows, where=table)
            for key, upd in rows.items():
                u = _uuid_key(key, table)
                if type(upd) is not dict or not upd or set(upd) - {"old", "new"}:
                    raise DataError("row-update must have \"old\" and/or \"new\"", value=upd,
                                    where=table)
                old, new = upd.get("old"), upd.get("new")
                if new is None:
                    out.append(RowUpdate(table, u, "delete",
                                         old=dec.row(old) if old is not None else None))
                elif old is None:
                    kind: UpdateKind = "initial" if initial else "insert"
                    out.append(RowUpdate(table, u, kind, dec.row(new)))
                else:
                    out.append(RowUpdate(table, u, "modify", new=dec.row(new),
                                         old=dec.partial(old)))
    return out


def decode_cond_since_reply(
    schema: DatabaseSchema, result: Any, **kw: Any
) -> tuple[bool, str, list[RowUpdate]]:
    """Decode a ``monitor_cond_since`` result: ``(found, last_txn_id, updates)``.

    When ``found`` is true the updates are the changes since the requested
    transaction; otherwise they are a full initial copy.
    """
    found, txn, updates = split_cond_since_reply(result)
    return found, txn, decode_update2(schema, updates, **kw)


def split_cond_since_reply(result: Any) -> tuple[bool, str, Any]:
    """Check the shape of a ``monitor_cond_since`` result and return ``(found,
    last_txn_id, table_updates)`` with the table updates still in JSON form."""
    if type(result) is not list or len(result) != 3 or type(result[0]) is not bool:
        raise DataError("monitor_cond_since result must be [found, last-txn-id, updates]",
                        value=result)
    found, txn, updates = result
    if type(txn) is not str:
        raise DataError("last-txn-id must be a string", value=txn)
    return found, txn, updates


def decode_update3_params(
    schema: DatabaseSchema, params: Any, **kw: Any
) -> tuple[Any, str, list[RowUpdate]]:
    """Decode the params of an ``update3`` notification: ``(monitor_id, last_txn_id, updates)``."""
    if type(params) is not list or len(params) != 3 or type(params[1]) is not str:
        raise DataError("update3 params must be [monitor-id, last-txn-id, updates]", value=params)
    return params[0], params[1], decode_update2(schema, params[2], **kw)


def apply_update(
    table: TableSchema, row: Mapping[str, Any] | None, update: RowUpdate
) -> dict[str, Any] | None:
    """Return the row after ``update`` (``None`` once deleted).

    For ``update2`` modify diffs each column's diff is applied to the old value
    (sets toggle, maps add/remove/replace, columns holding at most one value are
    replaced).
    """
    if update.kind == "delete":
        return None
    if update.kind in ("initial", "insert"):
        return dict(update.new or {})
    if update.diff is None:  # v1 modify: the new row is complete
        return dict(update.new or {})
    if row is None:
        raise RemoteProtocolError(
            f"modify of {table.name} row {update.uuid}, which the replica does not have"
        )
    new = dict(row)
    where = table.name
    for name, d in update.diff.items():
        col = table.column(name)
        new[name] = column_codec(col.type, f"{where}.{name}").apply_diff(row.get(name), d)
    return new


# --------------------------------------------------------------------------- requests


@attrs.frozen
class MonitorRequest:
    """What to monitor in one table.

    ``columns`` ``None`` means all columns. ``where`` (``monitor_cond`` only) is a
    list of conditions ANDed together; ``None``, ``()`` and ``(True,)`` all select
    every row, ``(False,)`` selects none.
    ``initial``/``insert``/``delete``/``modify`` select which changes are sent.
    """

    table: str
    columns: tuple[str, ...] | None = None
    where: tuple[Condition | bool, ...] | None = None
    initial: bool = True
    insert: bool = True
    delete: bool = True
    modify: bool = True

    def to_json(self, schema: DatabaseSchema, *, cond: bool) -> dict[str, Any]:
        """The ``<monitor-request>`` (or ``<monitor-cond-request>``) JSON."""
        table = schema.tables.get(self.table)
        if table is None:
            raise LocalProtocolError(f"database {schema.name} has no table {self.table!r}")
        out: dict[str, Any] = {}
        if self.columns is not None:
            for c in self.columns:
                if c not in table.columns:
                    raise LocalProtocolError(f"table {self.table} has no column {c!r}")
            out["columns"] = list(self.columns)
        if not (self.initial and self.insert and self.delete and self.modify):
            out["select"] = {
                "initial": self.initial, "insert": self.insert,
                "delete": self.delete, "modify": self.modify,
            }
        if self.where is not None:
            if not cond:
                raise LocalProtocolError("conditions need monitor_cond or monitor_cond_since")
            out["where"] = [
                c if isinstance(c, bool) else condition_to_json(table, c) for c in self.where
            ]
        return out


MonitorMethod: TypeAlias = Literal["monitor", "monitor_cond", "monitor_cond_since"]


def monitor_params(
    schema: DatabaseSchema,
    monitor_id: Any,
    requests: Iterable[MonitorRequest],
    *,
    method: MonitorMethod = "monitor_cond",
    last_txn_id: str = ZERO_TXN_ID,
) -> list[Any]:
    """The params of a ``monitor``, ``monitor_cond`` or ``monitor_cond_since`` request.

    Several requests may name the same table (the server merges them) only with
    ``monitor``-style lists; each table's requests are grouped into a list.
    """
    cond = method != "monitor"
    tables: dict[str, list[dict[str, Any]]] = {}
    for r in requests:
        tables.setdefault(r.table, []).append(r.to_json(schema, cond=cond))
    if not tables:
        raise LocalProtocolError("a monitor needs at least one table")
    params: list[Any] = [schema.name, monitor_id, tables]
    if method == "monitor_cond_since":
        params.append(last_txn_id)
    return params


def monitor_cond_change_params(
    schema: DatabaseSchema,
    monitor_id: Any,
    new_monitor_id: Any,
    changes: Iterable[MonitorRequest],
) -> list[Any]:
    """The params of ``monitor_cond_change``: new conditions per table.

    ovsdb-server does not support changing the monitored columns this way
    ("changing columns is unsupported"), so ``columns`` must be ``None``.
    """
    tables: dict[str, list[dict[str, Any]]] = {}
    for r in changes:
        if r.columns is not None:
            raise LocalProtocolError(
                f"monitor_cond_change cannot change the columns of {r.table}; "
                "cancel the monitor and start a new one"
            )
        body = r.to_json(schema, cond=True)
        body.pop("select", None)
        tables.setdefault(r.table, []).append(body)
    return [monitor_id, new_monitor_id, tables]
