"""``connect()``: a client that stays connected to a database across failures.

The client keeps one connection (a :class:`~ovsdb_ic.client.session.Session`) to
one remote of its list at a time. For a clustered database it checks, through
the server's ``_Server`` database, that the member is connected to its cluster,
is the leader (``leader_only``, the default), belongs to the pinned cluster and
is not behind what was already seen; it watches that row and moves on when it
stops being true. When the connection is lost it tries every remote (shuffled or
in order), backs off with jitter between rounds, and on the new connection
restores its monitors (resuming with ``monitor_cond_since`` from the last
transaction id) and locks. Requests made meanwhile wait for the new connection.

Transactions are never blindly resent: one whose bytes never left is resent; one
that was sent and lost its connection raises
:class:`~ovsdb_ic.errors.OutcomeUnknownError` unless the caller declared it
``idempotent``. See docs/failover.md.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Literal, final

import attrs
import trio

from ovsdb_ic.client.failover import (
    Backoff,
    ClientStats,
    ServerStatus,
    judge_server,
    round_order,
)
from ovsdb_ic.client.live import LiveReplica
from ovsdb_ic.client.monitor import Lock, Monitor, MonitorMethod
from ovsdb_ic.client.remotes import Remote, parse_remotes
from ovsdb_ic.client.session import OrderedResponse, Session
from ovsdb_ic.client.txn import Txn, TxnResult
from ovsdb_ic.errors import (
    CONFLICTS,
    ConfigError,
    ConnectError,
    ConnectionClosedError,
    InactivityTimeoutError,
    OutcomeUnknownError,
    OvsdbError,
    RequestNotSentError,
    RpcError,
    SchemaError,
    TransactionError,
    WaitTimedOutError,
    _one_error,
)
from ovsdb_ic.models.mapping import MODULES, check_compatible, model_schema
from ovsdb_ic.models.releases import newest_release, ovn_releases
from ovsdb_ic.replica import Replica
from ovsdb_ic.wire import ops as wire_ops
from ovsdb_ic.wire.jsonrpc import Notification, Request, Response
from ovsdb_ic.wire.monitor import ZERO_TXN_ID, MonitorRequest, decode_update2, monitor_params
from ovsdb_ic.wire.ops import Condition, OpResult
from ovsdb_ic.wire.schema import DatabaseSchema, parse_schema_cached

__all__ = ["Client", "connect", "open_stream"]

log = logging.getLogger("ovsdb_ic.client")

# Requests that read and change nothing: repeated on the next connection when the
# one they were sent on fails.
_REPEATABLE: Final = frozenset({"echo", "list_dbs", "get_schema", "get_server_id"})
_SERVER_COLUMNS: Final = ("name", "model", "connected", "leader", "index", "cid", "sid")
_SERVER_MONITOR_ID: Final = "_server"
_LOUD_AFTER_ROUNDS: Final = 8


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


class _Rejected(ConnectError):
    """A server answered but may not serve us (role checks); ``transient`` if waiting may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@attrs.frozen
class _Barrier:
    done: trio.Event


@final
class _Link:
    """One connection: its session, remote, and the _Server row seen on it."""

    def __init__(self, session: Session, remote: Remote) -> None:
        self.session = session
        self.remote = remote
        self.ended = trio.Event()
        self.error: BaseException | None = None
        self.server: ServerStatus | None = None
        self.server_seen = trio.Event()
        self.server_rows: Replica | None = None
        self.ready = False
        # The dispatcher: messages the session's reader hands on are handled by the
        # reader itself (Client._inbound) while nothing is queued for the dispatcher
        # task; once one is, everything after it queues too, until the task finds
        # the queue empty, so the stream order is kept.
        self.dispatching = False
        self.dispatch_error: Exception | None = None


@final
class Client:
    """A connected OVSDB client (see :func:`connect` and the module docstring)."""

    def __init__(
        self,
        remotes: Sequence[Remote],
        *,
        database: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        probe_interval: float | None = 5.0,
        leader_only: bool = True,
        shuffle: bool = True,
        reconnect: bool = True,
        backoff: Backoff | None = None,
        seed: int | None = None,
    ) -> None:
        """Configure a client; use :func:`connect` rather than this."""
        if not remotes:
            raise ConfigError("remotes", remotes, "no remote given")
        self.remotes = tuple(remotes)
        """The remote list, as given."""
        self.database = database
        self.ssl_context = ssl_context
        self.probe_interval = probe_interval
        self.leader_only = leader_only
        self.shuffle = shuffle
        self.reconnect = reconnect
        self.backoff = backoff or Backoff()
        self._rng = random.Random(seed)
        self.schema: DatabaseSchema | None = None
        """The schema of the database named at connect time, if any."""
        self._link: _Link | None = None
        self._last_link: _Link | None = None
        self._changed = trio.Event()
        self._closed: BaseException | None = None
        self._monitors: dict[str, Monitor] = {}
        self._live_monitors: set[Monitor] = set()
        self._resuming: set[Monitor] = set()
        self._locks: dict[str, Lock] = {}
        self._nursery: trio.Nursery | None = None
        self._next_monitor = 0
        self._server_schema: DatabaseSchema | None = None
        self.stats = ClientStats()
        """Connection statistics: remote, role, reconnects, resumes, resyncs, failovers."""
        self.schema_warnings: list[str] = []
        """Differences between the server's schema and our typed models that do not
        stop us from reading it (extra columns, wider enums, another version)."""
        self.retries = 0
        """Transactions re-run by :meth:`retry` after a failed optimistic check."""
        self.remonitors = 0
        """Monitors re-established after the server cancelled them (schema change)."""

    # ------------------------------------------------------------ connection

    def _current(self) -> _Link:
        link = self._link or self._last_link
        if link is None:
            raise ConnectionClosedError("not connected yet")
        return link

    def set_probe_interval(self, probe_interval: float | None) -> None:
        """Change the inactivity probe (seconds, ``None``: off) of the current
        connection and of the ones made after it."""
        if probe_interval is not None and probe_interval <= 0:
            raise ConfigError("probe_interval", probe_interval, "must be positive or None")
        self.probe_interval = probe_interval
        link = self._link
        if link is not None and not link.session.closed:
            link.session.set_probe_interval(probe_interval)

    @property
    def session(self) -> Session:
        """The current (or, while reconnecting, the last) session."""
        return self._current().session

    @property
    def remote(self) -> Remote:
        """The remote of the current (or last) connection."""
        return self._current().remote

    @property
    def server(self) -> ServerStatus | None:
        """What ``_Server`` last said about our database on the current connection."""
        link = self._link or self._last_link
        return None if link is None else link.server

    @property
    def connected(self) -> bool:
        """True while a checked connection is up."""
        return self._link is not None and self._link.ready and not self._link.session.closed

    def _notify(self) -> None:
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    async def wait_connected(self) -> None:
        """Wait until the client has a checked connection (raises once it is closed)."""
        await self._ready_session()

    async def _ready_session(self) -> Session:
        while True:
            if self._closed is not None:
                raise ConnectionClosedError(f"client is closed: {self._closed}") from self._closed
            link = self._link
            if link is not None and link.ready and not link.session.closed:
                return link.session
            await self._changed.wait()

    async def reconnect_now(self) -> None:
        """Drop the current connection; the client connects again (e.g. to rebalance)."""
        link = self._link
        if link is not None:
            await link.session.aclose()

    # ------------------------------------------------------------ plain calls

    async def request(self, method: str, params: list[Any]) -> Any:
        """Send any JSON-RPC request and return its result.

        Read-only requests (echo, list_dbs, get_schema) are repeated on the next
        connection when theirs fails; others raise the connection error (and
        those never sent are sent again).
        """
        return await self._send(method, params, resend_if_sent=method in _REPEATABLE)

    async def _send(
        self, method: str, params: list[Any], *, resend_if_sent: bool,
        ordered: object = None, count: bool = True,
    ) -> Any:
        """Send a request on the current connection, again on the next one when the
        request's bytes never left, or (``resend_if_sent``) when its connection failed
        before the answer. Otherwise, and without ``reconnect``, the connection error
        is raised. ``count``: count the resends in ``stats.resent``."""
        while True:
            link = self._link
            if link is not None and link.ready and not link.session.closed \
                    and self._closed is None:
                session = link.session  # connected: no coroutine to wait on
            else:
                session = await self._ready_session()
            try:
                return await session.request(method, params, ordered=ordered)
            except RequestNotSentError:
                if not self.reconnect:
                    raise
            except (ConnectionClosedError, InactivityTimeoutError):
                if not (self.reconnect and resend_if_sent):
                    raise
            if count:
                self.stats.resent += 1
            await trio.lowlevel.checkpoint()

    async def echo(self, *params: Any) -> list[Any]:
        """Round-trip an echo request; returns the echoed params."""
        result = await self.request("echo", list(params))
        return list(result)

    @property
    def schema_version(self) -> str | None:
        """The version of the server's schema of our database (``schema.version``,
        e.g. ``"1.3.0"`` for an OVN 25.03 IC-SB), or ``None`` before the first
        connection or without ``database=``."""
        return None if self.schema is None else self.schema.version

    @property
    def ovn_release(self) -> str | None:
        """The OVN release the server's schema version belongs to: the newest release
        (``"23.03"``, ``"25.03"``...) whose schema of our database is that version or
        older (see :mod:`ovsdb_ic.models.releases`); ``None`` when unknown.

        Several releases can share one schema version (IC-NB 1.0.0 is 22.03 to 23.09):
        :attr:`ovn_releases` lists them all.
        """
        if self.schema is None:
            return None
        return newest_release(self.schema.name, self.schema.version)

    @property
    def ovn_releases(self) -> tuple[str, ...]:
        """Every OVN release that ships the server's exact schema version of our
        database (empty when none known does)."""
        if self.schema is None:
            return ()
        return ovn_releases(self.schema.name, self.schema.version)

    async def list_dbs(self) -> list[str]:
        """The names of the databases the server has."""
        return [str(d) for d in await self.request("list_dbs", [])]

    async def get_schema(self, database: str) -> DatabaseSchema:
        """Fetch and parse the schema of ``database``."""
        return parse_schema_cached(await self.request("get_schema", [database]))

    async def transact(
        self,
        operations: Sequence[dict[str, Any]],
        *,
        schema: DatabaseSchema | None = None,
        idempotent: bool = False,
    ) -> list[OpResult]:
        """Run one transaction; return the results or raise TransactionError.

        If the connection fails after the transaction was sent and before its
        answer came, :class:`~ovsdb_ic.errors.OutcomeUnknownError` is raised: it
        may or may not have been committed. With ``idempotent=True`` the client
        instead sends it again on the next connection; declare that only for
        transactions whose own ``wait`` operations (or whose nature) make a
        second run harmless (docs/failover.md). A transaction whose bytes never
        left is always sent again.
        """
        schema = schema or self.schema
        if schema is None:
            raise ConfigError("database", None, "transact needs connect(database=...) or schema=")
        params = wire_ops.transact_params(schema, operations)
        try:
            result = await self._send("transact", params, resend_if_sent=idempotent)
        except RequestNotSentError:
            raise  # without reconnect: it never left, so the outcome is known
        except (ConnectionClosedError, InactivityTimeoutError) as exc:
            self.stats.outcome_unknown += 1
            raise OutcomeUnknownError(
                f"connection lost after the transaction was sent ({exc}); "
                "it may or may not have been committed"
            ) from exc
        return wire_ops.decode_transact_result(schema, operations, result)

    def transaction(self, schema: DatabaseSchema | None = None) -> Txn:
        """A new, empty :class:`~ovsdb_ic.client.txn.Txn` on the client's database."""
        schema = schema or self.schema
        if schema is None:
            raise ConfigError("database", None, "transaction needs connect(database=...)")
        return Txn(schema)

    async def commit(self, txn: Txn, *, idempotent: bool = False) -> TxnResult:
        """Run a built transaction; raises the typed TransactionError on failure, and
        :class:`~ovsdb_ic.errors.RowNotFoundError` when a row it updates, mutates or
        deletes does not exist (nothing is changed then).

        ``idempotent`` as for :meth:`transact`.
        """
        try:
            results = await self.transact(txn.ops, schema=txn.schema, idempotent=idempotent)
        except WaitTimedOutError as exc:
            missing = txn.not_found(exc)
            if missing is None:
                raise
            raise missing from exc
        return txn.result(results)

    async def retry(
        self,
        build: Callable[[Txn], Awaitable[None] | None],
        *,
        attempts: int = 5,
        live: LiveReplica | None = None,
    ) -> TxnResult:
        """Read-modify-write with optimistic checks: build, commit, and on a conflict
        (:func:`~ovsdb_ic.errors.is_conflict`: a failed :meth:`Txn.expect`, a unique-index
        or referential-integrity violation) build again from fresh data.

        ``build`` reads what it needs (typically from ``live.replica``) and adds
        operations plus ``expect`` checks to the Txn it is given. With ``live``,
        a retry first waits (up to a second) for the replica to change. After
        ``attempts`` failed tries the last conflict is raised.
        """
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        last: TransactionError | None = None
        for _ in range(attempts):
            txn = self.transaction()
            pending = build(txn)
            if pending is not None:
                await pending
            try:
                return await self.commit(txn)
            except CONFLICTS as exc:
                last = exc
                self.retries += 1
                if live is not None:
                    await _replica_changes(live, live.replica.version)
        assert last is not None
        raise last

    async def barrier(self) -> None:
        """Return once everything the server sent before now has been dispatched.

        An ``echo`` whose reply is handled in stream order: when it returns, every
        update notification that preceded it (e.g. those of a transaction just
        committed) has been handed to its monitor.
        """
        done = trio.Event()
        await self._send("echo", ["barrier"], resend_if_sent=True, ordered=_Barrier(done),
                         count=False)
        await done.wait()

    async def caught_up(self, live: LiveReplica) -> None:
        """Return once ``live`` (a replica of this client) shows everything the server
        sent before now, e.g. the effects of a transaction this client just committed.

        Bound it with ``trio.move_on_after``: it waits for the replica's consumer.
        """
        await self.barrier()
        mon = live.monitor

        def applied(_replica: Replica) -> bool:
            return live.transactions >= mon.batches_received

        await live.wait_for(applied)

    async def set_db_change_aware(self, aware: bool = True) -> None:
        """Ask to be told (monitor_canceled) instead of disconnected on schema changes."""
        await self.request("set_db_change_aware", [aware])

    # --------------------------------------------------------------- monitors

    async def monitor(
        self,
        requests: Sequence[MonitorRequest],
        *,
        method: MonitorMethod = "monitor_cond_since",
        last_txn_id: str = ZERO_TXN_ID,
        schema: DatabaseSchema | None = None,
        raw_reply: bool = False,
    ) -> Monitor:
        """Start a monitor; iterate the returned :class:`Monitor` for batches.

        The first batch holds the initial contents. After a reconnect the
        monitor is restored on the new connection: ``monitor_cond_since``
        monitors resume from the last transaction id (a batch with only the
        changes), others (and resumes the server cannot serve) get a full
        ``initial`` batch. If the server cancels the monitor because the
        database's schema changed (``monitor_canceled``, e.g. ``ovsdb-client
        convert``), the client fetches the new schema and monitors again.

        With ``raw_reply``, the batch of each reply to the monitor request (the initial
        one, and those after a reconnect) carries the reply's table updates as parsed
        JSON in :attr:`UpdateBatch.raw`, neither decoded nor checked, for a caller that
        validates them its own way; notifications are decoded as usual.
        """
        schema = schema or self.schema
        if schema is None:
            raise ConfigError("database", None, "monitor needs connect(database=...) or schema=")
        self._next_monitor += 1
        mon = Monitor(f"m{self._next_monitor}", schema, requests, method, last_txn_id,
                      raw_reply=raw_reply)
        self._monitors[mon.id] = mon
        try:
            await self._send(method, mon.params(), resend_if_sent=True, ordered=mon,
                             count=False)
        except BaseException:
            self._monitors.pop(mon.id, None)
            mon.close()
            raise
        self._live_monitors.add(mon)
        return mon

    async def replicate(
        self,
        tables: Sequence[str] | Mapping[str, Sequence[str] | None],
        *,
        schema: DatabaseSchema | None = None,
        missing: Literal["error", "skip"] = "error",
    ) -> LiveReplica:
        """Keep a :class:`~ovsdb_ic.replica.Replica` of ``tables`` current.

        ``tables`` names tables (all columns) or maps them to column lists.
        Returns once the initial copy is applied; the replica then follows
        every server transaction, across reconnects, until the client closes.

        A table or column the server's schema lacks is never monitored. With
        ``missing="error"`` (the default) naming one raises
        :class:`~ovsdb_ic.errors.LocalProtocolError`; with ``missing="skip"`` it is
        left out of the request and the replica (an older OVN's server: typed rows
        then read it as its default, see :func:`~ovsdb_ic.models.to_model`).
        """
        schema = schema or self.schema
        if schema is None:
            raise ConfigError("database", None, "replicate needs connect(database=...) or schema=")
        if self._nursery is None:
            raise ConfigError("client", None, "replicate needs a client opened by connect()")
        spec: dict[str, Sequence[str] | None] = (
            dict(tables) if isinstance(tables, Mapping) else dict.fromkeys(tables)
        )
        if missing == "skip":
            spec = {
                t: None if cols is None else [c for c in cols if c in schema.tables[t].columns]
                for t, cols in spec.items()
                if t in schema.tables
            }
        replica = Replica(schema, spec)
        mon = await self.monitor(replica.monitor_requests(), schema=schema)
        live = LiveReplica(replica, mon)
        await self._nursery.start(live.run)
        return live

    async def monitor_cond_change(
        self, monitor: Monitor, changes: Sequence[MonitorRequest]
    ) -> None:
        """Replace the conditions of tables of a live monitor (not its columns)."""
        session = await self._ready_session()
        self._next_monitor += 1
        new_id = f"m{self._next_monitor}"
        params = monitor.change_params(new_id, changes)
        # ovsdb-server sends the updates for the new conditions, under the new
        # id, before its reply: route that id to the monitor before asking.
        self._monitors[new_id] = monitor
        try:
            await session.request("monitor_cond_change", params)
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
        self._live_monitors.discard(monitor)
        try:
            link = self._link
            if link is not None and not link.session.closed:
                await link.session.request("monitor_cancel", [monitor.id])
        finally:
            monitor.close()

    # ------------------------------------------------------------------ locks

    async def lock(self, name: str) -> Lock:
        """Request lock ``name``; ``Lock.held`` tells whether it was granted now.

        The lock is requested again on every new connection (locks belong to a
        connection): after a failover :attr:`Lock.held` is false until the new
        server grants it.
        """
        lk = self._locks.setdefault(name, Lock(name))
        result = await self.request("lock", [name])
        if isinstance(result, dict) and result.get("locked") is True:
            lk._set_held()
        return lk

    async def steal(self, name: str) -> Lock:
        """Take lock ``name`` from whoever holds it."""
        lk = self._locks.setdefault(name, Lock(name))
        await self.request("steal", [name])
        lk._set_held()
        return lk

    async def unlock(self, name: str) -> None:
        """Release (or stop waiting for) lock ``name``."""
        lk = self._locks.pop(name, None)
        if lk is not None:
            lk.held = False
        await self.request("unlock", [name])

    # ------------------------------------------------------- connecting, checks

    async def _open_link(self, remote: Remote) -> _Link:
        """Connect to one remote and run the checks; raise when it cannot serve us."""
        assert self._nursery is not None
        try:
            stream = await open_stream(remote, ssl_context=self.ssl_context)
        except OSError as exc:
            raise ConnectError(f"{remote}: {_os_reason(exc)}") from exc
        session = Session(stream, name=str(remote), probe_interval=self.probe_interval)
        link = _Link(session, remote)
        session.handler = functools.partial(self._inbound, link)
        await self._nursery.start(self._run_link, link)
        await self._nursery.start(self._dispatch, link)
        try:
            # A server that accepts and then says nothing (SIGSTOP) must not hold
            # up the failover for longer than the probe would.
            with trio.fail_after(self.probe_interval or 10.0):
                await self._handshake(link)
        except trio.TooSlowError:
            await session.aclose()
            raise ConnectError(f"{remote}: no answer during the connection checks") from None
        except BaseException:
            await session.aclose()
            raise
        return link

    async def _handshake(self, link: _Link) -> None:
        """Check a new connection and restore the client's state on it.

        Round trips: our database's schema, ``_Server``'s (first connection only) and
        db-change-awareness are asked for at once; our database's row of
        ``_Server.Database`` as soon as ``_Server``'s schema is known (at once on a
        reconnect), while ours is parsed and checked; then the locks and monitors being
        restored, all at once.
        """
        session = link.session
        remote = link.remote
        database = self.database
        if database is None:
            return
        watch = _Watch()
        aware: list[Any] = [None]
        checked: tuple[DatabaseSchema, list[str]] | BaseException
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._watch_server, link, database, watch)
            # Be told about schema changes (monitor_canceled) instead of being
            # disconnected; servers older than OVS 2.11 refuse, which is fine.
            nursery.start_soon(_ask, session, "set_db_change_aware", [True], aware, 0)
            try:
                answer: Any = await session.request("get_schema", [database])
            except Exception as exc:  # raised below, once the other requests are done
                answer = exc
            # Our database's _Server row is asked for before ours is parsed, so that
            # the server answers while we parse.
            await watch.asked.wait()
            checked = _check_schema(remote, database, answer)
            if isinstance(checked, BaseException):
                nursery.cancel_scope.cancel()
        if isinstance(checked, BaseException):
            raise checked
        schema, warnings = checked
        if watch.error is not None:
            raise watch.error
        if isinstance(aware[0], Exception) and not isinstance(aware[0], RpcError):
            raise aware[0]
        status = link.server
        if status is not None:
            reason, transient = judge_server(
                status, leader_only=self.leader_only, cluster_id=self.stats.cluster_id,
                min_index=self.stats.max_index,
            )
            if reason is not None:
                self.stats.rejected += 1
                raise _Rejected(f"{remote}: {database} {reason}", transient=transient)
            self._learn(status)
        if self.schema is None or self.schema.cksum != schema.cksum or \
                self.schema.version != schema.version:
            self.schema = schema
            self.schema_warnings = warnings
        calls: list[tuple[str, list[Any], object]] = []
        locks = list(self._locks.items())
        for name, _lk in locks:
            calls.append(("lock", [name], None))
        for mon in list(self._live_monitors):
            if mon.schema.name == schema.name and mon.schema.cksum != schema.cksum:
                mon.schema = schema
                mon._decoders.clear()
            self._monitors[mon.id] = mon
            self._resuming.add(mon)
            calls.append((mon.method, mon.params(), mon))
        if not calls:
            return
        # Locks and monitors are restored at once (one round trip, not one each).
        answers = await _requests(session, calls)
        for (_name, lk), result in zip(locks, answers, strict=False):
            result = _result(result)
            if isinstance(result, dict) and result.get("locked") is True:
                lk._set_held()
        for result in answers[len(locks):]:
            _result(result)

    async def _watch_server(self, link: _Link, database: str, watch: _Watch) -> None:
        """Monitor our database's row of ``_Server.Database`` (only that row), and
        wait for it; ``watch.asked`` is set once that is asked for (or cannot be), and
        an error is kept in ``watch.error`` (a server without ``_Server``, very old, is
        not one: there is nothing to check then)."""
        session = link.session
        try:
            if self._server_schema is None:
                try:
                    answer = await session.request("get_schema", ["_Server"])
                except RpcError:
                    return  # a server without _Server (very old): nothing to check
                self._server_schema = parse_schema_cached(answer)
            schema = self._server_schema
            cols = tuple(c for c in _SERVER_COLUMNS if c in schema.tables["Database"].columns)
            link.server_rows = Replica(schema, {"Database": cols})
            request = MonitorRequest("Database", columns=cols,
                                     where=(Condition("name", "==", database),))
            params = monitor_params(schema, _SERVER_MONITOR_ID, [request],
                                    method="monitor_cond")
            watch.asked.set()
            await session.request("monitor_cond", params, ordered=link)
            await link.server_seen.wait()
        except Exception as exc:  # raised by _handshake
            watch.error = exc
        finally:
            watch.asked.set()

    def _server_update(self, link: _Link, table_updates: Any) -> None:
        """Apply a _Server update on ``link``; drop the link when it stops qualifying."""
        rows = link.server_rows
        if rows is None:
            return
        rows.apply(decode_update2(rows.schema, table_updates))
        row = next(iter(rows.table("Database")), None)
        if row is None:
            return
        status = ServerStatus.from_row(row)
        link.server = status
        link.server_seen.set()
        if not link.ready:
            return
        reason, _ = judge_server(status, leader_only=self.leader_only,
                                 cluster_id=self.stats.cluster_id, min_index=0)
        if reason is not None:
            log.warning("%s: %s; moving on", link.remote, reason)
            self.stats.leader_changes += 1
            self.stats.last_failure = f"{link.remote}: {reason}"
            link.error = ConnectError(f"{link.remote}: {reason}")
            assert self._nursery is not None
            self._nursery.start_soon(link.session.aclose)
        else:
            self._learn(status)

    def _learn(self, status: ServerStatus) -> None:
        self.stats.role = status.role
        if status.model == "clustered":
            if self.stats.cluster_id is None and status.cid is not None:
                self.stats.cluster_id = status.cid
            if status.index is not None and status.index > self.stats.max_index:
                self.stats.max_index = status.index

    async def _round(self, last: Remote | None, failures: list[Exception]) -> _Link | None:
        """Try every remote once; the first that passes the checks wins."""
        for remote in round_order(self.remotes, shuffle=self.shuffle, last=last, rng=self._rng):
            try:
                return await self._open_link(remote)
            except (OvsdbError, OSError) as exc:
                self.stats.failed_attempts += 1
                self.stats.last_failure = str(exc)
                log.debug("%s", exc)
                failures.append(exc)
        return None

    async def _establish(self, *, initial: bool, last: Remote | None) -> _Link:
        """Connect to a remote that can serve us, backing off between failed rounds.

        The first connection gives up after one round unless a server answered
        and was refused for a reason that waiting can fix (an election running);
        later ones keep trying until the client is closed.
        """
        failed_rounds = 0
        while True:
            failures: list[Exception] = []
            link = await self._round(last, failures)
            if link is not None:
                return link
            transient = any(isinstance(f, _Rejected) and f.transient for f in failures)
            if initial and not transient:
                reasons = "; ".join(" ".join(str(f).split()) for f in failures)
                raise ConnectError(f"could not connect to any of {reasons}") from ExceptionGroup(
                    "connection attempts", failures
                )
            failed_rounds += 1
            delay = self.backoff.delay(failed_rounds, self._rng)
            if transient:
                # A member answered and is waiting for an election: a new leader is
                # usually there within the election timer, so keep polling briskly
                # instead of letting the backoff grow past it.
                delay = min(delay, 2 * self.backoff.initial)
            # An election takes a few rounds: say so quietly at first, then loudly.
            log.log(logging.WARNING if failed_rounds >= _LOUD_AFTER_ROUNDS else logging.INFO,
                    "no remote can serve (%s); retrying in %.2f s",
                    "; ".join(str(f) for f in failures), delay)
            await trio.sleep(delay)

    def _set_link(self, link: _Link) -> None:
        link.ready = True
        self._link = link
        self._last_link = link
        self.stats.remote = str(link.remote)
        self.stats.connects += 1
        if link.server is None:
            self.stats.role = "unknown" if self.database is not None else None
        self._notify()

    async def _supervise(self, link: _Link) -> None:
        """Follow the current link; when it ends, connect again (or close the client)."""
        while True:
            await link.ended.wait()
            lost_at = trio.current_time()
            self._link = None
            self.stats.remote = None
            for lk in self._locks.values():
                lk._set_lost()
            error = link.error or link.session._closed
            self.stats.last_failure = str(error) if error else None
            self._notify()
            if not self.reconnect:
                self._close(error or ConnectionClosedError("connection closed"))
                return
            log.warning("%s: connection lost (%s); reconnecting", link.remote, error)
            try:
                link = await self._establish(initial=False, last=link.remote)
            except OvsdbError as exc:  # permanent (schema no longer compatible)
                self._close(exc)
                raise
            self.stats.reconnects += 1
            self.stats.failover_durations.append(trio.current_time() - lost_at)
            self._set_link(link)

    def _close(self, error: BaseException) -> None:
        if self._closed is None:
            self._closed = error
        for mon in list(self._monitors.values()) + list(self._live_monitors):
            mon.close(self._closed)
        for lk in self._locks.values():
            lk._close(self._closed)
        self._monitors.clear()
        self._live_monitors.clear()
        self._notify()

    async def _run_link(self, link: _Link, *, task_status: trio.TaskStatus[None]) -> None:
        """Run a link's session; its failure reaches waiting callers, not the nursery."""
        try:
            with contextlib.suppress(OvsdbError):
                await link.session.run(task_status=task_status)
        finally:
            link.ended.set()

    # ------------------------------------------------------------- dispatcher

    def _inbound(self, link: _Link, event: Notification | Request | OrderedResponse) -> bool:
        """The session's reader hands on a message: handle it now when nothing is queued
        for the dispatcher task and it needs no waiting (a monitor's reply is decoded in
        parts, by the task); return False to have it queued for the task.

        This saves a task switch per update. An error is kept for the dispatcher task,
        which raises it where it always did (into the client's nursery).
        """
        if link.dispatching:
            return False
        if isinstance(event, OrderedResponse) and isinstance(event.tag, Monitor):
            link.dispatching = True
            return False
        try:
            self._handle(link, event)
        except Exception as exc:  # raised again by the dispatcher task
            link.dispatch_error = exc
            link.dispatching = True
            return False
        return True

    async def _dispatch(self, link: _Link, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        notifications = link.session.notifications
        while True:
            # Take the messages already queued without a checkpoint each (one task
            # switch per small update limited how fast updates were followed).
            try:
                event = notifications.receive_nowait()
            except trio.WouldBlock:
                link.dispatching = False  # the reader may handle the next one itself
                try:
                    event = await notifications.receive()
                except trio.EndOfChannel:
                    return
            except trio.EndOfChannel:
                return
            if link.dispatch_error is not None:
                raise link.dispatch_error
            if isinstance(event, OrderedResponse) and isinstance(event.tag, Monitor):
                tag = event.tag
                if isinstance(event.response, Response):
                    await tag.handle_reply_async(event.response.result)
                    if tag in self._resuming:
                        self._resuming.discard(tag)
                        if tag.method == "monitor_cond_since" and tag.last_found:
                            self.stats.resumes += 1
                        else:
                            self.stats.resyncs += 1
            else:
                self._handle(link, event)
            # Do not keep the last (possibly huge) message alive while waiting.
            del event

    def _handle(self, link: _Link, event: Notification | Request | OrderedResponse) -> None:
        """Handle one message the reader handed on (all but a monitor's reply)."""
        if isinstance(event, Notification):
            self._notification(link, event)
        elif isinstance(event, OrderedResponse):
            tag = event.tag
            if isinstance(tag, _Barrier):
                tag.done.set()
            elif tag is link and isinstance(event.response, Response):
                self._server_update(link, event.response.result)
        else:
            # Requests other than echo (answered by the session): refuse.
            link.session.send_reply(event, None)

    def _notification(self, link: _Link, event: Notification) -> None:
        p = event.params
        if event.method in ("update", "update2", "update3") and p:
            if p[0] == _SERVER_MONITOR_ID and event.method == "update2" and len(p) == 2:
                self._server_update(link, p[1])
                return
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
            # The connection failed meanwhile: the next connection restores it.
            self._monitors.setdefault(mon.id, mon)

    async def _remonitor_once(self, mon: Monitor) -> None:
        schema = await self.get_schema(mon.schema.name)
        if self.schema is not None and self.schema.name == schema.name:
            self.schema = schema
        mon.schema = schema
        mon._decoders.clear()
        self._monitors[mon.id] = mon
        self.remonitors += 1
        session = await self._ready_session()
        await session.request(mon.method, mon.params(), ordered=mon)


@asynccontextmanager
async def connect(
    remotes: str | Sequence[str],
    *,
    database: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    probe_interval: float | None = 5.0,
    leader_only: bool = True,
    shuffle: bool = True,
    reconnect: bool = True,
    backoff: Backoff | None = None,
    seed: int | None = None,
) -> AsyncIterator[Client]:
    """Connect to a remote of ``remotes`` that can serve ``database``; stay connected.

    ``remotes`` is an OVSDB remote list (``"tcp:a:6645,tcp:b:6645"``, ``unix:PATH``,
    ``ssl:HOST:PORT``), tried in random order (``shuffle=False``: in the given
    order). With ``database``, a server without it is skipped, and for a clustered
    database only a member connected to its cluster, of the same cluster as
    before, not behind, and (``leader_only``, the default) the leader is used.

    The first connection tries every remote once and raises
    :class:`~ovsdb_ic.errors.ConnectError` (``from`` an ExceptionGroup with one
    error per remote) when none can serve, unless a cluster member answered and
    is only waiting for an election: then it keeps trying (bound it with
    ``trio.fail_after``). Afterwards a lost connection is replaced (``reconnect``,
    the default), with ``backoff`` between rounds; with ``reconnect=False`` the
    session's error surfaces to waiting callers and the client is closed.
    ``seed`` fixes the shuffling and jitter (tests).
    """
    parsed = parse_remotes(remotes if isinstance(remotes, str) else list(remotes))
    client = Client(parsed, database=database, ssl_context=ssl_context,
                    probe_interval=probe_interval, leader_only=leader_only, shuffle=shuffle,
                    reconnect=reconnect, backoff=backoff, seed=seed)
    # The nursery is ours, not the caller's: their exception is handed back as it
    # was raised, not wrapped in a group.
    with _one_error():
        async with trio.open_nursery() as nursery:
            client._nursery = nursery
            link = await client._establish(initial=True, last=None)
            client._set_link(link)
            nursery.start_soon(client._supervise, link)
            try:
                yield client
            finally:
                client._close(ConnectionClosedError("client closed"))
                nursery.cancel_scope.cancel()
                with trio.CancelScope(shield=True):
                    if client._link is not None:
                        await client._link.session.aclose()


def _check_models(schema: DatabaseSchema) -> list[str]:
    """Check the server's schema against our models for that database, if we have any.

    Raises SchemaError (naming Table.column) when a column the models need is missing
    or has another type; returns the harmless differences.
    """
    if schema.name not in MODULES:
        return []
    # By name: the check builds no model class (a client that reads raw rows, like the
    # sync engine, never pays for them).
    return check_compatible(schema.name, schema)


_CHECKED: dict[str, tuple[DatabaseSchema, list[str]]] = {}


def _check_schema(
    remote: Remote, database: str, answer: Any
) -> tuple[DatabaseSchema, list[str]] | BaseException:
    """Our database's schema from the ``get_schema`` answer (or the exception it
    raised) and its check against the models: (schema, warnings), or the
    ConnectError to raise."""
    try:
        # The models' schema of the database (when there are models): the server's
        # tables that are exactly the models' are not parsed (a server of the models'
        # release: almost none is), and the check below skips them.
        like = model_schema(database) if database in MODULES else None
        schema = parse_schema_cached(_result(answer), like)
    except RpcError as exc:
        return _chained(ConnectError(f"{remote}: {database}: {exc.error_name}"), exc)
    except (ConnectionClosedError, InactivityTimeoutError) as exc:
        return _chained(ConnectError(f"{remote}: {exc}"), exc)
    except Exception as exc:  # a bad schema (SchemaError), ...
        return exc
    # The same schema (the same JSON: a reconnect, another member of the cluster, a
    # second client of the database) was checked already.
    last = _CHECKED.get(database)
    if last is not None and last[0] is schema:
        return schema, list(last[1])
    try:
        warnings = _check_models(schema)
    except SchemaError as exc:
        return _chained(ConnectError(f"{remote}: {database}: {exc}"), exc)
    _CHECKED[database] = (schema, warnings)
    return schema, list(warnings)


def _chained(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


@final
class _Watch:
    """How the ``_Server`` part of a handshake went (see ``Client._watch_server``)."""

    def __init__(self) -> None:
        self.asked = trio.Event()
        self.error: Exception | None = None


async def _ask(session: Session, method: str, params: list[Any], answers: list[Any], i: int,
               ordered: object = None) -> None:
    """``answers[i]``: the result of one request, or the exception it raised."""
    try:
        answers[i] = await session.request(method, params, ordered=ordered)
    except Exception as exc:  # handed back to the caller
        answers[i] = exc


async def _requests(
    session: Session, calls: Sequence[tuple[str, list[Any], object]]
) -> list[Any]:
    """Send every request (method, params, ``ordered`` tag) at once; each one's result,
    or the exception it raised (not raised here: see :func:`_result`), in order."""
    answers: list[Any] = [None] * len(calls)
    if len(calls) == 1:
        method, params, ordered = calls[0]
        await _ask(session, method, params, answers, 0, ordered)
        return answers
    async with trio.open_nursery() as nursery:
        for i, (method, params, ordered) in enumerate(calls):
            nursery.start_soon(_ask, session, method, params, answers, i, ordered)
    return answers


def _result(answer: Any) -> Any:
    """An answer of :func:`_requests`: the result, or its exception raised."""
    if isinstance(answer, Exception):
        raise answer
    return answer


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
