"""The rules the one orchestration path decides once: what a conflict is, and that the
route planner keeps no state of its own between callers."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from ovsdb_ic.errors import (
    CONFLICTS,
    ConnectionClosedError,
    ConstraintViolationError,
    NotOwnerError,
    OutcomeUnknownError,
    ReferentialIntegrityError,
    TransactionError,
    WaitTimedOutError,
    is_conflict,
)
from ovsdb_ic.sync import routes

sys.path.insert(0, str(Path(__file__).parent))
from test_sync_routes import basic


def _txn(cls: type[TransactionError], error: str) -> TransactionError:
    return cls(0, None, error, None)


def test_conflicts_are_the_errors_a_concurrent_writer_explains() -> None:
    assert set(CONFLICTS) == {WaitTimedOutError, ConstraintViolationError,
                              ReferentialIntegrityError}
    assert is_conflict(_txn(WaitTimedOutError, "timed out"))
    assert is_conflict(_txn(ConstraintViolationError, "constraint violation"))
    assert is_conflict(_txn(ReferentialIntegrityError, "referential integrity violation"))
    assert not is_conflict(_txn(NotOwnerError, "not owner"))
    assert not is_conflict(_txn(TransactionError, "aborted"))
    assert not is_conflict(ConnectionClosedError("gone"))
    unknown = OutcomeUnknownError("lost before the answer")
    assert not is_conflict(unknown)
    assert is_conflict(unknown, outcome_unknown=True)
    assert not is_conflict(ConnectionClosedError("gone"), outcome_unknown=True)


def test_plan_routes_keeps_no_replica_alive_without_a_cache() -> None:
    w, _lr = basic()
    replicas = (w.snap.nb, w.snap.ic_nb, w.snap.ic_sb)
    before = [sys.getrefcount(r) for r in replicas]
    assert routes.plan_routes(w.snap)
    gc.collect()
    # Nothing module-wide took a reference to the replicas.
    assert [sys.getrefcount(r) for r in replicas] == before
    cache = routes.RouteCache(size=1)
    routes.plan_routes(w.snap, cache=cache)
    # A cache the caller owns does, until it is cleared.
    assert all(sys.getrefcount(r) > n for r, n in zip(replicas, before, strict=True))
    cache.clear()
    gc.collect()
    assert [sys.getrefcount(r) for r in replicas] == before


def test_a_route_cache_belongs_to_its_owner() -> None:
    w, _lr = basic()
    mine, other = routes.RouteCache(size=1), routes.RouteCache(size=1)
    plan = routes.plan_routes(w.snap, cache=mine)
    assert mine.held == 1 and other.held == 0
    assert routes.plan_routes(w.snap, cache=other) == plan
    mine.clear()
    assert mine.held == 0 and other.held == 1
