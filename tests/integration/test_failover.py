"""Fault injection on a real 3-member Raft cluster: the client survives what a cluster does.

Each scenario: a separate process writes a steady stream of numbered rows; the client
under test monitors the table (a live replica) and writes its own numbered rows, half of
them declared idempotent (guarded by a ``wait``), half plain. A fault is injected while
both write. When things settle:

* the replica equals ``ovsdb-client dump`` of the leader;
* every write the client was told succeeded is present exactly once;
* no write is present twice (a plain write whose outcome was unknown is present at most
  once, because the client never resent it);
* the client did as many full resyncs as the scenario predicts (none for a leader change:
  monitors resume with ``monitor_cond_since``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from ovsdb_ic.client import connect
from ovsdb_ic.client.failover import Backoff
from ovsdb_ic.errors import OutcomeUnknownError, WaitTimedOutError
from ovsdb_ic.testing import Cluster, Sandbox
from tests.failover_schema import DB, SCHEMA

WRITER = Path(__file__).with_name("failover_writer.py")


@pytest.fixture
def cluster(sandbox: Sandbox, tmp_path: Path) -> Cluster:
    path = tmp_path / "failover.ovsschema"
    path.write_text(json.dumps(SCHEMA))
    return sandbox.start_cluster(path, name="fo", size=3)


def dump(server_remote: str) -> list[tuple[str, int, str]]:
    """(writer, seq, uuid) of every Write row, from ``ovsdb-client`` itself."""
    out = subprocess.run(
        ["ovsdb-client", "-f", "json", "dump", server_remote, DB, "Write"],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout
    table = json.loads(out)
    tables = table if isinstance(table, list) else [table]
    rows: list[tuple[str, int, str]] = []
    for t in tables:
        cols = t["headings"]
        for r in t["data"]:
            row = dict(zip(cols, r, strict=True))
            rows.append((row["writer"], row["seq"], row["_uuid"][1]))
    return rows


class Outcomes:
    """What the client under test was told about each of its writes."""

    def __init__(self) -> None:
        self.ok: set[int] = set()
        self.unknown: set[int] = set()


async def client_writer(client: Any, outcomes: Outcomes, stop: trio.Event) -> None:
    seq = 0
    while not stop.is_set():
        seq += 1
        idempotent = seq % 2 == 0
        txn: list[dict[str, Any]] = []
        if idempotent:
            txn.append({"op": "wait", "table": "Write",
                        "where": [["writer", "==", "client"], ["seq", "==", seq]],
                        "columns": ["seq"], "until": "==", "rows": [], "timeout": 0})
        txn.append({"op": "insert", "table": "Write", "row": {"writer": "client", "seq": seq}})
        try:
            await client.transact(txn, idempotent=idempotent)
        except WaitTimedOutError:
            assert idempotent  # an earlier attempt committed it
        except OutcomeUnknownError:
            assert not idempotent
            outcomes.unknown.add(seq)
            continue
        outcomes.ok.add(seq)
        await trio.sleep(0.005)


def run_scenario(
    cluster: Cluster,
    fault: Callable[[Cluster], None],
    *,
    remotes: str | None = None,
    max_resyncs: int = 0,
) -> dict[str, Any]:
    ext = subprocess.Popen(
        [sys.executable, str(WRITER), cluster.remote, DB, "ext"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    result: dict[str, Any] = {}

    async def main() -> None:
        async with connect(remotes or cluster.remote, database=DB, probe_interval=1.0,
                           backoff=Backoff(initial=0.05, maximum=0.5), seed=1) as client:
            live = await client.replicate(["Write"])
            outcomes = Outcomes()
            stop = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client_writer, client, outcomes, stop)
                await trio.sleep(0.7)
                await trio.to_thread.run_sync(fault, cluster)
                await trio.sleep(1.5)
                stop.set()
            leader = await trio.to_thread.run_sync(lambda: cluster.leader(timeout=30))
            # Let the external writer stop, then compare the settled state.
            ext_last = int(await trio.to_thread.run_sync(
                lambda: ext.communicate(input="", timeout=60)[0]))
            rows = await trio.to_thread.run_sync(dump, leader.unix_remote or leader.remote)
            expected = {u for _, _, u in rows}

            def settled(replica: Any) -> bool:
                return {str(r.uuid) for r in replica.table("Write")} == expected

            with trio.fail_after(30):
                await live.wait_for(settled)
            counts = Counter((w, s) for w, s, _ in rows)
            doubled = [k for k, n in counts.items() if n > 1]
            assert not doubled, f"writes applied twice: {doubled}"
            for seq in outcomes.ok:
                assert counts[("client", seq)] == 1, f"acknowledged write {seq} is missing"
            # The external writer's acknowledged writes are all there too.
            for seq in range(1, ext_last + 1):
                assert counts[("ext", seq)] == 1, f"external write {seq} is missing"
            assert live.resyncs == client.stats.resyncs
            assert client.stats.resyncs <= max_resyncs, client.stats
            assert outcomes.ok, "the client wrote nothing"
            st = client.stats
            print(f"\nfailover: reconnects={st.reconnects} resumes={st.resumes} "
                  f"resyncs={st.resyncs} rejected={st.rejected} durations="
                  f"{[round(d, 2) for d in st.failover_durations]} ok={len(outcomes.ok)} "
                  f"unknown={len(outcomes.unknown)} ext={ext_last}")
            result.update(stats=client.stats, ok=len(outcomes.ok),
                          unknown=len(outcomes.unknown), ext=ext_last)

    try:
        trio.run(main)
    finally:
        if ext.poll() is None:
            ext.kill()
            ext.wait()
    return result


def test_kill_leader(cluster: Cluster) -> None:
    def fault(c: Cluster) -> None:
        c.leader().kill()

    r = run_scenario(cluster, fault)
    assert r["stats"].reconnects >= 1
    assert r["stats"].resumes >= 1 and r["stats"].resyncs == 0
    assert r["stats"].role == "leader"


def test_sigstop_leader_is_left_by_the_probe(cluster: Cluster) -> None:
    stopped: list[Any] = []

    def fault(c: Cluster) -> None:
        old = c.leader()
        old.stop()
        stopped.append(old)
        c.wait_for_leader(exclude=old, timeout=30)

    try:
        r = run_scenario(cluster, fault)
    finally:
        for s in stopped:
            s.cont()
    assert r["stats"].reconnects >= 1 and r["stats"].resyncs == 0


def test_leader_transfer(cluster: Cluster) -> None:
    r = run_scenario(cluster, lambda c: c.transfer_leadership())
    stats = r["stats"]
    assert stats.reconnects >= 1 and stats.resyncs == 0
    assert stats.leader_changes + stats.reconnects >= 1


def test_restart_follower_does_not_disturb(cluster: Cluster) -> None:
    def fault(c: Cluster) -> None:
        f = c.followers()[0]
        f.kill()
        f.restart()
        c.wait_for_leader(timeout=30)

    r = run_scenario(cluster, fault)
    assert r["stats"].resyncs == 0


def test_rolling_restart(cluster: Cluster) -> None:
    def fault(c: Cluster) -> None:
        for m in list(c.members):
            m.terminate()
            m.restart()
            c.wait_for_leader(timeout=30)

    # A restarted member has no transaction history in memory: a resume against it
    # can be answered with found=false, so some full resyncs are expected.
    r = run_scenario(cluster, fault, max_resyncs=3)
    assert r["stats"].reconnects >= 1


def test_remote_list_names_a_dead_member_first(cluster: Cluster) -> None:
    dead = cluster.followers()[0]
    dead.kill()
    alive = [m for m in cluster.members if m is not dead]
    remotes = ",".join([dead.remote] + [m.remote for m in alive])

    def fault(c: Cluster) -> None:
        c.leader().kill()
        dead.restart()
        c.wait_for_leader(timeout=30)

    r = run_scenario(cluster, fault, remotes=remotes)
    assert r["stats"].failed_attempts >= 1
