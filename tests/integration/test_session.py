"""The one orchestration path (ovsdb_ic.sync.session) against real servers: concurrent
opening with the readers' indexes installed, commits that show in the replicas when
they return, conflicts and unreachable databases reported by name, and an engine that
keeps nothing once stopped."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import trio
import trio.testing

from ovsdb_ic.errors import ConnectionClosedError
from ovsdb_ic.ic.databases import Requirements, index_name
from ovsdb_ic.sync.plan import Insert, Plan
from ovsdb_ic.sync.session import (
    CommitPolicy,
    ConnectOptions,
    UnreachableError,
    commit_plan,
    open_databases,
)
from ovsdb_ic.testing import Sandbox, Server, schema_path

READS = Requirements(
    {"ic_sb": {"Availability_Zone": None, "Route": None}, "ic_nb": {"Transit_Switch": None}},
    (Requirements.index("ic_sb", "Route", "availability_zone"),),
)


def test_open_commit_and_conflict(sandbox: Sandbox, ic_sb_server: Server) -> None:
    ic_nb = sandbox.start_server(schema_path("ic-nb"), name="ic-nb")

    async def main() -> None:
        remotes = {"ic_sb": ic_sb_server.remote, "ic_nb": ic_nb.remote}
        async with open_databases(remotes, READS) as dbs:
            assert set(dbs.replicas) == {"ic_sb", "ic_nb"}
            sb = dbs.replicas["ic_sb"].replica
            assert index_name(("availability_zone",)) in sb.table("Route").indexes
            assert set(sb.tables) == {"Availability_Zone", "Route"}
            lines: list[str] = []
            plan = Plan((Insert("ic_sb", "Availability_Zone", {"name": "az1"}),
                         Insert("ic_nb", "Transit_Switch", {"name": "ts1"})))
            result = await commit_plan(dbs, plan, CommitPolicy(), report=lines.append)
            assert result.ok and result.committed == {"ic_sb": 1, "ic_nb": 1}
            assert sorted(lines) == ["IC-NB: committed 1 operation(s)",
                                     "IC-SB: committed 1 operation(s)"]
            # The replicas show the commit as soon as commit_plan returns.
            assert [r["name"] for r in sb.table("Availability_Zone")] == ["az1"]
            # The same name again: a unique-index violation is a conflict, not a failure;
            # with an order, the databases after it are not tried.
            again = Plan((Insert("ic_sb", "Availability_Zone", {"name": "az1"}),
                          Insert("ic_nb", "Transit_Switch", {"name": "ts2"})))
            result = await commit_plan(dbs, again, CommitPolicy(order=("ic_sb", "ic_nb")))
            assert not result.ok and set(result.conflicts) == {"ic_sb"}
            assert not result.failures and result.committed == {}
            nb = dbs.replicas["ic_nb"].replica
            assert [r["name"] for r in nb.table("Transit_Switch")] == ["ts1"]

    trio.run(main)


def test_keyed_inserts_apart_do_not_hold_back_the_rest(ic_sb_server: Server) -> None:
    """``CommitPolicy.apart``: a lost race for a unique key (another agent took the
    tunnel key) fails only the keyed insert; the route beside it commits. Without it,
    one transaction per database: nothing commits."""
    reads = Requirements({"ic_sb": {"Availability_Zone": None, "Route": None,
                                    "Port_Binding": None}})
    apart = CommitPolicy(apart=frozenset({("ic_sb", "Port_Binding")}))

    def port(name: str, az: uuid.UUID) -> Insert:
        return Insert("ic_sb", "Port_Binding", {"transit_switch": "ts1", "logical_port": name,
                                                "tunnel_key": 1, "availability_zone": az})

    def route(prefix: str, az: uuid.UUID) -> Insert:
        return Insert("ic_sb", "Route", {"transit_switch": "ts1", "availability_zone": az,
                                         "ip_prefix": prefix, "nexthop": "169.254.0.1",
                                         "origin": "static"})

    async def main() -> None:
        async with open_databases({"ic_sb": ic_sb_server.remote}, reads) as dbs:
            sb = dbs.replicas["ic_sb"].replica
            await commit_plan(dbs, Plan((Insert("ic_sb", "Availability_Zone",
                                                {"name": "az1"}),)), apart)
            az = next(iter(sb.table("Availability_Zone"))).uuid
            first = await commit_plan(dbs, Plan((port("p1", az), route("10.0.1.0/24", az))),
                                      apart)
            assert first.ok and first.committed == {"ic_sb": 2}
            # Key 1 is taken: the next port's insert conflicts, alone.
            lines: list[str] = []
            raced = await commit_plan(dbs, Plan((port("p2", az), route("10.0.2.0/24", az))),
                                      apart, report=lines.append)
            assert set(raced.conflicts) == {"ic_sb"} and not raced.failures
            assert raced.committed == {"ic_sb": 1}
            assert lines == ["IC-SB: committed 1 operation(s)"]
            assert sorted(r["ip_prefix"] for r in sb.table("Route")) == [
                "10.0.1.0/24", "10.0.2.0/24"]
            assert [r["logical_port"] for r in sb.table("Port_Binding")] == ["p1"]
            # One transaction for the database: the route waits for the key.
            whole = await commit_plan(dbs, Plan((port("p3", az), route("10.0.3.0/24", az))))
            assert set(whole.conflicts) == {"ic_sb"} and whole.committed == {}
            assert len(sb.table("Route")) == 2

    trio.run(main)


def test_locks_are_taken_while_the_tables_are_copied(ic_sb_server: Server) -> None:
    async def main() -> None:
        remotes = {"ic_sb": ic_sb_server.remote}
        options = ConnectOptions(locks=(("ic_sb", "ovn_ic"),))
        async with open_databases(remotes, READS, options=options) as first:
            lock = first.locks["ic_sb"]
            assert lock.name == "ovn_ic" and lock.held
            # A second client waits for it: not held, and it was still replicated.
            async with open_databases(remotes, READS, options=options) as second:
                assert not second.locks["ic_sb"].held
                assert "Route" in second.replicas["ic_sb"].replica.tables
        async with open_databases(remotes, READS) as plain:
            assert plain.locks == {}

    trio.run(main)


def test_a_closed_client_ends_the_wait_for_a_change(sandbox: Sandbox,
                                                     ic_sb_server: Server) -> None:
    """Without reconnect, a database whose server dies ends ``Databases.changed`` with
    the ConnectionClosedError itself (not a group), instead of a wait that never ends."""
    ic_nb = sandbox.start_server(schema_path("ic-nb"), name="ic-nb")

    async def main() -> None:
        remotes = {"ic_sb": ic_sb_server.remote, "ic_nb": ic_nb.remote}
        with pytest.raises(ConnectionClosedError) as info:
            async with open_databases(remotes, READS,
                                      options=ConnectOptions(reconnect=False)) as dbs:
                versions = dbs.versions()
                ic_nb.kill()
                with trio.fail_after(10):
                    await dbs.changed(versions)
        assert "OVN_IC_Northbound no longer follows the server" in str(info.value)

    trio.run(main)


def test_a_change_in_any_database_ends_the_wait(sandbox: Sandbox,
                                                ic_sb_server: Server) -> None:
    """``Databases.changed`` returns at a transaction on either database, at once when
    the versions already moved, and not before."""
    ic_nb = sandbox.start_server(schema_path("ic-nb"), name="ic-nb")

    async def main() -> None:
        remotes = {"ic_sb": ic_sb_server.remote, "ic_nb": ic_nb.remote}
        async with open_databases(remotes, READS) as dbs:
            for key, table, row in (("ic_nb", "Transit_Switch", {"name": "ts1"}),
                                    ("ic_sb", "Availability_Zone", {"name": "az1"}),
                                    ("ic_nb", "Transit_Switch", {"name": "ts2"})):
                versions = dbs.versions()
                returned = trio.Event()

                async def wait(versions: dict[str, int] = versions,
                               returned: trio.Event = returned) -> None:
                    await dbs.changed(versions)
                    returned.set()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait)
                    await trio.testing.wait_all_tasks_blocked()
                    assert not returned.is_set()
                    await dbs.clients[key].transact(
                        [{"op": "insert", "table": table, "row": row}])
                    with trio.fail_after(10):
                        await returned.wait()
                assert dbs.versions()[key] != versions[key]  # type: ignore[index]
                # Moved already: no wait at all.
                with trio.fail_after(1):
                    await dbs.changed(versions)

    trio.run(main)


def test_the_watch_of_a_closed_set_of_databases_goes_with_it(ic_sb_server: Server) -> None:
    """A replica shared by several engines (``SharedIc``) holds the watches of their
    ``Databases`` weakly: a set that is gone leaves nothing behind on the replica."""
    import gc

    async def main() -> None:
        async with open_databases({"ic_sb": ic_sb_server.remote}, READS) as dbs:
            live = dbs.replicas["ic_sb"]
            versions = dbs.versions()
            with trio.move_on_after(0.01):
                await dbs.changed(versions)
            assert len(live._watches) == 1
            # A second set over the same replica (as an engine given a shared pair).
            from ovsdb_ic.sync.session import Databases

            async def engine() -> None:
                other = Databases()
                other.clients["ic_sb"] = dbs.clients["ic_sb"]
                other.replicas["ic_sb"] = live
                await other.changed(versions)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(engine)
                await trio.testing.wait_all_tasks_blocked()
                assert len(live._watches) == 2
                nursery.cancel_scope.cancel()
            gc.collect()
            assert len(live._watches) == 1

    trio.run(main)


def test_unreachable_databases_are_named(ic_sb_server: Server, tmp_path: Path) -> None:
    async def main() -> None:
        remotes = {"ic_sb": ic_sb_server.remote, "ic_nb": f"unix:{tmp_path}/nobody.sock"}
        with pytest.raises(UnreachableError) as info:
            async with open_databases(remotes, READS,
                                      options=ConnectOptions(connect_timeout=10)):
                raise AssertionError("opened without IC-NB")
        assert info.value.problems
        assert all(line.startswith("IC-NB: ") for line in info.value.problems)
        assert "nobody.sock" in str(info.value)

    trio.run(main)


def test_a_big_plan_is_committed_with_the_collector_paused(ic_sb_server: Server) -> None:
    """A plan of at least _BIG_PLAN operations: the collector is off while its
    transaction is sent and its echo applied, and on again afterwards; a small plan
    leaves it alone."""
    import gc

    from ovsdb_ic.sync import session

    async def main() -> None:
        async with open_databases({"ic_sb": ic_sb_server.remote}, READS) as dbs:
            client = dbs.clients["ic_sb"]
            seen: list[bool] = []
            transact = client.transact

            async def spy(ops: object) -> object:
                seen.append(gc.isenabled())
                return await transact(ops)  # type: ignore[arg-type]

            client.transact = spy  # type: ignore[method-assign]
            n = session._BIG_PLAN
            big = Plan(tuple(Insert("ic_sb", "Availability_Zone", {"name": f"az{i}"})
                             for i in range(n)))
            small = Plan((Insert("ic_sb", "Availability_Zone", {"name": "small"}),))
            assert gc.isenabled()
            assert (await commit_plan(dbs, big, CommitPolicy())).ok
            assert gc.isenabled()
            assert (await commit_plan(dbs, small, CommitPolicy())).ok
            assert seen == [False, True]
            assert len(dbs.replicas["ic_sb"].replica.table("Availability_Zone")) == n + 1

    trio.run(main)
