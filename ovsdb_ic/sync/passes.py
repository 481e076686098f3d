"""One sync pass: the planners in the daemon's order, as one plan.

Order (as the C daemon's ``ovn_db_run``): availability zone, transit switches,
gateways, port bindings, then routes (``route_planner``, given by the caller, so
this module does not depend on the routes planner). Every planner reads the same
snapshot: what one planner inserts, the next sees on the following pass. Until the
AZ's ``Availability_Zone`` row exists only the AZ planner acts (the routes planner
is not even called), as C returns early without it; a pass in which the AZ planner
has something to do (register, rename or delete the AZ row) plans nothing else, so
the other planners never act for an AZ row that is about to change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ovsdb_ic.sync import az, gateways, port_bindings, transit_switches
from ovsdb_ic.sync.keys import KeyHints
from ovsdb_ic.sync.plan import Plan, Requirements, Snapshot

__all__ = ["REQUIREMENTS", "RoutePlanner", "plan_pass"]

RoutePlanner = Callable[[Snapshot], Plan]
"""A routes planner, e.g. ``functools.partial(plan_routes, filters=...)``."""

REQUIREMENTS: Final[Requirements] = (
    az.REQUIREMENTS
    | transit_switches.REQUIREMENTS
    | gateways.REQUIREMENTS
    | port_bindings.REQUIREMENTS
)
"""The union of the four planners' requirements (the routes planner adds its own)."""


def plan_pass(
    snap: Snapshot,
    *,
    route_planner: RoutePlanner | None = None,
    previous_name: str | None = None,
    hints: KeyHints | None = None,
) -> Plan:
    """Everything one pass wants written, in the daemon's order.

    ``previous_name``: the AZ name the runner last acted for (see
    :func:`~ovsdb_ic.sync.az.plan_az`). ``hints``: where tunnel key allocation
    starts (see :class:`~ovsdb_ic.sync.keys.KeyHints`; keep ``hints.after(plan)``
    between passes to allocate exactly as a long-running 23.03 daemon).
    """
    plan = az.plan_az(snap, previous_name=previous_name)
    if plan or az.local_az(snap) is None:
        return plan
    plan += transit_switches.plan_transit_switches(snap, hints=hints)
    plan += gateways.plan_gateways(snap)
    plan += port_bindings.plan_port_bindings(snap, hints=hints)
    if route_planner is not None:
        plan += route_planner(snap)
    return plan
