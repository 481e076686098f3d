"""The IC sync engine: pure planners and the trio runner that commits their plans.

* :class:`SyncEngine`, :func:`run_sync`, :class:`SyncConfig`, :class:`SyncStats`: one
  availability zone's IC agent (what ``ovn-ic`` does), holding the ``ovn_ic`` lock;
  :class:`RouteFilters` adds an embedder's policy to route advertisement and learning;
  :func:`run_syncs` runs many AZs' engines in one task over one shared IC-NB/IC-SB pair
  (or, by hand, :func:`open_shared_ic` gives a :class:`SharedIc` for
  ``SyncEngine(config, ic=shared)``);
* the planners, pure functions from a :class:`Snapshot` to a :class:`Plan`:
  :func:`plan_az`, :func:`plan_transit_switches`, :func:`plan_gateways`,
  :func:`plan_port_bindings`, :func:`plan_routes`, and :func:`plan_pass` (all of them,
  in the engine's order);
* :class:`Plan` and its operations (:class:`Insert`, :class:`Update`, :class:`Mutate`,
  :class:`Delete`), :class:`Requirements` (what a planner reads), :func:`empty_snapshot`
  and :func:`simulate` (apply a plan to a snapshot, for tests);
* :mod:`ovsdb_ic.sync.metrics`: Prometheus metrics and health of an engine (imported on
  first use: it needs ``prometheus_client``).

See docs/sync.md.
"""

from typing import TYPE_CHECKING

from ovsdb_ic._lazy import lazy_attributes
from ovsdb_ic.ic.databases import DATABASES, DatabaseKey, Requirements, Snapshot, empty_snapshot
from ovsdb_ic.sync.az import plan_az
from ovsdb_ic.sync.gateways import plan_gateways
from ovsdb_ic.sync.passes import plan_pass
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, PlanError, Update, simulate
from ovsdb_ic.sync.port_bindings import plan_port_bindings
from ovsdb_ic.sync.routes import LEARNED_ROUTE_KEY, RouteFilters, RouteInfo, plan_routes
from ovsdb_ic.sync.runner import (
    LOCK_NAME,
    REQUIREMENTS,
    SharedIc,
    SyncConfig,
    SyncEngine,
    SyncStats,
    open_shared_ic,
    run_sync,
    run_syncs,
)
from ovsdb_ic.sync.transit_switches import plan_transit_switches

if TYPE_CHECKING:
    from ovsdb_ic.sync.waiting import wait_ic_synced

__all__ = [
    "DATABASES",
    "LEARNED_ROUTE_KEY",
    "LOCK_NAME",
    "REQUIREMENTS",
    "DatabaseKey",
    "Delete",
    "Insert",
    "Mutate",
    "Op",
    "Plan",
    "PlanError",
    "Requirements",
    "RouteFilters",
    "RouteInfo",
    "SharedIc",
    "Snapshot",
    "SyncConfig",
    "SyncEngine",
    "SyncStats",
    "Update",
    "empty_snapshot",
    "open_shared_ic",
    "plan_az",
    "plan_gateways",
    "plan_pass",
    "plan_port_bindings",
    "plan_routes",
    "plan_transit_switches",
    "run_sync",
    "run_syncs",
    "metrics",
    "simulate",
    "wait_ic_synced",
]


# ``ovsdb_ic.sync.metrics``, and ``wait_ic_synced`` (from ``ovsdb_ic.sync.waiting``,
# which only ``--wait=sb`` needs), are imported on first use.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {"metrics": "ovsdb_ic.sync.metrics", "wait_ic_synced": "ovsdb_ic.sync.waiting"},
    globals(),
)
