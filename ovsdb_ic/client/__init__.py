"""trio I/O on top of the sans-IO core: remotes, transports, sessions, ``connect()``."""

from ovsdb_ic.client.connection import Client, connect, open_stream
from ovsdb_ic.client.live import LiveReplica, Subscription
from ovsdb_ic.client.remotes import Remote, parse_remote, parse_remotes
from ovsdb_ic.client.session import Session

__all__ = [
    "Client",
    "LiveReplica",
    "Remote",
    "Session",
    "Subscription",
    "connect",
    "open_stream",
    "parse_remote",
    "parse_remotes",
]
