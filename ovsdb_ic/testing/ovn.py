"""Real OVN daemons in a :class:`~ovsdb_ic.testing.Sandbox`, and the IC state they leave.

Launchers (each returns a :class:`Daemon` owned by the sandbox: closing the sandbox stops
it, also when the test failed or the interpreter is exiting):

* :func:`start_northd`: ``ovn-northd`` for one availability zone (its NB and SB servers);
* :func:`start_ovn_ic`: the C ``ovn-ic`` daemon for one availability zone;
* :func:`start_engine`: this project's sync engine through its command line,
  ``python -m ovsdb_ic sync --ovnnb-db=R --ovnsb-db=R --ic-nb-db=R --ic-sb-db=R``.

There is no ``ovn-controller`` in a sandbox, so :func:`add_chassis` writes the SB
``Chassis`` rows one would register (gateways carry ``other_config:is-interconn=true``)
and :func:`bind_port` binds a port (``cr-<lrp>``) to a chassis the way it would.

Reading what the agents wrote: :func:`query` runs a read-only transaction with
``ovsdb-client``; :func:`dump_ic` reads the IC-SB rows and each AZ's NB and SB rows an IC
agent touches, and :meth:`IcDump.normalize` turns them into an :class:`IcState` in which
UUIDs are replaced by natural keys (router names, route keys...), so that two
deployments built the same way can be compared with :func:`diff_states`.
:func:`settle` waits until a reading stops changing.

Everything here is synchronous (:mod:`subprocess`), like the rest of
:mod:`ovsdb_ic.testing`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar, final

import attrs

from ovsdb_ic.constants import LEARNED_ROUTE_KEY, TS_KEY
from ovsdb_ic.errors import SandboxError
from ovsdb_ic.testing.install import OvnInstall, ovn_install
from ovsdb_ic.testing.sandbox import (
    _MAX_UNIX_PATH,
    _NAME_RE,
    Sandbox,
    _can_connect,
    _proc_state,
    _Reaper,
    _run_tool,
    _tail,
)

__all__ = [
    "DATAPATH_KEY_RANGE",
    "OVN_BINARIES",
    "PORT_KEY_RANGE",
    "Daemon",
    "IcDump",
    "IcState",
    "IcsbGateway",
    "IcsbPortBinding",
    "IcsbRoute",
    "NbLearnedRoute",
    "NbTransitPort",
    "NbTransitSwitch",
    "NotSettledError",
    "Ref",
    "SbRemoteChassis",
    "SbRemotePort",
    "add_chassis",
    "as_map",
    "as_set",
    "bind_port",
    "daemon_log_tails",
    "diff_states",
    "dump_ic",
    "ovn_ic_nbctl",
    "ovn_ic_sbctl",
    "ovn_nbctl",
    "ovn_sbctl",
    "query",
    "sandbox_daemons",
    "settle",
    "start_engine",
    "start_northd",
    "start_ovn_ic",
    "start_python",
    "start_relay",
    "wait_for",
]

#: The OVN executables this module runs (besides :data:`~ovsdb_ic.testing.SANDBOX_BINARIES`).
OVN_BINARIES: Final[tuple[str, ...]] = (
    "ovn-northd",
    "ovn-ic",
    "ovn-nbctl",
    "ovn-sbctl",
    "ovn-ic-nbctl",
    "ovn-ic-sbctl",
    "ovsdb-client",
)

#: Transit switch tunnel keys (IC-SB ``Datapath_Binding.tunnel_key``), inclusive.
DATAPATH_KEY_RANGE: Final = (0xFF0001, 0xFFFFFF)
#: Transit switch port tunnel keys (IC-SB ``Port_Binding.tunnel_key``), inclusive.
PORT_KEY_RANGE: Final = (1, 32767)

_TOOL_TIMEOUT_S: Final = 20
_POLL: Final = 0.02
_PACKAGE_ROOT: Final = Path(__file__).resolve().parents[2]

T = TypeVar("T")


class NotSettledError(SandboxError):
    """:func:`settle` gave up: the reading kept changing (or failed) until the timeout.

    ``last`` is the last reading, ``changes`` how many times it changed while waiting.
    """

    def __init__(self, message: str, *, last: object, changes: int) -> None:
        super().__init__(message)
        self.last = last
        self.changes = changes


# --------------------------------------------------------------------------------------
# Daemons
# --------------------------------------------------------------------------------------

_REGISTRY: weakref.WeakKeyDictionary[Sandbox, dict[str, Daemon]] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def sandbox_daemons(sandbox: Sandbox) -> list[Daemon]:
    """Every daemon started in *sandbox* by this module, in start order."""
    with _REGISTRY_LOCK:
        return list(_REGISTRY.get(sandbox, {}).values())


def daemon_log_tails(sandbox: Sandbox, lines: int = 20) -> str:
    """The end of every daemon's log and output in *sandbox*, for failure reports."""
    return "\n".join(d.log_tail(lines) for d in sandbox_daemons(sandbox))


@final
class Daemon:
    """One long-running process (``ovn-northd``, ``ovn-ic``, the engine) in a sandbox.

    Created by :func:`start_northd`, :func:`start_ovn_ic` and :func:`start_engine`; not
    meant to be instantiated directly. The process runs in the foreground with its
    stdout and stderr in :attr:`output_path`; the sandbox's cleanup stops it (SIGTERM,
    then SIGKILL), and on the main thread it also gets a parent-death signal, like the
    sandbox's servers. It holds no reference to the sandbox object itself.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        name: str,
        kind: str,
        argv: Sequence[str],
        ctl_path: Path | None,
        log_path: Path | None,
        pid_path: Path | None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        #: Unique name within the sandbox (``az1-northd``, ``az1-ovn-ic``...).
        self.name = name
        #: ``ovn-northd``, ``ovn-ic`` or ``engine``.
        self.kind = kind
        #: The command line (without the parent-death launcher prefix).
        self.argv: tuple[str, ...] = tuple(argv)
        #: The unixctl socket (``ovs-appctl -t`` target), or None (the engine has none).
        self.ctl_path = ctl_path
        #: The daemon's own log file (``--log-file``), or None.
        self.log_path = log_path
        #: The pidfile (``--pidfile``), or None.
        self.pid_path = pid_path
        #: Where the process's stdout and stderr go.
        self.output_path = sandbox.path / f"{name}.out"
        self._directory = sandbox.path
        self._reaper: _Reaper = sandbox._reaper
        self._prefix = sandbox._launcher_prefix()
        self._appctl = sandbox._binary("ovs-appctl")
        self._env = dict(env) if env is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = False
        self._terminated = False

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "running" if self.running else "down"
        pid = self._proc.pid if self._proc is not None else None
        return f"<Daemon {self.name} {self.kind} pid={pid} {state}>"

    # -- state -------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The pid of the current (or last) process."""
        if self._proc is None:
            raise SandboxError(f"daemon {self.name} was never started")
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

    def files(self) -> list[Path]:
        """The files this daemon creates in the sandbox directory."""
        return [
            p
            for p in (self.ctl_path, self.log_path, self.pid_path, self.output_path)
            if p is not None
        ]

    def log_tail(self, lines: int = 30) -> str:
        """The last *lines* lines of the daemon's log and output, for messages."""
        parts = []
        for label, path in (("log", self.log_path), ("output", self.output_path)):
            if path is None:
                continue
            text = _tail(path, lines)
            if text:
                parts.append(f"--- {self.name} {label} ({path}) ---\n{text}")
        return "\n".join(parts) if parts else f"--- {self.name}: no log output ---"

    def check(self) -> None:
        """Raise :class:`~ovsdb_ic.errors.SandboxError` (with the log) if the process died.

        A process stopped with :meth:`terminate` did not die: it passes. One killed with
        :meth:`kill` (a crash, for tests) or that exited by itself does not.
        """
        if self._proc is None:
            raise SandboxError(f"daemon {self.name} was never started")
        status = self._proc.poll()
        if status is not None and not self._terminated:
            raise SandboxError(
                f"{self.kind} {self.name} exited with status {status}\n{self.log_tail()}"
            )

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far, from ``/proc``."""
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii", errors="replace") as f:
                data = f.read()
        except OSError as exc:
            raise SandboxError(f"cannot read the CPU time of {self.name}: {exc}") from exc
        fields = data[data.rfind(")") + 2 :].split()
        ticks = os.sysconf("SC_CLK_TCK")
        # Fields after the command name: state is index 0, utime 11, stime 12.
        return (int(fields[11]) + int(fields[12])) / ticks

    # -- life cycle --------------------------------------------------------------------

    def _start(self, timeout: float) -> None:
        for stale in (self.ctl_path, self.pid_path):
            if stale is not None:
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
        env = None
        if self._env is not None:
            env = {**os.environ, **self._env}
        with open(self.output_path, "ab") as out:
            try:
                proc = subprocess.Popen(
                    [*self._prefix, *self.argv],
                    cwd=self._directory,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=env,
                )
            except OSError as exc:
                raise SandboxError(f"cannot start {self.kind} {self.name}: {exc}") from exc
        self._proc = proc
        self._stopped = False
        self._terminated = False
        self._reaper.procs.append(proc)
        if self.ctl_path is None:
            return
        deadline = time.monotonic() + timeout
        while not _can_connect_unix(self.ctl_path):
            if proc.poll() is not None:
                raise SandboxError(
                    f"{self.kind} {self.name} exited with status {proc.returncode} during "
                    f"startup\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise SandboxError(
                    f"{self.kind} {self.name} did not open {self.ctl_path} within "
                    f"{timeout}s\n{self.log_tail()}"
                )
            time.sleep(_POLL)

    def appctl(self, *args: str, timeout: float = 5.0) -> str:
        """Run ``ovs-appctl -t <ctl> ARGS...`` against the daemon and return its output."""
        if self.ctl_path is None:
            raise SandboxError(f"{self.kind} {self.name} has no unixctl socket")
        if not self.running:
            raise SandboxError(f"daemon {self.name} is not running")
        if self._stopped:
            raise SandboxError(f"daemon {self.name} is SIGSTOPped; it cannot answer {args}")
        argv = [
            *self._appctl,
            f"--timeout={max(1, int(timeout + 0.999))}",
            "-t",
            str(self.ctl_path),
            *args,
        ]
        return _run_tool(argv, cwd=self._directory, what=f"{self.name}: ovs-appctl")

    def wait(self, timeout: float) -> int:
        """Wait (bounded) for the process to exit by itself and return its status."""
        if self._proc is None:
            raise SandboxError(f"daemon {self.name} was never started")
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(
                f"{self.kind} {self.name} did not exit within {timeout}s\n{self.log_tail()}"
            ) from exc

    def terminate(self, timeout: float = 5.0) -> None:
        """Stop the process with SIGTERM (SIGKILL after *timeout* seconds) and reap it."""
        if self._proc is not None and self._proc.poll() is None:
            self._terminated = True
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
                self._proc.send_signal(signal.SIGCONT)
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._stopped = False

    def kill(self) -> None:
        """Kill the process with SIGKILL and reap it (no-op if it is not running)."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            self._proc.wait()
        self._stopped = False

    def stop(self) -> None:
        """Suspend the process with SIGSTOP (it keeps its connections but does nothing)."""
        if self._proc is None or self._proc.poll() is not None:
            raise SandboxError(f"daemon {self.name} is not running")
        self._proc.send_signal(signal.SIGSTOP)
        self._stopped = True
        deadline = time.monotonic() + 2.0
        while _proc_state(self._proc.pid) not in ("T", "t", None):
            if time.monotonic() > deadline:
                raise SandboxError(f"daemon {self.name} did not stop after SIGSTOP")
            time.sleep(0.005)

    def cont(self) -> None:
        """Resume a process suspended with :meth:`stop` (SIGCONT)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)
        self._stopped = False

    def restart(self, *, timeout: float = 10.0) -> None:
        """Terminate the process if it runs and start it again with the same arguments."""
        if self._reaper.closed:
            raise SandboxError("the sandbox is closed")
        self.terminate()
        self._start(timeout)


def _can_connect_unix(path: Path) -> bool:
    import socket

    return _can_connect(socket.AF_UNIX, str(path))


def _register(sandbox: Sandbox, daemon: Daemon) -> None:
    if sandbox.closed:
        raise SandboxError("the sandbox is closed")
    if not _NAME_RE.match(daemon.name):
        raise SandboxError(f"invalid daemon name {daemon.name!r}: use letters, digits, '_.-'")
    with _REGISTRY_LOCK:
        daemons = _REGISTRY.setdefault(sandbox, {})
        taken = set(daemons) | {s.name for s in sandbox.servers}
        if daemon.name in taken:
            raise SandboxError(f"a server or daemon named {daemon.name!r} already exists")
        if daemon.ctl_path is not None and len(str(daemon.ctl_path)) > _MAX_UNIX_PATH:
            raise SandboxError(
                f"unix socket path {daemon.ctl_path} is longer than {_MAX_UNIX_PATH} bytes; "
                "use a shorter sandbox directory or name"
            )
        daemons[daemon.name] = daemon
    if sandbox._reaper.remove_tree is None:
        sandbox._reaper.remove_files.extend(daemon.files())


def _ovn_daemon(
    sandbox: Sandbox,
    *,
    binary: str,
    name: str,
    kind: str,
    db_args: Sequence[str],
    extra_args: Sequence[str],
    timeout: float,
) -> Daemon:
    command = sandbox.ovn.command(binary)
    directory = sandbox.path
    ctl, log, pid = (directory / f"{name}{ext}" for ext in (".ctl", ".log", ".pid"))
    daemon = Daemon(
        sandbox,
        name=name,
        kind=kind,
        argv=[
            *command,
            *db_args,
            f"--unixctl={ctl}",
            f"--log-file={log}",
            f"--pidfile={pid}",
            *extra_args,
        ],
        ctl_path=ctl,
        log_path=log,
        pid_path=pid,
    )
    _register(sandbox, daemon)
    daemon._start(timeout)
    return daemon


def start_northd(
    sandbox: Sandbox,
    *,
    nb: str,
    sb: str,
    name: str,
    extra_args: Sequence[str] = (),
    timeout: float = 10.0,
) -> Daemon:
    """Start ``ovn-northd`` between the NB remote *nb* and the SB remote *sb*.

    It runs in the foreground with ``--unixctl=<dir>/<name>.ctl`` (so
    :meth:`Daemon.appctl` works: ``pause``, ``resume``, ``status``...),
    ``--log-file=<dir>/<name>.log`` and ``--pidfile=<dir>/<name>.pid``. Returns once its
    control socket accepts connections.
    """
    return _ovn_daemon(
        sandbox,
        binary="ovn-northd",
        name=name,
        kind="ovn-northd",
        db_args=[f"--ovnnb-db={nb}", f"--ovnsb-db={sb}"],
        extra_args=extra_args,
        timeout=timeout,
    )


def start_ovn_ic(
    sandbox: Sandbox,
    *,
    nb: str,
    sb: str,
    ic_nb: str,
    ic_sb: str,
    name: str,
    extra_args: Sequence[str] = (),
    timeout: float = 10.0,
) -> Daemon:
    """Start the C ``ovn-ic`` daemon for the AZ whose databases are *nb* and *sb*.

    *ic_nb* and *ic_sb* are the IC databases' remotes (a comma-separated list for a
    cluster). Same files as :func:`start_northd`. Returns once its control socket
    accepts connections; it then takes the ``ovn_ic`` lock on *sb* and starts syncing.
    """
    return _ovn_daemon(
        sandbox,
        binary="ovn-ic",
        name=name,
        kind="ovn-ic",
        db_args=[
            f"--ovnnb-db={nb}",
            f"--ovnsb-db={sb}",
            f"--ic-nb-db={ic_nb}",
            f"--ic-sb-db={ic_sb}",
        ],
        extra_args=extra_args,
        timeout=timeout,
    )


def start_engine(
    sandbox: Sandbox,
    *,
    nb: str,
    sb: str,
    ic_nb: str,
    ic_sb: str,
    name: str,
    once: bool = False,
    extra_args: Sequence[str] = (),
    python: str | None = None,
) -> Daemon:
    """Start this project's sync engine for one AZ, through its command line.

    Runs ``python -m ovsdb_ic sync --ovnnb-db=NB --ovnsb-db=SB --ic-nb-db=IC_NB
    --ic-sb-db=IC_SB [--once] EXTRA...`` with the current interpreter (or *python*),
    this checkout first on ``PYTHONPATH``, in the sandbox directory. The engine has no
    control socket, so this returns as soon as the process is started: use
    :meth:`Daemon.check` (which :func:`settle` callers usually pass as ``check``) to
    notice a crash, and :meth:`Daemon.wait` for ``once=True``.
    """
    args = [
        "-m",
        "ovsdb_ic",
        "sync",
        f"--ovnnb-db={nb}",
        f"--ovnsb-db={sb}",
        f"--ic-nb-db={ic_nb}",
        f"--ic-sb-db={ic_sb}",
        *(["--once"] if once else []),
        *extra_args,
    ]
    return start_python(sandbox, args=args, name=name, python=python)


def start_relay(
    sandbox: Sandbox,
    *,
    database: str,
    remotes: str,
    name: str,
    timeout: float = 10.0,
) -> Daemon:
    """Start an OVSDB relay: ``ovsdb-server`` serving ``relay:DATABASE:REMOTES``.

    It relays *database* from *remotes* (a cluster's remote list) and listens on
    ``punix:<dir>/<name>.sock``, so its remote for clients is ``unix:<dir>/<name>.sock``.
    Same files as :func:`start_northd`. Clients must connect
    with ``leader_only=False``: a relay is never the leader.
    """
    return _ovn_daemon(
        sandbox,
        binary="ovsdb-server",
        name=name,
        kind="relay",
        db_args=[f"--remote=punix:{sandbox.path / f'{name}.sock'}"],
        extra_args=[f"relay:{database}:{remotes}"],
        timeout=timeout,
    )


def start_python(
    sandbox: Sandbox,
    *,
    args: Sequence[str],
    name: str,
    kind: str = "engine",
    python: str | None = None,
) -> Daemon:
    """Run ``python ARGS...`` as a sandbox daemon (benchmark workers embedding engines).

    Like :func:`start_engine`: the current interpreter (or *python*), this checkout
    first on ``PYTHONPATH``, output in ``<dir>/<name>.out``; returns once started.
    """
    pythonpath = os.environ.get("PYTHONPATH", "")
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in (str(_PACKAGE_ROOT), pythonpath) if p),
        "PYTHONUNBUFFERED": "1",
    }
    daemon = Daemon(sandbox, name=name, kind=kind, argv=[python or sys.executable, *args],
                    ctl_path=None, log_path=None, pid_path=None, env=env)
    _register(sandbox, daemon)
    daemon._start(0.0)
    return daemon


# --------------------------------------------------------------------------------------
# ctl tools
# --------------------------------------------------------------------------------------


def _ctl(tool: str, remote: str, args: Sequence[str], ovn: str | OvnInstall | None) -> str:
    command = ovn_install(ovn).command(tool)
    argv = [*command, f"--db={remote}", f"--timeout={_TOOL_TIMEOUT_S}", *args]
    return _run_tool(argv, cwd=Path.cwd(), what=tool)


def ovn_nbctl(remote: str, *args: str, ovn: str | OvnInstall | None = None) -> str:
    """Run ``ovn-nbctl --db=REMOTE ARGS...`` and return its output (raises on failure).

    *ovn*: the OVN release whose tool runs (``"25.03"``, ``sandbox.ovn``; default 23.03);
    the same holds for the other ``*ctl`` helpers.
    """
    return _ctl("ovn-nbctl", remote, args, ovn)


def ovn_sbctl(remote: str, *args: str, ovn: str | OvnInstall | None = None) -> str:
    """Run ``ovn-sbctl --db=REMOTE ARGS...`` and return its output (raises on failure)."""
    return _ctl("ovn-sbctl", remote, args, ovn)


def ovn_ic_nbctl(remote: str, *args: str, ovn: str | OvnInstall | None = None) -> str:
    """Run ``ovn-ic-nbctl --db=REMOTE ARGS...`` and return its output (raises on failure)."""
    return _ctl("ovn-ic-nbctl", remote, args, ovn)


def ovn_ic_sbctl(remote: str, *args: str, ovn: str | OvnInstall | None = None) -> str:
    """Run ``ovn-ic-sbctl --db=REMOTE ARGS...`` and return its output (raises on failure)."""
    return _ctl("ovn-ic-sbctl", remote, args, ovn)


def add_chassis(
    sb: str,
    name: str,
    *,
    encaps: Sequence[tuple[str, str] | tuple[str, str, Mapping[str, str]]] = (),
    hostname: str | None = None,
    interconn: bool = True,
    other_config: Mapping[str, str] | None = None,
    ovn: str | OvnInstall | None = None,
) -> None:
    """Register SB ``Chassis`` *name* as ``ovn-controller`` would, with its ``Encap`` rows.

    *encaps* are ``(type, ip)`` or ``(type, ip, options)`` tuples (default options:
    ``csum=true``, as ``ovn-controller`` sets for geneve); none given means one
    ``geneve`` encap on 127.0.0.1. *interconn* sets ``other_config:is-interconn=true``
    (an IC gateway); *hostname* defaults to *name*.
    """
    entries = list(encaps) or [("geneve", "127.0.0.1")]
    argv: list[str] = []
    ids = []
    for i, entry in enumerate(entries):
        kind, ip = entry[0], entry[1]
        options = dict(entry[2]) if len(entry) == 3 else {"csum": "true"}
        ids.append(f"@e{i}")
        argv += [
            *(["--"] if argv else []),
            f"--id=@e{i}",
            "create",
            "Encap",
            f"type={json.dumps(kind)}",
            f"ip={json.dumps(ip)}",
            f"chassis_name={json.dumps(name)}",
            *(f"options:{k}={json.dumps(v)}" for k, v in sorted(options.items())),
        ]
    config = dict(other_config or {})
    if interconn:
        config["is-interconn"] = "true"
    argv += [
        "--",
        "create",
        "Chassis",
        f"name={json.dumps(name)}",
        f"hostname={json.dumps(hostname or name)}",
        f"encaps=[{','.join(ids)}]",
        *(f"other_config:{k}={json.dumps(v)}" for k, v in sorted(config.items())),
    ]
    ovn_sbctl(sb, *argv, ovn=ovn)


def bind_port(
    sb: str,
    logical_port: str,
    chassis: str,
    *,
    timeout: float = 10.0,
    ovn: str | OvnInstall | None = None,
) -> None:
    """Bind SB ``Port_Binding`` *logical_port* to *chassis*, as ``ovn-controller`` would.

    Waits (bounded) for ``ovn-northd`` to create the port binding first: a ``cr-<lrp>``
    port appears once the LRP has a gateway chassis.
    """

    def present() -> bool:
        rows = query(
            sb,
            "OVN_Southbound",
            {"Port_Binding": ["logical_port"]},
            where={"Port_Binding": [["logical_port", "==", logical_port]]},
        )
        return bool(rows["Port_Binding"])

    wait_for(present, timeout=timeout, what=f"SB port binding {logical_port}")
    ovn_sbctl(sb, "lsp-bind", logical_port, chassis, ovn=ovn)


def wait_for(
    condition: Callable[[], bool], *, timeout: float = 10.0, what: str, interval: float = 0.05
) -> None:
    """Poll *condition* until it is true; raise :class:`~ovsdb_ic.errors.SandboxError`
    naming *what* after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SandboxError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# Reading databases
# --------------------------------------------------------------------------------------


@final
@attrs.frozen(order=True)
class Ref:
    """A UUID read from a database (an OVSDB ``["uuid", ...]`` atom)."""

    uuid: str


def _decode(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        tag, body = value
        if tag in ("uuid", "named-uuid"):
            return Ref(body)
        if tag == "set":
            return frozenset(_decode(v) for v in body)
        if tag == "map":
            return {_decode(k): _decode(v) for k, v in body}
    return value


def as_set(value: Any) -> frozenset[Any]:
    """A decoded set column as a frozenset (OVSDB sends a one-element set as a bare atom)."""
    if isinstance(value, frozenset):
        return value
    return frozenset((value,))


def as_map(value: Any) -> dict[Any, Any]:
    """A decoded map column as a dict (an empty map is ``{}``)."""
    if isinstance(value, dict):
        return value
    raise SandboxError(f"expected a map, got {value!r}")


def _opt(value: Any) -> Any:
    """The single value of an optional (0..1) column, or None when empty."""
    if isinstance(value, frozenset):
        return next(iter(value)) if value else None
    return value


def _query_argv(
    remote: str,
    database: str,
    tables: Mapping[str, Sequence[str] | None],
    where: Mapping[str, list[Any]] | None,
) -> list[str]:
    ops: list[dict[str, Any]] = []
    for table, columns in tables.items():
        op: dict[str, Any] = {
            "op": "select",
            "table": table,
            "where": list((where or {}).get(table, [])),
        }
        if columns is not None:
            op["columns"] = list(columns)
        ops.append(op)
    client = ovn_install(None).command("ovsdb-client")
    return [*client, f"--timeout={_TOOL_TIMEOUT_S}", "query", remote, json.dumps([database, *ops])]


def _parse_query(
    text: str, tables: Mapping[str, Sequence[str] | None], remote: str
) -> dict[str, list[dict[str, Any]]]:
    try:
        results = json.loads(text)
    except ValueError as exc:
        raise SandboxError(f"ovsdb-client query {remote}: bad JSON output: {exc}") from exc
    out: dict[str, list[dict[str, Any]]] = {}
    for table, result in zip(tables, results, strict=False):
        if not isinstance(result, dict) or "rows" not in result:
            raise SandboxError(f"ovsdb-client query {remote}: {table}: {result!r}")
        out[table] = [
            {column: _decode(value) for column, value in row.items()} for row in result["rows"]
        ]
    return out


def query(
    remote: str,
    database: str,
    tables: Mapping[str, Sequence[str] | None],
    *,
    where: Mapping[str, list[Any]] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Select rows of several *tables* in one read-only transaction (``ovsdb-client query``).

    *tables* maps a table name to the columns to read (None: every column, including
    ``_uuid`` and ``_version``). *where* optionally maps a table to OVSDB conditions.
    Values are decoded: UUIDs become :class:`Ref`, sets ``frozenset`` (a one-element set
    may come back as the bare atom: see :func:`as_set`), maps ``dict``.
    """
    argv = _query_argv(remote, database, tables, where)
    text = _run_tool(argv, cwd=Path.cwd(), what=f"querying {database} at {remote}")
    return _parse_query(text, tables, remote)


def _query_many(
    requests: Sequence[tuple[str, str, Mapping[str, Sequence[str] | None]]],
) -> list[dict[str, list[dict[str, Any]]]]:
    """Run several :func:`query` calls concurrently (one ``ovsdb-client`` each)."""
    procs = []
    for remote, database, tables in requests:
        argv = _query_argv(remote, database, tables, None)
        procs.append(
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    errors = []
    for proc, (remote, database, tables) in zip(procs, requests, strict=True):
        try:
            out, err = proc.communicate(timeout=_TOOL_TIMEOUT_S + 5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            errors.append(f"querying {database} at {remote} timed out")
            continue
        if proc.returncode != 0:
            errors.append(f"querying {database} at {remote} failed: {err.strip()}")
            continue
        results.append(_parse_query(out, tables, remote))
    if errors:
        raise SandboxError("; ".join(errors))
    return results


# --------------------------------------------------------------------------------------
# The IC state, normalised
# --------------------------------------------------------------------------------------

_IC_SB_TABLES: Final[dict[str, Sequence[str] | None]] = {
    "Availability_Zone": None,
    "Datapath_Binding": None,
    "Port_Binding": None,
    "Route": None,
    "Gateway": None,
    "Encap": None,
}
_IC_NB_TABLES: Final[dict[str, Sequence[str] | None]] = {"Transit_Switch": None}
_NB_TABLES: Final[dict[str, Sequence[str] | None]] = {
    "NB_Global": ["_uuid", "_version", "name", "options"],
    "Logical_Router": ["_uuid", "_version", "name", "ports", "static_routes"],
    "Logical_Router_Port": ["_uuid", "_version", "name", "networks", "options"],
    "Logical_Router_Static_Route": None,
    "Logical_Switch": ["_uuid", "_version", "name", "ports", "other_config", "external_ids"],
    "Logical_Switch_Port": ["_uuid", "_version", "name", "type", "addresses", "options"],
}
_SB_TABLES: Final[dict[str, Sequence[str] | None]] = {
    "Chassis": ["_uuid", "_version", "name", "hostname", "encaps", "other_config"],
    "Encap": ["_uuid", "_version", "type", "ip", "options", "chassis_name"],
    "Port_Binding": ["_uuid", "_version", "logical_port", "type", "chassis"],
}

Items = tuple[tuple[str, str], ...]


def _items(value: Any, *, drop: Iterable[str] = ()) -> Items:
    dropped = set(drop)
    return tuple(sorted((str(k), str(v)) for k, v in as_map(value).items() if k not in dropped))


@final
@attrs.frozen(order=True)
class IcsbPortBinding:
    """An IC-SB ``Port_Binding``; ``router`` is the NB name of ``external_ids:router-id``
    in the owning AZ (``<dangling>`` when no such router, None when unset)."""

    transit_switch: str
    logical_port: str
    availability_zone: str
    address: str
    gateway: str
    router: str | None
    external_ids: Items


@final
@attrs.frozen(order=True)
class IcsbRoute:
    """An IC-SB ``Route``; ``source`` stands for ``external_ids:nb-id``.

    ``source`` is ``("static", router, route_table, ip_prefix)`` for an NB static route,
    ``("lrp", name)`` for a router port, ``("<dangling>",)`` for an unknown UUID and
    ``("<none>",)`` when unset: ECMP routes collapse to one row whose ``nb-id`` is any of
    them, so the nexthop is left out. ``lr`` is the router named by ``external_ids:lr-id``
    (newer OVN writes it, 23.03 does not); it takes no part in equality.
    """

    transit_switch: str
    availability_zone: str
    route_table: str
    ip_prefix: str
    nexthop: str
    origin: str
    source: tuple[str, ...]
    external_ids: Items
    lr: str | None = attrs.field(default=None, eq=False, order=False)

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """The unique index: (transit_switch, availability_zone, route_table, prefix, nexthop)."""
        return (
            self.transit_switch,
            self.availability_zone,
            self.route_table,
            self.ip_prefix,
            self.nexthop,
        )


@final
@attrs.frozen(order=True)
class IcsbGateway:
    """An IC-SB ``Gateway`` with its encaps as ``(type, ip, options)`` triples."""

    name: str
    availability_zone: str
    hostname: str
    encaps: tuple[tuple[str, str, Items], ...]
    external_ids: Items


@final
@attrs.frozen(order=True)
class NbTransitSwitch:
    """An AZ's NB ``Logical_Switch`` for a transit switch (``requested-tnl-key`` left out:
    the key is checked for consistency instead, see :attr:`IcState.problems`)."""

    az: str
    name: str
    other_config: Items


@final
@attrs.frozen(order=True)
class NbTransitPort:
    """An LSP on a transit switch in an AZ's NB (``requested-tnl-key`` left out)."""

    az: str
    switch: str
    name: str
    type: str
    addresses: tuple[str, ...]
    options: Items


@final
@attrs.frozen(order=True)
class NbLearnedRoute:
    """A learned NB static route; ``learned_from`` is the natural key of the IC-SB route
    named by ``external_ids:ic-learned-route`` (``("<dangling>",)`` when there is none).
    An unset ``policy`` reads as ``dst-ip``, its default."""

    az: str
    router: str
    ip_prefix: str
    nexthop: str
    route_table: str
    policy: str
    options: Items
    external_ids: Items
    learned_from: tuple[str, ...]


@final
@attrs.frozen(order=True)
class SbRemoteChassis:
    """A chassis an IC agent created in an AZ's SB for another AZ's gateway."""

    az: str
    name: str
    hostname: str
    other_config: Items
    encaps: tuple[tuple[str, str, Items], ...]


@final
@attrs.frozen(order=True)
class SbRemotePort:
    """The chassis (by name) an AZ's SB binds a ``remote`` transit port to."""

    az: str
    logical_port: str
    chassis: str | None


@final
@attrs.frozen
class IcState:
    """What the IC agents of a deployment wrote, with UUIDs replaced by natural keys.

    Tunnel keys are not compared (they depend on which AZ wins the allocation race and
    on row order): :attr:`problems` lists every key that is out of range, duplicated, or
    not mirrored into NB (``requested-tnl-key``), and every dangling reference. Two
    correct agents on identical deployments give equal states with empty problems.
    """

    availability_zones: frozenset[str]
    datapath_bindings: frozenset[tuple[str, Items]]
    port_bindings: frozenset[IcsbPortBinding]
    routes: frozenset[IcsbRoute]
    gateways: frozenset[IcsbGateway]
    transit_switches: frozenset[NbTransitSwitch]
    transit_ports: frozenset[NbTransitPort]
    learned_routes: frozenset[NbLearnedRoute]
    remote_chassis: frozenset[SbRemoteChassis]
    remote_ports: frozenset[SbRemotePort]
    problems: tuple[str, ...]

    def routes_of(self, az: str) -> list[IcsbRoute]:
        """The IC-SB routes advertised by *az*, sorted."""
        return sorted(r for r in self.routes if r.availability_zone == az)

    def learned_by(self, az: str, router: str | None = None) -> list[NbLearnedRoute]:
        """The NB routes *az* learned (on *router*, if given), sorted."""
        return sorted(
            r for r in self.learned_routes if r.az == az and (router is None or r.router == router)
        )


def diff_states(a: IcState, b: IcState, *, labels: tuple[str, str] = ("a", "b")) -> list[str]:
    """Human-readable differences between two states: one line per row only in one of
    them, per category (empty when they are equal)."""
    lines: list[str] = []
    for field in attrs.fields(IcState):
        left, right = getattr(a, field.name), getattr(b, field.name)
        if left == right:
            continue
        if field.name == "problems":
            lines.append(f"problems: {labels[0]}={list(left)} {labels[1]}={list(right)}")
            continue
        for row in sorted(left - right, key=repr):
            lines.append(f"{field.name}: only in {labels[0]}: {row!r}")
        for row in sorted(right - left, key=repr):
            lines.append(f"{field.name}: only in {labels[1]}: {row!r}")
    return lines


@final
@attrs.frozen
class IcDump:
    """The raw rows :func:`dump_ic` read: IC-SB, IC-NB, and per AZ its NB and SB.

    :meth:`fingerprint` changes whenever any of these rows is written (it includes every
    ``_uuid`` and ``_version``), so a delete-and-reinsert loop never looks settled.
    """

    ic_sb: dict[str, list[dict[str, Any]]]
    ic_nb: dict[str, list[dict[str, Any]]]
    nb: dict[str, dict[str, list[dict[str, Any]]]]
    sb: dict[str, dict[str, list[dict[str, Any]]]]

    def fingerprint(self) -> str:
        """A digest of every row read, versions included."""

        def canon(value: Any) -> Any:
            if isinstance(value, Ref):
                return ["uuid", value.uuid]
            if isinstance(value, frozenset):
                return ["set", sorted((canon(v) for v in value), key=repr)]
            if isinstance(value, dict):
                return ["map", sorted(([canon(k), canon(v)] for k, v in value.items()), key=repr)]
            return value

        def tables(dbs: dict[str, list[dict[str, Any]]]) -> Any:
            return {
                t: sorted(
                    ({c: canon(v) for c, v in row.items()} for row in rows),
                    key=lambda r: json.dumps(r, sort_keys=True),
                )
                for t, rows in dbs.items()
            }

        data = {
            "ic_sb": tables(self.ic_sb),
            "ic_nb": tables(self.ic_nb),
            "nb": {az: tables(d) for az, d in self.nb.items()},
            "sb": {az: tables(d) for az, d in self.sb.items()},
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def normalize(self) -> IcState:
        """Turn the rows into an :class:`IcState` (see there)."""
        return _normalize(self)


def dump_ic(ic_nb: str, ic_sb: str, azs: Mapping[str, tuple[str, str]]) -> IcDump:
    """Read what IC agents write: IC-SB and IC-NB, and for each AZ (name -> (NB remote,
    SB remote)) its NB and SB tables. All ``ovsdb-client`` queries run concurrently; each
    database is read in one transaction."""
    requests: list[tuple[str, str, Mapping[str, Sequence[str] | None]]] = [
        (ic_sb, "OVN_IC_Southbound", _IC_SB_TABLES),
        (ic_nb, "OVN_IC_Northbound", _IC_NB_TABLES),
    ]
    for nb, sb in azs.values():
        requests += [(nb, "OVN_Northbound", _NB_TABLES), (sb, "OVN_Southbound", _SB_TABLES)]
    results = _query_many(requests)
    names = list(azs)
    return IcDump(
        ic_sb=results[0],
        ic_nb=results[1],
        nb={az: results[2 + 2 * i] for i, az in enumerate(names)},
        sb={az: results[3 + 2 * i] for i, az in enumerate(names)},
    )


def _normalize(dump: IcDump) -> IcState:
    problems: list[str] = []
    az_names = {row["_uuid"]: row["name"] for row in dump.ic_sb["Availability_Zone"]}
    ts_names = {row["name"] for row in dump.ic_nb["Transit_Switch"]}

    # NB of each AZ, by the AZ's NB_Global.name (the name IC-SB rows carry).
    nb_by_az: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for label, nb in dump.nb.items():
        globals_ = nb["NB_Global"]
        name = globals_[0]["name"] if globals_ else ""
        nb_by_az[name or label] = nb

    def az_of(ref: Any) -> str:
        return str(az_names.get(ref, "<dangling>"))

    routers: dict[str, dict[Ref, str]] = {}
    route_owner: dict[str, dict[Ref, str]] = {}
    static_rows: dict[str, dict[Ref, dict[str, Any]]] = {}
    lrp_names: dict[str, dict[Ref, str]] = {}
    lrp_router: dict[str, dict[Ref, str]] = {}
    for az, nb in nb_by_az.items():
        routers[az] = {r["_uuid"]: r["name"] for r in nb["Logical_Router"]}
        route_owner[az] = {}
        lrp_router[az] = {}
        for r in nb["Logical_Router"]:
            for ref in as_set(r["static_routes"]):
                route_owner[az][ref] = r["name"]
            for ref in as_set(r["ports"]):
                lrp_router[az][ref] = r["name"]
        static_rows[az] = {r["_uuid"]: r for r in nb["Logical_Router_Static_Route"]}
        lrp_names[az] = {p["_uuid"]: p["name"] for p in nb["Logical_Router_Port"]}

    def router_name(az: str, uuid_text: Any) -> str | None:
        if uuid_text is None:
            return None
        return routers.get(az, {}).get(Ref(str(uuid_text)), "<dangling>")

    # Datapath bindings.
    dp_keys: dict[int, str] = {}
    ts_key: dict[str, int] = {}
    datapath_bindings = set()
    lo, hi = DATAPATH_KEY_RANGE
    for row in dump.ic_sb["Datapath_Binding"]:
        ts, key = row["transit_switch"], int(row["tunnel_key"])
        datapath_bindings.add((ts, _items(row["external_ids"])))
        if not lo <= key <= hi:
            problems.append(f"datapath binding {ts}: tunnel key {key} out of range")
        if key in dp_keys:
            problems.append(f"datapath bindings {dp_keys[key]} and {ts} share tunnel key {key}")
        if ts in ts_key:
            problems.append(f"transit switch {ts} has several datapath bindings")
        dp_keys[key] = ts
        ts_key[ts] = key
    if len(datapath_bindings) != len(dump.ic_sb["Datapath_Binding"]):
        problems.append("duplicate datapath bindings")

    # Port bindings.
    port_bindings = set()
    pb_key: dict[str, int] = {}
    pb_az: dict[str, str] = {}
    seen_pb_keys: dict[tuple[str, int], str] = {}
    plo, phi = PORT_KEY_RANGE
    for row in dump.ic_sb["Port_Binding"]:
        az = az_of(row["availability_zone"])
        ids = as_map(row["external_ids"])
        ts, lp, key = row["transit_switch"], row["logical_port"], int(row["tunnel_key"])
        port_bindings.add(
            IcsbPortBinding(
                transit_switch=ts,
                logical_port=lp,
                availability_zone=az,
                address=row["address"],
                gateway=row["gateway"],
                router=router_name(az, ids.get("router-id")),
                external_ids=_items(ids, drop=("router-id",)),
            )
        )
        if not plo <= key <= phi:
            problems.append(f"port binding {lp}: tunnel key {key} out of range")
        if (ts, key) in seen_pb_keys:
            problems.append(f"port bindings {seen_pb_keys[ts, key]} and {lp} share key {key}")
        seen_pb_keys[ts, key] = lp
        pb_key[lp] = key
        pb_az[lp] = az
    if len(port_bindings) != len(dump.ic_sb["Port_Binding"]):
        problems.append("duplicate port bindings")

    # Routes.
    route_key_by_uuid: dict[Ref, tuple[str, ...]] = {}
    routes = set()
    for row in dump.ic_sb["Route"]:
        az = az_of(row["availability_zone"])
        ids = as_map(row["external_ids"])
        nb_id = ids.get("nb-id")
        source: tuple[str, ...]
        owner: str | None = None
        if nb_id is None:
            source = ("<none>",)
        else:
            ref = Ref(str(nb_id))
            if ref in static_rows.get(az, {}):
                srow = static_rows[az][ref]
                owner = route_owner[az].get(ref, "<no router>")
                source = ("static", owner, srow["route_table"], srow["ip_prefix"])
            elif ref in lrp_names.get(az, {}):
                owner = lrp_router[az].get(ref, "<no router>")
                source = ("lrp", lrp_names[az][ref])
            else:
                source = ("<dangling>",)
        lr = router_name(az, ids.get("lr-id"))
        if lr is not None and owner is not None and lr != owner:
            problems.append(f"route {row['ip_prefix']} of {az}: lr-id {lr} but nb-id in {owner}")
        route = IcsbRoute(
            transit_switch=row["transit_switch"],
            availability_zone=az,
            route_table=row["route_table"],
            ip_prefix=row["ip_prefix"],
            nexthop=row["nexthop"],
            origin=row["origin"],
            source=source,
            external_ids=_items(ids, drop=("nb-id", "lr-id")),
            lr=lr,
        )
        routes.add(route)
        route_key_by_uuid[row["_uuid"]] = route.key
        if row["transit_switch"] not in ts_names:
            problems.append(f"route {route.key} on a transit switch that does not exist")
    if len(routes) != len(dump.ic_sb["Route"]):
        problems.append("duplicate routes")

    # Gateways.
    encaps = {row["_uuid"]: row for row in dump.ic_sb["Encap"]}
    gateways = set()
    for row in dump.ic_sb["Gateway"]:
        enc = []
        for ref in as_set(row["encaps"]):
            e = encaps.get(ref)
            if e is None:
                problems.append(f"gateway {row['name']}: dangling encap")
                continue
            if e["gateway_name"] != row["name"]:
                problems.append(f"gateway {row['name']}: encap names {e['gateway_name']}")
            enc.append((e["type"], e["ip"], _items(e["options"])))
        gateways.add(
            IcsbGateway(
                name=row["name"],
                availability_zone=az_of(row["availability_zone"]),
                hostname=row["hostname"],
                encaps=tuple(sorted(enc)),
                external_ids=_items(row["external_ids"]),
            )
        )

    # Each AZ's NB: transit switches, their ports, learned routes.
    transit_switches = set()
    transit_ports = set()
    learned = set()
    for az, nb in nb_by_az.items():
        lsps = {p["_uuid"]: p for p in nb["Logical_Switch_Port"]}
        for ls in nb["Logical_Switch"]:
            config = as_map(ls["other_config"])
            if TS_KEY not in config:
                continue
            name = ls["name"]
            transit_switches.add(
                NbTransitSwitch(
                    az=az, name=name, other_config=_items(config, drop=("requested-tnl-key",))
                )
            )
            want = ts_key.get(name)
            got = config.get("requested-tnl-key")
            if want is not None and got != str(want):
                problems.append(f"{az}: NB switch {name} requested-tnl-key {got} != {want}")
            for ref in as_set(ls["ports"]):
                p = lsps.get(ref)
                if p is None:
                    problems.append(f"{az}: switch {name} has a dangling port")
                    continue
                options = as_map(p["options"])
                transit_ports.add(
                    NbTransitPort(
                        az=az,
                        switch=name,
                        name=p["name"],
                        type=p["type"],
                        addresses=tuple(sorted(as_set(p["addresses"]))),
                        options=_items(options, drop=("requested-tnl-key",)),
                    )
                )
                if p["name"] in pb_key and p["type"] in ("router", "remote"):
                    got_key = options.get("requested-tnl-key")
                    if got_key != str(pb_key[p["name"]]):
                        problems.append(
                            f"{az}: LSP {p['name']} requested-tnl-key {got_key} != "
                            f"{pb_key[p['name']]}"
                        )
        for ref, row in static_rows[az].items():
            ids = as_map(row["external_ids"])
            if LEARNED_ROUTE_KEY not in ids:
                continue
            target = route_key_by_uuid.get(Ref(str(ids[LEARNED_ROUTE_KEY])), ("<dangling>",))
            learned.add(
                NbLearnedRoute(
                    az=az,
                    router=route_owner[az].get(ref, "<no router>"),
                    ip_prefix=row["ip_prefix"],
                    nexthop=row["nexthop"],
                    route_table=row["route_table"],
                    policy=_opt(row["policy"]) or "dst-ip",
                    options=_items(row["options"]),
                    external_ids=_items(ids, drop=(LEARNED_ROUTE_KEY,)),
                    learned_from=target,
                )
            )

    # Each AZ's SB: remote chassis and the chassis of remote ports.
    remote_chassis = set()
    remote_ports = set()
    for label, sb in dump.sb.items():
        az = label
        for name, nb in nb_by_az.items():
            if nb is dump.nb.get(label):
                az = name
        sb_encaps = {e["_uuid"]: e for e in sb["Encap"]}
        chassis_names = {c["_uuid"]: c["name"] for c in sb["Chassis"]}
        for c in sb["Chassis"]:
            config = as_map(c["other_config"])
            if config.get("is-remote") != "true":
                continue
            enc = []
            for ref in as_set(c["encaps"]):
                e = sb_encaps.get(ref)
                if e is not None:
                    enc.append((e["type"], e["ip"], _items(e["options"])))
            remote_chassis.add(
                SbRemoteChassis(
                    az=az,
                    name=c["name"],
                    hostname=c["hostname"],
                    other_config=_items(config),
                    encaps=tuple(sorted(enc)),
                )
            )
        for pb in sb["Port_Binding"]:
            if pb["type"] != "remote":
                continue
            chassis = _opt(pb["chassis"])
            remote_ports.add(
                SbRemotePort(
                    az=az,
                    logical_port=pb["logical_port"],
                    chassis=None if chassis is None else chassis_names.get(chassis, "<dangling>"),
                )
            )

    return IcState(
        availability_zones=frozenset(str(n) for n in az_names.values()),
        datapath_bindings=frozenset(datapath_bindings),
        port_bindings=frozenset(port_bindings),
        routes=frozenset(routes),
        gateways=frozenset(gateways),
        transit_switches=frozenset(transit_switches),
        transit_ports=frozenset(transit_ports),
        learned_routes=frozenset(learned),
        remote_chassis=frozenset(remote_chassis),
        remote_ports=frozenset(remote_ports),
        problems=tuple(sorted(set(problems))),
    )


# --------------------------------------------------------------------------------------
# Settling
# --------------------------------------------------------------------------------------


def settle(
    read: Callable[[], T],
    *,
    key: Callable[[T], object] | None = None,
    quiet: float = 1.0,
    timeout: float = 30.0,
    interval: float = 0.1,
    check: Callable[[], None] | None = None,
) -> T:
    """Call *read* until its result (or ``key(result)``) has not changed for *quiet*
    seconds, and return the last result.

    *check* runs before every reading (e.g. to raise if a daemon died). Raises
    :class:`NotSettledError` after *timeout* seconds, with the last reading and the
    number of changes seen; a failing *read* is retried until then.
    """
    deadline = time.monotonic() + timeout
    marker: object = object()
    last_value: T | None = None
    last_key: object = marker
    since = time.monotonic()
    changes = 0
    last_error: Exception | None = None
    while True:
        if check is not None:
            check()
        try:
            value = read()
        except SandboxError as exc:
            last_error = exc
        else:
            last_error = None
            k = key(value) if key is not None else value
            now = time.monotonic()
            if last_key is marker or k != last_key:
                if last_key is not marker:
                    changes += 1
                last_key, last_value, since = k, value, now
            elif now - since >= quiet:
                return value
        if time.monotonic() > deadline:
            raise NotSettledError(
                f"not settled within {timeout}s ({changes} changes while waiting"
                + (f"; last error: {last_error}" if last_error else "")
                + ")",
                last=last_value,
                changes=changes,
            )
        time.sleep(interval)
