"""The sync runner: replicas of the four databases in, guarded transactions out (trio).

:class:`SyncEngine` opens the AZ's NB and SB and IC-NB and IC-SB through
:func:`~ovsdb_ic.sync.session.open_databases` (the failover client, one live replica
per database holding what the planners read, all four at once; the OVN release rules
are chosen from the servers' schemas before anything is replicated), takes the
``ovn_ic`` lock on the AZ's SB database (the C daemon's lock, so the two exclude each
other), and then loops: plan a pass on the current replicas, commit it with
:func:`~ovsdb_ic.sync.session.commit_plan` (each database's part as one transaction
guarded by ``wait`` checks and, on SB, an ``assert`` of the lock, all four at once, as
the C daemon, except that IC-SB inserts allocating a tunnel key go in a transaction of
their own beside it; then a wait until the replicas show the commit), plan again; when
a pass plans nothing, sleep until a replica changes. A conflict (a failed guard, a
unique-index violation: another AZ allocated the same key at the same time) makes the
runner wait for its replicas to move and plan again. Without the lock it only watches
(a standby). The engine owns everything it keeps between passes (the planners' memo,
the key hints, the route planner's cache).

Engines of one process may share their IC-NB and IC-SB connections and replicas
(:func:`open_shared_ic` and ``SyncEngine(config, ic=shared)``, or :func:`run_syncs`,
which groups configs by their IC remotes): the lock is on each AZ's own SB, so nothing
on the IC connections belongs to one AZ, and N engines then copy and decode IC-SB once
instead of N times. Only the connections and replicas are
shared; each engine still plans with its own memo, hints and route cache.

See docs/sync.md.
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, final

import attrs
import trio

from ovsdb_ic.client import Client, LiveReplica
from ovsdb_ic.client.failover import Backoff
from ovsdb_ic.client.monitor import Lock
from ovsdb_ic.errors import ConfigError, ConnectionClosedError, NotOwnerError, _one_error
from ovsdb_ic.ic.databases import (
    DATABASES,
    LABELS,
    DatabaseKey,
    Requirements,
    Snapshot,
    first_row,
)
from ovsdb_ic.sync import passes, routes, seqno
from ovsdb_ic.sync.keys import KeyHints, smap_get_int
from ovsdb_ic.sync.plan import Plan
from ovsdb_ic.sync.rules import FEATURES, IcRules, detect_rules
from ovsdb_ic.sync.session import (
    LOCK_NAME,
    AzRemotes,
    CommitPolicy,
    ConnectOptions,
    Databases,
    commit_plan,
    open_databases,
)
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr
from ovsdb_ic.wire.schema import DatabaseSchema

__all__ = [
    "ALL_RULES_REQUIREMENTS",
    "LOCK_NAME",
    "REQUIREMENTS",
    "SharedIc",
    "SyncConfig",
    "SyncEngine",
    "SyncStats",
    "open_shared_ic",
    "probe_seconds",
    "requirements_for",
    "run_sync",
    "run_syncs",
]

log = logging.getLogger("ovsdb_ic.sync")

REQUIREMENTS: Final[Requirements] = passes.REQUIREMENTS | routes.REQUIREMENTS
"""Everything the five planners read (23.03 rules; see :func:`requirements_for`)."""

_PROBE_REQUIREMENTS: Final = Requirements(tables={
    "nb": {"NB_Global": ("name", "options")},
    "ic_nb": {"IC_NB_Global": ("options",)},
})


def requirements_for(rules: IcRules) -> Requirements:
    """What the engine replicates under ``rules``: :data:`REQUIREMENTS`, plus the
    sequence number columns and the probe interval options when the rules use them."""
    req = REQUIREMENTS | passes.requirements_for(rules)
    if rules.sequence_numbers:
        req = req | seqno.REQUIREMENTS
    if rules.probe_interval_option:
        req = req | _PROBE_REQUIREMENTS
    return req


ALL_RULES_REQUIREMENTS: Final[Requirements] = requirements_for(
    IcRules(release="25.03", **dict.fromkeys(FEATURES, True)))
"""What the engine replicates under any rules (every switch on): the union
:func:`open_shared_ic` replicates of IC-NB and IC-SB, so that engines of different
releases can share it."""


def probe_seconds(options: Any, default: float | None, remote: str) -> float | None:
    """The inactivity probe an ``options:ic_probe_interval`` value asks for, as C's
    ``set_idl_probe_interval``: milliseconds; unset, negative or not a number: the
    default (none on ``unix:`` remotes, as C); 0: no probe; under 1000: 1 s."""
    ms = smap_get_int(options or {}, "ic_probe_interval", -1)
    if ms < 0:
        return None if remote.startswith("unix:") else default
    if ms == 0:
        return None
    return max(ms, 1000) / 1000.0

_KEYED_INSERTS: Final[frozenset[tuple[DatabaseKey, str]]] = frozenset(
    {("ic_sb", "Datapath_Binding"), ("ic_sb", "Port_Binding")})
"""IC-SB inserts that allocate a tunnel key (unique index), committed in a transaction of
their own (:attr:`~ovsdb_ic.sync.session.CommitPolicy.apart`): AZs starting together race
for the same keys (the C daemon's allocation rule), and a lost race then costs a retry
of those inserts alone, not of the pass's route advertisements, which stay committed."""
_MAX_PASSES_ONCE: Final = 20
_REPLAN_PAUSE: Final = 0.5  # after a conflict or failure, the longest wait for a replica to move


@attrs.frozen(repr=False, eq=False)
class SyncConfig(AzRemotes):
    """Where the four databases are (the :class:`~ovsdb_ic.sync.session.AzRemotes`
    fields) and how the engine behaves.

    Remote lists use the C daemon's syntax (``tcp:``, ``ssl:``, ``unix:``,
    comma-separated for clusters); a bad one raises ConfigError naming the option.
    """

    ssl_context: ssl.SSLContext | None = None
    """For ``ssl:`` remotes: key, certificate and CA."""
    route_filters: routes.RouteFilters | None = None
    """Embedder policy on top of the NB options (:class:`~ovsdb_ic.sync.routes.RouteFilters`)."""
    dry_run: bool = False
    """Plan and report, never write (and do not take the lock)."""
    take_lock: bool = True
    """Hold ``ovn_ic`` on the SB database before acting (as the C daemon)."""
    probe_interval: float | None = 5.0
    """The clients' inactivity probe."""
    leader_only: bool = True
    """Connect only to Raft leaders; False also accepts followers and OVSDB relays (an
    ``ovsdb-server`` relaying a cluster: reads are served by it, writes forwarded)."""
    backoff: Backoff | None = None
    """Reconnect backoff for the four clients (default: the client's)."""
    rules: IcRules | None = None
    """Which OVN release's ``ovn-ic`` to follow; ``None`` (the default): detected from
    the servers' schemas (:func:`~ovsdb_ic.sync.rules.detect_rules`)."""
    catch_up_timeout: float | None = 10.0
    """Seconds to wait for a replica to show a commit before counting it as failed
    (``stats.errors``) and planning again once the replicas move; ``None``: no bound."""
    extra_planners: tuple[tuple[str, Callable[[Snapshot], Plan], Requirements], ...] = ()
    """``(name, planner, requirements)`` steps run after the routes planner in every
    pass (their tables are replicated too), e.g. Kube-OVN's learned-route policies
    (:func:`ovsdb_ic.kubeovn.policies.policy_step`)."""

    def requirements(self, rules: IcRules | None = None) -> Requirements:
        """What the engine replicates: :func:`requirements_for` ``rules`` (default:
        :data:`REQUIREMENTS`, the 23.03 rules') and the extra planners'."""
        req = REQUIREMENTS if rules is None else requirements_for(rules)
        for _name, _planner, extra in self.extra_planners:
            req = req | extra
        return req

    def commit_policy(self) -> CommitPolicy:
        """How the engine commits: all four databases at once (as the C daemon), the
        lock asserted on SB, an unknown outcome a failure (counted, then planned again)."""
        return CommitPolicy(
            order=None, lock=LOCK_NAME if self.take_lock else None,
            outcome_unknown_is_conflict=False, catch_up_timeout=self.catch_up_timeout,
            comment="ovsdb-ic sync", apart=_KEYED_INSERTS,
        )

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


@attrs.define(repr=False, eq=False)
class SyncStats:
    """What the engine has done (``engine.stats``)."""

    passes: int = 0
    """Passes planned."""
    commits: int = 0
    """Transactions committed."""
    ops: int = 0
    """Plan operations committed."""
    conflicts: int = 0
    """Transactions refused by a guard or a unique index (re-planned)."""
    errors: int = 0
    """Transactions that failed otherwise (connection lost, outcome unknown...)."""
    settled: int = 0
    """Times a pass planned nothing."""
    last_plan_ops: Plan = attrs.field(factory=Plan, repr=False)
    """The last non-empty plan (:attr:`last_plan` describes it)."""
    last_pass_seconds: float = 0.0
    """CPU-side duration of the last planning step."""
    lock_held: bool = False
    """Whether this engine holds ``ovn_ic`` now."""
    release: str = ""
    """The OVN release whose ``ovn-ic`` rules the engine follows (once connected)."""
    ic_cfg: int | None = None
    """The ``nb_ic_cfg`` value ``run_sync(wait_sb=True)`` waited for."""

    @property
    def last_plan(self) -> tuple[str, ...]:
        """The last non-empty plan, described (one line per operation; made when asked:
        describing thousands of operations at every commit cost as much as planning)."""
        return tuple(self.last_plan_ops.describe())

    __repr__ = attrs_repr
    __eq__ = attrs_eq


@final
class SyncEngine:
    """One AZ's IC sync agent (see the module docstring)."""

    def __init__(
        self,
        config: SyncConfig,
        *,
        report: Callable[[str], None] | None = None,
        ic: SharedIc | None = None,
    ) -> None:
        """Configure; nothing connects until :meth:`run`.

        ``report`` receives one line per planned operation in dry-run mode and a
        line per committed transaction otherwise (default: the ``ovsdb_ic.sync`` logger).
        ``ic``: IC-NB and IC-SB connections shared with other engines
        (:func:`open_shared_ic`); the engine then opens only its NB and SB, and must run
        inside the block that opened ``ic`` (:class:`~ovsdb_ic.errors.ConfigError`, field
        ``ic``, once it has ended). Its config must name the same IC remotes,
        ``ssl_context`` (the same object), ``probe_interval``, ``backoff`` and
        ``leader_only`` (:class:`~ovsdb_ic.errors.ConfigError` naming the field
        otherwise).
        """
        if ic is not None:
            _check_shared(config, ic)
        self.config = config
        self.ic = ic
        """The shared IC connections, or None when the engine opens its own."""
        self._required: Requirements | None = None
        self.stats = SyncStats()
        self._report = report or log.info
        self.clients: dict[DatabaseKey, Client] = {}
        self.replicas: dict[DatabaseKey, LiveReplica] = {}
        self._dbs = Databases()
        self._previous_name: str | None = None
        self._hints = KeyHints()
        self.route_cache = routes.RouteCache(size=1)
        """The route planner's derived state, this engine's alone (dropped when
        :meth:`run` returns)."""
        self._settled = trio.Event()
        self._standing_by = trio.Event()
        self._memo: passes.PassMemo = {}
        self.pass_observers: list[Callable[[float], None]] = []
        """Called after each planning step with its duration in seconds (metrics)."""
        self.lock: Lock | None = None
        """The ``ovn_ic`` lock once the SB server answered the request (None before,
        and when the engine takes no lock)."""
        # wait_synced: passes are numbered as they start; a settled pass publishes its
        # number and wakes the waiters; _wake makes an idle loop plan once more.
        self._pass_seq = 0
        self._synced_seq = 0
        self._synced_changed = trio.Event()
        self._wake = trio.Event()
        self._running = trio.Event()
        # run() is unwinding with an error of its own (set before its clients close).
        self._failing = False
        self.rules: IcRules = config.rules or IcRules()
        """The rules followed (detected from the schemas once :meth:`run` connected)."""
        self._ic_cfg = seqno.IcCfg()
        self._ic_sb_ok = True
        self._set_rules(self.rules)

    def _set_rules(self, rules: IcRules) -> None:
        self.rules = rules
        self.stats.release = rules.release
        self._route_planner = functools.partial(
            routes.plan_routes, filters=self.config.route_filters, rules=rules,
            cache=self.route_cache,
        )

    # ------------------------------------------------------------------ state

    def snapshot(self) -> Snapshot:
        """The four replicas as a planner snapshot (consistent between awaits)."""
        return self._dbs.snapshot()

    def plan(self) -> Plan:
        """Plan one pass on the current replicas (no I/O): :func:`~ovsdb_ic.sync.passes.
        plan_pass` with a memo kept across passes, so an idle wakeup, or a change only
        the route planner reads, costs the other planners nothing."""
        t0 = time.perf_counter()
        snap = self.snapshot()
        rules = self.rules
        hints = self._hints
        if rules.fresh_datapath_hint:
            hints = attrs.evolve(hints, datapath=KeyHints().datapath)
        plan = passes.plan_pass(
            snap, route_planner=self._route_planner,
            previous_name=self._previous_name, hints=hints, memo=self._memo, rules=rules,
            extra=self.config.extra_planners,
        )
        if rules.sequence_numbers:
            seq, self._ic_cfg = seqno.plan_sequence_numbers(snap, self._ic_cfg)
            plan += seq
        self.stats.passes += 1
        self.stats.last_pass_seconds = time.perf_counter() - t0
        for observe in self.pass_observers:
            observe(self.stats.last_pass_seconds)
        return plan

    async def wait_settled(self) -> None:
        """Return once a pass has planned nothing (after the engine started); returns at
        once ever after. To wait for a change of your own, use :meth:`wait_synced`."""
        await self._settled.wait()

    async def wait_standing_by(self) -> None:
        """Return once the engine has found the ``ovn_ic`` lock held by another client
        and stands by (it plans nothing until it gets the lock)."""
        await self._standing_by.wait()

    async def wait_ic_cfg(self) -> int:
        """Increment IC-NB ``nb_ic_cfg`` and return once every AZ's agent has synced it
        (``sb_ic_cfg`` reached it), as ``ovn-ic-nbctl --wait=sb sync``; the engine must
        be running (it is one of the agents). Needs OVN 24.03+ IC databases
        (ConfigError otherwise); bound it with ``trio.fail_after``."""
        if "ic_nb" not in self.clients:
            raise ConfigError("engine", None, "wait_ic_cfg needs a running engine")
        if not self.rules.sequence_numbers:
            raise ConfigError("IC_NB_Global", self.rules.release,
                              "the IC databases have no nb_ic_cfg/sb_ic_cfg (OVN 24.03 or "
                              "newer needed)")
        from ovsdb_ic.sync.waiting import bump_nb_ic_cfg, wait_sb_ic_cfg  # --wait=sb only

        target = await bump_nb_ic_cfg(self.clients["ic_nb"])
        await wait_sb_ic_cfg(self.replicas["ic_nb"], target)
        return target

    async def wait_synced(self) -> None:
        """Return after a pass that started after this call planned nothing.

        Call it after a change of your own (a transaction you committed to any of the four
        databases): the engine's replicas are first brought up to what each server has
        sent so far, then an idle engine is woken to plan once more, so the pass that
        settles has seen your change. Re-armable: every call waits for a new pass. It
        waits while the engine stands by without the ``ovn_ic`` lock (and never returns
        in dry-run mode, which commits nothing); bound it with ``trio.move_on_after``.
        """
        await self._running.wait()
        await self._dbs.caught_up()
        after = self._pass_seq
        self._wake.set()
        self._dbs._any_change().poke()
        while self._synced_seq <= after:
            await self._synced_changed.wait()

    # -------------------------------------------------------------------- run

    async def run_and_wait(
        self, *, once: bool = False, wait_sb: bool = False,
        task_status: trio.TaskStatus[SyncEngine] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """:meth:`run`, and with ``wait_sb`` (``ovsdb-ic sync --wait=sb``): once the
        engine has settled, :meth:`wait_ic_cfg`, then stop if ``once`` (otherwise keep
        running). ``stats.ic_cfg`` holds the value waited for. ``task_status`` gets the
        engine once its replicas are loaded."""

        async def body(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                       ) -> None:
            await self.run(once=once and not wait_sb, task_status=task_status)

        with _one_error():
            async with trio.open_nursery() as nursery:
                await nursery.start(body)
                task_status.started(self)
                if wait_sb:
                    try:
                        await self.wait_settled()
                        self.stats.ic_cfg = await self.wait_ic_cfg()
                    except ConnectionClosedError:
                        if not self._failing:
                            raise
                        # run() failed and closed its clients under this wait: its own
                        # error, on its way to this nursery, is the one to raise.
                        await trio.sleep_forever()
                    self._report(f"every AZ has synced nb_ic_cfg={self.stats.ic_cfg}")
                    if once:
                        nursery.cancel_scope.cancel()

    async def run(
        self, *, once: bool = False, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Connect, replicate, take the lock, and sync until cancelled.

        ``task_status.started()`` once the replicas hold their initial copies. With
        ``once``, return after the first pass that plans nothing (passes repeat
        while each commits something, up to a bound, since later planners act
        on what earlier ones created), or after one plan in dry-run mode.
        """
        cfg = self.config
        self._failing = False
        # The ovn_ic lock is asked for while the tables are copied, as the C daemon
        # sets it before its first loop.
        locks: tuple[tuple[DatabaseKey, str], ...] = (
            (("sb", LOCK_NAME),) if cfg.take_lock and not cfg.dry_run else ())
        options = _connect_options(cfg, locks)
        shared = self.ic
        remotes: AzRemotes | dict[DatabaseKey, str] = cfg
        if shared is not None:
            _check_open(shared)
            remotes = {"nb": cfg.ovnnb_db, "sb": cfg.ovnsb_db}

        def choose(schemas: Mapping[DatabaseKey, DatabaseSchema]) -> Requirements:
            # The rules come from the servers' schemas, before anything is replicated
            # (with shared IC connections, from their schemas and the AZ's own).
            if shared is not None:
                schemas = {**shared.schemas, **schemas}
            rules = cfg.rules
            if rules is None:
                rules = detect_rules({str(k): v for k, v in schemas.items()})
            self._set_rules(rules)
            log.info("following the rules of ovn-ic %s", rules.release)
            self._required = cfg.requirements(rules)
            return self._required

        try:
            async with open_databases(remotes, choose, options=options) as dbs:
                if shared is not None:
                    assert self._required is not None
                    shared._attach(dbs, self._required)
                self._dbs = dbs
                self.clients = dbs.clients
                self.replicas = dbs.replicas
                self._running.set()
                task_status.started()
                try:
                    await self._loop(once)
                except BaseException:
                    self._failing = True
                    raise
        finally:
            # What the route planner derived holds the replicas: a stopped engine keeps
            # none of it.
            self.route_cache.clear()
            self._memo.clear()

    async def _loop(self, once: bool) -> None:
        cfg = self.config
        sb = self.clients["sb"]
        lock = None
        if cfg.take_lock and not cfg.dry_run:
            lock = self._dbs.locks.get("sb")
            if lock is None:
                lock = await sb.lock(LOCK_NAME)
            self.lock = lock
        policy = cfg.commit_policy()
        passes_done = 0
        while True:
            if lock is not None and not lock.held:
                self.stats.lock_held = False
                log.info("waiting for the %s lock on the SB database", LOCK_NAME)
                self._standing_by.set()
                await lock.wait_acquired()
                self._standing_by = trio.Event()
            self.stats.lock_held = lock is not None and lock.held
            versions = self._dbs.versions()
            self._wake = trio.Event()
            self._pass_seq += 1
            seq = self._pass_seq
            plan = self.plan()
            passes_done += 1
            if cfg.dry_run:
                for line in plan.describe():
                    self._report(line)
                if once:
                    return
                await self._changed(versions)
                continue
            self._apply_probe_intervals()
            if not plan:
                # C commits an empty IC-SB transaction: the sequence state moves on.
                before, self._ic_cfg = self._ic_cfg, self._ic_cfg.committed()
                if before != self._ic_cfg:
                    continue
                self.stats.settled += 1
                self._settled.set()
                self._synced_seq = seq
                self._synced_changed.set()
                self._synced_changed = trio.Event()
                if once:
                    return
                await self._changed(versions)
                continue
            self.stats.last_plan_ops = plan
            self._hints = self._hints.after(plan)
            committed = await self._commit(plan, policy)
            if self._ic_sb_ok:
                self._ic_cfg = self._ic_cfg.committed()
            self._previous_name = _az_name(self.snapshot())
            if not committed:
                # A conflict or a failure: give the replicas a moment to move.
                with trio.move_on_after(_REPLAN_PAUSE):
                    await self._changed(versions)
            if once and passes_done >= _MAX_PASSES_ONCE:
                log.warning("still planning after %d passes; stopping", passes_done)
                return

    async def _commit(self, plan: Plan, policy: CommitPolicy) -> bool:
        """Commit the plan (:func:`~ovsdb_ic.sync.session.commit_plan`), keep the
        stats; True when every transaction committed and every replica caught up."""
        result = await commit_plan(self._dbs, plan, policy, report=self._report)
        self._ic_sb_ok = "ic_sb" not in result.conflicts and "ic_sb" not in result.failures
        self.stats.commits += len(result.committed)
        self.stats.ops += sum(result.committed.values())
        for db, exc in result.conflicts.items():
            self.stats.conflicts += 1
            log.info("%s: conflict, planning again: %s", db, exc)
        for db, exc in result.failures.items():
            if isinstance(exc, NotOwnerError):
                log.info("the %s lock was lost; standing by", LOCK_NAME)
                continue
            self.stats.errors += 1
            log.warning("%s: transaction failed: %s", db, exc)
        return result.ok

    def _apply_probe_intervals(self) -> None:
        """``options:ic_probe_interval`` of NB_Global (NB, SB clients) and IC_NB_Global
        (IC clients), as the C daemon applies them on every loop (23.06+ rules).

        Shared IC clients get the same value from every engine sharing them: it depends
        only on the shared IC-NB replica, the IC remotes and ``probe_interval``, which
        ``SyncEngine(config, ic=...)`` makes equal across those engines."""
        if not self.rules.probe_interval_option:
            return
        default = self.config.probe_interval
        remotes = self.config.as_dict()
        pairs: tuple[tuple[DatabaseKey, str, tuple[DatabaseKey, ...]], ...] = (
            ("nb", "NB_Global", ("nb", "sb")),
            ("ic_nb", "IC_NB_Global", ("ic_nb", "ic_sb")),
        )
        for src, table, targets in pairs:
            row = first_row(self.replicas[src].replica, table)
            options = row["options"] if row is not None else {}
            for key in targets:
                want = probe_seconds(options, default, remotes[key])
                client = self.clients[key]
                if client.probe_interval != want:
                    log.info("%s: inactivity probe %s", key,
                             "off" if want is None else f"{want:g} s")
                    client.set_probe_interval(want)

    async def _changed(self, versions: dict[DatabaseKey, int]) -> None:
        """Wait until any replica moved past ``versions`` (or :meth:`wait_synced` asks
        for one more pass)."""
        dbs = self._dbs
        watch = dbs._any_change()
        while dbs.versions() == versions and not self._wake.is_set():
            await watch.wait()


def _az_name(snap: Snapshot) -> str | None:
    from ovsdb_ic.sync.az import az_name

    name = az_name(snap)
    return name or None


async def run_sync(
    config: SyncConfig,
    *,
    once: bool = False,
    wait_sb: bool = False,
    report: Callable[[str], None] | None = None,
    ic: SharedIc | None = None,
    task_status: trio.TaskStatus[SyncEngine] = trio.TASK_STATUS_IGNORED,
) -> SyncStats:
    """Run a :class:`SyncEngine` (``nursery.start(run_sync, config)`` gives the engine).

    ``wait_sb``: once the engine has settled, increment IC-NB ``nb_ic_cfg`` and wait
    until every AZ's agent has synced it (:meth:`SyncEngine.wait_ic_cfg`, what
    ``ovn-ic-nbctl --wait=sb sync`` waits for); with ``once`` the engine then stops,
    otherwise it keeps running. ``stats.ic_cfg`` holds the value waited for. ``ic``:
    IC connections shared with other engines (see :class:`SyncEngine`).
    """
    engine = SyncEngine(config, report=report, ic=ic)
    await engine.run_and_wait(once=once, wait_sb=wait_sb, task_status=task_status)
    return engine.stats


# ------------------------------------------------------------------------ shared IC

_IC_DATABASES: Final[tuple[DatabaseKey, ...]] = ("ic_nb", "ic_sb")
_SHARED_FIELDS: Final = ("ssl_context", "probe_interval", "backoff", "leader_only")
"""The :class:`SyncConfig` fields that say how the IC clients connect: engines sharing
them must agree on each (``ssl_context``: the same object)."""


def _connect_options(config: SyncConfig,
                     locks: tuple[tuple[DatabaseKey, str], ...] = ()) -> ConnectOptions:
    """How an engine configured as ``config`` connects (its ``ssl_context``,
    ``probe_interval``, ``backoff`` and ``leader_only``), asking for ``locks``."""
    return ConnectOptions(ssl_context=config.ssl_context, probe_interval=config.probe_interval,
                          backoff=config.backoff, leader_only=config.leader_only, locks=locks)


@final
class SharedIc:
    """IC-NB and IC-SB connected and replicated once, for several sync engines of one
    process that name the same IC remotes (made by :func:`open_shared_ic`).

    The engines read the same two live replicas and commit through the same two
    clients; each still opens its own NB and SB (and takes ``ovn_ic`` on its SB).
    Nothing in here belongs to one engine: an engine that stops leaves the connections
    to the others, and they close when the :func:`open_shared_ic` block ends.
    """

    def __init__(self, dbs: Databases, remotes: Mapping[DatabaseKey, str],
                 requirements: Requirements, options: ConnectOptions) -> None:
        """Wrap what :func:`open_shared_ic` opened (use that)."""
        self._dbs = dbs
        self._ended = False  # the open_shared_ic block has ended: the clients are closed
        self.remotes: dict[DatabaseKey, str] = dict(remotes)
        """The remote list of each database, as given."""
        self.requirements = requirements
        """What the replicas hold: the tables and columns monitored, the indexes added."""
        self.options = options
        """How the clients connected (an engine's config must agree on these)."""

    @property
    def clients(self) -> dict[DatabaseKey, Client]:
        """The failover client of each IC database (``ic_nb``, ``ic_sb``)."""
        return self._dbs.clients

    @property
    def replicas(self) -> dict[DatabaseKey, LiveReplica]:
        """The live replica of each IC database (``ic_nb``, ``ic_sb``)."""
        return self._dbs.replicas

    @property
    def schemas(self) -> dict[DatabaseKey, DatabaseSchema]:
        """The servers' schemas, by database key (what the engines detect rules from)."""
        return {k: c.schema for k, c in self.clients.items() if c.schema is not None}

    def _missing(self, requirements: Requirements) -> list[str]:
        """What ``requirements`` asks of IC-NB and IC-SB that the replicas do not hold,
        one line per table (empty: everything is there)."""
        lines: list[str] = []
        for key in _IC_DATABASES:
            have = self.requirements.tables_for(key)
            for table, columns in sorted(requirements.tables_for(key).items()):
                if table not in have:
                    lines.append(f"{LABELS[key]} {table}")
                    continue
                got = have[table]
                if got is None:
                    continue
                if columns is None:
                    lines.append(f"{LABELS[key]} {table}: every column")
                    continue
                lacking = [c for c in columns if c not in got]
                if lacking:
                    lines.append(f"{LABELS[key]} {table}: {', '.join(lacking)}")
        return lines

    def _attach(self, dbs: Databases, requirements: Requirements) -> None:
        """Put the shared clients and replicas into ``dbs`` (an engine's own
        :class:`Databases`, holding its NB and SB) and add ``requirements``' IC client
        indexes to the shared replicas (idempotent: an index over the same columns is
        kept). Raises :class:`~ovsdb_ic.errors.ConfigError` (field ``requirements``)
        naming every table or column the replicas lack, or (field ``ic``) when the
        :func:`open_shared_ic` block has ended."""
        _check_open(self)
        lacking = self._missing(requirements)
        if lacking:
            raise ConfigError("requirements", lacking,
                              "the shared IC replicas do not hold what this engine reads; "
                              "open them with open_shared_ic(extra=...) covering it")
        for key in _IC_DATABASES:
            live = self.replicas[key]
            requirements.install_on(live.replica, key)
            dbs.clients[key] = self.clients[key]
            dbs.replicas[key] = live


def _restricted(req: Requirements, schemas: Mapping[DatabaseKey, DatabaseSchema]
                ) -> Requirements:
    """``req``'s IC tables, columns and indexes that the servers' schemas have."""
    tables: dict[DatabaseKey, dict[str, tuple[str, ...] | None]] = {}
    for key in _IC_DATABASES:
        schema = schemas.get(key)
        for table, columns in req.tables_for(key).items():
            if schema is None or table not in schema.tables:
                continue
            have = schema.tables[table].columns
            kept = None if columns is None else tuple(c for c in columns if c in have)
            if kept == ():
                continue
            tables.setdefault(key, {})[table] = kept
    indexes = tuple(ix for ix in req.indexes
                    if ix[1] in tables.get(ix[0], {})
                    and all((c if isinstance(c, str) else c[0]) in
                            schemas[ix[0]].tables[ix[1]].columns for c in ix[3]))
    return Requirements(tables, indexes)


@asynccontextmanager
async def open_shared_ic(
    config: SyncConfig, *, extra: Requirements | None = None
) -> AsyncIterator[SharedIc]:
    """Connect to the IC-NB and IC-SB of ``config`` once, as its engine would (its
    ``ssl_context``, ``probe_interval``, ``backoff`` and ``leader_only``), and replicate
    what the sync engine of every OVN release reads there (and the IC tables of
    ``config.extra_planners`` and of ``extra``, e.g. other engines' extra planners),
    limited to the tables and columns the servers' schemas have; yields a
    :class:`SharedIc` to hand to the engines of every config that agrees with
    ``config`` on those remotes and fields (``SyncEngine(other, ic=shared)``).

    Raises :class:`~ovsdb_ic.sync.session.UnreachableError` as
    :func:`~ovsdb_ic.sync.session.open_databases`. A lost connection (a Raft leader
    change) is replaced as an engine's own would be: every engine sharing it sees the
    same thing at once (a transaction in flight fails and is counted in its
    ``stats.errors``, then it plans again on the resumed replica). Leaving the block
    closes both clients: run the engines inside it (an engine that stops, in turn,
    leaves them open for the others). :func:`run_syncs` does all of this for a list of
    configs.
    """
    wanted = ALL_RULES_REQUIREMENTS | config.requirements()
    if extra is not None:
        wanted = wanted | extra
    chosen: list[Requirements] = []

    def choose(schemas: Mapping[DatabaseKey, DatabaseSchema]) -> Requirements:
        chosen.append(_restricted(wanted, schemas))
        return chosen[0]

    remotes: dict[DatabaseKey, str] = {"ic_nb": config.ic_nb_db, "ic_sb": config.ic_sb_db}
    options = _connect_options(config)
    async with open_databases(remotes, choose, options=options) as dbs:
        shared = SharedIc(dbs, remotes, chosen[0], options)
        try:
            yield shared
        finally:
            shared._ended = True


def _disagreement(config: SyncConfig, remotes: Mapping[DatabaseKey, str],
                  options: ConnectOptions) -> tuple[str, Any, Any] | None:
    """The first field where ``config`` differs from shared IC connections:
    ``(field, config's value, theirs)``."""
    pairs: tuple[tuple[str, DatabaseKey], ...] = (("ic_nb_db", "ic_nb"), ("ic_sb_db", "ic_sb"))
    for field, key in pairs:
        if getattr(config, field) != remotes.get(key):
            return field, getattr(config, field), remotes.get(key)
    for field in _SHARED_FIELDS:
        mine, theirs = getattr(config, field), getattr(options, field)
        if not (mine is theirs if field == "ssl_context" else mine == theirs):
            return field, mine, theirs
    return None


def _check_open(shared: SharedIc) -> None:
    if shared._ended:
        raise ConfigError("ic", shared.remotes,
                          "the shared IC connections are closed (their open_shared_ic block "
                          "has ended): run the engines inside that block")


def _check_shared(config: SyncConfig, shared: SharedIc) -> None:
    """Raise :class:`~ovsdb_ic.errors.ConfigError` naming the field when ``config``
    cannot use ``shared``: its ``ic_nb_db``/``ic_sb_db`` differ, or its ``ssl_context``
    (not the same object), ``probe_interval``, ``backoff`` or ``leader_only`` do, or
    ``shared``'s block has ended (field ``ic``)."""
    _check_open(shared)
    found = _disagreement(config, shared.remotes, shared.options)
    if found is not None:
        field, mine, theirs = found
        raise ConfigError(field, mine, f"differs from the shared IC connections' {theirs!r}")


def _group_configs(configs: Sequence[SyncConfig]) -> list[list[int]]:
    """The indexes of ``configs`` grouped by their IC remotes (``ic_nb_db`` and
    ``ic_sb_db``), in order of first appearance: each group can share one IC pair.

    Raises :class:`~ovsdb_ic.errors.ConfigError` when configs of one group disagree on
    how to connect; the field is named ``configs[i].<field>`` (``ssl_context``,
    ``probe_interval``, ``backoff``, ``leader_only``)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, config in enumerate(configs):
        groups.setdefault((config.ic_nb_db, config.ic_sb_db), []).append(i)
    for indexes in groups.values():
        first = configs[indexes[0]]
        remotes: dict[DatabaseKey, str] = {"ic_nb": first.ic_nb_db, "ic_sb": first.ic_sb_db}
        options = _connect_options(first)
        for i in indexes[1:]:
            found = _disagreement(configs[i], remotes, options)
            if found is not None:
                field, mine, theirs = found
                raise ConfigError(
                    f"configs[{i}].{field}", mine,
                    f"differs from configs[{indexes[0]}].{field} ({theirs!r}), which names "
                    "the same IC databases: engines sharing IC connections must agree")
    return list(groups.values())


async def run_syncs(
    configs: Sequence[SyncConfig],
    *,
    once: bool = False,
    wait_sb: bool = False,
    report: Callable[[str], None] | None = None,
    task_status: trio.TaskStatus[list[SyncEngine]] = trio.TASK_STATUS_IGNORED,
) -> list[SyncStats]:
    """Run one :class:`SyncEngine` per config in this task, the engines whose configs
    name the same IC-NB and IC-SB remotes over one shared pair of IC connections and
    replicas (:func:`open_shared_ic`); configs naming the same IC remotes must agree on
    ``ssl_context`` (the same object), ``probe_interval``, ``backoff`` and
    ``leader_only``.

    ``nursery.start(run_syncs, configs)`` gives the engines, in the order of
    ``configs``, once every engine's replicas are loaded. ``once``, ``wait_sb`` and
    ``report`` as for :func:`run_sync`, for every engine. Returns each engine's stats
    when all have returned (``once``); cancel it to stop them all. A config error
    (:class:`~ovsdb_ic.errors.ConfigError` naming the field, ``configs[2].backoff``) is
    raised before anything connects; an error of one engine (e.g.
    :class:`~ovsdb_ic.sync.session.UnreachableError`) or of a shared connection stops
    every engine and is raised as itself (a group only when several failed at once).
    """
    if not configs:
        raise ConfigError("configs", list(configs), "at least one config is needed")
    groups = _group_configs(configs)
    engines: list[SyncEngine | None] = [None] * len(configs)
    # The groups connect at the same time; the engines are handed out once all loaded.
    waiting = len(groups)
    all_loaded = trio.Event()

    def loaded() -> None:
        nonlocal waiting
        waiting -= 1
        if not waiting:
            all_loaded.set()

    async def run_group(indexes: list[int]) -> None:
        first = configs[indexes[0]]
        extra = Requirements()
        for i in indexes:
            for _name, _planner, req in configs[i].extra_planners:
                extra = extra | req
        # Each nursery of ours hands a lone error back as itself, so an engine's error
        # leaves run_syncs as it was raised, its own __cause__ kept.
        with _one_error():
            async with open_shared_ic(first, extra=extra) as ic, \
                    trio.open_nursery() as nursery:
                mine = []
                for i in indexes:
                    engine = SyncEngine(configs[i], report=report, ic=ic)
                    engines[i] = engine
                    mine.append(engine)
                    nursery.start_soon(functools.partial(engine.run_and_wait, once=once,
                                                         wait_sb=wait_sb))
                for engine in mine:
                    await engine._running.wait()
                loaded()

    with _one_error():
        async with trio.open_nursery() as nursery:
            for indexes in groups:
                nursery.start_soon(run_group, indexes)
            await all_loaded.wait()
            task_status.started([e for e in engines if e is not None])
    return [e.stats for e in engines if e is not None]


def describe_tables(keys: Sequence[DatabaseKey] = tuple(DATABASES)) -> dict[str, list[str]]:
    """The tables the engine replicates per database (for docs and diagnostics)."""
    return {k: sorted(REQUIREMENTS.tables.get(k, {})) for k in keys}

