"""``ovsdb-ic sync`` keeps the cyclic collector paused through the engine's cold start
(``collector_paused_until_settled``), and always gives it back."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import trio

from ovsdb_ic.cli.sync import collector_paused_until_settled


class _Engine:
    """The two waits the pause watches, as events the test sets."""

    def __init__(self) -> None:
        self.settled = trio.Event()
        self.standing_by = trio.Event()

    async def wait_settled(self) -> None:
        await self.settled.wait()

    async def wait_standing_by(self) -> None:
        await self.standing_by.wait()


@pytest.mark.parametrize("ends_with", ["settled", "standing_by"])
def test_paused_until_the_first_settle_or_standing_by(ends_with: str) -> None:
    engine: Any = _Engine()
    seen: list[tuple[str, bool]] = []

    async def run() -> None:
        seen.append(("start", gc.isenabled()))
        await trio.sleep(0.01)
        seen.append(("cold", gc.isenabled()))
        getattr(engine, ends_with).set()
        await trio.sleep(0.01)
        seen.append(("after", gc.isenabled()))

    assert gc.isenabled()
    trio.run(collector_paused_until_settled, engine, run)
    assert seen == [("start", False), ("cold", False), ("after", True)]
    assert gc.isenabled()


def test_given_back_when_the_run_ends_first_or_raises() -> None:
    engine: Any = _Engine()

    async def quick() -> None:
        assert not gc.isenabled()

    trio.run(collector_paused_until_settled, engine, quick)
    assert gc.isenabled()

    async def fails() -> None:
        raise ConnectionError("no server")

    with pytest.raises(ConnectionError, match="no server"):  # not wrapped in a group
        trio.run(collector_paused_until_settled, engine, fails)
    assert gc.isenabled()


def test_the_pause_is_bounded_in_time() -> None:
    """An engine that never settles nor stands by (e.g. retrying unreachable servers)
    gets its collector back after ``bound`` seconds."""
    engine: Any = _Engine()
    seen: list[bool] = []

    async def run() -> None:
        seen.append(gc.isenabled())
        await trio.sleep(0.2)
        seen.append(gc.isenabled())

    trio.run(lambda: collector_paused_until_settled(engine, run, bound=0.05))
    assert seen == [False, True]
    assert gc.isenabled()


def test_a_collector_the_program_disabled_stays_disabled() -> None:
    engine: Any = _Engine()

    async def run() -> None:
        engine.settled.set()
        await trio.sleep(0.01)
        assert not gc.isenabled()

    gc.disable()
    try:
        trio.run(collector_paused_until_settled, engine, run)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_startup_imports_promote_instead_of_freezing() -> None:
    """What the imports created ends in the oldest generation, nothing stays frozen (so
    the replicas' pauses can promote their builds too), and the collector is back on."""
    from ovsdb_ic.cli._common import startup_imports

    gc.collect()
    assert gc.get_freeze_count() == 0
    with startup_imports():
        assert not gc.isenabled()
        made = [[i] for i in range(5000)]
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert gc.get_count()[0] < 100  # not left young: promoted
    assert made[-1] == [4999]
    # the cold-start pause then promotes its own allocations the same way
    engine: Any = _Engine()

    async def run() -> None:
        engine.settled.set()
        engine.built = [[i] for i in range(5000)]
        await trio.sleep(0.01)

    trio.run(collector_paused_until_settled, engine, run)
    assert gc.get_count()[0] < 100 and gc.get_freeze_count() == 0
