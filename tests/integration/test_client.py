"""The trio client against real ovsdb-server processes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import pytest
import trio

from ovsdb_ic.client import connect
from ovsdb_ic.errors import (
    ConfigError,
    ConnectError,
    ConnectionClosedError,
    InactivityTimeoutError,
    RpcError,
    TransactionError,
)
from ovsdb_ic.testing import Sandbox, Server
from ovsdb_ic.wire import ops
from ovsdb_ic.wire.monitor import ZERO_TXN_ID, MonitorRequest
from ovsdb_ic.wire.ops import Condition

DB = "OVN_IC_Southbound"
ZERO_UUID = UUID(int=0)


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return trio.run(fn)


async def _next(mon: Any) -> Any:
    """The next batch of a monitor, or a test failure after 10 s (never a hang)."""
    with trio.fail_after(10):
        return await mon.next_batch()


def test_unix_and_tcp_basics(ic_sb_server: Server) -> None:
    async def main() -> None:
        for remote in (ic_sb_server.unix_remote, ic_sb_server.tcp_remote):
            assert remote is not None
            async with connect(remote, database=DB) as client:
                assert sorted(await client.list_dbs()) == [DB, "_Server"]
                assert client.schema is not None and client.schema.name == DB
                assert await client.echo("x", 1) == ["x", 1]
                name = f"az-{remote[:3]}"
                res = await client.transact(
                    [ops.insert(client.schema, "Availability_Zone", {"name": name})]
                )
                assert res[0].uuid is not None
                sel = await client.transact(
                    [ops.select(client.schema, "Availability_Zone",
                                [Condition("name", "==", name)], ["name", "_uuid"])]
                )
                assert sel[0].rows == ({"name": name, "_uuid": res[0].uuid},)

    run(main)


def test_concurrent_requests_are_matched(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            assert client.schema is not None
            schema = client.schema
            results: dict[int, Any] = {}

            async def one(i: int) -> None:
                if i % 2:
                    results[i] = await client.echo(i)
                else:
                    r = await client.transact(
                        [ops.insert(schema, "Availability_Zone", {"name": f"az{i}"})]
                    )
                    results[i] = r[0].uuid

            async with trio.open_nursery() as nursery:
                for i in range(200):
                    nursery.start_soon(one, i)
            assert all(results[i] == [i] for i in range(1, 200, 2))
            assert len({results[i] for i in range(0, 200, 2)}) == 100
            assert client.session.connection.pending == frozenset()

    run(main)


def test_cancelled_caller_leaves_the_session_clean(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            assert client.schema is not None
            schema = client.schema
            # A wait that cannot succeed holds the server's answer for 1.5 s.
            blocked = [ops.wait(schema, "Availability_Zone", [], ["name"], [{"name": "nope"}],
                                timeout_ms=1500)]
            with trio.move_on_after(0.2) as scope:
                await client.transact(blocked)
            assert scope.cancelled_caught
            assert client.session.connection.pending == frozenset()
            # The session keeps working while the abandoned answer is pending...
            assert await client.echo("still here") == ["still here"]
            # ...and when it arrives it is dropped, not given to anyone else.
            connection = client.session.connection
            with trio.fail_after(10):
                while connection.late_responses_dropped == 0:
                    await trio.sleep(0.05)
            assert await client.echo(2) == [2]
            assert client.session.connection.late_responses_dropped == 1
            with pytest.raises(TransactionError, match="timed out"):
                await client.transact(
                    [ops.wait(schema, "Availability_Zone", [], ["name"], [{"name": "x"}],
                              timeout_ms=0)]
                )

    run(main)


def test_rpc_error_and_unknown_database(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote) as client:
            with pytest.raises(RpcError) as exc:
                await client.get_schema("Nope")
            assert "unknown database" in json.dumps(exc.value.error)
        with pytest.raises(ConnectError) as cexc:
            async with connect(ic_sb_server.remote, database="Nope"):
                pass
        cause = cexc.value.__cause__
        assert isinstance(cause, ExceptionGroup)
        assert "Nope" in str(cause.exceptions[0])

    run(main)


def test_remote_list_uses_first_that_answers(sandbox: Sandbox, ic_sb_server: Server) -> None:
    dead = f"unix:{sandbox.path}/nobody-listens.sock"

    async def main() -> None:
        async with connect(f"{dead},{ic_sb_server.remote}", database=DB) as client:
            assert str(client.remote) == ic_sb_server.remote
        with pytest.raises(ConnectError, match="could not connect to any of") as exc:
            async with connect(f"{dead},tcp:127.0.0.1:1"):
                pass
        assert isinstance(exc.value.__cause__, ExceptionGroup)
        assert len(exc.value.__cause__.exceptions) == 2

    run(main)


def test_hung_server_is_detected_by_the_probe(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, probe_interval=0.3, reconnect=False) as client:
            assert await client.echo() == []
            ic_sb_server.stop()  # SIGSTOP: the socket stays open, nothing answers
            try:
                with trio.fail_after(5):
                    with pytest.raises(InactivityTimeoutError):
                        await client.list_dbs()
            finally:
                ic_sb_server.cont()
            assert client.session.closed
            with pytest.raises(ConnectionClosedError):
                await client.list_dbs()

    run(main)


def test_probe_interval_changed_on_a_live_connection(ic_sb_server: Server) -> None:
    """set_probe_interval: switched on for a connection opened without a probe, it
    detects a hung server; switched off again, a hung server goes unnoticed."""

    async def main() -> None:
        async with connect(ic_sb_server.remote, probe_interval=None, reconnect=False) as client:
            assert await client.echo() == []
            with pytest.raises(ConfigError):
                client.set_probe_interval(0)
            client.set_probe_interval(0.3)
            client.set_probe_interval(None)
            ic_sb_server.stop()
            try:
                with trio.move_on_after(1.0):
                    await trio.sleep_forever()
                assert not client.session.closed  # no probe: nothing noticed
                client.set_probe_interval(0.3)
                with trio.fail_after(5):
                    with pytest.raises(InactivityTimeoutError):
                        await client.list_dbs()
            finally:
                ic_sb_server.cont()
            assert client.probe_interval == 0.3

    run(main)


def test_killed_server_is_noticed_at_once(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, probe_interval=None, reconnect=False) as client:
            assert await client.echo() == []
            with trio.fail_after(5):
                async with trio.open_nursery() as nursery:

                    async def kill_soon() -> None:
                        await trio.sleep(0.2)
                        ic_sb_server.kill()

                    nursery.start_soon(kill_soon)
                    with pytest.raises(ConnectionClosedError):
                        # Blocks on the server until it dies.
                        await client.request("transact", [DB, {
                            "op": "wait", "table": "Availability_Zone", "where": [],
                            "columns": ["name"], "until": "==", "rows": [{"name": "z"}],
                            "timeout": 10000}])

    run(main)


def test_server_echo_is_answered_while_idle(ic_sb_server: Server) -> None:
    # ovsdb-server probes TCP clients after 5 s of silence and drops those that
    # do not answer; idling 6 s and still working proves the reader answers.
    async def main() -> None:
        assert ic_sb_server.tcp_remote is not None
        async with connect(ic_sb_server.tcp_remote, probe_interval=None) as client:
            connection = client.session.connection
            with trio.fail_after(15):  # the server probes after 5 s of silence
                while connection.echo_requests_answered == 0:
                    await trio.sleep(0.1)
            assert connection.echo_requests_answered >= 1
            assert not client.session.closed
            assert await client.echo("alive") == ["alive"]

    run(main)


def _route(schema: Any, az: Any, prefix: str, ts: str = "ts") -> dict[str, Any]:
    return ops.insert(schema, "Route", {
        "transit_switch": ts, "availability_zone": az, "ip_prefix": prefix,
        "nexthop": "169.254.100.1", "origin": "connected"})


def test_monitor_batches_follow_transactions(ic_sb_cluster: Any) -> None:
    leader = ic_sb_cluster.leader()

    async def main() -> None:
        async with connect(leader.remote, database=DB) as client:
            s = client.schema
            assert s is not None
            az = (await client.transact([ops.insert(s, "Availability_Zone", {"name": "az1"})]))[0]
            mon = await client.monitor(
                [MonitorRequest("Route"), MonitorRequest("Availability_Zone")]
            )
            first = await _next(mon)
            assert first.initial and first.found is False
            assert [u.new["name"] for u in first.updates if u.new] == ["az1"]
            assert first.last_txn_id not in (None, ZERO_TXN_ID)
            await client.transact([_route(s, az.uuid, "10.0.0.0/24"),
                                   _route(s, az.uuid, "10.0.1.0/24")])
            batch = await _next(mon)
            assert not batch.initial
            assert sorted(u.new["ip_prefix"] for u in batch.updates if u.new) == [
                "10.0.0.0/24", "10.0.1.0/24"]
            assert batch.last_txn_id == mon.last_txn_id != first.last_txn_id
            # Resume: a new monitor from that transaction id gets found=true, no rows.
            again = await client.monitor([MonitorRequest("Route")],
                                         last_txn_id=mon.last_txn_id)
            resumed = await _next(again)
            assert resumed.found is True and resumed.updates == ()
            await client.transact([ops.delete(s, "Route", [Condition("ip_prefix", "==",
                                                                     "10.0.0.0/24")])])
            for m in (mon, again):
                b = await _next(m)
                assert [u.kind for u in b.updates] == ["delete"]
            await client.monitor_cancel(again)
            assert [b async for b in again] == []

    run(main)


def test_monitor_cond_change_moves_the_window(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            s = client.schema
            assert s is not None
            az = (await client.transact([ops.insert(s, "Availability_Zone", {"name": "az"})]))[0]
            await client.transact([_route(s, az.uuid, "10.0.0.0/24", "ts1"),
                                   _route(s, az.uuid, "10.0.1.0/24", "ts2")])
            mon = await client.monitor(
                [MonitorRequest("Route", where=(Condition("transit_switch", "==", "ts1"),))],
                method="monitor_cond")
            first = await _next(mon)
            assert [u.new["transit_switch"] for u in first.updates if u.new] == ["ts1"]
            await client.monitor_cond_change(
                mon, [MonitorRequest("Route", where=(Condition("transit_switch", "==", "ts2"),))])
            change = await _next(mon)
            kinds = sorted((u.kind, (u.new or u.old or {}).get("transit_switch", "?"))
                           for u in change.updates)
            assert [k for k, _ in kinds] == ["delete", "insert"]
            assert ("insert", "ts2") in kinds
            await client.transact([_route(s, az.uuid, "10.0.2.0/24", "ts1"),
                                   _route(s, az.uuid, "10.0.3.0/24", "ts2")])
            b = await _next(mon)
            assert [u.new["ip_prefix"] for u in b.updates if u.new] == ["10.0.3.0/24"]

    run(main)


def test_monitor_raw_reply_hands_the_reply_over_undecoded(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            s = client.schema
            assert s is not None
            az = (await client.transact([ops.insert(s, "Availability_Zone", {"name": "az"})]))[0]
            await client.transact([_route(s, az.uuid, "10.0.0.0/24", "ts1")])
            mon = await client.monitor([MonitorRequest("Route")], raw_reply=True)
            first = await _next(mon)
            assert first.initial and first.updates == () and first.found is False
            assert first.last_txn_id == mon.last_txn_id  # (zero: a standalone server)
            ((key, update),) = first.raw["Route"].items()
            assert UUID(key) and update["initial"]["ip_prefix"] == "10.0.0.0/24"
            assert update["initial"]["availability_zone"] == ["uuid", str(az.uuid)]
            await client.transact([_route(s, az.uuid, "10.0.1.0/24", "ts1")])
            b = await _next(mon)  # notifications are decoded as usual
            assert b.raw is None
            assert [(u.kind, u.new["ip_prefix"]) for u in b.updates if u.new] == [
                ("insert", "10.0.1.0/24")]

    run(main)


def test_locks_between_two_clients(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote) as a, connect(ic_sb_server.remote) as b:
            la = await a.lock("ovn_ic")
            assert la.held
            lb = await b.lock("ovn_ic")
            assert not lb.held
            await a.unlock("ovn_ic")
            with trio.fail_after(5):
                await lb.wait_acquired()  # the "locked" notification
            assert lb.held
            la2 = await a.steal("ovn_ic")
            assert la2.held
            with trio.fail_after(5):
                await lb.wait_lost()  # the "stolen" notification
            assert not lb.held and lb.stolen == 1
            assert a.schema is None  # no database named: assert ops need one
            s = await a.get_schema(DB)
            await a.transact([ops.assert_lock("ovn_ic")], schema=s)
            with pytest.raises(TransactionError, match="not owner"):
                await b.transact([ops.assert_lock("ovn_ic")], schema=s)

    run(main)


def test_a_lock_waiter_learns_that_its_client_closed(ic_sb_server: Server) -> None:
    """Without reconnect, a lost connection ends ``wait_acquired`` with
    ConnectionClosedError (it used to wait for ever); ``wait_lost`` returns."""
    async def main() -> None:
        async with connect(ic_sb_server.remote) as first, \
                connect(ic_sb_server.remote, reconnect=False) as mine:
            await first.lock("ovn_ic")
            lock = await mine.lock("ovn_ic")
            assert not lock.held
            ic_sb_server.kill()
            with trio.fail_after(10), pytest.raises(ConnectionClosedError) as info:
                await lock.wait_acquired()
            assert "lock ovn_ic: its client closed" in str(info.value)
            assert info.value.__cause__ is lock.closed_by is not None
            with trio.fail_after(10):
                await lock.wait_lost()
            assert not lock.held

    run(main)


def test_schema_conversion_while_monitoring(sandbox: Sandbox, ic_sb_server: Server) -> None:
    from ovsdb_ic.testing import schema_path

    new_schema = json.loads(schema_path("ic-sb").read_text())
    new_schema["version"] = "1.99.0"
    new_schema["tables"]["Route"]["columns"]["note"] = {
        "type": {"key": "string", "min": 0, "max": 1}}
    new_path = sandbox.path / "ic-sb-new.ovsschema"
    new_path.write_text(json.dumps(new_schema))

    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            s = client.schema
            assert s is not None
            az = (await client.transact([ops.insert(s, "Availability_Zone", {"name": "a"})]))[0]
            await client.transact([_route(s, az.uuid, "10.9.0.0/16")])
            mon = await client.monitor([MonitorRequest("Route")])
            first = await _next(mon)
            assert len(first.updates) == 1
            await trio.run_process(
                ["ovsdb-client", "convert", ic_sb_server.remote, str(new_path)])
            again = await _next(mon)
            assert again.initial
            assert [u.new["ip_prefix"] for u in again.updates if u.new] == ["10.9.0.0/16"]
            assert client.remonitors == 1
            assert client.schema is not None and client.schema.version == "1.99.0"
            assert "note" in again.updates[0].new  # the new column is known now
            await client.transact([_route(client.schema, az.uuid, "10.10.0.0/16")])
            b = await _next(mon)
            assert [u.new["ip_prefix"] for u in b.updates if u.new] == ["10.10.0.0/16"]

    run(main)


def test_ssl_with_client_certificates(sandbox: Sandbox) -> None:
    import ssl

    from ovsdb_ic.testing import make_test_pki

    server_files, client_files = make_test_pki(sandbox.path / "pki")
    server = sandbox.start_server("ic-sb", name="ic-sb-ssl", unix=False, ssl=server_files)
    assert server.tcp_remote is not None and server.tcp_remote.startswith("ssl:127.0.0.1:")

    ctx = ssl.create_default_context(cafile=str(client_files.ca_cert))
    ctx.load_cert_chain(str(client_files.cert), str(client_files.key))

    async def main() -> None:
        assert server.tcp_remote is not None
        async with connect(server.tcp_remote, database=DB, ssl_context=ctx) as client:
            assert sorted(await client.list_dbs()) == [DB, "_Server"]
            s = client.schema
            assert s is not None
            res = await client.transact([ops.insert(s, "Availability_Zone", {"name": "tls"})])
            assert res[0].uuid is not None
        # Without a client certificate the server refuses the handshake.
        bare = ssl.create_default_context(cafile=str(client_files.ca_cert))
        with pytest.raises(ConnectError):
            async with connect(server.tcp_remote, database=DB, ssl_context=bare):
                pass

    run(main)


def test_server_errors_arrive_as_typed_exceptions(ic_sb_server: Server) -> None:
    from ovsdb_ic.errors import (
        ConstraintViolationError,
        NotOwnerError,
        ReferentialIntegrityError,
        TransactionAbortedError,
        WaitTimedOutError,
    )

    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            s = client.schema
            assert s is not None
            az = (await client.transact([ops.insert(s, "Availability_Zone", {"name": "a"})]))[0]
            with pytest.raises(ConstraintViolationError) as exc:
                await client.transact([ops.insert(s, "Availability_Zone", {"name": "a"})])
            assert exc.value.index == 1  # found at commit, after the one operation
            await client.transact([_route(s, az.uuid, "10.0.0.0/24")])
            with pytest.raises(ReferentialIntegrityError):
                await client.transact([ops.delete(s, "Availability_Zone", [])])
            with pytest.raises(WaitTimedOutError) as wexc:
                await client.transact([ops.comment("x"), ops.wait(
                    s, "Availability_Zone", [], ["name"], [{"name": "b"}])])
            assert wexc.value.index == 1 and wexc.value.op is not None
            assert wexc.value.op["op"] == "wait"
            with pytest.raises(TransactionAbortedError):
                await client.transact([ops.abort()])
            with pytest.raises(NotOwnerError):
                await client.transact([ops.assert_lock("nobody_holds_this")])
            with pytest.raises(ValueError, match="identifier"):
                ops.assert_lock("not-an-identifier")

    run(main)


def test_typed_transactions_and_optimistic_retry(ic_sb_server: Server) -> None:
    from ovsdb_ic.models import ic_sb

    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client, \
                connect(ic_sb_server.remote, database=DB) as other:
            txn = client.transaction()
            az = txn.insert(ic_sb.AvailabilityZone(name="az1"))
            route = txn.insert(
                ic_sb.Route(transit_switch="ts", ip_prefix="10.0.0.0/24",
                            nexthop="169.254.100.1", origin="connected",
                            availability_zone=ZERO_UUID),
                availability_zone=az)
            txn.comment("typed insert")
            result = await client.commit(txn)
            az_uuid, route_uuid = result.uuid(az), result.uuid(route)
            live = await client.replicate(["Route"])
            row = live.replica.table("Route")[route_uuid]
            assert row["availability_zone"] == az_uuid

            # Another client changes the row after we read it: our expect fails,
            # retry re-reads from the replica and succeeds on the fresh value.
            calls = 0

            async def bump(t: Any) -> None:
                nonlocal calls
                calls += 1
                current = live.replica.table("Route")[route_uuid]
                if calls == 1:
                    s = other.schema
                    assert s is not None
                    await other.transact([ops.update(s, "Route", [Condition(
                        "_uuid", "==", route_uuid)], {"nexthop": "169.254.100.7"})])
                t.expect(current, ["nexthop"])
                t.update("Route", current, {"external_ids": {"seen": current["nexthop"]}})

            with trio.fail_after(10):
                await client.retry(bump, live=live)
            assert calls == 2 and client.retries == 1
            with trio.fail_after(10):
                await live.wait_for(
                    lambda r: "seen" in r.table("Route")[route_uuid]["external_ids"])
            assert live.replica.table("Route")[route_uuid]["external_ids"] == {
                "seen": "169.254.100.7"}

            # A check that can never pass gives up after `attempts`.
            stale = live.replica.table("Route")[route_uuid]
            async def never(t: Any) -> None:
                t.expect(stale, ["nexthop"])
            s = other.schema
            assert s is not None
            await other.transact([ops.update(s, "Route", [Condition("_uuid", "==", route_uuid)],
                                             {"nexthop": "169.254.100.8"})])
            from ovsdb_ic.errors import WaitTimedOutError
            with pytest.raises(WaitTimedOutError), trio.fail_after(20):
                await client.retry(never, attempts=2, live=live)
            del_txn = client.transaction()
            del_txn.delete("Route", route_uuid)
            await client.commit(del_txn)

    run(main)


def test_typed_rows_from_a_live_replica(ic_sb_server: Server) -> None:
    from ovsdb_ic.models import ic_sb

    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            s = client.schema
            assert s is not None
            az = (await client.transact([ops.insert(s, "Availability_Zone", {"name": "az"})]))[0]
            r = (await client.transact([_route(s, az.uuid, "10.2.0.0/16")]))[0]
            live = await client.replicate(["Route", "Availability_Zone"])
            route = live.model("Route", r.uuid)
            assert isinstance(route, ic_sb.Route)
            assert (route.uuid, route.ip_prefix, route.origin, route.availability_zone) == (
                r.uuid, "10.2.0.0/16", "connected", az.uuid)
            assert [m.name for m in live.models("Availability_Zone")] == ["az"]
            assert live.model("Route", UUID(int=5)) is None

    run(main)


def _variant_schema(sandbox: Sandbox, name: str, edit: Callable[[dict[str, Any]], None]) -> str:
    from ovsdb_ic.testing import schema_path

    doc = json.loads(schema_path("ic-sb").read_text())
    edit(doc)
    path = sandbox.path / f"{name}.ovsschema"
    path.write_text(json.dumps(doc))
    return str(path)


def test_server_schema_older_or_newer_than_our_models(sandbox: Sandbox) -> None:
    def drop_origin(doc: dict[str, Any]) -> None:
        del doc["tables"]["Route"]["columns"]["origin"]

    def add_column(doc: dict[str, Any]) -> None:
        doc["version"] = "1.2.0"
        doc["tables"]["Route"]["columns"]["weight"] = {"type": {"key": "integer", "min": 0,
                                                                  "max": 1}}

    old = sandbox.start_server(_variant_schema(sandbox, "old", drop_origin), name="old")
    new = sandbox.start_server(_variant_schema(sandbox, "new", add_column), name="new")

    async def main() -> None:
        with pytest.raises(ConnectError) as exc:
            async with connect(old.remote, database=DB):
                pass
        assert isinstance(exc.value.__cause__, ExceptionGroup)
        assert "Route.origin" in str(exc.value.__cause__.exceptions[0])
        async with connect(new.remote, database=DB) as client:
            assert any("weight" in w for w in client.schema_warnings)
            assert client.schema is not None
            az = (await client.transact([ops.insert(client.schema, "Availability_Zone",
                                                    {"name": "z"})]))[0]
            await client.transact([_route(client.schema, az.uuid, "10.3.0.0/16")])
            live = await client.replicate(["Route"])
            (route,) = live.models("Route")
            assert route.ip_prefix == "10.3.0.0/16"

    run(main)
