"""A complete set of OVN Interconnection databases in one :class:`~ovsdb_ic.testing.Sandbox`.

:class:`IcDeployment` starts what an OVN-IC setup needs, all on loopback:

* the IC northbound database (``OVN_IC_Northbound``) on a standalone server,
* the IC southbound database (``OVN_IC_Southbound``) on a Raft cluster (3 members by
  default),
* for each availability zone (``az1``, ``az2`` by default) its own OVN northbound and
  southbound databases on standalone servers.

It starts no ``ovn-northd`` or ``ovn-ic`` daemon: only the databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

import attrs

from ovsdb_ic.errors import SandboxError
from ovsdb_ic.testing.sandbox import Cluster, Sandbox, Server, schema_path

__all__ = ["AvailabilityZone", "ComponentInfo", "IcDeployment", "format_table"]


@final
@attrs.frozen
class ComponentInfo:
    """What runs where: one row of :meth:`IcDeployment.components`.

    ``role`` is ``standalone`` for a standalone server; for an IC-SB cluster member it is
    its Raft role (``leader``, ``follower``, ``candidate``), ``stopped`` when it is
    SIGSTOPped, ``down`` when it is not running and ``unknown`` when it did not answer.
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
    stops everything.
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

    @classmethod
    def start(
        cls,
        sandbox: Sandbox,
        *,
        azs: Sequence[str] = ("az1", "az2"),
        ic_sb_size: int = 3,
    ) -> IcDeployment:
        """Start every database server in *sandbox* and return the deployment.

        Servers are named ``ic-nb``, ``ic-sb-1`` ... ``ic-sb-<ic_sb_size>``, and
        ``<az>-nb`` / ``<az>-sb`` for each name in *azs*. Standalone servers listen on a
        unix socket and a loopback TCP port. Returns once the IC-SB cluster has a leader.
        """
        if len(set(azs)) != len(azs):
            raise SandboxError(f"availability zone names must be unique: {list(azs)}")
        ic_nb = sandbox.start_server(schema_path("ic-nb"), name="ic-nb", tcp=True)
        ic_sb = sandbox.start_cluster(schema_path("ic-sb"), name="ic-sb", size=ic_sb_size)
        zones: dict[str, AvailabilityZone] = {}
        for az in azs:
            zones[az] = AvailabilityZone(
                name=az,
                nb=sandbox.start_server(schema_path("nb"), name=f"{az}-nb", tcp=True),
                sb=sandbox.start_server(schema_path("sb"), name=f"{az}-sb", tcp=True),
            )
        return cls(sandbox, ic_nb=ic_nb, ic_sb=ic_sb, azs=zones)

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
        return [
            ComponentInfo(
                component=server.name,
                database=server.database,
                pid=server.pid if server.running else None,
                role=roles.get(server.name, "standalone"),
                remotes=tuple(server.remotes),
            )
            for server in self.servers()
        ]

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
