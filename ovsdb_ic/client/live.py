"""A replica kept current by a monitor: :meth:`Client.replicate` returns a :class:`LiveReplica`.

Each server transaction is applied to the :class:`~ovsdb_ic.replica.Replica`
as a whole before anyone can observe it; a full resync (after the server
cancelled the monitor, e.g. for a schema conversion) is applied with
``Replica.reset`` and reported as ordinary changes.

Change events go to subscribers through **bounded** trio channels. The feeder
never waits for a subscriber (that would stall the connection): a subscriber
whose buffer is full is dropped, its channel closed after what it already
holds, and its :attr:`Subscription.overflowed` set. It can subscribe again and
read the replica, which is always complete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, final
from uuid import UUID

import trio

from ovsdb_ic.client.monitor import Monitor
from ovsdb_ic.models.mapping import model_for, to_model
from ovsdb_ic.replica import Change, Replica

__all__ = ["LiveReplica", "Subscription"]


@final
class Subscription:
    """A subscriber's channel of :class:`~ovsdb_ic.replica.Change` events."""

    def __init__(self, size: int) -> None:
        """A bounded channel of ``size`` events; :meth:`LiveReplica.subscribe` makes it."""
        self._send, self.receive = trio.open_memory_channel[Change](size)
        self.overflowed = False
        """True once events were dropped because the buffer was full."""

    def __aiter__(self) -> trio.MemoryReceiveChannel[Change]:
        """Iterate the events."""
        return self.receive


@final
class LiveReplica:
    """A :class:`~ovsdb_ic.replica.Replica` fed by a monitor (see the module doc)."""

    def __init__(self, replica: Replica, monitor: Monitor) -> None:
        """Wire a replica to a monitor; :meth:`Client.replicate` does this."""
        self.replica = replica
        self.monitor = monitor
        self._subs: list[Subscription] = []
        self._changed = trio.Event()
        self.transactions = 0
        """Server transactions applied (the initial copy counts as one)."""
        self.resyncs = 0
        """Full copies received after the first (each applied as differences)."""

    def model(self, table: str, uuid: UUID) -> Any:
        """The row as an instance of its typed model (``ovsdb_ic.models``), or the
        generic replica Row when the database has no models; None when absent."""
        row = self.replica.table(table).get(uuid)
        if row is None:
            return None
        cls = model_for(self.replica.schema.name, table)
        return row if cls is None else to_model(cls, row.uuid, row.to_dict())

    def models(self, table: str) -> list[Any]:
        """Every row of ``table`` as typed models (or generic rows, see :meth:`model`)."""
        cls = model_for(self.replica.schema.name, table)
        rows = list(self.replica.table(table))
        if cls is None:
            return rows
        return [to_model(cls, r.uuid, r.to_dict()) for r in rows]

    def subscribe(self, size: int = 1024) -> Subscription:
        """Receive the changes of every transaction applied from now on."""
        sub = Subscription(size)
        self._subs.append(sub)
        return sub

    async def wait_for(self, predicate: Callable[[Replica], bool]) -> None:
        """Return once ``predicate(replica)`` is true (checked after each transaction).

        Bound it with ``trio.fail_after``: it waits as long as it takes.
        """
        while not predicate(self.replica):
            await self._changed.wait()

    def _publish(self, changes: list[Change]) -> None:
        self.transactions += 1
        for sub in list(self._subs):
            for change in changes:
                try:
                    sub._send.send_nowait(change)
                except trio.WouldBlock:
                    sub.overflowed = True
                    sub._send.close()
                    self._subs.remove(sub)
                    break
        changed, self._changed = self._changed, trio.Event()
        changed.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Apply batches until the monitor ends; started() after the initial copy."""
        started = False
        try:
            async for batch in self.monitor:
                if batch.initial:
                    if started:
                        self.resyncs += 1
                    changes = self.replica.reset(batch.updates)
                else:
                    changes = self.replica.apply(batch.updates)
                self._publish(changes)
                if not started:
                    started = True
                    task_status.started()
        finally:
            for sub in self._subs:
                sub._send.close()
            self._changed.set()
