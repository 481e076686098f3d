"""``connect()``: open a session to the first remote that answers, as a trio context.

Failover across remotes, leader detection and resume are a later layer; here
the remotes of a list are tried in order and the first that accepts the
connection (and has ``database``, when one is named) is used.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, final

import attrs
import trio

from ovsdb_ic.client.live import LiveReplica
from ovsdb_ic.client.monitor import Lock, Monitor, MonitorMethod
from ovsdb_ic.client.remotes import Remote, parse_remotes
from ovsdb_ic.client.session import OrderedResponse, Session
from ovsdb_ic.client.txn import Txn, TxnResult
from ovsdb_ic.errors import ConfigError, ConnectError, OvsdbError, RpcError, WaitTimedOutError
from ovsdb_ic.models.mapping import check_compatible, models_module
from ovsdb_ic.replica import Replica
from ovsdb_ic.wire import ops as wire_ops
from ovsdb_ic.wire.jsonrpc import Notification, Request, Response
from ovsdb_ic.wire.monitor import ZERO_TXN_ID, MonitorRequest
from ovsdb_ic.wire.ops import OpResult
from ovsdb_ic.wire.schema import DatabaseSchema, parse_schema

__all__ = ["Client", "connect", "open_stream"]


async def open_stream(
    remote: Remote, *, ssl_context: ssl.SSLContext | None = None
) -> trio.abc.Stream:
    """Open the byte stream of one remote (tcp, unix or ssl)."""
    if remote.kind == "unix":
        return await trio.open_unix_socket(remote.path)
    if remote.kind == "tcp":
        return await trio.open_tcp_stream(remote.host, remote.port)
    if ssl_context is None:
        raise ConfigError("ssl_context", None, f"{remote} needs an ssl.SSLContext (key, cert, CA)")
    return await trio.open_ssl_over_tcp_stream(remote.host, remote.port, ssl_context=ssl_context)


@final
class Client:
    """A connected OVSDB client (see :func:`connect`)."""

    def __init__(self, session: Session, remote: Remote) -> None:
        """Wrap an open session; use :func:`connect` rather than this."""
        self.session = session
        self.remote = remote
        self.schema: DatabaseSchema | None = None
        """The schema of the database named at connect time, if any."""
        self._monitors: dict[str, Monitor] = {}
        self._locks: dict[str, Lock] = {}
        self._nursery: trio.Nursery | None = None
        self._next_monitor = 0
        self.schema_warnings: list[str] = []
        """Differences between the server's schema and our typed models that do not
        stop us from reading it (extra columns, wider enums, another version)."""
        self.retries = 0
        """Transactions re-run by :meth:`retry` after a failed optimistic check."""
        self.remonitors = 0
        """Monitors re-established after the server cancelled them (schema change)."""

    # ------------------------------------------------------------ plain calls

    async def request(self, method: str, params: list[Any]) -> Any:
        """Send any JSON-RPC request and return its result."""
        return await self.session.request(method, params)

    async def echo(self, *params: Any) -> list[Any]:
        """Round-trip an echo request; returns the echoed params."""
        result = await self.session.request("echo", list(params))
        return list(result)

    async def list_dbs(self) -> list[str]:
        """The names of the databases the server has."""
        return [str(d) for d in await self.session.request("list_dbs", [])]

    async def get_schema(self, database: str) -> DatabaseSchema:
        """Fetch and parse the schema of ``database``."""
        return parse_schema(await self.session.request("get_schema", [database]))

    async def transact(
        self, operations: Sequence[dict[str, Any]], *, schema: DatabaseSchema | None = None
    ) -> list[OpResult]:
        """Run one transaction; return the results or raise TransactionError."""
        schema = schema or self.schema
        if schema is None:
            raise ConfigError("database", None, "transact needs connect(database=...) or schema=")
        result = await self.session.request(
            "transact", wire_ops.transact_params(schema, operations)
        )
        return wire_ops.decode_transact_result(schema, operations, result)

    def transaction(self, schema: DatabaseSchema | None = None) -> Txn:
        """A new, empty :class:`~ovsdb_ic.client.txn.Txn` on the client's database."""
        schema = schema or self.schema
        if schema is None:
            raise ConfigError("database", None, "transaction needs connect(database=...)")
        return Txn(schema)

    async def commit(self, txn: Txn) -> TxnResult:
        """Run a built transaction; raises the typed TransactionError on failure."""
        return txn.result(await self.transact(txn.ops, schema=txn.schema))

    async def retry(
        self,
        build: Callable[[Txn], Awaitable[None] | None],
        *,
        attempts: int = 5,
        live: LiveReplica | None = None,
    ) -> TxnResult:
        """Read-modify-write with optimistic checks: build, commit, and on a failed
        :meth:`Txn.expect` (``WaitTimedOutError``) build again from fresh data.

        ``build`` reads what it needs (typically from ``live.replica``) and adds
        operations plus ``expect`` checks to the Txn it is given. With ``live``,
        a retry first waits (up to a second) for the replica to change. After
        ``attempts`` failed tries the last WaitTimedOutError is raised.
        """
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        last: WaitTimedOutError | None = None
        for _ in range(attempts):
            txn = self.transaction()
            pending = build(txn)
            if pending is not None:
                await pending
            try:
                return await self.commit(txn)
            except WaitTimedOutError as exc:
                last = exc
                self.retries += 1
                if live is not None:
                    await _replica_changes(live, live.replica.version)
        assert last is not None
        raise last

    async def set_db_change_aware(self, aware: bool = True) -> None:
        """Ask to be told (monitor_canceled) instead of disconnected on schema changes."""
        await self.session.request("set_db_change_aware", [aware])

    # --------------------------------------------------------------- monitors

    async def monitor(
        self,
        requests: Sequence[MonitorRequest],
        *,
        method: MonitorMethod = "monitor_cond_since",
        last_txn_id: str = ZERO_TXN_ID,
        schema: DatabaseSchema | None = None,
    ) -> Monitor:
        """Start a monitor; iterate the returned :class:`Monitor` for batches.

        The first batch holds the initial contents. If the server cancels the
        monitor because the database's schema changed (``monitor_canceled``,
        e.g. ``ovsdb-client convert``), the client fetches the new schema and
        monitors again; the next batch is then a full ``initial`` one.
        """
        schema = schema or self.schema
        if schema is None:
            raise ConfigError("database", None, "monitor needs connect(database=...) or schema=")
        self._next_monitor += 1
        mon = Monitor(f"m{self._next_monitor}", schema, requests, method, last_txn_id)
        self._monitors[mon.id] = mon
        try:
            await self.session.request(method, mon.params(), ordered=mon)
        except BaseException:
            self._monitors.pop(mon.id, None)
            mon.close()
            raise
        return mon

    async def replicate(
        self,
        tables: Sequence[str] | Mapping[str, Sequence[str] | None],
        *,
        schema: DatabaseSchema | None = None,
    ) -> LiveReplica:
        """Keep a :class:`~ovsdb_ic.replica.Replica` of ``tables`` current.

        ``tables`` names tables (all columns) or maps them to column lists.
        Returns once the initial copy is applied; the replica then follows
        every server transaction until the client closes.
        """
        schema = schema or self.schema
        if schema is None:
            raise ConfigError("database", None, "replicate needs connect(database=...) or schema=")
        if self._nursery is None:
            raise ConfigError("client", None, "replicate needs a client opened by connect()")
        spec = dict(tables) if isinstance(tables, Mapping) else {t: None for t in tables}
        replica = Replica(schema, spec)
        mon = await self.monitor(replica.monitor_requests(), schema=schema)
        live = LiveReplica(replica, mon)
        await self._nursery.start(live.run)
        return live

    async def monitor_cond_change(
        self, monitor: Monitor, changes: Sequence[MonitorRequest]
    ) -> None:
        """Replace the conditions of tables of a live monitor (not its columns)."""
        self._next_monitor += 1
        new_id = f"m{self._next_monitor}"
        params = monitor.change_params(new_id, changes)
        # ovsdb-server sends the updates for the new conditions, under the new
        # id, before its reply: route that id to the monitor before asking.
        self._monitors[new_id] = monitor
        try:
            await self.session.request("monitor_cond_change", params)
        except BaseException:
            self._monitors.pop(new_id, None)
            raise
        self._monitors.pop(monitor.id, None)
        monitor.id = new_id
        by_table = {c.table: c for c in changes}
        monitor.requests = tuple(
            attrs.evolve(r, where=by_table[r.table].where) if r.table in by_table else r
            for r in monitor.requests
        )

    async def monitor_cancel(self, monitor: Monitor) -> None:
        """Cancel a monitor; its iteration ends."""
        self._monitors.pop(monitor.id, None)
        try:
            await self.session.request("monitor_cancel", [monitor.id])
        finally:
            monitor.close()

    # ------------------------------------------------------------------ locks

    async def lock(self, name: str) -> Lock:
        """Request lock ``name``; ``Lock.held`` tells whether it was granted now."""
        lk = self._locks.setdefault(name, Lock(name))
        result = await self.session.request("lock", [name])
        if isinstance(result, dict) and result.get("locked") is True:
            lk._set_held()
        return lk

    async def steal(self, name: str) -> Lock:
        """Take lock ``name`` from whoever holds it."""
        lk = self._locks.setdefault(name, Lock(name))
        await self.session.request("steal", [name])
        lk._set_held()
        return lk

    async def unlock(self, name: str) -> None:
        """Release (or stop waiting for) lock ``name``."""
        await self.session.request("unlock", [name])
        lk = self._locks.pop(name, None)
        if lk is not None:
            lk.held = False

    # ------------------------------------------------------------- dispatcher

    async def _dispatch(self, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        try:
            async for event in self.session.notifications:
                if isinstance(event, OrderedResponse):
                    mon = event.tag
                    if isinstance(mon, Monitor) and isinstance(event.response, Response):
                        mon.handle_reply(event.response.result)
                elif isinstance(event, Notification):
                    self._notification(event)
                elif isinstance(event, Request):
                    # Requests other than echo (answered by the session): refuse.
                    self.session.send_reply(event, None)
        finally:
            for mon in self._monitors.values():
                mon.close()

    def _notification(self, event: Notification) -> None:
        p = event.params
        if event.method in ("update", "update2", "update3") and p:
            mon = self._monitors.get(p[0]) if isinstance(p[0], str) else None
            if mon is not None:
                mon.handle_notification(event.method, p)
        elif event.method == "locked" and p:
            lk = self._locks.get(p[0])
            if lk is not None:
                lk._set_held()
        elif event.method == "stolen" and p:
            lk = self._locks.get(p[0])
            if lk is not None:
                lk._set_stolen()
        elif event.method == "monitor_canceled" and p:
            mon = self._monitors.pop(p[0], None) if isinstance(p[0], str) else None
            if mon is not None and self._nursery is not None:
                self._nursery.start_soon(self._remonitor, mon)

    async def _remonitor(self, mon: Monitor) -> None:
        try:
            await self._remonitor_once(mon)
        except OvsdbError:
            # The connection failed meanwhile: the monitor ends, like the others.
            mon.close()

    async def _remonitor_once(self, mon: Monitor) -> None:
        schema = await self.get_schema(mon.schema.name)
        if self.schema is not None and self.schema.name == schema.name:
            self.schema = schema
        mon.schema = schema
        mon._decoders.clear()
        self._monitors[mon.id] = mon
        self.remonitors += 1
        await self.session.request(mon.method, mon.params(), ordered=mon)


@asynccontextmanager
async def connect(
    remotes: str | Sequence[str],
    *,
    database: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    probe_interval: float | None = 5.0,
) -> AsyncIterator[Client]:
    """Connect to the first remote of ``remotes`` that answers.

    ``remotes`` is an OVSDB remote list (``"tcp:a:6645,tcp:b:6645"``, ``unix:PATH``,
    ``ssl:HOST:PORT``). With ``database``, its schema is fetched and a server
    without it is skipped. When every remote fails, :class:`ConnectError` is
    raised from an ExceptionGroup holding one error per remote. Errors of the
    session (peer closed, inactivity timeout) surface as themselves, not
    wrapped in groups.
    """
    parsed = parse_remotes(remotes if isinstance(remotes, str) else list(remotes))
    failures: list[Exception] = []
    try:
        async with trio.open_nursery() as nursery:
            client = await _first_answering(
                nursery, parsed, database, ssl_context, probe_interval, failures
            )
            if client is not None:
                client._nursery = nursery
                await nursery.start(client._dispatch)
                try:
                    yield client
                finally:
                    await client.session.aclose()
    except BaseExceptionGroup as group:
        # The nursery is ours, not the caller's: hand back their exception as
        # it was raised, not wrapped in a group.
        if len(group.exceptions) == 1:
            raise group.exceptions[0]  # noqa: B904 - keep the original chain
        raise
    if client is None:
        names = ", ".join(str(r) for r in parsed)
        raise ConnectError(f"could not connect to any of {names}") from ExceptionGroup(
            "connection attempts", failures
        )


async def _first_answering(
    nursery: trio.Nursery,
    remotes: Sequence[Remote],
    database: str | None,
    ssl_context: ssl.SSLContext | None,
    probe_interval: float | None,
    failures: list[Exception],
) -> Client | None:
    for remote in remotes:
        try:
            stream = await open_stream(remote, ssl_context=ssl_context)
        except OSError as exc:
            failures.append(ConnectError(f"{remote}: {_os_reason(exc)}"))
            continue
        session = Session(stream, name=str(remote), probe_interval=probe_interval)
        await nursery.start(_run_quietly, session)
        client = Client(session, remote)
        if database is not None:
            try:
                client.schema = await client.get_schema(database)
                client.schema_warnings = _check_models(client.schema)
            except OvsdbError as exc:
                failures.append(ConnectError(f"{remote}: {database}: {exc}"))
                await session.aclose()
                continue
            # Be told about schema changes (monitor_canceled) instead of being
            # disconnected; servers older than OVS 2.11 refuse, which is fine.
            with contextlib.suppress(RpcError):
                await client.set_db_change_aware(True)
        return client
    return None


def _check_models(schema: DatabaseSchema) -> list[str]:
    """Check the server's schema against our models for that database, if we have any.

    Raises SchemaError (naming Table.column) when a column the models need is missing
    or has another type; returns the harmless differences.
    """
    if models_module(schema.name) is None:
        return []
    return check_compatible(schema.name, schema)


async def _replica_changes(live: LiveReplica, seen: int) -> None:
    """Wait up to a second for the replica to move past version ``seen``."""

    def moved(replica: Replica) -> bool:
        return replica.version != seen

    with trio.move_on_after(1.0):
        await live.wait_for(moved)


def _os_reason(exc: OSError) -> str:
    """The most specific reason of a failed connect (trio groups per-address errors)."""
    cause = exc.__cause__
    while isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        cause = cause.exceptions[0]
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return exc.strerror or str(exc)


async def _run_quietly(session: Session, *, task_status: trio.TaskStatus[None]) -> None:
    """Run a session; its failure is re-raised to the caller of the request, not here."""
    # Every waiting request already got the error; a new request after the
    # failure raises ConnectionClosedError. Not propagating keeps the context
    # manager from cancelling the caller's code behind its back.
    with contextlib.suppress(OvsdbError):
        await session.run(task_status=task_status)
