"""``engine.wait_synced()``: after a change of one's own, it returns only once a pass that
saw the change has planned nothing, and it can be awaited again and again."""

from __future__ import annotations

import subprocess

import trio

from ovsdb_ic.sync import SyncConfig, SyncEngine, run_sync
from ovsdb_ic.testing import IcDeployment


def _ctl(tool: str, remote: str, *args: str) -> str:
    return subprocess.run([tool, f"--db={remote}", *args], check=True, capture_output=True,
                          text=True, timeout=30).stdout


def _nb_switches(engine: SyncEngine) -> set[str]:
    return {r["name"] for r in engine.replicas["nb"].replica.table("Logical_Switch")}


def test_wait_synced_waits_for_a_pass_that_saw_the_callers_change(
    ic_deployment: IcDeployment,
) -> None:
    dep = ic_deployment
    az1 = dep.azs["az1"]
    nb = az1.nb.unix_remote or az1.nb.remote
    ic_nb = dep.ic_nb.unix_remote or dep.ic_nb.remote
    _ctl("ovn-nbctl", nb, "init")
    _ctl("ovn-nbctl", nb, "set", "NB_Global", ".", "name=az1")
    config = SyncConfig(ovnnb_db=nb, ovnsb_db=az1.sb.unix_remote or az1.sb.remote,
                        ic_nb_db=ic_nb, ic_sb_db=dep.ic_sb.remote, probe_interval=2.0)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            engine: SyncEngine = await nursery.start(run_sync, config)
            with trio.fail_after(30):
                await engine.wait_synced()       # the first settle
            assert _nb_switches(engine) == set()
            for ts in ("ts1", "ts2"):          # re-armable: each call waits anew
                passes_before = engine.stats.settled
                # The caller's own write, through another client (not the engine's).
                await trio.to_thread.run_sync(_ctl, "ovn-ic-nbctl", ic_nb, "ts-add", ts)
                with trio.fail_after(30):
                    await engine.wait_synced()
                # Returned after a pass that had seen the new transit switch: its NB
                # mirror is already there, in the replica and on the server.
                assert ts in _nb_switches(engine)
                listed = await trio.to_thread.run_sync(_ctl, "ovn-nbctl", nb, "ls-list")
                assert f"({ts})" in listed
                assert engine.stats.settled > passes_before
            # With nothing to do, a call still returns (the idle engine plans once more),
            # and several callers at once all return.
            settled = engine.stats.settled
            with trio.fail_after(30):
                async with trio.open_nursery() as waiters:
                    for _ in range(3):
                        waiters.start_soon(engine.wait_synced)
            assert engine.stats.settled > settled
            nursery.cancel_scope.cancel()

    trio.run(main)
