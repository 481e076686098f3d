"""What the ``ovsdb-ic`` Kube-OVN commands do, as reusable coroutines (trio).

* :func:`establish`, :func:`teardown` and :func:`reset` open an AZ's NB and SB and
  IC-NB and IC-SB with :func:`~ovsdb_ic.sync.session.open_databases` (the one
  orchestration path the sync engine uses too; one live replica per database holding
  what :data:`~ovsdb_ic.kubeovn.REQUIREMENTS` lists), then
  :func:`~ovsdb_ic.sync.session.converge` with this module's policy
  (:meth:`RunOptions.commit_policy`): each plan's parts committed one database after
  another (IC-NB, then IC-SB, then NB, then SB), each a guarded transaction followed by
  a wait until the replica shows it, and plan again until the plan is empty. A
  conflict or a transaction whose outcome is unknown makes it read again and plan
  again (a bounded number of times).
* :func:`show` is ``ovn-ic-sbctl show`` (:func:`~ovsdb_ic.ic.render_show`).
* :func:`route_list` is ``ovn-nbctl lr-route-list`` (:func:`render_route_list`, a pure
  renderer of an NB replica), learned routes marked ``(learned)`` as the tool does.

See docs/kubeovn.md ("Command line").
"""

from __future__ import annotations

import re
import ssl
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, final

import attrs

from ovsdb_ic.errors import ConfigError, OvsdbError
from ovsdb_ic.ic import REQUIREMENTS as IC_REQUIREMENTS
from ovsdb_ic.ic import Interconnection, render_show
from ovsdb_ic.ic.addr import normalize_prefix, parse_route_prefix
from ovsdb_ic.ic.databases import LABELS, DatabaseKey, Requirements, Snapshot
from ovsdb_ic.kubeovn.config import ConfigProblem, IcConfig
from ovsdb_ic.kubeovn.establish import (
    DEFAULT_CLUSTER_ROUTER,
    LEARNED_ROUTE_KEY,
    MAX_TS_NUM,
    REQUIREMENTS,
    Protocol,
    deny_list,
    plan_establish,
    plan_teardown,
)
from ovsdb_ic.replica import Replica, Row
from ovsdb_ic.sync.plan import Plan
from ovsdb_ic.sync.session import (
    LOCK_NAME,
    ApplyError,
    AzRemotes,
    CommitPolicy,
    ConnectOptions,
    Databases,
    Report,
    UnreachableError,
    _ignore,
    converge,
    open_databases,
)

__all__ = [
    "COMMIT_ORDER",
    "LABELS",
    "ROUTE_LIST_TABLES",
    "ApplyError",
    "ApplyResult",
    "AzRemotes",
    "Databases",
    "EstablishParams",
    "RouterNotFoundError",
    "RunOptions",
    "UnreachableError",
    "establish",
    "render_route_list",
    "reset",
    "route_list",
    "show",
    "teardown",
]

COMMIT_ORDER: Final[tuple[DatabaseKey, ...]] = ("ic_nb", "ic_sb", "nb", "sb")
"""The order in which one plan's parts are committed: the transit switches exist in
IC-NB before their local mirrors in NB (see :func:`~ovsdb_ic.kubeovn.plan_establish`)."""

ROUTE_LIST_TABLES: Final[Mapping[str, tuple[str, ...] | None]] = {
    "Logical_Router": ("name", "static_routes"),
    "Logical_Router_Static_Route": (
        "ip_prefix", "nexthop", "policy", "output_port", "route_table", "external_ids",
        "options", "bfd",
    ),
}
"""The NB tables and columns :func:`render_route_list` reads."""


# ---------------------------------------------------------------------------- errors


class RouterNotFoundError(OvsdbError, LookupError):
    """No logical router has the name (or UUID), or several have the name."""


# -------------------------------------------------------------------------- settings


@final
@attrs.frozen
class RunOptions:
    """How the commands connect, report and retry."""

    ssl_context: ssl.SSLContext | None = None
    """Key, certificate and CA for ``ssl:`` remotes."""
    connect_timeout: float = 30.0
    """Seconds to connect to a database and copy its tables before giving up."""
    catch_up_timeout: float | None = 30.0
    """Seconds to wait for a replica to show a commit before failing (``None``: no bound)."""
    probe_interval: float | None = 5.0
    """The clients' inactivity probe."""
    report: Report = _ignore
    """Receives one line per committed transaction (or per planned operation in
    dry-run mode): what the command did."""
    progress: Report = _ignore
    """Receives progress lines for slow steps and warnings."""
    dry_run: bool = False
    """Plan once and report the operations; write nothing."""
    max_passes: int = 10
    """Plans (committed, or abandoned after a conflict) before giving up."""
    max_retries: int = 5
    """Conflicts (failed guards, unique-index violations, unknown outcomes) tolerated."""

    def connect_options(self) -> ConnectOptions:
        """How :func:`~ovsdb_ic.sync.session.open_databases` connects for a command."""
        return ConnectOptions(ssl_context=self.ssl_context, probe_interval=self.probe_interval,
                              connect_timeout=self.connect_timeout, progress=self.progress)

    def commit_policy(self, comment: str | None = None) -> CommitPolicy:
        """How the commands commit: database by database in :data:`COMMIT_ORDER`, an
        unknown outcome read again and planned again like a conflict (every
        transaction is guarded, so a re-read shows whether it committed)."""
        return CommitPolicy(
            order=COMMIT_ORDER, lock=None, outcome_unknown_is_conflict=True,
            catch_up_timeout=self.catch_up_timeout, comment=comment,
            max_passes=self.max_passes, max_conflicts=self.max_retries,
        )


@final
@attrs.frozen
class EstablishParams:
    """The parameters of :func:`~ovsdb_ic.kubeovn.plan_establish` that are not in
    ``ovn-ic-config`` (they come from Kubernetes or the IC database deployment)."""

    ts_num: int | None = None
    """How many transit switches (``None``: those IC-NB already has)."""
    cluster_router: str = DEFAULT_CLUSTER_ROUTER
    """The router the transit switch ports go on."""
    protocol: Protocol = "Dual"
    """Address families of new transit switch subnets."""
    disabled_subnets: tuple[str, ...] = ()
    """CIDRs of the subnets with ``disableInterConnection: true``."""
    join_subnet: str | None = None
    """The join subnet (never advertised)."""
    node_ips: tuple[str, ...] = ()
    """Every node's internal IP (never advertised)."""

    def problems(self) -> list[ConfigProblem]:
        """Every bad parameter, named by its command-line option (empty when all good)."""
        out: list[ConfigProblem] = []
        if self.ts_num is not None and (
            isinstance(self.ts_num, bool) or not isinstance(self.ts_num, int)
            or not 1 <= self.ts_num <= MAX_TS_NUM
        ):
            out.append(ConfigProblem("--ts-num", str(self.ts_num),
                                     f"must be a number from 1 to {MAX_TS_NUM}"))
        if not self.cluster_router.strip():
            out.append(ConfigProblem("--cluster-router", self.cluster_router,
                                     "must not be empty"))
        if self.protocol not in ("IPv4", "IPv6", "Dual"):
            out.append(ConfigProblem("--protocol", str(self.protocol),
                                     "must be IPv4, IPv6 or Dual"))
        checks: list[tuple[str, Iterable[str], str]] = [
            ("--disabled-subnet", self.disabled_subnets, "disabled"),
            ("--join-subnet", () if self.join_subnet is None else (self.join_subnet,), "join"),
            ("--node-ip", self.node_ips, "node"),
        ]
        for option, entries, kind in checks:
            for entry in entries:
                try:
                    if kind == "disabled":
                        deny_list(disabled_subnets=[entry])
                    elif kind == "join":
                        deny_list(join_subnet=entry)
                    else:
                        deny_list(node_ips=[entry])
                except ConfigError as exc:
                    out.append(ConfigProblem(option, str(exc.value), exc.reason))
        return out

    def plan(self, snap: Snapshot, config: IcConfig) -> Plan:
        """:func:`~ovsdb_ic.kubeovn.plan_establish` with these parameters."""
        return plan_establish(
            snap, config, ts_num=self.ts_num, cluster_router=self.cluster_router,
            protocol=self.protocol, disabled_subnets=self.disabled_subnets,
            join_subnet=self.join_subnet, node_ips=self.node_ips,
        )


@final
@attrs.frozen
class ApplyResult:
    """What an establish or a teardown did."""

    passes: int
    """Plans made (the last one empty, unless dry-run)."""
    transactions: int
    """Transactions committed."""
    operations: int
    """Plan operations committed."""
    retries: int
    """Conflicts met (each followed by reading again and planning again)."""
    planned: tuple[str, ...] = ()
    """In dry-run mode, the operations the first plan holds (``Plan.describe``)."""
    dry_run: bool = False
    """Whether nothing was written on purpose."""

    @property
    def changed(self) -> bool:
        """True when something was committed (or, in dry-run mode, would be)."""
        return bool(self.operations or self.planned)


# ------------------------------------------------------------------ kube-ovn workflow


async def _apply(
    dbs: Databases, planner: Callable[[Snapshot], Plan], options: RunOptions, comment: str
) -> ApplyResult:
    """Plan and commit until nothing is left (:func:`~ovsdb_ic.sync.session.converge`),
    or in dry-run mode plan once and report the operations."""
    if options.dry_run:
        plan = planner(dbs.snapshot())
        lines = tuple(plan.describe())
        for line in lines:
            options.report(line)
        return ApplyResult(1, 0, 0, 0, planned=lines, dry_run=True)
    done = await converge(dbs, planner, options.commit_policy(comment),
                          report=options.report, progress=options.progress)
    return ApplyResult(done.passes, done.transactions, done.operations, done.conflicts)


async def _take_lock(dbs: Databases, options: RunOptions) -> None:
    """Hold ``ovn_ic`` on the SB database while tearing down, so that a sync engine
    starting meanwhile stands by; warn when someone else holds it."""
    client = dbs.clients["sb"]
    lock = await client.lock(LOCK_NAME)
    if not lock.held:
        await client.unlock(LOCK_NAME)
        options.progress(
            f"warning: the {LOCK_NAME} lock on the SB database is held by another client "
            "(ovn-ic or ovsdb-ic sync runs for this AZ); it may put back what teardown "
            "removes: stop it first"
        )


async def _establish_in(
    dbs: Databases, config: IcConfig, params: EstablishParams, options: RunOptions
) -> ApplyResult:
    return await _apply(dbs, lambda snap: params.plan(snap, config), options,
                        f"ovsdb-ic establish {config.az_name}")


async def _teardown_in(
    dbs: Databases, az: str, options: RunOptions, *, clear_az_name: bool,
    remove_remote_chassis: bool,
) -> ApplyResult:
    if not options.dry_run:
        await _take_lock(dbs, options)
    return await _apply(
        dbs,
        lambda snap: plan_teardown(snap, az, clear_az_name=clear_az_name,
                                   remove_remote_chassis=remove_remote_chassis),
        options, f"ovsdb-ic teardown {az}",
    )


async def establish(
    remotes: AzRemotes,
    config: IcConfig,
    params: EstablishParams = EstablishParams(),
    *,
    options: RunOptions = RunOptions(),
) -> ApplyResult:
    """Establish interconnection for ``config`` (see
    :func:`~ovsdb_ic.kubeovn.plan_establish`) on the four databases of ``remotes``.

    Idempotent: on an established AZ it commits nothing (``result.changed`` false).
    """
    async with open_databases(remotes, REQUIREMENTS, options=options.connect_options()) as dbs:
        return await _establish_in(dbs, config, params, options)


async def teardown(
    remotes: AzRemotes,
    config_or_az_name: IcConfig | str,
    *,
    clear_az_name: bool = False,
    remove_remote_chassis: bool = True,
    options: RunOptions = RunOptions(),
) -> ApplyResult:
    """Remove the AZ's interconnection (see :func:`~ovsdb_ic.kubeovn.plan_teardown`).

    Holds the ``ovn_ic`` lock on the SB database meanwhile when it is free, and warns
    through ``options.progress`` when another client (a running sync engine) holds it.
    """
    az = config_or_az_name.az_name if isinstance(config_or_az_name, IcConfig) else (
        config_or_az_name
    )
    async with open_databases(remotes, REQUIREMENTS, options=options.connect_options()) as dbs:
        return await _teardown_in(dbs, az, options, clear_az_name=clear_az_name,
                                  remove_remote_chassis=remove_remote_chassis)


async def reset(
    remotes: AzRemotes,
    config: IcConfig,
    params: EstablishParams = EstablishParams(),
    *,
    previous: IcConfig | str | None = None,
    options: RunOptions = RunOptions(),
) -> tuple[ApplyResult, ApplyResult]:
    """What a config change does: a teardown of ``previous`` (default: ``config``'s
    AZ), then an establish of ``config``, over one set of connections.

    Returns the two results. Not available in dry-run mode (the establish plan
    depends on what the teardown removes).
    """
    if options.dry_run:
        raise ConfigError("--dry-run", True, "reset cannot be planned without tearing down")
    old = config.az_name if previous is None else (
        previous.az_name if isinstance(previous, IcConfig) else previous
    )
    async with open_databases(remotes, REQUIREMENTS, options=options.connect_options()) as dbs:
        down = await _teardown_in(dbs, old, options, clear_az_name=False,
                                  remove_remote_chassis=True)
        up = await _establish_in(dbs, config, params, options)
        return down, up


# ------------------------------------------------------------------------ show, routes


async def show(
    ic_sb_db: str,
    az: str | None = None,
    *,
    ic_nb_db: str | None = None,
    options: RunOptions = RunOptions(),
) -> str:
    """The text ``ovn-ic-sbctl show [AZ]`` prints, read from ``ic_sb_db``
    (:func:`~ovsdb_ic.ic.render_show`); ``ic_nb_db`` adds the IC-NB replica to the
    views (the text does not depend on it)."""
    remotes: dict[DatabaseKey, str] = {"ic_sb": ic_sb_db}
    if ic_nb_db:
        remotes["ic_nb"] = ic_nb_db
    async with open_databases(remotes, IC_REQUIREMENTS,
                              options=options.connect_options()) as dbs:
        nb_live = dbs.replicas.get("ic_nb")
        ic = Interconnection(dbs.replicas["ic_sb"].replica,
                             None if nb_live is None else nb_live.replica)
        return render_show(ic, az)


async def route_list(
    ovnnb_db: str,
    router: str,
    *,
    route_table: str | None = None,
    options: RunOptions = RunOptions(),
) -> str:
    """The text ``ovn-nbctl lr-route-list [--route-table=T] ROUTER`` prints, read from
    ``ovnnb_db`` (see :func:`render_route_list`)."""
    async with open_databases({"nb": ovnnb_db}, Requirements({"nb": ROUTE_LIST_TABLES}),
                              options=options.connect_options()) as dbs:
        return render_route_list(dbs.replicas["nb"].replica, router, route_table=route_table)


POLICY_LIST_TABLES: Final[Mapping[str, tuple[str, ...]]] = {
    "Logical_Router": ("name", "policies"),
    "Logical_Router_Policy": ("priority", "match", "action", "nexthops", "options",
                              "external_ids"),
}
"""The NB tables and columns :func:`policy_list` reads."""


async def policy_list(
    ovnnb_db: str,
    router: str,
    *,
    options: RunOptions = RunOptions(),
) -> str:
    """The text ``ovn-nbctl lr-policy-list ROUTER`` prints, read from ``ovnnb_db``
    (see :func:`~ovsdb_ic.kubeovn.policies.render_policy_list`): with Kube-OVN, the
    priority-29500 ``allow`` policies of the learned routes show there."""
    from ovsdb_ic.kubeovn.policies import render_policy_list

    async with open_databases({"nb": ovnnb_db}, Requirements({"nb": POLICY_LIST_TABLES}),
                              options=options.connect_options()) as dbs:
        replica = dbs.replicas["nb"].replica
        return render_policy_list(replica, _find_router(replica, router))


# ------------------------------------------------------------- lr-route-list renderer

_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

@attrs.frozen
class _Entry:
    route: Row
    table: bytes
    priority: int
    addr: int

    def group(self) -> tuple[bytes, int, int]:
        return (self.table, self.priority, self.addr)

    def key(self) -> tuple[Any, ...]:
        r = self.route
        port = r["output_port"]
        port_key = (0, b"") if port is None else (1, str(port).encode())
        return (self.table, -self.priority, self.addr, str(r["nexthop"]).encode(), port_key,
                r.uuid)


def _route_line(route: Row, ecmp: bool) -> str:
    prefix = normalize_prefix(route["ip_prefix"]) or ""
    nexthop_text = route["nexthop"]
    if nexthop_text == "discard":
        nexthop = "discard"
    elif nexthop_text:
        nexthop = normalize_prefix(nexthop_text) or ""
    else:
        nexthop = ""
    line = f"{prefix:>25} {nexthop:>25} {route['policy'] or 'dst-ip'}"
    if route["output_port"] is not None:
        line += f" {route['output_port']}"
    if LEARNED_ROUTE_KEY in route["external_ids"]:
        line += " (learned)"
    if ecmp:
        line += " ecmp"
    if str(route["options"].get("ecmp_symmetric_reply", "")).lower() == "true":
        line += " ecmp-symmetric-reply"
    if route["bfd"] is not None:
        line += " bfd"
    return line


def _find_router(replica: Replica, router: str) -> Row:
    """``lr_by_name_or_uuid``: by UUID first (when ``router`` is one), then by name."""
    view = replica.table("Logical_Router")
    is_uuid = _UUID_TEXT.fullmatch(router) is not None
    if is_uuid:
        row = view.get(uuid.UUID(router))
        if row is not None:
            return row
    found = [r for r in view if r["name"] == router]
    if len(found) > 1:
        raise RouterNotFoundError(f"Multiple logical routers named '{router}'.  Use a UUID.")
    if not found:
        raise RouterNotFoundError(f"{router}: router {'UUID' if is_uuid else 'name'} not found")
    return found[0]


def render_route_list(replica: Replica, router: str, *, route_table: str | None = None) -> str:
    """The text ``ovn-nbctl lr-route-list [--route-table=T] ROUTER`` (OVN 23.03) prints
    for the NB ``replica`` (holding :data:`ROUTE_LIST_TABLES`).

    ``IPv4 Routes`` then ``IPv6 Routes``, each grouped under ``Route Table <name>:``
    (``<main>`` for the default table), routes ordered by table, then by priority
    (longer prefixes first, ``dst-ip`` before ``src-ip`` at one length), address and
    nexthop. Each line: the prefix and the nexthop right-aligned in 25 columns, the
    policy, the output port, ``(learned)`` for a route the IC sync learned
    (``external_ids:ic-learned-route``), ``ecmp`` when it shares table, priority and
    prefix with another, ``ecmp-symmetric-reply`` and ``bfd`` when set. Routes with an
    unreadable prefix are left out. ``router`` is a name or a UUID; an unknown or
    ambiguous one raises :class:`RouterNotFoundError` with the tool's message.
    """
    row = _find_router(replica, router)
    routes = replica.table("Logical_Router_Static_Route")
    v4: list[_Entry] = []
    v6: list[_Entry] = []
    for route_uuid in row["static_routes"]:
        route = routes.get(route_uuid)
        if route is None:
            continue
        if route_table is not None and route["route_table"] != route_table:
            continue
        dst = (route["policy"] or "dst-ip") == "dst-ip"
        table = str(route["route_table"]).encode()
        parsed = parse_route_prefix(route["ip_prefix"])
        if parsed is not None:
            entry = _Entry(route, table, 2 * parsed.plen + (1 if dst else 0), parsed.address)
            (v4 if parsed.version == 4 else v6).append(entry)
    out: list[str] = []
    for title, entries in (("IPv4 Routes", v4), ("IPv6 Routes", v6)):
        if not entries:
            continue
        entries.sort(key=_Entry.key)
        if out:
            out.append("")
        out.append(title)
        for i, entry in enumerate(entries):
            ecmp = (i + 1 < len(entries) and entries[i + 1].group() == entry.group()) or (
                i > 0 and entries[i - 1].group() == entry.group()
            )
            if i == 0 or entries[i - 1].table != entry.table:
                if i:
                    out.append("")
                out.append(f"Route Table {entry.route['route_table'] or '<main>'}:")
            out.append(_route_line(entry.route, ecmp))
    return "".join(f"{line}\n" for line in out)
