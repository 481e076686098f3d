"""One sync pass: the planners in the daemon's order, as one plan.

Order (as the C daemon's ``ovn_db_run``): availability zone, transit switches,
gateways, port bindings, then routes (``route_planner``, given by the caller, e.g.
with embedder filters). Every planner reads the same
snapshot: what one planner inserts, the next sees on the following pass. Until the
AZ's ``Availability_Zone`` row exists only the AZ planner acts (the routes planner
is not even called), as C returns early without it; a pass in which the AZ planner
has something to do (register, rename or delete the AZ row) plans nothing else, so
the other planners never act for an AZ row that is about to change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from ovsdb_ic.ic.databases import DatabaseKey, Requirements, Snapshot
from ovsdb_ic.sync import az, gateways, port_bindings, routes, transit_switches
from ovsdb_ic.sync.keys import KeyHints
from ovsdb_ic.sync.plan import Plan
from ovsdb_ic.sync.rules import RULES_23_03, IcRules

__all__ = ["REQUIREMENTS", "PassMemo", "RoutePlanner", "plan_pass", "requirements_for"]

RoutePlanner = Callable[[Snapshot], Plan]
"""A routes planner, e.g. ``functools.partial(plan_routes, filters=...)``."""

REQUIREMENTS: Final[Requirements] = (
    az.REQUIREMENTS
    | transit_switches.REQUIREMENTS
    | gateways.REQUIREMENTS
    | port_bindings.REQUIREMENTS
)
"""The union of the four planners' requirements (the routes planner adds its own)."""

_TS_VXLAN_REQUIREMENTS: Final = transit_switches.REQUIREMENTS | transit_switches.VXLAN_REQUIREMENTS
"""What the transit switch planner reads under ``rules.vxlan_mode`` (its memo key)."""


def requirements_for(rules: IcRules) -> Requirements:
    """:data:`REQUIREMENTS` plus what the four planners read under ``rules``."""
    if rules.vxlan_mode:
        return REQUIREMENTS | transit_switches.VXLAN_REQUIREMENTS
    return REQUIREMENTS


PassMemo = dict[str, tuple[int, ...]]
"""Per planner, the versions of the tables it reads when it last planned nothing."""


def _tables(req: Requirements) -> list[tuple[DatabaseKey, str]]:
    return sorted((db, t) for db, ts in req.tables.items() for t in ts)


def plan_pass(
    snap: Snapshot,
    *,
    route_planner: RoutePlanner | None = None,
    previous_name: str | None = None,
    hints: KeyHints | None = None,
    memo: PassMemo | None = None,
    extra: Sequence[tuple[str, RoutePlanner, Requirements]] = (),
    rules: IcRules | None = None,
) -> Plan:
    """Everything one pass wants written, in the daemon's order.

    ``previous_name``: the AZ name the runner last acted for (see
    :func:`~ovsdb_ic.sync.az.plan_az`). ``hints``: where tunnel key allocation
    starts (see :class:`~ovsdb_ic.sync.keys.KeyHints`; keep ``hints.after(plan)``
    between passes to allocate exactly as a long-running 23.03 daemon).

    ``memo`` (kept by the caller between passes, initially empty) saves work without
    changing the plan: a planner whose last plan was empty is not run again while
    none of the tables it reads (its ``REQUIREMENTS``) has a new version, since a
    pure planner would plan nothing again. The route planner is keyed on the tables
    of :data:`ovsdb_ic.sync.routes.REQUIREMENTS`.

    ``rules`` (default: 23.03's) are passed to the transit switch and port binding
    planners; the route planner gets its own (``functools.partial``).

    ``extra``: ``(name, planner, requirements)`` steps run after the routes planner on
    the same snapshot (memoised the same way), e.g.
    :func:`ovsdb_ic.kubeovn.policies.policy_step`.
    """
    rules = rules or RULES_23_03
    ts_req = _TS_VXLAN_REQUIREMENTS if rules.vxlan_mode else transit_switches.REQUIREMENTS
    plan = az.plan_az(snap, previous_name=previous_name)
    if plan or az.local_az(snap) is None:
        return plan
    steps: list[tuple[str, RoutePlanner, Requirements]] = [
        ("transit_switches",
         lambda s: transit_switches.plan_transit_switches(s, hints=hints, rules=rules),
         ts_req),
        ("gateways", gateways.plan_gateways, gateways.REQUIREMENTS),
        ("port_bindings",
         lambda s: port_bindings.plan_port_bindings(s, hints=hints, rules=rules),
         port_bindings.REQUIREMENTS),
    ]
    if route_planner is not None:
        steps.append(("routes", route_planner, routes.REQUIREMENTS))
    steps += extra  # the embedder's planners, e.g. Kube-OVN's learned-route policies
    for name, planner, req in steps:
        if memo is None:
            plan += planner(snap)
            continue
        key = tuple(snap.db(db).table(t).version for db, t in _tables(req))
        if memo.get(name) == key:
            continue
        part = planner(snap)
        if part:
            memo.pop(name, None)
        else:
            memo[name] = key
        plan += part
    return plan
