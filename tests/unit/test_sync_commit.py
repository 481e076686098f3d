"""Plans become guarded transactions: updates are guarded by the values the planner saw,
mutations and deletes only by the row's existence (a set mutation does not depend on the
rest of the set, and guarding a router's static_routes would send every route)."""

from __future__ import annotations

import uuid

from ovsdb_ic.ic.databases import empty_snapshot
from ovsdb_ic.sync.commit import transaction_ops
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Plan, Update, simulate
from ovsdb_ic.wire.data import NamedUUID


def test_guards() -> None:
    snap = empty_snapshot()
    named = simulate(snap, Plan((
        Insert("nb", "Logical_Router_Static_Route", {"ip_prefix": "10.0.0.0/8",
                                                     "nexthop": "1.1.1.1"}, name="r"),
        Insert("nb", "Logical_Router", {"name": "lr", "static_routes":
                                        frozenset({NamedUUID("r")})}, name="lr"),
        Insert("nb", "NB_Global", {"name": "az1"}, name="g"),
    )))["nb"]
    lr, g, r = named["lr"], named["g"], named["r"]
    plan = Plan((
        Update("nb", "NB_Global", g, {"options": {"ic-route-adv": "true"}}),
        Insert("nb", "Logical_Router_Static_Route", {"ip_prefix": "10.1.0.0/16",
                                                     "nexthop": "2.2.2.2"}, name="n"),
        Mutate("nb", "Logical_Router", lr, "static_routes", insert=frozenset({NamedUUID("n")}),
               delete=frozenset({r})),
        Delete("nb", "Logical_Router", uuid.UUID(int=7)),  # gone meanwhile: no guard
    ))
    ops = transaction_ops(snap.nb, plan, "nb", comment="c")
    waits = [op for op in ops if op["op"] == "wait"]
    by_table = {w["table"]: w for w in waits}
    assert set(by_table) == {"NB_Global", "Logical_Router"}
    assert by_table["NB_Global"]["columns"] == ["options"]
    assert by_table["NB_Global"]["rows"] == [{"options": ["map", []]}]
    assert by_table["Logical_Router"]["columns"] == []
    assert by_table["Logical_Router"]["rows"] == [{}]
    assert by_table["Logical_Router"]["where"] == [["_uuid", "==", ["uuid", str(lr)]]]
    mutate = next(op for op in ops if op["op"] == "mutate")
    assert [m[1] for m in mutate["mutations"]] == ["delete", "insert"]
    assert ops[-1] == {"op": "comment", "comment": "c"}
    assert transaction_ops(snap.nb, plan, "sb") == []
