"""JsonFramer parses big values in pieces as they arrive: same values, bounded parses."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import FramingError, LocalProtocolError, MessageTooLargeError
from ovsdb_ic.wire.framing import DEFAULT_PIECE_SIZE, JsonFramer
from tests.unit.test_framing import _split

_uuid = st.uuids().map(str)
_text = st.one_of(
    st.text(alphabet=st.sampled_from('{}[]",:\\ "ab'), max_size=8),
    # Text that looks like a row member once unescaped; inside a JSON string its
    # quotes are escaped, so it must never be taken for one.
    _uuid.map(lambda u: f'{{"{u}":{{"initial":{{}}}},"{u}":{{'),
    st.characters(exclude_categories=("Cs",)),
)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), _text,
                    st.floats(allow_nan=False, allow_infinity=False))
_plain = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(_text, inner, max_size=3)),
    max_leaves=8,
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(_text, inner, max_size=3),
        # Objects keyed by UUIDs nested anywhere.
        st.dictionaries(_uuid, st.dictionaries(_text, inner, max_size=2), max_size=3),
    ),
    max_leaves=12,
)
_columns = st.dictionaries(st.sampled_from("abc"), _plain, max_size=3)
_initial = st.fixed_dictionaries({"initial": _columns})
_update = st.dictionaries(st.sampled_from(["insert", "modify", "delete", "old", "new"]),
                          st.one_of(st.none(), _columns), max_size=2)
_row = st.one_of(
    *[_initial] * 8, *[_update] * 8,
    # Now and then a row holding objects keyed by UUIDs too (not OVSDB's shape).
    st.fixed_dictionaries({"initial": st.dictionaries(st.sampled_from("abc"), _json,
                                                      max_size=2)}),
)
_tables = st.dictionaries(st.sampled_from(["Route", "Gateway", "Availability_Zone", "x"]),
                          st.dictionaries(_uuid, _row, min_size=1, max_size=12), min_size=1,
                          max_size=3)
_message = st.one_of(
    _tables.map(lambda t: {"id": 3, "result": t, "error": None}),
    _tables.map(lambda t: {"id": None, "method": "update2", "params": ["m", t]}),
    st.tuples(st.booleans(), _uuid, _tables).map(
        lambda r: {"id": 9, "result": list(r), "error": None}),
    _json.filter(lambda v: isinstance(v, dict | list)),
)


def _feed_all(chunks: list[bytes], **kw: Any) -> tuple[list[Any], JsonFramer]:
    f = JsonFramer(**kw)
    out: list[Any] = []
    for c in chunks:
        out += f.feed(c)
    f.eof()
    return out, f


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same key order in every object."""
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(_message, min_size=1, max_size=3),
    piece=st.one_of(st.integers(1, 64), st.integers(65, 400)),
    cuts=st.lists(st.integers(0, 1500), max_size=40),
    chunk=st.one_of(st.none(), st.integers(1, 97)),
    spaces=st.sampled_from([False, False, False, True]),  # ovsdb-server writes no spaces
)
def test_pieces_give_the_one_shot_values(
    messages: list[Any], piece: int, cuts: list[int], chunk: int | None, spaces: bool
) -> None:
    sep = (", ", ": ") if spaces else (",", ":")
    stream = b"".join(json.dumps(m, separators=sep).encode() for m in messages)
    chunks = ([stream[i:i + chunk] for i in range(0, len(stream), chunk)] if chunk
              else _split(stream, cuts))
    got, _ = _feed_all(chunks, piece_size=piece)
    assert len(got) == len(messages)
    assert all(map(_same, got, messages))
    assert all(map(_same, _feed_all(chunks, piece_size=None)[0], messages))


_ovsdb_tables = st.dictionaries(
    st.sampled_from(["Route", "Gateway", "Availability_Zone"]),
    st.dictionaries(_uuid, st.one_of(_initial, _update), min_size=1, max_size=8),
    min_size=1, max_size=3)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=_ovsdb_tables, chunk=st.integers(1, 8), since=st.booleans())
def test_ovsdb_shaped_replies_are_cut_at_every_row(
    tables: dict[str, Any], chunk: int, since: bool
) -> None:
    message = ({"id": 9, "result": [False, str(uuid.UUID(int=5)), tables], "error": None}
               if since else {"id": 3, "result": tables, "error": None})
    data = json.dumps(message, separators=(",", ":")).encode()
    (got,), framer = _feed_all([data[i:i + chunk] for i in range(0, len(data), chunk)],
                               piece_size=1)
    assert _same(got, message)
    # Every row but the last of each table is a piece of its own.
    assert framer.pieces_parsed == sum(len(rows) - 1 for rows in tables.values())


def _reply(rows: int, start: int = 0) -> dict[str, Any]:
    return {"id": 7, "result": {
        "Availability_Zone": {str(uuid.UUID(int=1)): {"initial": {"name": "az1"}}},
        "Route": {str(uuid.UUID(int=start + i + 2)): {"initial": {
            "ip_prefix": f"10.{i >> 8 & 255}.{i & 255}.0/24",
            "external_ids": ["map", [["lr-id", "x"], ["nb-id", str(i)]]]}}
            for i in range(rows)},
    }, "error": None}


def test_a_big_reply_arriving_in_chunks_is_parsed_in_bounded_pieces() -> None:
    reply = _reply(50_000)
    data = json.dumps(reply, separators=(",", ":")).encode()
    assert len(data) > 5 * DEFAULT_PIECE_SIZE
    (got,), framer = _feed_all([data[i:i + 65536] for i in range(0, len(data), 65536)])
    assert _same(got, reply)
    assert framer.pieces_parsed >= len(data) // DEFAULT_PIECE_SIZE - 1
    # No parse much bigger than a piece plus one feed.
    assert framer.largest_parse <= DEFAULT_PIECE_SIZE + 65536 + 1000
    # Fed whole, it is one parse (nothing to overlap with the transfer).
    (whole,), framer = _feed_all([data])
    assert _same(whole, reply) and framer.pieces_parsed == 0
    assert framer.largest_parse == len(data)


def test_duplicate_row_keys_across_pieces_keep_the_one_shot_order_and_value() -> None:
    u = [str(uuid.UUID(int=i + 1)) for i in range(6)]
    text = ('{"id":1,"result":{"Route":{'
            + ",".join(f'"{k}":{{"n":{i}}}' for i, k in enumerate([*u, u[1], u[4], u[0]]))
            + '}},"error":null}').encode()
    expected = json.loads(text)
    for piece in range(1, 40):
        got, framer = _feed_all([text[i:i + 5] for i in range(0, len(text), 5)],
                                piece_size=piece)
        assert _same(got[0], expected), piece
    assert framer.pieces_parsed > 0


def test_every_split_point_with_tiny_pieces() -> None:
    reply = _reply(6)
    reply["result"]["Route"][str(uuid.UUID(int=99))] = {"initial": {"x": "\\\"{}[]"}}
    texts = [json.dumps(m, separators=(",", ":")).encode() for m in (reply, _reply(3, 50))]
    data = b"".join(texts)
    expected = [json.loads(t) for t in texts]
    for i in range(len(data) + 1):
        got, _ = _feed_all([data[:i], data[i:]], piece_size=16)
        assert all(map(_same, got, expected)), i
    got, framer = _feed_all([data[i:i + 1] for i in range(len(data))], piece_size=16)
    assert all(map(_same, got, expected)) and framer.pieces_parsed > 0


@pytest.mark.parametrize("damage", [
    lambda t: t.replace(b'"initial"', b'"initial" x', 1),  # in a cut-out piece
    lambda t: t[:-20] + b'@' + t[-19:],  # near the end, in what stays
    lambda t: t.replace(b'"error":null', b'"error":nul'),  # after the rows
])
def test_a_malformed_big_value_fails_as_the_one_shot_parse_does(damage: Any) -> None:
    # A FramingError at the value's offset either way; the parser's own words about
    # where in the text differ (the pieces' bytes are gone by the time the rest fails).
    text = damage(json.dumps(_reply(400), separators=(",", ":")).encode())
    prefix = b'{"id":1,"result":[],"error":null}'
    chunks = [prefix] + [text[i:i + 300] for i in range(0, len(text), 300)]
    errors = []
    for piece in (None, 64, 1000):
        with pytest.raises(FramingError) as exc:
            _feed_all(chunks, piece_size=piece)
        errors.append((str(exc.value).split(":")[0], exc.value.offset))
    assert errors[0] == errors[1] == errors[2]
    assert errors[0][1] >= len(prefix)


def test_the_pieces_bytes_are_let_go_and_the_size_limit_still_counts_them() -> None:
    data = json.dumps(_reply(20_000), separators=(",", ":")).encode()
    f = JsonFramer(piece_size=1 << 16)
    most = 0
    for i in range(0, len(data) - 1, 4096):
        assert f.feed(data[i:i + 4096]) == [] or i + 4096 >= len(data)
        most = max(most, f.buffered)
    assert most < 2 * (1 << 16) + 4096 < len(data) // 10  # never the whole message
    # The limit is on the message, not on what is still buffered.
    f = JsonFramer(max_message_size=len(data) // 2, piece_size=1 << 16)
    with pytest.raises(MessageTooLargeError):
        for i in range(0, len(data), 4096):
            f.feed(data[i:i + 4096])
    with pytest.raises(MessageTooLargeError):
        JsonFramer(max_message_size=len(data) - 1, piece_size=1 << 16).feed(data)
    (got,), _ = _feed_all([data[i:i + 4096] for i in range(0, len(data), 4096)],
                          max_message_size=len(data), piece_size=1 << 16)
    assert _same(got, json.loads(data))


def test_piece_size_is_checked() -> None:
    with pytest.raises(LocalProtocolError, match="piece_size"):
        JsonFramer(piece_size=0)
