"""Plans become guarded transactions: updates are guarded by the values the planner saw,
mutations and deletes only by the row's existence (a set mutation does not depend on the
rest of the set, and guarding a router's static_routes would send every route)."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ovsdb_ic.ic.databases import empty_snapshot
from ovsdb_ic.sync.commit import transaction_ops
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Plan, Update, simulate
from ovsdb_ic.sync.session import CommitPolicy, _parts
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


# ------------------------------------------------------------------ inserts kept apart

_APART = frozenset({("ic_sb", "Port_Binding"), ("ic_sb", "Datapath_Binding")})
_ROW = uuid.UUID(int=3)


def _op(kind: str, db: str, table: str, ref: str | None) -> Any:
    values: dict[str, Any] = {} if ref is None else {"ref": NamedUUID(ref)}
    if kind == "insert":
        return Insert(db, table, values, name=f"n{table}")  # type: ignore[arg-type]
    if kind == "update":
        return Update(db, table, _ROW, values)  # type: ignore[arg-type]
    if kind == "mutate":
        refs = frozenset({NamedUUID(ref)}) if ref else frozenset({"x"})
        return Mutate(db, table, _ROW, "c", insert=refs)  # type: ignore[arg-type]
    return Delete(db, table, _ROW)  # type: ignore[arg-type]


_ops = st.builds(
    _op,
    st.sampled_from(["insert", "insert", "update", "mutate", "delete"]),
    st.sampled_from(["ic_sb", "ic_sb", "nb"]),
    st.sampled_from(["Port_Binding", "Datapath_Binding", "Route", "Gateway"]),
    st.sampled_from([None, None, "nPort_Binding", "nRoute"]),
)


@given(st.lists(_ops, max_size=8), st.booleans())
def test_parts_split_only_keyed_inserts_that_stand_alone(ops: list[Any], ordered: bool) -> None:
    """The transactions of a plan (``CommitPolicy.apart``): per database its operations
    in order, as one part or as the rest then the kept-apart inserts; split only
    without an order, when the database's part has both, touches the apart tables
    only by inserting, and no named UUID crosses between the two."""
    plan = Plan(tuple(ops))
    order = ("nb", "ic_sb") if ordered else None
    parts = _parts(plan, CommitPolicy(order=order, apart=_APART))
    for db in plan.databases():
        mine = [p for d, p in parts if d == db]
        assert [op for p in mine for op in p] == sorted(
            plan.for_db(db), key=lambda op: isinstance(op, Insert)
            and (db, op.table) in _APART and len(mine) == 2)
        if len(mine) == 1:
            continue
        rest, alone = mine
        assert not ordered and rest and alone
        assert all(isinstance(op, Insert) and (db, op.table) in _APART for op in alone)
        assert not any((db, op.table) in _APART for op in rest)
        assert not any("ref" in getattr(op, "values", {}) for op in alone)
        names = {op.name for op in alone}
        for op in rest:
            refs = {v.name for v in getattr(op, "values", {}).values()}
            refs |= {v.name for v in getattr(op, "insert", ()) if isinstance(v, NamedUUID)}
            assert not refs & names
    # Without apart tables: one part per database, as before.
    assert _parts(plan, CommitPolicy(order=order)) == [
        (db, Plan(plan.for_db(db))) for db in (order or plan.databases()) if plan.for_db(db)]


def test_parts_keep_a_database_whole_when_it_must() -> None:
    pb = Insert("ic_sb", "Port_Binding", {"tunnel_key": 1})
    route = Insert("ic_sb", "Route", {"ip_prefix": "10.0.0.0/24"})
    policy = CommitPolicy(apart=_APART)
    assert _parts(Plan((pb, route)), policy) == [("ic_sb", Plan((route,))),
                                                 ("ic_sb", Plan((pb,)))]
    # A delete of the same table beside the insert (a key given back and taken again).
    gone = Delete("ic_sb", "Port_Binding", _ROW)
    assert _parts(Plan((gone, pb, route)), policy) == [("ic_sb", Plan((gone, pb, route)))]
    # A named UUID of the keyed insert used by the rest.
    named = Insert("ic_sb", "Port_Binding", {"tunnel_key": 2}, name="p")
    user = Insert("ic_sb", "Route", {"external_ids": {"pb": NamedUUID("p")}})
    assert _parts(Plan((named, user)), policy) == [("ic_sb", Plan((named, user)))]
    # Only keyed inserts, or an order: one transaction.
    assert _parts(Plan((pb,)), policy) == [("ic_sb", Plan((pb,)))]
    ordered = CommitPolicy(order=("ic_sb",), apart=_APART)
    assert _parts(Plan((pb, route)), ordered) == [("ic_sb", Plan((pb, route)))]
