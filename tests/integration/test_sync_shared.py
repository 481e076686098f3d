"""Sync engines of one process over one shared IC-NB/IC-SB pair (``open_shared_ic``,
``SyncEngine(ic=)``, ``run_syncs``), on real servers.

* differential: three AZs synced by engines sharing IC connections end with the same
  NB, SB and IC-SB contents as three engines each with their own connections;
* an engine cancelled while the others keep syncing leaves the shared connections open;
* the IC-SB Raft leader killed while the shared engines write: one reconnect, seen by
  every engine, and they settle as without the fault;
* engines following different OVN rules share one pair;
* bad input: typed errors naming the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from ovsdb_ic.client import connect
from ovsdb_ic.errors import ConfigError
from ovsdb_ic.ic.databases import Requirements
from ovsdb_ic.replica import Replica
from ovsdb_ic.sync import SharedIc, SyncConfig, SyncEngine, open_shared_ic, run_sync, run_syncs
from ovsdb_ic.sync.plan import Plan
from ovsdb_ic.sync.rules import rules_for
from ovsdb_ic.sync.runner import _group_configs as group_configs
from ovsdb_ic.sync.session import ConnectOptions, Databases, UnreachableError
from ovsdb_ic.testing import IcDeployment, Sandbox
from ovsdb_ic.testing.ovn import ovn_ic_nbctl, ovn_nbctl
from tests.integration.test_sync_runner import attach_ts

AZS = ("az1", "az2", "az3")


def nbctl(server: Any, *args: str) -> str:
    return ovn_nbctl(server.unix_remote or server.remote, *args)


def icnbctl(dep: IcDeployment, *args: str) -> None:
    ovn_ic_nbctl(dep.ic_nb.unix_remote or dep.ic_nb.remote, *args)


def subnets(index: int) -> list[str]:
    return [f"10.{index}.{k}.1/24" for k in range(5)]


def setup(dep: IcDeployment) -> None:
    """Per AZ a router with five LAN subnets, attached to ts1 (whose NB copy is made
    here, as the engine would), advertising and learning."""
    icnbctl(dep, "ts-add", "ts1")
    for index, name in enumerate(AZS, 1):
        nb = dep.azs[name].nb
        nbctl(nb, "init")
        nbctl(nb, "set", "NB_Global", ".", f"name={name}",
              "options:ic-route-adv=true", "options:ic-route-learn=true")
        nbctl(nb, "lr-add", "lr")
        for k, cidr in enumerate(subnets(index)):
            nbctl(nb, "lrp-add", "lr", f"lrp-pod{k}", f"00:00:00:00:0{index}:1{k}", cidr)
        nbctl(nb, "ls-add", "ts1", "--", "set", "Logical_Switch", "ts1",
              "other_config:interconn-ts=ts1")
        attach_ts(nb, name, index)


def wanted(index: int, extra: Sequence[str] = ()) -> set[tuple[str, str]]:
    """The routes AZ ``index`` (1-based) learns from the others."""
    out = set()
    for other in range(1, len(AZS) + 1):
        if other != index:
            out |= {(s, f"169.254.100.{other}") for s in subnets(other)}
    return out | set(extra)


def learned(engine: SyncEngine) -> set[tuple[str, str]]:
    return {(r["ip_prefix"], r["nexthop"])
            for r in engine.replicas["nb"].replica.table("Logical_Router_Static_Route")
            if "ic-learned-route" in r["external_ids"]}


def configs(dep: IcDeployment, **kw: Any) -> list[SyncConfig]:
    return [SyncConfig(ovnnb_db=dep.azs[n].nb.unix_remote or dep.azs[n].nb.remote,
                       ovnsb_db=dep.azs[n].sb.unix_remote or dep.azs[n].sb.remote,
                       ic_nb_db=dep.ic_nb.remote, ic_sb_db=dep.ic_sb.remote,
                       probe_interval=2.0, **kw)
            for n in AZS]


async def all_learned(engines: Sequence[SyncEngine], extra: dict[int, set[tuple[str, str]]]
                      | None = None, *, skip: int | None = None) -> None:
    extra = extra or {}
    while True:
        if all(learned(e) == wanted(i + 1) | extra.get(i, set())
               for i, e in enumerate(engines) if i != skip):
            return
        await trio.sleep(0.05)


def _canon(value: Any, names: dict[str, str]) -> Any:
    """``value`` with row UUIDs (also as strings, e.g. ``lr-id``) replaced by a stable
    description of the row."""
    if isinstance(value, uuid.UUID):
        return names.get(str(value), "?")
    if isinstance(value, str) and value in names:
        return names[value]
    if isinstance(value, dict) or hasattr(value, "items"):
        return tuple(sorted((_canon(k, names), _canon(v, names)) for k, v in value.items()))
    if isinstance(value, frozenset | set | tuple | list):
        return tuple(sorted((_canon(v, names) for v in value), key=repr))
    return value


def _names(prefix: str, replica: Replica, names: dict[str, str]) -> None:
    for table, view in replica.tables.items():
        for row in view:
            label = [str(row[c]) for c in ("name", "logical_port", "ip_prefix", "transit_switch")
                     if c in view.layout.columns]
            names[str(row.uuid)] = f"{prefix}:{table}:{'/'.join(label)}"


def contents(replica: Replica, names: dict[str, str]) -> dict[str, list[Any]]:
    """Every table's rows, UUIDs replaced by the referred row's name-like columns."""
    return {table: sorted(repr(_canon({c: row[c] for c in view.layout.columns}, names))
                          for row in view)
            for table, view in replica.tables.items()}


async def server_contents(dep: IcDeployment) -> dict[str, Any]:
    """Every table of IC-NB, IC-SB and each AZ's NB and SB, as the servers hold them."""
    remotes = {"ic_nb": (dep.ic_nb.remote, "OVN_IC_Northbound"),
               "ic_sb": (dep.ic_sb.remote, "OVN_IC_Southbound")}
    for name in AZS:
        remotes[f"{name}-nb"] = (dep.azs[name].nb.remote, "OVN_Northbound")
        remotes[f"{name}-sb"] = (dep.azs[name].sb.remote, "OVN_Southbound")
    replicas: dict[str, Replica] = {}
    for key, (remote, database) in remotes.items():
        async with connect(remote, database=database) as client:
            assert client.schema is not None
            live = await client.replicate({t: None for t in client.schema.tables})
            replicas[key] = live.replica
    names: dict[str, str] = {}
    for key, replica in replicas.items():
        _names(key, replica, names)
    return {key: contents(replica, names) for key, replica in replicas.items()}


def converge(dep: IcDeployment, shared: bool) -> dict[str, Any]:
    result: dict[str, Any] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            if shared:
                engines: list[SyncEngine] = await nursery.start(run_syncs, configs(dep))
            else:
                engines = [await nursery.start(run_sync, c) for c in configs(dep)]
            with trio.fail_after(60):
                await all_learned(engines)
                for e in engines:
                    await e.wait_synced()
            result["errors"] = sum(e.stats.errors for e in engines)
            result["ic_sb_clients"] = len({id(e.clients["ic_sb"]) for e in engines})
            nursery.cancel_scope.cancel()
        result["snap"] = await server_contents(dep)

    trio.run(main)
    return result


def test_shared_engines_converge_like_engines_with_their_own_connections(
        ovn_sandbox: Sandbox, ovn_version: str) -> None:
    dep = IcDeployment.start(ovn_sandbox, azs=AZS, ic_sb_size=1)
    setup(dep)
    got = converge(dep, shared=True)
    assert got["ic_sb_clients"] == 1 and got["errors"] == 0
    with Sandbox(ovn=ovn_version) as other:
        peer = IcDeployment.start(other, azs=AZS, ic_sb_size=1)
        setup(peer)
        want = converge(peer, shared=False)
    assert want["ic_sb_clients"] == 3
    assert sorted(got["snap"]) == sorted(want["snap"])
    for db in want["snap"]:
        assert got["snap"][db] == want["snap"][db], db
    assert len(got["snap"]["ic_sb"]["Route"]) == 15


def test_one_engine_cancelled_while_the_others_keep_syncing(sandbox: Sandbox) -> None:
    dep = IcDeployment.start(sandbox, azs=AZS, ic_sb_size=1)
    setup(dep)
    cfgs = configs(dep)

    async def main() -> None:
        async with open_shared_ic(cfgs[0]) as ic, \
                trio.open_nursery() as nursery:
            scopes = [trio.CancelScope() for _ in cfgs]
            engines = [SyncEngine(c, ic=ic) for c in cfgs]

            async def run(i: int, *, task_status: trio.TaskStatus[None]) -> None:
                with scopes[i]:
                    await engines[i].run(task_status=task_status)

            for i in range(len(cfgs)):
                await nursery.start(run, i)
            assert all(e.clients["ic_sb"] is ic.clients["ic_sb"] for e in engines)
            assert all(e.replicas["ic_nb"] is ic.replicas["ic_nb"] for e in engines)
            with trio.fail_after(60):
                await all_learned(engines)
            scopes[0].cancel()                       # az1's engine stops
            await trio.sleep(0.2)
            assert engines[0].route_cache.held == 0
            assert engines[1].route_cache.held == 1
            # The shared connections stay open and the others keep syncing: a new subnet
            # of az2 reaches az3 (and az1's NB, which no engine syncs now, does not learn it).
            assert await ic.clients["ic_sb"].echo("still") == ["still"]
            await trio.to_thread.run_sync(lambda: nbctl(
                dep.azs["az2"].nb, "lrp-add", "lr", "lrp-new", "00:00:00:00:02:99",
                "10.99.0.1/24"))
            new = ("10.99.0.1/24", "169.254.100.2")
            with trio.fail_after(60):
                await all_learned(engines, {2: {new}}, skip=0)
            assert new not in learned(engines[0])
            assert all(e.stats.errors == 0 for e in engines)
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_shared_ic_sb_leader_killed_while_engines_write(sandbox: Sandbox) -> None:
    dep = IcDeployment.start(sandbox, azs=AZS, ic_sb_size=3)
    setup(dep)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            leader = await trio.to_thread.run_sync(dep.ic_sb.leader)
            engines: list[SyncEngine] = await nursery.start(run_syncs, configs(dep))
            client = engines[0].clients["ic_sb"]
            assert all(e.clients["ic_sb"] is client for e in engines)
            leader.kill()  # the engines have their replicas and are starting to write
            with trio.fail_after(90):
                await all_learned(engines)
                await client.wait_connected()
                for e in engines:
                    await e.wait_synced()
            routes = [(r["ip_prefix"], r["nexthop"])
                      for r in client_replica(engines[0]).table("Route")]
            assert len(routes) == len(set(routes)) == 15
            assert client.stats.reconnects >= 1 and client.stats.resyncs == 0
            nursery.cancel_scope.cancel()

    trio.run(main)


def client_replica(engine: SyncEngine) -> Replica:
    return engine.replicas["ic_sb"].replica


# --------------------------------------------------------------------------- bad input


def _cfg(**kw: Any) -> SyncConfig:
    base = {"ovnnb_db": "unix:/nb", "ovnsb_db": "unix:/sb", "ic_nb_db": "tcp:127.0.0.1:6645",
            "ic_sb_db": "tcp:127.0.0.1:6646"}
    return SyncConfig(**{**base, **kw})


def test_configs_of_one_group_with_conflicting_options_name_the_field() -> None:
    assert group_configs([_cfg(), _cfg(ovnnb_db="unix:/nb2"),
                          _cfg(ic_sb_db="tcp:127.0.0.1:7000")]) == [[0, 1], [2]]
    with pytest.raises(ConfigError) as caught:
        group_configs([_cfg(), _cfg(ovnnb_db="unix:/nb2", probe_interval=1.0)])
    assert caught.value.field == "configs[1].probe_interval"
    assert "configs[0]" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        group_configs([_cfg(), _cfg(), _cfg(leader_only=False)])
    assert caught.value.field == "configs[2].leader_only"
    with pytest.raises(ConfigError) as caught:
        trio.run(run_syncs, [])
    assert caught.value.field == "configs"


def test_engine_with_shared_connections_to_other_databases_names_the_field() -> None:
    shared = SharedIc(Databases(), {"ic_nb": "tcp:127.0.0.1:6645", "ic_sb": "tcp:127.0.0.1:6646"},
                      Requirements(), ConnectOptions())
    SyncEngine(_cfg(), ic=shared)  # agrees
    with pytest.raises(ConfigError) as caught:
        SyncEngine(_cfg(ic_sb_db="tcp:127.0.0.1:7000"), ic=shared)
    assert caught.value.field == "ic_sb_db"
    with pytest.raises(ConfigError) as caught:
        SyncEngine(_cfg(backoff=None, probe_interval=None), ic=shared)
    assert caught.value.field == "probe_interval"


def test_engine_reading_what_the_shared_replicas_lack_names_it(sandbox: Sandbox) -> None:
    dep = IcDeployment.start(sandbox, azs=AZS[:1], ic_sb_size=1)
    nbctl(dep.azs["az1"].nb, "init")
    extra = Requirements(tables={"ic_sb": {"Route": ("origin", "route_table"),
                                           "Encap": None}})

    def nothing(_snap: Any) -> Plan:
        return Plan()

    cfg = SyncConfig(ovnnb_db=dep.azs["az1"].nb.remote, ovnsb_db=dep.azs["az1"].sb.remote,
                     ic_nb_db=dep.ic_nb.remote, ic_sb_db=dep.ic_sb.remote,
                     extra_planners=(("extra", nothing, extra),))

    async def main() -> None:
        # A pair opened for a config without the extra planner lacks its tables.
        plain = SyncConfig(**{**attrs.asdict(cfg, recurse=False), "extra_planners": ()})
        async with open_shared_ic(plain) as ic:
            with pytest.raises(ConfigError) as caught:
                await SyncEngine(cfg, ic=ic).run(once=True)
            assert caught.value.field == "requirements"
            assert "IC-SB Encap: every column" in str(caught.value)
            async with open_shared_ic(plain, extra=extra) as wider:
                assert wider.requirements.tables_for("ic_sb")["Encap"] is None
            early = SyncEngine(plain, ic=ic)
        # Once the block has ended, its connections are closed: a typed error, before
        # anything is planned or committed through them.
        with pytest.raises(ConfigError) as caught:
            await early.run(once=True)
        assert caught.value.field == "ic" and "block has ended" in str(caught.value)
        with pytest.raises(ConfigError) as caught:
            SyncEngine(plain, ic=ic)
        assert caught.value.field == "ic"
        # open_shared_ic(cfg) and run_syncs replicate the extra planners' tables too.
        async with open_shared_ic(cfg) as own:
            assert own.requirements.tables_for("ic_sb")["Encap"] is None
        stats = await run_syncs([cfg], once=True)
        assert stats[0].settled == 1

    trio.run(main)


def test_engines_of_different_rules_share_one_pair() -> None:
    # 25.03 databases: az1's engine forced to the 23.03 rules, the others detect 25.03;
    # the shared replicas hold the union, and every engine converges.
    with Sandbox(ovn="25.03") as box:
        dep = IcDeployment.start(box, azs=AZS, ic_sb_size=1)
        setup(dep)
        cfgs = configs(dep)
        cfgs[0] = SyncConfig(**{**attrs.asdict(cfgs[0], recurse=False),
                                "rules": rules_for("23.03")})

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                engines: list[SyncEngine] = await nursery.start(run_syncs, cfgs)
                assert [e.rules.release for e in engines] == ["23.03", "25.03", "25.03"]
                with trio.fail_after(60):
                    await all_learned(engines)
                    for e in engines:
                        await e.wait_synced()
                assert all(e.stats.errors == 0 for e in engines)
                nursery.cancel_scope.cancel()

        trio.run(main)


@given(st.lists(st.tuples(st.sampled_from(["tcp:127.0.0.1:1", "tcp:127.0.0.1:2"]),
                          st.sampled_from(["tcp:127.0.0.1:3", "unix:/x"])), max_size=8))
def test_group_configs_partitions_by_ic_remotes_in_order(pairs: list[tuple[str, str]]) -> None:
    cfgs = [_cfg(ic_nb_db=nb, ic_sb_db=sb) for nb, sb in pairs]
    groups = group_configs(cfgs)
    assert sorted(i for g in groups for i in g) == list(range(len(cfgs)))
    for g in groups:
        assert g == sorted(g)
        assert len({pairs[i] for i in g}) == 1
    assert len(groups) == len(set(pairs))
    assert [g[0] for g in groups] == sorted(g[0] for g in groups)


def test_an_engine_error_leaves_run_syncs_as_itself_with_its_own_cause(
        sandbox: Sandbox, tmp_path: Any) -> None:
    """The error of one engine is raised as itself, not in a group and not re-chained:
    its ``__cause__`` is the one it was raised with (as with ``run_sync``)."""
    dep = IcDeployment.start(sandbox, azs=AZS[:1], ic_sb_size=1)
    nbctl(dep.azs["az1"].nb, "init")
    nbctl(dep.azs["az1"].nb, "set", "NB_Global", ".", "name=az1")  # planners run

    def broken(_snap: Any) -> Plan:
        raise ValueError("the planner broke") from KeyError("the row it wanted")

    cfg = SyncConfig(ovnnb_db=dep.azs["az1"].nb.remote, ovnsb_db=dep.azs["az1"].sb.remote,
                     ic_nb_db=dep.ic_nb.remote, ic_sb_db=dep.ic_sb.remote,
                     extra_planners=(("broken", broken, Requirements()),))
    unreachable = SyncConfig(ovnnb_db=f"unix:{tmp_path}/nb.sock",
                             ovnsb_db=f"unix:{tmp_path}/sb.sock",
                             ic_nb_db=f"unix:{tmp_path}/ic-nb.sock",
                             ic_sb_db=f"unix:{tmp_path}/ic-sb.sock")

    async def main() -> None:
        with trio.fail_after(60), pytest.raises(ValueError, match="planner broke") as info:
            await run_syncs([cfg], once=True)
        assert isinstance(info.value.__cause__, KeyError)
        with trio.fail_after(60), pytest.raises(UnreachableError) as own:
            await run_sync(unreachable)
        with trio.fail_after(60), pytest.raises(UnreachableError) as shared:
            await run_syncs([unreachable])
        assert own.value.__cause__ is None and shared.value.__cause__ is None
        # The shared pair is opened first: only its databases are named.
        assert [p.split(":")[0] for p in shared.value.problems] == ["IC-NB", "IC-SB"]

    trio.run(main)


def test_configs_of_two_ic_deployments_share_one_pair_per_deployment(sandbox: Sandbox) -> None:
    """``run_syncs`` over the AZs of two IC deployments, their configs interleaved: one
    pair per deployment, the engines in the order of the configs, all converging."""
    first = IcDeployment.start(sandbox, azs=AZS, ic_sb_size=1)
    setup(first)
    with Sandbox() as box:
        second = IcDeployment.start(box, azs=AZS, ic_sb_size=1)
        setup(second)
        cfgs = [c for pair in zip(configs(first), configs(second), strict=True) for c in pair]

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                engines: list[SyncEngine] = await nursery.start(run_syncs, cfgs)
                assert [e.config for e in engines] == cfgs
                ones, twos = engines[0::2], engines[1::2]
                pairs = {id(e.clients["ic_sb"]) for e in ones}, {id(e.clients["ic_sb"])
                                                                for e in twos}
                assert len(pairs[0]) == len(pairs[1]) == 1 and pairs[0] != pairs[1]
                assert all(e.replicas["ic_nb"] is ones[0].replicas["ic_nb"] for e in ones)
                with trio.fail_after(60):
                    await all_learned(ones)
                    await all_learned(twos)
                assert all(e.stats.errors == 0 for e in engines)
                nursery.cancel_scope.cancel()

        trio.run(main)
