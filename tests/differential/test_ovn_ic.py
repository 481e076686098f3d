"""The sync engine against the real C ``ovn-ic`` 23.03 (with ``ovn-northd`` per AZ).

Every test builds a topology (see :mod:`tests.differential.topology`) in fresh
deployments of real servers and daemons, waits until nothing changes for a second, and
compares the normalised states (UUIDs replaced by natural keys, tunnel keys checked for
consistency instead of compared: see :class:`~ovsdb_ic.testing.ovn.IcState`):

* named and generated two- and three-AZ topologies: the C daemon on one deployment, the
  engine on an identical one; the states must be equal;
* interop: one AZ run by the C daemon and the other by the engine (both ways) must reach
  the same state as the C daemons alone;
* failover: the IC-SB leader killed while the engine syncs;
* the spec's 23.03 defect cases: for each, a test showing the C daemon's defect and a
  test showing the engine's correct behaviour.

The candidate agent is the engine (``python -m ovsdb_ic sync``); set
``OVSDB_IC_DIFF_CANDIDATE=ovn-ic`` to run the comparisons C against C, which checks the
harness itself (the defect tests for the engine then fail, as they should).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from ovsdb_ic.testing import IcDeployment, Sandbox
from ovsdb_ic.testing.deployment import AgentKind
from ovsdb_ic.testing.ovn import (
    IcsbRoute,
    IcState,
    NbLearnedRoute,
    NotSettledError,
    daemon_log_tails,
    diff_states,
)
from tests.differential.topology import (
    DEFECTS,
    NAMED,
    Topology,
    build,
    in_parallel,
    rich_two_az,
    run_topology,
    topologies,
)

pytestmark = pytest.mark.integration

CANDIDATE = cast(AgentKind, os.environ.get("OVSDB_IC_DIFF_CANDIDATE", "engine"))
REFERENCE: AgentKind = "ovn-ic"
# A churning 23.03 daemon rewrites rows many times a second; 4 s without a quiet second
# is far beyond what any correct agent needs on these small topologies.
CHURN_TIMEOUT = 4.0


def compare(topology: Topology, *, candidate: AgentKind | dict[str, AgentKind] = CANDIDATE) -> None:
    """Run *topology* with the C daemons and with *candidate*, in parallel; assert equal."""
    reference, result = in_parallel(
        lambda: run_topology(topology, REFERENCE),
        lambda: run_topology(topology, candidate),
    )
    assert isinstance(reference, IcState) and isinstance(result, IcState)
    assert reference.problems == (), reference.problems
    assert result.problems == (), result.problems
    differences = diff_states(reference, result, labels=("ovn-ic", str(candidate)))
    assert differences == [], f"{topology.name}:\n" + "\n".join(differences)
    # A topology that interconnects nothing would compare equal trivially.
    assert reference.port_bindings


# --------------------------------------------------------------------------------------
# The harness itself
# --------------------------------------------------------------------------------------


def test_harness_c_against_c_is_deterministic() -> None:
    """Two C deployments of the richest named topology normalise to the same state, so a
    difference found against the engine is the engine's, not the harness's."""
    compare(rich_two_az(), candidate=REFERENCE)


# --------------------------------------------------------------------------------------
# Differential: named and generated topologies
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_topology_matches_ovn_ic(name: str) -> None:
    """The engine reaches the C daemon's state on each named topology."""
    compare(NAMED[name]())


@settings(
    max_examples=6,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
)
@given(topologies())
def test_generated_topology_matches_ovn_ic(topology: Topology) -> None:
    """Generated 2- and 3-AZ topologies: routers with IPv4/IPv6 networks, 1-3 transit
    switches, route tables, src-ip policies, default routes, ECMP, discard routes, deny
    lists. No shrinking: each example starts two deployments of real daemons, and the
    failing example is printed in full."""
    compare(topology)


# --------------------------------------------------------------------------------------
# Interop: one AZ by the C daemon, the other by the engine
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "agents",
    [{"az1": "ovn-ic", "az2": CANDIDATE}, {"az1": CANDIDATE, "az2": "ovn-ic"}],
    ids=["az1-ovn-ic_az2-engine", "az1-engine_az2-ovn-ic"],
)
def test_interop_mixed_agents_learn_each_other(agents: dict[str, AgentKind]) -> None:
    """Each side learns the other's routes (route tables, ECMP, defaults, two transit
    switches) and the whole settles to the state of the C daemons alone."""
    compare(rich_two_az(), candidate=agents)


# --------------------------------------------------------------------------------------
# Failover while syncing
# --------------------------------------------------------------------------------------


def test_engine_settles_after_ic_sb_leader_killed_mid_sync() -> None:
    """The engine syncs a three-member IC-SB; its leader is killed right after the
    transit switch ports appear; the engine reaches the C daemons' state anyway."""
    topology = rich_two_az()

    def engine_with_failover() -> IcState:
        with Sandbox() as box:
            try:
                deployment = IcDeployment.start(box, azs=topology.az_names, ic_sb_size=3)
                build(deployment, topology, CANDIDATE)
                deployment.ic_sb_leader().kill()
                deployment.ic_sb.wait_for_leader()
                return deployment.settle(timeout=45.0)
            except BaseException as exc:
                exc.add_note(daemon_log_tails(box, 15))
                raise

    reference, result = in_parallel(lambda: run_topology(topology, REFERENCE), engine_with_failover)
    assert isinstance(reference, IcState)
    assert result.problems == ()
    assert diff_states(reference, result, labels=("ovn-ic", "engine")) == []


# --------------------------------------------------------------------------------------
# The 23.03 defect cases
# --------------------------------------------------------------------------------------

CResult = IcState | NotSettledError


@pytest.fixture(scope="module")
def c_defect() -> Iterator[Callable[[str], CResult]]:
    """The C daemon's outcome on a defect topology: its settled state, or the
    :class:`NotSettledError` when it churns. Computed once per topology per module."""
    cache: dict[str, CResult] = {}

    def get(name: str) -> CResult:
        if name not in cache:
            try:
                cache[name] = cast(
                    IcState, run_topology(DEFECTS[name](), REFERENCE, timeout=CHURN_TIMEOUT)
                )
            except NotSettledError as exc:
                cache[name] = exc
        return cache[name]

    yield get


def engine_state(name: str) -> IcState:
    """The candidate's settled state on defect topology *name* (fails if it churns)."""
    state = run_topology(DEFECTS[name](), CANDIDATE)
    assert isinstance(state, IcState)
    assert state.problems == (), state.problems
    return state


def churns(result: CResult) -> NotSettledError:
    """Assert the C daemon never settled (it kept rewriting rows) and return the error."""
    assert isinstance(result, NotSettledError), "the C daemon settled"
    assert result.changes >= 3, f"only {result.changes} changes"
    return result


def last_state(result: CResult) -> IcState:
    """The settled state, or the last reading of a churning run, normalised."""
    if isinstance(result, IcState):
        return result
    last: Any = result.last
    return cast(IcState, last.normalize())


def prefixes(routes: list[IcsbRoute] | list[NbLearnedRoute]) -> set[str]:
    """The ip_prefix of each route."""
    return {r.ip_prefix for r in routes}


def is_v6(prefix: str) -> bool:
    """Whether *prefix* is IPv6."""
    return ":" in prefix


# -- IPv6 deny-list entries -------------------------------------------------------------


def test_defect_ipv6_denylist_ovn_ic_blocks_every_v6_prefix(
    c_defect: Callable[[str], CResult],
) -> None:
    """23.03 treats an IPv6 deny-list entry as matching every IPv6 prefix at least as
    long: az1 neither advertises its own IPv6 network nor learns az2's."""
    state = c_defect("ipv6_denylist")
    assert isinstance(state, IcState)
    assert not {p for p in prefixes(state.routes_of("az1")) if is_v6(p)}
    assert not {p for p in prefixes(state.learned_by("az1")) if is_v6(p)}
    assert "2001:db8:15:1::1/64" in prefixes(state.routes_of("az2"))


def test_defect_ipv6_denylist_engine_blocks_only_prefixes_inside(
    c_defect: Callable[[str], CResult],
) -> None:
    """The engine blocks ``2001:db8:ffff:1::/64`` (inside ``2001:db8:ffff::/48``) only:
    az1 advertises its IPv6 LAN and learns az2's; everything else as the C daemon."""
    c_state = c_defect("ipv6_denylist")
    assert isinstance(c_state, IcState)
    state = engine_state("ipv6_denylist")
    advertised = prefixes(state.routes_of("az1"))
    assert "2001:db8:b:1::1/64" in advertised
    assert "2001:db8:ffff:1::/64" not in advertised
    assert "2001:db8:15:1::1/64" in prefixes(state.learned_by("az1"))
    # Compared with 23.03: the same rows plus exactly those two.
    assert c_state.routes <= state.routes
    assert {(r.availability_zone, r.ip_prefix) for r in state.routes - c_state.routes} == {
        ("az1", "2001:db8:b:1::1/64")
    }
    assert c_state.learned_routes <= state.learned_routes
    assert {(r.az, r.ip_prefix) for r in state.learned_routes - c_state.learned_routes} == {
        ("az1", "2001:db8:15:1::1/64"),
        ("az2", "2001:db8:b:1::1/64"),
    }


# -- Two routers of one AZ on the same transit switch -----------------------------------


def test_defect_two_routers_one_ts_ovn_ic_churns(c_defect: Callable[[str], CResult]) -> None:
    """23.03 advertises per router but deletes every row of the (TS, AZ) that is not the
    current router's: the two routers' routes replace each other forever."""
    churns(c_defect("two_routers_one_ts"))


def test_defect_two_routers_one_ts_engine_advertises_both() -> None:
    """The engine advertises both routers' routes on ts1, and settles."""
    state = engine_state("two_routers_one_ts")
    ts1 = {(r.ip_prefix, r.source) for r in state.routes_of("az1") if r.transit_switch == "ts1"}
    assert ("10.11.1.1/24", ("lrp", "az1-lr1-p1")) in ts1
    assert ("172.17.0.0/16", ("static", "lr1", "", "172.17.0.0/16")) in ts1
    assert ("10.12.1.1/24", ("lrp", "az1-lr2-p1")) in ts1
    assert ("172.27.0.0/16", ("static", "lr2", "", "172.27.0.0/16")) in ts1
    assert {"10.11.1.1/24", "172.17.0.0/16", "10.12.1.1/24", "172.27.0.0/16"} <= prefixes(
        state.learned_by("az2")
    )


# -- Routers of one AZ on a TS learn each other's routes --------------------------------


def test_defect_same_az_routers_ovn_ic_do_not_learn_each_other(
    c_defect: Callable[[str], CResult],
) -> None:
    """23.03 skips every route of its own AZ when learning, so lr1 and lr2 of az1 never
    learn each other's routes (in any reading of its churning run)."""
    state = last_state(c_defect("two_routers_one_ts"))
    assert all(r.learned_from[1] != "az1" for r in state.learned_by("az1"))


def test_defect_same_az_routers_engine_learn_each_other() -> None:
    """The engine skips only the router's own routes (``lr-id``): lr1 learns lr2's routes
    and lr2 learns lr1's, with lr2's / lr1's TS port address as nexthop."""
    state = engine_state("two_routers_one_ts")
    lr1 = {(r.ip_prefix, r.nexthop) for r in state.learned_by("az1", "lr1")}
    lr2 = {(r.ip_prefix, r.nexthop) for r in state.learned_by("az1", "lr2")}
    assert {("10.12.1.1/24", "169.254.100.12"), ("172.27.0.0/16", "169.254.100.12")} <= lr1
    assert {("10.11.1.1/24", "169.254.100.11"), ("172.17.0.0/16", "169.254.100.11")} <= lr2
    assert not {p for p, nh in lr1 if nh == "169.254.100.11"}, "lr1 learned its own routes"
    assert not {p for p, nh in lr2 if nh == "169.254.100.12"}, "lr2 learned its own routes"
    for routes in (state.learned_by("az1", "lr1"), state.learned_by("az1", "lr2")):
        assert {"10.21.1.1/24", "172.18.0.0/16"} <= prefixes(routes)


# -- An IPv6 prefix on an IPv4-only transit port ----------------------------------------


def test_defect_ipv6_on_ipv4_only_ts_port_ovn_ic_churns(
    c_defect: Callable[[str], CResult],
) -> None:
    """23.03 advertises the IPv6 network with the port's link-local nexthop, then deletes
    the row as malformed on the next pass, and again, forever."""
    error = churns(c_defect("ipv6_on_ipv4_only_ts_port"))
    assert error.last is not None


def eui64_link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address of *mac* (universal/local bit flipped)."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    iid = bytes([*b[:3], 0xFF, 0xFE, *b[3:]])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid))


def test_defect_ipv6_on_ipv4_only_ts_port_engine_settles() -> None:
    """The engine advertises az1's IPv6 network with the port's EUI-64 link-local
    nexthop (as the spec says) and keeps that row; az2 does not learn a route with a
    link-local nexthop; everything settles."""
    topology = DEFECTS["ipv6_on_ipv4_only_ts_port"]()
    state = engine_state("ipv6_on_ipv4_only_ts_port")
    port = topology.zone("az1").routers[0].ts_ports[0]
    assert {(r.ip_prefix, r.nexthop) for r in state.routes_of("az1")} == {
        ("10.11.1.1/24", "169.254.100.11"),
        ("172.17.0.0/16", "169.254.100.11"),
        ("2001:db8:b:1::1/64", eui64_link_local(port.mac)),
    }
    assert prefixes(state.learned_by("az2")) == {"10.11.1.1/24", "172.17.0.0/16"}
    assert prefixes(state.learned_by("az1")) == {
        "10.21.1.1/24",
        "172.18.0.0/16",
        "2001:db8:15:1::1/64",
    }


# -- A static route whose prefix is also a router port network --------------------------


def test_defect_static_equals_network_ovn_ic_loses_the_whole_az(
    c_defect: Callable[[str], CResult],
) -> None:
    """23.03 inserts the static and the connected route with the same unique key; IC-SB
    refuses the transaction, and az1 never advertises anything (az2 learns nothing)."""
    state = c_defect("static_equals_network")
    assert isinstance(state, IcState)
    assert state.routes_of("az1") == []
    assert state.learned_by("az2") == []
    assert state.routes_of("az2"), "az2 itself is unaffected"


def test_defect_static_equals_network_engine_advertises_once() -> None:
    """The engine writes one row for ``10.11.9.0/24`` and every other az1 route."""
    state = engine_state("static_equals_network")
    rows = [r for r in state.routes_of("az1") if r.ip_prefix == "10.11.9.0/24"]
    assert len(rows) == 1
    assert rows[0].origin in ("static", "connected")
    assert {"10.11.1.1/24", "172.17.0.0/16", "2001:db8:b:1::1/64", "10.11.9.0/24"} == prefixes(
        state.routes_of("az1")
    )
    assert [r.ip_prefix for r in state.learned_by("az2")].count("10.11.9.0/24") == 1


# -- Identical learned keys from two transit switches ----------------------------------


def test_defect_identical_learned_keys_ovn_ic_relearns_forever(
    c_defect: Callable[[str], CResult],
) -> None:
    """az1 sees ``172.30.0.0/16 via 169.254.100.2`` on ts1 (from az2) and on ts2 (from
    az3); 23.03 matches the first, creates a duplicate for the second, deletes it..."""
    churns(c_defect("identical_learned_keys"))


def test_defect_identical_learned_keys_engine_learns_once() -> None:
    """The engine learns the key once (from either transit switch) and settles."""
    state = engine_state("identical_learned_keys")
    same = [
        r
        for r in state.learned_by("az1")
        if (r.ip_prefix, r.nexthop) == ("172.30.0.0/16", "169.254.100.2")
    ]
    assert len(same) == 1
    assert same[0].learned_from[:2] in (("ts1", "az2"), ("ts2", "az3"))
