"""Client.replicate: a replica kept current from a real server, compared with ovsdb-client dump."""

from __future__ import annotations

import itertools
import json
import subprocess
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovsdb_ic.client import connect
from ovsdb_ic.errors import ConnectionClosedError, TransactionError
from ovsdb_ic.replica import Replica
from ovsdb_ic.testing import Sandbox, Server
from ovsdb_ic.wire import ops
from ovsdb_ic.wire.data import datum_from_json
from ovsdb_ic.wire.ops import Condition

DB = "OVN_IC_Southbound"
TABLES = ("Availability_Zone", "Route")


def _dump(server: Server, schema: Any) -> dict[str, dict[str, dict[str, Any]]]:
    out = subprocess.run(["ovsdb-client", "-f", "json", "dump", server.remote, DB],
                         capture_output=True, text=True, check=False, timeout=30)
    assert out.returncode == 0, out.stderr
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for line in out.stdout.splitlines():
        t = json.loads(line)
        name = t["caption"].removesuffix(" table")
        if name not in TABLES:
            continue
        table = schema.tables[name]
        rows = {}
        for data in t["data"]:
            row = dict(zip(t["headings"], data, strict=True))
            uid = row.pop("_uuid")[1]
            rows[uid] = {c: datum_from_json(table.column(c).type, v) for c, v in row.items()
                         if c in table.columns}
        result[name] = rows
    return result


def _replica_contents(replica: Replica) -> dict[str, dict[str, dict[str, Any]]]:
    return {name: {str(r.uuid): r.to_dict() for r in replica.table(name)} for name in TABLES}


def test_replicate_follows_transactions_events_and_waits(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as writer, \
                connect(ic_sb_server.remote, database=DB) as reader:
            s = writer.schema
            assert s is not None
            az = (await writer.transact([ops.insert(s, "Availability_Zone", {"name": "az1"})]))[0]
            live = await reader.replicate(TABLES)
            assert [r["name"] for r in live.replica.table("Availability_Zone")] == ["az1"]
            events = live.subscribe(size=100)
            tiny = live.subscribe(size=1)
            await writer.transact([
                ops.insert(s, "Route", {"transit_switch": "ts", "availability_zone": az.uuid,
                                        "ip_prefix": f"10.0.{i}.0/24", "nexthop": "169.254.100.1",
                                        "origin": "connected"}) for i in range(5)])
            with trio.fail_after(10):
                await live.wait_for(lambda r: len(r.table("Route")) == 5)
            got = [events.receive.receive_nowait() for _ in range(5)]
            assert sorted(c.new["ip_prefix"] for c in got if c.new) == [
                f"10.0.{i}.0/24" for i in range(5)]
            assert all(c.kind == "insert" for c in got)
            # The 1-slot subscriber could not keep up with a 5-row transaction.
            assert tiny.overflowed
            assert tiny.receive.receive_nowait().kind == "insert"
            # A unique index lookup on the live replica.
            idx = ("transit_switch", "availability_zone", "route_table", "ip_prefix", "nexthop")
            row = live.replica.table("Route").index(idx).get(
                ("ts", az.uuid, "", "10.0.3.0/24", "169.254.100.1"))
            assert row is not None and row["origin"] == "connected"
            await writer.transact([ops.delete(s, "Route", [Condition("ip_prefix", "==",
                                                                     "10.0.3.0/24")])])
            with trio.fail_after(10):
                change = await events.receive.receive()
            assert change.kind == "delete" and change.old is not None
            assert live.transactions == 3

    trio.run(main)


def _commit_blocking(path: str, requests: list[dict[str, Any]]) -> None:
    """Send pipelined ``transact`` requests over a plain blocking unix socket and read
    every reply, without giving the trio loop a chance to run meanwhile."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendall(b"".join(json.dumps({"method": "transact", "id": i, "params": [DB, op]})
                              .encode() for i, op in enumerate(requests)))
        data = b""
        while data.count(b'"error":null') < len(requests):
            chunk = sock.recv(1 << 16)
            assert chunk, "the server closed the connection"
            assert b'"error":"' not in chunk and b'"count":0' not in chunk, chunk
            data += chunk


def test_queued_notifications_are_applied_together(ic_sb_server: Server) -> None:
    """Transactions whose notifications queue up for the replica's task are applied in
    one go: the replica ends equal to the server, each transaction whole, the
    subscriber gets each row's net change, and caught_up still works. (The first
    transaction is too big to be applied as it is decoded, so the others queue
    behind it.)"""
    rows, n = 200, 40

    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as writer, \
                connect(ic_sb_server.remote, database=DB) as reader:
            s = writer.schema
            assert s is not None
            az = (await writer.transact([ops.insert(s, "Availability_Zone", {"name": "az1"})]))[0]
            await writer.transact([
                ops.insert(s, "Route", {"transit_switch": "ts", "availability_zone": az.uuid,
                                        "ip_prefix": f"10.2.{i}.0/24", "nexthop": "169.254.100.1",
                                        "origin": "connected"}) for i in range(rows)])
            live = await reader.replicate(TABLES)
            await reader.caught_up(live)
            sub = live.subscribe(size=1000)
            applies, txns = live.replica.txn_count, live.transactions
            assert ic_sb_server.unix_path is not None
            # The loop is blocked: the notifications wait in the socket meanwhile.
            _commit_blocking(str(ic_sb_server.unix_path), [
                {"op": "update", "table": "Route", "where": [["transit_switch", "==", "ts"]],
                 "row": {"origin": "static"}},
                *({"op": "update", "table": "Route",
                   "where": [["ip_prefix", "==", f"10.2.{i}.0/24"]],
                   "row": {"nexthop": "169.254.100.9"}} for i in range(n))])
            with trio.fail_after(20):
                await reader.caught_up(live)
            got = await sub.receive_batch()  # everything applied is published by now
            assert live.transactions == live.monitor.batches_received
            assert live.transactions - txns > 1
            assert live.replica.txn_count - applies < live.transactions - txns  # together
            # Each row's changes, in order, lead from its old values to its new ones.
            state = {f"10.2.{i}.0/24": ("connected", "169.254.100.1") for i in range(rows)}
            for c in got:
                assert c.kind == "modify" and c.old is not None and c.new is not None
                prefix = c.new["ip_prefix"]
                assert state[prefix] == (c.old["origin"], c.old["nexthop"])
                state[prefix] = (c.new["origin"], c.new["nexthop"])
            assert state == {f"10.2.{i}.0/24": ("static", "169.254.100.9" if i < n
                                                else "169.254.100.1") for i in range(rows)}
            assert _replica_contents(live.replica) == {
                name: {u: dict(r) for u, r in rows_.items()}
                for name, rows_ in _dump(ic_sb_server, s).items()}

    trio.run(main)


_SERVER_NUMBERS = itertools.count()
_prefix = st.integers(0, 15).map(lambda i: f"10.1.{i}.0/24")
_step = st.one_of(
    st.tuples(st.just("add"), _prefix, st.sampled_from(["connected", "static"])),
    st.tuples(st.just("del"), _prefix, st.just("")),
    st.tuples(st.just("nexthop"), _prefix, st.sampled_from(["169.254.100.1", "169.254.100.2"])),
    st.tuples(st.just("ids"), _prefix, st.sampled_from(["a", "b"])),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.lists(_step, min_size=1, max_size=3), min_size=1, max_size=6))
def test_replica_equals_dump_after_every_transaction(sandbox: Sandbox,
                                                     steps: list[list[tuple[str, str, str]]]
                                                     ) -> None:
    name = f"ic-sb-{next(_SERVER_NUMBERS)}"
    server = sandbox.start_server("ic-sb", name=name)

    async def main() -> None:
        async with connect(server.remote, database=DB) as writer, \
                connect(server.remote, database=DB) as reader:
            s = writer.schema
            assert s is not None
            az = (await writer.transact([ops.insert(s, "Availability_Zone", {"name": "az"})]))[0]
            live = await reader.replicate(TABLES)
            for txn in steps:
                batch: list[dict[str, Any]] = []
                for kind, prefix, arg in txn:
                    where = [Condition("ip_prefix", "==", prefix)]
                    if kind == "add":
                        batch.append(ops.insert(s, "Route", {
                            "transit_switch": "ts", "availability_zone": az.uuid,
                            "ip_prefix": prefix, "nexthop": "169.254.100.9", "origin": arg}))
                    elif kind == "del":
                        batch.append(ops.delete(s, "Route", where))
                    elif kind == "nexthop":
                        batch.append(ops.update(s, "Route", where, {"nexthop": arg}))
                    else:
                        batch.append(ops.mutate(s, "Route", where, [
                            ops.Mutation("external_ids", "insert", {arg: prefix})]))
                try:
                    await writer.transact(batch)
                except TransactionError as exc:  # two rows with one index key: refused
                    assert exc.error == "constraint violation"
                # The dump is the committed state; the replica must reach exactly it
                # (a transaction that changed nothing sends no update to wait for).
                expected = _dump(server, s)
                with trio.fail_after(10):
                    await live.wait_for(lambda r, e=expected: _replica_contents(r) == e)

    trio.run(main)
    server.kill()


def test_wait_for_raises_once_the_client_closed(ic_sb_server: Server) -> None:
    """Without reconnect a lost connection closes the client: a waiter on its replica
    gets a ConnectionClosedError naming the cause (it used to wake up again and again,
    a busy loop), and a predicate that already holds still returns."""
    calls = 0

    def never(_replica: Replica) -> bool:
        nonlocal calls
        calls += 1
        return False

    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB, reconnect=False) as reader:
            live = await reader.replicate(TABLES)
            ic_sb_server.kill()
            with trio.fail_after(10), pytest.raises(ConnectionClosedError) as info:
                await live.wait_for(never)
            assert "no longer follows the server" in str(info.value)
            assert "its client closed" in str(info.value)
            assert info.value.__cause__ is not None
            assert calls <= 3, calls
            await live.wait_for(lambda r: True)  # already true: no error
            with pytest.raises(ConnectionClosedError):
                await reader.caught_up(live)

    trio.run(main)


def test_wait_for_raises_once_the_monitor_is_cancelled(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as reader:
            live = await reader.replicate(TABLES)
            waiter_error: list[BaseException] = []

            async def wait() -> None:
                try:
                    await live.wait_for(lambda r: len(r.table("Availability_Zone")) > 0)
                except ConnectionClosedError as exc:
                    waiter_error.append(exc)

            with trio.fail_after(10):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait)
                    await trio.testing.wait_all_tasks_blocked()
                    await reader.monitor_cancel(live.monitor)
            assert len(waiter_error) == 1
            assert "its monitor ended" in str(waiter_error[0])
            assert waiter_error[0].__cause__ is None

    trio.run(main)
