"""Kube-OVN's policies for learned routes: an ``allow`` at priority 29500 per learned prefix.

Kube-OVN's node-local routing uses ``Logical_Router_Policy`` rows on the cluster router
(``reroute`` to a node, at lower priorities). Traffic to another cluster must follow the
routes the IC sync learned instead, so Kube-OVN's ``ovn-ic`` controller
(``pkg/ovn_ic_controller``, ``SynRouteToPolicy``, every 5 s) keeps, on the cluster router
(``ovn-cluster``), for each origin value ``connected``, ``static`` and ``""`` (learned
routes of Kube-OVN before 1.9):

* the prefixes of the router's static routes with ``options:origin`` equal to that value
  (the routes ``ovn-ic`` learned: it writes ``options:origin``);
* one policy per prefix: priority 29500, action ``allow``, match ``ip4.dst == <prefix>``
  (``ip6.dst`` for an IPv6 prefix), ``external_ids`` ``origin=<value>`` and
  ``vendor=kube-ovn``;
* and deletes that origin's policies (``external_ids:origin`` equal to the value) whose
  prefix is no longer learned.

:func:`plan_learned_route_policies` is that, as a pure planner: the sync engine runs it
after the route planner when ``SyncConfig.extra_planners`` holds :func:`policy_step`
(``ovsdb-ic sync --kubeovn-policies``), so a policy appears one pass after its learned
route and goes with it. Three differences from Kube-OVN, in cases Kube-OVN itself never
creates, so that the plan is well defined: only policies at priority 29500 are managed
(Kube-OVN's list ignores the priority, its delete-all branch does not); a policy whose
``external_ids`` lacks the ``origin`` key is never touched (Kube-OVN's delete-all branch
reads a missing key as ``""``); and a duplicate policy for one prefix is deleted
(Kube-OVN keeps one and never looks at the others).
See docs/kubeovn.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Final

from ovsdb_ic.ic.databases import Requirements, Snapshot
from ovsdb_ic.kubeovn.establish import DEFAULT_CLUSTER_ROUTER, VENDOR
from ovsdb_ic.replica import Replica, Row
from ovsdb_ic.sync.plan import Insert, Mutate, Op, Plan
from ovsdb_ic.wire.data import NamedUUID

__all__ = [
    "ORIGINS",
    "POLICY_PRIORITY",
    "REQUIREMENTS",
    "learned_policy_rows",
    "plan_learned_route_policies",
    "policy_match",
    "plan_remove_learned_route_policies",
    "policy_step",
    "render_policy_list",
]

POLICY_PRIORITY: Final = 29500
"""Kube-OVN's ``OvnICPolicyPriority``."""

ORIGINS: Final[tuple[str, ...]] = ("connected", "static", "")
"""The ``options:origin`` values Kube-OVN syncs, in its order (``""``: before 1.9)."""

REQUIREMENTS: Final = Requirements(
    tables={"nb": {
        "Logical_Router": ("name", "policies", "static_routes"),
        "Logical_Router_Static_Route": ("ip_prefix", "options"),
        "Logical_Router_Policy": ("priority", "match", "action", "nexthops", "options",
                                  "external_ids"),
    }},
)
"""What :func:`plan_learned_route_policies` and :func:`render_policy_list` read."""


def policy_match(prefix: str) -> str:
    """``ip4.dst == <prefix>``, or ``ip6.dst == <prefix>`` for an IPv6 prefix (Kube-OVN
    checks for a ``:``)."""
    return f"{'ip6' if ':' in prefix else 'ip4'}.dst == {prefix}"


def _strip(match: str) -> str | None:
    """Kube-OVN's ``stripPrefix``: the prefix of ``ip4.dst == P`` / ``ip6.dst == P``."""
    parts = match.split("==")
    if len(parts) < 2 or parts[0].strip() not in ("ip4.dst", "ip6.dst"):
        return None
    return parts[1].strip()


def _routers(snap: Snapshot, name: str) -> list[Row]:
    return sorted((r for r in snap.nb.table("Logical_Router") if r["name"] == name),
                  key=lambda r: r.uuid)


def learned_policy_rows(replica: Replica, router: Row, origin: str) -> list[Row]:
    """The router's learned-route policies of one origin: priority 29500 and
    ``external_ids:origin`` equal to ``origin``."""
    view = replica.table("Logical_Router_Policy")
    rows = (view.get(u) for u in router["policies"])
    return sorted((r for r in rows if r is not None and r["priority"] == POLICY_PRIORITY
                   and r["external_ids"].get("origin", None) == origin),
                  key=lambda r: r.uuid)


def plan_learned_route_policies(snap: Snapshot, router: str = DEFAULT_CLUSTER_ROUTER) -> Plan:
    """The NB operations that make ``router``'s learned-route policies match its learned
    routes, as Kube-OVN's controller does (see the module docstring). Pure and
    idempotent: planning again after applying the plan gives an empty plan. No router of
    that name: an empty plan (Kube-OVN waits for it)."""
    ops: list[Op] = []
    count = 0
    routes = snap.nb.table("Logical_Router_Static_Route")
    for lr in _routers(snap, router):
        inserted: set[NamedUUID] = set()
        deleted: set[uuid.UUID] = set()
        for origin in ORIGINS:
            prefixes: dict[str, None] = {}
            for route_uuid in sorted(lr["static_routes"]):
                route = routes.get(route_uuid)
                if route is not None and route["options"].get("origin", None) == origin:
                    prefixes.setdefault(route["ip_prefix"], None)
            policies = learned_policy_rows(snap.nb, lr, origin)
            if not prefixes:
                deleted.update(p.uuid for p in policies)
                continue
            have: dict[str, uuid.UUID] = {}
            for policy in policies:
                prefix = _strip(policy["match"])
                if prefix is None:
                    continue
                if prefix in have:  # a duplicate: keep the first
                    deleted.add(policy.uuid)
                    continue
                have[prefix] = policy.uuid
            for prefix in prefixes:
                if have.pop(prefix, None) is not None:
                    continue
                count += 1
                name = NamedUUID(f"kubeovn_policy_{count}")
                ops.append(Insert("nb", "Logical_Router_Policy", {
                    "priority": POLICY_PRIORITY,
                    "match": policy_match(prefix),
                    "action": "allow",
                    "external_ids": {"origin": origin, "vendor": VENDOR},
                }, name=name.name))
                inserted.add(name)
            deleted.update(have.values())
        if inserted or deleted:
            ops.append(Mutate("nb", "Logical_Router", lr.uuid, "policies",
                              frozenset(inserted), frozenset(deleted)))
    return Plan(tuple(ops))


def policy_step(
    router: str = DEFAULT_CLUSTER_ROUTER,
) -> tuple[str, Callable[[Snapshot], Plan], Requirements]:
    """A step for ``SyncConfig.extra_planners``: the engine runs
    :func:`plan_learned_route_policies` for ``router`` after its route planner."""
    return ("kubeovn_policies", lambda snap: plan_learned_route_policies(snap, router),
            REQUIREMENTS)


def plan_remove_learned_route_policies(snap: Snapshot) -> list[Op]:
    """Teardown: remove from every router the learned-route policies Kube-OVN's
    controller manages (priority 29500, an origin of :data:`ORIGINS`, ``vendor=kube-ovn``):
    the learned routes they were for are removed in the same plan."""
    ops: list[Op] = []
    for lr in sorted(snap.nb.table("Logical_Router"), key=lambda r: r.uuid):
        doomed = {p.uuid for origin in ORIGINS for p in learned_policy_rows(snap.nb, lr, origin)
                  if p["external_ids"].get("vendor") == VENDOR}
        if doomed:
            ops.append(Mutate("nb", "Logical_Router", lr.uuid, "policies", frozenset(),
                              frozenset(doomed)))
    return ops


# ------------------------------------------------------------------------- rendering


def render_policy_list(replica: Replica, router: Row) -> str:
    """The text ``ovn-nbctl lr-policy-list ROUTER`` (OVN 23.03) prints for ``router``:
    ``Routing Policies`` then one line per policy, highest priority first, then by match:
    the priority right-aligned in 10 columns, the match in 50, the action in 15, the
    nexthops of a reroute, and the options."""
    view = replica.table("Logical_Router_Policy")
    rows = [r for r in (view.get(u) for u in router["policies"]) if r is not None]
    if not rows:
        return ""
    rows.sort(key=lambda r: (-r["priority"], r["match"].encode()))
    out = ["Routing Policies"]
    for r in rows:
        line = f"{r['priority']:>10} {r['match']:>50} {r['action']:>15}"
        for i, hop in enumerate(sorted(r["nexthops"])):
            line += f", {hop}" if i else f" {hop:>25}"
        if r["options"]:
            line += " " * 15 + ",".join(f"{k}={v}" for k, v in sorted(r["options"].items()))
        out.append(line)
    return "".join(f"{line}\n" for line in out)
