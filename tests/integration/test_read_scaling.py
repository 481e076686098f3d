"""Read scaling on a real 3-member Raft cluster: followers and relays serve monitors.

* With ``leader_only=False`` the client settles on the first remote of a fixed-order list
  even when it is a follower; its replica follows writes made through the leader, and its
  own transactions commit (the follower forwards them to the leader).
* An ``ovsdb-server`` relay (``relay:DB:<cluster remotes>``) serves the same way.
* With ``leader_only=True`` (the default) a remote list naming only followers is never
  accepted: the client keeps trying and never connects. A relay is refused at once.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from ovsdb_ic.client import connect
from ovsdb_ic.client import connection as client_connection
from ovsdb_ic.client.failover import Backoff
from ovsdb_ic.errors import ConnectError
from ovsdb_ic.testing import Cluster, Sandbox, require_binaries
from tests.failover_schema import DB, SCHEMA

pytestmark = pytest.mark.integration

FAST = Backoff(initial=0.05, maximum=0.3)


@pytest.fixture
def cluster(sandbox: Sandbox, tmp_path: Path) -> Cluster:
    path = tmp_path / "failover.ovsschema"
    path.write_text(json.dumps(SCHEMA))
    return sandbox.start_cluster(path, name="rs", size=3)


def ovsdb_client(*args: str) -> str:
    return subprocess.run(["ovsdb-client", *args], check=True, capture_output=True,
                          text=True, timeout=30).stdout


def insert_elsewhere(remote: str, writer: str, seq: int) -> str:
    """Insert one row with ``ovsdb-client transact`` (not through the client under test)."""
    op = {"op": "insert", "table": "Write", "row": {"writer": writer, "seq": seq}}
    result = json.loads(ovsdb_client("transact", remote, json.dumps([DB, op])))
    assert "error" not in result[0], result
    return str(result[0]["uuid"][1])


def dump_rows(remote: str) -> dict[str, tuple[str, int]]:
    """uuid -> (writer, seq) of every Write row, from ``ovsdb-client dump``."""
    tables = json.loads(ovsdb_client("-f", "json", "dump", remote, DB, "Write"))
    tables = tables if isinstance(tables, list) else [tables]
    rows: dict[str, tuple[str, int]] = {}
    for t in tables:
        for r in t["data"]:
            row = dict(zip(t["headings"], r, strict=True))
            rows[row["_uuid"][1]] = (row["writer"], row["seq"])
    return rows


def replica_rows(live: Any) -> dict[str, tuple[str, int]]:
    return {str(r.uuid): (r["writer"], r["seq"]) for r in live.replica.table("Write")}


async def serve_and_write(client: Any, leader_remote: str, name: str) -> None:
    """Monitor through ``client``, see writes made through the leader, write through it."""
    live = await client.replicate(["Write"])
    outside = await trio.to_thread.run_sync(insert_elsewhere, leader_remote, "outside", 1)
    with trio.fail_after(10):
        await live.wait_for(lambda r: any(str(row.uuid) == outside for row in r.table("Write")))

    results = await client.transact(
        [{"op": "insert", "table": "Write", "row": {"writer": name, "seq": 1}}]
    )
    mine = str(results[0].uuid)
    with trio.fail_after(10):
        await live.wait_for(lambda r: any(str(row.uuid) == mine for row in r.table("Write")))
    # Committed by the cluster, not just by the server we talk to: the leader has it.
    on_leader = await trio.to_thread.run_sync(dump_rows, leader_remote)
    assert on_leader[mine] == (name, 1)
    assert on_leader[outside] == ("outside", 1)

    # A few more each way, then the replica equals the leader's dump exactly.
    for seq in range(2, 6):
        await trio.to_thread.run_sync(insert_elsewhere, leader_remote, "outside", seq)
        await client.transact(
            [{"op": "insert", "table": "Write", "row": {"writer": name, "seq": seq}}]
        )
    expected = await trio.to_thread.run_sync(dump_rows, leader_remote)
    assert len(expected) == 10
    with trio.fail_after(10):
        await live.wait_for(lambda r: len(r.table("Write")) == len(expected))
    assert replica_rows(live) == expected


def test_follower_serves_monitors_and_forwards_writes(cluster: Cluster) -> None:
    leader = cluster.leader()
    follower = cluster.followers()[0]
    assert follower.tcp_remote is not None and leader.tcp_remote is not None
    # The follower first, in a fixed order: without leader_only it is kept.
    remotes = ",".join([follower.tcp_remote] + [m.tcp_remote or "" for m in cluster.members
                                                if m is not follower])

    async def main() -> None:
        async with connect(remotes, database=DB, leader_only=False, shuffle=False,
                           backoff=FAST) as client:
            assert client.stats.role == "follower"
            assert client.stats.remote == follower.tcp_remote
            assert client.server is not None and not client.server.leader
            assert client.stats.rejected == 0
            assert client.stats.cluster_id is not None
            await serve_and_write(client, leader.remote, "via-follower")
            # Still on the follower: nothing made the client move.
            assert client.stats.remote == follower.tcp_remote
            assert client.stats.connects == 1 and client.stats.reconnects == 0

    trio.run(main)


def test_leader_only_is_the_default_and_skips_the_follower(cluster: Cluster) -> None:
    leader = cluster.leader()
    follower = cluster.followers()[0]
    remotes = ",".join(m.tcp_remote or "" for m in [follower, leader])

    async def main() -> None:
        async with connect(remotes, database=DB, shuffle=False, backoff=FAST) as client:
            assert client.stats.role == "leader"
            assert client.stats.remote == leader.tcp_remote
            assert client.stats.rejected == 1

    trio.run(main)


@pytest.fixture
def recorded_clients(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every Client that ``connect()`` creates, so a test can read its stats while
    ``connect()`` is still trying (it yields nothing before the first connection)."""
    made: list[Any] = []
    real = client_connection.Client

    def record(*args: Any, **kwargs: Any) -> Any:
        c = real(*args, **kwargs)
        made.append(c)
        return c

    monkeypatch.setattr(client_connection, "Client", record)
    return made


def test_leader_only_never_accepts_a_list_of_followers(
    cluster: Cluster, recorded_clients: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    followers = cluster.followers()
    assert len(followers) == 2
    remotes = ",".join(f.tcp_remote or "" for f in followers)
    connected: list[Any] = []

    async def main() -> None:
        with trio.move_on_after(2.5) as scope:
            async with connect(remotes, database=DB, leader_only=True, backoff=FAST,
                               seed=3) as client:
                connected.append(client)
        assert scope.cancelled_caught, "connect() returned although only followers answered"

    with caplog.at_level(logging.WARNING, logger="ovsdb_ic.client"):
        trio.run(main)
    assert connected == []
    (client,) = recorded_clients
    stats = client.stats
    assert stats.connects == 0 and stats.remote is None
    # Both followers answered and were refused, round after round (backoff in between).
    assert stats.rejected >= 4, stats
    assert stats.failed_attempts == stats.rejected
    assert "is not the cluster leader" in (stats.last_failure or "")
    assert any("not the cluster leader" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------------ relay


@pytest.fixture
def relay(sandbox: Sandbox, cluster: Cluster) -> Iterator[str]:
    """An ``ovsdb-server`` relay of the cluster's database; yields its unix remote."""
    server = require_binaries("ovsdb-server")["ovsdb-server"]
    sock = sandbox.path / "relay.sock"
    ctl = sandbox.path / "relay.ctl"
    log = sandbox.path / "relay.log"
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []
    with open(sandbox.path / "relay.out", "wb") as out:
        proc = subprocess.Popen(
            [*prefix, server, f"--remote=punix:{sock}", f"--unixctl={ctl}",
             f"--log-file={log}", f"relay:{DB}:{cluster.remote}"],
            cwd=sandbox.path, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        remote = f"unix:{sock}"
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, log.read_text() if log.exists() else "relay died"
            if sock.exists():
                try:
                    # Ready once it has the database from its source.
                    if ovsdb_client("list-dbs", remote).split().count(DB) == 1:
                        break
                except subprocess.CalledProcessError:
                    pass
            assert time.monotonic() < deadline, "the relay did not come up"
            time.sleep(0.05)
        yield remote
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_relay_serves_monitors_and_forwards_writes(cluster: Cluster, relay: str) -> None:
    leader = cluster.leader()

    async def main() -> None:
        async with connect(relay, database=DB, leader_only=False, backoff=FAST) as client:
            assert client.stats.role == "relay"
            assert client.server is not None and client.server.model == "relay"
            assert client.stats.remote == relay
            # A relay has no Raft identity of its own: nothing is pinned.
            assert client.stats.cluster_id is None
            await serve_and_write(client, leader.remote, "via-relay")

    trio.run(main)


def test_leader_only_refuses_a_relay(cluster: Cluster, relay: str) -> None:
    # Waiting cannot make a relay the leader: the first connection gives up after one
    # round, naming the reason, instead of retrying.
    async def main() -> None:
        with trio.fail_after(10), pytest.raises(ConnectError) as exc:
            async with connect(relay, database=DB, leader_only=True, backoff=FAST) as client:
                pytest.fail(f"connected to the relay with leader_only: {client.stats}")
        group = exc.value.__cause__
        assert isinstance(group, BaseExceptionGroup)
        (refusal,) = group.exceptions
        assert "relay" in str(refusal) and "leader_only=False" in str(refusal)

    trio.run(main)
