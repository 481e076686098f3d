"""Kube-OVN's learned-route policies (priority 29500, allow) on simulated replicas: what
the planner writes, idempotence for any mix of routes and stale policies, teardown, and
the ``lr-policy-list`` rendering."""

from __future__ import annotations

import random
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.ic.databases import Snapshot, empty_snapshot
from ovsdb_ic.kubeovn import REQUIREMENTS as ESTABLISH_REQUIREMENTS
from ovsdb_ic.kubeovn import plan_teardown
from ovsdb_ic.kubeovn.policies import (
    POLICY_PRIORITY,
    REQUIREMENTS,
    plan_learned_route_policies,
    policy_match,
    render_policy_list,
)
from ovsdb_ic.replica import Row
from ovsdb_ic.sync.plan import Insert, Mutate, Plan, simulate
from ovsdb_ic.wire.data import NamedUUID

_rng = random.Random(29500)


def new_uuid() -> uuid.UUID:
    return uuid.UUID(int=_rng.getrandbits(128), version=4)


def fresh() -> Snapshot:
    return empty_snapshot(REQUIREMENTS | ESTABLISH_REQUIREMENTS)


def router(snap: Snapshot, name: str = "ovn-cluster") -> Row:
    return next(r for r in snap.nb.table("Logical_Router") if r["name"] == name)


def add_router(snap: Snapshot, name: str = "ovn-cluster") -> None:
    simulate(snap, Plan((Insert("nb", "Logical_Router", {"name": name}),)), new_uuid=new_uuid)


def add_child(snap: Snapshot, table: str, column: str, lr: str, values: dict[str, Any]) -> None:
    simulate(snap, Plan((
        Insert("nb", table, values, name="row"),
        Mutate("nb", "Logical_Router", router(snap, lr).uuid, column,
               frozenset({NamedUUID("row")})),
    )), new_uuid=new_uuid)


def add_route(snap: Snapshot, prefix: str, origin: str | None, lr: str = "ovn-cluster") -> None:
    options = {} if origin is None else {"origin": origin}
    add_child(snap, "Logical_Router_Static_Route", "static_routes", lr,
              {"ip_prefix": prefix, "nexthop": "169.254.100.2", "options": options})


def add_policy(snap: Snapshot, match: str, priority: int = POLICY_PRIORITY,
               lr: str = "ovn-cluster", **external_ids: str) -> None:
    add_child(snap, "Logical_Router_Policy", "policies", lr,
              {"priority": priority, "match": match, "action": "allow",
               "external_ids": external_ids})


def drop_routes(snap: Snapshot, lr: str = "ovn-cluster") -> None:
    r = router(snap, lr)
    simulate(snap, Plan((Mutate("nb", "Logical_Router", r.uuid, "static_routes", frozenset(),
                                frozenset(r["static_routes"])),)), new_uuid=new_uuid)


def policies(snap: Snapshot, lr: str = "ovn-cluster") -> set[tuple[int, str, str, str]]:
    view = snap.nb.table("Logical_Router_Policy")
    out = set()
    for u in router(snap, lr)["policies"]:
        p = view.get(u)
        assert p is not None
        out.add((p["priority"], p["match"], p["action"],
                 ",".join(f"{k}={v}" for k, v in sorted(p["external_ids"].items()))))
    return out


def converge(snap: Snapshot, lr: str = "ovn-cluster") -> Plan:
    plan = plan_learned_route_policies(snap, lr)
    simulate(snap, plan, new_uuid=new_uuid)
    again = plan_learned_route_policies(snap, lr)
    assert not again, again.describe()
    return plan


def test_one_allow_policy_per_learned_prefix_and_origin() -> None:
    snap = fresh()
    add_router(snap)
    add_router(snap, "other")
    add_route(snap, "10.17.0.0/16", "connected")
    add_route(snap, "10.17.0.0/16", "connected")  # ECMP: one policy
    add_route(snap, "10.18.0.0/16", "static")
    add_route(snap, "fd00:17::/64", "connected")
    add_route(snap, "10.19.0.0/16", "")
    add_route(snap, "10.99.0.0/16", None)  # not learned: no policy
    add_route(snap, "10.20.0.0/16", "connected", lr="other")  # not the cluster router
    plan = converge(snap)
    assert len(plan) == 5
    assert policies(snap) == {
        (29500, "ip4.dst == 10.17.0.0/16", "allow", "origin=connected,vendor=kube-ovn"),
        (29500, "ip6.dst == fd00:17::/64", "allow", "origin=connected,vendor=kube-ovn"),
        (29500, "ip4.dst == 10.18.0.0/16", "allow", "origin=static,vendor=kube-ovn"),
        (29500, "ip4.dst == 10.19.0.0/16", "allow", "origin=,vendor=kube-ovn"),
    }
    assert policies(snap, "other") == set()


def test_policies_go_with_their_routes_and_others_are_left_alone() -> None:
    snap = fresh()
    add_router(snap)
    add_route(snap, "10.17.0.0/16", "connected")
    add_policy(snap, "ip4.dst == 10.66.0.0/16", origin="connected", vendor="kube-ovn")
    add_policy(snap, "ip4.dst == 10.17.0.0/16", origin="connected", vendor="kube-ovn")
    add_policy(snap, "ip4.dst == 10.17.0.0/16", origin="connected", vendor="kube-ovn")
    add_policy(snap, "ip4.dst == 10.77.0.0/16", origin="static", vendor="kube-ovn")
    add_policy(snap, "ip4.src == 10.16.0.2", priority=31000, node="n1")  # node-local
    add_policy(snap, "ip4.dst == 10.88.0.0/16", priority=29000, origin="connected")
    converge(snap)
    others = {
        (31000, "ip4.src == 10.16.0.2", "allow", "node=n1"),
        (29000, "ip4.dst == 10.88.0.0/16", "allow", "origin=connected"),
    }
    assert policies(snap) == others | {
        (29500, "ip4.dst == 10.17.0.0/16", "allow", "origin=connected,vendor=kube-ovn"),
    }
    # The route withdrawn: its policy goes too.
    drop_routes(snap)
    converge(snap)
    assert policies(snap) == others


def test_no_cluster_router_plans_nothing() -> None:
    snap = fresh()
    assert not plan_learned_route_policies(snap)


PREFIXES = ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/24", "fd00::/64", "fd01::/64"]
ORIGIN = st.sampled_from(["connected", "static", "", None, "other"])


@settings(max_examples=150, deadline=None)
@given(
    routes=st.lists(st.tuples(st.sampled_from(PREFIXES), ORIGIN), max_size=8),
    stale=st.lists(st.tuples(st.sampled_from(PREFIXES), ORIGIN,
                             st.sampled_from([POLICY_PRIORITY, 100])), max_size=6),
)
def test_any_mix_converges_to_kube_ovn_s_rule(
    routes: list[tuple[str, str | None]], stale: list[tuple[str, str | None, int]],
) -> None:
    snap = fresh()
    add_router(snap)
    for prefix, origin in routes:
        add_route(snap, prefix, origin)
    for prefix, origin, priority in stale:
        ids = {} if origin is None else {"origin": origin, "vendor": "kube-ovn"}
        add_policy(snap, policy_match(prefix), priority=priority, **ids)
    converge(snap)
    got = policies(snap)
    for origin in ("connected", "static", ""):
        want = {policy_match(p) for p, o in routes if o == origin}
        have = {m for prio, m, _a, ids in got
                if prio == POLICY_PRIORITY and ids.startswith(f"origin={origin},")}
        assert have == want, origin
    # Policies outside the three origins or at another priority are never touched.
    for prefix, origin, priority in stale:
        if origin not in ("connected", "static", "") or priority != POLICY_PRIORITY:
            ids = "" if origin is None else f"origin={origin},vendor=kube-ovn"
            assert (priority, policy_match(prefix), "allow", ids) in got


def test_teardown_removes_the_policies() -> None:
    snap = fresh()
    add_router(snap)
    add_route(snap, "10.17.0.0/16", "connected")
    converge(snap)
    add_policy(snap, "ip4.src == 10.16.0.2", priority=31000, node="n1")
    plan = plan_teardown(snap, "az1")
    simulate(snap, plan, new_uuid=new_uuid)
    assert policies(snap) == {(31000, "ip4.src == 10.16.0.2", "allow", "node=n1")}


def test_render_policy_list() -> None:
    snap = fresh()
    add_router(snap)
    assert render_policy_list(snap.nb, router(snap)) == ""
    add_policy(snap, "ip4.dst == 10.17.0.0/16", origin="connected", vendor="kube-ovn")
    add_policy(snap, "ip4.src == 10.16.0.2", priority=31000)
    assert render_policy_list(snap.nb, router(snap)) == (
        "Routing Policies\n"
        "     31000                               ip4.src == 10.16.0.2           allow\n"
        "     29500                            ip4.dst == 10.17.0.0/16           allow\n"
    )
