"""The sync engine end to end on real servers: two AZs exchange routes through IC-SB.

No ovn-northd here (the differential suite runs it): the engine's AZ, transit switch
and route work needs only NB, IC-NB and IC-SB; the port binding part waits for the SB
rows northd would create, and must not get in the way meanwhile.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from typing import Any

import pytest
import trio

from ovsdb_ic.sync.runner import LOCK_NAME, SyncConfig, SyncEngine, run_sync
from ovsdb_ic.testing import IcDeployment, Sandbox


def nbctl(server: Any, *args: str) -> str:
    return subprocess.run(
        ["ovn-nbctl", f"--db={server.unix_remote or server.remote}", *args],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout


def icnbctl(dep: IcDeployment, *args: str) -> str:
    return subprocess.run(
        ["ovn-ic-nbctl", f"--db={dep.ic_nb.unix_remote or dep.ic_nb.remote}", *args],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout


def config(dep: IcDeployment, az: int) -> SyncConfig:
    zone = dep.azs[f"az{az + 1}"]
    return SyncConfig(
        ovnnb_db=zone.nb.unix_remote or zone.nb.remote,
        ovnsb_db=zone.sb.unix_remote or zone.sb.remote,
        ic_nb_db=dep.ic_nb.unix_remote or dep.ic_nb.remote,
        ic_sb_db=dep.ic_sb.remote,
        probe_interval=2.0,
    )


def setup_az(server: Any, name: str, index: int, subnets: Sequence[str]) -> None:
    """An AZ with a router on ts1 (169.254.100.<index>/24) and pod subnets as LRPs."""
    nbctl(server, "init")
    nbctl(server, "set", "NB_Global", ".", f"name={name}",
          "options:ic-route-adv=true", "options:ic-route-learn=true")
    nbctl(server, "lr-add", "lr")
    for i, cidr in enumerate(subnets):
        nbctl(server, "lrp-add", "lr", f"lrp-pod{i}", f"00:00:00:00:0{index}:1{i}", cidr)


def attach_ts(server: Any, name: str, index: int) -> None:
    nbctl(server, "lrp-add", "lr", f"lrp-ts1-{name}", f"00:00:00:00:0{index}:01",
          f"169.254.100.{index}/24")
    nbctl(server, "lsp-add", "ts1", f"lsp-ts1-{name}", "--",
          "lsp-set-type", f"lsp-ts1-{name}", "router", "--",
          "lsp-set-addresses", f"lsp-ts1-{name}", "router", "--",
          "lsp-set-options", f"lsp-ts1-{name}", f"router-port=lrp-ts1-{name}")


def learned(server: Any) -> set[tuple[str, str]]:
    out = nbctl(server, "--format=json", "--columns=ip_prefix,nexthop,external_ids",
                "find", "Logical_Router_Static_Route")
    data = json.loads(out)
    rows = set()
    for prefix, nexthop, ext in data["data"]:
        if any(k == "ic-learned-route" for k, _ in ext[1]):
            rows.add((prefix, nexthop))
    return rows


@pytest.fixture
def dep(ovn_sandbox: Sandbox) -> IcDeployment:
    """IC-NB, a 3-member IC-SB cluster and NB/SB per AZ, of each OVN release in turn."""
    return IcDeployment.start(ovn_sandbox)


def test_two_engines_exchange_routes(dep: IcDeployment) -> None:
    az1, az2 = dep.azs["az1"], dep.azs["az2"]
    setup_az(az1.nb, "az1", 1, ["10.16.0.1/16"])
    setup_az(az2.nb, "az2", 2, ["10.17.0.1/16", "fd00:17::1/64"])
    icnbctl(dep, "ts-add", "ts1")

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            e1: SyncEngine = await nursery.start(run_sync, config(dep, 0))
            e2: SyncEngine = await nursery.start(run_sync, config(dep, 1))
            with trio.fail_after(30):
                await e1.wait_settled()
                await e2.wait_settled()
            # The engines created the NB copies of ts1; attach the routers now.
            for e in (e1, e2):
                ls = [r for r in e.replicas["nb"].replica.table("Logical_Switch")
                      if r["name"] == "ts1"]
                assert len(ls) == 1
                assert ls[0]["other_config"]["interconn-ts"] == "ts1"
            await trio.to_thread.run_sync(attach_ts, az1.nb, "az1", 1)
            await trio.to_thread.run_sync(attach_ts, az2.nb, "az2", 2)

            async def routes_learned() -> None:
                while True:
                    got1 = await trio.to_thread.run_sync(learned, az1.nb)
                    got2 = await trio.to_thread.run_sync(learned, az2.nb)
                    if got1 == {("10.17.0.1/16", "169.254.100.2")} and \
                            got2 == {("10.16.0.1/16", "169.254.100.1")}:
                        return
                    await trio.sleep(0.1)

            with trio.fail_after(30):
                await routes_learned()
            # The AZs are registered, ts1 has one datapath binding, routes are in IC-SB.
            ic_sb = e1.replicas["ic_sb"].replica
            assert sorted(r["name"] for r in ic_sb.table("Availability_Zone")) == ["az1", "az2"]
            keys = [r["tunnel_key"] for r in ic_sb.table("Datapath_Binding")]
            assert keys == [16711682]
            prefixes = sorted(r["ip_prefix"] for r in ic_sb.table("Route"))
            # The v6 subnet is advertised with the TS port's EUI-64 link-local nexthop
            # (the port has no IPv6 address), which az1 does not learn.
            assert prefixes == ["10.16.0.1/16", "10.17.0.1/16", "fd00:17::1/64"]
            assert e1.stats.lock_held and e2.stats.lock_held
            assert e1.stats.commits > 0 and e1.stats.errors == 0
            # Withdraw: az2 stops advertising, az1 forgets the route.
            await trio.to_thread.run_sync(
                lambda: nbctl(az2.nb, "set", "NB_Global", ".", "options:ic-route-adv=false"))

            async def withdrawn() -> None:
                while await trio.to_thread.run_sync(learned, az1.nb):
                    await trio.sleep(0.1)

            with trio.fail_after(30):
                await withdrawn()
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_once_and_dry_run(dep: IcDeployment) -> None:
    az1 = dep.azs["az1"]
    setup_az(az1.nb, "az1", 1, ["10.16.0.1/16"])
    icnbctl(dep, "ts-add", "ts1")
    lines: list[str] = []

    async def main() -> None:
        stats = await run_sync(
            SyncConfig(**{**_kw(config(dep, 0)), "dry_run": True}), once=True,
            report=lines.append)
        assert stats.commits == 0
        stats = await run_sync(config(dep, 0), once=True)
        assert stats.commits >= 2  # AZ row first, then the transit switch work
        stats = await run_sync(config(dep, 0), once=True)
        assert stats.commits == 0 and stats.settled == 1

    trio.run(main)
    assert any("insert Availability_Zone" in line and "az1" in line for line in lines), lines


def test_engines_own_their_route_caches_and_drop_them_when_stopped(dep: IcDeployment) -> None:
    az1 = dep.azs["az1"]
    setup_az(az1.nb, "az1", 1, ["10.16.0.1/16"])
    icnbctl(dep, "ts-add", "ts1")

    async def main() -> None:
        first, second = SyncEngine(config(dep, 0)), SyncEngine(config(dep, 0))
        assert first.route_cache is not second.route_cache
        async with trio.open_nursery() as nursery:
            await nursery.start(first.run)
            with trio.fail_after(30):
                await first.wait_settled()
            assert first.route_cache.held == 1 and second.route_cache.held == 0
            nursery.cancel_scope.cancel()
        assert first.route_cache.held == 0  # a stopped engine keeps no replica alive
        await second.run(once=True)
        assert second.stats.settled == 1 and second.route_cache.held == 0

    trio.run(main)


def test_lock_keeps_a_second_engine_standing_by(dep: IcDeployment) -> None:
    az1 = dep.azs["az1"]
    setup_az(az1.nb, "az1", 1, ["10.16.0.1/16"])

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            active: SyncEngine = await nursery.start(run_sync, config(dep, 0))
            with trio.fail_after(20):
                await active.wait_settled()
            standby = SyncEngine(config(dep, 0))
            scope = trio.CancelScope()

            async def run_standby() -> None:
                with scope:
                    await standby.run()

            nursery.start_soon(run_standby)
            with trio.fail_after(20):
                await standby.wait_standing_by()
            assert standby.stats.passes == 0 and not standby.stats.lock_held
            # The active engine goes away: the standby takes over and settles.
            lock_client = active.clients["sb"]
            await lock_client.unlock(LOCK_NAME)
            with trio.fail_after(20):
                await standby.wait_settled()
            assert standby.stats.lock_held
            nursery.cancel_scope.cancel()

    trio.run(main)


def _kw(cfg: SyncConfig) -> dict[str, Any]:
    import attrs

    return attrs.asdict(cfg, recurse=False)


def test_ic_sb_leader_killed_mid_sync_settles_the_same(dep: IcDeployment) -> None:
    az1, az2 = dep.azs["az1"], dep.azs["az2"]
    subnets1 = [f"10.{16 + i}.0.1/24" for i in range(20)]
    subnets2 = [f"10.{116 + i}.0.1/24" for i in range(20)]
    setup_az(az1.nb, "az1", 1, subnets1)
    setup_az(az2.nb, "az2", 2, subnets2)
    icnbctl(dep, "ts-add", "ts1")
    # Pre-create the NB copies of ts1 the way the engine would, and attach the routers,
    # so that the first passes carry the whole route exchange.
    for zone, name, idx in ((az1, "az1", 1), (az2, "az2", 2)):
        nbctl(zone.nb, "ls-add", "ts1", "--", "set", "Logical_Switch", "ts1",
              "other_config:interconn-ts=ts1")
        attach_ts(zone.nb, name, idx)
    want1 = {(s, "169.254.100.2") for s in subnets2}
    want2 = {(s, "169.254.100.1") for s in subnets1}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            leader = await trio.to_thread.run_sync(dep.ic_sb.leader)
            e1: SyncEngine = await nursery.start(run_sync, config(dep, 0))
            e2: SyncEngine = await nursery.start(run_sync, config(dep, 1))
            leader.kill()  # the engines have their replicas and are starting to write

            async def settled() -> None:
                while True:
                    got1 = await trio.to_thread.run_sync(learned, az1.nb)
                    got2 = await trio.to_thread.run_sync(learned, az2.nb)
                    if got1 == want1 and got2 == want2:
                        return
                    await trio.sleep(0.2)

            with trio.fail_after(60):
                await settled()
                for e in (e1, e2):
                    await e.clients["ic_sb"].wait_connected()
                    await e.wait_settled()
            ic_sb = e1.replicas["ic_sb"].replica
            routes_ = sorted((r["ip_prefix"], r["nexthop"]) for r in ic_sb.table("Route"))
            assert len(routes_) == len(set(routes_)) == 40
            for e in (e1, e2):
                assert e.clients["ic_sb"].stats.reconnects >= 1
                assert e.clients["ic_sb"].stats.resyncs == 0
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_three_azs_racing_for_tunnel_keys_settle_without_duplicates(sandbox: Any) -> None:
    dep = IcDeployment.start(sandbox, azs=("az1", "az2", "az3"), ic_sb_size=1)
    names = [f"ts{i}" for i in range(8)]
    for i, zone in enumerate(dep.azs.values(), 1):
        nbctl(zone.nb, "init")
        nbctl(zone.nb, "set", "NB_Global", ".", f"name=az{i}")
    for name in names:
        icnbctl(dep, "ts-add", name)

    def cfg(zone: Any) -> SyncConfig:
        return SyncConfig(ovnnb_db=zone.nb.remote, ovnsb_db=zone.sb.remote,
                          ic_nb_db=dep.ic_nb.remote, ic_sb_db=dep.ic_sb.remote)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            engines = []
            for zone in dep.azs.values():  # all three start at once and race
                engines.append(await nursery.start(run_sync, cfg(zone)))

            def settled() -> bool:
                for e in engines:
                    ic_sb = e.replicas["ic_sb"].replica
                    bindings = list(ic_sb.table("Datapath_Binding"))
                    if sorted(b["transit_switch"] for b in bindings) != names:
                        return False
                    keys = {b["transit_switch"]: b["tunnel_key"] for b in bindings}
                    switches = [s for s in e.replicas["nb"].replica.table("Logical_Switch")
                                if "interconn-ts" in s["other_config"]]
                    if sorted(s["name"] for s in switches) != names:
                        return False
                    for s in switches:
                        if s["other_config"].get("requested-tnl-key") != str(keys[s["name"]]):
                            return False
                return True

            with trio.fail_after(60):
                while not settled():
                    await trio.sleep(0.1)
                for e in engines:
                    await e.wait_settled()
            ic_sb = engines[0].replicas["ic_sb"].replica
            keys = [b["tunnel_key"] for b in ic_sb.table("Datapath_Binding")]
            assert len(keys) == len(set(keys)) == len(names)
            assert all(16711681 <= k <= 16777215 for k in keys)
            assert all(e.stats.errors == 0 for e in engines)
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_run_sync_raises_an_unreachable_error_itself(tmp_path: Any) -> None:
    """The engine's own nurseries do not wrap a lone error in an ExceptionGroup: a
    caller catches UnreachableError (naming every database) as it is."""
    from ovsdb_ic.sync.session import UnreachableError

    cfg = SyncConfig(ovnnb_db=f"unix:{tmp_path}/nb.sock", ovnsb_db=f"unix:{tmp_path}/sb.sock",
                     ic_nb_db=f"unix:{tmp_path}/ic-nb.sock",
                     ic_sb_db=f"unix:{tmp_path}/ic-sb.sock")

    async def main() -> None:
        with trio.fail_after(30), pytest.raises(UnreachableError) as info:
            await run_sync(cfg)
        labels = sorted(line.split(":")[0] for line in info.value.problems)
        assert labels == ["IC-NB", "IC-SB", "NB", "SB"]
        assert "ic-sb.sock" in str(info.value)

    trio.run(main)
