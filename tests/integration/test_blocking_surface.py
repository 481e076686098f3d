"""The blocking facade beyond raw operations: replicate, typed transactions, retry, from
several threads at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ovsdb_ic.client import blocking
from ovsdb_ic.client.txn import Txn
from ovsdb_ic.errors import RowNotFoundError
from ovsdb_ic.models import ic_sb
from ovsdb_ic.replica import Replica
from ovsdb_ic.testing import Sandbox


def _names(replica: Replica) -> list[str]:
    return sorted(row["name"] for row in replica.table("Availability_Zone"))


def test_blocking_replicate_commit_and_retry(sandbox: Sandbox) -> None:
    server = sandbox.start_server("ic-sb", name="icsb")
    with blocking.connect(server.remote, database="OVN_IC_Southbound", timeout=20) as c:
        live = c.replicate(["Availability_Zone"])
        assert live.read(_names) == []

        def add(name: str) -> None:
            txn = c.transaction()
            txn.insert(ic_sb.AvailabilityZone(name=name))
            c.commit(txn)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(add, [f"az{i}" for i in range(8)]))
        live.caught_up()
        assert live.read(_names) == sorted(f"az{i}" for i in range(8))

        # Optimistic read-modify-write: the build reads the replica in the client's
        # thread. A row read before another writer changed it fails the check on the
        # first attempt; the retry reads it afresh.
        stale = live.read(lambda r: next(row for row in r.table("Availability_Zone")
                                         if row["name"] == "az0"))
        with blocking.connect(server.remote, database="OVN_IC_Southbound") as other:
            txn = other.transaction()
            txn.update(ic_sb.AvailabilityZone, "az0", name="az0-moved")
            other.commit(txn)
        live.wait_for(lambda r: "az0-moved" in _names(r))
        calls = 0

        def rename(txn: Txn) -> None:
            nonlocal calls
            calls += 1
            row = stale if calls == 1 else live.live.replica.table(
                "Availability_Zone")[stale.uuid]
            txn.expect(row, ["name"])
            txn.update("Availability_Zone", row, {"name": row["name"] + "-renamed"})

        c.retry(rename, live=live)
        assert calls == 2
        live.wait_for(lambda r: "az0-moved-renamed" in _names(r))

        # A missing row is an error, from any thread.
        txn = c.transaction()
        txn.delete(ic_sb.AvailabilityZone, "no-such-az")
        with pytest.raises(RowNotFoundError, match="no-such-az"):
            c.commit(txn)
