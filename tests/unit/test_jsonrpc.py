"""The JSON-RPC Connection state machine, without any server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ovsdb_ic.errors import FramingError, LocalProtocolError, RemoteProtocolError
from ovsdb_ic.wire.jsonrpc import (
    NEED_DATA,
    Connection,
    ErrorResponse,
    Notification,
    Request,
    Response,
    parse_message,
    serialize,
)


def _events(conn: Connection) -> list[Any]:
    out = []
    while (ev := conn.next_event()) is not NEED_DATA:
        out.append(ev)
    return out


def test_request_ids_count_up_and_match_responses() -> None:
    conn = Connection()
    a, data_a = conn.send_request("list_dbs", [])
    b, _ = conn.send_request("get_schema", ["OVN_IC_Southbound"])
    assert (a, b) == (1, 2)
    assert json.loads(data_a) == {"method": "list_dbs", "params": [], "id": 1}
    assert conn.pending == {1, 2}
    conn.receive_data(b'{"id":2,"result":{"name":"x"},"error":null}{"id":1,"result":["d"],')
    assert _events(conn) == [Response(2, {"name": "x"}, "get_schema")]
    conn.receive_data(b'"error":null}')
    assert _events(conn) == [Response(1, ["d"], "list_dbs")]
    assert conn.pending == frozenset()


def test_error_response_carries_method_and_error() -> None:
    conn = Connection()
    rid, _ = conn.send_request("transact", ["nope"])
    conn.receive_data(json.dumps({"id": rid, "result": None, "error": "unknown database"}).encode())
    assert _events(conn) == [ErrorResponse(rid, "unknown database", "transact")]


def test_echo_is_answered_automatically_and_not_surfaced() -> None:
    conn = Connection()
    conn.receive_data(b'{"id":"echo","method":"echo","params":["x",1]}')
    conn.receive_data(b'{"id":null,"method":"update2","params":["m",{}]}')
    assert _events(conn) == [Notification("update2", ["m", {}])]
    assert json.loads(conn.data_to_send()) == {"id": "echo", "result": ["x", 1], "error": None}
    assert conn.data_to_send() == b""
    assert conn.echo_requests_answered == 1


def test_other_requests_from_the_peer_are_surfaced() -> None:
    conn = Connection()
    conn.receive_data(b'{"id":5,"method":"locked","params":["ovn_ic"]}')
    assert _events(conn) == [Request("locked", ["ovn_ic"], 5)]
    assert json.loads(conn.send_response(5, {})) == {"id": 5, "result": {}, "error": None}


def test_abandoned_request_response_is_dropped_but_unknown_id_is_an_error() -> None:
    conn = Connection()
    rid, _ = conn.send_request("transact", ["db"])
    conn.abandon(rid)
    conn.abandon(rid)  # idempotent
    assert conn.pending == frozenset()
    conn.receive_data(json.dumps({"id": rid, "result": [], "error": None}).encode())
    assert _events(conn) == []
    assert conn.late_responses_dropped == 1
    conn.receive_data(b'{"id":99,"result":[],"error":null}')
    with pytest.raises(RemoteProtocolError, match="unknown request id 99"):
        conn.next_event()


@pytest.mark.parametrize(
    "msg",
    [
        [1, 2],
        {"method": 3, "params": []},
        {"method": "x", "params": {}},
        {"method": "x", "params": [], "result": 1},
        {"id": 1},
        {"result": 1},
        {"foo": "bar"},
    ],
)
def test_malformed_messages_are_remote_protocol_errors(msg: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_message(msg)


def test_eof_mid_message_and_after_close() -> None:
    conn = Connection()
    conn.receive_data(b'{"id":1,')
    with pytest.raises(FramingError):
        conn.receive_data(b"")
    assert conn.closed
    with pytest.raises(LocalProtocolError):
        conn.send_request("echo", [])


def test_serialize_round_trips_through_parse() -> None:
    for msg in [Request("m", [1], 3), Notification("n", []), Response(4, {"a": 1}),
                ErrorResponse(5, "boom")]:
        assert parse_message(json.loads(serialize(msg))) == msg


class ConnectionMachine(RuleBasedStateMachine):
    """Requests answered in any order, abandoned, with echoes and notifications mixed in."""

    def __init__(self) -> None:
        super().__init__()
        self.conn = Connection()
        self.pending: dict[int, str] = {}
        self.awaiting: set[int] = set()  # ids the connection still holds as pending
        self.abandoned: set[int] = set()
        self.inbox = bytearray()
        self.expected: list[Any] = []
        self.echoes = 0
        self.dropped = 0

    @rule(method=st.sampled_from(["transact", "get_schema", "echo", "monitor_cond"]))
    def request(self, method: str) -> None:
        rid, data = self.conn.send_request(method, [])
        assert json.loads(data)["id"] == rid
        assert rid not in self.pending and rid not in self.abandoned
        self.pending[rid] = method
        self.awaiting.add(rid)

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), error=st.booleans())
    def respond(self, data: st.DataObject, error: bool) -> None:
        rid = data.draw(st.sampled_from(sorted(self.pending)))
        method = self.pending.pop(rid)
        if error:
            self.inbox += json.dumps({"id": rid, "result": None, "error": "e"}).encode()
            self.expected.append(ErrorResponse(rid, "e", method))
        else:
            self.inbox += json.dumps({"id": rid, "result": [rid], "error": None}).encode()
            self.expected.append(Response(rid, [rid], method))

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), answered=st.booleans())
    def abandon(self, data: st.DataObject, answered: bool) -> None:
        rid = data.draw(st.sampled_from(sorted(self.pending)))
        del self.pending[rid]
        self.awaiting.discard(rid)
        self.conn.abandon(rid)
        if answered:  # the response still arrives later and must be dropped
            self.inbox += json.dumps({"id": rid, "result": 0, "error": None}).encode()
            self.dropped += 1

    @rule()
    def server_echo(self) -> None:
        self.inbox += b'{"id":"echo","method":"echo","params":[]}'
        self.echoes += 1

    @rule(n=st.integers(0, 3))
    def notification(self, n: int) -> None:
        self.inbox += json.dumps({"id": None, "method": "update3", "params": [n]}).encode()
        self.expected.append(Notification("update3", [n]))

    @rule(cut=st.integers(0, 200))
    def deliver(self, cut: int) -> None:
        chunk, self.inbox = bytes(self.inbox[:cut]), self.inbox[cut:]
        if chunk:
            self.conn.receive_data(chunk)
        got = _events(self.conn)
        assert got == self.expected[: len(got)]
        del self.expected[: len(got)]
        for ev in got:
            if isinstance(ev, Response | ErrorResponse):
                self.awaiting.discard(ev.id)

    @invariant()
    def pending_matches(self) -> None:
        assert self.conn.pending == frozenset(self.awaiting)

    def teardown(self) -> None:
        if self.inbox:
            self.conn.receive_data(bytes(self.inbox))
        assert _events(self.conn) == self.expected
        assert self.conn.echo_requests_answered == self.echoes
        assert self.conn.late_responses_dropped == self.dropped
        assert self.conn.data_to_send().count(b'"id":"echo"') == self.echoes


TestConnectionMachine = ConnectionMachine.TestCase
TestConnectionMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
