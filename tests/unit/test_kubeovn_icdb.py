"""``ovsdb-ic icdb`` without servers: member validation (every problem at once) and the
transit-switch planner of ``--ts-num`` (Kube-OVN's leader checker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import ConfigError
from ovsdb_ic.ic.databases import Requirements, empty_snapshot
from ovsdb_ic.kubeovn.icdb import IcDbConfigError, IcDbMember, plan_transit_switches
from ovsdb_ic.sync.plan import Insert, Plan, simulate

REQ = Requirements(tables={"ic_nb": {"Transit_Switch": None}})


def names(snap: object) -> list[str]:
    return sorted(r["name"] for r in snap.ic_nb.table("Transit_Switch"))  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.sets(st.sampled_from(["ts", "ts1", "ts4", "ts11", "other"])),
       st.sampled_from(["IPv4", "IPv6", "Dual"]))
def test_only_missing_switches_are_created_and_again_is_a_no_op(
    ts_num: int, existing: set[str], protocol: str,
) -> None:
    snap = empty_snapshot(REQ)
    simulate(snap, Plan(tuple(Insert("ic_nb", "Transit_Switch", {"name": n})
                              for n in sorted(existing))))
    plan = plan_transit_switches(snap, ts_num, protocol)  # type: ignore[arg-type]
    wanted = {"ts" if i == 0 else f"ts{i}" for i in range(ts_num)}
    created = {op.values["name"] for op in plan if isinstance(op, Insert)}
    assert created == wanted - existing
    for op in plan:
        assert isinstance(op, Insert) and op.values["external_ids"]["vendor"] == "kube-ovn"
    simulate(snap, plan)
    assert not plan_transit_switches(snap, ts_num, protocol)  # type: ignore[arg-type]
    assert set(names(snap)) == existing | wanted  # nothing deleted


def test_the_subnets_are_kube_ovn_s() -> None:
    snap = empty_snapshot(REQ)
    plan = plan_transit_switches(snap, 2, "Dual")
    assert [op.values for op in plan if isinstance(op, Insert)] == [
        {"name": "ts", "external_ids": {
            "subnet": "169.254.100.0/24,fe80:a9fe:64::/112", "vendor": "kube-ovn"}},
        {"name": "ts1", "external_ids": {
            "subnet": "169.254.101.0/24,fe80:a9fe:65::/112", "vendor": "kube-ovn"}},
    ]
    with pytest.raises(ConfigError):
        plan_transit_switches(snap, 157)


def test_member_validation_names_every_problem(tmp_path: Path) -> None:
    with pytest.raises(IcDbConfigError) as info:
        IcDbMember(tmp_path, local_ip="nope", node_ips="10.0.0.1,10.0.0.1,x",
                   nb_port=6645, sb_port=6645, listen="also-nope", election_timer_ms=5)
    fields = [p.field for p in info.value.problems]
    assert fields == ["--nb-port/--sb-port/--nb-raft-port/--sb-raft-port", "--local-ip",
                      "--node-ips", "--node-ips", "--listen", "--election-timer"]
    member = IcDbMember(tmp_path, local_ip="fd00::5", node_ips=["fd00::5", "fd00::6", "fd00::7"])
    assert member.remotes("sb") == "tcp:[fd00::5]:6646,tcp:[fd00::6]:6646,tcp:[fd00::7]:6646"
    assert member.first_ip == "fd00::5" and member.clustered
    single = IcDbMember(tmp_path / "single", listen="127.0.0.1")
    assert not single.clustered and single.remotes("nb") == "tcp:127.0.0.1:6645"
