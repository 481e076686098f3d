"""Integration tests of ovsdb_ic.testing: real ovsdb-server processes, never mocks.

These tests fail (they are never skipped) when the OVS binaries are missing.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from ovsdb_ic.errors import SandboxError
from ovsdb_ic.testing import (
    DEBIAN_PACKAGES,
    Cluster,
    ClusterStatus,
    IcDeployment,
    Sandbox,
    Server,
    require_binaries,
    schema_database_name,
    schema_path,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def rpc(remote: str, method: str, params: list[Any], *, timeout: float = 5.0) -> Any:
    """One JSON-RPC request over a raw socket; returns the reply's result."""
    kind, _, address = remote.partition(":")
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address)
    elif kind == "tcp":
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    else:
        raise AssertionError(f"unexpected remote {remote}")
    with sock:
        sock.sendall(json.dumps({"method": method, "params": params, "id": 7}).encode())
        decoder = json.JSONDecoder()
        buffer = ""
        while True:
            chunk = sock.recv(65536)
            assert chunk, f"{remote} closed the connection"
            buffer += chunk.decode()
            try:
                message, _ = decoder.raw_decode(buffer)
            except ValueError:
                continue
            assert message["id"] == 7, message
            assert message["error"] is None, message
            return message["result"]


def alive(pid: int) -> bool:
    """Whether *pid* exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def wait_until_dead(pids: list[int], timeout: float = 5.0) -> list[int]:
    """Wait until every pid is gone; return the ones still alive after *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def servers_using(directory: str | Path) -> list[int]:
    """Pids of live ovsdb-server processes whose command line mentions *directory*."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        mentions = str(directory).encode() in b" ".join(argv)
        if argv[0].endswith(b"ovsdb-server") and mentions and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def env_with_repo() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


# --------------------------------------------------------------------------------------
# binaries and schemas
# --------------------------------------------------------------------------------------


def test_require_binaries_finds_the_sandbox_binaries() -> None:
    found = require_binaries()
    assert set(found) == {"ovsdb-server", "ovsdb-tool", "ovs-appctl"}
    for path in found.values():
        assert os.path.isabs(path) and os.access(path, os.X_OK)


def test_require_binaries_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A PATH holding everything but ovsdb-tool.
    for name in ("ovsdb-server", "ovs-appctl"):
        (tmp_path / name).symlink_to(require_binaries(name)[name])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError) as info:
        require_binaries()
    message = str(info.value)
    assert "ovsdb-tool" in message
    assert "ovs-appctl" not in message.split("searched")[0]
    assert "openvswitch-common" in message
    assert f"apt-get install {' '.join(DEBIAN_PACKAGES)}" in message
    # The sandbox refuses to start rather than skip.
    with pytest.raises(SandboxError, match="ovsdb-tool"):
        Sandbox()

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SandboxError, match=r"ovsdb-tool .*ovs-appctl"):
        require_binaries()
    with pytest.raises(SandboxError, match="no-such-ovn-binary"):
        require_binaries("no-such-ovn-binary")


@pytest.mark.parametrize(
    ("name", "database"),
    [
        ("ic-nb", "OVN_IC_Northbound"),
        ("ic-sb", "OVN_IC_Southbound"),
        ("nb", "OVN_Northbound"),
        ("sb", "OVN_Southbound"),
        ("OVN_IC_Southbound", "OVN_IC_Southbound"),
        ("ovn-ic-nb.ovsschema", "OVN_IC_Northbound"),
    ],
)
def test_schema_path_resolves_names(name: str, database: str) -> None:
    path = schema_path(name)
    assert path.is_file()
    assert path.parent == REPO / "schemas"
    assert schema_database_name(path) == database


def test_schema_path_rejects_unknown_names() -> None:
    with pytest.raises(SandboxError, match="unknown schema"):
        schema_path("vswitch")


def test_cluster_status_parse() -> None:
    text = textwrap.dedent(
        """\
        fc17
        Name: OVN_IC_Southbound
        Cluster ID: 02d6 (02d68d19-ba44-4db5-9057-49e30fb30e88)
        Server ID: fc17 (fc173e2f-1fa1-4550-abac-be0f207482a9)
        Address: tcp:127.0.0.1:16642
        Status: cluster member
        Role: follower
        Term: 2
        Leader: dafe
        Vote: unknown

        Election timer: 1000
        Log: [2, 6]
        Entries not yet committed: 0
        Entries not yet applied: 0
        Connections: ->0000 <-dafe <-4cef ->4cef
        Disconnections: 0
        Servers:
            dafe (dafe at tcp:127.0.0.1:16641) last msg 329 ms ago
            4cef (4cef at tcp:127.0.0.1:16643)
            fc17 (fc17 at tcp:127.0.0.1:16642) (self)
        """
    )
    status = ClusterStatus.parse(text)
    assert status.database == "OVN_IC_Southbound"
    assert status.cluster_id == "02d68d19-ba44-4db5-9057-49e30fb30e88"
    assert status.server_id == "fc173e2f-1fa1-4550-abac-be0f207482a9"
    assert status.short_id == "fc17"
    assert status.address == "tcp:127.0.0.1:16642"
    assert (status.status, status.role, status.term) == ("cluster member", "follower", 2)
    assert status.leader == "dafe" and status.vote is None and not status.is_leader
    assert status.election_timer_ms == 1000
    assert status.connections == ("->0000", "<-dafe", "<-4cef", "->4cef")
    assert status.servers == ("dafe", "4cef", "fc17")

    leader = ClusterStatus.parse(
        text.replace("Role: follower", "Role: leader")
        .replace("Leader: dafe", "Leader: self")
        .replace("Vote: unknown", "Vote: self")
    )
    assert leader.is_leader and leader.leader == "fc17" and leader.vote == "fc17"

    with pytest.raises(SandboxError, match="Server ID"):
        ClusterStatus.parse("Name: OVN_IC_Southbound\n")


# --------------------------------------------------------------------------------------
# standalone servers
# --------------------------------------------------------------------------------------


def test_standalone_server_answers_list_dbs_over_unix_and_tcp(sandbox: Sandbox) -> None:
    server = sandbox.start_server(schema_path("ic-sb"), name="icsb", tcp=True)
    assert server.database == "OVN_IC_Southbound"
    assert server.unix_remote == f"unix:{sandbox.path / 'icsb.sock'}"
    assert server.tcp_remote is not None
    assert re.fullmatch(r"tcp:127\.0\.0\.1:\d+", server.tcp_remote)
    assert server.remote == server.unix_remote
    assert server.remotes == [server.unix_remote, server.tcp_remote]
    assert server.running and not server.stopped and alive(server.pid)
    assert server.db_path.is_file() and server.log_path.is_file()

    for remote in server.remotes:
        assert sorted(rpc(remote, "list_dbs", [])) == ["OVN_IC_Southbound", "_Server"]
    assert "OVN_IC_Southbound" in server.appctl("ovsdb-server/list-dbs").split()


def test_standalone_fixtures(ic_nb_server: Server, ic_sb_server: Server, sandbox: Sandbox) -> None:
    assert sandbox.servers == [ic_nb_server, ic_sb_server]
    for server, database in (
        (ic_nb_server, "OVN_IC_Northbound"),
        (ic_sb_server, "OVN_IC_Southbound"),
    ):
        assert server.database == database
        assert len(server.remotes) == 2
        assert database in rpc(server.tcp_remote or "", "list_dbs", [])


def test_unix_only_and_tcp_only_servers(sandbox: Sandbox) -> None:
    unix_only = sandbox.start_server("ic-nb", name="unix-only")
    assert unix_only.tcp_remote is None and unix_only.tcp_port is None
    assert unix_only.remotes == [unix_only.remote] and unix_only.remote.startswith("unix:")
    tcp_only = sandbox.start_server("nb", name="tcp-only", unix=False, tcp=True)
    assert tcp_only.unix_remote is None and tcp_only.remote == tcp_only.tcp_remote
    assert sorted(rpc(tcp_only.remote, "list_dbs", [])) == ["OVN_Northbound", "_Server"]
    with pytest.raises(SandboxError, match="already exists"):
        sandbox.start_server("nb", name="tcp-only", tcp=True)
    with pytest.raises(SandboxError, match="at least one"):
        sandbox.start_server("nb", name="nothing", unix=False, tcp=False)


def test_restart_keeps_data_and_ports(sandbox: Sandbox) -> None:
    server = sandbox.start_server("ic-nb", name="icnb", tcp=True)
    tcp_remote, unix_remote, old_pid = server.tcp_remote, server.unix_remote, server.pid
    insert = {"op": "insert", "table": "Transit_Switch", "row": {"name": "ts1"}}
    result = rpc(server.remote, "transact", ["OVN_IC_Northbound", insert])
    assert "uuid" in result[0], result

    server.kill()
    assert not server.running and not alive(old_pid)
    assert server.returncode == -signal.SIGKILL
    server.restart()
    assert server.running and server.pid != old_pid
    assert (server.tcp_remote, server.unix_remote) == (tcp_remote, unix_remote)
    select = {"op": "select", "table": "Transit_Switch", "where": [], "columns": ["name"]}
    for remote in server.remotes:
        assert rpc(remote, "transact", ["OVN_IC_Northbound", select]) == [
            {"rows": [{"name": "ts1"}]}
        ]

    # restart() of a running server terminates it first.
    pid = server.pid
    server.restart()
    assert server.pid != pid and not alive(pid) and server.running


def test_failed_start_reports_the_log_tail(sandbox: Sandbox) -> None:
    server = sandbox.start_server("ic-sb", name="broken")
    server.terminate()
    assert not server.running
    server.db_path.write_text("this is not an OVSDB file\n")
    with pytest.raises(SandboxError) as info:
        server.restart(timeout=5.0)
    message = str(info.value)
    assert "broken" in message and "exited with status" in message
    assert "--- broken" in message  # the log / output tail is included
    assert "not an OVSDB file" in message or "syntax error" in message or "ovsdb" in message


def test_stop_and_cont_standalone(sandbox: Sandbox) -> None:
    server = sandbox.start_server("ic-sb", name="icsb")
    server.stop()
    assert server.stopped and server.running
    assert Path(f"/proc/{server.pid}/stat").read_text().split(") ")[1][0] in "Tt"
    with pytest.raises(SandboxError, match="SIGSTOP"):
        server.appctl("version")
    server.cont()
    assert not server.stopped
    assert "ovsdb-server" in server.appctl("version")


# --------------------------------------------------------------------------------------
# clusters
# --------------------------------------------------------------------------------------


def _statuses(cluster: Cluster) -> dict[Server, ClusterStatus]:
    return {m: cluster.status(m) for m in cluster.reachable()}


def test_cluster_elects_one_leader_all_agree_on(ic_sb_cluster: Cluster) -> None:
    cluster = ic_sb_cluster
    assert [m.name for m in cluster.members] == [f"ic-sb-cluster-{i}" for i in (1, 2, 3)]
    assert cluster.database == "OVN_IC_Southbound"
    assert cluster.remote == ",".join(m.tcp_remote or "" for m in cluster.members)
    assert len(set(cluster.remotes)) == 3

    leader = cluster.leader()
    statuses = _statuses(cluster)
    assert [m for m, s in statuses.items() if s.is_leader] == [leader]
    assert len({s.cluster_id for s in statuses.values()}) == 1
    assert len({s.server_id for s in statuses.values()}) == 3
    assert len({s.term for s in statuses.values()}) == 1
    for member, status in statuses.items():
        assert status.status == "cluster member"
        assert status.leader == statuses[leader].short_id
        assert status.address == member.raft_address
        assert status.election_timer_ms == cluster.election_timer_ms
        assert len(status.servers) == 3
        assert sorted(rpc(member.tcp_remote or "", "list_dbs", [])) == [
            "OVN_IC_Southbound",
            "_Server",
        ]
    assert set(cluster.followers()) == set(cluster.members) - {leader}


def test_kill_leader_elects_a_new_one_and_the_old_rejoins(ic_sb_cluster: Cluster) -> None:
    cluster = ic_sb_cluster
    old = cluster.leader()
    old_term = cluster.status(old).term
    old_pid = old.pid
    old.kill()
    assert not old.running and not alive(old_pid)

    new = cluster.wait_for_leader()
    assert new is not old and new in cluster.members
    assert cluster.status(new).term > old_term
    assert set(cluster.reachable()) == set(cluster.members) - {old}

    old.restart()
    assert old.pid != old_pid
    leader = cluster.wait_for_leader()
    rejoined = cluster.status(old)
    assert rejoined.role == "follower" and rejoined.status == "cluster member"
    assert rejoined.leader == cluster.status(leader).short_id
    assert leader is not old


def test_sigstopped_leader_is_replaced_and_steps_down_after_sigcont(
    ic_sb_cluster: Cluster,
) -> None:
    cluster = ic_sb_cluster
    old = cluster.leader()
    old_term = cluster.status(old).term
    old.stop()
    try:
        assert old.stopped and old not in cluster.reachable()
        with pytest.raises(SandboxError, match="SIGSTOP"):
            cluster.status(old)
        started = time.monotonic()
        new = cluster.wait_for_leader()
        assert time.monotonic() - started < 10
        assert new is not old
        assert cluster.status(new).term > old_term
    finally:
        old.cont()
    leader = cluster.wait_for_leader()
    assert leader is not old
    assert cluster.status(old).role == "follower"


def test_transfer_leadership(ic_sb_cluster: Cluster) -> None:
    cluster = ic_sb_cluster
    old = cluster.leader()
    new = cluster.transfer_leadership()
    assert new is not old
    assert cluster.leader() is new
    assert cluster.status(old).role == "follower"
    assert all(m.running and not m.stopped for m in cluster.members)


def test_wait_for_leader_gives_up_without_a_quorum(sandbox: Sandbox) -> None:
    cluster = sandbox.start_cluster("ic-sb", name="small", size=3)
    leader = cluster.leader()
    survivor = next(m for m in cluster.members if m is not leader)
    for member in cluster.members:
        if member is not survivor:
            member.kill()
    # One member of three has no quorum: it can never become an agreed leader.
    started = time.monotonic()
    with pytest.raises(SandboxError, match="no leader agreed") as info:
        cluster.wait_for_leader(timeout=1.5)
    assert time.monotonic() - started < 6
    assert survivor.name in str(info.value)
    with pytest.raises(SandboxError, match="no reachable member"):
        cluster.wait_for_leader(exclude=survivor)


# --------------------------------------------------------------------------------------
# cleanup
# --------------------------------------------------------------------------------------


def test_everything_is_gone_after_the_context_exits() -> None:
    with Sandbox() as box:
        directory = box.path
        standalone = box.start_server("ic-nb", name="icnb", tcp=True)
        cluster = box.start_cluster("ic-sb", name="icsb", size=1)
        cluster.members[0].stop()  # a stopped process must be cleaned up too
        pids = [s.pid for s in box.servers]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        assert standalone.unix_path is not None and standalone.unix_path.exists()
    assert box.closed
    assert wait_until_dead(pids, timeout=0) == []
    assert not directory.exists()
    with pytest.raises(SandboxError, match="closed"):
        box.start_server("ic-nb", name="late")
    box.close()  # idempotent


def test_everything_is_gone_when_the_body_raises() -> None:
    class Boom(Exception):
        pass

    pids: list[int] = []
    directory: Path | None = None
    with pytest.raises(Boom), Sandbox() as box:
        directory = box.path
        box.start_server("ic-sb", name="a")
        box.start_cluster("ic-sb", name="c", size=2)
        pids = [s.pid for s in box.servers]
        raise Boom()
    assert len(pids) == 3
    assert wait_until_dead(pids, timeout=0) == []
    assert directory is not None and not directory.exists()


def test_given_directory_is_kept_but_emptied(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("not the sandbox's")
    box = Sandbox(tmp_path)
    server = box.start_server("sb", name="sb", tcp=True)
    cluster = box.start_cluster("ic-sb", name="c", size=1)
    pids = [server.pid, cluster.members[0].pid]
    assert (tmp_path / "sb.db").exists() and (tmp_path / "c-1.db").exists()
    box.close()
    assert wait_until_dead(pids, timeout=0) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_keep_leaves_the_files_for_debugging(tmp_path: Path) -> None:
    with Sandbox(tmp_path / "kept", keep=True) as box:
        server = box.start_server("ic-nb", name="icnb")
    assert not alive(server.pid)
    assert server.log_path.is_file() and server.db_path.is_file()


def test_servers_die_with_a_sigkilled_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, signal, sys
        from ovsdb_ic.testing import Sandbox
        box = Sandbox()
        box.start_server("ic-nb", name="orphan")
        box.start_cluster("ic-sb", name="c", size=1)
        print(box.path, *[s.pid for s in box.servers], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env_with_repo(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    directory, *pids = done.stdout.split()
    try:
        assert wait_until_dead([int(p) for p in pids]) == []
    finally:
        subprocess.run(["rm", "-rf", directory], check=True)


# --------------------------------------------------------------------------------------
# deployment and demo
# --------------------------------------------------------------------------------------


def test_ic_deployment(ic_deployment: IcDeployment) -> None:
    components = {c.component: c for c in ic_deployment.components()}
    assert list(components) == [
        "ic-nb",
        "ic-sb-1",
        "ic-sb-2",
        "ic-sb-3",
        "az1-nb",
        "az1-sb",
        "az2-nb",
        "az2-sb",
    ]
    assert components["ic-nb"].database == "OVN_IC_Northbound"
    assert components["az2-sb"].database == "OVN_Southbound"
    roles = sorted(components[f"ic-sb-{i}"].role for i in (1, 2, 3))
    assert roles == ["follower", "follower", "leader"]
    leader = ic_deployment.ic_sb_leader()
    assert components[leader.name].role == "leader"
    assert components[leader.name].pid == leader.pid
    for server in ic_deployment.servers():
        for remote in server.remotes:
            assert server.database in rpc(remote, "list_dbs", [])
    assert set(ic_deployment.azs) == {"az1", "az2"}
    assert ic_deployment.azs["az1"].nb.database == "OVN_Northbound"
    description = ic_deployment.describe()
    assert f"IC-SB leader: {leader.name}" in description
    assert ic_deployment.ic_sb.remote in description


_ROW = re.compile(r"^(\S+)\s+(OVN_\w+)\s+(\d+)\s+(\w+)\s+(.+)$", re.MULTILINE)


def _demo_pids(output: str) -> dict[str, int]:
    return {m.group(1): int(m.group(3)) for m in _ROW.finditer(output)}


def test_demo_once() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ovsdb_ic", "demo", "--databases-only", "--once"],
        env=env_with_repo(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    pids = _demo_pids(done.stdout)
    assert len(pids) == 8, done.stdout
    leader = re.search(r"^IC-SB leader: (ic-sb-\d) \(pid (\d+)", done.stdout, re.MULTILINE)
    assert leader is not None, done.stdout
    assert pids[leader.group(1)] == int(leader.group(2))
    assert re.search(
        rf"^{leader.group(1)}\s+OVN_IC_Southbound\s+\d+\s+leader\s", done.stdout, re.MULTILINE
    )
    assert wait_until_dead(list(pids.values()), timeout=0) == []
    directory = re.search(r"databases in (\S+) \.\.\.", done.stdout)
    assert directory is not None and not Path(directory.group(1)).exists()
    assert servers_using(directory.group(1)) == []


class DemoProcess:
    """``python -m ovsdb_ic demo ARGS`` in the background, with bounded output reads."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ovsdb_ic", "demo", *args],
            env=env_with_repo(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out = b""

    def read_until(self, needle: str, timeout: float = 30.0) -> str:
        """Read stdout until it contains *needle*; return everything read so far."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while needle.encode() not in self.out:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {needle!r} in demo output: {self.out.decode()}"
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 65536)
                assert chunk, f"demo exited before printing {needle!r}: {self.out.decode()}"
                self.out += chunk
        return self.out.decode()

    def finish(self, signum: int | None = None) -> tuple[int, str, str]:
        """Send *signum* (if any), wait, and return (status, all stdout, stderr)."""
        try:
            if signum is not None:
                self.proc.send_signal(signum)
            out, err = self.proc.communicate(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode, (self.out + out).decode(), err.decode()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_demo_stops_cleanly_on_signal(signum: signal.Signals) -> None:
    demo = DemoProcess("--databases-only", "--azs", "1", "--ic-sb-size", "1")
    try:
        pids = _demo_pids(demo.read_until("Press Ctrl-C"))
        assert len(pids) == 4 and all(alive(p) for p in pids.values())
    finally:
        status, out, err = demo.finish(signum)
    assert status == 0, err
    assert "Traceback" not in err
    assert f"{signum.name} received, stopping" in out
    assert "All servers stopped." in out
    assert wait_until_dead(list(pids.values()), timeout=0) == []


def test_demo_reports_ic_sb_failover_and_keeps_running() -> None:
    demo = DemoProcess("--databases-only", "--azs", "1")
    try:
        output = demo.read_until("Press Ctrl-C")
        pids = _demo_pids(output)
        leader = re.search(r"^IC-SB leader: (\S+) \(pid (\d+)", output, re.MULTILINE)
        assert leader is not None, output
        os.kill(int(leader.group(2)), signal.SIGKILL)
        output = demo.read_until("IC-SB leader is now")
        new = re.search(r"IC-SB leader is now (ic-sb-\d) \(pid (\d+)\)", output)
        assert new is not None and new.group(1) != leader.group(1)
        assert pids[new.group(1)] == int(new.group(2))
        assert f"{leader.group(1)} (pid {leader.group(2)}) exited with status -9" in output
        assert demo.proc.poll() is None
    finally:
        status, out, err = demo.finish(signal.SIGINT)
    assert status == 0, err
    assert "Traceback" not in err
    assert "All servers stopped." in out
    assert wait_until_dead(list(pids.values()), timeout=0) == []


def test_demo_interrupted_during_startup_leaves_nothing_behind() -> None:
    demo = DemoProcess("--databases-only")
    try:
        first = demo.read_until("...")
        match = re.search(r"databases in (\S+) \.\.\.", first)
        assert match is not None, first
        time.sleep(0.05)  # somewhere in the middle of starting the servers
    finally:
        status, out, err = demo.finish(signal.SIGINT)
    # 130 if the signal landed during startup, 0 if the demo was already up.
    assert status in (0, 130), err
    assert "Traceback" not in err
    assert "SIGINT received, stopping" in out
    assert servers_using(match.group(1)) == []
    assert not Path(match.group(1)).exists()


def test_cli_reports_missing_binaries_without_traceback(tmp_path: Path) -> None:
    env = env_with_repo()
    env["PATH"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "ovsdb_ic", "demo", "--databases-only", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "ovsdb-tool" in done.stderr and "apt-get install" in done.stderr
