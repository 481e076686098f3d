"""``ovsdb-ic icdb``: IC databases deployed the Kube-OVN way, on real ovsdb-servers.

Three loopback addresses (127.0.0.11, .12, .13: all of 127.0.0.0/8 is local) play three
nodes with the default ports (IC-NB 6645, IC-SB 6646, Raft 6647 and 6648), one member
directory each. What the members serve is read back with the C tools
(``ovn-ic-sbctl``, ``ovn-ic-nbctl``) and with ``ovsdb-ic show``. Every test cleans its
members (no process, no file) also when it fails.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ovsdb_ic.cli.icdb import find_tools
from ovsdb_ic.kubeovn import icdb
from ovsdb_ic.kubeovn.icdb import IcDbConfigError, IcDbMember, IcDbSsl, IcDbTools
from ovsdb_ic.testing import make_test_pki

pytestmark = pytest.mark.integration

IPS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
SB_REMOTES = ",".join(f"tcp:{ip}:6646" for ip in IPS)
NB_REMOTES = ",".join(f"tcp:{ip}:6645" for ip in IPS)


@pytest.fixture
def tools() -> IcDbTools:
    """The tools as the ``ovsdb-ic icdb`` command finds them (the sandbox's lookup)."""
    return find_tools()


def ic(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    """Run ``ovsdb-ic ARGS`` in a subprocess."""
    out = subprocess.run([sys.executable, "-m", "ovsdb_ic", *args], capture_output=True,
                         text=True, timeout=120, check=False)
    if check is not None:
        assert out.returncode == check, (args, out.stdout, out.stderr)
    return out


@pytest.fixture
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A short directory for the members (unix socket paths must stay short)."""
    path = Path(tmp_path_factory.mktemp("icdb"))
    yield path


def _kill_leftovers(member: IcDbMember) -> None:
    for pidfile in member.db_dir.glob("*.pid"):
        text = pidfile.read_text().strip()
        if text.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(text), signal.SIGKILL)


@pytest.fixture
def members(root: Path, tools: IcDbTools) -> Iterator[list[IcDbMember]]:
    made = [IcDbMember(root / ip, local_ip=ip, node_ips=IPS, election_timer_ms=1000)
            for ip in IPS]
    try:
        yield made
    finally:
        for m in made:
            try:
                icdb.clean(m, tools)
            finally:
                _kill_leftovers(m)


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for this container's init does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def ctl(program: str, remotes: str, *args: str) -> str:
    out = subprocess.run([program, f"--db={remotes}", "--timeout=20", *args],
                         capture_output=True, text=True, check=False, timeout=30)
    assert out.returncode == 0, (program, args, out.stderr)
    return out.stdout


def leader_of(members: list[IcDbMember], tools: IcDbTools, which: int) -> IcDbMember:
    for m in members:
        st = icdb.status(m, tools)[which]
        if st.running and st.role == "leader":
            return m
    raise AssertionError("no leader")


def wait_cluster(members: list[IcDbMember], tools: IcDbTools, size: int = 3) -> None:
    """Wait until each database has a leader among ``members`` and every running one is
    a cluster member seeing ``size`` servers."""
    deadline = time.monotonic() + 30
    while True:
        states = [icdb.status(m, tools) for m in members]
        running = [st for pair in states for st in pair if st.running]
        if (all(st.status == "cluster member" and len(st.members) == size for st in running)
                and all(any(pair[i].role == "leader" for pair in states) for i in (0, 1))):
            return
        assert time.monotonic() < deadline, [st.lines() for st in running]
        time.sleep(0.2)


def test_bad_input_is_refused_before_anything_is_touched(root: Path, tools: IcDbTools) -> None:
    with pytest.raises(IcDbConfigError) as info:
        IcDbMember(root / "x", local_ip="127.0.0.14", node_ips="127.0.0.11,127.0.0.12",
                   leader_ip="127.0.0.15", nb_port=0)
    text = str(info.value)
    assert "--local-ip: is not one of --node-ips 127.0.0.11,127.0.0.12" in text
    assert "--node-ips: a Raft cluster needs at least 3 nodes, not 2" in text
    assert "--leader-ip: is not one of --node-ips" in text
    assert "--nb-port: must be a port from 1 to 65535" in text
    with pytest.raises(IcDbConfigError, match="needs --local-ip"):
        IcDbMember(root / "x", node_ips=IPS)
    with pytest.raises(IcDbConfigError, match="too long"):
        IcDbMember(root / ("d" * 120))
    # A port in use: refused, and no file or directory is created.
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.14", 6646))
        busy.listen()
        member = IcDbMember(root / "busy", listen="127.0.0.14")
        with pytest.raises(IcDbConfigError) as info:
            icdb.start(member, tools)
        assert "--sb-port: port 6646 on 127.0.0.14 is already in use" in str(info.value)
        assert not member.db_dir.exists()
    member = IcDbMember(root / "other", local_ip="10.255.255.254",
                        node_ips=["10.255.255.254", "10.255.255.253", "10.255.255.252"])
    with pytest.raises(IcDbConfigError, match="is not an address of this machine"):
        icdb.start(member, tools)
    assert not member.db_dir.exists()


def test_single_node_start_stop_clean(root: Path, tools: IcDbTools) -> None:
    member = IcDbMember(root / "single", listen="127.0.0.14")
    try:
        lines: list[str] = []
        result = icdb.start(member, tools, report=lines.append)
        assert result.started == ("IC-NB", "IC-SB")
        assert result.transit_switches == ("ts", "ts1", "ts2")
        nb, sb = icdb.status(member, tools)
        assert nb.role == sb.role == "standalone" and nb.running and sb.running
        ts = ctl("ovn-ic-nbctl", "tcp:127.0.0.14:6645", "--format=csv",
                 "--columns=name,external_ids", "list", "Transit_Switch")
        assert 'ts1,"{subnet=""169.254.101.0/24"", vendor=kube-ovn}"' in ts
        # Idempotent: a second start is a no-op that says so.
        again = icdb.start(member, tools, report=lines.append)
        assert again.started == () and again.already_running == ("IC-NB", "IC-SB")
        assert again.transit_switches == ()
        assert "IC-NB: already running" in "\n".join(lines)
        # Stopped and started again: the same data.
        assert icdb.stop(member, tools) == ["IC-NB", "IC-SB"]
        assert not any(st.running for st in icdb.status(member, tools))
        assert icdb.start(member, tools).started == ("IC-NB", "IC-SB")
        assert sorted(ctl("ovn-ic-nbctl", "tcp:127.0.0.14:6645", "--bare", "--columns=name",
                          "list", "Transit_Switch").split()) == ["ts", "ts1", "ts2"]
    finally:
        icdb.clean(member, tools)
        _kill_leftovers(member)
    assert not member.db_dir.exists()


def test_three_node_raft_cluster(members: list[IcDbMember], tools: IcDbTools) -> None:
    reports: list[str] = []
    for m in members:
        icdb.start(m, tools, report=reports.append)
    wait_cluster(members, tools)
    text = "\n".join(reports)
    assert "IC-NB: created a new cluster at tcp:127.0.0.11:6647" in text
    assert "IC-SB: joining the cluster through tcp:127.0.0.11:6648" in text
    assert "transit switches: created ts, ts1, ts2" in text
    assert text.count("transit switches: created") == 1  # once, from the leader

    # Both the C tools and ovsdb-ic read the cluster through every node's address.
    # (ovn-ic-sbctl gives up when the first remote it tries is a follower: writes go to
    # the leader, reads accept any member.)
    sb_leader = f"tcp:{leader_of(members, tools, 1).local_ip}:6646"
    ctl("ovn-ic-sbctl", sb_leader, "--", "--id=@az", "create", "Availability_Zone", "name=az1")
    assert ctl("ovn-ic-sbctl", SB_REMOTES, "--no-leader-only", "show") == (
        "availability-zone az1\n")
    shown = subprocess.run([sys.executable, "-m", "ovsdb_ic", "show", f"--ic-sb-db={SB_REMOTES}"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "availability-zone az1\n"
    assert "ts2" in ctl("ovn-ic-nbctl", NB_REMOTES, "--no-leader-only", "show")

    # The leader killed: the other two go on, and the killed member rejoins from its files.
    leader = leader_of(members, tools, 1)
    pids = [st.pid for st in icdb.status(leader, tools)]
    for pid in pids:
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    rest = [m for m in members if m is not leader]
    wait_cluster(rest, tools)  # a new leader among the other two
    sb_leader = f"tcp:{leader_of(rest, tools, 1).local_ip}:6646"
    ctl("ovn-ic-sbctl", sb_leader, "--", "--id=@az", "create", "Availability_Zone", "name=az2")
    # ovsdb-ic's failover client is given every node, the dead one included.
    shown = subprocess.run([sys.executable, "-m", "ovsdb_ic", "show", f"--ic-sb-db={SB_REMOTES}"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert shown.stdout == "availability-zone az1\navailability-zone az2\n", shown.stderr
    result = icdb.start(leader, tools, report=reports.append)
    assert result.started == ("IC-NB", "IC-SB") and result.transit_switches == ()
    assert f"IC-SB: using the existing database {leader.db_dir.absolute()}" in "\n".join(reports)
    wait_cluster(members, tools)

    # A member whose directory is wiped joins again; its old entry is kicked out.
    wiped = members[2]
    icdb.clean(wiped, tools)
    assert not wiped.db_dir.exists()
    reports.clear()
    icdb.start(wiped, tools, report=reports.append)
    assert "IC-SB: removed the stale member" in "\n".join(reports)
    wait_cluster(members, tools)
    _nb, sb = icdb.status(wiped, tools)
    assert sb.status == "cluster member" and len(sb.members) == 3
    assert "availability-zone az2" in ctl("ovn-ic-sbctl", f"tcp:{IPS[2]}:6646",
                                          "--no-leader-only", "show")

    # Clean every member: no process and no file left.
    pids = [st.pid for m in members for st in icdb.status(m, tools)]
    for m in members:
        icdb.clean(m, tools)
    for pid in pids:
        assert pid is not None and not running(pid)
    assert all(not m.db_dir.exists() for m in members)
    assert not any(members[0].db_dir.parent.iterdir())


def test_the_command_line(members: list[IcDbMember], tools: IcDbTools) -> None:
    """Three ``ovsdb-ic icdb start`` calls form the clusters; ``status`` shows them; a
    second start is a no-op; bad input exits 2 naming every problem; ``clean`` leaves
    nothing."""
    nodes = ",".join(IPS)
    for m in members:
        out = ic("icdb", "start", f"--db-dir={m.db_dir}", f"--local-ip={m.local_ip}",
                 f"--node-ips={nodes}", "--election-timer=1000")
        assert "IC-SB: ovsdb-server running" in out.stderr
    wait_cluster(members, tools)
    out = ic("icdb", "status", f"--db-dir={members[1].db_dir}", f"--local-ip={IPS[1]}",
             f"--node-ips={nodes}")
    assert "IC-SB (OVN_IC_Southbound): running" in out.stdout
    assert out.stdout.count("  member ") == 6 and "(self)" in out.stdout
    again = ic("icdb", "start", f"--db-dir={members[1].db_dir}", f"--local-ip={IPS[1]}",
               f"--node-ips={nodes}")
    assert "IC-NB: already running" in again.stderr
    assert ic("show", f"--ic-sb-db={SB_REMOTES}").stdout == ""
    assert sorted(ctl("ovn-ic-nbctl", NB_REMOTES, "--no-leader-only", "--bare",
                      "--columns=name", "list", "Transit_Switch").split()) == ["ts", "ts1", "ts2"]
    bad = ic("icdb", "start", f"--db-dir={members[0].db_dir}x", "--local-ip=127.0.0.19",
             "--node-ips=127.0.0.11,127.0.0.12", check=2)
    assert "--local-ip: is not one of --node-ips" in bad.stderr
    assert "--node-ips: a Raft cluster needs at least 3 nodes, not 2" in bad.stderr
    assert not Path(f"{members[0].db_dir}x").exists()
    for m in members:
        ic("icdb", "clean", f"--db-dir={m.db_dir}")
    assert all(not m.db_dir.exists() for m in members)
    stopped = ic("icdb", "status", f"--db-dir={members[0].db_dir}", check=3)
    assert "IC-NB (OVN_IC_Northbound): not running" in stopped.stdout


def test_foreground(root: Path, tools: IcDbTools) -> None:
    """``icdb start --foreground`` keeps both servers as children until SIGTERM."""
    member = IcDbMember(root / "fg", listen="127.0.0.15")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ovsdb_ic", "icdb", "start", "--foreground",
         f"--db-dir={member.db_dir}", "--listen=127.0.0.15", "--ts-num=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while "ts" not in ctl_maybe("tcp:127.0.0.15:6645"):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        pids = [st.pid for st in icdb.status(member, tools)]
        assert all(pids)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "IC-NB: ovsdb-server running in the foreground" in err
        assert all(pid is not None and not running(pid) for pid in pids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        icdb.clean(member, tools)
        _kill_leftovers(member)
    assert not member.db_dir.exists()


def ctl_maybe(remote: str) -> str:
    out = subprocess.run(["ovn-ic-nbctl", f"--db={remote}", "--timeout=5", "--bare",
                          "--columns=name", "list", "Transit_Switch"],
                         capture_output=True, text=True, check=False, timeout=10)
    return out.stdout


def test_ssl_single_node(root: Path, tools: IcDbTools) -> None:
    """With key, certificate and CA the client ports are pssl: (read with ovn-ic-nbctl -p
    -c -C); the transit switches are still created (through the unix socket)."""
    server, client = make_test_pki(root / "pki")
    member = IcDbMember(root / "ssl", listen="127.0.0.16",
                        ssl=IcDbSsl(server.key, server.cert, server.ca_cert))
    try:
        assert icdb.start(member, tools, ts_num=2).transit_switches == ("ts", "ts1")
        out = subprocess.run(
            ["ovn-ic-nbctl", "--db=ssl:127.0.0.16:6645", f"--private-key={client.key}",
             f"--certificate={client.cert}", f"--ca-cert={client.ca_cert}", "--timeout=20",
             "--bare", "--columns=name", "list", "Transit_Switch"],
            capture_output=True, text=True, timeout=30, check=False)
        assert out.returncode == 0, out.stderr
        assert sorted(out.stdout.split()) == ["ts", "ts1"]
        plain = subprocess.run(["ovn-ic-nbctl", "--db=tcp:127.0.0.16:6645", "--timeout=3",
                                "show"], capture_output=True, text=True, timeout=30,
                               check=False)
        assert plain.returncode != 0  # no plain TCP
    finally:
        icdb.clean(member, tools)
        _kill_leftovers(member)
    assert not member.db_dir.exists()


def test_followers_started_before_the_first_node(
    members: list[IcDbMember], tools: IcDbTools,
) -> None:
    """Members that only try to join do not make the first node join too: it still
    creates the clusters, and the waiting members get in."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        waiting = [pool.submit(icdb.start, m, tools) for m in members[1:]]
        time.sleep(1.0)
        assert not any(f.done() for f in waiting)  # waiting for a cluster to join
        lines: list[str] = []
        icdb.start(members[0], tools, report=lines.append)
        assert "IC-SB: created a new cluster at tcp:127.0.0.11:6648" in lines
        for f in waiting:
            f.result(timeout=60)
    wait_cluster(members, tools)
