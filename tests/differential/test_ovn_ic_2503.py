"""The sync engine against the real C ``ovn-ic`` 25.03 (with ``ovn-northd`` 25.03 per AZ).

The same harness as :mod:`tests.differential.test_ovn_ic` (23.03), on deployments of OVN
25.03.0 from the debootstrap root (``Sandbox(ovn="25.03")``: servers, ``ovn-northd``, the
C ``ovn-ic`` and the ``*ctl`` tools all 25.03): the real daemons on one deployment, the
engine (``python -m ovsdb_ic sync``) on an identical one; the normalised IC-SB rows and NB
learned routes must be equal, and, since 25.03 writes it, so must the router each IC-SB
route names in ``external_ids:lr-id`` (23.03's comparison leaves ``lr-id`` out).

* the harness itself (C against C), the named and generated topologies on which 23.03
  is a valid reference (they use only 23.03 features), and mixed deployments (one AZ
  by the C 25.03 daemon, the other by the engine, both ways);
* what 25.03 does that 23.03 does not, one test each, so that a feature the engine
  lacks shows up as a failing test named after it: several routers of one AZ on one
  transit switch and learning between them, ``ic-route-denylist`` (with
  ``ic-route-blacklist`` as the fallback), route tags, ``ovn-ic-nbctl --wait=sb sync``,
  ``other_config:ic-vxlan_mode`` on NB transit switches, and the two 23.03 defects that
  25.03.0 fixed (IPv6 deny-list entries, several routers on one transit switch);
* the three 23.03 defects that 25.03.0 still has (it churns on identical learned keys
  and on an IPv6 network behind an IPv4-only transit port, and loses the whole AZ on a
  static route equal to a port network): these check the C daemon only, since it is no
  reference there.

``OVSDB_IC_DIFF_CANDIDATE=ovn-ic`` runs every comparison C against C, which checks the
harness: every test must pass then.
"""

from __future__ import annotations

import os
import subprocess
from typing import cast

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from ovsdb_ic.testing import IcDeployment
from ovsdb_ic.testing.deployment import AgentKind
from ovsdb_ic.testing.ovn import IcState, NotSettledError, diff_states
from tests.differential.topology import (
    DEFECTS,
    NAMED,
    Router,
    StaticRoute,
    Topology,
    _lan,
    basic_two_az,
    in_parallel,
    rich_two_az,
    run_topology,
    topologies,
    ts_port,
)

pytestmark = pytest.mark.integration

OVN = "25.03"
CANDIDATE = cast(AgentKind, os.environ.get("OVSDB_IC_DIFF_CANDIDATE", "engine"))
REFERENCE: AgentKind = "ovn-ic"


def route_owners(state: IcState) -> set[tuple[tuple[str, str, str, str, str], str | None]]:
    """Each IC-SB route's key with the router its ``lr-id`` names (25.03 sets it)."""
    return {(r.key, r.lr) for r in state.routes}


def compare(
    topology: Topology, *, candidate: AgentKind | dict[str, AgentKind] = CANDIDATE
) -> IcState:
    """Run *topology* on OVN 25.03 with the C daemons and with *candidate*, in parallel;
    assert the states are equal, ``lr-id`` included. Returns the reference state."""
    reference, result = in_parallel(
        lambda: run_topology(topology, REFERENCE, ovn=OVN),
        lambda: run_topology(topology, candidate, ovn=OVN),
    )
    assert isinstance(reference, IcState) and isinstance(result, IcState)
    assert reference.problems == (), reference.problems
    assert result.problems == (), result.problems
    labels = ("ovn-ic 25.03", str(candidate))
    differences = diff_states(reference, result, labels=labels)
    for key, lr in sorted(route_owners(reference) - route_owners(result), key=repr):
        differences.append(f"lr-id: only in {labels[0]}: route {key} of router {lr}")
    for key, lr in sorted(route_owners(result) - route_owners(reference), key=repr):
        differences.append(f"lr-id: only in {labels[1]}: route {key} of router {lr}")
    assert differences == [], f"{topology.name}:\n" + "\n".join(differences)
    assert reference.port_bindings
    return reference


# --------------------------------------------------------------------------------------
# The harness, named and generated topologies (23.03 features only)
# --------------------------------------------------------------------------------------


def test_2503_harness_c_against_c_is_deterministic() -> None:
    """Two C 25.03 deployments of the richest named topology normalise alike, and the
    25.03 daemon writes ``lr-id`` on every route it advertises."""
    state = compare(rich_two_az(), candidate=REFERENCE)
    assert state.routes and all(r.lr is not None for r in state.routes)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_2503_named_topology_matches_ovn_ic(name: str) -> None:
    """The engine reaches the C 25.03 daemon's state on each named topology."""
    compare(NAMED[name]())


@settings(
    max_examples=4,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
)
@given(topologies())
def test_2503_generated_topology_matches_ovn_ic(topology: Topology) -> None:
    """Generated 2- and 3-AZ topologies (those on which 23.03 is a valid reference) on
    25.03: no shrinking, the failing example is printed in full."""
    compare(topology)


@pytest.mark.parametrize(
    "agents",
    [{"az1": "ovn-ic", "az2": CANDIDATE}, {"az1": CANDIDATE, "az2": "ovn-ic"}],
    ids=["az1-ovn-ic_az2-engine", "az1-engine_az2-ovn-ic"],
)
def test_2503_interop_mixed_agents_settle_to_the_c_state(agents: dict[str, AgentKind]) -> None:
    """One AZ by the C 25.03 daemon, the other by the engine: each learns the other's
    routes (25.03 learns only routes with an ``lr-id``) and the whole settles to the
    state of the C daemons alone."""
    compare(rich_two_az(), candidate=agents)


# --------------------------------------------------------------------------------------
# What 25.03 does beyond 23.03
# --------------------------------------------------------------------------------------


def two_routers_one_ts(name: str, *, tag: str = "", filter_tag: str = "") -> Topology:
    """az1 has lr1 and lr2 on ts1 (lr1's port tagged *tag*, lr2's filtering
    *filter_tag*); az2 has lr1 on ts1."""
    base = basic_two_az()
    az1 = base.zone("az1")
    lr1 = az1.routers[0]
    lr1 = attrs.evolve(lr1, ts_ports=(attrs.evolve(lr1.ts_ports[0], route_tag=tag),))
    lr2 = Router(
        name="lr2",
        ports=(_lan(1, 2, 1),),
        ts_ports=(ts_port(0, "ts1", 1, 2, gateway="gw1-az1", route_filter_tag=filter_tag),),
        routes=(StaticRoute("172.27.0.0/16", "10.12.1.254"),),
    )
    az1 = attrs.evolve(az1, routers=(lr1, lr2))
    return Topology(name, base.transit_switches, (az1, base.zone("az2")))


def test_2503_several_routers_of_one_az_on_one_ts() -> None:
    """25.03 (23.09+) advertises the routes of every router of an AZ on a transit switch
    and its routers learn each other's routes (skipping only their own, by ``lr-id``)."""
    state = compare(two_routers_one_ts("two_routers_one_ts_2503"))
    lr1 = {r.ip_prefix for r in state.learned_by("az1", "lr1")}
    lr2 = {r.ip_prefix for r in state.learned_by("az1", "lr2")}
    assert {"10.12.1.1/24", "172.27.0.0/16"} <= lr1
    assert {"10.11.1.1/24", "172.17.0.0/16"} <= lr2


def test_2503_route_tags_filter_learning() -> None:
    """LRP ``options:ic-route-tag`` marks lr1's advertised routes
    (``external_ids:ic-route-tag``); lr2's LRP ``options:ic-route-filter-tag`` with the
    same tag keeps lr2 from learning them (25.03)."""
    state = compare(two_routers_one_ts("route_tags_2503", tag="blue", filter_tag="blue"))
    tagged = [r for r in state.routes_of("az1") if dict(r.external_ids).get("ic-route-tag")]
    assert tagged and all(dict(r.external_ids)["ic-route-tag"] == "blue" for r in tagged)
    assert not {"10.11.1.1/24", "172.17.0.0/16"} & {
        r.ip_prefix for r in state.learned_by("az1", "lr2")
    }


@pytest.mark.parametrize("key", ["ic-route-denylist", "ic-route-blacklist"])
def test_2503_denylist_option_names(key: str) -> None:
    """25.03 reads ``ic-route-denylist`` (24.09 rename), ``ic-route-blacklist`` only
    when the new key is unset."""
    base = rich_two_az()
    zones = tuple(attrs.evolve(z, denylist_key=key) for z in base.zones)
    state = compare(Topology(f"denylist_{key}", base.transit_switches, zones))
    assert "172.31.5.0/24" not in {r.ip_prefix for r in state.routes_of("az1")}


@pytest.mark.parametrize("name", ["ipv6_denylist", "two_routers_one_ts"])
def test_2503_fixed_23_03_defect_matches_ovn_ic(name: str) -> None:
    """23.03 defects that 25.03.0 fixed (IPv6 deny-list entries match only prefixes
    inside them; several routers of an AZ on one transit switch): the engine must make
    the 25.03 daemon's decisions."""
    compare(DEFECTS[name]())


def c_2503(name: str) -> IcState | NotSettledError:
    """The C 25.03 daemon's settled state on defect topology *name*, or the
    :class:`NotSettledError` when it churns."""
    try:
        return cast(IcState, run_topology(DEFECTS[name](), REFERENCE, ovn=OVN, timeout=8.0))
    except NotSettledError as exc:
        return exc


@pytest.mark.parametrize("name", ["identical_learned_keys", "ipv6_on_ipv4_only_ts_port"])
def test_2503_ovn_ic_still_churns_on(name: str) -> None:
    """25.03.0 still has these 23.03 defects: it never settles (it deletes and re-creates
    rows forever), so it is no reference there; the engine's own behaviour is checked by
    the 23.03 suite's defect tests."""
    result = c_2503(name)
    assert isinstance(result, NotSettledError), f"ovn-ic 25.03 settled on {name}"
    assert result.changes >= 3


def test_2503_ovn_ic_still_loses_the_az_on_static_equals_network() -> None:
    """25.03.0 still inserts the static and the connected route with one unique key:
    IC-SB refuses the transaction and az1 advertises nothing (nor binds its gateway)."""
    state = c_2503("static_equals_network")
    assert isinstance(state, IcState)
    assert state.routes_of("az1") == [] and state.learned_by("az2") == []
    assert state.routes_of("az2")


def test_2503_transit_switches_carry_vxlan_mode() -> None:
    """25.03 sets ``other_config:ic-vxlan_mode`` on each AZ's NB transit switch
    (``false`` unless a gateway uses VXLAN): every comparison above fails on it until the
    engine writes it too; this test names it."""
    state = compare(basic_two_az())
    assert all(dict(ts.other_config).get("ic-vxlan_mode") == "false"
               for ts in state.transit_switches)  # fmt: skip


def test_2503_wait_sb_sync_returns() -> None:
    """``ovn-ic-nbctl --wait=sb sync`` (24.03) returns once every AZ's agent has synced
    (``nb_ic_cfg`` / ``sb_ic_cfg``)."""

    def wait_sync(deployment: IcDeployment, _state: IcState) -> subprocess.CompletedProcess[str]:
        argv = [
            *deployment.ovn.command("ovn-ic-nbctl"),
            f"--db={deployment.ic_nb.remote}",
            "--wait=sb",
            "--timeout=10",
            "sync",
        ]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30)

    for agents in (REFERENCE, CANDIDATE):
        done = run_topology(basic_two_az(), agents, ovn=OVN, then=wait_sync)
        assert isinstance(done, subprocess.CompletedProcess)
        assert done.returncode == 0, f"{agents}: --wait=sb sync failed: {done.stderr.strip()}"
