"""Live monitors and locks on top of a :class:`~ovsdb_ic.client.session.Session`.

A :class:`Monitor` yields :class:`UpdateBatch` objects, one per server
transaction, in the order the server sent them: first the initial contents
(``batch.initial``), then the changes. With ``monitor_cond_since`` (the
default) it remembers the last transaction id it saw (``last_txn_id``).

Slow consumers: batches queue without bound (the reader must never wait, or
the server's inactivity probe would go unanswered and the server would drop
the connection). :attr:`Monitor.backlog` tells how far behind a consumer is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, final

import attrs
import trio

from ovsdb_ic.errors import ConnectionClosedError, RemoteProtocolError
from ovsdb_ic.replica import gc_paused
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr
from ovsdb_ic.wire.monitor import (
    ZERO_TXN_ID,
    MonitorRequest,
    RowUpdate,
    TableDecoder,
    decode_cond_since_reply,
    decode_update,
    decode_update2,
    decode_update3_params,
    monitor_cond_change_params,
    monitor_params,
    row_count,
    split_cond_since_reply,
    take_table_updates,
)
from ovsdb_ic.wire.schema import DatabaseSchema

__all__ = ["Lock", "Monitor", "MonitorMethod", "UpdateBatch"]

MonitorMethod = Literal["monitor", "monitor_cond", "monitor_cond_since"]


@attrs.frozen(repr=False, eq=False)
class UpdateBatch:
    """The row changes of one server transaction.

    ``initial`` marks the monitor's initial contents (or a full resync: after
    one, rows not in it are gone). ``found`` is the ``monitor_cond_since`` answer
    for the initial batch (True: only changes since ``last_txn_id`` follow).
    """

    updates: tuple[RowUpdate, ...]
    initial: bool = False
    last_txn_id: str | None = None
    found: bool | None = None
    raw: Any = None
    """For a monitor started with ``raw_reply``: the reply's ``<table-updates2>`` (or
    v1 ``<table-updates>``) as parsed, not decoded nor checked (``updates`` is empty)."""

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


@final
class Monitor:
    """A monitor's stream of :class:`UpdateBatch` (async-iterate it)."""

    def __init__(
        self,
        monitor_id: str,
        schema: DatabaseSchema,
        requests: Sequence[MonitorRequest],
        method: MonitorMethod,
        last_txn_id: str = ZERO_TXN_ID,
        *,
        raw_reply: bool = False,
    ) -> None:
        """Create the monitor state; :meth:`Client.monitor` does this for you."""
        self.id = monitor_id
        self.raw_reply = raw_reply
        self.schema = schema
        self.requests = tuple(requests)
        self.method: MonitorMethod = method
        self.last_txn_id = last_txn_id
        self.columns = {r.table: r.columns for r in self.requests if r.columns is not None}
        self._decoders: dict[str, TableDecoder] = {}
        self._send, self._recv = trio.open_memory_channel[UpdateBatch](math.inf)
        self.batches_received = 0
        """Batches delivered so far (initial ones included)."""
        self.closed_by: BaseException | None = None
        """Why the stream ended, when the client closed it (its connection's error);
        None while it runs and when the monitor was cancelled."""
        self.last_found: bool | None = None
        """The ``found`` answer of the last ``monitor_cond_since`` reply."""
        self.sink: Callable[[UpdateBatch], bool] | None = None
        """Offered every batch, in order, before it is queued; when it returns True the
        batch was consumed there and then (a :class:`~ovsdb_ic.client.live.LiveReplica`
        applies small batches this way while it has nothing queued)."""

    @property
    def backlog(self) -> int:
        """Batches received but not yet consumed."""
        return self._recv.statistics().current_buffer_used

    def params(self) -> list[Any]:
        """The params of the monitor request (resuming from :attr:`last_txn_id`)."""
        return monitor_params(self.schema, self.id, self.requests, method=self.method,
                              last_txn_id=self.last_txn_id)

    def _decode(self, updates: Any) -> list[RowUpdate]:
        cols = self._columns()
        if self.method == "monitor":
            return decode_update(self.schema, updates, columns=cols, decoders=self._decoders)
        return decode_update2(self.schema, updates, columns=cols, decoders=self._decoders)

    def _deliver(self, batch: UpdateBatch) -> None:
        self.batches_received += 1
        sink = self.sink
        if sink is None or not sink(batch):
            self._send.send_nowait(batch)

    def handle_reply(self, result: Any) -> None:
        """Deliver the monitor request's reply as the initial batch."""
        if self.raw_reply:
            self._deliver_raw(result)
        elif self.method == "monitor_cond_since":
            found, txn, updates = decode_cond_since_reply(
                self.schema, result, decoders=self._decoders, columns=self._columns(),
            )
            self._deliver_reply(updates, found, txn)
        elif self.method == "monitor":
            self._deliver_reply(
                decode_update(self.schema, result, initial=True, decoders=self._decoders))
        else:
            self._deliver_reply(self._decode(result))

    async def handle_reply_async(self, result: Any, *, rows_per_part: int = 5000) -> None:
        """:meth:`handle_reply`, decoding a big reply in parts with checkpoints between
        them, so a 200,000-row initial copy does not hold up the event loop.

        The parts' rows are taken out of the parsed reply as they are decoded, so the
        parsed JSON shrinks while the decoded rows grow (a lower peak of memory).
        """
        if self.raw_reply:
            self._deliver_raw(result)
            return
        found: bool | None = None
        txn: str | None = None
        table_updates = result
        if self.method == "monitor_cond_since":
            found, txn, table_updates = split_cond_since_reply(result)
        if self.method == "monitor" or row_count(table_updates) < 2 * rows_per_part:
            self.handle_reply(result)
            return
        updates: list[RowUpdate] = []
        with gc_paused():
            for part in take_table_updates(table_updates, rows_per_part):
                updates.extend(decode_update2(self.schema, part, columns=self._columns(),
                                              decoders=self._decoders))
                del part
                await trio.lowlevel.checkpoint()
        self._deliver_reply(updates, found, txn)

    def _columns(self) -> dict[str, tuple[str, ...]] | None:
        return {t: c for t, c in self.columns.items() if c is not None} or None

    def _deliver_raw(self, result: Any) -> None:
        """Deliver a reply undecoded (``raw_reply``): only its outer shape is checked."""
        if self.method == "monitor_cond_since":
            found, txn, table_updates = split_cond_since_reply(result)
            self.last_txn_id = txn
            self.last_found = found
            self._deliver(UpdateBatch((), initial=not found, last_txn_id=txn, found=found,
                                      raw=table_updates))
        else:
            self._deliver(UpdateBatch((), initial=True, raw=result))

    def _deliver_reply(self, updates: Sequence[RowUpdate], found: bool | None = None,
                       txn: str | None = None) -> None:
        """Deliver a monitor reply's updates: an initial batch, or (``found``) only the
        changes since ``txn``."""
        if txn is not None:
            self.last_txn_id = txn
            self.last_found = found
            self._deliver(UpdateBatch(tuple(updates), initial=not found, last_txn_id=txn,
                                      found=found))
        else:
            self._deliver(UpdateBatch(tuple(updates), initial=True))

    def handle_notification(self, method: str, params: list[Any]) -> None:
        """Deliver an update/update2/update3 notification."""
        if method == "update3":
            _, txn, updates = decode_update3_params(self.schema, params,
                                                    decoders=self._decoders)
            self.last_txn_id = txn
            self._deliver(UpdateBatch(tuple(updates), last_txn_id=txn))
            return
        if len(params) != 2:
            raise RemoteProtocolError(f"{method} params must be [monitor-id, updates]")
        self._deliver(UpdateBatch(tuple(self._decode(params[1]))))

    def change_params(self, new_id: str, changes: Sequence[MonitorRequest]) -> list[Any]:
        """The params of monitor_cond_change to ``changes``."""
        return monitor_cond_change_params(self.schema, self.id, new_id, changes)

    def close(self, error: BaseException | None = None) -> None:
        """End the stream (iteration stops after the queued batches); ``error``: why
        (kept in :attr:`closed_by`)."""
        if error is not None and self.closed_by is None:
            self.closed_by = error
        self._send.close()

    def __aiter__(self) -> Monitor:
        """Iterate batches."""
        return self

    async def __anext__(self) -> UpdateBatch:
        """The next batch; stops when the monitor is cancelled or the client closes."""
        try:
            return await self._recv.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    async def next_batch(self) -> UpdateBatch:
        """The next batch (raises trio.EndOfChannel when the monitor ended)."""
        return await self._recv.receive()

    def next_batch_nowait(self) -> UpdateBatch | None:
        """The next batch if one is already queued, else None (no checkpoint).

        Raises trio.EndOfChannel when the monitor ended and nothing is queued.
        """
        try:
            return self._recv.receive_nowait()
        except trio.WouldBlock:
            return None


@final
class Lock:
    """An OVSDB lock (``lock``/``steal``/``unlock``) and its notifications.

    ``held`` tells whether this client owns the lock now; :meth:`wait_acquired`
    returns once it does; :attr:`stolen` counts how often another client stole it.
    """

    def __init__(self, name: str) -> None:
        """State for lock ``name``; :meth:`Client.lock` creates it."""
        self.name = name
        self.held = False
        self.stolen = 0
        self._acquired = trio.Event()
        self._lost = trio.Event()
        self.closed_by: BaseException | None = None
        """Why the client closed, once it has: the lock is then gone for good."""

    def _set_held(self) -> None:
        self.held = True
        self._acquired.set()
        self._lost = trio.Event()

    def _set_stolen(self) -> None:
        self.held = False
        self.stolen += 1
        self._acquired = trio.Event()
        self._lost.set()

    def _set_lost(self) -> None:
        """The connection holding the lock is gone (the client asks again on the next)."""
        if self.held:
            self.held = False
            self._acquired = trio.Event()
            self._lost.set()

    def _close(self, error: BaseException) -> None:
        """The client closed: the lock is gone and will not come back."""
        if self.closed_by is None:
            self.closed_by = error
        self.held = False
        self._acquired.set()
        self._lost.set()

    async def wait_acquired(self) -> None:
        """Wait until this client holds the lock.

        Raises :class:`~ovsdb_ic.errors.ConnectionClosedError` when the client closes
        first (e.g. a lost connection without ``reconnect``)."""
        while not self.held:
            if self.closed_by is not None:
                await trio.lowlevel.checkpoint_if_cancelled()
                error = ConnectionClosedError(
                    f"lock {self.name}: its client closed ({self.closed_by})")
                error.__cause__ = self.closed_by
                raise error
            await self._acquired.wait()

    async def wait_lost(self) -> None:
        """Wait until the lock is stolen from this client (or lost with its client)."""
        await self._lost.wait()
