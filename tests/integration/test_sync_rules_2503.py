"""The engine follows the ovn-ic of the OVN release it talks to, checked against the real
C daemons (23.03 from the host, 25.03 from the provisioned root).

* the rules are detected from the servers' schemas, with no flag;
* on 25.03 databases, topologies using what 25.03 added (several routers of one AZ on
  one transit switch learning each other's routes, route tags and filter tags, the
  ``ic-route-denylist`` name) give the C 25.03 daemon's state exactly, also with one AZ
  run by each;
* ``ovn-ic-nbctl --wait=sb sync`` (25.03's) and :func:`wait_ic_synced` return with
  engines as agents, and so do
  :meth:`SyncEngine.wait_ic_cfg` and ``ovsdb-ic sync --once --wait=sb`` with the C
  daemon as the other AZ's agent;
* ``options:ic_probe_interval`` sets the engine's client probes.

A missing 25.03 root fails these tests (``./dev setup`` provisions it); nothing is skipped.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ovsdb_ic.client import connect
from ovsdb_ic.ic.databases import Requirements
from ovsdb_ic.sync.plan import Plan
from ovsdb_ic.sync.rules import RULES_23_03, RULES_25_03
from ovsdb_ic.sync.runner import SyncConfig, SyncEngine, run_sync
from ovsdb_ic.sync.waiting import wait_ic_synced
from ovsdb_ic.testing import IcDeployment, Sandbox
from ovsdb_ic.testing.deployment import AgentKind
from ovsdb_ic.testing.ovn import (
    IcState,
    daemon_log_tails,
    diff_states,
    ovn_ic_nbctl,
    ovn_nbctl,
    query,
)
from tests.differential.topology import (
    Topology,
    basic_two_az,
    build,
    defect_two_routers_one_ts,
    in_parallel,
    topologies,
)

pytestmark = pytest.mark.integration

Extra = Callable[[IcDeployment], None]


def run_2503(topology: Topology, agents: AgentKind | dict[str, AgentKind],
             extra: Extra | None = None) -> IcState:
    with Sandbox(ovn="25.03") as box:
        try:
            deployment = IcDeployment.start(box, azs=topology.az_names, ic_sb_size=1)
            build(deployment, topology, agents)
            if extra is not None:
                extra(deployment)
            return deployment.settle(quiet=1.0, timeout=40)
        except BaseException as exc:
            exc.add_note(daemon_log_tails(box, 20))
            raise


def compare_2503(topology: Topology, extra: Extra | None = None,
                 candidate: AgentKind | dict[str, AgentKind] = "engine") -> IcState:
    reference, result = in_parallel(lambda: run_2503(topology, "ovn-ic", extra),
                                    lambda: run_2503(topology, candidate, extra))
    assert reference.problems == () and result.problems == ()
    differences = diff_states(reference, result, labels=("ovn-ic 25.03", str(candidate)))
    assert differences == [], "\n".join(differences)
    return reference


def tags_and_denylist(deployment: IcDeployment) -> None:
    """az1: lr1 tags its routes blue, lr2 filters red; az2 tags red and denies
    172.27.0.0/16 with the 24.09 option name."""
    nb1, nb2 = deployment.azs["az1"].nb.remote, deployment.azs["az2"].nb.remote
    ovn = deployment.ovn
    ovn_nbctl(nb1, "set", "Logical_Router_Port", "az1-lr1-ts1",
              "options:ic-route-tag=blue", ovn=ovn)
    ovn_nbctl(nb1, "set", "Logical_Router_Port", "az1-lr2-ts1",
              "options:ic-route-filter-tag=red", ovn=ovn)
    ovn_nbctl(nb2, "set", "Logical_Router_Port", "az2-lr1-ts1",
              "options:ic-route-tag=red", ovn=ovn)
    ovn_nbctl(nb2, "set", "NB_Global", ".", "options:ic-route-denylist=172.27.0.0/16",
              ovn=ovn)


# ---------------------------------------------------------------------------- detection


@pytest.mark.parametrize("version", ["23.03", "25.03"])
def test_rules_detected_from_the_servers(version: str) -> None:
    """One installed engine serves either deployment, with no flag."""
    with Sandbox(ovn=version) as box:
        d = IcDeployment.start(box, azs=("az1",), ic_sb_size=1)
        ovn_nbctl(d.azs["az1"].nb.remote, "init", "--", "set", "NB_Global", ".", "name=az1",
                  ovn=d.ovn)
        config = SyncConfig(ovnnb_db=d.azs["az1"].nb.remote, ovnsb_db=d.azs["az1"].sb.remote,
                            ic_nb_db=d.ic_nb_remote, ic_sb_db=d.ic_sb_remote)
        stats = trio.run(lambda: run_sync(config, once=True))
    assert stats.release == version
    assert stats.settled >= 1


# ---------------------------------------------------------------------------- differential


def test_2503_tags_filter_tags_same_az_learning_match_c() -> None:
    state = compare_2503(defect_two_routers_one_ts(), tags_and_denylist)
    tagged = {r.ip_prefix: dict(r.external_ids).get("ic-route-tag") for r in state.routes}
    assert tagged["10.11.1.1/24"] == "blue" and tagged["10.21.1.1/24"] == "red"
    assert tagged["10.12.1.1/24"] is None
    lr2 = {r.ip_prefix for r in state.learned_by("az1", "lr2")}
    assert "10.21.1.1/24" not in lr2  # filtered by tag
    assert "10.11.1.1/24" in lr2  # the other router of its own AZ
    assert "172.27.0.0/16" not in {r.ip_prefix for r in state.learned_by("az2")}


@pytest.mark.parametrize("agents", [{"az1": "ovn-ic", "az2": "engine"},
                                    {"az1": "engine", "az2": "ovn-ic"}])
def test_2503_mixed_c_and_engine_settle_to_the_all_c_state(agents: dict[str, AgentKind]
                                                           ) -> None:
    compare_2503(defect_two_routers_one_ts(), tags_and_denylist, candidate=agents)


@st.composite
def tagged_topologies(draw: st.DrawFn) -> tuple[Topology, dict[str, dict[str, str]]]:
    """A generated topology and, per AZ, ``ovn-nbctl set`` arguments giving transit
    router ports route tags and filter tags from a small alphabet (so tags and filters
    meet), and the 24.09 ``ic-route-denylist`` name for the zone's deny list."""
    topology = draw(topologies())
    settings_by_lrp: dict[str, dict[str, str]] = {}
    for zone in topology.zones:
        for router in zone.routers:
            for tp in router.ts_ports:
                opts = {}
                for key in ("ic-route-tag", "ic-route-filter-tag"):
                    tag = draw(st.sampled_from([None, "a", "b"]))
                    if tag is not None:
                        opts[key] = tag
                if opts:
                    settings_by_lrp[f"{zone.name}/{tp.lrp}"] = opts
    return topology, settings_by_lrp


def apply_tags(settings_by_lrp: dict[str, dict[str, str]]) -> Extra:
    def extra(deployment: IcDeployment) -> None:
        for key, opts in sorted(settings_by_lrp.items()):
            az, lrp = key.split("/")
            ovn_nbctl(deployment.azs[az].nb.remote, "set", "Logical_Router_Port", lrp,
                      *(f"options:{k}={v}" for k, v in sorted(opts.items())),
                      ovn=deployment.ovn)
        for az in deployment.azs.values():
            rows = query(az.nb.remote, "OVN_Northbound", {"NB_Global": ["options"]})
            options = rows["NB_Global"][0]["options"]
            deny = options.get("ic-route-blacklist") if isinstance(options, dict) else None
            if deny:
                ovn_nbctl(az.nb.remote, "remove", "NB_Global", ".", "options",
                          "ic-route-blacklist", "--", "set", "NB_Global", ".",
                          f'options:ic-route-denylist="{deny}"', ovn=deployment.ovn)

    return extra


@settings(
    max_examples=3,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
)
@given(tagged_topologies())
def test_2503_generated_topologies_with_tags_match_c(
    drawn: tuple[Topology, dict[str, dict[str, str]]],
) -> None:
    """Generated 2- and 3-AZ topologies, with route tags and filter tags on the transit
    ports: the engine and the C 25.03 daemon reach the same state. No shrinking: each
    example starts two deployments of real daemons."""
    topology, tags = drawn
    compare_2503(topology, apply_tags(tags))


# ---------------------------------------------------------------------------- --wait=sb


def ic_cfg(deployment: IcDeployment) -> tuple[int, int]:
    rows = query(deployment.ic_nb_remote, "OVN_IC_Northbound",
                 {"IC_NB_Global": ["nb_ic_cfg", "sb_ic_cfg"]})
    (row,) = rows["IC_NB_Global"]
    return int(row["nb_ic_cfg"]), int(row["sb_ic_cfg"])


@pytest.mark.parametrize("agents", ["engine", ["ovn-ic", "engine"]])
def test_2503_ovn_ic_nbctl_wait_sb_sync_returns(agents: Any) -> None:
    topology = basic_two_az()
    with Sandbox(ovn="25.03") as box:
        try:
            d = IcDeployment.start(box, azs=topology.az_names, ic_sb_size=1)
            kinds = agents if isinstance(agents, str) else dict(zip(topology.az_names, agents,
                                                                    strict=True))
            build(d, topology, kinds)
            d.settle(quiet=1.0, timeout=40)
            for _ in range(2):
                ovn_ic_nbctl(d.ic_nb_remote, "--wait=sb", "sync", ovn=d.ovn)
                nb_cfg, sb_cfg = ic_cfg(d)
                assert sb_cfg == nb_cfg >= 1

            async def library() -> int:
                async with connect(d.ic_nb_remote, database="OVN_IC_Northbound") as client:
                    with trio.fail_after(30):
                        return await wait_ic_synced(client)

            assert trio.run(library) == nb_cfg + 1
            assert ic_cfg(d) == (nb_cfg + 1, nb_cfg + 1)
        except BaseException as exc:
            exc.add_note(daemon_log_tails(box, 20))
            raise


def test_2503_wait_ic_cfg_library_and_cli_with_c_as_the_other_az() -> None:
    topology = basic_two_az()
    with Sandbox(ovn="25.03") as box:
        try:
            d = IcDeployment.start(box, azs=topology.az_names, ic_sb_size=1)
            build(d, topology, {"az1": "ovn-ic", "az2": "engine"})
            d.settle(quiet=1.0, timeout=40)
            d.stop_agent("az2")
            az2 = d.azs["az2"]
            config = SyncConfig(ovnnb_db=az2.nb.remote, ovnsb_db=az2.sb.remote,
                                ic_nb_db=d.ic_nb_remote, ic_sb_db=d.ic_sb_remote)

            async def library() -> int:
                async with trio.open_nursery() as nursery:
                    engine: SyncEngine = await nursery.start(run_sync, config)
                    assert engine.rules == RULES_25_03
                    with trio.fail_after(30):
                        await engine.wait_settled()
                        value = await engine.wait_ic_cfg()
                    nursery.cancel_scope.cancel()
                return value

            value = trio.run(library)
            assert ic_cfg(d) == (value, value)
            done = subprocess.run(
                [sys.executable, "-m", "ovsdb_ic", "sync", f"--ovnnb-db={az2.nb.remote}",
                 f"--ovnsb-db={az2.sb.remote}", f"--ic-nb-db={d.ic_nb_remote}",
                 f"--ic-sb-db={d.ic_sb_remote}", "--once", "--wait=sb"],
                capture_output=True, text=True, timeout=60, cwd=box.path,
            )
            assert done.returncode == 0, done.stderr
            assert f"nb_ic_cfg={value + 1}" in done.stdout
            assert ic_cfg(d) == (value + 1, value + 1)
        except BaseException as exc:
            exc.add_note(daemon_log_tails(box, 20))
            raise


def test_wait_ic_cfg_refuses_23_03_ic_databases() -> None:
    with Sandbox() as box:
        d = IcDeployment.start(box, azs=("az1",), ic_sb_size=1)
        ovn_nbctl(d.azs["az1"].nb.remote, "init", "--", "set", "NB_Global", ".", "name=az1")
        config = SyncConfig(ovnnb_db=d.azs["az1"].nb.remote, ovnsb_db=d.azs["az1"].sb.remote,
                            ic_nb_db=d.ic_nb_remote, ic_sb_db=d.ic_sb_remote)

        async def main() -> str:
            async with trio.open_nursery() as nursery:
                engine: SyncEngine = await nursery.start(run_sync, config)
                assert engine.rules == RULES_23_03
                try:
                    await engine.wait_ic_cfg()
                except ValueError as exc:
                    return str(exc)
                finally:
                    nursery.cancel_scope.cancel()
            return ""

        assert "OVN 24.03 or newer" in trio.run(main)


# ---------------------------------------------------------------------------- probe interval


def test_2503_ic_probe_interval_sets_the_client_probes() -> None:
    with Sandbox(ovn="25.03") as box:
        d = IcDeployment.start(box, azs=("az1",), ic_sb_size=1)
        az = d.azs["az1"]
        ovn_nbctl(az.nb.tcp_remote or az.nb.remote, "init", "--", "set", "NB_Global", ".",
                  "name=az1", "options:ic_probe_interval=300", ovn=d.ovn)
        ovn_ic_nbctl(d.ic_nb_remote, "init", ovn=d.ovn)
        ovn_ic_nbctl(d.ic_nb_remote, "set", "IC_NB_Global", ".",
                     "options:ic_probe_interval=0", ovn=d.ovn)
        tcp = [s.tcp_remote for s in (az.nb, az.sb)]
        assert all(tcp)
        config = SyncConfig(ovnnb_db=str(tcp[0]), ovnsb_db=str(tcp[1]),
                            ic_nb_db=d.ic_nb_remote, ic_sb_db=d.ic_sb_remote)

        async def main() -> dict[str, float | None]:
            async with trio.open_nursery() as nursery:
                engine: SyncEngine = await nursery.start(run_sync, config)
                with trio.fail_after(20):
                    await engine.wait_settled()
                probes = {k: c.probe_interval for k, c in engine.clients.items()}
                # the NB option changes: applied on the next pass, on the live session
                await engine.clients["nb"].transact([
                    {"op": "mutate", "table": "NB_Global", "where": [],
                     "mutations": [["options", "delete", ["set", ["ic_probe_interval"]]]]},
                    {"op": "mutate", "table": "NB_Global", "where": [],
                     "mutations": [["options", "insert",
                                    ["map", [["ic_probe_interval", "20000"]]]]]},
                ])
                with trio.fail_after(10):
                    while engine.clients["sb"].probe_interval != 20.0:
                        await trio.sleep(0.05)
                nursery.cancel_scope.cancel()
            return probes

        probes = trio.run(main)
    assert probes == {"nb": 1.0, "sb": 1.0, "ic_nb": None, "ic_sb": None}


def test_wait_sb_gives_the_engine_error_alone_when_the_engine_fails_during_the_wait() -> None:
    """``run_sync(wait_sb=True)``: an engine that fails while the wait for the AZs is on
    raises its own error, not a group with the ConnectionClosedError its closing clients
    gave that wait (a replica that stops following ends ``wait_for`` with it)."""
    with Sandbox(ovn="25.03") as box:
        d = IcDeployment.start(box, azs=("az1",), ic_sb_size=1)
        ovn_nbctl(d.azs["az1"].nb.remote, "init", "--", "set", "NB_Global", ".", "name=az1")

        def broken(snap: Any) -> Plan:
            if any(int(row["nb_ic_cfg"]) > 0 for row in snap.ic_nb.table("IC_NB_Global")):
                raise RuntimeError("the planner broke once nb_ic_cfg moved")
            return Plan()

        reads = Requirements(tables={"ic_nb": {"IC_NB_Global": ("nb_ic_cfg",)}})
        config = SyncConfig(ovnnb_db=d.azs["az1"].nb.remote, ovnsb_db=d.azs["az1"].sb.remote,
                            ic_nb_db=d.ic_nb_remote, ic_sb_db=d.ic_sb_remote,
                            extra_planners=(("broken", broken, reads),))

        async def main() -> None:
            with trio.fail_after(60), pytest.raises(RuntimeError, match="planner broke"):
                await run_sync(config, wait_sb=True)

        trio.run(main)
