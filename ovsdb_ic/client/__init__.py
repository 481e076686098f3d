"""trio I/O on top of the sans-IO core: remotes, transports, sessions, ``connect()``.

* :func:`connect` and :class:`Client`: requests, transactions, monitors, locks, failover
  across a remote list (:class:`Backoff`), :meth:`Client.replicate` (a
  :class:`LiveReplica`);
* :class:`Txn`, :class:`TxnResult`: the typed transaction builder
  (``client.transaction()``, ``client.commit(txn)``, ``client.retry(build)``);
* :mod:`~ovsdb_ic.client.blocking`: the same client for threaded programs
  (``blocking.connect``);
* :func:`parse_remote`, :func:`parse_remotes`, :class:`Remote`: remote strings.

See docs/client.md.
"""

from typing import TYPE_CHECKING

from ovsdb_ic._lazy import lazy_attributes
from ovsdb_ic.client.connection import Client, connect, open_stream
from ovsdb_ic.client.failover import Backoff
from ovsdb_ic.client.live import LiveReplica, Subscription
from ovsdb_ic.client.monitor import Lock, Monitor, UpdateBatch
from ovsdb_ic.client.remotes import Remote, parse_remote, parse_remotes
from ovsdb_ic.client.session import Session
from ovsdb_ic.client.txn import Target, Txn, TxnResult

if TYPE_CHECKING:
    from ovsdb_ic.client import blocking

__all__ = [
    "Backoff",
    "Client",
    "LiveReplica",
    "Lock",
    "Monitor",
    "Remote",
    "Session",
    "Subscription",
    "Target",
    "Txn",
    "TxnResult",
    "UpdateBatch",
    "blocking",
    "connect",
    "open_stream",
    "parse_remote",
    "parse_remotes",
]


# ``blocking`` (the threaded client) is imported on first use.
__getattr__, __dir__ = lazy_attributes(
    __name__, {"blocking": "ovsdb_ic.client.blocking"}, globals())
