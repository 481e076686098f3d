"""A complete set of OVN Interconnection databases in one :class:`~ovsdb_ic.testing.Sandbox`.

:class:`IcDeployment` starts what an OVN-IC setup needs, all on loopback:

* the IC northbound database (``OVN_IC_Northbound``) on a standalone server,
* the IC southbound database (``OVN_IC_Southbound``) on a Raft cluster (3 members by
  default),
* for each availability zone (``az1``, ``az2`` by default) its own OVN northbound and
  southbound databases on standalone servers.

On request it also starts, per availability zone, ``ovn-northd`` and an IC agent: the C
``ovn-ic`` daemon or this project's sync engine (see :mod:`ovsdb_ic.testing.ovn`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, final

import attrs

from ovsdb_ic.errors import SandboxError
from ovsdb_ic.testing.install import OvnInstall
from ovsdb_ic.testing.ovn import (
    Daemon,
    IcDump,
    IcState,
    dump_ic,
    sandbox_daemons,
    settle,
    start_engine,
    start_northd,
    start_ovn_ic,
)
from ovsdb_ic.testing.sandbox import Cluster, Sandbox, Server

__all__ = ["AgentKind", "AvailabilityZone", "ComponentInfo", "IcDeployment", "format_table"]

AgentKind = Literal["ovn-ic", "engine"]
"""Which IC agent runs an availability zone: the C ``ovn-ic`` daemon or the engine."""


@final
@attrs.frozen
class ComponentInfo:
    """What runs where: one row of :meth:`IcDeployment.components`.

    ``role`` is ``standalone`` for a standalone server; for an IC-SB cluster member it is
    its Raft role (``leader``, ``follower``, ``candidate``), ``stopped`` when it is
    SIGSTOPped, ``down`` when it is not running and ``unknown`` when it did not answer.
    For a daemon (``ovn-northd``, an IC agent) it is the daemon's kind (``ovn-northd``,
    ``ovn-ic``, ``engine``), ``database`` is ``-`` and ``remotes`` its control socket.
    """

    component: str
    database: str
    pid: int | None
    role: str
    remotes: tuple[str, ...]


@final
@attrs.frozen
class AvailabilityZone:
    """The OVN northbound and southbound servers of one availability zone."""

    name: str
    nb: Server
    sb: Server

    @property
    def remotes(self) -> tuple[str, str]:
        """The (NB, SB) remotes an AZ's daemons use: their unix sockets."""
        return (self.nb.remote, self.sb.remote)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Format *rows* as a left-aligned plain-text table under *headers*."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


@final
class IcDeployment:
    """IC-NB (standalone), IC-SB (Raft cluster) and per-AZ NB/SB servers in a sandbox.

    Create it with :meth:`start`. The sandbox owns the processes: closing the sandbox
    stops everything, daemons included.

    Daemons: :meth:`start_northd` (``ovn-northd`` per AZ), and one IC agent per AZ:
    :meth:`start_ovn_ic` (the C daemon) or :meth:`start_engine` (``python -m ovsdb_ic
    sync``). :meth:`dump`, :meth:`state` and :meth:`settle` read back what the agents
    wrote, normalised (see :class:`~ovsdb_ic.testing.ovn.IcState`).
    """

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        ic_nb: Server,
        ic_sb: Cluster,
        azs: dict[str, AvailabilityZone],
    ) -> None:
        #: The sandbox holding every process.
        self.sandbox = sandbox
        #: The standalone OVN_IC_Northbound server (component ``ic-nb``).
        self.ic_nb = ic_nb
        #: The OVN_IC_Southbound Raft cluster (members ``ic-sb-1`` ... ``ic-sb-N``).
        self.ic_sb = ic_sb
        #: The availability zones by name, each with its ``nb`` and ``sb`` servers.
        self.azs = azs
        #: ``ovn-northd`` per AZ name, once started.
        self.northd: dict[str, Daemon] = {}
        #: The IC agent (C ``ovn-ic`` or the engine) per AZ name, once started.
        self.agents: dict[str, Daemon] = {}
        #: Agents started with an explicit name (standbys) or ``once``, in start order.
        self.other_agents: list[Daemon] = []

    @classmethod
    def start(
        cls,
        sandbox: Sandbox,
        *,
        azs: Sequence[str] = ("az1", "az2"),
        ic_sb_size: int = 3,
        northd: bool = False,
        agents: AgentKind | Sequence[AgentKind] | None = None,
    ) -> IcDeployment:
        """Start every database server in *sandbox* and return the deployment.

        Servers, ``ovn-northd`` and the C ``ovn-ic`` are those of the sandbox's OVN
        release (``Sandbox(ovn="25.03")``), and so are the databases' schemas.

        Servers are named ``ic-nb``, ``ic-sb-1`` ... ``ic-sb-<ic_sb_size>``, and
        ``<az>-nb`` / ``<az>-sb`` for each name in *azs*. Standalone servers listen on a
        unix socket and a loopback TCP port. Returns once the IC-SB cluster has a leader.

        *northd*: also start ``ovn-northd`` for every AZ. *agents*: also start an IC
        agent for every AZ, ``"ovn-ic"`` (the C daemon) or ``"engine"``; a sequence
        gives one kind per AZ, in the order of *azs* (``("ovn-ic", "engine")``).
        """
        if len(set(azs)) != len(azs):
            raise SandboxError(f"availability zone names must be unique: {list(azs)}")
        ic_nb = sandbox.start_server("ic-nb", name="ic-nb", tcp=True)
        ic_sb = sandbox.start_cluster("ic-sb", name="ic-sb", size=ic_sb_size)
        zones: dict[str, AvailabilityZone] = {}
        for az in azs:
            zones[az] = AvailabilityZone(
                name=az,
                nb=sandbox.start_server("nb", name=f"{az}-nb", tcp=True),
                sb=sandbox.start_server("sb", name=f"{az}-sb", tcp=True),
            )
        deployment = cls(sandbox, ic_nb=ic_nb, ic_sb=ic_sb, azs=zones)
        kinds: list[AgentKind] = []
        if isinstance(agents, str):
            kinds = [agents] * len(azs)
        elif agents is not None:
            kinds = list(agents)
            if len(kinds) != len(azs):
                raise SandboxError(f"{len(kinds)} agent kinds for {len(azs)} zones")
        if northd:
            for az in azs:
                deployment.start_northd(az)
        for az, kind in zip(azs, kinds, strict=False):
            deployment.start_agent(az, kind)
        return deployment

    @property
    def ovn(self) -> OvnInstall:
        """The OVN release the deployment runs (the sandbox's): pass it as ``ovn=`` to
        :func:`~ovsdb_ic.testing.ovn.ovn_nbctl` and the other ``*ctl`` helpers."""
        return self.sandbox.ovn

    # -- daemons -----------------------------------------------------------------------

    def _zone(self, az: str) -> AvailabilityZone:
        try:
            return self.azs[az]
        except KeyError:
            raise SandboxError(f"no availability zone {az!r} in {list(self.azs)}") from None

    @property
    def ic_nb_remote(self) -> str:
        """The IC-NB remote agents use (its unix socket)."""
        return self.ic_nb.remote

    @property
    def ic_sb_remote(self) -> str:
        """The IC-SB remote agents use: every member's TCP remote, comma-separated."""
        return self.ic_sb.remote

    def start_northd(self, az: str, *, extra_args: Sequence[str] = ()) -> Daemon:
        """Start ``ovn-northd`` (``<az>-northd``) between *az*'s NB and SB."""
        if az in self.northd and self.northd[az].running:
            raise SandboxError(f"ovn-northd already runs for {az}")
        zone = self._zone(az)
        if az in self.northd:
            daemon = self._restart(self.northd[az])
        else:
            daemon = start_northd(
                self.sandbox,
                nb=zone.nb.remote,
                sb=zone.sb.remote,
                name=f"{az}-northd",
                extra_args=extra_args,
            )
        self.northd[az] = daemon
        return daemon

    def start_ovn_ic(self, az: str, *, extra_args: Sequence[str] = ()) -> Daemon:
        """Start the C ``ovn-ic`` daemon (``<az>-ovn-ic``) as *az*'s IC agent."""
        return self.start_agent(az, "ovn-ic", extra_args=extra_args)

    def start_engine(
        self, az: str, *, once: bool = False, extra_args: Sequence[str] = ()
    ) -> Daemon:
        """Start the sync engine (``<az>-engine``, ``python -m ovsdb_ic sync``) for *az*.

        With *once*, it is not recorded in :attr:`agents` (it exits by itself: use
        :meth:`~ovsdb_ic.testing.ovn.Daemon.wait`).
        """
        return self.start_agent(az, "engine", once=once, extra_args=extra_args)

    def start_agent(
        self,
        az: str,
        kind: AgentKind,
        *,
        once: bool = False,
        extra_args: Sequence[str] = (),
        name: str | None = None,
    ) -> Daemon:
        """Start an IC agent of *kind* for *az*; it becomes :attr:`agents` ``[az]`` (a
        running one must be stopped first), unless it is a ``once`` engine or has an
        explicit *name*: those go to :attr:`other_agents`.

        *name* defaults to ``<az>-ovn-ic`` / ``<az>-engine`` (a second agent for the
        same AZ, e.g. a standby, needs another name). A stopped daemon of the same name
        and kind is restarted with its original arguments.
        """
        zone = self._zone(az)
        current = self.agents.get(az)
        if not once and name is None and current is not None and current.running:
            raise SandboxError(f"an IC agent ({current.name}) already runs for {az}")
        if once and kind != "engine":
            raise SandboxError("only the engine has a --once mode")
        default = f"{az}-{kind}" + ("-once" if once else "")
        chosen = name or default
        existing = {d.name: d for d in sandbox_daemons(self.sandbox)}.get(chosen)
        if existing is not None:
            if existing.running or existing.kind != kind:
                raise SandboxError(f"a daemon named {chosen} already exists ({existing!r})")
            daemon = self._restart(existing)
        elif kind == "ovn-ic":
            daemon = start_ovn_ic(
                self.sandbox,
                nb=zone.nb.remote,
                sb=zone.sb.remote,
                ic_nb=self.ic_nb_remote,
                ic_sb=self.ic_sb_remote,
                name=chosen,
                extra_args=extra_args,
            )
        elif kind == "engine":
            daemon = start_engine(
                self.sandbox,
                nb=zone.nb.remote,
                sb=zone.sb.remote,
                ic_nb=self.ic_nb_remote,
                ic_sb=self.ic_sb_remote,
                name=chosen,
                once=once,
                extra_args=extra_args,
            )
        else:
            raise SandboxError(f"unknown agent kind {kind!r}: use 'ovn-ic' or 'engine'")
        if not once and name is None:
            self.agents[az] = daemon
        elif daemon not in self.other_agents:
            self.other_agents.append(daemon)
        return daemon

    @staticmethod
    def _restart(daemon: Daemon) -> Daemon:
        daemon.restart()
        return daemon

    def stop_agent(self, az: str) -> None:
        """Terminate *az*'s IC agent (SIGTERM, then SIGKILL) if it runs."""
        agent = self.agents.get(az)
        if agent is not None:
            agent.terminate()

    def daemons(self) -> list[Daemon]:
        """Every ``ovn-northd`` and IC agent started through this deployment."""
        return [*self.northd.values(), *self.agents.values(), *self.other_agents]

    def check_daemons(self) -> None:
        """Raise :class:`~ovsdb_ic.errors.SandboxError` (with its log) if ``ovn-northd``
        or an agent of :attr:`agents` died (one stopped with :meth:`Daemon.terminate` or
        :meth:`stop_agent` did not die)."""
        for daemon in [*self.northd.values(), *self.agents.values()]:
            daemon.check()

    # -- reading back ------------------------------------------------------------------

    def _ic_sb_read_remote(self) -> str:
        reachable = self.ic_sb.reachable()
        if not reachable:
            raise SandboxError("no reachable IC-SB member")
        return reachable[0].remote

    def dump(self) -> IcDump:
        """Read IC-SB, IC-NB and every AZ's NB and SB rows that IC agents write."""
        return dump_ic(
            self.ic_nb.remote,
            self._ic_sb_read_remote(),
            {name: zone.remotes for name, zone in self.azs.items()},
        )

    def state(self) -> IcState:
        """The normalised IC state now (see :class:`~ovsdb_ic.testing.ovn.IcState`)."""
        return self.dump().normalize()

    def settle(self, *, quiet: float = 1.0, timeout: float = 30.0, check: bool = True) -> IcState:
        """Wait until no row an IC agent writes changes for *quiet* seconds, and return
        the normalised state. *check*: fail at once (with its log) if a daemon died.
        Raises :class:`~ovsdb_ic.testing.ovn.NotSettledError` after *timeout* seconds.
        """
        dump = settle(
            self.dump,
            key=IcDump.fingerprint,
            quiet=quiet,
            timeout=timeout,
            check=self.check_daemons if check else None,
        )
        return dump.normalize()

    def servers(self) -> list[Server]:
        """Every server of the deployment: IC-NB, the IC-SB members, then the AZs'."""
        result = [self.ic_nb, *self.ic_sb.members]
        for az in self.azs.values():
            result += [az.nb, az.sb]
        return result

    def ic_sb_leader(self, *, timeout: float = 15.0) -> Server:
        """The IC-SB cluster member that currently leads (waits, bounded, for agreement)."""
        return self.ic_sb.leader(timeout=timeout)

    def components(self) -> list[ComponentInfo]:
        """Describe what runs where: component, database, pid, role and remotes."""
        roles: dict[str, str] = {}
        for member in self.ic_sb.members:
            if not member.running:
                roles[member.name] = "down"
            elif member.stopped:
                roles[member.name] = "stopped"
            else:
                try:
                    roles[member.name] = self.ic_sb.status(member, timeout=2.0).role
                except SandboxError:
                    roles[member.name] = "unknown"
        servers = [
            ComponentInfo(
                component=server.name,
                database=server.database,
                pid=server.pid if server.running else None,
                role=roles.get(server.name, "standalone"),
                remotes=tuple(server.remotes),
            )
            for server in self.servers()
        ]
        daemons = [
            ComponentInfo(
                component=daemon.name,
                database="-",
                pid=daemon.pid if daemon.running else None,
                role=daemon.kind,
                remotes=(f"unix:{daemon.ctl_path}",) if daemon.ctl_path is not None else (),
            )
            for daemon in self.daemons()
        ]
        return servers + daemons

    def describe(self) -> str:
        """A human-readable table of :meth:`components` plus the IC-SB leader and remote."""
        rows = [
            (
                c.component,
                c.database,
                str(c.pid) if c.pid is not None else "-",
                c.role,
                " ".join(c.remotes),
            )
            for c in self.components()
        ]
        table = format_table(("COMPONENT", "DATABASE", "PID", "ROLE", "REMOTES"), rows)
        leader = self.ic_sb_leader()
        return (
            f"{table}\n\n"
            f"IC-SB cluster remote: {self.ic_sb.remote}\n"
            f"IC-SB leader: {leader.name} (pid {leader.pid}, {leader.tcp_remote})"
        )
