"""Property: update2 diffs applied to a replica equal the rows the server reports.

A hypothesis state machine runs random transactions (inserts with nested
``named-uuid`` references, updates of random columns, map/set/integer mutations,
deletes, and batches of these) against ONE real ovsdb-server per database, with
values generated from the schema (enums, integer ranges, optional and set
bounds, strong references to existing or newly inserted rows, weak references
to existing or missing rows). A second connection keeps a replica built only
from the decoded ``monitor_cond`` reply and ``update2`` notifications
(:func:`~ovsdb_ic.wire.monitor.apply_update`). After every step the replica
must equal a ``select`` of every row, decoded by
:func:`~ovsdb_ic.wire.ops.decode_transact_result`.

Transactions the server rejects (unique index collisions, references to rows
that are gone, integer mutations leaving a range) must fail atomically; any
other error means the builders in :mod:`ovsdb_ic.wire.ops` produced a request
the server does not accept, and fails the test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rawclient import RawClient

from ovsdb_ic.errors import TransactionError
from ovsdb_ic.testing import Sandbox, Server, schema_path
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.monitor import (
    MonitorRequest,
    RowUpdate,
    apply_update,
    decode_update2,
    monitor_params,
)
from ovsdb_ic.wire.ops import (
    Condition,
    Mutation,
    decode_transact_result,
    delete,
    insert,
    mutate,
    select,
    transact_params,
    update,
)
from ovsdb_ic.wire.schema import (
    INT64_MAX,
    INT64_MIN,
    BaseType,
    ColumnSchema,
    ColumnType,
    DatabaseSchema,
    parse_schema,
)
from tests.strategies import reals

pytestmark = pytest.mark.integration

SETTINGS = settings(
    max_examples=60,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The errors a valid request may still get: the server checks these at run time.
EXPECTED_ERRORS = frozenset(
    {"constraint violation", "referential integrity violation", "domain error", "range error"}
)

STRING_POOL = ["", "a", "b", "ts1", "10.0.0.1", "zone ✓", 'q"uote', "x y"]
KEY_POOL = ["a", "b", "c", "k✓", ""]
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=8)


def _load(name: str) -> DatabaseSchema:
    return parse_schema(json.loads(schema_path(name).read_text()))


class Model:
    """The tables a machine works on (and which of their columns it may write)."""

    def __init__(self, schema: DatabaseSchema, tables: list[str]) -> None:
        self.schema = schema
        self.tables = tables
        self.roots = [t for t in tables if schema.tables[t].is_root]
        self.columns: dict[str, list[ColumnSchema]] = {}
        for t in tables:
            usable = []
            for col in schema.tables[t].columns.values():
                refs = [b.ref_table for b in (col.type.key, col.type.value)
                        if b is not None and b.ref_table is not None]
                if all(r in tables for r in refs):
                    usable.append(col)
            self.columns[t] = usable


SB_MODEL = Model(_load("ic-sb"), [
    "Availability_Zone", "Gateway", "Port_Binding", "Route", "Datapath_Binding",
    "IC_SB_Global", "Encap", "Connection",
])
NB_MODEL = Model(_load("nb"), [
    "Logical_Router", "Logical_Switch", "Address_Set", "BFD", "HA_Chassis_Group", "Meter",
    "Logical_Router_Port", "Logical_Router_Static_Route", "Logical_Switch_Port",
    "Gateway_Chassis", "HA_Chassis", "Meter_Band",
])


class Impossible(Exception):
    """The drawn operation cannot be built (for example no row to refer to)."""


class Update2Machine(RuleBasedStateMachine):
    """Random transactions on one connection, an update2 replica on another."""

    model: Model
    remote: str

    def __init__(self) -> None:
        super().__init__()
        m = self.model
        self.schema = m.schema
        self.writer = RawClient(self.remote)
        self.watcher = RawClient(self.remote)
        # reset: delete every row (root rows may be referenced by non-root rows that the
        # server would garbage-collect only after checking referential integrity)
        self.order: dict[uuid.UUID, int] = {}
        self.names = 0
        self._transact([delete(self.schema, t, []) for t in m.tables], must_commit=True)
        self.snapshot = self._select_all()
        assert all(not rows for rows in self.snapshot.values()), "reset left rows behind"
        params = monitor_params(self.schema, "prop", [MonitorRequest(t) for t in m.tables])
        self.replica: dict[str, dict[uuid.UUID, dict[str, Any]]] = {t: {} for t in m.tables}
        self._apply(decode_update2(self.schema, self.watcher.call("monitor_cond", params)))

    def teardown(self) -> None:
        self.writer.close()
        self.watcher.close()

    # ------------------------------------------------------------------ plumbing

    def _transact(self, ops: list[dict[str, Any]], *, must_commit: bool = False) -> None:
        result = self.writer.call("transact", transact_params(self.schema, ops))
        try:
            results = decode_transact_result(self.schema, ops, result)
        except TransactionError as exc:
            assert not must_commit, exc
            assert exc.error in EXPECTED_ERRORS, f"server rejected a built request: {exc}"
            event(f"rejected: {exc.error}")
            return
        event("committed")
        for op, res in zip(ops, results, strict=True):
            if op["op"] == "insert":
                assert res.uuid is not None
                self.order[res.uuid] = len(self.order)

    def _select_all(self) -> dict[str, dict[uuid.UUID, dict[str, Any]]]:
        ops = [select(self.schema, t) for t in self.model.tables]
        results = decode_transact_result(
            self.schema, ops, self.writer.call("transact", transact_params(self.schema, ops)))
        out = {}
        for t, res in zip(self.model.tables, results, strict=True):
            assert res.rows is not None
            out[t] = {r["_uuid"]: {k: v for k, v in r.items() if k not in ("_uuid", "_version")}
                      for r in res.rows}
        return out

    def _apply(self, updates: list[RowUpdate], raw: Any = None) -> None:
        for u in updates:
            rows = self.replica[u.table]
            table = self.schema.tables[u.table]
            if u.kind in ("initial", "insert"):
                assert u.uuid not in rows and u.new is not None
                assert set(u.new) == set(table.columns), "defaults must be filled in"
                rows[u.uuid] = dict(u.new)
            elif u.kind == "delete":
                assert u.uuid in rows
                del rows[u.uuid]
            else:
                assert u.diff is not None
                old = rows[u.uuid]
                new = apply_update(table, old, u)
                assert new is not None
                if not u.diff:
                    # Writing a weak reference to a missing row: the server drops the
                    # reference again but still reports the new _version of the row.
                    assert raw is not None and set(raw[u.table][str(u.uuid)]["modify"]) == {
                        "_version"}, raw
                    event("modify with only a new _version")
                for name, d in u.diff.items():  # the server sends changed columns only
                    assert new[name] != old[name], f"{u.table}.{name}: diff {d!r} changed nothing"
                assert {k for k in new if new[k] != old[k]} == set(u.diff)
                rows[u.uuid] = new

    def _existing(self, table: str) -> list[uuid.UUID]:
        """Rows of ``table`` as of the last check, in insertion order (deterministic)."""
        return sorted(self.snapshot[table], key=lambda u: self.order[u])

    # ----------------------------------------------------------------- values

    def _string(self, data: st.DataObject, base: BaseType) -> str:
        lo, hi = base.min_length or 0, base.max_length
        strings = st.sampled_from(STRING_POOL) | TEXT
        return data.draw(strings.filter(lambda s: lo <= len(s) <= (hi if hi is not None
                                                                   else len(s))))

    def _integer(self, data: st.DataObject, base: BaseType) -> int:
        lo = INT64_MIN if base.min_integer is None else base.min_integer
        hi = INT64_MAX if base.max_integer is None else base.max_integer
        small = st.integers(max(lo, -3), min(hi, 40)) if max(lo, -3) <= min(hi, 40) else None
        choices = [st.integers(lo, hi), st.sampled_from([lo, hi])]
        if small is not None:
            choices.insert(0, small)
        return data.draw(st.one_of(*choices))

    def _atom(self, data: st.DataObject, base: BaseType, ops: list[dict[str, Any]],
              depth: int, *, key_pool: bool = False) -> Any:
        if base.enum is not None:
            return data.draw(st.sampled_from(sorted(base.enum, key=repr)))
        t = base.type
        if t == "integer":
            return self._integer(data, base)
        if t == "real":
            return data.draw(reals(base.min_real, base.max_real))
        if t == "boolean":
            return data.draw(st.booleans())
        if t == "string":
            if key_pool:
                return data.draw(st.sampled_from(KEY_POOL) | TEXT)
            return self._string(data, base)
        if base.ref_table is None:
            return data.draw(st.uuids())
        existing = self._existing(base.ref_table)
        kinds = []
        if existing:
            kinds.append("existing")
        if depth < 2:
            kinds.append("new")
        if base.ref_type == "weak":
            kinds.append("missing")
        if not kinds:
            raise Impossible(f"nothing to refer to in {base.ref_table}")
        kind = data.draw(st.sampled_from(kinds))
        if kind == "existing":
            return data.draw(st.sampled_from(existing))
        if kind == "missing":
            return data.draw(st.uuids())
        return self._insert_op(data, base.ref_table, ops, depth + 1)

    def _datum(self, data: st.DataObject, ctype: ColumnType, ops: list[dict[str, Any]],
               depth: int) -> Any:
        hi = 3 if ctype.max is None else min(ctype.max, 3)
        if ctype.value is not None:
            n = data.draw(st.integers(ctype.min, max(ctype.min, hi)))
            out: dict[Any, Any] = {}
            for _ in range(n):
                k = self._atom(data, ctype.key, ops, depth, key_pool=True)
                out[k] = self._atom(data, ctype.value, ops, depth, key_pool=True)
            if len(out) < ctype.min:
                raise Impossible("map keys collided below the minimum size")
            return out
        if ctype.is_scalar:
            return self._atom(data, ctype.key, ops, depth)
        if ctype.is_optional:
            if data.draw(st.booleans()):
                return None
            return self._atom(data, ctype.key, ops, depth)
        n = data.draw(st.integers(ctype.min, max(ctype.min, hi)))
        atoms = {self._atom(data, ctype.key, ops, depth) for _ in range(n)}
        if len(atoms) < ctype.min:
            raise Impossible("set elements collided below the minimum size")
        return frozenset(atoms)

    def _insert_op(self, data: st.DataObject, table: str, ops: list[dict[str, Any]],
                   depth: int = 0) -> NamedUUID:
        row: dict[str, Any] = {}
        for col in self.model.columns[table]:
            t = col.type
            required = (t.key.ref_table is not None and t.value is None and t.min >= 1)
            if required or data.draw(st.booleans()):
                row[col.name] = self._datum(data, t, ops, depth)
        self.names += 1
        name = NamedUUID(f"row{self.names}")
        ops.append(insert(self.schema, table, row, uuid_name=name.name))
        return name

    def _where(self, data: st.DataObject, table: str) -> list[Condition]:
        existing = self._existing(table)
        row_uuid = data.draw(st.sampled_from(existing))
        how = data.draw(st.sampled_from(["uuid", "uuid", "column", "includes", "all"]))
        if how == "uuid":
            return [Condition("_uuid", "==", row_uuid)]
        if how == "all":
            return []
        row = self.snapshot[table][row_uuid]
        cols = self.model.columns[table]
        if how == "includes":
            cols = [c for c in cols if c.type.value is not None or c.type.is_set]
            if not cols:
                return [Condition("_uuid", "==", row_uuid)]
        col = data.draw(st.sampled_from(cols))
        value = row[col.name]
        if how == "includes":
            if isinstance(value, dict):
                keys = (data.draw(st.sets(st.sampled_from(sorted(value, key=repr))))
                        if value else set())
                return [Condition(col.name, "includes", {k: value[k] for k in keys})]
            items = sorted(value, key=repr)
            part = data.draw(st.sets(st.sampled_from(items))) if items else set()
            return [Condition(col.name, "includes", frozenset(part))]
        return [Condition(col.name, "==", value)]

    def _pick_table_with_rows(self, data: st.DataObject, *, mutable: bool = False) -> str:
        tables = [t for t in self.model.tables if self.snapshot[t]
                  and (not mutable or self._mutable_columns(t))]
        if not tables:
            raise Impossible("no table with rows to change")
        return data.draw(st.sampled_from(tables))

    def _mutable_columns(self, table: str) -> list[ColumnSchema]:
        """Columns a mutation applies to: sets, maps, and integers without an enum."""
        return [c for c in self.model.columns[table] if c.mutable and (
            not c.type.is_scalar or (c.type.key.type == "integer" and c.type.key.enum is None))]

    def _update_op(self, data: st.DataObject, ops: list[dict[str, Any]]) -> None:
        table = self._pick_table_with_rows(data)
        cols = [c for c in self.model.columns[table] if c.mutable]
        chosen = data.draw(st.lists(st.sampled_from(cols), min_size=1, max_size=3, unique=True))
        where = self._where(data, table)
        row = {c.name: self._datum(data, c.type, ops, 0) for c in chosen}
        ops.append(update(self.schema, table, where, row))

    def _mutations(self, data: st.DataObject, table: str,
                   ops: list[dict[str, Any]]) -> list[Mutation]:
        out = []
        cols = self._mutable_columns(table)
        for col in data.draw(st.lists(st.sampled_from(cols), min_size=1, max_size=2)):
            t = col.type
            kinds = []
            if not t.is_scalar:
                kinds += ["insert", "delete"]
            if t.key.type == "integer" and t.value is None and t.key.enum is None:
                kinds += ["+=", "-=", "*=", "/=", "%="]
            kind = data.draw(st.sampled_from(kinds))
            if kind in ("insert", "delete"):
                # ovsdb-server parses the argument with min 0 (and max kept for insert)
                relaxed = ColumnType(t.key, t.value, 0, t.max if kind == "insert" else None)
                value = self._datum(data, relaxed, ops, 0)
                if t.value is None and not isinstance(value, frozenset):
                    # an optional-shaped draw (max 1): pass the set form
                    value = frozenset() if value is None else frozenset([value])
                if kind == "delete" and t.value is not None and data.draw(st.booleans()):
                    value = frozenset(value)  # delete map entries by key
                out.append(Mutation(col.name, kind, value))  # type: ignore[arg-type]
            else:
                arg = data.draw(st.integers(-3, 3) if kind in ("+=", "-=") else
                                st.sampled_from([-2, -1, 1, 2, 3, 0]))
                out.append(Mutation(col.name, kind, arg))  # type: ignore[arg-type]
        return out

    def _mutate_op(self, data: st.DataObject, ops: list[dict[str, Any]]) -> None:
        table = self._pick_table_with_rows(data, mutable=True)
        muts = self._mutations(data, table, ops)
        ops.append(mutate(self.schema, table, self._where(data, table), muts))

    def _delete_op(self, data: st.DataObject, ops: list[dict[str, Any]]) -> None:
        table = self._pick_table_with_rows(data)
        ops.append(delete(self.schema, table, self._where(data, table)))

    def _run(self, build: Any, data: st.DataObject) -> None:
        ops: list[dict[str, Any]] = []
        try:
            build(data, ops)
        except Impossible as exc:
            event(f"impossible: {exc}")
            return
        self._transact(ops)

    # ------------------------------------------------------------------ rules

    def _has_rows(self) -> bool:
        return any(self.snapshot.values())

    @rule(data=st.data())
    def insert_row(self, data: st.DataObject) -> None:
        self._run(lambda d, ops: self._insert_op(d, d.draw(st.sampled_from(self.model.tables)),
                                                 ops), data)

    @precondition(_has_rows)
    @rule(data=st.data())
    def update_rows(self, data: st.DataObject) -> None:
        self._run(self._update_op, data)

    @precondition(_has_rows)
    @rule(data=st.data())
    def mutate_rows(self, data: st.DataObject) -> None:
        self._run(self._mutate_op, data)

    @precondition(_has_rows)
    @rule(data=st.data())
    def delete_rows(self, data: st.DataObject) -> None:
        self._run(self._delete_op, data)

    @precondition(_has_rows)
    @rule(data=st.data())
    def batch(self, data: st.DataObject) -> None:
        def build(d: st.DataObject, ops: list[dict[str, Any]]) -> None:
            for kind in d.draw(st.lists(st.sampled_from(["insert", "update", "mutate",
                                                         "delete"]), min_size=2, max_size=4)):
                if kind == "insert":
                    self._insert_op(d, d.draw(st.sampled_from(self.model.roots)), ops)
                elif kind == "update":
                    self._update_op(d, ops)
                elif kind == "mutate":
                    self._mutate_op(d, ops)
                else:
                    self._delete_op(d, ops)
        self._run(build, data)

    # -------------------------------------------------------------- invariant

    @invariant()
    def replica_equals_select(self) -> None:
        # ovsdb-server flushes a session's monitors before it reads the session's next
        # request, so once the echo reply is in, every update2 for the writer's
        # (already acknowledged) transactions has been received before it.
        assert self.watcher.call("echo", ["barrier"]) == ["barrier"]
        notes = list(self.watcher.notifications)
        self.watcher.notifications.clear()
        for n in notes:
            assert (n.method, n.params[0]) == ("update2", "prop"), n
            self._apply(decode_update2(self.schema, n.params[1]), n.params[1])
        self.snapshot = self._select_all()
        assert self.replica == self.snapshot, _difference(self.replica, self.snapshot)


def _difference(replica: dict[str, Any], server: dict[str, Any]) -> str:
    """The rows and columns where the replica and the server disagree, readably."""
    lines = []
    for t in server:
        a, b = replica.get(t, {}), server[t]
        for u in sorted(set(a) | set(b), key=str):
            if u not in a:
                lines.append(f"{t} {u}: missing from the replica: {b[u]}")
            elif u not in b:
                lines.append(f"{t} {u}: only in the replica: {a[u]}")
            else:
                for col in sorted(set(a[u]) | set(b[u])):
                    if a[u].get(col) != b[u].get(col):
                        lines.append(f"{t} {u} {col}: replica {a[u].get(col)!r}, "
                                     f"server {b[u].get(col)!r}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Server]]:
    with Sandbox() as box:
        yield {
            "sb": box.start_server(schema_path("ic-sb"), name="ic-sb"),
            "nb": box.start_server(schema_path("nb"), name="nb"),
        }


def _machine(model: Model, server: Server) -> type[Update2Machine]:
    return type(f"{model.schema.name}Machine", (Update2Machine,),
                {"model": model, "remote": server.remote})


def test_update2_replica_equals_select_ic_sb(servers: dict[str, Server]) -> None:
    run_state_machine_as_test(_machine(SB_MODEL, servers["sb"]), settings=SETTINGS)


def test_update2_replica_equals_select_nb(servers: dict[str, Server]) -> None:
    run_state_machine_as_test(_machine(NB_MODEL, servers["nb"]), settings=SETTINGS)
