"""Sandboxes of real ``ovsdb-server`` processes: standalone servers and Raft clusters.

Everything here is synchronous (plain :mod:`subprocess`, no trio) so it can be used from
any test, fixture or script. A :class:`Sandbox` owns a directory and every process it
starts; leaving the ``with`` block (or calling :meth:`Sandbox.close`) stops all of them
and removes the files, also when the body raised.

Example::

    from ovsdb_ic.testing import Sandbox, schema_path

    with Sandbox() as sandbox:
        ic_nb = sandbox.start_server(schema_path("ic-nb"), name="ic-nb", tcp=True)
        ic_sb = sandbox.start_cluster(schema_path("ic-sb"), name="ic-sb", size=3)
        print(ic_nb.remote, ic_sb.remote, ic_sb.leader().name)

The binaries come from the Debian packages ``openvswitch-common`` (``ovsdb-server``,
``ovsdb-tool``, ``ovs-appctl``); :func:`require_binaries` explains what to install when
they are missing.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final, final

import attrs

from ovsdb_ic.errors import SandboxError
from ovsdb_ic.testing.install import (
    _SBIN_DIRS,
    _SCHEMA_ALIASES,
    _SCHEMA_FILES,
    _SYSTEM_SCHEMA_DIR,
    OvnInstall,
    _which,
    ovn_install,
)

__all__ = [
    "DEBIAN_PACKAGES",
    "SANDBOX_BINARIES",
    "Cluster",
    "ClusterStatus",
    "Sandbox",
    "Server",
    "require_binaries",
    "schema_database_name",
    "schema_path",
    "schemas_dir",
]

#: The executables a :class:`Sandbox` needs.
SANDBOX_BINARIES: Final[tuple[str, ...]] = ("ovsdb-server", "ovsdb-tool", "ovs-appctl")

#: The Debian packages that provide everything :mod:`ovsdb_ic.testing` can start.
DEBIAN_PACKAGES: Final[tuple[str, ...]] = (
    "openvswitch-common",
    "ovn-common",
    "ovn-central",
    "ovn-ic-db",
    "ovn-ic",
    "openvswitch-switch",
    "ovn-host",
    "iputils-ping",
)

_PROVIDED_BY: Final[dict[str, str]] = {
    "ovsdb-server": "openvswitch-common",
    "ovsdb-tool": "openvswitch-common",
    "ovsdb-client": "openvswitch-common",
    "ovs-appctl": "openvswitch-common",
    "ovn-nbctl": "ovn-common",
    "ovn-sbctl": "ovn-common",
    "ovn-ic-nbctl": "ovn-common",
    "ovn-ic-sbctl": "ovn-common",
    "ovn-northd": "ovn-central",
    "ovn-ic": "ovn-ic",
    "ovs-vswitchd": "openvswitch-switch",
    "ovs-vsctl": "openvswitch-switch",
    "ovn-controller": "ovn-host",
    "ovn-trace": "ovn-common",
    "ping": "iputils-ping",
    "ip": "iproute2",
}

_LOOPBACK: Final = "127.0.0.1"
_POLL_INTERVAL: Final = 0.02
_TOOL_TIMEOUT: Final = 30.0
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LISTENING_RE: Final = re.compile(r"\|0:127\.0\.0\.1: listening on port (\d+)")
# sockaddr_un.sun_path is 108 bytes including the terminating NUL.
_MAX_UNIX_PATH: Final = 107

_KEEP_ENV: Final = "OVSDB_IC_KEEP_SANDBOX"


# --------------------------------------------------------------------------------------
# Binaries and schemas
# --------------------------------------------------------------------------------------


def require_binaries(*names: str) -> dict[str, str]:
    """Return the absolute paths of the executables *names* (default: :data:`SANDBOX_BINARIES`).

    ``PATH`` is searched first, then the ``sbin`` directories (Debian installs
    ``ovsdb-server`` in ``/usr/sbin``, which is not on a normal user's ``PATH``).

    Raises :class:`~ovsdb_ic.errors.SandboxError` naming every missing executable and the
    Debian packages to install. Integration tests call this (through :class:`Sandbox`) so
    that they fail loudly, rather than skip, on a machine without the binaries.
    """
    wanted = names or SANDBOX_BINARIES
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in wanted:
        path = _which(name)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    if missing:
        described = ", ".join(
            f"{name} (from {_PROVIDED_BY[name]})" if name in _PROVIDED_BY else name
            for name in missing
        )
        raise SandboxError(
            f"missing OVS/OVN binaries: {described}; searched PATH="
            f"{os.environ.get('PATH', '')!r} and {':'.join(_SBIN_DIRS)}. "
            f"Install them with: apt-get install {' '.join(DEBIAN_PACKAGES)}"
        )
    return found


def schemas_dir() -> Path:
    """Return the directory holding the ``.ovsschema`` files.

    That is the repository's ``schemas/`` directory when running from a checkout, else
    ``/usr/share/ovn`` (where the Debian packages install them).
    """
    return OvnInstall.host().schema_dir


def schema_path(name: str, *, ovn: str | OvnInstall | None = None) -> Path:
    """Resolve a schema *name* to its ``.ovsschema`` file.

    Accepted names (case-insensitive): ``ic-nb``, ``ic-sb``, ``nb``, ``sb``, the file
    names with or without ``.ovsschema`` (``ovn-ic-sb``), and the database names
    (``OVN_IC_Southbound``). *ovn*: the OVN release (``"25.03"``, an
    :class:`~ovsdb_ic.testing.install.OvnInstall`); ``None`` means 23.03, the checkout's
    ``schemas/``. Raises :class:`~ovsdb_ic.errors.SandboxError` for an unknown name or a
    missing file.
    """
    if ovn is not None:
        return ovn_install(ovn).schema(name)
    key = _SCHEMA_ALIASES.get(name.lower())
    if key is None:
        raise SandboxError(
            f"unknown schema {name!r}; expected one of {', '.join(_SCHEMA_FILES)} "
            "or a database name such as OVN_IC_Southbound"
        )
    for directory in (schemas_dir(), _SYSTEM_SCHEMA_DIR):
        candidate = directory / _SCHEMA_FILES[key]
        if candidate.is_file():
            return candidate
    raise SandboxError(
        f"schema file {_SCHEMA_FILES[key]} not found in {schemas_dir()} or "
        f"{_SYSTEM_SCHEMA_DIR}; install the ovn-common and ovn-ic-db packages"
    )


def schema_database_name(schema: str | os.PathLike[str]) -> str:
    """Return the database name (the schema's ``name`` member) of a ``.ovsschema`` file."""
    try:
        with open(schema, encoding="utf-8") as f:
            name = json.load(f)["name"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SandboxError(f"cannot read the database name of schema {schema}: {exc}") from exc
    if not isinstance(name, str):
        raise SandboxError(f"schema {schema} has a non-string name {name!r}")
    return name


def _resolve_schema(schema: str | os.PathLike[str], ovn: OvnInstall | None = None) -> Path:
    if isinstance(schema, str) and schema.lower() in _SCHEMA_ALIASES:
        return schema_path(schema, ovn=ovn)
    path = Path(schema)
    if path.is_file():
        return path.resolve()
    raise SandboxError(f"schema {schema} is neither a file nor a known schema name")


# --------------------------------------------------------------------------------------
# Small process helpers
# --------------------------------------------------------------------------------------


def _free_tcp_ports(count: int, avoid: set[int]) -> list[int]:
    """Pick *count* distinct free loopback ports (all held open until every one is chosen)."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind((_LOOPBACK, 0))
            port = int(s.getsockname()[1])
            if port not in avoid and port not in ports:
                ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _proc_state(pid: int) -> str | None:
    """The one-letter state of *pid* from ``/proc`` (``R``, ``S``, ``T``, ``Z``...) or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            data = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces; the state follows it.
    return data[data.rfind(")") + 2 :][:1] or None


def _can_connect(family: int, address: str | tuple[str, int]) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(address)
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _run_tool(argv: list[str], *, cwd: Path, what: str) -> str:
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"{what}: {' '.join(argv)} timed out after {_TOOL_TIMEOUT}s") from exc
    except OSError as exc:
        raise SandboxError(f"{what}: cannot run {argv[0]}: {exc}") from exc
    if done.returncode != 0:
        raise SandboxError(
            f"{what}: {' '.join(argv)} exited with status {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


# --------------------------------------------------------------------------------------
# Cleanup state shared with the finalizer
# --------------------------------------------------------------------------------------


class _Reaper:
    """Everything a sandbox must undo. Holds no reference to the Sandbox itself, so a
    :func:`weakref.finalize` can run it when the sandbox is garbage collected or at exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.remove_tree: Path | None = None
        self.remove_files: list[Path] = []
        self.lock = threading.Lock()
        self.closed = False
        self.keep = False
        self.directory: Path | None = None
        #: Called after the processes are stopped (e.g. to delete network namespaces).
        self.after_stop: list[Callable[[], object]] = []

    def stray_children(self) -> list[int]:
        """Our child processes that mention the sandbox directory on their command line but
        are not in :attr:`procs` (a signal can land between ``Popen`` and bookkeeping)."""
        if self.directory is None:
            return []
        known = {p.pid for p in self.procs}
        marker = str(self.directory).encode()
        me = os.getpid()
        strays = []
        try:
            entries = os.listdir("/proc")
        except OSError:
            return []
        for entry in entries:
            if not entry.isdigit() or int(entry) in known:
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
                if ppid != me:
                    continue
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except (OSError, ValueError, IndexError):
                continue
            if marker in cmdline:
                strays.append(int(entry))
        return strays

    def stop_processes(self, grace: float = 2.0) -> None:
        """SIGTERM every live process (SIGCONT the stopped ones), SIGKILL what is left after
        *grace* seconds, and reap them all."""
        live = [p for p in self.procs if p.poll() is None]
        for p in live:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
                p.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + grace
        for p in live:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                p.wait()
        for pid in self.stray_children():
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)

    def cleanup(self) -> None:
        """Stop every process and (unless :attr:`keep`) remove the files. Idempotent."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.stop_processes()
            for undo in reversed(self.after_stop):
                with contextlib.suppress(Exception):
                    undo()
            if self.keep:
                return
            if self.remove_tree is not None:
                shutil.rmtree(self.remove_tree, ignore_errors=True)
            for path in self.remove_files:
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    path.unlink()


# --------------------------------------------------------------------------------------
# Cluster status
# --------------------------------------------------------------------------------------

_UUID_IN_PARENS: Final = re.compile(r"\(([0-9a-f]{8}-[0-9a-f-]{27})\)")


@final
@attrs.frozen
class SslFiles:
    """PEM files for one side of an SSL connection: private key, certificate, CA certificate."""

    key: Path
    cert: Path
    ca_cert: Path


def make_test_pki(directory: str | os.PathLike[str]) -> tuple[SslFiles, SslFiles]:
    """Create a throw-away CA and a server and a client certificate signed by it.

    Returns ``(server, client)``. Uses the ``openssl`` command; for tests only
    (2048-bit RSA keys, one day of validity, CN ``127.0.0.1`` for the server).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        _run_tool(["openssl", *args], cwd=d, what="creating test certificates")

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
            "/CN=ovsdb-ic test CA", "-keyout", "ca-key.pem", "-out", "ca-cert.pem")
    out = []
    for who, cn in (("server", "127.0.0.1"), ("client", "ovsdb-ic test client")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
                "-keyout", f"{who}-key.pem", "-out", f"{who}.csr")
        ext = d / f"{who}.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1\n" if who == "server" else "")
        openssl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca-cert.pem", "-CAkey",
                "ca-key.pem", "-CAcreateserial", "-days", "1", "-extfile", str(ext),
                "-out", f"{who}-cert.pem")
        out.append(SslFiles(d / f"{who}-key.pem", d / f"{who}-cert.pem", d / "ca-cert.pem"))
    return out[0], out[1]


@attrs.frozen
class ClusterStatus:
    """One member's view of its Raft cluster, parsed from ``ovs-appctl cluster/status DB``.

    ``leader`` is the leader's short server id (the first four hex digits of its server
    id, as ovsdb-server prints it; ``self`` is resolved to this member's own short id) or
    ``None`` when the member does not know a leader. ``status`` is one of ``cluster
    member``, ``joining cluster``, ``leaving cluster``, ``left cluster`` or
    ``disconnected from the cluster (election timeout)``; ``role`` is ``leader``,
    ``follower`` or ``candidate``.
    """

    database: str
    cluster_id: str | None
    server_id: str
    address: str
    status: str
    role: str
    term: int
    leader: str | None
    vote: str | None
    election_timer_ms: int | None
    connections: tuple[str, ...]
    servers: tuple[str, ...]
    raw: str = attrs.field(repr=False, eq=False)

    @property
    def short_id(self) -> str:
        """This member's short server id (four hex digits), as other members print it."""
        return self.server_id[:4]

    @property
    def is_leader(self) -> bool:
        """Whether this member believes it is the leader."""
        return self.role == "leader"

    @classmethod
    def parse(cls, text: str) -> ClusterStatus:
        """Parse the output of ``ovs-appctl cluster/status DB`` (OVS 3.x format)."""
        fields: dict[str, str] = {}
        servers: list[str] = []
        in_servers = False
        for line in text.splitlines():
            if in_servers and line.startswith((" ", "\t")):
                token = line.split(None, 1)[0] if line.strip() else ""
                if token:
                    servers.append(token)
                continue
            in_servers = False
            key, sep, value = line.partition(":")
            if not sep:
                continue
            key = key.strip()
            if key == "Servers":
                in_servers = True
                continue
            fields.setdefault(key, value.strip())

        def need(key: str) -> str:
            if key not in fields:
                raise SandboxError(f"cluster/status output lacks {key!r}:\n{text}")
            return fields[key]

        sid_match = _UUID_IN_PARENS.search(need("Server ID"))
        if sid_match is None:
            raise SandboxError(f"cannot parse the server id in cluster/status output:\n{text}")
        server_id = sid_match.group(1)
        cid_match = _UUID_IN_PARENS.search(fields.get("Cluster ID", ""))
        try:
            term = int(need("Term"))
        except ValueError as exc:
            raise SandboxError(f"cannot parse the term in cluster/status output:\n{text}") from exc
        leader: str | None = fields.get("Leader", "unknown")
        if leader == "self":
            leader = server_id[:4]
        elif leader in ("unknown", ""):
            leader = None
        vote: str | None = fields.get("Vote", "unknown")
        if vote == "self":
            vote = server_id[:4]
        elif vote in ("unknown", ""):
            vote = None
        timer = fields.get("Election timer", "")
        return cls(
            database=fields.get("Name", ""),
            cluster_id=cid_match.group(1) if cid_match else None,
            server_id=server_id,
            address=fields.get("Address", ""),
            status=need("Status"),
            role=need("Role"),
            term=term,
            leader=leader,
            vote=vote,
            election_timer_ms=int(timer) if timer.isdigit() else None,
            connections=tuple(fields.get("Connections", "").split()),
            servers=tuple(servers),
            raw=text,
        )


# --------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------


@final
class Server:
    """One ``ovsdb-server`` process serving one database, standalone or a cluster member.

    Created by :meth:`Sandbox.start_server` and :meth:`Sandbox.start_cluster`; not meant
    to be instantiated directly. The process runs in the foreground (the sandbox owns its
    pid); its log is :attr:`log_path` and its stdout/stderr :attr:`output_path`.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        name: str,
        database: str,
        schema_path: Path,
        unix: bool,
        tcp: bool,
        raft_address: str | None = None,
        ssl: SslFiles | None = None,
    ) -> None:
        self._sandbox = sandbox
        #: Key, certificate and CA when the TCP port speaks SSL (``pssl:``), else None.
        self.ssl = ssl
        #: The server's name, unique within its sandbox (``ic-sb-1`` for cluster members).
        self.name = name
        #: The name of the database it serves (the schema's name, e.g. OVN_IC_Southbound).
        self.database = database
        #: The ``.ovsschema`` file the database was created from.
        self.schema_path = schema_path
        directory = sandbox.path
        #: The database file.
        self.db_path = directory / f"{name}.db"
        #: The unixctl socket (``ovs-appctl -t`` target).
        self.ctl_path = directory / f"{name}.ctl"
        #: The ovsdb-server log file (``--log-file``).
        self.log_path = directory / f"{name}.log"
        #: Where the process's stdout and stderr go.
        self.output_path = directory / f"{name}.out"
        #: The client unix socket, or None when the server does not listen on one.
        self.unix_path: Path | None = directory / f"{name}.sock" if unix else None
        #: The client TCP port on 127.0.0.1, or None (known once the server is started).
        self.tcp_port: int | None = None
        #: The Raft address (``tcp:127.0.0.1:PORT``) of a cluster member, else None.
        self.raft_address = raft_address
        self._tcp = tcp
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = False

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "running" if self.running else "down"
        pid = self._proc.pid if self._proc is not None else None
        return f"<Server {self.name} {self.database} pid={pid} {state} {self.remote}>"

    # -- addresses ---------------------------------------------------------------------

    @property
    def unix_remote(self) -> str | None:
        """``unix:<path>`` when the server listens on a unix socket, else None."""
        return f"unix:{self.unix_path}" if self.unix_path is not None else None

    @property
    def tcp_remote(self) -> str | None:
        """``tcp:127.0.0.1:<port>`` when the server listens on TCP, else None."""
        if self.tcp_port is None:
            return None
        return f"{'ssl' if self.ssl is not None else 'tcp'}:{_LOOPBACK}:{self.tcp_port}"

    @property
    def remotes(self) -> list[str]:
        """Every client remote of the server (unix first, then tcp)."""
        return [r for r in (self.unix_remote, self.tcp_remote) if r is not None]

    @property
    def remote(self) -> str:
        """The preferred client remote: the unix socket if any, else the TCP port."""
        return self.remotes[0]

    # -- process state -----------------------------------------------------------------

    @property
    def ovn(self) -> OvnInstall:
        """The OVN release the server's sandbox runs (its binaries and schemas)."""
        return self._sandbox.ovn

    @property
    def pid(self) -> int:
        """The pid of the current (or last) process."""
        if self._proc is None:
            raise SandboxError(f"server {self.name} was never started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the process is alive (a SIGSTOPped process is alive)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def stopped(self) -> bool:
        """Whether the process was suspended with :meth:`stop` and not yet continued."""
        return self._stopped and self.running

    @property
    def returncode(self) -> int | None:
        """The exit status of the last process (negative: killed by that signal), or None."""
        return None if self._proc is None else self._proc.poll()

    def _argv(self) -> list[str]:
        remotes: list[str] = []
        if self.unix_path is not None:
            remotes.append(f"--remote=punix:{self.unix_path}")
        if self._tcp:
            kind = "pssl" if self.ssl is not None else "ptcp"
            remotes.append(f"--remote={kind}:{self.tcp_port or 0}:{_LOOPBACK}")
        if self.ssl is not None:
            remotes += [
                f"--private-key={self.ssl.key}",
                f"--certificate={self.ssl.cert}",
                f"--ca-cert={self.ssl.ca_cert}",
            ]
        return [
            *self._sandbox._binary("ovsdb-server"),
            str(self.db_path),
            *remotes,
            f"--unixctl={self.ctl_path}",
            f"--log-file={self.log_path}",
        ]

    def _spawn(self, timeout: float | None) -> None:
        """Start the process and wait (bounded) until it accepts connections."""
        for stale in (self.unix_path, self.ctl_path):
            if stale is not None:
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        argv = self._sandbox._launcher_prefix() + self._argv()
        with open(self.output_path, "ab") as out:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=self._sandbox.path,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise SandboxError(f"cannot start ovsdb-server for {self.name}: {exc}") from exc
        self._proc = proc
        self._stopped = False
        self._sandbox._reaper.procs.append(proc)
        self._wait_ready(log_offset, self._sandbox.start_timeout if timeout is None else timeout)

    def _wait_ready(self, log_offset: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._proc is not None
            status = self._proc.poll()
            if status is not None:
                raise SandboxError(
                    f"ovsdb-server {self.name} exited with status {status} during startup\n"
                    + self.log_tail()
                )
            if self._tcp and self.tcp_port is None:
                self.tcp_port = self._port_from_log(log_offset)
            if self._accepts_connections():
                return
            if time.monotonic() > deadline:
                self._proc.kill()
                self._proc.wait()
                raise SandboxError(
                    f"ovsdb-server {self.name} did not accept connections within {timeout}s\n"
                    + self.log_tail()
                )
            time.sleep(_POLL_INTERVAL)

    def _port_from_log(self, offset: int) -> int | None:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return None
        match = _LISTENING_RE.search(text)
        return int(match.group(1)) if match else None

    def _accepts_connections(self) -> bool:
        if self._tcp and self.tcp_port is None:
            return False
        if not _can_connect(socket.AF_UNIX, str(self.ctl_path)):
            return False
        if self.unix_path is not None and not _can_connect(socket.AF_UNIX, str(self.unix_path)):
            return False
        return self.tcp_port is None or _can_connect(socket.AF_INET, (_LOOPBACK, self.tcp_port))

    def log_tail(self, lines: int = 30) -> str:
        """The last *lines* lines of the server log and of its stdout/stderr, for messages."""
        parts = []
        for label, path in (("log", self.log_path), ("output", self.output_path)):
            text = _tail(path, lines)
            if text:
                parts.append(f"--- {self.name} {label} ({path}) ---\n{text}")
        return "\n".join(parts) if parts else f"--- {self.name}: no log output ---"

    # -- control -----------------------------------------------------------------------

    def appctl(self, *args: str, timeout: float = 5.0) -> str:
        """Run ``ovs-appctl -t <ctl> ARGS...`` against this server and return its output.

        Raises :class:`~ovsdb_ic.errors.SandboxError` if the server is not running, is
        SIGSTOPped (it could not answer), the command fails, or it takes longer than
        *timeout* seconds.
        """
        if not self.running:
            raise SandboxError(f"server {self.name} is not running")
        if self._stopped:
            raise SandboxError(f"server {self.name} is SIGSTOPped; it cannot answer {args}")
        argv = [
            *self._sandbox._binary("ovs-appctl"),
            f"--timeout={max(1, math.ceil(timeout))}",
            "-t",
            str(self.ctl_path),
            *args,
        ]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout + 2.0,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"{self.name}: ovs-appctl {' '.join(args)} timed out") from exc
        if done.returncode != 0:
            raise SandboxError(
                f"{self.name}: ovs-appctl {' '.join(args)} failed with status "
                f"{done.returncode}: {(done.stderr or done.stdout).strip()}"
            )
        return done.stdout

    def kill(self) -> None:
        """Kill the process with SIGKILL and reap it (no-op if it is not running)."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            self._proc.wait()
        self._stopped = False

    def terminate(self, timeout: float = 5.0) -> None:
        """Stop the process with SIGTERM (SIGKILL after *timeout* seconds) and reap it."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
                self._proc.send_signal(signal.SIGCONT)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._stopped = False

    def stop(self) -> None:
        """Suspend the process with SIGSTOP (it keeps its sockets but answers nothing).

        The server stays :attr:`running`; :meth:`appctl` refuses to talk to it and
        :class:`Cluster` does not query it until :meth:`cont`.
        """
        if not self.running:
            raise SandboxError(f"server {self.name} is not running")
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)
        self._stopped = True
        deadline = time.monotonic() + 2.0
        while _proc_state(self._proc.pid) not in ("T", "t", None):
            if time.monotonic() > deadline:
                raise SandboxError(f"server {self.name} did not stop after SIGSTOP")
            time.sleep(0.005)

    def cont(self) -> None:
        """Resume a process suspended with :meth:`stop` (SIGCONT)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)
        self._stopped = False

    def restart(self, *, timeout: float | None = None) -> None:
        """Start the server again with the same database file, sockets and ports.

        A running server is terminated first. A cluster member restarts from its own
        database file and rejoins its cluster (use :meth:`Cluster.wait_for_leader` to wait
        until it caught up).
        """
        if self._sandbox.closed:
            raise SandboxError("the sandbox is closed")
        self.terminate()
        self._spawn(timeout)


# --------------------------------------------------------------------------------------
# Cluster
# --------------------------------------------------------------------------------------


@final
class Cluster:
    """A Raft cluster of ``ovsdb-server`` processes serving one clustered database.

    Created by :meth:`Sandbox.start_cluster`. Every member has a Raft address and serves
    clients on its own loopback TCP port and unix socket. Members that are not
    :attr:`Server.running` or are :attr:`Server.stopped` are never queried, so a
    SIGSTOPped member cannot make a call hang.
    """

    def __init__(
        self,
        *,
        name: str,
        database: str,
        schema_path: Path,
        members: list[Server],
        election_timer_ms: int,
    ) -> None:
        #: The cluster's name (members are named ``<name>-1`` ... ``<name>-N``).
        self.name = name
        #: The clustered database's name.
        self.database = database
        #: The ``.ovsschema`` file the database was created from.
        self.schema_path = schema_path
        #: The members, in creation order (member 1 created the cluster).
        self.members = members
        #: The election timer the cluster was created with, in milliseconds.
        self.election_timer_ms = election_timer_ms

    def __repr__(self) -> str:
        return f"<Cluster {self.name} {self.database} members={[m.name for m in self.members]}>"

    @property
    def remotes(self) -> list[str]:
        """The TCP client remotes of all members."""
        return [m.tcp_remote for m in self.members if m.tcp_remote is not None]

    @property
    def remote(self) -> str:
        """The comma-separated TCP remotes of all members, usable as an OVSDB remote list."""
        return ",".join(self.remotes)

    def member(self, name: str) -> Server:
        """The member called *name* (e.g. ``ic-sb-2``)."""
        for m in self.members:
            if m.name == name:
                return m
        raise SandboxError(f"cluster {self.name} has no member {name!r}")

    def reachable(self) -> list[Server]:
        """The members that are running and not SIGSTOPped."""
        return [m for m in self.members if m.running and not m.stopped]

    def status(self, member: Server, *, timeout: float = 5.0) -> ClusterStatus:
        """*member*'s view of the cluster (``cluster/status``)."""
        return ClusterStatus.parse(member.appctl("cluster/status", self.database, timeout=timeout))

    def statuses(self, *, timeout: float = 5.0) -> dict[str, ClusterStatus]:
        """The :class:`ClusterStatus` of every reachable member, by member name."""
        return {m.name: self.status(m, timeout=timeout) for m in self.reachable()}

    def _agreed_leader(self, statuses: dict[Server, ClusterStatus]) -> Server | None:
        leaders = [m for m, s in statuses.items() if s.is_leader]
        if len(leaders) != 1:
            return None
        leader = leaders[0]
        expected = statuses[leader]
        for s in statuses.values():
            if (
                s.status != "cluster member"
                or s.term != expected.term
                or s.leader != expected.short_id
                or s.cluster_id != expected.cluster_id
            ):
                return None
        return leader

    def wait_for_leader(
        self, *, exclude: Server | Iterable[Server] = (), timeout: float = 15.0
    ) -> Server:
        """Wait until the reachable members agree on one leader, and return it.

        Agreement means: exactly one member is ``leader``, and every queried member is a
        ``cluster member`` in the same term naming that leader. Members in *exclude*, dead
        members and SIGSTOPped members are neither queried nor accepted as leader, so
        ``wait_for_leader(exclude=old_leader)`` waits for a *different* leader. Raises
        :class:`~ovsdb_ic.errors.SandboxError` after *timeout* seconds, with what each
        member last said.
        """
        excluded = {id(exclude)} if isinstance(exclude, Server) else {id(m) for m in exclude}
        deadline = time.monotonic() + timeout
        last: dict[Server, ClusterStatus] = {}
        last_error: SandboxError | None = None
        while True:
            candidates = [m for m in self.reachable() if id(m) not in excluded]
            if not candidates:
                raise SandboxError(f"cluster {self.name}: no reachable member to elect a leader")
            statuses: dict[Server, ClusterStatus] = {}
            try:
                for m in candidates:
                    remaining = max(1.0, min(3.0, deadline - time.monotonic()))
                    statuses[m] = self.status(m, timeout=remaining)
            except SandboxError as exc:
                last_error = exc
            else:
                last = statuses
                leader = self._agreed_leader(statuses)
                if leader is not None:
                    return leader
            if time.monotonic() > deadline:
                seen = "\n".join(
                    f"  {m.name}: status={s.status!r} role={s.role} term={s.term} leader={s.leader}"
                    for m, s in last.items()
                )
                raise SandboxError(
                    f"cluster {self.name}: no leader agreed on by "
                    f"{[m.name for m in candidates]} within {timeout}s\n{seen}"
                    + (f"\nlast error: {last_error}" if last_error else "")
                )
            time.sleep(0.05)

    def leader(self, *, timeout: float = 15.0) -> Server:
        """The current leader, waiting (bounded) until the reachable members agree on one."""
        return self.wait_for_leader(timeout=timeout)

    def followers(self, *, timeout: float = 15.0) -> list[Server]:
        """The reachable members other than the agreed leader."""
        leader = self.leader(timeout=timeout)
        return [m for m in self.reachable() if m is not leader]

    def transfer_leadership(self, *, timeout: float = 15.0) -> Server:
        """Make another member the leader and return it, once every reachable member agrees.

        OVS 3.1 has no ``cluster/transfer-leadership`` command. This uses the leader's
        test hook ``cluster/failure-test transfer-leadership``, which makes the leader hand
        over to an up-to-date follower at once (the same path a leader takes before writing
        a snapshot). If that hook is missing or does not work, it falls back to SIGSTOPping
        the leader until the others elect a new one, then SIGCONTs it.
        """
        if len(self.reachable()) < 2:
            raise SandboxError(f"cluster {self.name}: need two reachable members to transfer")
        deadline = time.monotonic() + timeout
        old = self.leader(timeout=timeout)
        new: Server | None = None
        try:
            old.appctl("cluster/failure-test", "transfer-leadership")
            new = self.wait_for_leader(
                exclude=old,
                timeout=min(max(1.0, deadline - time.monotonic()), 2.0 + self._election_s()),
            )
        except SandboxError:
            new = None
        if new is None:
            old.stop()
            try:
                new = self.wait_for_leader(
                    exclude=old, timeout=max(1.0, deadline - time.monotonic())
                )
            finally:
                old.cont()
        agreed = self.wait_for_leader(timeout=max(1.0, deadline - time.monotonic()))
        if agreed is old:
            raise SandboxError(f"cluster {self.name}: {old.name} took the leadership back")
        return agreed

    def _election_s(self) -> float:
        # ovsdb-server adds up to 1 s of randomness to the election timer.
        return self.election_timer_ms / 1000.0 + 1.0


# --------------------------------------------------------------------------------------
# Sandbox
# --------------------------------------------------------------------------------------


@final
class Sandbox:
    """A directory plus every ``ovsdb-server`` process started in it.

    Use it as a context manager, or call :meth:`close` yourself. Closing stops every
    process (SIGTERM, then SIGKILL after a short grace period, also for SIGSTOPped ones)
    and removes the files; it runs even when the ``with`` body raised, when the sandbox
    is garbage collected, and at interpreter exit. On the main thread, processes are also
    started with a parent-death signal (via ``setpriv --pdeathsig KILL``, when available),
    so they die even if the Python process is SIGKILLed.

    *directory*: use this directory instead of a fresh temporary one. It is created if
    needed; on close, the whole directory is removed if the sandbox created it, else only
    the files the sandbox created. Unix socket paths must fit in 107 bytes, so keep it
    short.

    *keep*: keep the files after close (processes are still stopped) for debugging;
    ``None`` reads the environment variable ``OVSDB_IC_KEEP_SANDBOX`` (``1`` to keep).

    *election_timer_ms*: the default Raft election timer of the clusters (100 to 600000;
    ovsdb-server adds up to one second of randomness). *start_timeout*: how long to wait,
    in seconds, for a server to accept connections.

    *ovn*: which OVN release to run, ``"23.03"`` (the default: the host's packages) or
    ``"25.03"`` (the root ``./dev setup`` provisions), or an
    :class:`~ovsdb_ic.testing.install.OvnInstall`. Every server, tool and daemon started
    in the sandbox comes from it, and schema names (``"ic-sb"``) resolve to its schemas.

    *die_with_parent*: start the servers with a parent-death signal; ``None`` means
    "only when called from the main thread" (the signal fires when the *thread* that
    started the process exits).

    Not thread-safe: use one sandbox from one thread at a time.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        keep: bool | None = None,
        election_timer_ms: int = 1000,
        start_timeout: float = 10.0,
        die_with_parent: bool | None = None,
        ovn: str | OvnInstall | None = None,
    ) -> None:
        #: The OVN release whose binaries and schemas this sandbox uses (see
        #: :func:`~ovsdb_ic.testing.install.ovn_install`).
        self.ovn = ovn_install(ovn)
        self._binaries = self.ovn.require(*SANDBOX_BINARIES)
        if not 100 <= election_timer_ms <= 600_000:
            raise SandboxError("election_timer_ms must be between 100 and 600000")
        self._reaper = _Reaper()
        if directory is None:
            self.path = Path(tempfile.mkdtemp(prefix="ovsdb-ic-"))
            self._reaper.remove_tree = self.path
        else:
            self.path = Path(directory).resolve()
            if not self.path.exists():
                self.path.mkdir(parents=True)
                self._reaper.remove_tree = self.path
        self._reaper.directory = self.path
        self._reaper.keep = os.environ.get(_KEEP_ENV, "") not in ("", "0") if keep is None else keep
        #: Default Raft election timer of new clusters, in milliseconds.
        self.election_timer_ms = election_timer_ms
        #: Seconds to wait for a server to accept connections.
        self.start_timeout = start_timeout
        self._die_with_parent = die_with_parent
        self._servers: dict[str, Server] = {}
        self._clusters: dict[str, Cluster] = {}
        self._ports: set[int] = set()
        self._finalizer = weakref.finalize(self, self._reaper.cleanup)

    # -- context management ------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every process and remove the files (unless :attr:`keep`). Idempotent."""
        self._finalizer()

    @property
    def keep(self) -> bool:
        """Whether :meth:`close` keeps the files (processes are stopped regardless)."""
        return self._reaper.keep

    @keep.setter
    def keep(self, value: bool) -> None:
        self._reaper.keep = value

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return not self._finalizer.alive

    def __repr__(self) -> str:
        return f"<Sandbox {self.path} servers={list(self._servers)}>"

    # -- inventory ---------------------------------------------------------------------

    @property
    def servers(self) -> list[Server]:
        """Every server started in the sandbox (cluster members included), in order."""
        return list(self._servers.values())

    @property
    def clusters(self) -> list[Cluster]:
        """Every cluster started in the sandbox, in order."""
        return list(self._clusters.values())

    def server(self, name: str) -> Server:
        """The server (or cluster member) called *name*."""
        try:
            return self._servers[name]
        except KeyError:
            raise SandboxError(f"no server named {name!r} in this sandbox") from None

    def log_tails(self, lines: int = 20) -> str:
        """The end of every server's log, for failure reports."""
        return "\n".join(s.log_tail(lines) for s in self._servers.values())

    # -- internals used by Server ------------------------------------------------------

    def _binary(self, name: str) -> list[str]:
        return self._binaries[name]

    def _launcher_prefix(self) -> list[str]:
        wanted = self._die_with_parent
        if wanted is None:
            wanted = threading.current_thread() is threading.main_thread()
        if not wanted:
            return []
        setpriv = shutil.which("setpriv")
        return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []

    def _check_open(self) -> None:
        if self.closed:
            raise SandboxError("the sandbox is closed")

    def _claim_name(self, name: str) -> None:
        if not _NAME_RE.match(name):
            raise SandboxError(f"invalid server name {name!r}: use letters, digits, '_.-'")
        if name in self._servers:
            raise SandboxError(f"a server named {name!r} already exists in this sandbox")
        if len(str(self.path / f"{name}.sock")) > _MAX_UNIX_PATH:
            raise SandboxError(
                f"unix socket path {self.path / (name + '.sock')} is longer than "
                f"{_MAX_UNIX_PATH} bytes; use a shorter sandbox directory or name"
            )

    def _register(self, server: Server) -> None:
        self._servers[server.name] = server
        if self._reaper.remove_tree is None:
            self._reaper.remove_files.extend(
                p
                for p in (
                    server.db_path,
                    server.ctl_path,
                    server.log_path,
                    server.output_path,
                    server.unix_path,
                    server.db_path.with_name(f".{server.db_path.name}.~lock~"),
                )
                if p is not None
            )

    # -- starting servers --------------------------------------------------------------

    def start_server(
        self,
        schema: str | os.PathLike[str],
        *,
        name: str,
        unix: bool = True,
        tcp: bool = False,
        timeout: float | None = None,
        ssl: SslFiles | None = None,
    ) -> Server:
        """Create a standalone database from *schema* and serve it with ``ovsdb-server``.

        *schema* is a ``.ovsschema`` path or a name :func:`schema_path` knows (``ic-sb``).
        The server listens on ``punix:<dir>/<name>.sock`` if *unix* and on a free port of
        127.0.0.1 if *tcp*; its control socket is ``<dir>/<name>.ctl``. With *ssl* (see
        :func:`make_test_pki`) that port is ``pssl:`` and :attr:`Server.tcp_remote` is an
        ``ssl:`` remote. Returns once it accepts connections (within *timeout*, default
        :attr:`start_timeout`).
        """
        self._check_open()
        if ssl is not None:
            tcp = True
        if not (unix or tcp):
            raise SandboxError("a server needs at least one of unix=True or tcp=True")
        self._claim_name(name)
        path = _resolve_schema(schema, self.ovn)
        server = Server(
            self,
            name=name,
            database=schema_database_name(path),
            schema_path=path,
            unix=unix,
            tcp=tcp,
            ssl=ssl,
        )
        self._register(server)
        _run_tool(
            [*self._binary("ovsdb-tool"), "create", str(server.db_path), str(path)],
            cwd=self.path,
            what=f"creating database {name}",
        )
        server._spawn(timeout)
        return server

    def start_cluster(
        self,
        schema: str | os.PathLike[str],
        *,
        name: str,
        size: int = 3,
        election_timer_ms: int | None = None,
        timeout: float | None = None,
    ) -> Cluster:
        """Create and start a Raft cluster of *size* members on loopback.

        Member 1 creates the cluster (``ovsdb-tool create-cluster``), the others join it
        (``ovsdb-tool join-cluster``). Each member ``<name>-<i>`` uses a free 127.0.0.1
        port for Raft and serves clients on another free port and on a unix socket.
        Returns once every member agrees on one leader (within *timeout*, default
        :attr:`start_timeout` plus two seconds per member).
        """
        self._check_open()
        if size < 1:
            raise SandboxError("a cluster needs at least one member")
        timer = self.election_timer_ms if election_timer_ms is None else election_timer_ms
        if not 100 <= timer <= 600_000:
            raise SandboxError("election_timer_ms must be between 100 and 600000")
        names = [f"{name}-{i}" for i in range(1, size + 1)]
        if not _NAME_RE.match(name):
            raise SandboxError(f"invalid cluster name {name!r}: use letters, digits, '_.-'")
        if name in self._clusters:
            raise SandboxError(f"a cluster named {name!r} already exists in this sandbox")
        for member_name in names:
            self._claim_name(member_name)
        path = _resolve_schema(schema, self.ovn)
        database = schema_database_name(path)
        ports = _free_tcp_ports(size, self._ports)
        self._ports.update(ports)
        members = [
            Server(
                self,
                name=member_name,
                database=database,
                schema_path=path,
                unix=True,
                tcp=True,
                raft_address=f"tcp:{_LOOPBACK}:{port}",
            )
            for member_name, port in zip(names, ports, strict=True)
        ]
        for member in members:
            self._register(member)
        tool = self._binary("ovsdb-tool")
        first = members[0]
        assert first.raft_address is not None
        _run_tool(
            [
                *tool,
                f"--election-timer={timer}",
                "create-cluster",
                str(first.db_path),
                str(path),
                first.raft_address,
            ],
            cwd=self.path,
            what=f"creating cluster {name}",
        )
        for member in members[1:]:
            assert member.raft_address is not None
            _run_tool(
                [
                    *tool,
                    "join-cluster",
                    str(member.db_path),
                    database,
                    member.raft_address,
                    first.raft_address,
                ],
                cwd=self.path,
                what=f"joining {member.name} to cluster {name}",
            )
        cluster = Cluster(
            name=name,
            database=database,
            schema_path=path,
            members=members,
            election_timer_ms=timer,
        )
        self._clusters[name] = cluster
        for member in members:
            member._spawn(timeout)
        wait = self.start_timeout + 2.0 * size if timeout is None else timeout
        try:
            cluster.wait_for_leader(timeout=wait)
        except SandboxError as exc:
            tails = "\n".join(m.log_tail(15) for m in members)
            raise SandboxError(f"{exc}\n{tails}") from exc
        return cluster
