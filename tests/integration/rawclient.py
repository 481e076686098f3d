"""A minimal blocking OVSDB client over a raw socket, driven by the sans-IO core.

Test helper only: it shows that :mod:`ovsdb_ic.wire` is enough to talk to a
real ovsdb-server with nothing but ``socket``.
"""

from __future__ import annotations

import socket
from typing import Any

from ovsdb_ic.errors import RpcError
from ovsdb_ic.wire.jsonrpc import (
    NEED_DATA,
    Connection,
    ErrorResponse,
    Notification,
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
    """Blocking request/response over one socket; notifications are queued."""

    def __init__(self, remote: str, *, chunk: int = 65536) -> None:
        self.sock = open_socket(remote)
        self.conn = Connection()
        self.notifications: list[Notification] = []
        self.chunk = chunk
        self.bytes_received = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pump(self) -> None:
        data = self.sock.recv(self.chunk)
        if not data:
            raise ConnectionError("server closed the connection")
        self.bytes_received += len(data)
        self.conn.receive_data(data)
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def call(self, method: str, params: list[Any]) -> Any:
        rid, data = self.conn.send_request(method, params)
        self.sock.sendall(data)
        while True:
            ev = self.conn.next_event()
            if ev is NEED_DATA:
                self._pump()
                continue
            if isinstance(ev, Notification):
                self.notifications.append(ev)
                continue
            if isinstance(ev, Response) and ev.id == rid:
                return ev.result
            if isinstance(ev, ErrorResponse) and ev.id == rid:
                raise RpcError(method, ev.error)
            raise AssertionError(f"unexpected event {ev!r}")

    def wait_notification(self) -> Notification:
        while not self.notifications:
            ev = self.conn.next_event()
            if ev is NEED_DATA:
                self._pump()
            elif isinstance(ev, Notification):
                self.notifications.append(ev)
            else:
                raise AssertionError(f"unexpected event {ev!r}")
        return self.notifications.pop(0)
