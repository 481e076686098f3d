"""Hostile input: random, truncated and mutated bytes only raise documented errors."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import DataError, RemoteProtocolError
from ovsdb_ic.wire.jsonrpc import NEED_DATA, Connection, Notification, Response
from ovsdb_ic.wire.monitor import decode_update, decode_update2, decode_update3_params
from ovsdb_ic.wire.ops import decode_transact_result, insert
from ovsdb_ic.wire.schema import parse_schema

SCHEMA = parse_schema(
    json.loads((Path(__file__).parents[2] / "schemas" / "ovn-ic-sb.ovsschema").read_text())
)
# The documented errors for bad peer input: protocol errors (framing, bad
# JSON-RPC) and data errors (values that do not fit the schema).
DOCUMENTED = (RemoteProtocolError, DataError)

_AZ = "5a4c1f2e-6b0b-4c1e-9d59-3a1f0c6a9e11"
_ROWS = {
    f"{i:08x}-1111-2222-3333-444455556666": {
        "initial": {
            "ip_prefix": f"10.0.{i}.0/24",
            "nexthop": "169.254.100.2",
            "origin": "connected",
            "transit_switch": "ts",
            "availability_zone": ["uuid", _AZ],
            "external_ids": ["map", [["lr-id", _AZ], ["nb-id", _AZ]]],
        }
    }
    for i in range(3)
}
VALID_STREAM = b"".join(
    json.dumps(m).encode()
    for m in [
        {"id": 1, "result": {"Route": _ROWS}, "error": None},
        {"id": None, "method": "update2",
         "params": ["m", {"Route": {next(iter(_ROWS)): {"modify": {"nexthop": "1.1.1.1"}}}}]},
        {"id": None, "method": "update3",
         "params": ["m", _AZ, {"Availability_Zone": {_AZ: {"insert": {"name": "az1"}}}}]},
        {"id": "echo", "method": "echo", "params": []},
        {"id": 2, "result": [{"uuid": ["uuid", _AZ]}], "error": None},
    ]
)


def _drive(chunks: list[bytes]) -> None:
    """Feed bytes like a client would and decode everything it recognises."""
    conn = Connection(max_message_size=1 << 16)
    conn.send_request("monitor_cond", [])
    conn.send_request("transact", [])
    for chunk in chunks:
        if not chunk:
            continue  # an empty read means end of stream; that comes last
        conn.receive_data(chunk)
        while (ev := conn.next_event()) is not NEED_DATA:
            if isinstance(ev, Response) and ev.method == "monitor_cond":
                decode_update2(SCHEMA, ev.result)
            elif isinstance(ev, Response) and ev.method == "transact":
                op = insert(SCHEMA, "Availability_Zone", {"name": "x"})
                decode_transact_result(SCHEMA, [op], ev.result)
            elif isinstance(ev, Notification) and ev.method == "update2":
                decode_update2(SCHEMA, ev.params[1] if len(ev.params) > 1 else None)
            elif isinstance(ev, Notification) and ev.method == "update3":
                decode_update3_params(SCHEMA, ev.params)
    conn.receive_eof()


def _only_documented(chunks: list[bytes]) -> None:
    with contextlib.suppress(DOCUMENTED):
        _drive(chunks)


def test_the_valid_stream_decodes() -> None:
    _drive([VALID_STREAM])  # no error at all: the baseline for the mutations below


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_random_bytes(chunks: list[bytes]) -> None:
    _only_documented(chunks)


@settings(max_examples=400, deadline=2000)
@given(st.integers(0, len(VALID_STREAM)), st.integers(1, 97))
def test_truncated_valid_stream(cut: int, step: int) -> None:
    data = VALID_STREAM[:cut]
    _only_documented([data[i : i + step] for i in range(0, len(data), step)])


_REPLACEMENTS = [*list(b'{}[]",:\\ 0a-nutlf'), 0, 127, 195, 255]


@settings(max_examples=600, deadline=2000)
@given(
    st.lists(st.tuples(st.integers(0, len(VALID_STREAM) - 1),
                       st.sampled_from(_REPLACEMENTS)), min_size=1, max_size=4),
    st.integers(1, 97),
)
def test_mutated_valid_stream(edits: list[tuple[int, int]], step: int) -> None:
    data = bytearray(VALID_STREAM)
    for pos, byte in edits:
        data[pos] = byte
    _only_documented([bytes(data[i : i + step]) for i in range(0, len(data), step)])


@settings(max_examples=300, deadline=2000)
@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=8), st.sampled_from(["uuid", "set", "map", "named-uuid", _AZ])),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(
                                ["Route", "initial", "insert", "modify", "delete", "old", "new",
                                 "ip_prefix", "external_ids", "availability_zone", _AZ]),
                                inner, max_size=4)),
    max_leaves=25,
))
def test_structured_garbage_to_decoders(value: Any) -> None:
    for decode in (decode_update2, decode_update):
        with contextlib.suppress(DOCUMENTED):
            decode(SCHEMA, value)
    with contextlib.suppress(DOCUMENTED):
        decode_update3_params(SCHEMA, value)
