"""A real dataplane for an OVN-IC sandbox: chassis, tunnels and "Pods" that ping.

:class:`Dataplane` brings up, per chassis, a network namespace holding its own
``ovs-vswitchd`` (userspace datapath, ``--disable-system``) and ``ovn-controller``
against one availability zone's SB database; the chassis are joined by a veth underlay
and tunnel to each other with geneve, the Open vSwitch way for the userspace datapath
(``br-phy`` holds the underlay port, the encap IP sits on ``br-phy``'s internal port, and
``ovs-appctl ovs/route/add`` tells OVS the route). A "Pod" (:meth:`Dataplane.add_pod`)
is an internal port of ``br-int`` carrying a logical switch port's ``iface-id``, moved
into a namespace of its own with that port's MAC and IP, so ``ping`` from it goes
through the logical pipeline, the transit switches and the tunnel like a real Pod's.

Every chassis's OVS database is an ``ovsdb-server`` of the :class:`~ovsdb_ic.testing.Sandbox`
(in the host's namespace, reached over its unix socket); the daemons are
:class:`~ovsdb_ic.testing.Daemon` objects of the same sandbox, so closing the sandbox
stops them. :meth:`Dataplane.close` (also run when the sandbox closes, and at
interpreter exit) then deletes the namespaces, which destroys the veths and tap devices
in them. Namespaces are named ``ovsdbic-<pid>-...``: :func:`sweep_stale_namespaces`
removes those of processes that no longer exist (a run that was SIGKILLed).

Nothing leaves the namespaces: the underlay (``192.0.2.0/24``, a documentation range)
and the Pod addresses exist only inside them, and no namespace has a link to the host.

Needs root, ``/dev/net/tun``, ``ip`` (iproute2), ``ovs-vswitchd`` and ``ovs-vsctl``
(Debian ``openvswitch-switch``), ``ovn-controller`` (``ovn-host``) and ``ping``
(``iputils-ping``); :func:`dataplane_unavailable` says in one line what is missing.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, final

import attrs

from ovsdb_ic.errors import SandboxError
from ovsdb_ic.testing.ovn import Daemon, _register, ovn_nbctl, query, wait_for
from ovsdb_ic.testing.sandbox import (
    _MAX_UNIX_PATH,
    Sandbox,
    Server,
    _run_tool,
    require_binaries,
)

__all__ = [
    "DATAPLANE_BINARIES",
    "NETNS_PREFIX",
    "Chassis",
    "Dataplane",
    "Pod",
    "PingResult",
    "RunningPing",
    "add_pod_port",
    "add_subnet",
    "dataplane_unavailable",
    "sweep_stale_namespaces",
    "vswitch_schema",
]

#: The executables a :class:`Dataplane` runs (besides the sandbox's).
DATAPLANE_BINARIES: Final[tuple[str, ...]] = (
    "ip",
    "ovs-vswitchd",
    "ovs-vsctl",
    "ovn-controller",
    "ping",
)

#: Every namespace a :class:`Dataplane` creates is called ``<prefix><pid>-...``.
NETNS_PREFIX: Final = "ovsdbic-"

_UNDERLAY: Final = ipaddress.ip_network("192.0.2.0/24")
_IFNAME_MAX: Final = 15
_NETNS_RE: Final = re.compile(rf"^{re.escape(NETNS_PREFIX)}(\d+)-")
_PING_SUMMARY: Final = re.compile(
    r"(\d+) packets transmitted, (\d+) (?:packets )?received"
)
_VSWITCH_SCHEMA_DIRS: Final = (Path("/usr/share/openvswitch"), Path("/usr/local/share/openvswitch"))
_counter = itertools.count(1)


def vswitch_schema() -> Path:
    """The ``vswitch.ovsschema`` the chassis' OVS databases are created from."""
    for directory in _VSWITCH_SCHEMA_DIRS:
        candidate = directory / "vswitch.ovsschema"
        if candidate.is_file():
            return candidate
    raise SandboxError(
        "vswitch.ovsschema not found in "
        + ", ".join(str(d) for d in _VSWITCH_SCHEMA_DIRS)
        + "; install openvswitch-common"
    )


def dataplane_unavailable() -> str | None:
    """Why this host cannot run a :class:`Dataplane`, in one line, or None if it can."""
    if os.geteuid() != 0:
        return "network namespaces and tap devices need root"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no tap devices for the userspace datapath)"
    try:
        require_binaries(*DATAPLANE_BINARIES)
        vswitch_schema()
    except SandboxError as exc:
        return str(exc).split(";")[0]
    probe = f"{NETNS_PREFIX}{os.getpid()}-probe{next(_counter)}"
    try:
        _ip("netns", "add", probe)
    except SandboxError as exc:
        return f"cannot create a network namespace: {exc}"
    finally:
        with contextlib.suppress(SandboxError):
            _ip("netns", "del", probe)
    return None


def _ip(*args: str) -> str:
    return _run_tool([require_binaries("ip")["ip"], *args], cwd=Path("/"), what="ip")


def _netns_names() -> list[str]:
    try:
        return sorted(os.listdir("/run/netns"))
    except OSError:
        return []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_namespaces() -> list[str]:
    """Delete the namespaces of dataplanes whose process no longer exists; return them.

    A :class:`Dataplane` removes its namespaces itself, also after an error or Ctrl-C;
    only a run that was SIGKILLed leaves some behind (its daemons die with it: they get a
    parent-death signal). Namespaces of live processes, and namespaces in which something
    still runs, are kept.
    """
    removed = []
    for name in _netns_names():
        match = _NETNS_RE.match(name)
        if match is None or _pid_alive(int(match.group(1))) or _ns_pids(name):
            continue
        with contextlib.suppress(SandboxError):
            _delete_namespace(name)
            removed.append(name)
    return removed


def _ns_pids(name: str) -> list[int]:
    with contextlib.suppress(SandboxError):
        return [int(p) for p in _ip("netns", "pids", name).split()]
    return []


def _delete_namespace(name: str) -> None:
    """Kill what still runs in namespace *name*, delete its links, then the namespace."""
    for pid in _ns_pids(name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(SandboxError):
        for ifname in _link_names(name):
            if ifname != "lo":
                with contextlib.suppress(SandboxError):
                    _ip("-n", name, "link", "del", ifname)
    _ip("netns", "del", name)


def _link_names(netns: str) -> list[str]:
    """The interfaces of namespace *netns* (``veth0``, not ``veth0@if5``)."""
    text = _ip("-n", netns, "-o", "link", "show")
    return [line.split(":")[1].strip().split("@")[0] for line in text.splitlines()]


def _port_binding_is(sb: str, logical_port: str, *, bound: bool) -> bool:
    """Whether SB has *logical_port*'s binding (with *bound*: claimed and up)."""
    rows = query(sb, "OVN_Southbound", {"Port_Binding": ["chassis", "up"]},
                 where={"Port_Binding": [["logical_port", "==", logical_port]]})["Port_Binding"]
    if not rows:
        return False
    return not bound or (bool(rows[0]["chassis"]) and rows[0]["up"] is True)


def _vsctl(remote: str, rundir: Path, chassis: str, *args: str) -> str:
    argv = [require_binaries("ovs-vsctl")["ovs-vsctl"], f"--db={remote}", "--timeout=20", *args]
    return _run_tool(argv, cwd=rundir, what=f"{chassis}: ovs-vsctl")


class _NetnsReaper:
    """The namespaces to delete; holds no reference to the :class:`Dataplane`."""

    def __init__(self) -> None:
        self.namespaces: list[str] = []
        self.lock = threading.Lock()

    def cleanup(self) -> None:
        with self.lock:
            while self.namespaces:
                name = self.namespaces.pop()
                with contextlib.suppress(SandboxError):
                    _delete_namespace(name)


@final
@attrs.frozen
class PingResult:
    """What ``ping`` printed: its output and the counts of its summary line."""

    output: str
    transmitted: int
    received: int

    @property
    def lost(self) -> int:
        """Packets sent without a reply."""
        return self.transmitted - self.received

    @property
    def summary(self) -> str:
        """The ``N packets transmitted, M received, ...`` line (empty if none)."""
        for line in self.output.splitlines():
            if "packets transmitted" in line:
                return line.strip()
        return ""

    @classmethod
    def parse(cls, output: str) -> PingResult:
        """Read the counts from ``ping`` output (no summary line: nothing sent)."""
        match = _PING_SUMMARY.search(output)
        if match is None:
            return cls(output=output, transmitted=0, received=0)
        return cls(output=output, transmitted=int(match.group(1)), received=int(match.group(2)))


@final
class RunningPing:
    """A ``ping`` left running in a Pod (:meth:`Pod.start_ping`); :meth:`stop` it."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._proc = proc

    def stop(self) -> PingResult:
        """Interrupt the ping (SIGINT, so it prints its summary) and return its result."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
        try:
            out, _ = self._proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            out, _ = self._proc.communicate()
        return PingResult.parse(out)


@final
@attrs.define(eq=False, repr=False, kw_only=True)
class Chassis:
    """One hypervisor: a namespace with ``ovs-vswitchd`` and ``ovn-controller``.

    Made by :meth:`Dataplane.add_chassis`.
    """

    name: str
    """The chassis name (SB ``Chassis.name``, ``system-id`` and hostname)."""
    az: str
    """The availability zone whose SB it registers in."""
    netns: str
    """Its network namespace."""
    encap_ip: str
    """Its geneve endpoint on the underlay."""
    ovsdb: Server
    """Its OVS database server (in the host's namespace, reached over a unix socket)."""
    vswitchd: Daemon
    """``ovs-vswitchd`` (userspace datapath)."""
    controller: Daemon
    """``ovn-controller``."""
    rundir: Path
    """Its ``OVS_RUNDIR`` and ``OVN_RUNDIR`` (``br-int.mgmt``, the daemons' files)."""

    def __repr__(self) -> str:
        return f"<Chassis {self.name} az={self.az} netns={self.netns} encap={self.encap_ip}>"

    def vsctl(self, *args: str) -> str:
        """Run ``ovs-vsctl --db=<this chassis' OVS db> ARGS...`` and return its output."""
        return _vsctl(self.ovsdb.remote, self.rundir, self.name, *args)

    def appctl(self, *args: str) -> str:
        """``ovs-appctl`` against this chassis' ``ovs-vswitchd``."""
        return self.vswitchd.appctl(*args)

    def controller_appctl(self, *args: str) -> str:
        """``ovs-appctl`` against this chassis' ``ovn-controller`` (``recompute``,
        ``connection-status``, ...)."""
        # ovn-controller 23.03 has no --unixctl: its socket is $OVN_RUNDIR/NAME.PID.ctl
        # (``ip netns exec`` execs the daemon, so the pid is the Daemon's).
        ctl = self.rundir / f"ovn-controller.{self.controller.pid}.ctl"
        argv = [require_binaries("ovs-appctl")["ovs-appctl"], "--timeout=10", "-t", str(ctl),
                *args]
        return _run_tool(argv, cwd=self.rundir, what=f"{self.name}: ovn-controller")


@final
@attrs.define(eq=False, repr=False, kw_only=True)
class Pod:
    """A namespace whose one interface is a ``br-int`` port bound to a logical switch port.

    Made by :meth:`Dataplane.add_pod`.
    """

    name: str
    """The logical switch port (``iface-id``) it carries."""
    netns: str
    """Its network namespace."""
    chassis: Chassis
    """The chassis whose ``br-int`` it is plugged into."""
    ip: str
    """Its IP address (without prefix length)."""
    mac: str
    """Its MAC address."""

    def __repr__(self) -> str:
        return f"<Pod {self.name} {self.ip} on {self.chassis.name}>"

    def _ping_argv(self, address: str, *extra: str) -> list[str]:
        ping = require_binaries("ping")["ping"]
        return [require_binaries("ip")["ip"], "netns", "exec", self.netns, ping, "-n",
                *extra, address]

    def ping(self, address: str, *, count: int = 3, interval: float = 0.2,
             wait: float = 1.0) -> PingResult:
        """Ping *address* *count* times from this Pod and return what ``ping`` printed.

        A lost packet is not an error: look at :attr:`PingResult.received`.
        """
        argv = self._ping_argv(address, "-c", str(count), "-i", f"{interval:g}",
                               "-W", f"{wait:g}")
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=count * (interval + wait) + 10,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"{self.name}: ping {address} did not finish") from exc
        if done.returncode not in (0, 1):
            raise SandboxError(f"{self.name}: ping {address} failed with status "
                               f"{done.returncode}: {(done.stderr or done.stdout).strip()}")
        return PingResult.parse(done.stdout)

    def wait_reachable(self, address: str, *, timeout: float = 20.0) -> None:
        """Ping *address* once at a time until one reply comes back (flows being
        installed, tunnel neighbours being learned), within *timeout* seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if self.ping(address, count=1, wait=0.5).received:
                return
            if time.monotonic() > deadline:
                raise SandboxError(
                    f"{self.name} ({self.ip}) got no reply from {address} within {timeout}s"
                )
            time.sleep(0.1)

    def start_ping(self, address: str, *, interval: float = 0.05) -> RunningPing:
        """Start pinging *address* every *interval* seconds until :meth:`RunningPing.stop`."""
        proc = subprocess.Popen(self._ping_argv(address, "-i", f"{interval:g}", "-W", "1"),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        return RunningPing(proc)


@final
class Dataplane:
    """Chassis (one namespace each, joined by a veth underlay) and Pods, in a sandbox.

    Create it with ``Dataplane(sandbox)``, then :meth:`add_chassis` for each chassis
    and :meth:`add_pod` for each Pod, in any order (every chassis joins the underlay
    bridge). :meth:`close` (or closing the sandbox) stops everything and removes
    the namespaces with their veths and taps.
    """

    def __init__(self, sandbox: Sandbox, *, start_timeout: float = 20.0) -> None:
        reason = dataplane_unavailable()
        if reason is not None:
            raise SandboxError(f"no dataplane on this host: {reason}")
        sweep_stale_namespaces()
        self._sandbox = sandbox
        self._token = f"{NETNS_PREFIX}{os.getpid()}-{next(_counter)}"
        self._reaper = _NetnsReaper()
        self._daemons: list[Daemon] = []
        #: Seconds to wait for a chassis to register or a Pod to be bound.
        self.start_timeout = start_timeout
        #: The chassis by name, in the order they were added.
        self.chassis: dict[str, Chassis] = {}
        #: The Pods by logical port name.
        self.pods: dict[str, Pod] = {}
        #: The namespace of the underlay: a bridge joining every chassis' veth.
        self.underlay = f"{self._token}-ul"
        self._finalizer = weakref.finalize(self, self._reaper.cleanup)
        sandbox._reaper.after_stop.append(self._finalizer)
        self._add_netns(self.underlay)
        _ip("-n", self.underlay, "link", "add", "ul", "type", "bridge")
        _ip("-n", self.underlay, "link", "set", "ul", "up")

    # -- life cycle ----------------------------------------------------------------

    def __enter__(self) -> Dataplane:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every daemon of the dataplane and delete its namespaces. Idempotent."""
        for daemon in reversed(self._daemons):
            daemon.terminate(timeout=3.0)
        for chassis in self.chassis.values():
            chassis.ovsdb.terminate(timeout=3.0)
        self._finalizer()

    @property
    def namespaces(self) -> list[str]:
        """The namespaces this dataplane created and has not deleted yet."""
        return list(self._reaper.namespaces)

    def _add_netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._reaper.namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    # -- chassis -------------------------------------------------------------------

    def add_chassis(self, name: str, *, az: str, sb: str, interconn: bool = True) -> Chassis:
        """Start chassis *name* of availability zone *az*, whose SB remote is *sb*.

        The chassis registers itself (``ovn-controller``) as SB ``Chassis`` *name* with
        hostname *name* and one geneve encap on the underlay; *interconn* makes it an
        IC gateway (``ovn-is-interconn``). Returns once the SB row exists.
        """
        if self._finalizer.alive is False:
            raise SandboxError("the dataplane is closed")
        if name in self.chassis:
            raise SandboxError(f"a chassis named {name!r} already exists")
        rundir = self._sandbox.path / name
        # The longest socket in it: ovn-controller.<pid>.ctl.
        if len(str(rundir / "ovn-controller.4194304.ctl")) > _MAX_UNIX_PATH:
            raise SandboxError(
                f"chassis {name!r}: its sockets in {rundir} would be longer than "
                f"{_MAX_UNIX_PATH} bytes; use a shorter sandbox directory or chassis name"
            )
        index = len(self.chassis) + 1
        encap_ip = str(_UNDERLAY.network_address + index)
        netns = f"{self._token}-c{index}"
        self._add_netns(netns)
        # The underlay: a veth from the chassis to the underlay bridge.
        veth = f"ul{index}"
        _ip("link", "add", "ul0", "netns", netns, "type", "veth", "peer", "name", veth,
            "netns", self.underlay)
        _ip("-n", self.underlay, "link", "set", veth, "master", "ul", "up")
        _ip("-n", netns, "link", "set", "ul0", "up")

        rundir.mkdir(exist_ok=True)
        reaper = self._sandbox._reaper
        if reaper.remove_tree is None:  # the sandbox removes only the files it made

            def remove_rundir() -> None:
                if not reaper.keep:
                    shutil.rmtree(rundir, ignore_errors=True)

            reaper.after_stop.append(remove_rundir)
        ovsdb = self._sandbox.start_server(vswitch_schema(), name=f"{name}-ovsdb")
        env = {"OVS_RUNDIR": str(rundir), "OVS_DBDIR": str(rundir), "OVS_LOGDIR": str(rundir),
               "OVN_RUNDIR": str(rundir), "OVN_DBDIR": str(rundir), "OVN_LOGDIR": str(rundir)}
        vsctl = functools.partial(_vsctl, ovsdb.remote, rundir, name)
        vsctl("--no-wait", "init")
        vswitchd = self._daemon(f"{name}-vswitchd", "ovs-vswitchd", netns, rundir, env,
                                [ovsdb.remote, "--disable-system"])
        # br-phy holds the underlay port; the encap IP sits on its internal port.
        vsctl("add-br", "br-phy", "--", "set", "Bridge", "br-phy", "datapath_type=netdev",
              "--", "add-port", "br-phy", "ul0")
        self._wait_link(netns, "br-phy")
        _ip("-n", netns, "addr", "add", f"{encap_ip}/{_UNDERLAY.prefixlen}", "dev", "br-phy")
        _ip("-n", netns, "link", "set", "br-phy", "up")
        # Refused ("Error while inserting route") until OVS has seen br-phy's address.
        def route_added() -> bool:
            try:
                vswitchd.appctl("ovs/route/add", f"{encap_ip}/{_UNDERLAY.prefixlen}", "br-phy")
            except SandboxError:
                return False
            return True

        wait_for(route_added, timeout=self.start_timeout, interval=0.1,
                 what=f"{name}: ovs/route/add {_UNDERLAY} br-phy")
        vsctl("add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev",
              "fail-mode=secure", "other-config:disable-in-band=true")
        ids = {
            "system-id": name,
            "hostname": name,
            "ovn-remote": sb,
            "ovn-encap-type": "geneve",
            "ovn-encap-ip": encap_ip,
            "ovn-bridge-datapath-type": "netdev",
            "ovn-is-interconn": "true" if interconn else "false",
        }
        vsctl("set", "Open_vSwitch", ".", *(f"external_ids:{k}={v}" for k, v in ids.items()))
        controller = self._daemon(f"{name}-controller", "ovn-controller", netns, rundir, env,
                                  [ovsdb.remote])
        chassis = Chassis(name=name, az=az, netns=netns, encap_ip=encap_ip, ovsdb=ovsdb,
                          vswitchd=vswitchd, controller=controller, rundir=rundir)
        self.chassis[name] = chassis

        def registered() -> bool:
            rows = query(sb, "OVN_Southbound", {"Chassis": ["name", "encaps"]},
                         where={"Chassis": [["name", "==", name]]})["Chassis"]
            return bool(rows)

        self._wait(registered, f"chassis {name} in {az}'s SB", chassis)
        return chassis

    def _daemon(self, name: str, kind: str, netns: str, rundir: Path,
                env: dict[str, str], args: Sequence[str]) -> Daemon:
        binary = require_binaries(kind)[kind]
        log, pid = rundir / f"{kind}.log", rundir / f"{kind}.pid"
        # ovn-controller 23.03 has no --unixctl: its socket is $OVN_RUNDIR/NAME.PID.ctl.
        ctl = rundir / f"{kind}.ctl" if kind == "ovs-vswitchd" else None
        daemon = Daemon(
            self._sandbox, name=name, kind=kind,
            argv=[require_binaries("ip")["ip"], "netns", "exec", netns, binary, *args,
                  *([f"--unixctl={ctl}"] if ctl is not None else []),
                  f"--log-file={log}", f"--pidfile={pid}"],
            ctl_path=ctl, log_path=log, pid_path=pid, env=env,
        )
        _register(self._sandbox, daemon)
        self._daemons.append(daemon)
        daemon._start(self.start_timeout)
        return daemon

    def _wait_link(self, netns: str, ifname: str) -> None:
        def present() -> bool:
            try:
                _ip("-n", netns, "link", "show", ifname)
            except SandboxError:
                return False
            return True

        wait_for(present, timeout=self.start_timeout, what=f"{ifname} in {netns}")

    def _wait(self, condition: Callable[[], bool], what: str, chassis: Chassis) -> None:
        try:
            wait_for(condition, timeout=self.start_timeout, what=what)
        except SandboxError as exc:
            raise SandboxError(
                f"{exc}\n{chassis.vswitchd.log_tail(15)}\n{chassis.controller.log_tail(15)}"
            ) from exc

    # -- pods ----------------------------------------------------------------------

    def add_pod(self, name: str, *, chassis: str, mac: str, ip: str, gateway: str,
                sb: str | None = None) -> Pod:
        """Plug a Pod for logical switch port *name* into *chassis*' ``br-int``.

        *ip* is ``address/prefixlen``; *gateway* the default route's next hop (the
        subnet's router port address). With *sb* (the AZ's SB remote), returns once
        ``ovn-controller`` has bound the port there.
        """
        if name in self.pods:
            raise SandboxError(f"a Pod named {name!r} already exists")
        try:
            host = self.chassis[chassis]
        except KeyError:
            raise SandboxError(f"no chassis {chassis!r} in {list(self.chassis)}") from None
        interface = ipaddress.ip_interface(ip)
        index = len(self.pods) + 1
        netns = f"{self._token}-p{index}"
        tap = f"pod{index}"
        if len(tap) > _IFNAME_MAX:
            raise SandboxError(f"interface name {tap!r} is too long")
        if sb is not None:  # plug once ovn-northd made the binding, as a CNI would
            self._wait(functools.partial(_port_binding_is, sb, name, bound=False),
                       f"{name}'s SB port binding (made by ovn-northd)", host)
        self._add_netns(netns)
        host.vsctl("add-port", "br-int", tap, "--", "set", "Interface", tap, "type=internal",
                   f"external_ids:iface-id={name}")
        self._wait_link(host.netns, tap)
        _ip("-n", host.netns, "link", "set", tap, "netns", netns)
        _ip("-n", netns, "link", "set", tap, "address", mac)
        _ip("-n", netns, "addr", "add", str(interface), "dev", tap)
        _ip("-n", netns, "link", "set", tap, "up")
        _ip("-n", netns, "route", "add", "default", "via", gateway, "dev", tap)
        pod = Pod(name=name, netns=netns, chassis=host, ip=str(interface.ip), mac=mac)
        self.pods[name] = pod
        if sb is not None:
            self._wait(functools.partial(_port_binding_is, sb, name, bound=True),
                       f"{name} bound to {chassis}", host)
            # ovn-controller 23.03 may claim the port and never install the flows of
            # its switch when that switch's datapath got a tunnel key another datapath
            # just gave up; that is what happens to a switch made after an IC agent moved
            # the transit switches to their IC keys (seen in one demo run in four). A
            # full recompute installs them.
            host.controller_appctl("recompute")
        return pod

    def links(self) -> dict[str, list[str]]:
        """The interfaces in each namespace of the dataplane (for leak checks and docs)."""
        return {netns: _link_names(netns) for netns in self.namespaces}


# --------------------------------------------------------------------------------------
# Northbound helpers: a Kube-OVN subnet and a Pod's port
# --------------------------------------------------------------------------------------


def add_subnet(nb: str, *, router: str, switch: str, gateway: str, mac: str) -> None:
    """A Kube-OVN subnet in NB *nb*: logical switch *switch* joined to *router* by the
    router port ``<router>-<switch>`` (MAC *mac*, address *gateway*, e.g.
    ``10.16.0.1/16``) and its peer ``<switch>-<router>``, as Kube-OVN names them."""
    lrp, lsp = f"{router}-{switch}", f"{switch}-{router}"
    ovn_nbctl(nb, "--may-exist", "lrp-add", router, lrp, mac, gateway)
    ovn_nbctl(nb, "--may-exist", "ls-add", switch)
    ovn_nbctl(nb, "--may-exist", "lsp-add", switch, lsp, "--", "lsp-set-type", lsp, "router",
              "--", "lsp-set-addresses", lsp, "router",
              "--", "lsp-set-options", lsp, f"router-port={lrp}")


def add_pod_port(nb: str, *, switch: str, name: str, mac: str, ip: str) -> None:
    """The logical switch port of a Pod: *name* on *switch* with addresses ``MAC IP``."""
    address = str(ipaddress.ip_interface(ip).ip)
    ovn_nbctl(nb, "--may-exist", "lsp-add", switch, name,
              "--", "lsp-set-addresses", name, f"{mac} {address}")
