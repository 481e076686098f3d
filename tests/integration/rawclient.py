"""A minimal blocking OVSDB client over a raw socket, driven by the sans-IO core.

Test helper only: it shows that :mod:`ovsdb_ic.wire` is enough to talk to a
real ovsdb-server with nothing but ``socket``.

Every byte goes through :class:`~ovsdb_ic.wire.jsonrpc.Connection`: requests
get their ids from it, responses are matched by it, and the server's ``echo``
requests are answered by it (the replies it queues are written out before the
client blocks on the socket again, so a client that is only waiting still
answers the server's inactivity probes).
"""

from __future__ import annotations

import select
import socket
import time
from typing import Any

from ovsdb_ic.errors import RpcError
from ovsdb_ic.wire.jsonrpc import (
    NEED_DATA,
    Connection,
    ErrorResponse,
    Notification,
    Request,
    Response,
)


def open_socket(remote: str, timeout: float = 10.0) -> socket.socket:
    """Connect to ``unix:PATH`` or ``tcp:HOST:PORT``."""
    kind, _, rest = remote.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(rest)
    elif kind == "tcp":
        host, _, port = rest.rpartition(":")
        s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    else:
        raise ValueError(f"unsupported remote {remote!r}")
    return s


class RawClient:
    """Blocking request/response over one socket; notifications are queued.

    ``chunk`` is the most bytes read per ``recv`` (1 feeds the sans-IO core a
    byte at a time). ``timeout`` bounds every blocking wait, in seconds.
    """

    def __init__(self, remote: str, *, chunk: int = 65536, timeout: float = 10.0) -> None:
        self.sock = open_socket(remote, timeout)
        self.conn = Connection()
        self.notifications: list[Notification] = []
        self.responses: dict[int, Response | ErrorResponse] = {}
        self.requests: list[Request] = []
        self.chunk = chunk
        self.timeout = timeout
        self.bytes_received = 0
        self.closed_by_peer = False

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _flush(self) -> None:
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def _pump(self, timeout: float | None = None) -> bool:
        """Write queued bytes, then read once; False if nothing came within ``timeout``."""
        self._flush()
        wait = self.timeout if timeout is None else timeout
        readable, _, _ = select.select([self.sock], [], [], max(wait, 0.0))
        if not readable:
            if timeout is None:
                raise TimeoutError(f"nothing received within {wait}s")
            return False
        data = self.sock.recv(self.chunk)
        if not data:
            self.closed_by_peer = True
            self.conn.receive_eof()
            raise ConnectionError("server closed the connection")
        self.bytes_received += len(data)
        self.conn.receive_data(data)
        return True

    def _dispatch_one(self) -> bool:
        """Take one event from the connection; False when it needs data."""
        ev = self.conn.next_event()
        if ev is NEED_DATA:
            self._flush()
            return False
        if isinstance(ev, Notification):
            self.notifications.append(ev)
        elif isinstance(ev, Response | ErrorResponse):
            self.responses[ev.id] = ev
        else:
            assert isinstance(ev, Request)
            self.requests.append(ev)
        return True

    # ------------------------------------------------------------------ requests

    def send(self, method: str, params: list[Any]) -> int:
        """Send a request without waiting; return its id (see :meth:`result`)."""
        rid, data = self.conn.send_request(method, params)
        self.sock.sendall(data)
        return rid

    def response(self, rid: int) -> Response | ErrorResponse:
        """Wait for the response to request ``rid`` (events before it are queued)."""
        deadline = time.monotonic() + self.timeout
        while rid not in self.responses:
            if not self._dispatch_one():
                left = deadline - time.monotonic()
                if left <= 0 or not self._pump(left):
                    raise TimeoutError(f"no response to request {rid} within {self.timeout}s")
        return self.responses.pop(rid)

    def result(self, rid: int) -> Any:
        """The result of request ``rid``; raise :class:`RpcError` for an error response."""
        resp = self.response(rid)
        if isinstance(resp, ErrorResponse):
            raise RpcError(resp.method or "?", resp.error)
        return resp.result

    def call(self, method: str, params: list[Any]) -> Any:
        """Send a request and wait for its result."""
        return self.result(self.send(method, params))

    # ------------------------------------------------------------- notifications

    def wait_notification(self, timeout: float | None = None) -> Notification:
        """The oldest queued notification, waiting (at most ``timeout``) for one."""
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while not self.notifications:
            if not self._dispatch_one():
                left = deadline - time.monotonic()
                if left <= 0 or not self._pump(left):
                    raise TimeoutError(f"no notification within {wait}s")
        return self.notifications.pop(0)

    def idle(self, seconds: float) -> None:
        """Process incoming traffic for ``seconds`` (answering echo, queueing the rest)."""
        deadline = time.monotonic() + seconds
        while True:
            while self._dispatch_one():
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._pump(left)
