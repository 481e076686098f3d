"""The one orchestration path: open the four databases, commit plans, converge (trio).

Everything that writes to an OVN-IC deployment from plans goes through here: the sync
engine (:class:`~ovsdb_ic.sync.runner.SyncEngine`, the ``ovsdb-ic sync`` daemon) and the
Kube-OVN commands (:mod:`ovsdb_ic.kubeovn.commands`: establish, teardown, reset, show,
routes).

* :func:`open_databases` connects to the databases of an :class:`AzRemotes` (or any
  subset), all at once, through the failover client, and keeps one live replica per
  database holding what the readers' :class:`~ovsdb_ic.ic.Requirements` list, their
  client indexes installed. It yields a :class:`Databases` once every replica holds its
  initial copy, or raises :class:`UnreachableError` naming every remote that failed.
* :func:`commit_plan` commits a :class:`~ovsdb_ic.sync.plan.Plan`: one transaction per
  database (two where :attr:`CommitPolicy.apart` sets inserts apart), guarded by
  ``wait`` checks (:func:`~ovsdb_ic.sync.commit.transaction_ops`)
  and, with a lock in the policy, an ``assert`` of it on SB; then it waits until each
  replica shows its commit. What a conflict is (:func:`~ovsdb_ic.errors.is_conflict`)
  and what an unknown outcome counts as are decided here, once.
* :func:`converge` plans and commits until a plan is empty, re-reading and planning
  again after a conflict, within the bounds of its :class:`CommitPolicy`.

What callers differ in is data, a :class:`CommitPolicy`: the commit order (all
databases at once, as the C daemon; or one after another), the lock, whether an unknown
outcome is a conflict, how long to wait for the replicas to catch up, and the bounds of
:func:`converge`.
"""

from __future__ import annotations

import math
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, Literal, Protocol, final

import attrs
import trio

from ovsdb_ic.client import Client, LiveReplica, Lock, connect
from ovsdb_ic.client.failover import Backoff
from ovsdb_ic.client.live import _AnyChange, watch_any
from ovsdb_ic.client.remotes import remote_list_validator
from ovsdb_ic.constants import LOCK_NAME
from ovsdb_ic.errors import (
    ConfigError,
    ConnectError,
    ConnectionClosedError,
    NotOwnerError,
    OvsdbError,
    TransactionError,
    _one_error,
    is_conflict,
)
from ovsdb_ic.ic.databases import DATABASES, LABELS, DatabaseKey, Requirements, Snapshot
from ovsdb_ic.replica import Replica, gc_paused
from ovsdb_ic.sync.commit import transaction_ops
from ovsdb_ic.sync.plan import Insert, Mutate, Op, Plan, Update
from ovsdb_ic.wire import ops as wire_ops
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.schema import DatabaseSchema

__all__ = [
    "ALL_DATABASES",
    "LOCK_NAME",
    "ApplyError",
    "AzRemotes",
    "CatchUpTimeoutError",
    "CommitPolicy",
    "CommitResult",
    "ConnectOptions",
    "ConvergeResult",
    "Databases",
    "UnreachableError",
    "commit_plan",
    "converge",
    "open_databases",
]

ALL_DATABASES: Final[tuple[DatabaseKey, ...]] = ("ic_nb", "ic_sb", "nb", "sb")
"""The four database keys, in the order messages list them."""

Report = Callable[[str], None]
"""A callback taking one line of text."""

_SLOW: Final = 1.0  # seconds before a step is worth a progress line
_STILL_EVERY: Final = 5.0


def _ignore(_line: str) -> None:
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ---------------------------------------------------------------------------- errors


class UnreachableError(OvsdbError, ConnectionError):
    """One or more databases could not be connected to (or replicated in time).

    ``problems`` holds one line per failed remote, each starting with the database's
    label (``NB``, ``SB``, ``IC-NB``, ``IC-SB``).
    """

    def __init__(self, problems: Sequence[str]) -> None:
        """Carry ``problems`` (at least one line)."""
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


class ApplyError(OvsdbError, RuntimeError):
    """A plan could not be carried out: a transaction failed for a reason that planning
    again does not fix, conflicts went on too long, or the plan never became empty."""


class CatchUpTimeoutError(OvsdbError, TimeoutError):
    """A replica did not show a committed transaction within the policy's
    ``catch_up_timeout``; ``db`` is the database key."""

    def __init__(self, db: DatabaseKey, seconds: float) -> None:
        """Say which replica lagged and for how long."""
        super().__init__(f"{LABELS[db]}: the replica did not show the committed "
                         f"transaction within {seconds:g} s")
        self.db = db
        self.seconds = seconds


# -------------------------------------------------------------------------- settings


class _IcRemoteSource(Protocol):
    def ic_nb_remotes(self, scheme: Literal["tcp", "ssl"] = ...) -> str: ...

    def ic_sb_remotes(self, scheme: Literal["tcp", "ssl"] = ...) -> str: ...


@attrs.frozen(repr=False, eq=False)
class AzRemotes:
    """Where one AZ's four databases are (OVSDB remote lists in the C tools' syntax,
    ``tcp:``, ``ssl:``, ``unix:``, comma-separated for clusters).

    Each is checked when built; a bad one raises
    :class:`~ovsdb_ic.errors.ConfigError` naming the command-line option.
    :class:`~ovsdb_ic.sync.runner.SyncConfig` extends it.
    """

    ovnnb_db: str = attrs.field(validator=remote_list_validator("--ovnnb-db"))
    """The AZ's OVN_Northbound."""
    ovnsb_db: str = attrs.field(validator=remote_list_validator("--ovnsb-db"))
    """The AZ's OVN_Southbound."""
    ic_nb_db: str = attrs.field(validator=remote_list_validator("--ic-nb-db"))
    """OVN_IC_Northbound."""
    ic_sb_db: str = attrs.field(validator=remote_list_validator("--ic-sb-db"))
    """OVN_IC_Southbound."""

    @classmethod
    def from_config(
        cls,
        config: _IcRemoteSource,
        *,
        ovnnb_db: str,
        ovnsb_db: str,
        ic_nb_db: str | None = None,
        ic_sb_db: str | None = None,
        scheme: str = "tcp",
    ) -> AzRemotes:
        """The IC remotes from a config's ``ic-db-host`` and ports (e.g.
        :meth:`~ovsdb_ic.kubeovn.IcConfig.ic_nb_remotes`), unless given."""
        if scheme not in ("tcp", "ssl"):
            raise ConfigError("scheme", scheme, 'must be "tcp" or "ssl"')
        kind: Literal["tcp", "ssl"] = "ssl" if scheme == "ssl" else "tcp"
        return AzRemotes(
            ovnnb_db=ovnnb_db,
            ovnsb_db=ovnsb_db,
            ic_nb_db=ic_nb_db or config.ic_nb_remotes(kind),
            ic_sb_db=ic_sb_db or config.ic_sb_remotes(kind),
        )

    def as_dict(self) -> dict[DatabaseKey, str]:
        """The remote list of each database key."""
        return {"nb": self.ovnnb_db, "sb": self.ovnsb_db, "ic_nb": self.ic_nb_db,
                "ic_sb": self.ic_sb_db}

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


@final
@attrs.frozen(repr=False, eq=False)
class ConnectOptions:
    """How :func:`open_databases` connects."""

    ssl_context: ssl.SSLContext | None = None
    """Key, certificate and CA for ``ssl:`` remotes."""
    probe_interval: float | None = 5.0
    """The clients' inactivity probe."""
    backoff: Backoff | None = None
    """Reconnect backoff of the clients (default: the client's)."""
    leader_only: bool = True
    """Connect only to Raft leaders; False also accepts followers and OVSDB relays."""
    reconnect: bool = True
    """Whether the clients reconnect after losing their server (``False``: a lost
    connection ends the work at once, e.g. a server being stopped)."""
    connect_timeout: float | None = None
    """Seconds to connect to every database and copy its tables before giving up with
    :class:`UnreachableError` (``None``: as long as the client keeps trying)."""
    progress: Report = _ignore
    """Receives progress lines for slow connections."""
    locks: tuple[tuple[DatabaseKey, str], ...] = ()
    """``(database key, lock name)`` pairs: each lock is requested as soon as its
    database is connected, while its tables are copied (``Databases.locks``), one
    round trip less before the caller can act (the sync engine's ``ovn_ic`` on SB)."""

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


@final
@attrs.frozen(repr=False, eq=False)
class CommitPolicy:
    """What the users of :func:`commit_plan` and :func:`converge` differ in."""

    order: tuple[DatabaseKey, ...] | None = None
    """``None``: commit every database's part at once (as the C daemon commits its four
    IDL transactions in one loop iteration). A tuple: one after another in that order,
    stopping at the first that does not commit."""
    lock: str | None = None
    """A lock to ``assert`` at the head of every SB transaction (the caller holds it)."""
    outcome_unknown_is_conflict: bool = False
    """Whether an :class:`~ovsdb_ic.errors.OutcomeUnknownError` (the connection failed
    before the answer) is a conflict (read again, plan again: safe, since every
    transaction is guarded) rather than a failure."""
    catch_up_timeout: float | None = None
    """Seconds to wait for a replica to show its commit; past it the commit counts as a
    failure (:class:`CatchUpTimeoutError`). ``None``: no bound."""
    comment: str | None = None
    """An OVSDB ``comment`` added to every transaction (shown in the server's log)."""
    apart: frozenset[tuple[DatabaseKey, str]] = frozenset()
    """``(database key, table)`` pairs whose inserts :func:`commit_plan` sends in a
    transaction of their own, beside the rest of that database's part (built from the
    same snapshot and sent at once; ``order=None`` only). Inserts that allocate a
    unique key race with other agents: losing the race then fails only them, not the
    rest of the pass. The sync engine sets IC-SB ``Datapath_Binding`` and
    ``Port_Binding``: when N AZs start together they all take the same next tunnel key,
    and one transaction per database would hold every loser's route advertisements
    back for a round per lost key. A database part where the table is also updated,
    mutated or deleted, or where named UUIDs cross between the two, stays whole."""
    max_passes: int = 10
    """:func:`converge`: plans (committed, or abandoned after a conflict) before giving up."""
    max_conflicts: int = 5
    """:func:`converge`: conflicts tolerated before giving up."""

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


@final
@attrs.frozen(repr=False, eq=False)
class CommitResult:
    """What :func:`commit_plan` did."""

    committed: Mapping[DatabaseKey, int] = attrs.field(factory=dict)
    """Per database that committed, the number of plan operations it carried."""
    conflicts: Mapping[DatabaseKey, OvsdbError] = attrs.field(factory=dict)
    """Per database whose transaction met a conflict, the error."""
    failures: Mapping[DatabaseKey, OvsdbError] = attrs.field(factory=dict)
    """Per database whose transaction (or catch-up) failed otherwise, the error."""
    lock_lost: bool = False
    """Whether SB refused the transaction because the lock is no longer held."""

    @property
    def ok(self) -> bool:
        """True when every transaction committed and every replica caught up."""
        return not (self.conflicts or self.failures or self.lock_lost)

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


@final
@attrs.frozen(repr=False, eq=False)
class ConvergeResult:
    """What :func:`converge` did."""

    passes: int
    """Plans made (the last one empty, unless dry-run)."""
    transactions: int
    """Transactions committed."""
    operations: int
    """Plan operations committed."""
    conflicts: int
    """Conflicts met (each followed by reading again and planning again)."""

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


# ------------------------------------------------------------------------- databases


def _rows(replica: Replica) -> int:
    return sum(len(view) for view in replica.tables.values())


@final
class Databases:
    """Connected clients and their live replicas, by database key
    (see :func:`open_databases`)."""

    def __init__(self) -> None:
        """Empty; :func:`open_databases` fills it."""
        self.clients: dict[DatabaseKey, Client] = {}
        """The failover client of each database."""
        self.replicas: dict[DatabaseKey, LiveReplica] = {}
        """The live replica of each database."""
        self.locks: dict[DatabaseKey, Lock] = {}
        """The locks requested through ``ConnectOptions.locks``, by database key."""
        self._empty: dict[DatabaseKey, Replica] = {}
        self._watch: _AnyChange | None = None

    def snapshot(self) -> Snapshot:
        """The replicas as a planner snapshot; a database that was not opened is an
        empty replica of its schema (for planners that read only some databases)."""
        parts: dict[str, Replica] = {}
        for key in ALL_DATABASES:
            live = self.replicas.get(key)
            if live is not None:
                parts[key] = live.replica
                continue
            if key not in self._empty:
                from ovsdb_ic.models.mapping import model_schema

                self._empty[key] = Replica(model_schema(DATABASES[key]))
            parts[key] = self._empty[key]
        return Snapshot(**parts)

    def versions(self) -> dict[DatabaseKey, int]:
        """Each replica's version now (pass it to :meth:`changed`)."""
        return {k: v.replica.version for k, v in self.replicas.items()}

    async def changed(self, versions: Mapping[DatabaseKey, int]) -> None:
        """Return once any replica moved past ``versions`` (at once if one has).

        Raises :class:`~ovsdb_ic.errors.ConnectionClosedError` when a replica has
        stopped following its server (its client closed) before that."""
        watch = self._any_change()
        while self.versions() == versions:
            await watch.wait()

    def _any_change(self) -> _AnyChange:
        """The watch over the current replicas (made anew if they changed)."""
        watch = self._watch
        lives = tuple(self.replicas.values())
        if watch is None or len(watch.replicas) != len(lives) or any(
                a is not b for a, b in zip(watch.replicas, lives, strict=True)):
            watch = self._watch = watch_any(lives)
        return watch

    async def caught_up(self, *keys: DatabaseKey) -> None:
        """Return once the replicas of ``keys`` (default: every one) show everything
        their servers sent before now, e.g. a transaction just committed.

        Unbounded, and errors (a lost connection) propagate: bound it with
        ``trio.move_on_after`` or ``trio.fail_after``.
        """
        for k in keys or tuple(self.replicas):
            await self.clients[k].caught_up(self.replicas[k])


async def _replicate(
    client: Client, spec: dict[str, list[str] | None], lock: str | None, dbs: Databases,
    key: DatabaseKey,
) -> LiveReplica:
    """``client.replicate(spec)``; with ``lock``, the lock is requested at the same time
    (both requests in flight together) and kept in ``dbs.locks``."""
    if lock is None:
        return await client.replicate(spec)

    async def take(name: str) -> None:
        dbs.locks[key] = await client.lock(name)

    with _one_error():
        async with trio.open_nursery() as nursery:
            nursery.start_soon(take, lock)
            live = await client.replicate(spec)
    return live


def _attempt_lines(label: str, remotes: str, exc: ConnectError) -> list[str]:
    """One line per remote tried for a failed first connection."""
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        return [f"{label}: {_one_line(e)}" for e in cause.exceptions]
    return [f"{label}: {remotes}: {_one_line(exc)}"]


@asynccontextmanager
async def open_databases(
    remotes: Mapping[DatabaseKey, str] | AzRemotes,
    requirements: Requirements | Callable[[Mapping[DatabaseKey, DatabaseSchema]], Requirements],
    *,
    options: ConnectOptions = ConnectOptions(),
) -> AsyncIterator[Databases]:
    """Connect to every database of ``remotes`` at once and replicate what
    ``requirements`` lists for it, with its client indexes.

    ``requirements`` may be a function of the connected servers' schemas (by database
    key): it is called once every database is connected, before any is replicated
    (the sync engine chooses its OVN release rules this way).

    Yields a :class:`Databases` once every replica holds its initial copy. When some
    database cannot be reached (or is not replicated within
    ``options.connect_timeout`` seconds, e.g. a cluster without a leader), raises
    :class:`UnreachableError` listing every failed remote. A replication taking more
    than a second is reported through ``options.progress``. Leaving the block closes
    every client.
    """
    if isinstance(remotes, AzRemotes):
        remotes = remotes.as_dict()
    locks = dict(options.locks)
    dbs = Databases()
    problems: dict[DatabaseKey, list[str]] = {}
    pending: dict[DatabaseKey, str] = dict(remotes)
    all_settled = trio.Event()
    stop = trio.Event()
    if not pending:
        all_settled.set()
    t0 = trio.current_time()
    timeout = math.inf if options.connect_timeout is None else options.connect_timeout
    schemas: dict[DatabaseKey, DatabaseSchema] = {}
    gate_pending: set[DatabaseKey] = set(remotes)
    gate = trio.Event()
    chosen: list[Requirements] = []
    if not gate_pending:
        gate.set()

    def through_gate(key: DatabaseKey) -> None:
        gate_pending.discard(key)
        if not gate_pending:
            gate.set()

    def settle(key: DatabaseKey) -> None:
        pending.pop(key, None)
        if not pending:
            all_settled.set()

    async def hold(key: DatabaseKey, text: str) -> None:
        label = LABELS[key]
        ready = False
        try:
            with trio.CancelScope(deadline=t0 + timeout) as scope:
                async with connect(text, database=DATABASES[key],
                                   ssl_context=options.ssl_context,
                                   probe_interval=options.probe_interval,
                                   backoff=options.backoff,
                                   leader_only=options.leader_only,
                                   reconnect=options.reconnect) as client:
                    if client.schema is not None:
                        schemas[key] = client.schema
                    through_gate(key)
                    await gate.wait()
                    if problems:
                        return  # another database failed: nothing is replicated
                    if not chosen:
                        chosen.append(requirements(schemas) if callable(requirements)
                                      else requirements)
                    req = chosen[0]
                    spec = {t: (None if c is None else list(c))
                            for t, c in req.tables_for(key).items()}
                    live = await _replicate(client, spec, locks.get(key), dbs, key)
                    scope.deadline = math.inf
                    req.install_on(live.replica, key)
                    dbs.clients[key] = client
                    dbs.replicas[key] = live
                    took = trio.current_time() - t0
                    if took > _SLOW:
                        options.progress(f"replicated {DATABASES[key]}: "
                                         f"{_rows(live.replica)} rows in {took:.1f} s")
                    ready = True
                    settle(key)
                    await stop.wait()
            if scope.cancelled_caught and not ready:
                problems[key] = [f"{label}: {text}: no server could serve {DATABASES[key]} "
                                 f"within {timeout:g} s"]
        except ConnectError as exc:
            if ready:
                raise
            problems[key] = _attempt_lines(label, text, exc)
        except OvsdbError as exc:
            if ready:
                raise
            problems[key] = [f"{label}: {text}: {_one_line(exc)}"]
        finally:
            through_gate(key)
            settle(key)

    async def announce(scope: trio.CancelScope) -> None:
        with scope:
            await trio.sleep(_SLOW)
            for key, text in list(pending.items()):
                options.progress(f"connecting to {LABELS[key]} ({text}) and replicating "
                                 f"{DATABASES[key]}...")
            while True:
                await trio.sleep(_STILL_EVERY)
                waited = trio.current_time() - t0
                names = ", ".join(DATABASES[k] for k in pending)
                options.progress(f"still waiting for {names} ({waited:.0f} s)")

    with _one_error():
        async with trio.open_nursery() as nursery:
            announcer = trio.CancelScope()
            nursery.start_soon(announce, announcer)
            for key, text in remotes.items():
                nursery.start_soon(hold, key, text)
            await all_settled.wait()
            announcer.cancel()
            if problems:
                stop.set()
                lines = [line for k in ALL_DATABASES for line in problems.get(k, ())]
                raise UnreachableError(lines)
            try:
                yield dbs
            finally:
                stop.set()


# ---------------------------------------------------------------------------- commit


async def commit_plan(
    dbs: Databases,
    plan: Plan,
    policy: CommitPolicy = CommitPolicy(),
    *,
    report: Report = _ignore,
) -> CommitResult:
    """Commit ``plan``: one guarded transaction per database it writes to (and one more
    for the inserts :attr:`CommitPolicy.apart` sets apart), in the policy's order (or
    all at once), each followed by a wait until the replica shows it.

    Every transaction is built before the first await, so all of them read the same
    snapshot. ``report`` receives one line per committed transaction. Never raises for
    what a transaction meets: conflicts (:func:`~ovsdb_ic.errors.is_conflict`), other
    failures (a transaction error, a lost connection, a replica not catching up in
    time) and a lost lock come back in the :class:`CommitResult`.

    A plan of at least :data:`_BIG_PLAN` operations is committed with the cyclic
    garbage collector paused (:func:`~ovsdb_ic.replica.gc_paused`): building its
    operations and then decoding and applying their echo allocate a few objects per
    row, none of them in a cycle, and the collections they set off (a full one among
    them, walking every replica) were 20 to 35 ms of CPU of a 2,011-operation commit.
    """
    with gc_paused(len(plan.ops) >= _BIG_PLAN, promote=True):
        return await _commit_plan(dbs, plan, policy, report)


_BIG_PLAN: Final = 256
"""Plans with this many operations are committed with the cyclic collector paused."""


async def _commit_plan(dbs: Databases, plan: Plan, policy: CommitPolicy,
                       report: Report) -> CommitResult:
    txns: list[tuple[DatabaseKey, list[dict[str, Any]], int]] = []
    for db, part in _parts(plan, policy):
        ops = transaction_ops(dbs.replicas[db].replica, part, db, comment=policy.comment)
        if not ops:
            continue
        if db == "sb" and policy.lock is not None:
            ops.insert(0, wire_ops.assert_lock(policy.lock))
        txns.append((db, ops, len(part)))
    committed: dict[DatabaseKey, int] = {}
    conflicts: dict[DatabaseKey, OvsdbError] = {}
    failures: dict[DatabaseKey, OvsdbError] = {}
    lock_lost = False

    async def one(db: DatabaseKey, ops: list[dict[str, Any]], n: int) -> bool:
        nonlocal lock_lost
        try:
            await dbs.clients[db].transact(ops)
        except NotOwnerError as exc:
            lock_lost = True
            failures[db] = exc
            return False
        except (TransactionError, ConnectionClosedError) as exc:
            if is_conflict(exc, outcome_unknown=policy.outcome_unknown_is_conflict):
                conflicts[db] = exc
            else:
                failures[db] = exc
            return False
        committed[db] = committed.get(db, 0) + n
        report(f"{LABELS[db]}: committed {n} operation(s)")
        try:
            if policy.catch_up_timeout is None:
                await dbs.caught_up(db)
            else:
                with trio.move_on_after(policy.catch_up_timeout) as scope:
                    await dbs.caught_up(db)
                if scope.cancelled_caught:
                    failures[db] = CatchUpTimeoutError(db, policy.catch_up_timeout)
                    return False
        except OvsdbError as exc:
            failures[db] = exc
            return False
        return True

    if policy.order is None and len(txns) > 1:
        async with trio.open_nursery() as nursery:
            for db, ops, n in txns:
                nursery.start_soon(one, db, ops, n)
    elif len(txns) == 1:  # the common case: no task to start and schedule first
        await one(*txns[0])
    else:
        for db, ops, n in txns:
            if not await one(db, ops, n):
                break
    return CommitResult(committed, conflicts, failures, lock_lost)


def _parts(plan: Plan, policy: CommitPolicy) -> list[tuple[DatabaseKey, Plan]]:
    """The transactions of ``plan``: per database in the policy's order, its part, or
    two (:attr:`CommitPolicy.apart`): the rest, then the inserts kept apart."""
    order = policy.order if policy.order is not None else plan.databases()
    out: list[tuple[DatabaseKey, Plan]] = []
    for db in order:
        ops = plan.for_db(db)
        if not ops:
            continue
        if policy.order is None and policy.apart:
            alone = tuple(op for op in ops
                          if isinstance(op, Insert) and (db, op.table) in policy.apart)
            rest = tuple(op for op in ops
                         if not (isinstance(op, Insert) and (db, op.table) in policy.apart))
            if alone and rest and _separable(db, alone, rest, policy.apart):
                out += [(db, Plan(rest)), (db, Plan(alone))]
                continue
        out.append((db, Plan(ops)))
    return out


def _separable(db: DatabaseKey, alone: tuple[Op, ...], rest: tuple[Op, ...],
               apart: frozenset[tuple[DatabaseKey, str]]) -> bool:
    """Whether the inserts ``alone`` can commit apart from ``rest``: the rest neither
    touches their tables nor refers to their named UUIDs, and they refer to none."""
    if any((db, op.table) in apart for op in rest):
        return False
    names = {op.name for op in alone if isinstance(op, Insert) and op.name}
    if any(_named(op, None) for op in alone):
        return False
    return not names or not any(_named(op, names) for op in rest)


def _named(op: Op, names: set[str] | None) -> bool:
    """Whether ``op``'s values refer to a named UUID (one of ``names``, or any)."""
    stack: list[Any] = []
    if isinstance(op, Insert | Update):
        stack += op.values.values()
    elif isinstance(op, Mutate):
        for value in (op.insert, op.delete):
            stack += [*value.keys(), *value.values()] if isinstance(value, Mapping) \
                else list(value)
    while stack:
        value = stack.pop()
        if isinstance(value, NamedUUID):
            if names is None or value.name in names:
                return True
        elif isinstance(value, Mapping):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, frozenset | set | tuple | list):
            stack += value
    return False


async def _caught_up_all(dbs: Databases, policy: CommitPolicy) -> None:
    """Every replica caught up, within the policy's bound (:class:`ApplyError` past it)."""
    bound = policy.catch_up_timeout
    with trio.move_on_after(math.inf if bound is None else bound) as scope:
        await dbs.caught_up()
    if scope.cancelled_caught:
        assert bound is not None
        raise ApplyError(f"the replicas did not catch up within {bound:g} s")


async def converge(
    dbs: Databases,
    planner: Callable[[Snapshot], Plan],
    policy: CommitPolicy = CommitPolicy(),
    *,
    report: Report = _ignore,
    progress: Report = _ignore,
) -> ConvergeResult:
    """Plan with ``planner`` and commit (:func:`commit_plan`) until it plans nothing.

    After a conflict the replicas catch up and the planner runs again. Raises
    :class:`ApplyError` after ``policy.max_conflicts`` conflicts, after
    ``policy.max_passes`` plans, when a transaction fails otherwise, or when the
    replicas do not catch up within ``policy.catch_up_timeout``.
    """
    passes = transactions = operations = conflicts = 0
    plan = Plan()
    while passes < policy.max_passes:
        plan = planner(dbs.snapshot())
        passes += 1
        if not plan:
            return ConvergeResult(passes, transactions, operations, conflicts)
        result = await commit_plan(dbs, plan, policy, report=report)
        transactions += len(result.committed)
        operations += sum(result.committed.values())
        for db, exc in result.failures.items():
            raise ApplyError(f"{LABELS[db]}: transaction failed: {_one_line(exc)}") from exc
        for db, exc in result.conflicts.items():
            conflicts += 1
            if conflicts > policy.max_conflicts:
                raise ApplyError(f"{LABELS[db]}: still conflicting after {conflicts} "
                                 f"attempts: {_one_line(exc)}") from exc
            progress(f"{LABELS[db]}: {_one_line(exc)}; reading again and planning again")
        if result.conflicts:
            await _caught_up_all(dbs, policy)
    shown = plan.describe()[:5]
    more = f" (and {len(plan) - 5} more)" if len(plan) > 5 else ""
    raise ApplyError(f"still planning changes after {passes} passes: "
                     + "; ".join(shown) + more)
