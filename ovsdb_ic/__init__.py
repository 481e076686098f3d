"""ovsdb_ic: a pure-Python OVSDB library for OVN Interconnection.

The names a program usually needs, in one import::

    from ovsdb_ic import connect, Interconnection, SyncConfig, run_sync, RouteFilters

* :func:`connect`, :class:`Client`, :class:`LiveReplica`: the trio client
  (:mod:`ovsdb_ic.client`); :class:`Txn`, :class:`TxnResult` and :class:`NamedUUID`
  for typed transactions;
* :class:`Interconnection`: the IC object model over replicas (:mod:`ovsdb_ic.ic`);
* :class:`SyncConfig`, :class:`SyncEngine`, :class:`SyncStats`, :func:`run_sync`,
  :func:`run_syncs` (many AZs' engines over one shared IC pair),
  :class:`RouteFilters`: the IC sync engine (:mod:`ovsdb_ic.sync`);
* :mod:`ovsdb_ic.errors` and its root :class:`OvsdbError`.

Everything else lives in the layer packages, each exporting its public names in
``__all__``: :mod:`ovsdb_ic.wire` (the sans-IO protocol core), :mod:`ovsdb_ic.replica`,
:mod:`ovsdb_ic.models`, :mod:`ovsdb_ic.client`, :mod:`ovsdb_ic.ic`, :mod:`ovsdb_ic.sync`,
:mod:`ovsdb_ic.kubeovn`, and :mod:`ovsdb_ic.testing` (real servers for tests). See
docs/architecture.md.

``import ovsdb_ic`` stays cheap (no trio, no layer): the names above are imported on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ovsdb_ic import errors
from ovsdb_ic._lazy import lazy_attributes
from ovsdb_ic.errors import OvsdbError

if TYPE_CHECKING:
    from ovsdb_ic.client import Client, LiveReplica, connect
    from ovsdb_ic.client.txn import Txn, TxnResult
    from ovsdb_ic.ic import Interconnection
    from ovsdb_ic.sync import (
        RouteFilters,
        SyncConfig,
        SyncEngine,
        SyncStats,
        run_sync,
        run_syncs,
    )
    from ovsdb_ic.wire import NamedUUID

__all__ = [
    "Client",
    "Interconnection",
    "LiveReplica",
    "NamedUUID",
    "OvsdbError",
    "RouteFilters",
    "SyncConfig",
    "SyncEngine",
    "SyncStats",
    "Txn",
    "TxnResult",
    "__version__",
    "connect",
    "errors",
    "run_sync",
    "run_syncs",
]

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Client": "ovsdb_ic.client",
    "LiveReplica": "ovsdb_ic.client",
    "connect": "ovsdb_ic.client",
    "Txn": "ovsdb_ic.client",
    "TxnResult": "ovsdb_ic.client",
    "NamedUUID": "ovsdb_ic.wire",
    "Interconnection": "ovsdb_ic.ic",
    "RouteFilters": "ovsdb_ic.sync",
    "SyncConfig": "ovsdb_ic.sync",
    "SyncEngine": "ovsdb_ic.sync",
    "SyncStats": "ovsdb_ic.sync",
    "run_sync": "ovsdb_ic.sync",
    "run_syncs": "ovsdb_ic.sync",
}


# The re-exported names are imported on first use (keeps ``import ovsdb_ic`` cheap).
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
