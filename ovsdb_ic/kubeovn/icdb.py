"""Deploying the IC databases the Kube-OVN way: one node, or one member of a Raft cluster.

This is what Kube-OVN's ``start-ic-db.sh`` (through ``ovn-ctl start_ic_ovsdb``) and its
leader checker do on each IC database node, for an operator running ``ovsdb-ic icdb``:

* **single node** (no IPs given): ``OVN_IC_Northbound`` served on port 6645 and
  ``OVN_IC_Southbound`` on 6646, on every address;
* **Raft member** (:attr:`IcDbMember.local_ip` and :attr:`IcDbMember.node_ips`, 3 or
  more): the first node (or :attr:`IcDbMember.leader_ip`) creates both clusters
  (``ovsdb-tool create-cluster``, Raft ports 6647 for IC-NB and 6648 for IC-SB, ovn-ctl's
  defaults) unless another node already serves them, and every other node joins
  (``ovsdb-tool join-cluster``). A member whose files exist starts from them (it
  rejoins); a member whose files were wiped joins again, and the entry its old files
  left in the cluster is kicked out once the new one is in;
* **transit switches**: with ``ts_num`` > 0, the member that leads IC-NB creates
  ``ts``, ``ts1``, ... with ``external_ids:subnet`` and ``vendor=kube-ovn`` as Kube-OVN's
  leader checker does (only those missing; see :func:`plan_transit_switches`).

Each member keeps everything in one directory (:attr:`IcDbMember.db_dir`): database
files, pidfiles, control and client unix sockets, logs; so several members can run on
one machine (on different loopback addresses). The servers are the real
``ovsdb-server`` and ``ovsdb-tool`` of the OVN packages, found by the caller
(:class:`IcDbTools`; the ``ovsdb-ic icdb`` command takes them from the sandbox's
binary lookup), started detached with pidfiles like ovn-ctl, or in the foreground.

Bad input (a local IP not among the nodes, fewer than 3 nodes, a port already in use,
a path too long for a unix socket) is refused with every problem named, before any
file is created or process started. See docs/kubeovn.md.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final, Literal

import attrs
import trio

from ovsdb_ic.client import connect
from ovsdb_ic.constants import DEFAULT_IC_NB_PORT, DEFAULT_IC_SB_PORT
from ovsdb_ic.errors import ConfigError, OvsdbError
from ovsdb_ic.ic.addr import parse_address
from ovsdb_ic.ic.databases import Requirements, Snapshot
from ovsdb_ic.kubeovn.config import ConfigProblem, _split_list
from ovsdb_ic.kubeovn.establish import MAX_TS_NUM, VENDOR, Protocol, ts_name, ts_subnet
from ovsdb_ic.sync.plan import Insert, Op, Plan
from ovsdb_ic.sync.session import CommitPolicy, ConnectOptions, converge, open_databases

__all__ = [
    "DEFAULT_IC_NB_RAFT_PORT",
    "DEFAULT_IC_SB_RAFT_PORT",
    "DEFAULT_TS_NUM",
    "DbStatus",
    "IcDbConfigError",
    "IcDbError",
    "IcDbMember",
    "IcDbSsl",
    "IcDbTools",
    "StartResult",
    "check",
    "clean",
    "ensure_transit_switches",
    "plan_transit_switches",
    "run_foreground",
    "start",
    "status",
    "stop",
]

DEFAULT_IC_NB_RAFT_PORT: Final = 6647
"""ovn-ctl's Raft port of the IC-NB cluster."""

DEFAULT_IC_SB_RAFT_PORT: Final = 6648
"""ovn-ctl's Raft port of the IC-SB cluster."""

DEFAULT_TS_NUM: Final = 3
"""Transit switches created by default: Kube-OVN's ``install-ic-server.sh`` sets
``TS_NUM=3`` for its ovn-ic-server deployment, so following Kube-OVN's document gives
the same ``ts``, ``ts1``, ``ts2``, and each cluster's establish attaches to all three
(ECMP over three gateways). ``0`` creates none."""

_MAX_UNIX_PATH: Final = 107
_READY_POLL: Final = 0.05


# ---------------------------------------------------------------------------- errors


class IcDbConfigError(ConfigError):
    """Bad ``icdb`` input; ``problems`` names every bad option at once."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        if not problems:
            raise ValueError("IcDbConfigError needs at least one problem")
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        super().__init__(
            ", ".join(dict.fromkeys(p.field for p in self.problems)),
            {p.field: p.value for p in self.problems},
            "; ".join(p.reason for p in self.problems),
        )
        lines = [f"refused ({len(self.problems)} problem{'s' * (len(self.problems) > 1)}):"]
        lines += [f"  {p}" for p in self.problems]
        self.args = ("\n".join(lines),)

    def __str__(self) -> str:
        return str(self.args[0])


class IcDbError(OvsdbError, RuntimeError):
    """A tool or server failed; the message holds its output or log tail."""


# --------------------------------------------------------------------------- inputs


@attrs.frozen
class IcDbTools:
    """How to run the OVS tools and where the IC schemas are.

    Commands are argument prefixes (a binary, or a loader and a binary) so that an OVN
    installed under another root works the same way.
    """

    ovsdb_tool: tuple[str, ...]
    """``ovsdb-tool``."""
    ovsdb_server: tuple[str, ...]
    """``ovsdb-server``."""
    ovs_appctl: tuple[str, ...]
    """``ovs-appctl``."""
    ic_nb_schema: Path
    """``ovn-ic-nb.ovsschema``."""
    ic_sb_schema: Path
    """``ovn-ic-sb.ovsschema``."""


@attrs.frozen
class IcDbSsl:
    """Key, certificate and CA: client ports are then ``pssl:`` and Raft uses ``ssl:``."""

    private_key: Path
    certificate: Path
    ca_cert: Path


def _is_ip(text: str) -> bool:
    return parse_address(text, v4_mapped=True) is not None


def _ip_key(text: str) -> str:
    parsed = parse_address(text, v4_mapped=True)
    return text if parsed is None else parsed.address_text()


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _to_ips(value: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(value, str):
        return _split_list(value)
    return tuple(value)


@attrs.frozen
class _Db:
    key: Literal["nb", "sb"]
    label: str
    name: str
    port: int
    raft_port: int


@attrs.frozen
class IcDbMember:
    """One IC database node: where its files live and how it is addressed.

    No IPs: a single node. ``local_ip`` and ``node_ips`` (3 or more, ``local_ip`` among
    them): a Raft member; ``leader_ip`` (one of ``node_ips``, default the first) is the
    node that creates the clusters. Building one validates everything and raises
    :class:`IcDbConfigError` naming every bad field.
    """

    db_dir: Path = attrs.field(converter=Path)
    """The member's directory: database files, pidfiles, sockets and logs."""
    local_ip: str | None = None
    """This node's address (Raft and client ports bind to it)."""
    node_ips: tuple[str, ...] = attrs.field(default=(), converter=_to_ips)
    """Every node of the cluster, this one included."""
    leader_ip: str | None = None
    """The node that creates the clusters (default: the first of ``node_ips``)."""
    nb_port: int = DEFAULT_IC_NB_PORT
    """IC-NB client port."""
    sb_port: int = DEFAULT_IC_SB_PORT
    """IC-SB client port."""
    nb_raft_port: int = DEFAULT_IC_NB_RAFT_PORT
    """IC-NB Raft port."""
    sb_raft_port: int = DEFAULT_IC_SB_RAFT_PORT
    """IC-SB Raft port."""
    listen: str | None = None
    """Address the client ports bind to (default: ``local_ip``, or every address)."""
    ssl: IcDbSsl | None = None
    """SSL files: ``pssl:`` client ports and ``ssl:`` Raft."""
    election_timer_ms: int | None = None
    """Raft election timer of clusters this member creates (default: ovsdb-tool's)."""

    def __attrs_post_init__(self) -> None:
        problems: list[ConfigProblem] = []
        for field, port in (("--nb-port", self.nb_port), ("--sb-port", self.sb_port),
                            ("--nb-raft-port", self.nb_raft_port),
                            ("--sb-raft-port", self.sb_raft_port)):
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                problems.append(ConfigProblem(field, str(port), "must be a port from 1 to 65535"))
        ports = [self.nb_port, self.sb_port]
        if self.clustered:
            ports += [self.nb_raft_port, self.sb_raft_port]
        if len(set(ports)) != len(ports):
            problems.append(ConfigProblem(
                "--nb-port/--sb-port/--nb-raft-port/--sb-raft-port",
                ",".join(map(str, ports)), "the ports must all differ",
            ))
        if self.local_ip is not None and not _is_ip(self.local_ip):
            problems.append(ConfigProblem("--local-ip", self.local_ip, "is not an IP address"))
        bad = [ip for ip in self.node_ips if not _is_ip(ip)]
        if bad:
            problems.append(ConfigProblem("--node-ips", ",".join(self.node_ips),
                                          f"not IP addresses: {', '.join(bad)}"))
        keys = [_ip_key(ip) for ip in self.node_ips]
        dups = sorted({k for k in keys if keys.count(k) > 1})
        if dups:
            problems.append(ConfigProblem("--node-ips", ",".join(self.node_ips),
                                          f"duplicate node {', '.join(dups)}"))
        if self.node_ips and self.local_ip is None:
            problems.append(ConfigProblem("--local-ip", None,
                                          "a Raft member needs --local-ip with --node-ips"))
        if self.local_ip is not None and not self.node_ips:
            problems.append(ConfigProblem(
                "--node-ips", None,
                "a Raft member needs --node-ips (3 or more); give no IPs for a single node",
            ))
        if self.node_ips and len(self.node_ips) < 3:
            problems.append(ConfigProblem(
                "--node-ips", ",".join(self.node_ips),
                f"a Raft cluster needs at least 3 nodes, not {len(self.node_ips)} "
                "(give no IPs for a single node)",
            ))
        if self.local_ip is not None and self.node_ips and _is_ip(self.local_ip) and (
            _ip_key(self.local_ip) not in keys
        ):
            problems.append(ConfigProblem("--local-ip", self.local_ip,
                                          f"is not one of --node-ips {','.join(self.node_ips)}"))
        if self.leader_ip is not None:
            if not self.node_ips:
                problems.append(ConfigProblem("--leader-ip", self.leader_ip,
                                              "only a Raft member (--node-ips) has a leader"))
            elif _ip_key(self.leader_ip) not in keys:
                problems.append(ConfigProblem(
                    "--leader-ip", self.leader_ip,
                    f"is not one of --node-ips {','.join(self.node_ips)}"))
        if self.listen is not None and not _is_ip(self.listen):
            problems.append(ConfigProblem("--listen", self.listen, "is not an IP address"))
        if self.election_timer_ms is not None and not 100 <= self.election_timer_ms <= 600_000:
            problems.append(ConfigProblem("--election-timer", str(self.election_timer_ms),
                                          "must be 100 to 600000 ms"))
        longest = self.db_dir.absolute() / "ovnic_sb_db.sock"
        if len(str(longest)) > _MAX_UNIX_PATH:
            problems.append(ConfigProblem(
                "--db-dir", str(self.db_dir),
                f"too long: the unix socket {longest} exceeds {_MAX_UNIX_PATH} bytes",
            ))
        if self.db_dir.exists() and not self.db_dir.is_dir():
            problems.append(ConfigProblem("--db-dir", str(self.db_dir), "is not a directory"))
        if problems:
            raise IcDbConfigError(problems)

    # ----------------------------------------------------------------- derived

    @property
    def clustered(self) -> bool:
        """Whether this member is part of a Raft cluster (``node_ips`` given)."""
        return bool(self.node_ips)

    @property
    def first_ip(self) -> str | None:
        """The node that creates the clusters (``leader_ip`` or the first node)."""
        if not self.node_ips:
            return None
        return self.leader_ip or self.node_ips[0]

    def _dbs(self) -> tuple[_Db, _Db]:
        return (
            _Db("nb", "IC-NB", "OVN_IC_Northbound", self.nb_port, self.nb_raft_port),
            _Db("sb", "IC-SB", "OVN_IC_Southbound", self.sb_port, self.sb_raft_port),
        )

    def _path(self, db: _Db, kind: str) -> Path:
        names = {
            "db": f"ovnic_{db.key}_db.db",
            "pid": f"ovsdb-server-ic-{db.key}.pid",
            "ctl": f"ovsdb-server-ic-{db.key}.ctl",
            "log": f"ovsdb-server-ic-{db.key}.log",
            "sock": f"ovnic_{db.key}_db.sock",
        }
        return self.db_dir.absolute() / names[kind]

    def files(self) -> list[Path]:
        """Every file this member may create in :attr:`db_dir`."""
        out = []
        for db in self._dbs():
            for kind in ("db", "pid", "ctl", "log", "sock"):
                out.append(self._path(db, kind))
            out.append(self._path(db, "db").with_name(f".ovnic_{db.key}_db.db.~lock~"))
        return out

    def _scheme(self) -> str:
        return "ssl" if self.ssl is not None else "tcp"

    def _raft_address(self, ip: str, db: _Db) -> str:
        return f"{self._scheme()}:{_bracket(ip)}:{db.raft_port}"

    def _listen_address(self) -> str:
        if self.listen is not None:
            return self.listen
        if self.local_ip is not None:
            return self.local_ip
        return "::" if socket.has_ipv6 and _ipv6_works() else "0.0.0.0"

    def remotes(self, key: Literal["nb", "sb"], host: str | None = None) -> str:
        """The client remote list of IC-NB (``"nb"``) or IC-SB (``"sb"``): every node's
        client port, or ``host`` (default: this member's listen address, or 127.0.0.1)."""
        db = self._dbs()[0 if key == "nb" else 1]
        if host is not None:
            hosts: Sequence[str] = [host]
        elif self.node_ips:
            hosts = self.node_ips
        else:
            listen = self._listen_address()
            hosts = ["127.0.0.1" if listen in ("::", "0.0.0.0") else listen]
        return ",".join(f"{self._scheme()}:{_bracket(h)}:{db.port}" for h in hosts)


def _ipv6_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


# ------------------------------------------------------------------------- helpers


def _run(argv: Sequence[str], what: str, *, timeout: float = 30.0) -> str:
    try:
        done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IcDbError(f"{what}: {exc}") from exc
    if done.returncode != 0:
        out = (done.stderr.strip() or done.stdout.strip() or f"status {done.returncode}")
        raise IcDbError(f"{what} failed: {out}")
    return done.stdout


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _running_pid(member: IcDbMember, db: _Db) -> int | None:
    pid = _read_pid(member._path(db, "pid"))
    return pid if pid is not None and _alive(pid) else None


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _port_problem(address: str, port: int, what: str) -> ConfigProblem | None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                reason = f"port {port} on {address} is already in use"
            elif exc.errno == errno.EADDRNOTAVAIL:
                reason = f"{address} is not an address of this machine"
            else:
                reason = f"cannot bind {address}:{port}: {exc.strerror}"
            return ConfigProblem(what, f"{address}:{port}", reason)
    return None


# --------------------------------------------------------------------------- status


@attrs.frozen
class DbStatus:
    """One database of a member (``ovsdb-ic icdb status``)."""

    label: str
    """``IC-NB`` or ``IC-SB``."""
    database: str
    """``OVN_IC_Northbound`` or ``OVN_IC_Southbound``."""
    running: bool
    """Whether its ``ovsdb-server`` runs."""
    pid: int | None
    """Its pid, when running."""
    remotes: str
    """Where clients connect."""
    role: str | None = None
    """``standalone``, ``leader``, ``follower`` or ``candidate`` (None: not running)."""
    status: str | None = None
    """Raft status, e.g. ``cluster member`` or ``joining cluster``."""
    server_id: str | None = None
    """This member's Raft server id."""
    cluster_id: str | None = None
    """The Raft cluster id."""
    leader: str | None = None
    """The leader's short server id and address, as ``ovsdb-server`` names it."""
    members: tuple[str, ...] = ()
    """Every server of the cluster: ``<short id> <address>`` (``(self)`` marks this one)."""

    def lines(self) -> list[str]:
        """The status as indented text lines."""
        head = f"{self.label} ({self.database}): "
        if not self.running:
            return [head + "not running"]
        out = [head + f"running, pid {self.pid}, {self.role}", f"  clients: {self.remotes}"]
        if self.role != "standalone":
            out.append(f"  status: {self.status}; leader: {self.leader or 'unknown'}")
            out.append(f"  cluster: {self.cluster_id}; server: {self.server_id}")
            out += [f"  member {m}" for m in self.members]
        return out


_SERVER_LINE = re.compile(r"^\s+([0-9a-f]{4}) \(([0-9a-f]{4}) at (\S+)\)(.*)$")
_UUID_IN_PARENS = re.compile(r"\(([0-9a-f-]{36})\)")


def _cluster_status(tools: IcDbTools, member: IcDbMember, db: _Db) -> dict[str, object]:
    text = _run([*tools.ovs_appctl, "-t", str(member._path(db, "ctl")), "cluster/status",
                 db.name], f"cluster/status {db.name}", timeout=10)
    fields: dict[str, str] = {}
    servers: list[tuple[str, str, bool]] = []
    for line in text.splitlines():
        m = _SERVER_LINE.match(line)
        if m:
            servers.append((m.group(1), m.group(3), "(self)" in m.group(4)))
            continue
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "\t")):
            fields.setdefault(key.strip(), value.strip())
    sid = _UUID_IN_PARENS.search(fields.get("Server ID", ""))
    cid = _UUID_IN_PARENS.search(fields.get("Cluster ID", ""))
    leader = fields.get("Leader", "unknown")
    server_id = sid.group(1) if sid else None
    if leader == "self" and server_id:
        leader = server_id[:4]
    where = {short: address for short, address, _ in servers}
    return {
        "role": fields.get("Role"),
        "status": fields.get("Status"),
        "server_id": server_id,
        "cluster_id": cid.group(1) if cid else None,
        "leader": None if leader in ("unknown", "") else (
            f"{leader} {where[leader]}" if leader in where else leader),
        "servers": servers,
    }


def _is_clustered_file(path: Path) -> bool:
    """Whether a database file is a Raft member's (its header is ``OVSDB CLUSTER``)."""
    try:
        with open(path, "rb") as f:
            return f.read(13) == b"OVSDB CLUSTER"
    except OSError:
        return False


def _db_status(tools: IcDbTools, member: IcDbMember, db: _Db) -> DbStatus:
    pid = _running_pid(member, db)
    remotes = member.remotes(db.key, None if not member.local_ip else (
        member.listen or member.local_ip))
    if pid is None:
        return DbStatus(db.label, db.name, False, None, remotes)
    if not _is_clustered_file(member._path(db, "db")):
        return DbStatus(db.label, db.name, True, pid, remotes, role="standalone")
    try:
        info = _cluster_status(tools, member, db)
    except IcDbError as exc:
        return DbStatus(db.label, db.name, True, pid, remotes, role="unknown",
                        status=str(exc))
    servers = info["servers"]
    assert isinstance(servers, list)
    return DbStatus(
        db.label, db.name, True, pid, remotes,
        role=str(info["role"]), status=str(info["status"]),
        server_id=info["server_id"] if isinstance(info["server_id"], str) else None,
        cluster_id=info["cluster_id"] if isinstance(info["cluster_id"], str) else None,
        leader=info["leader"] if isinstance(info["leader"], str) else None,
        members=tuple(f"{s} {a}{' (self)' if me else ''}" for s, a, me in servers),
    )


def status(member: IcDbMember, tools: IcDbTools) -> tuple[DbStatus, DbStatus]:
    """The state of both databases of ``member`` (role, leader, members)."""
    nb, sb = member._dbs()
    return _db_status(tools, member, nb), _db_status(tools, member, sb)


# ---------------------------------------------------------------------------- start


def _server_argv(member: IcDbMember, tools: IcDbTools, db: _Db, *, detach: bool) -> list[str]:
    listen = member._listen_address()
    kind = "pssl" if member.ssl is not None else "ptcp"
    argv = [
        *tools.ovsdb_server, str(member._path(db, "db")),
        f"--pidfile={member._path(db, 'pid')}",
        f"--log-file={member._path(db, 'log')}",
        f"--unixctl={member._path(db, 'ctl')}",
        f"--remote=punix:{member._path(db, 'sock')}",
        f"--remote={kind}:{db.port}:{_bracket(listen)}",
        "--no-chdir",
    ]
    if detach:
        argv.append("--detach")
    if member.ssl is not None:
        argv += [f"--private-key={member.ssl.private_key}",
                 f"--certificate={member.ssl.certificate}",
                 f"--ca-cert={member.ssl.ca_cert}"]
    return argv


def check(member: IcDbMember, tools: IcDbTools) -> None:
    """Refuse to start when a port this member needs is taken by someone else, or its
    address is not on this machine (:class:`IcDbConfigError` naming each); databases
    already running are not checked (starting them again is a no-op)."""
    problems: list[ConfigProblem] = []
    for db in member._dbs():
        if _running_pid(member, db) is not None:
            continue
        problem = _port_problem(member._listen_address(), db.port, f"--{db.key}-port")
        if problem is not None:
            problems.append(problem)
        if member.clustered:
            assert member.local_ip is not None
            problem = _port_problem(member.local_ip, db.raft_port, f"--{db.key}-raft-port")
            if problem is not None:
                problems.append(problem)
    for path, what in ((tools.ic_nb_schema, "IC-NB schema"), (tools.ic_sb_schema, "IC-SB schema")):
        if not Path(path).is_file():
            problems.append(ConfigProblem("schema", str(path), f"the {what} file is missing"))
    if problems:
        raise IcDbConfigError(problems)


def _client_ssl(member: IcDbMember) -> ssl.SSLContext | None:
    """A client SSLContext from the member's own files (same CA as the other nodes)."""
    if member.ssl is None:
        return None
    context = ssl.create_default_context(cafile=str(member.ssl.ca_cert))
    context.check_hostname = False
    context.load_cert_chain(str(member.ssl.certificate), str(member.ssl.private_key))
    return context


def _cluster_exists(member: IcDbMember, db: _Db) -> bool:
    """Whether another node already serves this database as a cluster with a leader (as
    Kube-OVN's ``is_clustered`` asks before creating one): a first node whose files were
    wiped joins that cluster rather than splitting it, while members that are only
    trying to join (started before the first node) do not count."""
    assert member.local_ip is not None
    others = [f"{member._scheme()}:{_bracket(ip)}:{db.port}" for ip in member.node_ips
              if _ip_key(ip) != _ip_key(member.local_ip)]

    async def probe() -> bool:
        with trio.move_on_after(3):
            try:
                async with connect(",".join(others), database=db.name, leader_only=True,
                                   ssl_context=_client_ssl(member), reconnect=False):
                    return True
            except OvsdbError:
                return False
        return False

    return trio.run(probe)


def _create(member: IcDbMember, tools: IcDbTools, db: _Db,
            report: Callable[[str], None]) -> None:
    path = member._path(db, "db")
    schema = str(tools.ic_nb_schema if db.key == "nb" else tools.ic_sb_schema)
    if path.exists():
        report(f"{db.label}: using the existing database {path}")
        return
    if not member.clustered:
        _run([*tools.ovsdb_tool, "create", str(path), schema], f"creating {path}")
        report(f"{db.label}: created standalone database {path}")
        return
    assert member.local_ip is not None and member.first_ip is not None
    local = member._raft_address(member.local_ip, db)
    if _ip_key(member.first_ip) == _ip_key(member.local_ip) and not _cluster_exists(member, db):
        timer = ([f"--election-timer={member.election_timer_ms}"]
                 if member.election_timer_ms else [])
        _run([*tools.ovsdb_tool, *timer, "create-cluster", str(path), schema, local],
             f"creating the {db.label} cluster")
        report(f"{db.label}: created a new cluster at {local}")
        return
    others = [member._raft_address(ip, db) for ip in member.node_ips
              if _ip_key(ip) != _ip_key(member.local_ip)]
    first = member._raft_address(member.first_ip, db)
    if first in others:  # ask the creating node first
        others.remove(first)
        others.insert(0, first)
    _run([*tools.ovsdb_tool, "join-cluster", str(path), db.name, local, *others],
         f"joining the {db.label} cluster")
    report(f"{db.label}: joining the cluster through {', '.join(others)}")


def _wait_ready(member: IcDbMember, db: _Db, deadline: float) -> int:
    """Wait until the server's unix socket accepts connections; return its pid."""
    sock = member._path(db, "sock")
    while True:
        pid = _running_pid(member, db)
        if pid is not None and sock.exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                try:
                    s.connect(str(sock))
                    return pid
                except OSError:
                    pass
        if time.monotonic() > deadline:
            raise IcDbError(f"{db.label}: ovsdb-server did not start\n"
                            + _log_tail(member._path(db, "log")))
        time.sleep(_READY_POLL)


def _wait_member(tools: IcDbTools, member: IcDbMember, db: _Db, deadline: float) -> DbStatus:
    """Wait until a Raft member is in the cluster and knows a leader."""
    while True:
        st = _db_status(tools, member, db)
        if st.status == "cluster member" and st.leader is not None:
            return st
        if time.monotonic() > deadline:
            raise IcDbError(
                f"{db.label}: not a cluster member with a leader yet "
                f"(status: {st.status}, leader: {st.leader}); the other nodes may not be up. "
                f"Log:\n" + _log_tail(member._path(db, "log")))
        time.sleep(0.1)


def _kick_stale(tools: IcDbTools, member: IcDbMember, db: _Db, st: DbStatus,
                report: Callable[[str], None]) -> None:
    """Remove the entries an earlier incarnation of this member (same address, other
    server id, e.g. before its files were wiped) left in the cluster."""
    assert member.local_ip is not None
    mine = member._raft_address(member.local_ip, db)
    for entry in st.members:
        short, address = entry.split()[:2]
        if address == mine and "(self)" not in entry:
            _run([*tools.ovs_appctl, "-t", str(member._path(db, "ctl")), "cluster/kick",
                  db.name, short], f"kicking the stale member {short} of {db.label}")
            report(f"{db.label}: removed the stale member {short} (this node's old files)")


def _check_ts_num(ts_num: int) -> None:
    """Refuse a ``--ts-num`` outside 0..MAX_TS_NUM (before anything is touched)."""
    if isinstance(ts_num, bool) or not 0 <= ts_num <= MAX_TS_NUM:
        raise IcDbConfigError([ConfigProblem("--ts-num", str(ts_num),
                                             f"must be 0 to {MAX_TS_NUM}")])


@attrs.frozen
class StartResult:
    """What :func:`start` did."""

    started: tuple[str, ...]
    """The databases started now (``IC-NB``, ``IC-SB``)."""
    already_running: tuple[str, ...]
    """The databases that were running already (left alone)."""
    transit_switches: tuple[str, ...] = ()
    """Transit switches created now."""


def start(
    member: IcDbMember,
    tools: IcDbTools,
    *,
    ts_num: int = DEFAULT_TS_NUM,
    protocol: Protocol = "IPv4",
    report: Callable[[str], None] = lambda _line: None,
    start_timeout: float = 30.0,
) -> StartResult:
    """Start both databases of ``member`` detached (pidfiles in its directory), as
    ovn-ctl does; a database already running is left alone. Then, for a Raft member,
    wait until it is in the cluster with a leader; and when it leads IC-NB (a single
    node always does) create the missing transit switches of ``ts_num``.

    Synchronous (it runs tools and waits); from a trio program call it in a thread
    (``trio.to_thread.run_sync``)."""
    _check_ts_num(ts_num)
    check(member, tools)
    member.db_dir.mkdir(parents=True, exist_ok=True)
    started: list[str] = []
    running: list[str] = []
    deadline = time.monotonic() + start_timeout
    for db in member._dbs():
        pid = _running_pid(member, db)
        if pid is not None:
            report(f"{db.label}: already running (pid {pid}); nothing to do")
            running.append(db.label)
            continue
        _create(member, tools, db, report)
        _run(_server_argv(member, tools, db, detach=True), f"starting {db.label}",
             timeout=start_timeout)
        pid = _wait_ready(member, db, deadline)
        report(f"{db.label}: ovsdb-server running, pid {pid}, clients on "
               f"{member.remotes(db.key, member.listen or member.local_ip)}")
        started.append(db.label)
    created = _after_start(member, tools, ts_num=ts_num, protocol=protocol, report=report,
                           deadline=deadline)
    return StartResult(tuple(started), tuple(running), created)


def _after_start(member: IcDbMember, tools: IcDbTools, *, ts_num: int, protocol: Protocol,
                 report: Callable[[str], None], deadline: float) -> tuple[str, ...]:
    leads_nb = True
    if member.clustered:
        for db in member._dbs():
            st = _wait_member(tools, member, db, deadline)
            _kick_stale(tools, member, db, st, report)
            report(f"{db.label}: {st.role}, leader {st.leader}, {len(st.members)} members")
            if db.key == "nb":
                leads_nb = st.role == "leader"
    if ts_num == 0:
        return ()
    if not leads_nb:
        report("transit switches: left to the IC-NB leader")
        return ()
    remote = f"unix:{member._path(member._dbs()[0], 'sock')}"
    created = trio.run(ensure_transit_switches, remote, ts_num, protocol)
    if created:
        report(f"transit switches: created {', '.join(created)}")
    else:
        report(f"transit switches: the first {ts_num} exist already")
    return created


@contextlib.contextmanager
def _forward_signals(procs: list[subprocess.Popen[bytes]],
                     requested: list[int]) -> Iterator[None]:
    def handler(signum: int, _frame: object) -> None:
        requested.append(signum)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_foreground(
    member: IcDbMember,
    tools: IcDbTools,
    *,
    ts_num: int = DEFAULT_TS_NUM,
    protocol: Protocol = "IPv4",
    report: Callable[[str], None] = lambda _line: None,
    start_timeout: float = 30.0,
) -> int:
    """Like :func:`start`, but the two servers are this process's children: return when
    either exits (its status), stopping the other; SIGTERM or SIGINT stops both (for a
    container or a systemd ``Type=simple`` unit) and returns 0. Refuses a member already
    running detached."""
    _check_ts_num(ts_num)
    for db in member._dbs():
        pid = _running_pid(member, db)
        if pid is not None:
            raise IcDbConfigError([ConfigProblem(
                "--db-dir", str(member.db_dir),
                f"{db.label} of this member already runs detached (pid {pid}); stop it first")])
    check(member, tools)
    member.db_dir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    deadline = time.monotonic() + start_timeout
    requested: list[int] = []
    with _forward_signals(procs, requested):
        try:
            for db in member._dbs():
                _create(member, tools, db, report)
                procs.append(subprocess.Popen(
                    _server_argv(member, tools, db, detach=False), stdin=subprocess.DEVNULL))
                pid = _wait_ready(member, db, deadline)
                report(f"{db.label}: ovsdb-server running in the foreground, pid {pid}")
            try:
                _after_start(member, tools, ts_num=ts_num, protocol=protocol, report=report,
                             deadline=deadline)
            except (OvsdbError, ConnectionError):
                if not requested:
                    raise
            while not requested and all(p.poll() is None for p in procs):
                time.sleep(0.2)
            if requested:  # stopped on request (SIGTERM, SIGINT): a clean exit
                report(f"stopping on signal {requested[0]}")
                return 0
            code = next(p.returncode for p in procs if p.poll() is not None)
            report(f"an ovsdb-server exited with status {code}; stopping the other")
            return code if code >= 0 else 128 - code
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


# ----------------------------------------------------------------------- stop, clean


def stop(
    member: IcDbMember, tools: IcDbTools, *, report: Callable[[str], None] = lambda _l: None,
    timeout: float = 10.0,
) -> list[str]:
    """Stop both servers (``ovs-appctl exit``, then SIGTERM, then SIGKILL); return the
    labels of those that were running. Stopping a stopped member is a no-op."""
    stopped = []
    for db in member._dbs():
        pid = _running_pid(member, db)
        if pid is None:
            report(f"{db.label}: not running")
            continue
        with contextlib.suppress(IcDbError):
            _run([*tools.ovs_appctl, "-t", str(member._path(db, "ctl")), "exit"],
                 f"stopping {db.label}", timeout=5)
        deadline = time.monotonic() + timeout
        sent_term = False
        while _alive(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            if not sent_term and time.monotonic() > deadline - timeout / 2:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                sent_term = True
            time.sleep(_READY_POLL)
        report(f"{db.label}: stopped (pid {pid})")
        stopped.append(db.label)
    return stopped


def clean(
    member: IcDbMember, tools: IcDbTools, *, report: Callable[[str], None] = lambda _l: None,
) -> list[Path]:
    """Stop the member and remove its files (databases, logs, pidfiles, sockets), then
    its directory when that is left empty; return the files removed. Kube-OVN's "clean
    OVN-IC" on one IC database node."""
    stop(member, tools, report=report)
    removed = []
    for path in member.files():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    for stray in member.db_dir.glob("ovnic_*_db.db*"):  # ovsdb-tool compaction leftovers
        stray.unlink()
        removed.append(stray)
    with contextlib.suppress(OSError):
        member.db_dir.rmdir()
    report(f"removed {len(removed)} file(s) from {member.db_dir}")
    return removed


# ----------------------------------------------------------------- transit switches


_TS_REQUIREMENTS: Final = Requirements(tables={"ic_nb": {"Transit_Switch": None}})


def plan_transit_switches(snap: Snapshot, ts_num: int, protocol: Protocol = "IPv4") -> Plan:
    """What Kube-OVN's leader checker writes for ``TS_NUM=ts_num``: an IC-NB
    ``Transit_Switch`` for each of ``ts``, ``ts1``, ... ``ts<N-1>`` that is missing, with
    ``external_ids:subnet`` (:func:`~ovsdb_ic.kubeovn.ts_subnet`) and ``vendor=kube-ovn``.
    Existing switches are left as they are (also extra ones: removing a transit switch
    other clusters use is an operator's decision)."""
    if isinstance(ts_num, bool) or not 0 <= ts_num <= MAX_TS_NUM:
        raise ConfigError("ts_num", ts_num, f"must be 0 to {MAX_TS_NUM}")
    names = {row["name"] for row in snap.ic_nb.table("Transit_Switch")}
    ops: list[Op] = []
    for i in range(ts_num):
        if ts_name(i) not in names:
            ops.append(Insert("ic_nb", "Transit_Switch", {
                "name": ts_name(i),
                "external_ids": {"subnet": ts_subnet(i, protocol), "vendor": VENDOR},
            }))
    return Plan(tuple(ops))


async def ensure_transit_switches(
    remotes: str, ts_num: int, protocol: Protocol = "IPv4", *,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[str, ...]:
    """Connect to IC-NB at ``remotes`` and commit :func:`plan_transit_switches` until
    nothing is missing (another writer creating the same name at the same time is a
    unique-index conflict: read again, plan again). Returns the names created."""
    created: list[str] = []
    with trio.move_on_after(60) as scope:
        await _ensure(remotes, ts_num, protocol, ssl_context, created)
    if scope.cancelled_caught:
        raise IcDbError(f"transit switches: IC-NB at {remotes} did not answer within 60 s")
    return tuple(created)


async def _ensure(remotes: str, ts_num: int, protocol: Protocol,
                  ssl_context: ssl.SSLContext | None, created: list[str]) -> None:
    # The one orchestration path (ovsdb_ic.sync.session), IC-NB alone. reconnect=False:
    # a server stopped meanwhile ends this at once, not in a retry loop.
    options = ConnectOptions(ssl_context=ssl_context, reconnect=False)
    policy = CommitPolicy(order=("ic_nb",), outcome_unknown_is_conflict=True,
                          comment="ovsdb-ic icdb: kube-ovn transit switches",
                          max_passes=6, max_conflicts=5)
    planned: list[Plan] = []

    def planner(snap: Snapshot) -> Plan:
        planned.append(plan_transit_switches(snap, ts_num, protocol))
        return planned[-1]

    def committed(_line: str) -> None:
        # One database, one transaction per plan: a commit line means the last plan.
        created.extend(op.values["name"] for op in planned[-1] if isinstance(op, Insert))

    async with open_databases({"ic_nb": remotes}, _TS_REQUIREMENTS, options=options) as dbs:
        await converge(dbs, planner, policy, report=committed)

