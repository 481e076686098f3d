"""SyncEngine.plan() skips planners whose inputs did not change, and still plans exactly
what plan_pass plans, across a sequence of changes (no servers: the engine's snapshot is
a pure one fed by simulate())."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.ic.databases import Snapshot
from ovsdb_ic.sync import passes, routes
from ovsdb_ic.sync.plan import Plan
from ovsdb_ic.sync.runner import SyncConfig, SyncEngine

sys.path.insert(0, str(Path(__file__).parent))
from test_sync_routes import World, basic

CONFIG = SyncConfig(ovnnb_db="unix:/nb", ovnsb_db="unix:/sb", ic_nb_db="unix:/icnb",
                    ic_sb_db="unix:/icsb")


class Engine(SyncEngine):
    """An engine planning on a pure snapshot; ``calls`` records the planners it runs."""

    def __init__(self, snap: Snapshot, monkeypatch: pytest.MonkeyPatch | None = None) -> None:
        super().__init__(CONFIG)
        self._snap = snap
        self.calls: list[str] = []
        self._route_planner = self._recorded("routes", self._route_planner)
        if monkeypatch is not None:
            for module, name in ((passes.transit_switches, "plan_transit_switches"),
                                 (passes.gateways, "plan_gateways"),
                                 (passes.port_bindings, "plan_port_bindings")):
                label = module.__name__.rsplit(".", 1)[1]
                monkeypatch.setattr(module, name,
                                    self._recorded(label, getattr(module, name)))

    def _recorded(self, label: str, planner: Callable[..., Plan]) -> Callable[..., Plan]:
        def call(s: Snapshot, **kw: Any) -> Plan:
            self.calls.append(label)
            return planner(s, **kw)

        return call

    def snapshot(self) -> Snapshot:
        return self._snap


def reference(snap: Snapshot) -> Plan:
    return passes.plan_pass(snap, route_planner=functools.partial(routes.plan_routes))


def test_idle_replan_runs_no_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    w, _lr = basic()
    eng = Engine(w.snap, monkeypatch)
    for _ in range(5):  # settle the whole pass (the transit switch work too)
        plan = eng.plan()
        if not plan:
            break
        w.apply(plan)
    assert not eng.plan()
    first = list(eng.calls)
    assert {"transit_switches", "gateways", "port_bindings", "routes"} <= set(first)
    assert not eng.plan()
    assert eng.calls == first, "an idle pass ran planners again"
    # A new static route: only the route planner runs, and it advertises it.
    lr = w.router_row("lr1").uuid
    w.static(lr, "10.99.0.0/16", "10.16.0.254")
    eng.calls.clear()
    plan = eng.plan()
    assert eng.calls == ["routes"]
    assert plan == reference(w.snap)
    assert plan


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["static", "remote", "options", "apply"]),
                          st.integers(0, 50)), max_size=12))
def test_same_plan_as_plan_pass(steps: list[tuple[str, int]]) -> None:
    w, lr = basic()
    az2 = w.az_row("az2")
    eng = Engine(w.snap)
    for kind, n in steps:
        if kind == "static":
            w.static(lr, f"10.{100 + n}.0.0/16", "10.16.0.254")
        elif kind == "remote":
            w.remote("ts1", az2, f"10.{200 + n}.0.0/16", "169.254.100.2")
        elif kind == "options":
            w.set_options({"ic-route-adv": "true", "ic-route-learn": str(n % 2 == 0).lower()})
        else:
            w.apply(reference(w.snap))
        assert eng.plan() == reference(w.snap)


def test_world_helper_is_shared() -> None:
    assert isinstance(World().snap, Snapshot)


def test_stats_describe_the_last_plan_when_asked() -> None:
    from ovsdb_ic.sync.plan import Insert
    from ovsdb_ic.sync.runner import SyncStats

    stats = SyncStats()
    assert stats.last_plan == ()
    plan = Plan((Insert("ic_sb", "Availability_Zone", {"name": "az1"}),))
    stats.last_plan_ops = plan
    assert stats.last_plan == ("ic_sb: insert Availability_Zone name='az1'",)
    assert stats.last_plan == tuple(plan.describe())
