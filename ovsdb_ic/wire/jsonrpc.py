"""JSON-RPC 1.0 as OVSDB uses it, as a sans-IO state machine.

:class:`Connection` does no I/O. Feed it received bytes with
:meth:`~Connection.receive_data`, take events with :meth:`~Connection.next_event`
until it returns :data:`NEED_DATA`, and write out whatever
:meth:`~Connection.send_request` / :meth:`~Connection.data_to_send` return::

    conn = Connection()
    req_id, data = conn.send_request("list_dbs", [])
    sock.sendall(data)
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            sock.sendall(conn.data_to_send())   # echo replies, before blocking
            conn.receive_data(sock.recv(65536))
            continue
        ...

The server's ``echo`` requests are answered automatically: the replies are
queued for :meth:`~Connection.data_to_send` and the requests are not surfaced
as events (``echo_requests_answered`` counts them).

Message ids are allocated by the connection (integers counting up), matched
with responses, and released when the response arrives or the caller
:meth:`~Connection.abandon`\\ s the request (for example because it was
cancelled): a late response to an abandoned id is dropped silently, while a
response to an id that was never sent is a
:class:`~ovsdb_ic.errors.RemoteProtocolError`.
"""

from __future__ import annotations

from typing import Any, Final, final

import attrs

from ovsdb_ic.errors import LocalProtocolError, RemoteProtocolError
from ovsdb_ic.wire._attrs import attrs_repr
from ovsdb_ic.wire.framing import DEFAULT_MAX_MESSAGE_SIZE, JsonFramer

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - orjson is a declared dependency
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


__all__ = [
    "Request",
    "Notification",
    "Response",
    "ErrorResponse",
    "Event",
    "NEED_DATA",
    "NeedData",
    "Connection",
    "parse_message",
    "serialize",
]


@attrs.frozen(slots=True, repr=False)
class Request:
    """A request: ``method`` with ``params``, answered by a response with ``id``."""

    method: str
    params: list[Any]
    id: Any

    __repr__ = attrs_repr


@attrs.frozen(slots=True, repr=False)
class Notification:
    """A notification (a request with a null id): no response is expected."""

    method: str
    params: list[Any]

    __repr__ = attrs_repr


@attrs.frozen(slots=True, repr=False)
class Response:
    """A successful response to request ``id``, with its ``result``.

    ``method`` is the method of the request (filled in by :class:`Connection`).
    """

    id: Any
    result: Any
    method: str | None = None

    __repr__ = attrs_repr


@attrs.frozen(slots=True, repr=False)
class ErrorResponse:
    """An error response to request ``id``; ``error`` is the server's error value."""

    id: Any
    error: Any
    method: str | None = None

    __repr__ = attrs_repr


Event = Request | Notification | Response | ErrorResponse
"""Everything :meth:`Connection.next_event` can return besides NEED_DATA."""


@final
class NeedData:
    """Type of :data:`NEED_DATA`: more bytes are needed before the next event."""

    _instance: NeedData | None = None

    def __new__(cls) -> NeedData:
        """Return the single instance."""
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        """``NEED_DATA``."""
        return "NEED_DATA"


NEED_DATA: Final = NeedData()
"""Returned by :meth:`Connection.next_event` when it needs more bytes."""


def parse_message(obj: Any) -> Event:
    """Classify one decoded JSON value as a JSON-RPC 1.0 message.

    Raises :class:`~ovsdb_ic.errors.RemoteProtocolError` if it is none.
    """
    if type(obj) is not dict:
        raise RemoteProtocolError(f"a JSON-RPC message must be an object, got {obj!r:.200}")
    if "method" in obj:
        method = obj["method"]
        params = obj.get("params")
        if type(method) is not str:
            raise RemoteProtocolError(f"method must be a string: {obj!r:.200}")
        if type(params) is not list:
            raise RemoteProtocolError(f"params of {method!r} must be an array: {obj!r:.200}")
        if "result" in obj or "error" in obj:
            raise RemoteProtocolError(f"a request cannot carry result/error: {obj!r:.200}")
        mid = obj.get("id")
        if mid is None:
            return Notification(method, params)
        return Request(method, params, mid)
    if "id" not in obj or ("result" not in obj and "error" not in obj):
        raise RemoteProtocolError(f"not a request, notification or response: {obj!r:.200}")
    error = obj.get("error")
    if error is not None:
        return ErrorResponse(obj["id"], error)
    if "result" not in obj:
        raise RemoteProtocolError(f"a response needs a result: {obj!r:.200}")
    return Response(obj["id"], obj["result"])


def serialize(msg: Event) -> bytes:
    """Encode a message as JSON-RPC 1.0 bytes."""
    if isinstance(msg, Request):
        return _dumps({"method": msg.method, "params": msg.params, "id": msg.id})
    if isinstance(msg, Notification):
        return _dumps({"method": msg.method, "params": msg.params, "id": None})
    if isinstance(msg, Response):
        return _dumps({"id": msg.id, "result": msg.result, "error": None})
    return _dumps({"id": msg.id, "result": None, "error": msg.error})


class Connection:
    """The JSON-RPC side of one OVSDB connection (sans-IO).

    ``max_message_size`` bounds a single incoming message (see
    :class:`~ovsdb_ic.wire.framing.JsonFramer`).
    """

    def __init__(self, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        """Create a connection state machine with no request pending."""
        self._framer = JsonFramer(max_message_size)
        self._events: list[Any] = []
        self._event_pos = 0
        self._pending: dict[int, str] = {}
        self._abandoned: set[int] = set()
        self._next_id = 1
        self._outbox = bytearray()
        self._closed = False
        self.echo_requests_answered = 0
        """Echo requests from the peer answered automatically."""
        self.late_responses_dropped = 0
        """Responses that arrived for abandoned requests and were dropped."""

    # ---------------------------------------------------------------- sending

    def send_request(self, method: str, params: list[Any]) -> tuple[int, bytes]:
        """Allocate an id for a request; return ``(id, bytes to send)``."""
        if self._closed:
            raise LocalProtocolError("the connection is closed")
        if not isinstance(method, str) or not isinstance(params, list):
            raise LocalProtocolError("a request needs a str method and a list of params")
        rid = self._next_id
        self._next_id += 1
        data = _dumps({"method": method, "params": params, "id": rid})  # serialize(Request)
        self._pending[rid] = method
        return rid, data

    def send_notification(self, method: str, params: list[Any]) -> bytes:
        """Bytes of a notification (no response expected)."""
        if self._closed:
            raise LocalProtocolError("the connection is closed")
        return serialize(Notification(method, params))

    def send_response(self, request_id: Any, result: Any) -> bytes:
        """Bytes of a response to a request the peer sent us."""
        return serialize(Response(request_id, result))

    def data_to_send(self) -> bytes:
        """Bytes the connection wants sent (automatic echo replies); empties the queue."""
        if not self._outbox:
            return b""
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    def abandon(self, request_id: int) -> None:
        """Forget a pending request; its response, if it ever comes, is dropped.

        Idempotent; unknown ids are ignored (the response may already be in).
        """
        if self._pending.pop(request_id, None) is not None:
            self._abandoned.add(request_id)

    @property
    def pending(self) -> frozenset[int]:
        """Ids of requests sent and not yet answered (or abandoned)."""
        return frozenset(self._pending)

    # -------------------------------------------------------------- receiving

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed received bytes; an empty ``data`` means the peer closed the stream.

        Raises :class:`~ovsdb_ic.errors.FramingError` (a RemoteProtocolError) for
        bytes that are not JSON, or a message over the size limit.
        """
        if not data:
            self.receive_eof()
            return
        if self._closed:
            raise LocalProtocolError("data received after end of stream")
        values = self._framer.feed(data)
        if values:
            if self._event_pos:
                del self._events[: self._event_pos]
                self._event_pos = 0
            self._events.extend(values)

    def receive_eof(self) -> None:
        """The peer closed the stream; raise if it did so in the middle of a message."""
        self._closed = True
        self._framer.eof()

    @property
    def framer(self) -> JsonFramer:
        """The framer splitting and parsing the incoming bytes (its counters tell how
        big messages were parsed: ``pieces_parsed``, ``largest_parse``)."""
        return self._framer

    @property
    def closed(self) -> bool:
        """True once the end of the stream was received."""
        return self._closed

    def next_event(self) -> Event | NeedData:
        """The next message, or :data:`NEED_DATA`.

        Responses are matched with their requests (their ``method`` filled in);
        echo requests from the peer are answered and skipped.
        """
        events = self._events
        while self._event_pos < len(events):
            obj = events[self._event_pos]
            events[self._event_pos] = None
            self._event_pos += 1
            if (
                type(obj) is dict and "method" not in obj and "result" in obj
                and type(rid := obj.get("id")) is int
                and (method := self._pending.pop(rid, None)) is not None
            ):
                # The common case, a response to a pending request: what
                # parse_message and the matching below do, in one step.
                error = obj.get("error")
                if error is None:
                    return Response(rid, obj["result"], method)
                return ErrorResponse(rid, error, method)
            msg = parse_message(obj)
            if isinstance(msg, Request):
                if msg.method == "echo":
                    self._outbox += serialize(Response(msg.id, msg.params))
                    self.echo_requests_answered += 1
                    continue
                return msg
            if isinstance(msg, Notification):
                return msg
            rid = msg.id
            method = self._pending.pop(rid, None) if type(rid) is int else None
            if method is None:
                if type(rid) is int and rid in self._abandoned:
                    self._abandoned.discard(rid)
                    self.late_responses_dropped += 1
                    continue
                raise RemoteProtocolError(f"response to unknown request id {rid!r}")
            if isinstance(msg, Response):
                return Response(rid, msg.result, method)
            return ErrorResponse(rid, msg.error, method)
        if self._event_pos:
            events.clear()
            self._event_pos = 0
        return NEED_DATA
