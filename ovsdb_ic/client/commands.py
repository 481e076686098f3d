"""What ``ovsdb-ic dump`` and ``ovsdb-ic monitor`` do, as reusable coroutines.

:func:`dump` is one-shot: it tries each remote once (each within a time
limit) and either returns the tables or raises :class:`DumpError` carrying one
line per remote saying what went wrong. :func:`monitor_changes` runs until
cancelled: it reconnects with exponential backoff after any failure, resumes
with ``monitor_cond_since`` from the last transaction id, and reports a full
resync as ordinary insert/modify/delete events.
"""

from __future__ import annotations

import json
import math
import random
import ssl
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from typing import Any

import orjson
import trio

from ovsdb_ic.client.connection import Client, connect
from ovsdb_ic.client.remotes import parse_remotes
from ovsdb_ic.errors import ConnectError, OvsdbError, RemoteProtocolError, RpcError
from ovsdb_ic.replica import Change, Replica
from ovsdb_ic.wire import ops as wire_ops
from ovsdb_ic.wire._gc import gc_paused
from ovsdb_ic.wire.data import column_codec
from ovsdb_ic.wire.dump import dump_headings, format_table
from ovsdb_ic.wire.monitor import (
    ZERO_TXN_ID,
    MonitorRequest,
    RowUpdate,
    decode_update,
    decode_update2,
)
from ovsdb_ic.wire.rowjson import canonical_uuid_keys, initial_columns, value_encoder
from ovsdb_ic.wire.schema import DatabaseSchema, TableSchema

__all__ = ["DumpError", "dump", "dump_lines", "monitor_changes", "row_to_json"]


class DumpError(OvsdbError):
    """No remote could be dumped; ``problems`` has one line per remote."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _describe(exc: BaseException) -> str:
    """One line for an attempt's failure, without traceback noise."""
    if isinstance(exc, ConnectError) and isinstance(exc.__cause__, BaseExceptionGroup):
        inner = exc.__cause__.exceptions
        if inner:
            text = str(inner[0])
            return text.split(": ", 1)[1] if ": " in text else text
    if isinstance(exc, RpcError):
        return exc.reason
    return str(exc)


def _attempts(exc: BaseException) -> list[str]:
    """One line per remote tried (``remote: reason``) for a failed connection."""
    if isinstance(exc, ConnectError) and isinstance(exc.__cause__, BaseExceptionGroup):
        return [" ".join(str(e).split()) for e in exc.__cause__.exceptions]
    return [" ".join(str(exc).split())]


def _unknown_database(exc: BaseException) -> bool:
    """Whether every remote answered that it has no such database (a typo no wait fixes)."""
    if not (isinstance(exc, ConnectError) and isinstance(exc.__cause__, BaseExceptionGroup)):
        return False
    causes = [e.__cause__ for e in exc.__cause__.exceptions]
    return bool(causes) and all(
        isinstance(c, RpcError) and c.error_name == "unknown database" for c in causes)


def row_to_json(table: TableSchema, row: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """The OVSDB JSON form of ``row``'s ``columns``."""
    out: dict[str, Any] = {}
    for name in columns:
        if name in row:
            col = table.column(name)
            out[name] = column_codec(col.type, f"{table.name}.{name}").encode(row[name])
    return out


async def _dump_with(client: Client, schema: DatabaseSchema, tables: Sequence[str]) -> list[
    bytes
]:
    """One ``select`` per table; each reply table validated and printed without decoding."""
    names = list(tables) or sorted(schema.tables)
    for name in names:
        if name not in schema.tables:
            raise DumpError([f"database {schema.name} has no table {name!r}"])
    selects = [{"op": "select", "table": name, "where": [],
                "columns": dump_headings(schema.tables[name])} for name in names]
    result = await client.request("transact", [schema.name, *selects])
    if (type(result) is not list or len(result) < len(selects)
            or any(type(r) is not dict or "error" in r for r in result)):
        # Raises the TransactionError of a failed select or a RemoteProtocolError.
        wire_ops.decode_transact_result(schema, selects, result)
    out = []
    with gc_paused():
        for name, res in zip(names, result, strict=False):
            rows = res.get("rows")
            if type(rows) is not list:
                raise RemoteProtocolError(f"select result of {name} lacks rows: {res!r:.200}")
            out.append(format_table(schema.tables[name], rows))
    return out


async def dump_lines(
    remotes: str,
    database: str,
    tables: Sequence[str] = (),
    *,
    attempt_seconds: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
) -> list[bytes]:
    """Dump ``tables`` (default: all): one line per table, byte for byte what
    ``ovsdb-client -f json dump`` prints (:func:`~ovsdb_ic.wire.dump.format_table`).

    Each remote is tried once, for at most ``attempt_seconds``; ``ssl_context`` is for
    ``ssl:`` remotes; when none works, :class:`DumpError` carries one line per remote.
    """
    problems: list[str] = []
    for remote in parse_remotes(remotes, field="--db"):
        with trio.move_on_after(attempt_seconds) as scope:
            try:
                async with connect(str(remote), database=database, probe_interval=None,
                                   reconnect=False, ssl_context=ssl_context) as c:
                    assert c.schema is not None
                    return await _dump_with(c, c.schema, tables)
            except DumpError:
                raise
            except OvsdbError as exc:
                problems.append(f"{remote}: {_describe(exc)}")
                continue
        if scope.cancelled_caught:
            problems.append(f"{remote}: timed out after {attempt_seconds:g} s")
    raise DumpError(problems)


async def dump(
    remotes: str,
    database: str,
    tables: Sequence[str] = (),
    *,
    attempt_seconds: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
) -> list[dict[str, Any]]:
    """Dump ``tables`` (default: all) like ``ovsdb-client -f json dump``: one dict per table.

    Each remote is tried once, for at most ``attempt_seconds``; ``ssl_context`` is for
    ``ssl:`` remotes.
    """
    lines = await dump_lines(remotes, database, tables, attempt_seconds=attempt_seconds,
                             ssl_context=ssl_context)
    return [json.loads(line) for line in lines]


_Enc = Callable[[Any], Any]
_Encoders = dict[str, tuple[dict[str, _Enc | None], list[tuple[str, _Enc]]]]


def _uuid_json(u: Any) -> list[str]:
    return ["uuid", str(u)]


def _encoders(schema: DatabaseSchema, tables: Sequence[str]) -> _Encoders:
    """Each column's encoder (None: the value is its JSON), built once per table."""
    out: _Encoders = {}
    for name in tables:
        table = schema.tables[name]
        enc: dict[str, _Enc | None] = {c: value_encoder(col.type)
                                       for c, col in table.columns.items()}
        enc["_version"] = _uuid_json
        out[name] = (enc, [(c, f) for c, f in enc.items() if f is not None])
    return out


def _row_json(encoders: tuple[dict[str, _Enc | None], list[tuple[str, _Enc]]],
              row: dict[str, Any], columns: Sequence[str] | None = None) -> dict[str, Any]:
    """``row`` (a replica row's ``to_dict()``, changed in place when ``columns`` is None)
    as JSON: all its columns, or only ``columns``."""
    enc, needed = encoders
    if columns is None:
        for c, f in needed:
            if c in row:
                row[c] = f(row[c])
        return row
    out = {}
    for c in columns:
        if c in row:
            g = enc[c]
            out[c] = row[c] if g is None else g(row[c])
    return out


def _event(encoders: _Encoders, change: Change) -> dict[str, Any]:
    """The JSON line of one change: full rows for inserts/deletes, changed columns for modifies."""
    enc = encoders[change.table]
    kind = "initial" if change.initial else change.kind
    out: dict[str, Any] = {"table": change.table, "uuid": str(change.uuid), "kind": kind}
    if change.kind == "modify":
        assert change.old is not None and change.new is not None
        cols = sorted(change.changed_columns())
        out["old"] = _row_json(enc, change.old.to_dict(), cols)
        out["new"] = _row_json(enc, change.new.to_dict(), cols)
    elif change.new is not None:
        out["new"] = _row_json(enc, change.new.to_dict())
    elif change.old is not None:
        out["old"] = _row_json(enc, change.old.to_dict())
    return out


_Pending = dict[str, dict[str, Any]]
"""Rows of an initial copy printed but not yet decoded into the replica: table ->
the reply's ``<table-update2>`` object (UUID text -> ``{"initial": row}``)."""

_InitialRows = list[tuple[TableSchema, list[str], list[str], list[list[Any]]]]


def _initial_rows(schema: DatabaseSchema, tables: Sequence[str], raw: Any) -> _InitialRows | None:
    """The rows of a monitor's first initial copy (``raw``, the reply's
    ``<table-updates2>`` as parsed), per table: ``(table, UUIDs, columns, the JSON of
    each column's values)``, validated column-wise without decoding (see
    :func:`~ovsdb_ic.wire.rowjson.initial_columns`).

    None when the reply holds anything but ``initial`` rows of the monitored tables
    keyed by lower-case UUIDs: the caller then decodes it, which either raises the
    precise error or handles the unusual case as before. A value that does not fit
    its column raises :class:`~ovsdb_ic.errors.DataError` naming ``Table.column``.
    """
    if type(raw) is not dict or not set(raw) <= set(tables):
        return None
    out = []
    for name, rows in raw.items():
        if type(rows) is not dict:
            return None
        uuids = list(rows)
        updates = list(rows.values())
        if updates and (set(map(type, updates)) != {dict} or set(map(len, updates)) != {1}):
            return None
        try:
            bodies = list(map(dict.__getitem__, updates, repeat("initial", len(updates))))
        except KeyError:
            return None
        if bodies and set(map(type, bodies)) != {dict}:
            return None
        if not canonical_uuid_keys(uuids):
            return None
        table = schema.tables[name]
        columns = list(table.columns)
        out.append((table, uuids, columns, initial_columns(table, columns, bodies)))
    return out


def _initial_lines(rows: _InitialRows, emit: Callable[[dict[str, Any]], None],
                   write: Callable[[bytes], object] | None) -> None:
    """Emit (or write as JSON lines) one ``initial`` event per row of :func:`_initial_rows`.

    The lines written are byte for byte ``orjson.dumps`` of each event, but come from
    one ``orjson.dumps`` of the list of them (a call costs about a microsecond whatever
    the value): the list's separators are the only places where ``}},{"table":``
    occurs, since no value in an event is an object and a quote in a string is always
    escaped.
    """
    for table, uuids, columns, values in rows:
        if not uuids:
            continue
        news: Iterable[dict[str, Any]] = (
            map(dict, map(zip, repeat(columns), zip(*values, strict=True))) if columns
            else ({} for _ in uuids))
        name = table.name
        events = [{"table": name, "uuid": u, "kind": "initial", "new": new}
                  for u, new in zip(uuids, news, strict=True)]
        if write is None:
            for event in events:
                emit(event)
        else:
            text = orjson.dumps(events).replace(b'}},{"table":', b'}}\n{"table":')
            write(text[1:-1])
            write(b"\n")


def _decode_reply(schema: DatabaseSchema, method: str, requests: Sequence[MonitorRequest],
                  raw: Any) -> list[RowUpdate]:
    """The updates of a monitor reply left undecoded (``raw_reply``)."""
    columns = {r.table: r.columns for r in requests if r.columns is not None} or None
    if method == "monitor":
        return decode_update(schema, raw, initial=True, columns=columns)
    return decode_update2(schema, raw, columns=columns)


def _materialize(replica: Replica, requests: Sequence[MonitorRequest], pending: _Pending,
                 updates: Sequence[RowUpdate] | None) -> None:
    """Decode into ``replica`` the pending rows ``updates`` touch (None: all of them),
    so that applying ``updates`` (or a reset) sees the replica it would have seen had
    every initial row been decoded at once."""
    if not pending:
        return
    take: _Pending = {}
    if updates is None:
        take = {t: rows for t, rows in pending.items() if rows}
        pending.clear()
    else:
        for u in updates:
            rows = pending.get(u.table)
            if rows:
                key = str(u.uuid)
                body = rows.pop(key, None)
                if body is not None:
                    take.setdefault(u.table, {})[key] = body
    if take:
        replica.apply(_decode_reply(replica.schema, "monitor_cond", requests, take))


async def monitor_changes(
    remotes: str,
    database: str,
    tables: Sequence[str],
    emit: Callable[[dict[str, Any]], None],
    *,
    log: Callable[[str], None] = lambda _msg: None,
    flush: Callable[[], None] = lambda: None,
    backoff_max: float = 8.0,
    give_up_after: float | None = None,
    ssl_context: ssl.SSLContext | None = None,
    write: Callable[[bytes], object] | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Emit every change of ``tables`` as a JSON-able dict until cancelled (with
    ``write``, each change's JSON line, as bytes, goes to ``write`` instead).

    Initial rows come first (kind ``initial``), then ``insert``/``modify``
    (with ``old`` and ``new`` values of the changed columns)/``delete``. After
    a reconnect the monitor resumes from the last transaction id; when the
    server cannot resume, the fresh copy goes through ``Replica.reset`` and
    only the differences are emitted.

    ``log`` gets one line when a failure starts and one each time its reason changes
    (not one per retry). With ``give_up_after`` (seconds), a stretch of that long without
    a working connection (from the start or from the last loss) ends the monitor with a
    :class:`DumpError` naming the last reason; without it, it retries until cancelled.
    ``flush`` is called after the events of each batch (an output stream can be
    written without flushing every line).

    The first initial copy is printed straight from the reply, validated column-wise
    without decoding (:func:`~ovsdb_ic.wire.rowjson.initial_columns`); its rows go
    into the replica only when a later update touches them (or a resync needs them
    all), so following changes and resuming work exactly as with every row decoded.
    """
    parse_remotes(remotes, field="--db")
    replica: Replica | None = None
    pending: _Pending = {}

    def out(event: dict[str, Any]) -> None:
        if write is None:
            emit(event)
        else:
            write(orjson.dumps(event) + b"\n")

    last_txn = ZERO_TXN_ID
    started = False
    delay = 0.25
    said = ""
    reason = "no remote could serve in time"
    down_since = trio.current_time()
    while True:
        limit = math.inf if give_up_after is None else down_since + give_up_after
        with trio.CancelScope(deadline=limit) as scope:
            try:
                # reconnect=False: this loop reconnects, so the bound covers every gap.
                async with connect(remotes, database=database, reconnect=False,
                                   ssl_context=ssl_context) as client:
                    schema = client.schema
                    assert schema is not None
                    for t in tables:
                        if t not in schema.tables:
                            raise DumpError([f"database {database} has no table {t!r}"])
                    fresh = replica is None
                    encoders = _encoders(schema, tables)
                    if replica is None:
                        replica = Replica(schema, {t: None for t in tables})
                    requests = replica.monitor_requests()
                    mon = await client.monitor(requests, last_txn_id=last_txn, raw_reply=True)
                    scope.deadline = math.inf
                    if said:
                        log(f"{client.remote}: connected")
                        said = ""
                    if not started:
                        started = True
                        task_status.started()
                    delay = 0.25
                    async for batch in mon:
                        rows = None
                        if batch.raw is not None and fresh:
                            with gc_paused():
                                rows = _initial_rows(schema, tables, batch.raw)
                        if rows is not None:
                            pending = {t.name: batch.raw[t.name] for t, _, _, _ in rows}
                            with gc_paused():
                                _initial_lines(rows, emit, write)
                            del rows
                        else:
                            updates = batch.updates
                            if batch.raw is not None:
                                # The monitor's schema: after a conversion the server
                                # may have sent this copy under a newer one.
                                updates = tuple(_decode_reply(mon.schema, mon.method,
                                                              requests, batch.raw))
                            if batch.initial and not fresh:
                                _materialize(replica, requests, pending, None)
                                changes = replica.reset(updates)
                            else:
                                _materialize(replica, requests, pending, updates)
                                changes = replica.apply(updates)
                            for change in changes:
                                out(_event(encoders, change))
                        fresh = False
                        flush()
                        if batch.last_txn_id is not None:
                            last_txn = batch.last_txn_id
                    raise ConnectError(f"{client.remote}: connection closed")
            except DumpError:
                raise
            except OvsdbError as exc:
                if not started and _unknown_database(exc):
                    raise DumpError(_attempts(exc)) from exc
                if scope.deadline == math.inf:
                    down_since = trio.current_time()  # a working connection was lost
                reason = "; ".join(_attempts(exc))
                wait = min(delay, backoff_max) * (0.5 + random.random() / 2)
                if reason != said:
                    log(f"{reason}; retrying in {wait:.1f} s" + (
                        "" if give_up_after is None else
                        f" (and for up to {give_up_after:g} s)"))
                    said = reason
                await trio.sleep(wait)
                delay = min(delay * 2, backoff_max)
        if scope.cancelled_caught:
            raise DumpError([f"{remotes}: no working connection for {give_up_after:g} s "
                             f"(last: {reason})"])
