"""A replica kept current by a monitor: :meth:`Client.replicate` returns a :class:`LiveReplica`.

Each server transaction is applied to the :class:`~ovsdb_ic.replica.Replica`
as a whole before anyone can observe it; a full resync (after the server
cancelled the monitor, e.g. for a schema conversion) is applied with
``Replica.reset`` and reported as ordinary changes. Transactions that queue up for
the replica's task while it is busy (a fast stream) are applied together, in one
``Replica.apply``: each stays whole and in order, and subscribers get each row's net
change over them, as ovsdb-server itself merges the transactions of a client that
falls behind (:attr:`LiveReplica.transactions` still counts server transactions).

Large batches (a 200,000-row initial copy takes about a second to apply) never
block the trio loop for long: a batch of :attr:`LiveReplica.stage_threshold`
updates or more is applied with :meth:`Replica.stage
<ovsdb_ic.replica.Replica.stage>` in steps of about :attr:`LiveReplica.step_budget`
seconds, with a checkpoint after each, so the session keeps answering the
server's echo (its inactivity probe) and other tasks keep running. The batch is
still published at once: readers see it not at all or completely. The cyclic
garbage collector is paused while such a batch is built, and the new rows then go
straight to its oldest generation (see :func:`ovsdb_ic.replica.gc_paused`).

Small batches (fewer than 128 updates and than :attr:`LiveReplica.stage_threshold`,
no resync) that arrive while nothing is queued are applied as soon as the
session's reader decodes them, without waiting for the replica's task to be
scheduled: a transaction's changes are in the replica before its reply is handed
to the caller when the server sends them first (as ``ovsdb-server`` does). Order
is kept: once a batch is queued, the ones after it queue too until the task has
caught up.

Change events go to subscribers through **bounded** trio channels. The feeder
never waits for a subscriber (that would stall the connection): a subscriber
whose buffer is full is dropped, its channel closed after what it already
holds, and its :attr:`Subscription.overflowed` set. It can subscribe again and
read the replica, which is always complete. Iterating a subscription takes every
event already queued at once and hands them out one by one, with a scheduling
point every 64 events (and a cancellation check at each); :meth:`Subscription.batches`
hands out the lists themselves.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final, final
from uuid import UUID

import trio

from ovsdb_ic.client.monitor import Monitor, UpdateBatch
from ovsdb_ic.errors import ConnectionClosedError
from ovsdb_ic.models.mapping import model_for, to_model
from ovsdb_ic.replica import Change, Replica, gc_paused
from ovsdb_ic.wire.monitor import RowUpdate

__all__ = ["LiveReplica", "Subscription"]

STAGE_THRESHOLD: Final = 2000
"""Default :attr:`LiveReplica.stage_threshold`: batches this big are applied in steps."""
STEP_BUDGET: Final = 0.01
"""Default :attr:`LiveReplica.step_budget`: seconds of work between checkpoints."""
_PUBLISH_SLICE: Final = 4096
_TAKE_MAX: Final = 128
"""Batches of fewer updates may be applied as they are decoded (LiveReplica._take); bigger
ones go to the replica's task, so the reader's step stays short (decode and apply of a
batch that size together take a few milliseconds)."""


_TRIM_AFTER = 50_000
"""Batches of at least this many rows are followed by a malloc_trim (see below)."""


def _return_free_memory() -> None:
    """Give the C heap's free pages back to the system after a huge transient allocation.

    Parsing and decoding a big initial copy frees hundreds of megabytes that glibc keeps
    in its heap (fragmented around the rows that stay); ``malloc_trim(0)`` returns the
    free pages, so the process's RSS reflects the replica rather than the peak. A no-op
    where glibc is not the C library.
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def _drain(receive: trio.MemoryReceiveChannel[Change], add: Callable[[Change], None]) -> None:
    """Pass every event already queued in *receive* to *add*, without waiting."""
    take = receive.receive_nowait
    try:
        while True:
            add(take())
    except (trio.WouldBlock, trio.EndOfChannel):
        pass


@final
class Subscription:
    """A subscriber's channel of :class:`~ovsdb_ic.replica.Change` events.

    Take the events one way: ``async for change in sub`` (one at a time),
    :meth:`receive_batch` / :meth:`batches` (lists), or the trio channel
    :attr:`receive` itself. Iterating takes what is queued in one go and hands it
    out one event at a time, so events may wait in the subscription as well as in
    its channel (at most ``size`` in each); :meth:`receive_batch` hands those out
    first, :attr:`receive` does not see them.
    """

    def __init__(self, size: int) -> None:
        """A bounded channel of ``size`` events; :meth:`LiveReplica.subscribe` makes it."""
        self._send, self.receive = trio.open_memory_channel[Change](size)
        self.overflowed = False
        """True once events were dropped because the buffer was full."""
        self._held: deque[Change] = deque()
        self._unyielded = 0

    def __aiter__(self) -> _Events:
        """Iterate the events one by one.

        Every step checks for cancellation; only every 64th event already taken
        (and each wait for new ones) is a scheduling point, where iterating the
        channel makes one per event: a trio scheduling pass each, which costs more
        CPU than a fast stream's events themselves (docs/performance.md).
        """
        return _Events(self)

    async def receive_batch(self) -> list[Change]:
        """Wait for an event, then return it with every event already queued behind it.

        One checkpoint for the lot, where iterating the channel costs one per event
        (a trio scheduling pass each): the way to follow a fast stream of small
        transactions. Events of one transaction are queued together, so a batch ends
        with a whole transaction, except for transactions of more than 4096 changes,
        which are queued in parts. Raises ``trio.EndOfChannel`` once the subscription
        has ended and everything it held was received.
        """
        receive = self.receive
        if self._held:
            await trio.lowlevel.checkpoint()
            out = list(self._held)
            self._held.clear()
        else:
            out = [await receive.receive()]
        _drain(receive, out.append)
        return out

    def batches(self) -> _Batches:
        """Iterate the events in lists of those already queued (see :meth:`receive_batch`)."""
        return _Batches(self)


_YIELD_EVERY: Final = 64
"""Iterating a subscription makes a scheduling point at least every this many events."""


@final
class _Events:
    """``async for change in sub``: one event at a time, taken from the channel in lots."""

    __slots__ = ("_sub",)

    def __init__(self, sub: Subscription) -> None:
        self._sub = sub

    def __aiter__(self) -> _Events:
        return self

    async def __anext__(self) -> Change:
        sub = self._sub
        held = sub._held
        if held and sub._unyielded < _YIELD_EVERY:
            sub._unyielded += 1
            await trio.lowlevel.checkpoint_if_cancelled()
            return held.popleft()
        sub._unyielded = 0
        if held:
            await trio.lowlevel.checkpoint()
            return held.popleft()
        receive = sub.receive
        try:
            first = await receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
        _drain(receive, held.append)
        return first


@final
class _Batches:
    """``async for changes in sub.batches()``: lists from :meth:`Subscription.receive_batch`."""

    __slots__ = ("_sub",)

    def __init__(self, sub: Subscription) -> None:
        self._sub = sub

    def __aiter__(self) -> _Batches:
        return self

    async def __anext__(self) -> list[Change]:
        try:
            return await self._sub.receive_batch()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


@final
class LiveReplica:
    """A :class:`~ovsdb_ic.replica.Replica` fed by a monitor (see the module doc)."""

    def __init__(
        self,
        replica: Replica,
        monitor: Monitor,
        *,
        stage_threshold: int = STAGE_THRESHOLD,
        step_budget: float = STEP_BUDGET,
    ) -> None:
        """Wire a replica to a monitor; :meth:`Client.replicate` does this."""
        if stage_threshold < 1 or step_budget <= 0:
            raise ValueError("stage_threshold and step_budget must be positive")
        self.replica = replica
        self.monitor = monitor
        self._subs: list[Subscription] = []
        self._changed = trio.Event()
        self.transactions = 0
        """Server transactions applied (the initial copy counts as one)."""
        self.resyncs = 0
        """Full copies received after the first (each applied as differences)."""
        self.stage_threshold = stage_threshold
        """Batches with at least this many updates are applied in steps."""
        self.step_budget = step_budget
        """Seconds of applying between two checkpoints of a staged batch."""
        self.staged_batches = 0
        """Batches applied in steps so far."""
        self.longest_step = 0.0
        """The longest time, in seconds, one staged batch kept the loop without a
        checkpoint (steps, or the final publication), over all staged batches."""
        # True while the task waits on an empty queue with nothing handed to it:
        # only then may a batch be applied on arrival (_take), keeping the order.
        self._idle = False
        self._take_error: Exception | None = None
        self._ended = False  # run() returned: the replica follows the server no more
        # Watches of several replicas at once (_AnyChange), woken with our waiters.
        self._watches: weakref.WeakSet[_AnyChange] = weakref.WeakSet()

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

        Bound it with ``trio.fail_after``: it waits as long as it takes. Raises
        :class:`~ovsdb_ic.errors.ConnectionClosedError` when the replica stops following
        the server with ``predicate`` still false (its client closed, e.g. a lost
        connection without ``reconnect``, or its monitor was cancelled).
        """
        while not predicate(self.replica):
            if self._ended:
                # A waiter being cancelled (its client's block is closing) sees the
                # cancellation rather than this error.
                await trio.lowlevel.checkpoint_if_cancelled()
                raise self._ended_error()
            await self._changed.wait()

    def _ended_error(self) -> ConnectionClosedError:
        cause = self.monitor.closed_by
        why = f"its client closed ({cause})" if cause is not None else "its monitor ended"
        error = ConnectionClosedError(
            f"the replica of {self.replica.schema.name} no longer follows the server: {why}")
        error.__cause__ = cause
        return error

    def _publish(self, changes: list[Change], transactions: int = 1) -> None:
        self.transactions += transactions
        if changes:
            for sub in list(self._subs):
                self._send(sub, changes)
        self._wake()

    async def _publish_in_slices(self, changes: list[Change]) -> None:
        """:meth:`_publish` for many changes, with checkpoints between slices."""
        self.transactions += 1
        for start in range(0, len(changes), _PUBLISH_SLICE):
            part = changes[start:start + _PUBLISH_SLICE]
            for sub in list(self._subs):
                self._send(sub, part)
            await trio.lowlevel.checkpoint()
        self._wake()

    def _send(self, sub: Subscription, changes: Sequence[Change]) -> None:
        for change in changes:
            try:
                sub._send.send_nowait(change)
            except trio.WouldBlock:
                sub.overflowed = True
                sub._send.close()
                self._subs.remove(sub)
                return

    def _take(self, batch: UpdateBatch) -> bool:
        """The monitor's sink: apply a small batch now if nothing is queued before it.

        Returns False to have it queued for the task (which then owns the order
        until it has caught up). An error is kept for the task, which raises it
        where it always did.
        """
        updates = batch.updates
        if not self._idle or batch.initial or len(updates) >= self._inline_limit:
            self._idle = False
            return False
        try:
            changes = self.replica.apply(updates)
            self._publish(changes)
        except Exception as exc:  # raised again by the task
            self._take_error = exc
            self._idle = False
            return False
        return True

    @property
    def _inline_limit(self) -> int:
        return min(self.stage_threshold, _TAKE_MAX)

    def _wake(self) -> None:
        changed, self._changed = self._changed, trio.Event()
        changed.set()
        for watch in self._watches:
            watch.poke()

    async def _apply_staged(self, updates: Sequence[RowUpdate], initial: bool) -> list[Change]:
        """Apply a big batch in steps of about :attr:`step_budget` seconds."""
        clock = time.perf_counter
        budget = self.step_budget
        staged = self.replica.stage(updates, initial=initial,
                                    consume=type(updates) is list)
        n = 256  # units per step, adapted so that a step takes about budget / 4
        with gc_paused(promote=True), staged:
            while True:
                start = clock()
                end = start + budget
                while True:
                    t = clock()
                    done = staged.step(n)
                    took = clock() - t
                    if took < budget / 8:
                        n = min(n * 2, 1 << 20)
                    elif took > budget / 2 and n > 16:
                        n //= 2
                    if done or t + took >= end:
                        break
                self.longest_step = max(self.longest_step, clock() - start)
                if done:
                    break
                await trio.lowlevel.checkpoint()
            start = clock()
            changes = staged.commit()
            self.longest_step = max(self.longest_step, clock() - start)
        self.staged_batches += 1
        return changes

    def _merge_queued(
        self, updates: Sequence[RowUpdate]
    ) -> tuple[Sequence[RowUpdate], int, UpdateBatch | None]:
        """``updates`` followed by those of the change batches already queued behind it.

        Several server transactions are then applied as one (their net change, as
        ovsdb-server itself merges the transactions of a client that falls behind into
        one update): each is still applied whole, and in order. Stops before an
        initial batch (a resync) and before reaching :attr:`stage_threshold` updates.
        Returns the updates, the number of batches they hold, and a batch taken from
        the queue but not merged (to apply next), if any.
        """
        mon = self.monitor
        merged: list[RowUpdate] | None = None
        count = 1
        limit = self.stage_threshold
        total = len(updates)
        while True:
            try:
                nxt = mon.next_batch_nowait()
            except trio.EndOfChannel:
                nxt = None  # the next call to the monitor ends the loop
            if nxt is None:
                break
            if nxt.initial or total + len(nxt.updates) >= limit:
                return merged if merged is not None else updates, count, nxt
            if merged is None:
                merged = list(updates)
            merged += nxt.updates
            total += len(nxt.updates)
            count += 1
        return merged if merged is not None else updates, count, None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Apply batches until the monitor ends; started() after the initial copy."""
        started = False
        mon = self.monitor
        mon.sink = self._take
        held: UpdateBatch | None = None  # taken from the queue, not merged: next
        try:
            while True:
                # Batches already queued are taken without a checkpoint each: under a
                # stream of small updates, one task switch per update is what limited
                # the rate at which the replica kept up with the server.
                if held is not None:
                    batch, held = held, None
                else:
                    queued = mon.next_batch_nowait()
                    if queued is None:
                        self._idle = started  # small batches are applied on arrival
                        batch = await mon.next_batch()
                    else:
                        batch = queued
                    del queued
                self._idle = False
                if self._take_error is not None:
                    raise self._take_error
                if batch.initial and started:
                    self.resyncs += 1
                updates: Sequence[RowUpdate] = batch.updates
                initial = batch.initial
                del batch  # the updates are freed as soon as the replica is done with them
                count = 1
                if not initial and len(updates) < self.stage_threshold:
                    updates, count, held = self._merge_queued(updates)
                staged_big = len(updates) >= _TRIM_AFTER
                if len(updates) >= self.stage_threshold:
                    # A list of our own, so the staged apply may drop each update once
                    # its row is built (the batch's tuple goes away with this).
                    updates = list(updates)
                    changes = await self._apply_staged(updates, initial)
                elif initial:
                    changes = self.replica.reset(updates)
                else:
                    changes = self.replica.apply(updates)
                del updates
                if len(changes) >= _PUBLISH_SLICE:
                    await self._publish_in_slices(changes)
                    self.transactions += count - 1
                else:
                    self._publish(changes, count)
                del changes
                if staged_big:
                    _return_free_memory()
                if not started:
                    started = True
                    task_status.started()
        except trio.EndOfChannel:
            pass
        finally:
            self._idle = False
            if mon.sink == self._take:
                mon.sink = None
            for sub in self._subs:
                sub._send.close()
            self._ended = True
            self._wake()


@final
class _AnyChange:
    """Wakes one task when any of several live replicas applies a transaction or ends.

    One task waiting on one event, instead of a task per replica and a cancel scope
    around them: the sync engine's loop waits here between passes, and that wake-up
    is on the path of every change it relays (docs/performance.md, "One added route").
    The replicas hold it weakly: it goes away with its owner.
    """

    __slots__ = ("__weakref__", "_event", "replicas")

    def __init__(self, replicas: Sequence[LiveReplica]) -> None:
        self.replicas = tuple(replicas)
        self._event = trio.Event()
        for live in self.replicas:
            live._watches.add(self)

    def poke(self) -> None:
        """Wake the task in :meth:`wait` (if any)."""
        event, self._event = self._event, trio.Event()
        event.set()

    async def wait(self) -> None:
        """Return at the next :meth:`poke` (any of the replicas changing or ending).

        Raises :class:`~ovsdb_ic.errors.ConnectionClosedError` at once when one of the
        replicas has ended (as :meth:`LiveReplica.wait_for` does). Check what you wait
        for before each call: a change before the call does not count.
        """
        for live in self.replicas:
            if live._ended:
                await trio.lowlevel.checkpoint_if_cancelled()
                raise live._ended_error()
        await self._event.wait()


def watch_any(replicas: Sequence[LiveReplica]) -> _AnyChange:
    """A watch woken whenever any of ``replicas`` changes or ends (see :class:`_AnyChange`)."""
    return _AnyChange(replicas)
