"""The sans-IO OVSDB protocol core: no sockets, no trio, no clocks.

Modules, bottom up:

* :mod:`~ovsdb_ic.wire.framing`: byte stream -> JSON values (:class:`JsonFramer`);
* :mod:`~ovsdb_ic.wire.jsonrpc`: JSON-RPC 1.0 messages and the :class:`Connection`
  state machine (ids, matching, automatic echo replies);
* :mod:`~ovsdb_ic.wire.schema`: schemas as typed objects (:func:`parse_schema`);
* :mod:`~ovsdb_ic.wire.data`: atoms and datums, validation, update2 diffs;
* :mod:`~ovsdb_ic.wire.ops`: operations, conditions, mutations, results;
* :mod:`~ovsdb_ic.wire.monitor`: monitor requests and update/update2/update3 decoding.
"""

from ovsdb_ic.wire import ops
from ovsdb_ic.wire.data import NamedUUID, datum_from_json, datum_to_json
from ovsdb_ic.wire.framing import JsonFramer
from ovsdb_ic.wire.jsonrpc import (
    NEED_DATA,
    Connection,
    ErrorResponse,
    Notification,
    Request,
    Response,
)
from ovsdb_ic.wire.monitor import (
    ZERO_TXN_ID,
    MonitorRequest,
    RowUpdate,
    decode_cond_since_reply,
    decode_update,
    decode_update2,
    monitor_params,
)
from ovsdb_ic.wire.ops import Condition, Mutation, OpResult, decode_transact_result
from ovsdb_ic.wire.schema import DatabaseSchema, parse_schema

__all__ = [
    "NEED_DATA",
    "ZERO_TXN_ID",
    "Condition",
    "Connection",
    "DatabaseSchema",
    "ErrorResponse",
    "JsonFramer",
    "MonitorRequest",
    "Mutation",
    "NamedUUID",
    "Notification",
    "OpResult",
    "Request",
    "Response",
    "RowUpdate",
    "datum_from_json",
    "datum_to_json",
    "decode_cond_since_reply",
    "decode_transact_result",
    "decode_update",
    "decode_update2",
    "monitor_params",
    "ops",
    "parse_schema",
]
