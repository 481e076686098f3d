"""The round trip of a request, against a real ovsdb-server: what the short paths must keep.

The caller writes its request itself when nothing is queued before it (the writer task
finishes what the socket does not take), the reader hands updates to the monitor and
small batches to a live replica in its own step while nothing is queued for the tasks
that otherwise do it. These tests pin the guarantees that must survive that: whole
messages in order, cancellation, stream order between updates, errors raised where they
always were.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from ovsdb_ic.client import connect
from ovsdb_ic.client.monitor import Monitor
from ovsdb_ic.errors import RemoteProtocolError
from ovsdb_ic.replica import Replica
from ovsdb_ic.testing import Server
from ovsdb_ic.wire import ops
from ovsdb_ic.wire.ops import Condition

DB = "OVN_IC_Southbound"
BIG = 4 << 20  # a request far larger than a unix socket's send buffer


def test_big_requests_interleaved_with_small_ones_stay_whole(ic_sb_server: Server) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            results: dict[int, Any] = {}

            async def big(i: int) -> None:
                r = await client.transact([ops.comment("x" * BIG), ops.comment(str(i))])
                results[i] = [x.op for x in r]

            async def small(i: int) -> None:
                results[i] = await client.echo(i)

            async with trio.open_nursery() as nursery:
                for i in range(40):
                    nursery.start_soon(big if i % 10 == 0 else small, i)
            assert all(results[i] == ["comment", "comment"] for i in range(0, 40, 10))
            assert all(results[i] == [i] for i in range(40) if i % 10)
            assert client.session.connection.pending == frozenset()

    trio.run(main)


def test_caller_cancelled_right_after_a_big_request_leaves_no_half_message(
    ic_sb_server: Server,
) -> None:
    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            assert client.schema is not None
            # Cancelled before it can wait: the socket took part of the request at
            # most; the rest must still go out whole, and its late answer is dropped.
            with trio.CancelScope() as scope:
                scope.cancel()
                await client.transact([
                    ops.comment("y" * BIG),
                    ops.insert(client.schema, "Availability_Zone", {"name": "late"}),
                ])
            assert scope.cancelled_caught
            assert await client.echo("after") == ["after"]
            with trio.fail_after(20):
                while client.session.connection.late_responses_dropped == 0:
                    await trio.sleep(0.02)
            sel = await client.transact([ops.select(client.schema, "Availability_Zone",
                                                    [Condition("name", "==", "late")])])
            assert sel[0].rows is not None and len(sel[0].rows) == 1
            assert not client.session.closed

    trio.run(main)


def _contents(replica: Replica) -> dict[str, str]:
    return {str(r.uuid): r["name"] for r in replica.table("Availability_Zone")}


def test_live_replica_keeps_the_stream_order_when_batches_queue(ic_sb_server: Server) -> None:
    """Small batches are applied on arrival only while nothing is queued: batches big
    enough to be staged (here 3 rows, with stage_threshold 2) queue for the replica's
    task, and the single-row ones behind them must wait their turn."""

    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as writer, \
                connect(ic_sb_server.remote, database=DB) as reader:
            s = writer.schema
            assert s is not None
            live = await reader.replicate(["Availability_Zone"])
            live.stage_threshold = 2
            events = live.subscribe(size=100_000)

            async def singles(tag: str) -> None:
                for i in range(60):
                    await writer.transact([ops.insert(s, "Availability_Zone",
                                                      {"name": f"{tag}{i}"})])
                    if i % 3 == 0:
                        await writer.transact([ops.delete(
                            s, "Availability_Zone", [Condition("name", "==", f"{tag}{i}")])])

            async def triples() -> None:
                for i in range(30):
                    await writer.transact([ops.insert(s, "Availability_Zone",
                                                      {"name": f"t{i}-{k}"}) for k in range(3)])
                    await writer.transact([ops.update(
                        s, "Availability_Zone", [Condition("name", "==", f"t{i}-1")],
                        {"name": f"t{i}-1x"})])

            async with trio.open_nursery() as nursery:
                nursery.start_soon(singles, "a")
                nursery.start_soon(singles, "b")
                nursery.start_soon(triples)
            await writer.barrier()
            with trio.fail_after(10):
                await reader.caught_up(live)
            server = await writer.transact([ops.select(s, "Availability_Zone", [])])
            assert server[0].rows is not None
            expected = {str(r["_uuid"]): r["name"] for r in server[0].rows}
            assert _contents(live.replica) == expected
            # Replaying the events gives the same table: every change arrived, in order.
            replay: dict[str, str] = {}
            while True:
                try:
                    c = events.receive.receive_nowait()
                except trio.WouldBlock:
                    break
                if c.kind == "delete":
                    del replay[str(c.uuid)]
                else:
                    assert c.new is not None
                    replay[str(c.uuid)] = c.new["name"]
            assert replay == expected
            assert not events.overflowed
            assert live.staged_batches >= 30  # the 3-row inserts went through the task
            assert live.transactions == live.monitor.batches_received

    trio.run(main)


async def _replicate_a_poisoned_row(remote: str) -> None:
    """Replicate ``Availability_Zone``, insert a row named "poison", and wait: the
    tests make its update fail on the client and expect the error out of ``connect()``
    (the client's nursery is cancelled by the error before the wait ends)."""
    async with connect(remote, database=DB) as client:
        s = client.schema
        assert s is not None
        await client.replicate(["Availability_Zone"])
        await client.transact([ops.insert(s, "Availability_Zone", {"name": "poison"})])
        await trio.sleep(10)


def test_an_update_the_replica_cannot_apply_still_fails_the_client(
    ic_sb_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error in a batch applied on arrival is raised by the replica's task, out of
    ``connect()``, as it was when every batch went through that task."""
    apply = Replica.apply

    def failing_apply(self: Replica, updates: Any) -> Any:
        if any(u.new is not None and u.new.get("name") == "poison" for u in updates):
            raise RemoteProtocolError("poisoned update")
        return apply(self, updates)

    monkeypatch.setattr(Replica, "apply", failing_apply)

    with pytest.raises(RemoteProtocolError, match="poisoned update"):
        trio.run(_replicate_a_poisoned_row, ic_sb_server.remote)


def test_an_update_the_monitor_cannot_decode_still_fails_the_client(
    ic_sb_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for an error while the reader hands a notification to its monitor: the
    dispatcher task raises it, out of ``connect()``."""
    handle = Monitor.handle_notification

    def failing_handle(self: Monitor, method: str, params: list[Any]) -> None:
        if "poison" in repr(params):
            raise RemoteProtocolError("undecodable update")
        handle(self, method, params)

    monkeypatch.setattr(Monitor, "handle_notification", failing_handle)

    with pytest.raises(RemoteProtocolError, match="undecodable update"):
        trio.run(_replicate_a_poisoned_row, ic_sb_server.remote)
