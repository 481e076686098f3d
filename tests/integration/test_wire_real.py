"""Against a real ovsdb-server through raw sockets driven by the sans-IO core.

Every request here is built by :mod:`ovsdb_ic.wire` (``ops``, ``monitor``), sent
through :class:`~ovsdb_ic.wire.jsonrpc.Connection` over a plain socket
(``rawclient.RawClient``), and every reply is decoded by :mod:`ovsdb_ic.wire`
again; the assertions compare the decoded values with what the real server
reports (``select``, ``ovsdb-client dump``, ``ovsdb-tool show-log``).

These tests fail (they are never skipped) when the OVS binaries are missing.
"""

from __future__ import annotations

import json
import operator
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest
from rawclient import RawClient

from ovsdb_ic.errors import RpcError, TransactionError
from ovsdb_ic.testing import Cluster, Sandbox, Server, require_binaries, schema_path
from ovsdb_ic.wire.data import NamedUUID, datum_from_json
from ovsdb_ic.wire.jsonrpc import NEED_DATA, Connection, Notification, Response
from ovsdb_ic.wire.monitor import (
    ZERO_TXN_ID,
    MonitorMethod,
    MonitorRequest,
    RowUpdate,
    apply_update,
    decode_cond_since_reply,
    decode_update,
    decode_update2,
    decode_update3_params,
    monitor_cond_change_params,
    monitor_params,
)
from ovsdb_ic.wire.ops import (
    Condition,
    Mutation,
    OpResult,
    abort,
    assert_lock,
    comment,
    commit,
    decode_transact_result,
    delete,
    insert,
    mutate,
    select,
    transact_params,
    update,
    wait,
)
from ovsdb_ic.wire.schema import DatabaseSchema, parse_schema

pytestmark = pytest.mark.integration


def _load(name: str) -> DatabaseSchema:
    return parse_schema(json.loads(schema_path(name).read_text()))


SB = _load("ic-sb")
NB = _load("nb")

Rows = dict[uuid.UUID, dict[str, Any]]
Tables = dict[str, Rows]


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def tx(client: RawClient, schema: DatabaseSchema, *ops: dict[str, Any]) -> list[OpResult]:
    """Run one transaction; decoded results (TransactionError if any operation failed)."""
    result = client.call("transact", transact_params(schema, ops))
    return decode_transact_result(schema, ops, result)


def strip(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("_uuid", "_version")}


def select_rows(
    client: RawClient, schema: DatabaseSchema, table: str, where: Iterable[Condition] = ()
) -> Rows:
    """``{uuid: row}`` of a select (all columns, ``_uuid``/``_version`` removed)."""
    (res,) = tx(client, schema, select(schema, table, list(where)))
    assert res.rows is not None
    return {row["_uuid"]: strip(row) for row in res.rows}


def select_all(client: RawClient, schema: DatabaseSchema,
               tables: Iterable[str] | None = None) -> Tables:
    names = list(schema.tables if tables is None else tables)
    results = tx(client, schema, *(select(schema, t) for t in names))
    out: Tables = {}
    for name, res in zip(names, results, strict=True):
        assert res.op == "select" and res.rows is not None
        out[name] = {row["_uuid"]: strip(row) for row in res.rows}
    return out


class Replica:
    """``{table: {uuid: row}}`` built only from decoded monitor replies and updates."""

    def __init__(self, schema: DatabaseSchema, tables: Iterable[str]) -> None:
        self.schema = schema
        self.tables: Tables = {t: {} for t in tables}
        self.updates_applied = 0

    def apply(self, updates: Iterable[RowUpdate]) -> None:
        for u in updates:
            rows = self.tables[u.table]
            table = self.schema.tables[u.table]
            if u.kind in ("initial", "insert"):
                assert u.uuid not in rows, f"{u.kind} of a row the replica has: {u}"
            else:
                assert u.uuid in rows, f"{u.kind} of a row the replica lacks: {u}"
            new = apply_update(table, rows.get(u.uuid), u)
            if new is None:
                del rows[u.uuid]
            else:
                rows[u.uuid] = new
            self.updates_applied += 1


class Monitor:
    """One monitor on a RawClient, keeping a :class:`Replica` up to date."""

    def __init__(
        self,
        client: RawClient,
        schema: DatabaseSchema,
        monitor_id: Any,
        requests: list[MonitorRequest],
        *,
        method: MonitorMethod = "monitor_cond",
        last_txn_id: str = ZERO_TXN_ID,
        replica: Replica | None = None,
    ) -> None:
        self.client = client
        self.schema = schema
        self.id = monitor_id
        self.method = method
        self.columns = {r.table: list(r.columns) for r in requests if r.columns is not None}
        self.replica = replica or Replica(schema, {r.table for r in requests})
        params = monitor_params(schema, monitor_id, requests, method=method,
                                last_txn_id=last_txn_id)
        result = client.call(method, params)
        self.found: bool | None = None
        self.last_txn_id: str | None = None
        self.initial: list[RowUpdate]
        if method == "monitor":
            self.initial = decode_update(schema, result, initial=True, columns=self.columns)
        elif method == "monitor_cond":
            self.initial = decode_update2(schema, result, columns=self.columns)
        else:
            self.found, self.last_txn_id, self.initial = decode_cond_since_reply(
                schema, result, columns=self.columns
            )
        self.replica.apply(self.initial)
        self.notifications: list[Notification] = []
        self.history: list[list[RowUpdate]] = []

    def decode(self, n: Notification) -> list[RowUpdate]:
        """Decode one notification of this monitor (asserting its method and id)."""
        expected = {"monitor": "update", "monitor_cond": "update2",
                    "monitor_cond_since": "update3"}[self.method]
        assert n.method == expected, n
        assert n.params[0] == self.id, n
        if expected == "update":
            return decode_update(self.schema, n.params[1], columns=self.columns)
        if expected == "update2":
            assert len(n.params) == 2
            return decode_update2(self.schema, n.params[1], columns=self.columns)
        mid, txn, updates = decode_update3_params(self.schema, n.params, columns=self.columns)
        assert mid == self.id
        assert txn != self.last_txn_id, "every update3 names a new transaction"
        self.last_txn_id = txn
        return updates

    def next(self, timeout: float = 10.0) -> list[RowUpdate]:
        """Wait for this monitor's next notification and apply it to the replica."""
        n = self.client.wait_notification(timeout)
        self.notifications.append(n)
        updates = self.decode(n)
        self.history.append(updates)
        self.replica.apply(updates)
        return updates

    def until(self, predicate: Callable[[Tables], bool], timeout: float = 10.0) -> int:
        """Apply notifications until ``predicate(replica.tables)``; return how many."""
        deadline = time.monotonic() + timeout
        count = 0
        while not predicate(self.replica.tables):
            left = deadline - time.monotonic()
            assert left > 0, f"replica never satisfied the predicate: {self.replica.tables}"
            self.next(left)
            count += 1
        return count


def sb_marker(writer: RawClient, token: str) -> None:
    """Commit ``IC_SB_Global.external_ids:sync=token`` (the row must exist)."""
    (res,) = tx(writer, SB, mutate(SB, "IC_SB_Global", [], [
        Mutation("external_ids", "delete", {"sync"}),
        Mutation("external_ids", "insert", {"sync": token}),
    ]))
    assert res.count == 1


def sb_synced(token: str) -> Callable[[Tables], bool]:
    def check(tables: Tables) -> bool:
        return any(r["external_ids"].get("sync") == token
                   for r in tables["IC_SB_Global"].values())
    return check


def ovsdb_client_dump(remote: str, schema: DatabaseSchema) -> Tables:
    """``ovsdb-client -f json dump``, every cell decoded by ``datum_from_json``."""
    exe = require_binaries("ovsdb-client")["ovsdb-client"]
    done = subprocess.run([exe, "-f", "json", "dump", remote, schema.name],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    decoder = json.JSONDecoder()
    out: Tables = {}
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = decoder.raw_decode(text, pos)
        name = obj["caption"].removesuffix(" table")
        table = schema.tables[name]
        headings = obj["headings"]
        assert headings[0] == "_uuid"
        assert set(headings[1:]) == set(table.columns), name
        rows: Rows = {}
        for cells in obj["data"]:
            row = {
                h: datum_from_json(table.column(h).type, cell, where=f"{name}.{h}")
                for h, cell in zip(headings, cells, strict=True)
            }
            rows[row.pop("_uuid")] = row
        out[name] = rows
    assert set(out) == set(schema.tables)
    return out


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def client(server: Server | Cluster, **kw: Any) -> RawClient:
    remote = server.leader().remote if isinstance(server, Cluster) else server.remote
    return RawClient(remote, **kw)


# --------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture
def sb(ic_sb_server: Server) -> Server:
    return ic_sb_server


@pytest.fixture
def nb(sandbox: Sandbox) -> Server:
    return sandbox.start_server(schema_path("nb"), name="nb")


@pytest.fixture
def c(sb: Server) -> Iterable[RawClient]:
    with RawClient(sb.remote) as cl:
        yield cl


def populate_sb(cl: RawClient) -> dict[str, uuid.UUID]:
    """Fill every table of IC-SB with varied rows; return the UUIDs by name."""
    ops = [
        insert(SB, "IC_SB_Global", {
            "external_ids": {"sync": "0", "ünï": "çødé ✓", "empty": ""},
            "options": {"ic-route-adv": "true", "ic-route-learn": "false"},
            "connections": {NamedUUID("conn1"), NamedUUID("conn2")},
            "ssl": NamedUUID("ssl"),
        }, uuid_name="glob"),
        insert(SB, "Connection", {
            "target": "pssl:6645", "max_backoff": 8000, "inactivity_probe": 60000,
            "other_config": {"dscp": "48"}, "external_ids": {"who": "test"},
        }, uuid_name="conn1"),
        insert(SB, "Connection", {"target": "ptcp:6646:192.0.2.10"}, uuid_name="conn2"),
        insert(SB, "SSL", {
            "private_key": "/etc/ovn/key.pem", "certificate": "/etc/ovn/cert.pem",
            "ca_cert": "/etc/ovn/ca.pem", "bootstrap_ca_cert": True,
            "ssl_protocols": "TLSv1.2,TLSv1.3", "ssl_ciphers": "HIGH:!aNULL",
            "external_ids": {"k": "v"},
        }, uuid_name="ssl"),
        insert(SB, "Availability_Zone", {"name": "az1"}, uuid_name="az1"),
        insert(SB, "Availability_Zone", {"name": "az2"}, uuid_name="az2"),
        insert(SB, "Availability_Zone", {"name": "zone \"três\" ✓"}, uuid_name="az3"),
        insert(SB, "Encap", {"type": "geneve", "ip": "192.0.2.1", "gateway_name": "gw1",
                             "options": {"csum": "true"}}, uuid_name="e1"),
        insert(SB, "Encap", {"type": "vxlan", "ip": "192.0.2.2", "gateway_name": "gw1"},
               uuid_name="e2"),
        insert(SB, "Encap", {"type": "stt", "ip": "2001:db8::3", "gateway_name": "gw2"},
               uuid_name="e3"),
        insert(SB, "Gateway", {"name": "gw1", "availability_zone": NamedUUID("az1"),
                               "hostname": "host-1", "encaps": {NamedUUID("e1"), NamedUUID("e2")},
                               "external_ids": {"rack": "r1"}}, uuid_name="gw1"),
        insert(SB, "Gateway", {"name": "gw2", "availability_zone": NamedUUID("az2"),
                               "hostname": "host-2", "encaps": {NamedUUID("e3")}},
               uuid_name="gw2"),
        insert(SB, "Datapath_Binding", {"transit_switch": "ts1", "tunnel_key": 1},
               uuid_name="dp1"),
        insert(SB, "Datapath_Binding", {"transit_switch": "ts2", "tunnel_key": 16777215,
                                        "external_ids": {"interconn-ts": "ts2"}},
               uuid_name="dp2"),
        insert(SB, "Port_Binding", {
            "logical_port": "lsp-az1", "transit_switch": "ts1",
            "availability_zone": NamedUUID("az1"), "tunnel_key": 1, "gateway": "gw1",
            "encap": NamedUUID("e1"), "address": "00:00:00:00:00:01 169.254.100.1/24",
            "external_ids": {"router-id": "lr1"},
        }, uuid_name="pb1"),
        insert(SB, "Port_Binding", {
            "logical_port": "lsp-az2", "transit_switch": "ts1",
            "availability_zone": NamedUUID("az2"), "tunnel_key": 32767,
        }, uuid_name="pb2"),
        insert(SB, "Route", {
            "transit_switch": "ts1", "availability_zone": NamedUUID("az1"),
            "ip_prefix": "10.1.0.0/16", "nexthop": "169.254.100.1", "origin": "connected",
            "external_ids": {"lr-id": "r1"},
        }, uuid_name="r1"),
        insert(SB, "Route", {
            "transit_switch": "ts1", "availability_zone": NamedUUID("az2"),
            "route_table": "rtb-1", "ip_prefix": "fd00::/64", "nexthop": "fe80::1",
            "origin": "static",
        }, uuid_name="r2"),
    ]
    results = tx(cl, SB, *ops)
    names = [op["uuid-name"] for op in ops]
    assert [r.op for r in results] == ["insert"] * len(ops)
    ids = {name: r.uuid for name, r in zip(names, results, strict=True)}
    assert all(isinstance(u, uuid.UUID) for u in ids.values())
    return ids  # type: ignore[return-value]


def modify_sb(cl: RawClient, ids: dict[str, uuid.UUID]) -> None:
    """A series of transactions touching every kind of change and column shape."""
    # scalar + map changes
    tx(cl, SB, update(SB, "Port_Binding", [Condition("_uuid", "==", ids["pb1"])],
                      {"address": "00:00:00:00:00:11 169.254.100.11/24", "gateway": "gw2"}),
       mutate(SB, "Port_Binding", [Condition("_uuid", "==", ids["pb1"])], [
           Mutation("external_ids", "insert", {"added": "yes"}),
           Mutation("external_ids", "delete", {"router-id"}),
       ]))
    # optional columns: empty -> value, value -> other value
    tx(cl, SB, update(SB, "Port_Binding", [Condition("_uuid", "==", ids["pb2"])],
                      {"encap": ids["e3"]}),
       update(SB, "Connection", [Condition("_uuid", "==", ids["conn1"])],
              {"max_backoff": 9000}))
    # a set loses an element: the unreferenced non-root Encap is garbage collected
    tx(cl, SB, mutate(SB, "Gateway", [Condition("name", "==", "gw1")],
                      [Mutation("encaps", "delete", ids["e2"])]))
    # replace e1: its weak reference from Port_Binding.encap is cleared by the server
    tx(cl, SB,
       insert(SB, "Encap", {"type": "geneve", "ip": "192.0.2.4", "gateway_name": "gw1"},
              uuid_name="e4"),
       mutate(SB, "Gateway", [Condition("name", "==", "gw1")], [
           Mutation("encaps", "insert", NamedUUID("e4")),
           Mutation("encaps", "delete", ids["e1"]),
       ]),
       update(SB, "Port_Binding", [Condition("_uuid", "==", ids["pb2"])],
              {"encap": NamedUUID("e4")}))
    # delete one route, insert another
    tx(cl, SB,
       delete(SB, "Route", [Condition("_uuid", "==", ids["r2"])]),
       insert(SB, "Route", {"transit_switch": "ts2", "availability_zone": ids["az3"],
                            "ip_prefix": "10.9.0.0/24", "nexthop": "169.254.100.9",
                            "origin": "static", "route_table": "main"}))
    # map value replaced, a strong-referenced non-root row dropped, optional cleared
    tx(cl, SB,
       mutate(SB, "IC_SB_Global", [], [
           Mutation("options", "delete", {"ic-route-learn"}),
           Mutation("options", "insert", {"ic-route-learn": "true"}),
           Mutation("connections", "delete", ids["conn2"]),
       ]),
       update(SB, "Connection", [Condition("_uuid", "==", ids["conn1"])],
              {"inactivity_probe": None, "other_config": {}}),
       update(SB, "SSL", [], {"bootstrap_ca_cert": False}))
    # integer arithmetic and unique-index neighbours
    tx(cl, SB, mutate(SB, "Datapath_Binding", [Condition("tunnel_key", "==", 1)],
                      [Mutation("tunnel_key", "+=", 41)]))
    # delete an unreferenced root row; insert a brand new one with a map
    tx(cl, SB,
       delete(SB, "Availability_Zone", [Condition("name", "==", "az2")]),
       delete(SB, "Gateway", [Condition("name", "==", "gw2")]),
       delete(SB, "Port_Binding", [Condition("logical_port", "==", "lsp-az2")]),
       insert(SB, "Datapath_Binding", {"transit_switch": "ts3", "tunnel_key": 3,
                                       "external_ids": {"a": "1", "b": "2"}}))


# --------------------------------------------------------------------------------------
# basics: schema, echo, framing at every byte boundary
# --------------------------------------------------------------------------------------


def test_get_schema_reply_parses_to_the_schema_file(c: RawClient) -> None:
    assert set(c.call("list_dbs", [])) >= {"OVN_IC_Southbound", "_Server"}
    live = parse_schema(c.call("get_schema", ["OVN_IC_Southbound"]))
    assert live == SB
    assert live.tables["Route"].indexes == (
        ("transit_switch", "availability_zone", "route_table", "ip_prefix", "nexthop"),
    )


def test_echo_round_trip(c: RawClient) -> None:
    assert c.call("echo", ["ping", 1, {"x": [True, None]}]) == ["ping", 1, {"x": [True, None]}]


def test_unknown_method_is_an_error_response(c: RawClient) -> None:
    with pytest.raises(RpcError) as err:
        c.call("no_such_method", [])
    assert err.value.method == "no_such_method"
    assert err.value.error == "unknown method"
    assert c.call("list_dbs", [])  # the session survives


def test_one_byte_at_a_time(sb: Server, c: RawClient) -> None:
    ids = populate_sb(c)
    with RawClient(sb.remote, chunk=1) as slow:
        assert parse_schema(slow.call("get_schema", ["OVN_IC_Southbound"])) == SB
        assert select_all(slow, SB) == select_all(c, SB)
        assert slow.bytes_received > 5_000
        mon = Monitor(slow, SB, "slow", [MonitorRequest(t) for t in SB.tables])
        assert mon.replica.tables == select_all(c, SB)
        tx(c, SB, update(SB, "Gateway", [Condition("_uuid", "==", ids["gw1"])],
                         {"hostname": "ﬁ-ligature ✓"}))
        mon.next()
        assert mon.replica.tables == select_all(c, SB)


# --------------------------------------------------------------------------------------
# operations
# --------------------------------------------------------------------------------------


def test_insert_with_named_uuid_references(c: RawClient) -> None:
    ops = [
        insert(SB, "Gateway", {"name": "gw", "availability_zone": NamedUUID("az"),
                               "hostname": "h", "encaps": {NamedUUID("ea"), NamedUUID("eb")}}),
        insert(SB, "Availability_Zone", {"name": "az-x"}, uuid_name="az"),
        insert(SB, "Encap", {"type": "geneve", "ip": "10.0.0.1"}, uuid_name="ea"),
        insert(SB, "Encap", {"type": "vxlan", "ip": "10.0.0.2"}, uuid_name="eb"),
        insert(SB, "Route", {"transit_switch": "ts", "availability_zone": NamedUUID("az"),
                             "ip_prefix": "10.0.0.0/24", "nexthop": "1.1.1.1",
                             "origin": "connected"}),
        insert(SB, "Port_Binding", {"logical_port": "lp", "transit_switch": "ts",
                                    "availability_zone": NamedUUID("az"), "tunnel_key": 7,
                                    "encap": NamedUUID("eb")}),
    ]
    gw, az, ea, eb, route, pb = tx(c, SB, *ops)
    assert all(r.op == "insert" and isinstance(r.uuid, uuid.UUID) for r in (gw, az, ea, eb))
    assert len({gw.uuid, az.uuid, ea.uuid, eb.uuid, route.uuid, pb.uuid}) == 6

    gws = select_rows(c, SB, "Gateway")
    assert gws == {gw.uuid: {"name": "gw", "availability_zone": az.uuid, "hostname": "h",
                             "encaps": frozenset({ea.uuid, eb.uuid}), "external_ids": {}}}
    (route_row,) = select_rows(c, SB, "Route").values()
    assert route_row["availability_zone"] == az.uuid
    assert route_row["route_table"] == ""  # default of an omitted column
    assert select_rows(c, SB, "Port_Binding")[pb.uuid]["encap"] == eb.uuid
    assert set(select_rows(c, SB, "Encap")) == {ea.uuid, eb.uuid}


def test_insert_with_requested_uuid(c: RawClient) -> None:
    wanted = uuid.UUID("0badc0de-0000-4000-8000-00000000abcd")
    (res,) = tx(c, SB, insert(SB, "Availability_Zone", {"name": "fixed"}, uuid=wanted))
    assert res.uuid == wanted
    assert select_rows(c, SB, "Availability_Zone") == {wanted: {"name": "fixed"}}
    with pytest.raises(TransactionError) as err:
        tx(c, SB, insert(SB, "Availability_Zone", {"name": "again"}, uuid=wanted))
    assert err.value.index == 0
    assert err.value.error == "duplicate uuid"


def _dp_keys(c: RawClient, keys: list[int]) -> dict[int, uuid.UUID]:
    res = tx(c, SB, *(insert(SB, "Datapath_Binding",
                             {"transit_switch": f"ts{k}", "tunnel_key": k}) for k in keys))
    return {k: r.uuid for k, r in zip(keys, res, strict=True)}  # type: ignore[misc]


_PY_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "includes": operator.eq, "excludes": operator.ne,
}


@pytest.mark.parametrize("function", list(_PY_ORDER))
def test_select_every_function_on_an_integer_column(c: RawClient, function: str) -> None:
    keys = [1, 2, 3, 5, 8, 13, 21, 16777215]
    by_key = _dp_keys(c, keys)
    for pivot in (1, 5, 6, 16777215):
        (res,) = tx(c, SB, select(SB, "Datapath_Binding",
                                  [Condition("tunnel_key", function, pivot)],  # type: ignore[arg-type]
                                  columns=["_uuid", "tunnel_key"]))
        assert res.rows is not None
        for row in res.rows:
            assert set(row) == {"_uuid", "tunnel_key"}
            assert by_key[row["tunnel_key"]] == row["_uuid"]
        got = sorted(row["tunnel_key"] for row in res.rows)
        assert got == [k for k in keys if _PY_ORDER[function](k, pivot)], (function, pivot)


def test_select_ordering_on_optional_integer_is_false_when_empty(c: RawClient) -> None:
    probes = [None, 1000, 5000, 0]
    # Connection is not a root table: its rows live only while IC_SB_Global refers to them
    tx(c, SB, insert(SB, "IC_SB_Global", {
        "connections": {NamedUUID(f"c{i}") for i in range(len(probes))}}),
       *(insert(SB, "Connection", {"target": f"ptcp:{6640 + i}", "inactivity_probe": p},
                uuid_name=f"c{i}") for i, p in enumerate(probes)))
    assert len(select_rows(c, SB, "Connection")) == len(probes)
    for f, pivot, want in [("<", 3000, {1000, 0}), (">=", 1000, {1000, 5000}),
                           ("==", 0, {0}), ("!=", 5000, {None, 1000, 0})]:
        rows = select_rows(c, SB, "Connection",
                           [Condition("inactivity_probe", f, pivot)])  # type: ignore[arg-type]
        assert {r["inactivity_probe"] for r in rows.values()} == want, (f, pivot)
    rows = select_rows(c, SB, "Connection", [Condition("inactivity_probe", "==", None)])
    assert [r["inactivity_probe"] for r in rows.values()] == [None]


def _py_includes(value: Any, arg: Any, shape: str) -> bool:
    if shape == "map":
        return set(arg.items()) <= set(value.items())
    return _as_set(arg) <= _as_set(value)


def _py_excludes(value: Any, arg: Any, shape: str) -> bool:
    if shape == "map":
        return not (set(arg.items()) & set(value.items()))
    return not (_as_set(arg) & _as_set(value))


def _as_set(v: Any) -> frozenset[Any]:
    if v is None:
        return frozenset()
    if isinstance(v, frozenset | set):
        return frozenset(v)
    return frozenset([v])


def test_select_includes_excludes_on_map_set_and_optional(c: RawClient) -> None:
    ids = populate_sb(c)
    # more Port_Binding rows with interesting external_ids and encaps
    tx(c, SB, *(insert(SB, "Port_Binding", {
        "logical_port": f"lp{i}", "transit_switch": "tsx", "tunnel_key": i + 1,
        "availability_zone": ids["az1"], "external_ids": ext, "encap": enc,
    }) for i, (ext, enc) in enumerate([
        ({"a": "1", "b": "2"}, ids["e1"]),
        ({"a": "1"}, ids["e3"]),
        ({}, None),
        ({"a": "2", "c": "3"}, ids["e1"]),
    ])))
    cases: list[tuple[str, str, str, Any]] = [
        ("Port_Binding", "external_ids", "map", {"a": "1"}),
        ("Port_Binding", "external_ids", "map", {"a": "1", "b": "2"}),
        ("Port_Binding", "external_ids", "map", {"a": "1", "c": "3"}),
        ("Port_Binding", "external_ids", "map", {}),
        ("Port_Binding", "encap", "optional", frozenset({ids["e1"]})),
        ("Port_Binding", "encap", "optional", frozenset({ids["e1"], ids["e3"]})),
        ("Port_Binding", "encap", "optional", frozenset()),
        ("Gateway", "encaps", "set", frozenset({ids["e1"]})),
        ("Gateway", "encaps", "set", frozenset({ids["e2"], ids["e3"]})),
        ("Gateway", "encaps", "set", frozenset({ids["e1"], ids["e2"]})),
        ("IC_SB_Global", "connections", "set", frozenset({ids["conn2"]})),
    ]
    checked = 0
    for table, column, shape, arg in cases:
        everything = select_rows(c, SB, table)
        for f, py in (("includes", _py_includes), ("excludes", _py_excludes)):
            if f == "includes" and shape == "optional" and len(arg) > 1:
                # ovsdb-server keeps the column's max for "includes" (only "excludes"
                # takes any number of elements): "set must have 0 to 1 members"
                continue
            got = set(select_rows(c, SB, table, [Condition(column, f, arg)]))  # type: ignore[arg-type]
            want = {u for u, r in everything.items() if py(r[column], arg, shape)}
            assert got == want, (table, column, f, arg)
            checked += len(want)
    assert checked > 10  # the cases select something


def test_select_equality_on_map_set_optional_and_string(c: RawClient) -> None:
    ids = populate_sb(c)
    gw = select_rows(c, SB, "Gateway", [Condition("encaps", "==", {ids["e1"], ids["e2"]})])
    assert set(gw) == {ids["gw1"]}
    gw = select_rows(c, SB, "Gateway", [Condition("encaps", "!=", {ids["e1"], ids["e2"]})])
    assert set(gw) == {ids["gw2"]}
    pb = select_rows(c, SB, "Port_Binding", [Condition("external_ids", "==", {})])
    assert set(pb) == {ids["pb2"]}
    pb = select_rows(c, SB, "Port_Binding", [Condition("encap", "==", None)])
    assert set(pb) == {ids["pb2"]}
    pb = select_rows(c, SB, "Port_Binding", [Condition("encap", "!=", None)])
    assert set(pb) == {ids["pb1"]}
    az = select_rows(c, SB, "Availability_Zone", [Condition("name", "==", "zone \"três\" ✓")])
    assert set(az) == {ids["az3"]}
    route = select_rows(c, SB, "Route", [Condition("origin", "==", "static"),
                                          Condition("route_table", "!=", "")])
    assert set(route) == {ids["r2"]}
    assert select_rows(c, SB, "Route", [Condition("origin", "==", "static"),
                                        Condition("route_table", "==", "")]) == {}


def test_update_sets_columns_of_every_matching_row(c: RawClient) -> None:
    ids = populate_sb(c)
    (res,) = tx(c, SB, update(SB, "Port_Binding", [Condition("transit_switch", "==", "ts1")],
                              {"gateway": "gw-new", "external_ids": {"x": "y"}, "encap": None}))
    assert res == OpResult("update", count=2)
    for row in select_rows(c, SB, "Port_Binding").values():
        assert (row["gateway"], row["external_ids"], row["encap"]) == ("gw-new", {"x": "y"}, None)
    (res,) = tx(c, SB, update(SB, "Port_Binding", [Condition("transit_switch", "==", "none")],
                              {"gateway": "x"}))
    assert res.count == 0
    (res,) = tx(c, SB, update(SB, "Port_Binding", [Condition("_uuid", "==", ids["pb2"])],
                              {"encap": ids["e3"], "tunnel_key": 9}))
    assert res.count == 1
    assert select_rows(c, SB, "Port_Binding")[ids["pb2"]]["encap"] == ids["e3"]
    assert select_rows(c, SB, "Port_Binding")[ids["pb2"]]["tunnel_key"] == 9


def test_mutate_integer_arithmetic(c: RawClient) -> None:
    by_key = _dp_keys(c, [10, 20, 30])
    where = [Condition("tunnel_key", ">=", 20)]
    (res,) = tx(c, SB, mutate(SB, "Datapath_Binding", where, [Mutation("tunnel_key", "+=", 5)]))
    assert res.count == 2
    (res,) = tx(c, SB, mutate(SB, "Datapath_Binding", [], [Mutation("tunnel_key", "-=", 3),
                                                          Mutation("tunnel_key", "*=", 4)]))
    assert res.count == 3
    (res,) = tx(c, SB, mutate(SB, "Datapath_Binding", [], [Mutation("tunnel_key", "/=", 2),
                                                          Mutation("tunnel_key", "%=", 1000)]))
    keys = {u: r["tunnel_key"] for u, r in select_rows(c, SB, "Datapath_Binding").items()}
    assert keys == {by_key[10]: (10 - 3) * 4 // 2 % 1000, by_key[20]: (25 - 3) * 4 // 2 % 1000,
                    by_key[30]: (35 - 3) * 4 // 2 % 1000}
    # leaving the column's range is a constraint violation of the mutate itself
    with pytest.raises(TransactionError) as err:
        tx(c, SB, insert(SB, "Availability_Zone", {"name": "not-committed"}),
           mutate(SB, "Datapath_Binding", [], [Mutation("tunnel_key", "+=", 16777215)]))
    assert err.value.index == 1
    assert err.value.error == "constraint violation"
    assert err.value.op is not None and err.value.op["op"] == "mutate"
    assert "valid range" in (err.value.details or "")
    assert select_rows(c, SB, "Availability_Zone") == {}  # the whole transaction was undone


def test_mutate_map_insert_and_delete(c: RawClient) -> None:
    (dp,) = tx(c, SB, insert(SB, "Datapath_Binding", {
        "transit_switch": "ts", "tunnel_key": 1, "external_ids": {"a": "1", "b": "2", "c": "3"}}))
    where = [Condition("_uuid", "==", dp.uuid)]

    def ext() -> dict[str, str]:
        return select_rows(c, SB, "Datapath_Binding")[dp.uuid]["external_ids"]  # type: ignore[index]

    # insert never replaces an existing key
    tx(c, SB, mutate(SB, "Datapath_Binding", where,
                     [Mutation("external_ids", "insert", {"a": "changed", "d": "4"})]))
    assert ext() == {"a": "1", "b": "2", "c": "3", "d": "4"}
    # delete by key set
    tx(c, SB, mutate(SB, "Datapath_Binding", where,
                     [Mutation("external_ids", "delete", {"a", "zzz"})]))
    assert ext() == {"b": "2", "c": "3", "d": "4"}
    # delete by pairs: only pairs whose value matches
    tx(c, SB, mutate(SB, "Datapath_Binding", where,
                     [Mutation("external_ids", "delete", {"b": "2", "c": "wrong"})]))
    assert ext() == {"c": "3", "d": "4"}


def test_mutate_set_insert_delete_and_minimum_size(c: RawClient) -> None:
    ids = populate_sb(c)
    where = [Condition("name", "==", "gw2")]
    (new_encap, res) = tx(c, SB,
                          insert(SB, "Encap", {"type": "vxlan", "ip": "10.9.9.9"},
                                 uuid_name="n"),
                          mutate(SB, "Gateway", where, [Mutation("encaps", "insert",
                                                                 NamedUUID("n"))]))
    assert res.count == 1
    assert select_rows(c, SB, "Gateway")[ids["gw2"]]["encaps"] == {ids["e3"], new_encap.uuid}
    (res,) = tx(c, SB, mutate(SB, "Gateway", where, [Mutation("encaps", "delete", ids["e3"])]))
    assert res.count == 1
    assert select_rows(c, SB, "Gateway")[ids["gw2"]]["encaps"] == {new_encap.uuid}
    # e3 is no longer referenced: non-root Encap rows are garbage collected
    assert ids["e3"] not in select_rows(c, SB, "Encap")
    with pytest.raises(TransactionError) as err:
        tx(c, SB, mutate(SB, "Gateway", where, [Mutation("encaps", "delete", new_encap.uuid)]))
    assert (err.value.index, err.value.error) == (0, "constraint violation")
    assert select_rows(c, SB, "Gateway")[ids["gw2"]]["encaps"] == {new_encap.uuid}


def test_delete_counts_rows(c: RawClient) -> None:
    _dp_keys(c, [1, 2, 3, 4])
    (res,) = tx(c, SB, delete(SB, "Datapath_Binding", [Condition("tunnel_key", ">", 2)]))
    assert res == OpResult("delete", count=2)
    (res,) = tx(c, SB, delete(SB, "Datapath_Binding", [Condition("tunnel_key", ">", 2)]))
    assert res.count == 0
    (res,) = tx(c, SB, delete(SB, "Datapath_Binding", []))
    assert res.count == 2
    assert select_rows(c, SB, "Datapath_Binding") == {}


def test_wait_satisfied_and_timed_out(c: RawClient) -> None:
    tx(c, SB, insert(SB, "Availability_Zone", {"name": "az1"}))
    where = [Condition("name", "==", "az1")]
    ok = tx(c, SB,
            wait(SB, "Availability_Zone", where, ["name"], [{"name": "az1"}]),
            wait(SB, "Availability_Zone", where, ["name"], [{"name": "other"}], until="!="),
            wait(SB, "Availability_Zone", [Condition("name", "==", "nope")], ["name"], []),
            insert(SB, "Availability_Zone", {"name": "az2"}))
    assert [r.op for r in ok] == ["wait", "wait", "wait", "insert"]
    with pytest.raises(TransactionError) as err:
        tx(c, SB, insert(SB, "Availability_Zone", {"name": "az3"}),
           wait(SB, "Availability_Zone", where, ["name"], [], timeout_ms=0))
    assert err.value.index == 1
    assert err.value.error == "timed out"
    assert err.value.op is not None and err.value.op["op"] == "wait"
    names = {r["name"] for r in select_rows(c, SB, "Availability_Zone").values()}
    assert names == {"az1", "az2"}


def test_wait_blocks_until_another_client_commits(sb: Server, c: RawClient) -> None:
    where = [Condition("name", "==", "late")]
    ops = [wait(SB, "Availability_Zone", where, ["name"], [{"name": "late"}], timeout_ms=15000),
           insert(SB, "Availability_Zone", {"name": "after-late"})]
    rid = c.send("transact", transact_params(SB, ops))
    c.idle(0.3)
    assert rid not in c.responses and rid in c.conn.pending  # still blocked on the wait
    with RawClient(sb.remote) as other:
        tx(other, SB, insert(SB, "Availability_Zone", {"name": "late"}))
    waited, inserted = decode_transact_result(SB, ops, c.result(rid))
    assert waited == OpResult("wait")
    assert inserted.uuid in select_rows(c, SB, "Availability_Zone")


@pytest.mark.parametrize("durable", [False, True])
def test_commit(c: RawClient, durable: bool) -> None:
    ins, com = tx(c, SB, insert(SB, "Availability_Zone", {"name": f"durable-{durable}"}),
                  commit(durable))
    assert com == OpResult("commit")
    assert select_rows(c, SB, "Availability_Zone") == {ins.uuid: {"name": f"durable-{durable}"}}


def test_abort(c: RawClient) -> None:
    with pytest.raises(TransactionError) as err:
        tx(c, SB, insert(SB, "Availability_Zone", {"name": "gone"}), abort())
    assert (err.value.index, err.value.error) == (1, "aborted")
    assert err.value.op == {"op": "abort"}
    assert select_rows(c, SB, "Availability_Zone") == {}


def test_comment_is_written_to_the_database_log(sb: Server, c: RawClient) -> None:
    text = "wire test comment ✓ #42"
    ins, com = tx(c, SB, insert(SB, "Availability_Zone", {"name": "commented"}), comment(text))
    assert com == OpResult("comment")
    tool = require_binaries("ovsdb-tool")["ovsdb-tool"]
    log = subprocess.run([tool, "show-log", "-m", str(sb.db_path)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert f'"{text}"' in log
    assert str(ins.uuid)[:8] in log


def test_assert_lock_and_lock_notifications(sb: Server) -> None:
    with RawClient(sb.remote) as a, RawClient(sb.remote) as b:
        with pytest.raises(TransactionError) as err:
            tx(a, SB, assert_lock("ic"), insert(SB, "Availability_Zone", {"name": "x"}))
        assert (err.value.index, err.value.error) == (0, "not owner")

        assert a.call("lock", ["ic"]) == {"locked": True}
        res = tx(a, SB, assert_lock("ic"), insert(SB, "Availability_Zone", {"name": "by-a"}))
        assert [r.op for r in res] == ["assert", "insert"]

        assert b.call("lock", ["ic"]) == {"locked": False}  # queued behind a
        with pytest.raises(TransactionError) as err:
            tx(b, SB, assert_lock("ic"), insert(SB, "Availability_Zone", {"name": "by-b"}))
        assert err.value.error == "not owner"

        assert a.call("unlock", ["ic"]) == {}
        assert b.wait_notification() == Notification("locked", ["ic"])
        tx(b, SB, assert_lock("ic"))
        with pytest.raises(TransactionError):
            tx(a, SB, assert_lock("ic"))

        assert a.call("steal", ["ic"]) == {"locked": True}
        assert b.wait_notification() == Notification("stolen", ["ic"])
        tx(a, SB, assert_lock("ic"))
        with pytest.raises(TransactionError) as err:
            tx(b, SB, assert_lock("ic"))
        assert err.value.error == "not owner"
        names = {r["name"] for r in select_rows(a, SB, "Availability_Zone").values()}
        assert names == {"by-a"}


def test_duplicate_unique_index_is_a_commit_time_constraint_violation(c: RawClient) -> None:
    ids = populate_sb(c)
    ops = [insert(SB, "Availability_Zone", {"name": "az1"})]
    with pytest.raises(TransactionError) as err:
        tx(c, SB, *ops)
    assert err.value.index == len(ops)
    assert err.value.op is None
    assert err.value.error == "constraint violation"
    assert "Availability_Zone" in (err.value.details or "")

    route = {"transit_switch": "ts1", "availability_zone": ids["az1"], "ip_prefix": "10.1.0.0/16",
             "nexthop": "169.254.100.1", "origin": "static"}  # differs from r1 only in origin
    ops = [insert(SB, "Datapath_Binding", {"transit_switch": "new", "tunnel_key": 77}),
           insert(SB, "Route", route)]
    with pytest.raises(TransactionError) as err:
        tx(c, SB, *ops)
    assert (err.value.index, err.value.op, err.value.error) == (2, None, "constraint violation")
    assert 77 not in {r["tunnel_key"] for r in select_rows(c, SB, "Datapath_Binding").values()}
    # two inserts of the same transaction colliding with each other
    with pytest.raises(TransactionError) as err:
        tx(c, SB, insert(SB, "Availability_Zone", {"name": "twin"}),
           insert(SB, "Availability_Zone", {"name": "twin"}))
    assert (err.value.index, err.value.error) == (2, "constraint violation")


def test_referential_integrity_violations(c: RawClient) -> None:
    ids = populate_sb(c)
    ops = [delete(SB, "Availability_Zone", [Condition("name", "==", "az1")])]
    with pytest.raises(TransactionError) as err:
        tx(c, SB, *ops)
    assert (err.value.index, err.value.op) == (1, None)
    assert err.value.error == "referential integrity violation"
    assert ids["az1"] in select_rows(c, SB, "Availability_Zone")

    ghost = uuid.UUID("12345678-1234-4234-8234-123456789abc")
    with pytest.raises(TransactionError) as err:
        tx(c, SB, insert(SB, "Route", {"transit_switch": "t", "availability_zone": ghost,
                                       "ip_prefix": "1.0.0.0/8", "nexthop": "2.2.2.2",
                                       "origin": "static"}))
    assert (err.value.index, err.value.error) == (1, "referential integrity violation")
    assert str(ghost) in (err.value.details or "")
    # a weak reference to a missing row is not an error: the server drops it
    (pb,) = tx(c, SB, insert(SB, "Port_Binding", {
        "logical_port": "weak", "transit_switch": "t", "tunnel_key": 5,
        "availability_zone": ids["az1"], "encap": ghost}))
    assert select_rows(c, SB, "Port_Binding")[pb.uuid]["encap"] is None  # type: ignore[index]


def test_nb_non_root_rows_sets_maps_and_enums(nb: Server) -> None:
    with RawClient(nb.remote) as cl:
        lrp, lr, sr = tx(cl, NB,
                         insert(NB, "Logical_Router_Port", {
                             "name": "lrp-ts1", "mac": "0a:00:00:00:00:01",
                             "networks": {"169.254.100.1/24", "fd00::1/64"},
                             "options": {"requested-chassis": "gw1"}, "enabled": True,
                         }, uuid_name="lrp"),
                         insert(NB, "Logical_Router", {"name": "lr1", "ports": {NamedUUID("lrp")},
                                                       "static_routes": {NamedUUID("sr")}}),
                         insert(NB, "Logical_Router_Static_Route", {
                             "ip_prefix": "10.2.0.0/16", "nexthop": "169.254.100.2",
                             "policy": "dst-ip", "external_ids": {"ic-learned-route": "x"},
                         }, uuid_name="sr"))
        port = select_rows(cl, NB, "Logical_Router_Port")[lrp.uuid]  # type: ignore[index]
        assert port["networks"] == {"169.254.100.1/24", "fd00::1/64"}
        assert port["peer"] is None and port["enabled"] is True
        assert select_rows(cl, NB, "Logical_Router_Static_Route")[sr.uuid]["policy"] == "dst-ip"  # type: ignore[index]
        tx(cl, NB, mutate(NB, "Logical_Router_Port", [Condition("name", "==", "lrp-ts1")], [
            Mutation("networks", "delete", "fd00::1/64"),
            Mutation("networks", "insert", {"169.254.200.1/24"}),
            Mutation("options", "insert", {"gateway_mtu": "1400"}),
        ]))
        port = select_rows(cl, NB, "Logical_Router_Port")[lrp.uuid]  # type: ignore[index]
        assert port["networks"] == {"169.254.100.1/24", "169.254.200.1/24"}
        assert port["options"] == {"requested-chassis": "gw1", "gateway_mtu": "1400"}
        # dropping the only reference garbage-collects the non-root rows
        tx(cl, NB, update(NB, "Logical_Router", [Condition("_uuid", "==", lr.uuid)],
                          {"ports": frozenset(), "static_routes": frozenset()}))
        assert select_rows(cl, NB, "Logical_Router_Port") == {}
        assert select_rows(cl, NB, "Logical_Router_Static_Route") == {}


# --------------------------------------------------------------------------------------
# monitors
# --------------------------------------------------------------------------------------


def test_monitor_v1_updates(sb: Server, c: RawClient) -> None:
    ids = populate_sb(c)
    with RawClient(sb.remote) as w:
        mon = Monitor(c, SB, ["v1", 7], [MonitorRequest("Gateway", ("name", "hostname")),
                                         MonitorRequest("Port_Binding")], method="monitor")
        assert {u.kind for u in mon.initial} == {"initial"}
        assert mon.replica.tables["Gateway"] == {
            u: {"name": r["name"], "hostname": r["hostname"]}
            for u, r in select_rows(c, SB, "Gateway").items()}
        assert mon.replica.tables["Port_Binding"] == select_rows(c, SB, "Port_Binding")

        tx(w, SB, update(SB, "Gateway", [Condition("name", "==", "gw1")], {"hostname": "h9"}))
        (upd,) = mon.next()
        assert (upd.kind, upd.uuid) == ("modify", ids["gw1"])
        assert upd.old == {"hostname": "host-1"}  # v1: old values of changed columns only
        assert upd.new == {"name": "gw1", "hostname": "h9"}

        # an unmonitored column changes: no notification; the next one is the insert
        tx(w, SB, update(SB, "Gateway", [], {"external_ids": {"ignored": "yes"}}))
        (pb,) = tx(w, SB, insert(SB, "Port_Binding", {
            "logical_port": "new", "transit_switch": "ts9", "tunnel_key": 3,
            "availability_zone": ids["az1"], "external_ids": {"k": "v"}}))
        (upd,) = mon.next()
        assert (upd.table, upd.kind, upd.uuid) == ("Port_Binding", "insert", pb.uuid)

        tx(w, SB, delete(SB, "Port_Binding", [Condition("_uuid", "==", pb.uuid)]))
        (upd,) = mon.next()
        assert (upd.kind, upd.uuid) == ("delete", pb.uuid)
        assert upd.old is not None and upd.old["external_ids"] == {"k": "v"}
        assert mon.replica.tables["Port_Binding"] == select_rows(c, SB, "Port_Binding")
        assert [n.params[0] for n in mon.notifications] == [["v1", 7]] * 3


def test_monitor_cond_where_filters_rows(sb: Server, c: RawClient) -> None:
    a = _dp_keys(c, [1, 2, 3])
    tx(c, SB, update(SB, "Datapath_Binding", [Condition("tunnel_key", ">=", 2)],
                     {"transit_switch": "ts-a"}))
    where = (Condition("transit_switch", "==", "ts-a"),)
    mon = Monitor(c, SB, "cond", [MonitorRequest("Datapath_Binding", where=where)])
    assert set(mon.replica.tables["Datapath_Binding"]) == {a[2], a[3]}
    assert all(u.kind == "initial" for u in mon.initial)

    def matching() -> Rows:
        return select_rows(c, SB, "Datapath_Binding", where)

    with RawClient(sb.remote) as w:
        # not matching: no notification; the next one is about the matching insert
        tx(w, SB, insert(SB, "Datapath_Binding", {"transit_switch": "ts-b", "tunnel_key": 50}))
        (new,) = tx(w, SB, insert(SB, "Datapath_Binding",
                                  {"transit_switch": "ts-a", "tunnel_key": 60}))
        assert [(u.kind, u.uuid) for u in mon.next()] == [("insert", new.uuid)]
        # a row starts matching: "insert"; stops matching: "delete"; changes: "modify"
        tx(w, SB, update(SB, "Datapath_Binding", [Condition("tunnel_key", "==", 1)],
                         {"transit_switch": "ts-a"}))
        assert [(u.kind, u.uuid) for u in mon.next()] == [("insert", a[1])]
        tx(w, SB, update(SB, "Datapath_Binding", [Condition("tunnel_key", "==", 2)],
                         {"transit_switch": "ts-c"}))
        assert [(u.kind, u.uuid) for u in mon.next()] == [("delete", a[2])]
        tx(w, SB, mutate(SB, "Datapath_Binding", [Condition("tunnel_key", "==", 3)],
                         [Mutation("external_ids", "insert", {"x": "1"})]))
        (upd,) = mon.next()
        assert (upd.kind, upd.uuid, upd.diff) == ("modify", a[3], {"external_ids": {"x": "1"}})
    assert mon.replica.tables["Datapath_Binding"] == matching()


def test_monitor_cond_empty_where_selects_every_row(c: RawClient) -> None:
    """ovsdb-server treats ``"where": []`` as true (ovsdb-server(7) section 4.1.12)."""
    keys = _dp_keys(c, [1, 2])
    mon = Monitor(c, SB, "empty", [MonitorRequest("Datapath_Binding", where=())])
    assert set(mon.replica.tables["Datapath_Binding"]) == set(keys.values())
    none = Monitor(c, SB, "none", [MonitorRequest("Datapath_Binding", where=(False,))])
    assert none.replica.tables["Datapath_Binding"] == {}


def test_monitor_cond_change(sb: Server, c: RawClient) -> None:
    keys = _dp_keys(c, [1, 2, 3, 4, 5, 6])
    mon = Monitor(c, SB, "m1", [MonitorRequest(
        "Datapath_Binding", ("tunnel_key",), where=(Condition("tunnel_key", "<", 3),))])
    assert mon.replica.tables["Datapath_Binding"] == {
        keys[1]: {"tunnel_key": 1}, keys[2]: {"tunnel_key": 2}}

    # ovsdb-server rejects any "columns" in monitor_cond_change ("changing columns is
    # unsupported"), so the change request names the condition only
    params = monitor_cond_change_params(SB, "m1", "m2", [MonitorRequest(
        "Datapath_Binding", where=(Condition("tunnel_key", ">=", 5),))])
    assert c.call("monitor_cond_change", params) == {}
    # the server sends the resulting update2 before its reply (ovsdb-server(7) 4.1.13)
    assert len(c.notifications) == 1
    mon.id = "m2"
    updates = mon.next(timeout=0)
    assert sorted((u.kind, u.uuid) for u in updates) == sorted(
        [("delete", keys[1]), ("delete", keys[2]), ("insert", keys[5]), ("insert", keys[6])])
    assert set(mon.replica.tables["Datapath_Binding"]) == {keys[5], keys[6]}

    with RawClient(sb.remote) as w:
        tx(w, SB, mutate(SB, "Datapath_Binding", [Condition("tunnel_key", "==", 3)],
                         [Mutation("tunnel_key", "+=", 97)]))
        (upd,) = mon.next()
    assert (upd.kind, upd.uuid, upd.new) == ("insert", keys[3], {"tunnel_key": 100})
    assert mon.notifications[-1].params[0] == "m2"

    with pytest.raises(RpcError) as err:
        c.call("monitor_cond_change", monitor_cond_change_params(SB, "m1", "m3", []))
    assert err.value.error == {"error": "syntax error", "details": "unknown monitor session",
                               "syntax": '"m1"'}


def test_monitor_cancel(sb: Server, c: RawClient) -> None:
    a = Monitor(c, SB, "a", [MonitorRequest("Availability_Zone")])
    b = Monitor(c, SB, "b", [MonitorRequest("Availability_Zone")])
    with pytest.raises(RpcError) as err:
        c.call("monitor_cond", monitor_params(SB, "a", [MonitorRequest("Availability_Zone")]))
    assert err.value.error["error"] == "syntax error"
    assert err.value.error["details"] == "duplicate monitor ID"

    assert c.call("monitor_cancel", ["a"]) == {}
    with RawClient(sb.remote) as w:
        (az,) = tx(w, SB, insert(SB, "Availability_Zone", {"name": "after-cancel"}))
    assert [(u.kind, u.uuid) for u in b.next()] == [("insert", az.uuid)]
    assert c.call("echo", []) == []  # a round trip after b's update: nothing for "a" came
    assert c.notifications == []
    assert a.replica.tables["Availability_Zone"] == {}
    with pytest.raises(RpcError) as err:
        c.call("monitor_cancel", ["a"])
    assert err.value.error == "unknown monitor"


def test_monitor_select_flags(sb: Server, c: RawClient) -> None:
    _dp_keys(c, [1])
    mon = Monitor(c, SB, "ins", [MonitorRequest("Datapath_Binding", initial=False,
                                                modify=False, delete=False)])
    assert mon.initial == [] and mon.replica.tables["Datapath_Binding"] == {}
    with RawClient(sb.remote) as w:
        tx(w, SB, update(SB, "Datapath_Binding", [], {"transit_switch": "modified"}))
        tx(w, SB, delete(SB, "Datapath_Binding", []))
        (new,) = tx(w, SB, insert(SB, "Datapath_Binding", {"transit_switch": "x",
                                                           "tunnel_key": 2}))
    assert [(u.kind, u.uuid) for u in mon.next()] == [("insert", new.uuid)]


def test_monitor_cond_since_on_a_standalone_server_has_no_history(c: RawClient) -> None:
    populate_sb(c)
    tables = list(SB.tables)
    for last in (ZERO_TXN_ID, str(uuid.uuid4())):
        mon = Monitor(c, SB, ["since", last], [MonitorRequest(t) for t in tables],
                      method="monitor_cond_since", last_txn_id=last)
        assert mon.found is False
        assert mon.last_txn_id == ZERO_TXN_ID
        assert {u.kind for u in mon.initial} == {"initial"}
        assert mon.replica.tables == select_all(c, SB)


def test_monitor_cond_since_resumes_on_a_raft_cluster(sandbox: Sandbox) -> None:
    cluster = sandbox.start_cluster(schema_path("ic-sb"), name="icsb")
    leader = cluster.leader()
    requests = [MonitorRequest(t) for t in ("Datapath_Binding", "Availability_Zone")]
    tables = [r.table for r in requests]
    with RawClient(leader.remote) as w, RawClient(leader.remote) as first:
        # ovsdb-server keeps transaction history only for clustered databases, at most
        # 100 transactions and fewer atoms than the database holds, so the database
        # must be large next to the changes we replay.
        _dp_keys(w, list(range(1, 301)))
        mon = Monitor(first, SB, "s", requests, method="monitor_cond_since")
        assert mon.found is False
        assert mon.last_txn_id not in (None, ZERO_TXN_ID)
        assert mon.replica.tables == select_all(w, SB, tables)
        first_id = mon.last_txn_id

        (az,) = tx(w, SB, insert(SB, "Availability_Zone", {"name": "az-live"}))
        assert [(u.kind, u.uuid) for u in mon.next()] == [("insert", az.uuid)]
        assert mon.last_txn_id != first_id
        saved_id = mon.last_txn_id
        assert saved_id is not None
        saved = {t: dict(rows) for t, rows in mon.replica.tables.items()}
        first.close()  # disconnect

        # changes while disconnected
        (az2,) = tx(w, SB, insert(SB, "Availability_Zone", {"name": "az-offline"}))
        tx(w, SB, update(SB, "Datapath_Binding", [Condition("tunnel_key", "==", 7)],
                         {"external_ids": {"changed": "offline"}}))
        tx(w, SB, delete(SB, "Datapath_Binding", [Condition("tunnel_key", ">", 295)]))
        tx(w, SB, delete(SB, "Availability_Zone", [Condition("name", "==", "az-live")]))
        now = select_all(w, SB, tables)

        with RawClient(leader.remote) as again:
            replay = Replica(SB, tables)
            replay.tables = saved
            resumed = Monitor(again, SB, "s", requests, method="monitor_cond_since",
                              last_txn_id=saved_id, replica=replay)
            assert resumed.found is True
            assert resumed.last_txn_id not in (saved_id, ZERO_TXN_ID)
            kinds = sorted((u.table, u.kind) for u in resumed.initial)
            assert kinds == sorted([("Availability_Zone", "insert"),
                                    ("Availability_Zone", "delete"),
                                    ("Datapath_Binding", "modify")]
                                   + [("Datapath_Binding", "delete")] * 5)
            assert {u.uuid for u in resumed.initial if u.kind == "insert"} == {az2.uuid}
            # only the changes came: applied to the saved replica they give today's rows
            assert replay.tables == now
            # asking again from the id the server just gave: found, and nothing to send
            with RawClient(leader.remote) as third:
                idle = Monitor(third, SB, "t", requests, method="monitor_cond_since",
                               last_txn_id=resumed.last_txn_id or "")
                assert (idle.found, idle.last_txn_id, idle.initial) == (
                    True, resumed.last_txn_id, [])
            # the resumed monitor keeps going with update3
            tx(w, SB, insert(SB, "Availability_Zone", {"name": "az-after"}))
            (upd,) = resumed.next()
            assert upd.kind == "insert" and upd.new == {"name": "az-after"}
            assert replay.tables == select_all(w, SB, tables)

        with RawClient(leader.remote) as unknown:
            full = Monitor(unknown, SB, "u", requests, method="monitor_cond_since",
                           last_txn_id=str(uuid.uuid4()))
            assert full.found is False
            assert {u.kind for u in full.initial} == {"initial"}
            assert full.replica.tables == select_all(w, SB, tables)


# --------------------------------------------------------------------------------------
# decoded contents equal ovsdb-client dump
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["monitor", "monitor_cond", "monitor_cond_since"])
def test_decoded_replica_equals_ovsdb_client_dump(sandbox: Sandbox, method: str) -> None:
    target: Server | Cluster
    if method == "monitor_cond_since":
        target = sandbox.start_cluster(schema_path("ic-sb"), name="icsb")
        remote = target.leader().remote
    else:
        target = sandbox.start_server(schema_path("ic-sb"), name="icsb")
        remote = target.remote
    with RawClient(remote) as w, RawClient(remote) as m:
        ids = populate_sb(w)
        mon = Monitor(m, SB, "dump", [MonitorRequest(t) for t in SB.tables],
                      method=method)  # type: ignore[arg-type]
        if method == "monitor_cond_since":
            assert mon.found is False and mon.last_txn_id != ZERO_TXN_ID
        dumped = ovsdb_client_dump(remote, SB)
        assert sum(map(len, dumped.values())) == 18
        assert mon.replica.tables == dumped
        assert dumped == select_all(w, SB)

        modify_sb(w, ids)
        sb_marker(w, "after-modify")
        count = mon.until(sb_synced("after-modify"))
        assert count >= 1
        dumped = ovsdb_client_dump(remote, SB)
        assert mon.replica.tables == dumped
        # the changes really happened (and were not merely absent on both sides)
        assert ids["e1"] not in dumped["Encap"] and ids["e2"] not in dumped["Encap"]
        assert dumped["Port_Binding"][ids["pb1"]]["encap"] is None  # weak ref cleared
        assert dumped["Connection"][ids["conn1"]]["inactivity_probe"] is None
        assert dumped["Connection"][ids["conn1"]]["max_backoff"] == 9000
        assert set(dumped["Connection"]) == {ids["conn1"]}
        assert dumped["IC_SB_Global"][ids["glob"]]["options"]["ic-route-learn"] == "true"
        assert {r["tunnel_key"] for r in dumped["Datapath_Binding"].values()} == {
            42, 3, 16777215}
        if method != "monitor":
            kinds = {u.kind for updates in mon.history for u in updates}
            assert kinds == {"insert", "modify", "delete"}


# --------------------------------------------------------------------------------------
# the Connection: pipelining, notifications in flight, abandon, echo / inactivity probe
# --------------------------------------------------------------------------------------


def test_pipelined_requests_with_notifications_in_flight(sb: Server) -> None:
    """Six requests on the wire at once, with update2 notifications interleaved."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    assert sb.unix_path is not None
    sock.connect(str(sb.unix_path))
    conn = Connection()
    with sock:
        mid, data = conn.send_request(
            "monitor_cond", monitor_params(SB, "pipe", [MonitorRequest("Availability_Zone")]))
        sent: dict[int, tuple[str, list[Any]]] = {mid: ("monitor_cond", [])}
        out = bytearray(data)
        az_ops = [[insert(SB, "Availability_Zone", {"name": f"p{i}"})] for i in range(3)]
        for method, params in [
            ("transact", transact_params(SB, az_ops[0])),
            ("echo", ["in", "flight"]),
            ("transact", transact_params(SB, az_ops[1])),
            ("list_dbs", []),
            ("transact", transact_params(SB, az_ops[2])),
            ("transact", transact_params(SB, [select(SB, "Availability_Zone")])),
        ]:
            rid, data = conn.send_request(method, params)
            sent[rid] = (method, params)
            out += data
        assert conn.pending == frozenset(sent)
        sock.sendall(out)  # all seven requests in one write

        responses: dict[int, Response] = {}
        notifications: list[Notification] = []
        while len(responses) < len(sent):
            ev = conn.next_event()
            if ev is NEED_DATA:
                chunk = sock.recv(7)  # odd-sized reads split messages everywhere
                assert chunk
                conn.receive_data(chunk)
            elif isinstance(ev, Notification):
                notifications.append(ev)
            else:
                assert isinstance(ev, Response), ev
                assert ev.id not in responses
                responses[ev.id] = ev
        assert conn.pending == frozenset()
        for rid, (method, _params) in sent.items():
            assert responses[rid].method == method
        by_method = {m: [responses[r].result for r, (mm, _) in sent.items() if mm == m]
                     for m in ("echo", "list_dbs", "transact")}
        assert by_method["echo"] == [["in", "flight"]]
        assert "OVN_IC_Southbound" in by_method["list_dbs"][0]
        inserted = [decode_transact_result(SB, ops, r)[0].uuid
                    for ops, r in zip(az_ops, by_method["transact"][:3], strict=True)]
        (sel,) = decode_transact_result(SB, [select(SB, "Availability_Zone")],
                                        by_method["transact"][3])
        assert {r["_uuid"] for r in sel.rows or ()} == set(inserted)
        # the monitor's notifications were kept apart from the responses (the server may
        # merge the changes of transactions it ran in one go into one update2)
        replica = Replica(SB, ["Availability_Zone"])
        while True:
            for n in notifications:
                assert (n.method, n.params[0]) == ("update2", "pipe")
                replica.apply(decode_update2(SB, n.params[1]))
            notifications.clear()
            if set(replica.tables["Availability_Zone"]) == set(inserted):
                break
            ev = conn.next_event()
            if ev is NEED_DATA:
                conn.receive_data(sock.recv(65536))
            else:
                assert isinstance(ev, Notification), ev
                notifications.append(ev)
        assert replica.updates_applied == 3


def test_abandoned_request_response_is_dropped(c: RawClient) -> None:
    ops = [insert(SB, "Availability_Zone", {"name": "abandoned"})]
    rid = c.send("transact", transact_params(SB, ops))
    c.conn.abandon(rid)
    assert rid not in c.conn.pending
    assert "OVN_IC_Southbound" in c.call("list_dbs", [])
    assert c.conn.late_responses_dropped == 1
    assert rid not in c.responses
    # the transaction still happened: abandoning is local
    assert [r["name"] for r in select_rows(c, SB, "Availability_Zone").values()] == ["abandoned"]


def test_inactivity_probe_is_answered_automatically(sandbox: Sandbox, sb: Server,
                                                    c: RawClient) -> None:
    """A Connection row with inactivity_probe=1000 makes the server send echo requests.

    The remote is added at run time with ``ovsdb-server/add-remote db:...`` (the
    sandbox cannot pass extra command-line options). A client driven by
    :class:`Connection` answers the probes and stays connected; a peer that does not
    answer is disconnected by the server.
    """
    sb.appctl("ovsdb-server/add-remote", "db:OVN_IC_Southbound,IC_SB_Global,connections")
    path = sandbox.path / "probe.sock"
    tx(c, SB,
       insert(SB, "IC_SB_Global", {"connections": {NamedUUID("conn")}}),
       insert(SB, "Connection", {"target": f"punix:{path}", "inactivity_probe": 1000},
              uuid_name="conn"))
    wait_for(path.exists, 15, "ovsdb-server to listen on the Connection target")

    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.settimeout(10)
    silent.connect(str(path))
    with silent, RawClient(f"unix:{path}") as probed:
        started = time.monotonic()
        probed.idle(3.5)
        assert probed.conn.echo_requests_answered >= 2
        assert not probed.closed_by_peer
        assert probed.call("list_dbs", []) == c.call("list_dbs", [])
        assert probed.notifications == [] and probed.requests == []

        # the silent peer never answered: the server sent it echo and hung up
        received = bytearray()
        while chunk := silent.recv(65536):
            received += chunk
        assert time.monotonic() - started < 10
        peer = Connection()
        peer.receive_data(bytes(received))
        assert peer.next_event() is NEED_DATA  # echo requests are not surfaced as events
        assert peer.echo_requests_answered >= 1
        reply, _ = json.JSONDecoder().raw_decode(peer.data_to_send().decode())
        assert reply == {"id": "echo", "result": [], "error": None}
    assert "no response to inactivity probe" in sb.log_path.read_text()
