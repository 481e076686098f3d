"""Following a stream of small transactions: what the faster update path must keep.

No server: a :class:`~ovsdb_ic.client.monitor.Monitor` is fed by hand, as the client's
dispatcher feeds it. Covered: change batches already queued are applied as one (the
replica ends as after each one alone, the changes are their net change, in order, and
``LiveReplica.transactions`` still counts server transactions); resyncs and big batches
are never merged; a modify shares only the strings it changes; ``Subscription``
hands out whole queued transactions with ``receive_batch``/``batches``.
"""

from __future__ import annotations

import uuid
from typing import Any

import trio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ovsdb_ic.client.live import LiveReplica
from ovsdb_ic.client.monitor import Monitor, UpdateBatch
from ovsdb_ic.errors import RemoteProtocolError
from ovsdb_ic.replica import Change, Replica
from ovsdb_ic.wire.monitor import RowUpdate
from tests.unit.test_replica import (
    SB,
    U,
    copy_updates,
    dele,
    draw_transaction,
    ins,
    mod,
    replay,
    route,
    route_replica,
)

Model = dict[str, dict[uuid.UUID, dict[str, Any]]]


def contents(replica: Replica) -> Model:
    return {name: {r.uuid: r.to_dict() for r in t} for name, t in replica.tables.items()}


def feed(batches: list[UpdateBatch], replica: Replica, *, stage_threshold: int = 2000,
         consume: str = "each", size: int = 10_000) -> tuple[LiveReplica, list[Any]]:
    """Queue ``batches`` on a monitor, then run a LiveReplica until it took them all.

    Returns the live replica and what its subscriber received: changes (``each``) or
    lists of changes (``batch``).
    """
    mon = Monitor("m1", SB, replica.monitor_requests(), "monitor_cond")
    live = LiveReplica(replica, mon, stage_threshold=stage_threshold)
    sub = live.subscribe(size=size)
    for b in batches:
        mon._deliver(b)
    mon.close()
    got: list[Any] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(live.run)
            if consume == "batch":
                async for changes in sub.batches():
                    got.append(changes)
            else:
                async for change in sub:
                    got.append(change)

    trio.run(main)
    return live, got


def net(model: Model, per_txn: list[list[Change]]) -> dict[tuple[str, uuid.UUID], Any]:
    """The net change of each row over several transactions' changes: (old, new) dicts."""
    first_old: dict[tuple[str, uuid.UUID], Any] = {}
    last_new: dict[tuple[str, uuid.UUID], Any] = {}
    for changes in per_txn:
        for c in changes:
            key = (c.table, c.uuid)
            if key not in first_old:
                first_old[key] = None if c.old is None else c.old.to_dict()
            last_new[key] = None if c.new is None else c.new.to_dict()
    return {k: (first_old[k], last_new[k]) for k in first_old if first_old[k] != last_new[k]}


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_queued_transactions_applied_together_equal_one_by_one(data: st.DataObject) -> None:
    """Property: transactions queued behind each other and applied as one leave the
    replica exactly as applying them one by one; the changes are each row's net change
    (first old row, last new row; none when they are equal), in the order the rows were
    first touched within each table, and they replay onto the old contents; every server
    transaction is counted."""
    counter = iter(range(1000, 10**6))
    model: Model = {"Route": {}, "Availability_Zone": {}}
    one = Replica(SB, {"Route": None, "Availability_Zone": None})
    txns: list[list[RowUpdate]] = []
    per_txn: list[list[Change]] = []
    for _ in range(data.draw(st.integers(1, 8))):
        updates = draw_transaction(data, model, counter)
        try:
            changes = one.apply(copy_updates(updates))
        except RemoteProtocolError:
            continue  # a transaction that does not fit: the server never sends one
        txns.append(updates)
        per_txn.append(changes)
        model = contents(one)
    event(f"{len(txns)} transactions")
    merged = Replica(SB, {"Route": None, "Availability_Zone": None})
    before: Model = {"Route": {}, "Availability_Zone": {}}
    live, got = feed([UpdateBatch(tuple(copy_updates(t))) for t in txns], merged)
    assert contents(merged) == contents(one)
    assert live.transactions == len(txns)
    assert merged.txn_count == (1 if txns else 0)  # all of them queued: one apply
    assert replay(before, got) == contents(one)
    assert {(c.table, c.uuid): (None if c.old is None else c.old.to_dict(),
                                None if c.new is None else c.new.to_dict())
            for c in got} == net(before, per_txn)
    assert len({(c.table, c.uuid) for c in got}) == len(got)
    for table in ("Route", "Availability_Zone"):
        order: list[uuid.UUID] = []
        for t in txns:
            for u in t:
                if u.table == table and u.uuid not in order:
                    order.append(u.uuid)
        mine = [c.uuid for c in got if c.table == table]
        assert mine == [u for u in order if u in set(mine)]


def test_resyncs_and_big_batches_are_not_merged() -> None:
    r = route_replica()
    batches = [
        UpdateBatch((ins("Route", U(1), route(), "initial"),), initial=True),
        UpdateBatch((mod("Route", U(1), nexthop="169.254.100.2"),)),
        UpdateBatch((ins("Route", U(2), route(ip_prefix="10.0.2.0/24")),)),
        # a resync: applied alone, reported as the differences
        UpdateBatch((ins("Route", U(2), route(ip_prefix="10.0.2.0/24"), "initial"),),
                    initial=True),
        UpdateBatch((ins("Route", U(3), route(ip_prefix="10.0.3.0/24")),)),
        # big enough to reach the threshold with what precedes: staged on its own
        UpdateBatch(tuple(ins("Route", U(10 + i), route(ip_prefix=f"10.1.{i}.0/24"))
                          for i in range(5))),
        UpdateBatch((dele("Route", U(3)),)),
    ]
    live, got = feed(batches, r, stage_threshold=5)
    assert live.transactions == len(batches)
    assert live.resyncs == 1 and live.staged_batches == 1
    # initial; the two that followed, merged; the resync; one insert (the next batch
    # would pass the threshold); the staged batch; the delete
    assert r.txn_count == 6
    assert [(c.kind, c.uuid.int, c.initial) for c in got] == [
        ("insert", 1, False),  # a small copy is applied with reset: ordinary inserts
        ("modify", 1, False), ("insert", 2, False),
        ("delete", 1, False),
        ("insert", 3, False),
        *[("insert", 10 + i, False) for i in range(5)],
        ("delete", 3, False),
    ]
    assert sorted(u.int for u in r.table("Route").rows) == [2, *range(10, 15)]


def test_merged_transactions_that_cancel_out_report_nothing() -> None:
    r = route_replica()
    batches = [
        UpdateBatch((ins("Route", U(1), route(), "initial"),), initial=True),
        UpdateBatch((mod("Route", U(1), nexthop="169.254.100.2"),)),
        UpdateBatch((mod("Route", U(1), nexthop="169.254.100.1"),)),
        UpdateBatch((ins("Route", U(2), route(ip_prefix="10.0.2.0/24")),)),
        UpdateBatch((dele("Route", U(2)),)),
    ]
    live, got = feed(batches, r)
    assert [(c.kind, c.uuid.int) for c in got] == [("insert", 1)]
    assert live.transactions == 5 and r.txn_count == 2
    assert r.table("Route")[U(1)]["nexthop"] == "169.254.100.1"


def test_receive_batch_hands_out_whole_queued_transactions() -> None:
    r = route_replica()
    batches = [
        UpdateBatch(tuple(ins("Route", U(i), route(ip_prefix=f"10.0.{i}.0/24"), "initial")
                          for i in range(1, 4)), initial=True),
        UpdateBatch((mod("Route", U(1), nexthop="169.254.100.2"),
                     mod("Route", U(2), nexthop="169.254.100.2"))),
    ]
    live, got = feed(batches, r, consume="batch")
    assert live.transactions == 2
    assert all(isinstance(b, list) and b for b in got)
    flat = [c for b in got for c in b]
    assert [(c.kind, c.uuid.int) for c in flat] == [
        ("insert", 1), ("insert", 2), ("insert", 3), ("modify", 1), ("modify", 2)]
    # everything was published before the consumer first ran: one list
    assert len(got) == 1


def test_receive_batch_waits_and_ends() -> None:
    r = route_replica()
    mon = Monitor("m1", SB, r.monitor_requests(), "monitor_cond")
    live = LiveReplica(r, mon)
    sub = live.subscribe(size=100)
    got: list[list[Change]] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(live.run)

            async def consume() -> None:
                async for changes in sub.batches():
                    got.append(changes)

            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []  # waiting, not spinning
            mon._deliver(UpdateBatch((ins("Route", U(1), route(), "initial"),), initial=True))
            await trio.testing.wait_all_tasks_blocked()
            assert [len(b) for b in got] == [1]
            mon._deliver(UpdateBatch((mod("Route", U(1), nexthop="169.254.100.9"),)))
            await trio.testing.wait_all_tasks_blocked()
            mon.close()

    import trio.testing

    trio.run(main)
    assert [[(c.kind, c.uuid.int) for c in b] for b in got] == [[("insert", 1)],
                                                                [("modify", 1)]]


def test_modify_shares_only_the_changed_strings() -> None:
    r = route_replica()
    r.apply([ins("Route", U(1), route(transit_switch="".join(["t", "s1"]))),
             ins("Route", U(2), route(transit_switch="".join(["t", "s1"]), ip_prefix="x",
                                      external_ids={"lr-id": "".join(["lr", "1"])}))])
    t = r.table("Route")
    a, b = t[U(1)], t[U(2)]
    assert a["transit_switch"] is b["transit_switch"]
    # update2 map diffs: a key with a new value is set, one with its old value removed
    r.apply([mod("Route", U(2), transit_switch="".join(["t", "s1"]), nexthop="n2",
                 external_ids={"x": "".join(["y", "1"])})])
    b2 = t[U(2)]
    assert b2["transit_switch"] is a["transit_switch"]  # the changed string is shared
    assert b2["external_ids"] == {"lr-id": "lr1", "x": "y1"}
    assert b2["external_ids"]["lr-id"] is a["external_ids"]["lr-id"]
    assert b2._values[t.layout.positions["ip_prefix"]] is b._values[
        t.layout.positions["ip_prefix"]]  # an unchanged value is the same object
    # a diff naming only columns the replica does not hold changes nothing
    narrow = Replica(SB, {"Route": ["nexthop"]})
    narrow.apply([ins("Route", U(1), route())])
    row = narrow.table("Route")[U(1)]
    assert narrow.apply([mod("Route", U(1), origin="static")]) == []
    assert narrow.table("Route")[U(1)] is row


# --------------------------------------------------------------------------- iterating


def _subscription(size: int) -> Any:
    from ovsdb_ic.client.live import Subscription

    return Subscription(size)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("send"), st.integers(1, 150)),
            st.tuples(st.just("each"), st.integers(1, 200)),
            st.tuples(st.just("batch"), st.just(0)),
            st.tuples(st.just("cancel"), st.integers(0, 100)),
        ),
        max_size=25,
    )
)
def test_iterating_and_batches_mixed_lose_and_reorder_nothing(
    steps: list[tuple[str, int]],
) -> None:
    """Any mix of one-by-one iteration (stopped by ``break`` or by cancellation),
    ``receive_batch`` and sends hands out every event once, in order: the events an
    iteration took from the channel but did not hand out yet are the next ones out,
    whichever way is used next."""
    sub = _subscription(10_000)
    sent: list[int] = []
    got: list[int] = []

    async def main() -> None:
        for kind, n in steps:
            if kind == "send":
                for _ in range(n):
                    sub._send.send_nowait(len(sent))
                    sent.append(len(sent))
            elif kind == "each":
                if len(got) == len(sent):
                    continue  # would wait for an event that never comes
                taken = 0
                async for change in sub:
                    got.append(change)
                    taken += 1
                    if taken == n or len(got) == len(sent):
                        break
            elif kind == "batch":
                if len(got) < len(sent):
                    got.extend(await sub.receive_batch())
            else:  # iterate under a cancel scope cancelled after n events
                if len(got) == len(sent):
                    continue
                with trio.CancelScope() as scope:
                    async for change in sub:
                        got.append(change)
                        if len(got) - before_cancel[0] >= n or len(got) == len(sent):
                            scope.cancel()
            before_cancel[0] = len(got)
        sub._send.close()
        async for change in sub:
            got.append(change)

    before_cancel = [0]
    trio.run(main)
    assert got == sent


def test_iterating_yields_to_other_tasks_at_least_every_64_events() -> None:
    """One-by-one iteration takes the queued events in one go, but other tasks still
    run between every 64 of them (and the loop stays cancellable at each)."""
    sub = _subscription(1000)
    for i in range(1000):
        sub._send.send_nowait(i)
    sub._send.close()
    runs_between: list[int] = []
    count = [0]

    async def main() -> None:
        async with trio.open_nursery() as nursery:

            async def other() -> None:
                while True:
                    runs_between.append(count[0])
                    count[0] = 0
                    await trio.lowlevel.checkpoint()

            nursery.start_soon(other)
            await trio.lowlevel.checkpoint()
            async for _ in sub:
                count[0] += 1
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert sum(runs_between) + count[0] == 1000
    # 64 held events, plus the one the wait returned, between scheduling points; trio
    # runs the tasks of one scheduling batch in random order, so the other task can see
    # two such runs between two of its own.
    assert max(runs_between) <= 2 * 65
    assert len([n for n in runs_between if n]) >= 1000 // (2 * 65)


def test_iterating_checks_for_cancellation_at_every_event() -> None:
    sub = _subscription(100)
    for i in range(100):
        sub._send.send_nowait(i)
    got: list[int] = []

    async def main() -> None:
        with trio.CancelScope() as scope:
            async for change in sub:
                got.append(change)
                if change == 9:
                    scope.cancel()  # takes effect at the next step, within the held lot
        assert got == list(range(10))
        assert (await sub.receive_batch()) == list(range(10, 100))

    trio.run(main)


def test_iterating_ends_after_an_overflow_with_what_was_held() -> None:
    r = route_replica()
    mon = Monitor("m1", SB, r.monitor_requests(), "monitor_cond")
    live = LiveReplica(r, mon)
    sub = live.subscribe(size=3)
    got: list[Change] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(live.run)
            mon._deliver(UpdateBatch(tuple(ins("Route", U(i), route(ip_prefix=f"10.0.{i}.0/24"),
                                               "initial") for i in range(1, 6)), initial=True))
            await trio.testing.wait_all_tasks_blocked()
            async for change in sub:
                got.append(change)
            mon.close()

    import trio.testing

    trio.run(main)
    assert sub.overflowed
    assert [c.uuid.int for c in got] == [1, 2, 3]
