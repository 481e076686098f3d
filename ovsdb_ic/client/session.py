"""One OVSDB connection under trio: concurrent requests, echo, inactivity probe.

:class:`Session` wraps the sans-IO :class:`~ovsdb_ic.wire.jsonrpc.Connection`
around a trio stream. Three tasks run while the session is open (start it
with ``await nursery.start(session.run)``):

* the reader feeds every received byte to the connection, hands responses to
  their waiting callers and notifications to :attr:`Session.notifications`,
  and queues answers to the server's ``echo`` at once, so the server's
  inactivity probe is answered even while the caller is busy with a large
  update (the reader never waits for a consumer);
* the writer sends what could not be written at once, one message at a time,
  so a caller cancelled in the middle of a request can never leave half a
  message on the wire;
* the prober sends an ``echo`` after ``probe_interval`` seconds of silence and
  fails the session with :class:`~ovsdb_ic.errors.InactivityTimeoutError` when
  nothing at all arrives for another interval (a hung or stopped server).

A caller cancelled while waiting abandons its request id: a late answer is
dropped, never delivered to someone else.

The round trip of a request takes two task switches on a socket stream (TCP
or unix): the caller writes its request itself when nothing is queued before
it (a non-blocking write of the whole message; whatever the socket does not
take is handed to the writer, which finishes it), the reader waits for the
socket to become readable and reads it directly, and it wakes the waiting
caller with the answer. Streams without a socket (SSL, test streams) go
through the writer and ``receive_some``.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable
from typing import Any, TypeAlias

import attrs
import trio

from ovsdb_ic.errors import (
    ConnectionClosedError,
    InactivityTimeoutError,
    LocalProtocolError,
    OvsdbError,
    RequestNotSentError,
    RpcError,
)
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr
from ovsdb_ic.wire.framing import DEFAULT_MAX_MESSAGE_SIZE
from ovsdb_ic.wire.jsonrpc import (
    NEED_DATA,
    Connection,
    ErrorResponse,
    Notification,
    Request,
    Response,
)

__all__ = ["Inbound", "OrderedResponse", "Session"]

_RECV_SIZE = 1 << 18


@attrs.frozen(repr=False, eq=False)
class OrderedResponse:
    """A response to a request sent with ``ordered=tag``, in stream order."""

    tag: Any
    response: Response | ErrorResponse

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


Inbound: TypeAlias = "Notification | Request | OrderedResponse"
"""What the reader hands on: notifications, requests from the server (other than
echo), and responses to requests sent with ``ordered``."""


class _Slot:
    """A pending request: the waiting task (until woken) and the outcome."""

    __slots__ = ("outcome", "task")

    def __init__(self, task: trio.lowlevel.Task) -> None:
        self.task: trio.lowlevel.Task | None = task
        self.outcome: Response | ErrorResponse | BaseException | None = None

    # Both run inside trio's scheduling (resolve reschedules a task, abort is the
    # abort function of its wait), so a KeyboardInterrupt must not land half-way
    # through them: as trio's own Event does, they are KI-protected.
    @trio.lowlevel.enable_ki_protection
    def resolve(self, outcome: Response | ErrorResponse | BaseException) -> None:
        """Record the outcome and wake the caller (once)."""
        self.outcome = outcome
        task = self.task
        if task is not None:
            self.task = None
            trio.lowlevel.reschedule(task)

    @trio.lowlevel.enable_ki_protection
    def abort(self, _raise_cancel: Any) -> trio.lowlevel.Abort:
        """The caller was cancelled while waiting: nobody is to be woken."""
        self.task = None
        return trio.lowlevel.Abort.SUCCEEDED


def _socket_fd(stream: trio.abc.Stream) -> int | None:
    """The file descriptor of a socket stream (written and read directly), else None."""
    if os.name == "posix" and isinstance(stream, trio.SocketStream):
        fd = stream.socket.fileno()
        return fd if fd >= 0 else None
    return None


class Session:
    """A JSON-RPC session over one trio stream (see the module docstring)."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        name: str = "",
        probe_interval: float | None = 5.0,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        """Wrap ``stream``; ``probe_interval`` ``None`` disables the probe."""
        if probe_interval is not None and probe_interval <= 0:
            raise ValueError("probe_interval must be positive or None")
        self.name = name
        self._stream = stream
        self._fd = _socket_fd(stream)
        self._conn = Connection(max_message_size=max_message_size)
        self._probe = probe_interval
        self._probe_scope: trio.CancelScope | None = None
        self._slots: dict[int, _Slot] = {}
        self._ordered: dict[int, object] = {}
        # What the writer task is to send, in order; while it is empty and the
        # writer is not in the middle of a message, _queue writes directly.
        self._outbox: deque[tuple[int, bytes | memoryview]] = deque()
        self._outbox_lot = trio.lowlevel.ParkingLot()
        self._sending = False
        # Messages are numbered as queued; the number of the last one whose
        # writing started is recorded, so a failed request knows whether the
        # server can have seen it.
        self._queued = 0
        self._writing = 0
        notif_send, self.notifications = trio.open_memory_channel[Inbound](math.inf)
        self._notif_send = notif_send
        self.handler: Callable[[Inbound], bool] | None = None
        """Called by the reader with every message it hands on, in stream order, before
        it is put on :attr:`notifications`: when it returns True the message was
        dealt with there and then, and is not queued. It must not block; what it
        raises ends the session."""
        self._closed: BaseException | None = None
        self._last_rx = 0.0
        self._cancel = trio.CancelScope()
        self.bytes_received = 0
        """Bytes received so far."""

    @property
    def closed(self) -> bool:
        """True once the session has ended (closed, failed or timed out), or is ending
        because the peer closed its side."""
        return self._closed is not None or self._conn.closed

    @property
    def connection(self) -> Connection:
        """The underlying sans-IO connection (for statistics such as echo counts)."""
        return self._conn

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the reader, writer and prober until the session ends.

        Returns normally after :meth:`aclose`; raises
        :class:`~ovsdb_ic.errors.ConnectionClosedError`,
        :class:`~ovsdb_ic.errors.InactivityTimeoutError` or a protocol error
        when the connection fails. Waiting callers get the same error.
        """
        self._last_rx = trio.current_time()
        error: BaseException | None = None
        try:
            with self._cancel:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer)
                    nursery.start_soon(self._prober)
                    task_status.started()
                    await self._reader()
                    nursery.cancel_scope.cancel()
        except* (OvsdbError, trio.BrokenResourceError, trio.ClosedResourceError, OSError) as eg:
            error = _first(eg)
        finally:
            self._finish(error)
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(self._stream)
        if error is not None and not isinstance(error, OvsdbError):
            raise ConnectionClosedError(f"{self.name or 'connection'}: {_reason(error)}") from error
        if error is not None:
            raise error

    async def aclose(self) -> None:
        """Close the session; waiting callers get ConnectionClosedError."""
        self._finish(ConnectionClosedError(f"{self.name or 'session'} closed"))
        self._cancel.cancel()
        await trio.lowlevel.checkpoint()

    def _finish(self, error: BaseException | None) -> None:
        if error is not None and not isinstance(error, OvsdbError):
            error = ConnectionClosedError(f"{self.name or 'connection'}: {_reason(error)}")
        if self._closed is None:
            self._closed = error or ConnectionClosedError(
                f"{self.name or 'connection'} closed by the peer"
            )
        for slot in self._slots.values():
            if slot.outcome is None:
                slot.resolve(self._closed)
        self._slots.clear()
        self._notif_send.close()
        self._outbox.clear()

    async def request(self, method: str, params: list[Any], *, ordered: object = None) -> Any:
        """Send a request and wait for its result.

        Raises :class:`~ovsdb_ic.errors.RpcError` when the server answers with an
        error, :class:`~ovsdb_ic.errors.ConnectionClosedError` when the session
        ends first. Cancellation abandons the request cleanly.

        With ``ordered`` (any object but None, e.g. the monitor the request
        starts), the response is also put on :attr:`notifications` as an
        :class:`OrderedResponse` carrying that tag, in its place among the
        notifications (a monitor's reply must be applied before the updates
        that follow it).
        """
        if self._closed is not None:
            raise RequestNotSentError(f"{self.name or 'session'} is closed") from self._closed
        try:
            rid, data = self._conn.send_request(method, params)
        except LocalProtocolError as exc:  # the peer closed; the session is ending
            raise RequestNotSentError(f"{self.name or 'session'} is closing: {exc}") from exc
        slot = self._slots[rid] = _Slot(trio.lowlevel.current_task())
        if ordered is not None:
            self._ordered[rid] = ordered
        seq = self._queue(data)
        try:
            if slot.outcome is None:
                await trio.lowlevel.wait_task_rescheduled(slot.abort)
            else:  # pragma: no cover - nothing can answer before we wait
                await trio.lowlevel.checkpoint()
        finally:
            if slot.outcome is None:  # cancelled before the answer came
                self._slots.pop(rid, None)
                self._ordered.pop(rid, None)
                self._conn.abandon(rid)
        outcome = slot.outcome
        if isinstance(outcome, Response):
            return outcome.result
        if isinstance(outcome, ErrorResponse):
            raise RpcError(method, outcome.error)
        assert outcome is not None
        if seq > self._writing:
            raise RequestNotSentError(
                f"{self.name or 'connection'} ended before {method} was sent: {outcome}"
            ) from outcome
        if isinstance(outcome, InactivityTimeoutError):
            raise InactivityTimeoutError(f"{method}: {outcome}") from outcome
        raise ConnectionClosedError(
            f"{self.name or 'connection'} ended while {method} was pending: {outcome}"
        ) from outcome

    def _queue(self, data: bytes) -> int:
        """Send ``data`` (one whole message) after everything queued before it.

        Written at once when nothing is queued before it and the socket takes
        it; what is left goes to the writer task. Never waits, so a cancelled
        caller cannot leave part of a message unsent. Returns its number.
        """
        self._queued += 1
        seq = self._queued
        if self._closed is not None:
            return seq  # the session has ended: nothing more goes out
        rest: bytes | memoryview = data
        if self._fd is not None and not self._outbox and not self._sending:
            try:
                n = os.write(self._fd, data)
            except OSError:  # full (BlockingIOError) or broken: the writer decides
                n = 0
            if n:
                self._writing = seq
                if n == len(data):
                    return seq
                rest = memoryview(data)[n:]
        self._outbox.append((seq, rest))
        self._outbox_lot.unpark()
        return seq

    def send_reply(self, request: Request, result: Any) -> None:
        """Answer a request the server sent us (other than echo, which is automatic)."""
        if self._closed is None:
            self._queue(self._conn.send_response(request.id, result))

    async def _writer(self) -> None:
        outbox = self._outbox
        while True:
            if not outbox:
                await self._outbox_lot.park()
                continue
            seq, data = outbox.popleft()
            self._writing = seq
            self._sending = True
            try:
                await self._stream.send_all(data)
            finally:
                self._sending = False

    async def _reader(self) -> None:
        conn = self._conn
        fd = self._fd
        data: bytes | bytearray
        while True:
            if fd is not None:
                # Wait, then read once: one system call per message (receive_some
                # tries a read before waiting, which fails when idle).
                await trio.lowlevel.wait_readable(fd)
                try:
                    data = os.read(fd, _RECV_SIZE)
                except BlockingIOError:  # pragma: no cover - a spurious wake-up
                    continue
            else:
                data = await self._stream.receive_some(_RECV_SIZE)
            self._last_rx = trio.current_time()
            if not data:
                conn.receive_eof()
                raise ConnectionClosedError(f"{self.name or 'connection'} closed by the peer")
            self.bytes_received += len(data)
            conn.receive_data(data)
            handler = self.handler
            while (event := conn.next_event()) is not NEED_DATA:
                if isinstance(event, Response | ErrorResponse):
                    tag = self._ordered.pop(event.id, None)
                    if tag is not None:
                        ordered = OrderedResponse(tag, event)
                        if handler is None or not handler(ordered):
                            self._notif_send.send_nowait(ordered)
                    slot = self._slots.pop(event.id, None)
                    if slot is not None:
                        slot.resolve(event)
                elif isinstance(event, Notification | Request) and (
                    handler is None or not handler(event)
                ):
                    self._notif_send.send_nowait(event)
            echo = conn.data_to_send()
            if echo:
                self._queue(echo)

    def set_probe_interval(self, probe_interval: float | None) -> None:
        """Change the inactivity probe of the running session (``None``: off)."""
        if probe_interval is not None and probe_interval <= 0:
            raise ValueError("probe_interval must be positive or None")
        self._probe = probe_interval
        if self._probe_scope is not None:
            self._probe_scope.cancel()  # the prober starts over with the new interval

    async def _prober(self) -> None:
        while True:
            with trio.CancelScope() as scope:
                self._probe_scope = scope
                if self._probe is None:
                    await trio.sleep_forever()
                else:
                    await self._probe_loop(self._probe)

    async def _probe_loop(self, interval: float) -> None:
        while True:
            await trio.sleep_until(self._last_rx + interval)
            if trio.current_time() - self._last_rx < interval:
                continue
            # Silent for a whole interval: ask, and give it one more.
            probe_sent = trio.current_time()
            _, data = self._conn.send_request("echo", [])
            self._queue(data)
            await trio.sleep_until(probe_sent + interval)
            if self._last_rx < probe_sent:
                raise InactivityTimeoutError(
                    f"{self.name or 'peer'} sent nothing for {2 * interval:g} s"
                )


def _reason(exc: BaseException) -> str:
    """The first non-empty message along an exception's causes (trio wraps SSL errors)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if text:
            return f"{type(seen).__name__}: {text}" if seen is not exc else text
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def _first(eg: BaseExceptionGroup[BaseException]) -> BaseException:
    """The most telling error of a group (OvsdbErrors first)."""
    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for sub in e.exceptions:
                walk(sub)
        else:
            leaves.append(e)

    walk(eg)
    for e in leaves:
        if isinstance(e, OvsdbError):
            return e
    return leaves[0]
