"""Integration tests of :mod:`ovsdb_ic.testing.ovn`: real ``ovn-northd`` and ``ovn-ic``
processes in sandboxes, the ``ovn-controller`` stand-ins, and reading the IC state back.

Never skipped: without the binaries the fixtures raise SandboxError.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from ovsdb_ic.errors import SandboxError
from ovsdb_ic.testing import (
    IcDeployment,
    IcDump,
    NotSettledError,
    Sandbox,
    add_chassis,
    bind_port,
    diff_states,
    query,
    schema_path,
    settle,
    start_engine,
    start_northd,
)
from ovsdb_ic.testing.ovn import (
    Ref,
    as_map,
    as_set,
    daemon_log_tails,
    ovn_ic_nbctl,
    ovn_nbctl,
    sandbox_daemons,
    wait_for,
)

pytestmark = pytest.mark.integration


def gone(pid: int) -> bool:
    """Whether no process *pid* exists any more (reaped, not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def nb_sb(sandbox: Sandbox) -> tuple[str, str]:
    """Start a standalone NB and SB and return their remotes."""
    nb = sandbox.start_server(schema_path("nb"), name="nb")
    sb = sandbox.start_server(schema_path("sb"), name="sb")
    return nb.remote, sb.remote


# --------------------------------------------------------------------------------------
# Launchers
# --------------------------------------------------------------------------------------


def test_northd_runs_with_control_socket_pidfile_and_log(sandbox: Sandbox) -> None:
    nb, sb = nb_sb(sandbox)
    northd = start_northd(sandbox, nb=nb, sb=sb, name="northd")
    assert northd.running and northd.kind == "ovn-northd"
    assert "Status: active" in northd.appctl("status")
    assert northd.pid_path is not None and northd.log_path is not None
    wait_for(northd.pid_path.exists, what="the pidfile")
    assert int(northd.pid_path.read_text()) == northd.pid
    assert northd.log_path.exists()
    # It really works on the databases: an NB router becomes an SB datapath.
    ovn_nbctl(nb, "init", "--", "lr-add", "lr1")
    wait_for(
        lambda: bool(
            query(sb, "OVN_Southbound", {"Datapath_Binding": ["external_ids"]})["Datapath_Binding"]
        ),
        what="the router's SB datapath",
    )
    assert northd.cpu_seconds() >= 0.0
    pid = northd.pid
    sandbox.close()
    assert gone(pid)


def test_daemons_are_stopped_on_close_even_when_sigstopped(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "s")
    nb, sb = nb_sb(box)
    northd = start_northd(box, nb=nb, sb=sb, name="northd")
    northd.stop()
    assert northd.stopped
    with pytest.raises(SandboxError, match="SIGSTOPped"):
        northd.appctl("status")
    pid = northd.pid
    box.close()
    assert gone(pid)
    assert not (tmp_path / "s").exists()


def test_daemon_files_are_removed_from_a_given_directory(tmp_path: Path) -> None:
    """A sandbox in an existing directory removes only what it created, daemons' too."""
    keep = tmp_path / "mine.txt"
    keep.write_text("x")
    box = Sandbox(tmp_path)
    nb, sb = nb_sb(box)
    northd = start_northd(box, nb=nb, sb=sb, name="northd")
    files = northd.files()
    wait_for(lambda: northd.log_path is not None and northd.log_path.exists(), what="log")
    box.close()
    assert keep.exists()
    assert not [f for f in files if f.exists()]


def test_a_dead_daemon_is_reported_with_its_log(sandbox: Sandbox) -> None:
    nb, sb = nb_sb(sandbox)
    northd = start_northd(sandbox, nb=nb, sb=sb, name="northd")
    northd.check()
    northd.kill()
    assert northd.returncode == -9
    with pytest.raises(SandboxError, match="ovn-northd northd exited"):
        northd.check()
    northd.restart()
    northd.check()
    assert "Status: active" in northd.appctl("status")


def test_names_are_unique_across_servers_and_daemons(sandbox: Sandbox) -> None:
    nb, sb = nb_sb(sandbox)
    with pytest.raises(SandboxError, match="already exists"):
        start_northd(sandbox, nb=nb, sb=sb, name="nb")
    start_northd(sandbox, nb=nb, sb=sb, name="northd")
    with pytest.raises(SandboxError, match="already exists"):
        start_northd(sandbox, nb=nb, sb=sb, name="northd")
    with pytest.raises(SandboxError, match="invalid daemon name"):
        start_northd(sandbox, nb=nb, sb=sb, name="../x")
    assert [d.name for d in sandbox_daemons(sandbox)] == ["northd"]


def test_engine_launcher_passes_the_cli_contract(sandbox: Sandbox) -> None:
    """``python -m ovsdb_ic sync --ovnnb-db ...`` with this checkout: an unknown option
    makes argparse exit with status 2, which check() reports with the output."""
    nb, sb = nb_sb(sandbox)
    engine = start_engine(
        sandbox, nb=nb, sb=sb, ic_nb=nb, ic_sb=sb, name="engine", extra_args=["--no-such"]
    )
    assert engine.kind == "engine" and engine.ctl_path is None
    assert engine.argv[1:4] == ("-m", "ovsdb_ic", "sync")
    assert f"--ovnnb-db={nb}" in engine.argv
    assert engine.wait(timeout=60) == 2
    with pytest.raises(SandboxError, match="no-such"):
        engine.check()
    assert "usage" in daemon_log_tails(sandbox)


# --------------------------------------------------------------------------------------
# Stand-ins for ovn-controller
# --------------------------------------------------------------------------------------


def test_add_chassis_and_bind_port(sandbox: Sandbox) -> None:
    nb, sb = nb_sb(sandbox)
    start_northd(sandbox, nb=nb, sb=sb, name="northd")
    add_chassis(
        sb,
        "gw1",
        encaps=[("geneve", "192.168.0.1"), ("vxlan", "192.168.0.1")],
        hostname="gw1.example",
    )
    add_chassis(sb, "hv1", encaps=[("geneve", "192.168.0.2")], interconn=False)
    ovn_nbctl(
        nb, "init", "--", "lr-add", "lr1",
        "--", "lrp-add", "lr1", "lrp1", "0a:00:00:00:00:01", "169.254.100.1/24",
        "--", "lrp-set-gateway-chassis", "lrp1", "gw1", "100",
    )  # fmt: skip
    bind_port(sb, "cr-lrp1", "gw1")
    rows = query(
        sb,
        "OVN_Southbound",
        {"Chassis": None, "Encap": None, "Port_Binding": ["logical_port", "chassis"]},
    )
    chassis = {c["name"]: c for c in rows["Chassis"]}
    assert as_map(chassis["gw1"]["other_config"])["is-interconn"] == "true"
    assert "is-interconn" not in as_map(chassis["hv1"]["other_config"])
    assert chassis["gw1"]["hostname"] == "gw1.example"
    encaps = {e["_uuid"]: e for e in rows["Encap"]}
    assert {(encaps[r]["type"], encaps[r]["ip"]) for r in as_set(chassis["gw1"]["encaps"])} == {
        ("geneve", "192.168.0.1"),
        ("vxlan", "192.168.0.1"),
    }
    bound = {p["logical_port"]: p["chassis"] for p in rows["Port_Binding"]}
    assert bound["cr-lrp1"] == chassis["gw1"]["_uuid"]
    with pytest.raises(SandboxError, match="cr-nope"):
        bind_port(sb, "cr-nope", "gw1", timeout=0.3)


def test_query_decodes_uuids_sets_and_maps(sandbox: Sandbox) -> None:
    nb, _ = nb_sb(sandbox)
    ovn_nbctl(
        nb, "init", "--", "set", "NB_Global", ".", "options:a=1", "options:b=2",
        "--", "lr-add", "lr1",
        "--", "lrp-add", "lr1", "p1", "0a:00:00:00:00:01", "10.0.0.1/24",
        "--", "lrp-add", "lr1", "p2", "0a:00:00:00:00:02", "10.0.1.1/24", "10.0.2.1/24",
    )  # fmt: skip
    rows = query(
        nb,
        "OVN_Northbound",
        {"NB_Global": ["options"], "Logical_Router": None, "Logical_Router_Port": None},
        where={"Logical_Router_Port": [["name", "==", "p2"]]},
    )
    assert rows["NB_Global"] == [{"options": {"a": "1", "b": "2"}}]
    (router,) = rows["Logical_Router"]
    assert isinstance(router["_uuid"], Ref)
    assert len(as_set(router["ports"])) == 2
    (port,) = rows["Logical_Router_Port"]
    assert port["_uuid"] in as_set(router["ports"])
    assert as_set(port["networks"]) == {"10.0.1.1/24", "10.0.2.1/24"}
    assert as_set("x") == {"x"}


# --------------------------------------------------------------------------------------
# Deployments with daemons
# --------------------------------------------------------------------------------------


def configure_az(deployment: IcDeployment, az: str, index: int) -> None:
    """Name the AZ, enable routing, register one gateway."""
    zone = deployment.azs[az]
    ovn_nbctl(
        zone.nb.remote, "init", "--", "set", "NB_Global", ".", f"name={az}",
        "options:ic-route-adv=true", "options:ic-route-learn=true", ovn=deployment.ovn,
    )  # fmt: skip
    add_chassis(
        zone.sb.remote, f"gw-{az}", encaps=[("geneve", f"192.168.0.{index}")], ovn=deployment.ovn
    )


def test_deployment_runs_northd_and_ovn_ic_per_az(ovn_sandbox: Sandbox) -> None:
    deployment = IcDeployment.start(ovn_sandbox, ic_sb_size=1, northd=True, agents="ovn-ic")
    assert set(deployment.northd) == set(deployment.agents) == {"az1", "az2"}
    assert {d.kind for d in deployment.agents.values()} == {"ovn-ic"}
    for i, az in enumerate(deployment.azs, 1):
        configure_az(deployment, az, i)
    ovn_ic_nbctl(deployment.ic_nb.remote, "ts-add", "ts1", ovn=deployment.ovn)
    state = deployment.settle()
    assert state.availability_zones == {"az1", "az2"}
    assert {(g.name, g.availability_zone) for g in state.gateways} == {
        ("gw-az1", "az1"),
        ("gw-az2", "az2"),
    }
    assert {(c.az, c.name) for c in state.remote_chassis} == {
        ("az1", "gw-az2"),
        ("az2", "gw-az1"),
    }
    assert {(s.az, s.name) for s in state.transit_switches} == {("az1", "ts1"), ("az2", "ts1")}
    assert [ts for ts, _ in state.datapath_bindings] == ["ts1"]
    assert state.problems == ()
    components = {c.component: c for c in deployment.components()}
    assert components["az1-northd"].role == "ovn-northd"
    assert components["az2-ovn-ic"].role == "ovn-ic"
    assert components["az2-ovn-ic"].pid == deployment.agents["az2"].pid
    assert "az1-ovn-ic" in deployment.describe()
    assert "Status: active" in deployment.agents["az1"].appctl("status")


def test_second_ovn_ic_is_standby_until_the_active_one_dies(ovn_deployment: IcDeployment) -> None:
    """Two agents for one AZ: the ``ovn_ic`` lock lets one act, the other takes over."""
    active = ovn_deployment.start_ovn_ic("az1")
    standby = ovn_deployment.start_agent("az1", "ovn-ic", name="az1-ovn-ic-2")
    assert ovn_deployment.other_agents == [standby]
    assert "az1-ovn-ic-2" in {c.component for c in ovn_deployment.components()}
    wait_for(lambda: "standby" in standby.appctl("status"), what="a standby")
    assert "active" in active.appctl("status")
    with pytest.raises(SandboxError, match="already runs"):
        ovn_deployment.start_ovn_ic("az1")
    active.kill()
    wait_for(lambda: "active" in standby.appctl("status"), what="the standby taking over")
    # Restarting the recorded agent reuses its Daemon (same name, files).
    ovn_deployment.start_ovn_ic("az1")
    assert ovn_deployment.agents["az1"] is active and active.running
    wait_for(lambda: "standby" in active.appctl("status"), what="the old one as standby")


def test_settle_fails_fast_when_an_agent_dies(ovn_deployment: IcDeployment) -> None:
    agent = ovn_deployment.start_ovn_ic("az2")
    agent.kill()
    started = time.monotonic()
    with pytest.raises(SandboxError, match="az2-ovn-ic exited"):
        ovn_deployment.settle(timeout=20)
    assert time.monotonic() - started < 5


def test_stop_agent_and_the_once_guard(ovn_deployment: IcDeployment) -> None:
    with pytest.raises(SandboxError, match="only the engine"):
        ovn_deployment.start_agent("az1", "ovn-ic", once=True)
    with pytest.raises(SandboxError, match="no availability zone"):
        ovn_deployment.start_ovn_ic("az9")
    agent = ovn_deployment.start_ovn_ic("az1")
    ovn_deployment.stop_agent("az1")
    assert not agent.running
    ovn_deployment.check_daemons()  # stopped on purpose: not a death
    assert ovn_deployment.start_ovn_ic("az1") is agent and agent.running
    agent.kill()
    with pytest.raises(SandboxError, match="az1-ovn-ic exited"):
        ovn_deployment.check_daemons()


# --------------------------------------------------------------------------------------
# settle and normalisation (no servers)
# --------------------------------------------------------------------------------------


def test_settle_waits_for_a_quiet_period() -> None:
    values = iter([1, 2, 3])

    def read() -> int:
        return next(values, 3)

    started = time.monotonic()
    assert settle(read, quiet=0.2, interval=0.01, timeout=5) == 3
    assert time.monotonic() - started >= 0.2


def test_settle_gives_up_on_a_reading_that_keeps_changing() -> None:
    counter = itertools.count()
    with pytest.raises(NotSettledError) as info:
        settle(lambda: next(counter), quiet=0.2, interval=0.01, timeout=0.5)
    assert info.value.changes >= 10
    assert isinstance(info.value.last, int)


def test_settle_retries_a_failing_reading() -> None:
    calls = itertools.count()

    def read() -> str:
        if next(calls) < 3:
            raise SandboxError("not yet")
        return "ok"

    assert settle(read, quiet=0.05, interval=0.01, timeout=5) == "ok"
    with pytest.raises(NotSettledError, match="last error: never"):
        settle(_raise_never, quiet=0.05, interval=0.01, timeout=0.2)


def _raise_never() -> None:
    raise SandboxError("never")


def _uuid(n: int) -> Ref:
    return Ref(f"00000000-0000-0000-0000-{n:012d}")


def small_dump(*, dp_keys: tuple[int, int], ts_requested: str, nb_id: Ref) -> IcDump:
    """A hand-made dump: two transit switches, one AZ with one router and one route."""
    az = _uuid(1)
    router, lrp, ls = _uuid(10), _uuid(11), _uuid(12)
    return IcDump(
        ic_sb={
            "Availability_Zone": [{"_uuid": az, "name": "az1"}],
            "Datapath_Binding": [
                {"transit_switch": "ts1", "tunnel_key": dp_keys[0], "external_ids": {}},
                {"transit_switch": "ts2", "tunnel_key": dp_keys[1], "external_ids": {}},
            ],
            "Port_Binding": [],
            "Route": [
                {
                    "_uuid": _uuid(2),
                    "availability_zone": az,
                    "transit_switch": "ts1",
                    "route_table": "",
                    "ip_prefix": "10.0.0.1/24",
                    "nexthop": "169.254.100.1",
                    "origin": "connected",
                    "external_ids": {"nb-id": nb_id.uuid, "lr-id": router.uuid},
                }
            ],
            "Gateway": [],
            "Encap": [],
        },
        ic_nb={"Transit_Switch": [{"name": "ts1"}, {"name": "ts2"}]},
        nb={
            "az1": {
                "NB_Global": [{"name": "az1", "options": {}}],
                "Logical_Router": [
                    {"_uuid": router, "name": "lr1", "ports": lrp, "static_routes": frozenset()}
                ],
                "Logical_Router_Port": [
                    {"_uuid": lrp, "name": "p1", "networks": "10.0.0.1/24", "options": {}}
                ],
                "Logical_Router_Static_Route": [],
                "Logical_Switch": [
                    {
                        "_uuid": ls,
                        "name": "ts1",
                        "ports": frozenset(),
                        "other_config": {
                            "interconn-ts": "ts1",
                            "requested-tnl-key": ts_requested,
                        },
                    }
                ],
                "Logical_Switch_Port": [],
            }
        },
        sb={"az1": {"Chassis": [], "Encap": [], "Port_Binding": []}},
    )


def test_normalize_resolves_uuids_to_natural_keys() -> None:
    state = small_dump(
        dp_keys=(16711682, 16711683), ts_requested="16711682", nb_id=_uuid(11)
    ).normalize()
    assert state.problems == ()
    (route,) = state.routes
    assert route.source == ("lrp", "p1")
    assert route.lr == "lr1"
    assert route.key == ("ts1", "az1", "", "10.0.0.1/24", "169.254.100.1")
    assert {ts for ts, _ in state.datapath_bindings} == {"ts1", "ts2"}


def test_normalize_reports_key_and_reference_problems() -> None:
    dump = small_dump(dp_keys=(16711682, 16711682), ts_requested="5", nb_id=_uuid(99))
    state = dump.normalize()
    text = "\n".join(state.problems)
    assert "share tunnel key 16711682" in text
    assert "requested-tnl-key 5 != 16711682" in text
    (route,) = state.routes
    assert route.source == ("<dangling>",)
    good = small_dump(
        dp_keys=(16711682, 16711683), ts_requested="16711682", nb_id=_uuid(11)
    ).normalize()
    lines = diff_states(good, state, labels=("good", "bad"))
    assert any(line.startswith("routes: only in bad") for line in lines)
    assert any(line.startswith("problems:") for line in lines)
    assert (
        dump.fingerprint()
        != small_dump(
            dp_keys=(16711682, 16711683), ts_requested="16711682", nb_id=_uuid(11)
        ).fingerprint()
    )
    assert dump.fingerprint() == dump.fingerprint()
