"""JsonFramer: values out of a byte stream split anywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import FramingError, LocalProtocolError, MessageTooLargeError
from ovsdb_ic.wire.framing import JsonFramer

# JSON values whose strings stress the scanner: quotes, backslashes, brackets,
# multi-byte UTF-8 (no lone surrogates: they are not valid UTF-8).
_text = st.text(
    alphabet=st.one_of(
        st.sampled_from('{}[]",:\\ \n\t/"\\\\'),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=12,
)
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False), _text,
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)
    ),
    max_leaves=20,
)
_top = st.one_of(st.dictionaries(_text, _json, max_size=4), st.lists(_json, max_size=4))


def _encode(value: Any, ws: str, ensure_ascii: bool) -> bytes:
    sep = (", ", ": ") if ws else (",", ":")
    return json.dumps(value, separators=sep, ensure_ascii=ensure_ascii).encode()


def _feed_all(chunks: list[bytes], **kw: Any) -> list[Any]:
    f = JsonFramer(**kw)
    out: list[Any] = []
    for c in chunks:
        out += f.feed(c)
    f.eof()
    return out


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks, prev = [], 0
    for p in points:
        chunks.append(data[prev:p])
        prev = p
    chunks.append(data[prev:])
    return chunks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(_top, min_size=1, max_size=5),
    seps=st.lists(st.sampled_from(["", " ", "\n", "\r\n\t "]), min_size=5, max_size=5),
    ensure_ascii=st.booleans(),
    cuts=st.lists(st.integers(0, 4000), max_size=12),
)
def test_any_split_gives_the_same_values(
    values: list[Any], seps: list[str], ensure_ascii: bool, cuts: list[int]
) -> None:
    stream = b"".join(
        _encode(v, seps[i], ensure_ascii) + seps[i].encode() for i, v in enumerate(values)
    )
    assert _feed_all([stream]) == values
    assert _feed_all(_split(stream, cuts)) == values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_top, min_size=1, max_size=3), ensure_ascii=st.booleans())
def test_every_single_split_point_and_byte_by_byte(values: list[Any], ensure_ascii: bool) -> None:
    stream = b"".join(_encode(v, "", ensure_ascii) for v in values)
    for i in range(len(stream) + 1):
        assert _feed_all([stream[:i], stream[i:]]) == values
    assert _feed_all([stream[i : i + 1] for i in range(len(stream))]) == values


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":"\\""}',  # escaped quote
        b'{"a":"\\\\"}',  # escaped backslash right before the closing quote
        b'{"a":"x\\\\\\"}{"}',  # backslashes then a quote, brackets in a string
        b'{"a":"}{"}',  # boundary look-alike inside a string
        b'{"a":"]["}',
        b'{"\xc3\xa9":"\xe2\x82\xac\xf0\x9f\x98\x80"}',  # 2-, 3- and 4-byte UTF-8
        b'{"a":[{"b":[]},{}],"c":{"d":{}}}',
        b'[1,[2,[3]],{"x":"y"}]',
        b'{"u":"\\u00e9\\ud83d\\ude00"}',  # unicode escapes (a surrogate pair)
    ],
)
def test_tricky_values_at_every_split(text: bytes) -> None:
    expected = [json.loads(text)] * 2
    stream = text + text
    for i in range(len(stream) + 1):
        for j in range(i, len(stream) + 1):
            assert _feed_all([stream[:i], stream[i:j], stream[j:]]) == expected, (i, j)


def test_ovsdb_server_style_stream_of_responses() -> None:
    stream = (
        b'{"id":1,"result":["OVN_IC_Southbound","_Server"],"error":null}'
        b'{"id":"echo","method":"echo","params":[]}'
        b'{"id":null,"method":"update2","params":["m",{"Route":{}}]}'
    )
    out = _feed_all([stream[i : i + 7] for i in range(0, len(stream), 7)])
    assert [m.get("id") for m in out] == [1, "echo", None]


def test_large_message_in_small_chunks_is_linear() -> None:
    # About 5 MB in one value, fed 4 KiB at a time: every byte is examined a
    # constant number of times (no rescanning of the growing buffer).
    rows = {
        f"{i:08d}-0000-0000-0000-000000000000": {
            "initial": {"ip_prefix": f"10.{i % 256}.0.0/16", "external_ids": ["map", [["k", "v"]]]}
        }
        for i in range(50_000)
    }
    data = json.dumps({"id": 7, "result": {"Route": rows}, "error": None}).encode()
    f = JsonFramer()
    out: list[Any] = []
    for i in range(0, len(data), 4096):
        out += f.feed(data[i : i + 4096])
    assert len(out) == 1
    assert out[0]["result"]["Route"] == rows
    assert f.bytes_examined <= 2 * len(data)
    assert f.buffered == 0


def test_linear_with_backslashes_too() -> None:
    value = {"k": ["a\\\"b" * 10 for _ in range(20_000)]}
    data = json.dumps(value).encode()
    f = JsonFramer()
    out: list[Any] = []
    for i in range(0, len(data), 4096):
        out += f.feed(data[i : i + 4096])
    assert out == [value]
    assert f.bytes_examined <= 2 * len(data)


def test_many_small_messages_in_one_chunk_is_linear() -> None:
    msgs = [{"id": i, "result": {"s": "x}{" * 3}, "error": None} for i in range(20_000)]
    data = b"".join(json.dumps(m).encode() for m in msgs)
    f = JsonFramer()
    assert f.feed(data) == msgs
    assert f.bytes_examined <= 2 * len(data)


def test_max_message_size_fails_clearly_while_growing() -> None:
    f = JsonFramer(max_message_size=1000)
    f.feed(b'{"a":"' + b"x" * 900)
    with pytest.raises(MessageTooLargeError) as exc:
        f.feed(b"x" * 200)
    assert exc.value.limit == 1000
    assert exc.value.size > 1000
    assert "exceeds the limit of 1000 bytes" in str(exc.value)
    # The framer stays failed: the stream position is lost.
    with pytest.raises(MessageTooLargeError):
        f.feed(b'"}')


def test_max_message_size_for_a_complete_value_in_one_chunk() -> None:
    f = JsonFramer(max_message_size=50)
    assert f.feed(b'{"a":"' + b"x" * 30 + b'"}') == [{"a": "x" * 30}]
    with pytest.raises(MessageTooLargeError):
        f.feed(b'{"a":"' + b"x" * 60 + b'"}')


def test_limit_applies_per_message_not_per_stream() -> None:
    f = JsonFramer(max_message_size=100)
    msg = b'{"a":"' + b"x" * 80 + b'"}'
    for _ in range(50):
        assert f.feed(msg) == [{"a": "x" * 80}]


def test_bad_max_size() -> None:
    with pytest.raises(LocalProtocolError):
        JsonFramer(max_message_size=1)


@pytest.mark.parametrize(
    "data",
    [b"x", b"1", b'"str"', b"{}x", b"{}}", b"]", b'{"a":1,}', b'{"a" 1}', b"{\xff}", b'{"a":tru}'],
)
def test_malformed_streams_raise_framing_error(data: bytes) -> None:
    f = JsonFramer()
    with pytest.raises(FramingError):
        f.feed(data)
        f.eof()


def test_eof_inside_a_message() -> None:
    f = JsonFramer()
    assert f.feed(b'{"a": [1, 2') == []
    assert f.in_message
    with pytest.raises(FramingError, match="stream ended inside a JSON value"):
        f.eof()


def test_eof_between_messages_is_fine() -> None:
    f = JsonFramer()
    assert f.feed(b'{"a":1}  \n') == [{"a": 1}]
    assert not f.in_message
    f.eof()


def test_error_offset_counts_from_stream_start() -> None:
    f = JsonFramer()
    f.feed(b'{"a":1}{"b":2}')
    with pytest.raises(FramingError) as exc:
        f.feed(b"  nope")
    assert exc.value.offset == 16


def test_small_chunks_of_whole_messages() -> None:
    # The fast path: a small chunk of whole messages back to back is cut before
    # each "}{" and each piece parsed; a "}{" inside a string is not a boundary.
    msgs = [
        {"id": 1, "result": {"s": "x}{y", "t": "}{"}, "error": None},
        {"id": None, "method": "update2", "params": ["m", {"T": {"u": {"insert": {}}}}]},
        {"id": 2, "result": [{"count": 1}], "error": None},
    ]
    data = b"".join(json.dumps(m, separators=(",", ":")).encode() for m in msgs)
    f = JsonFramer()
    assert f.feed(data) == msgs
    assert not f.in_message
    assert f.buffered == 0
    assert f.bytes_examined <= 2 * len(data)
    # Whole messages, then the start of one that ends in the next chunk.
    first = json.dumps(msgs[0], separators=(",", ":")).encode()
    for cut in range(len(first) + 1, len(data)):
        if data[cut - 1 : cut] == b"}":
            f = JsonFramer()
            out = f.feed(data[:cut]) + f.feed(data[cut:])
            assert out == msgs, cut
    # The stream offsets stay right after the fast path: the error is at byte len(data).
    f = JsonFramer()
    assert f.feed(data) == msgs
    with pytest.raises(FramingError) as exc:
        f.feed(b"{]")
    assert exc.value.offset == len(data)


# Messages big enough (hundreds of bytes) that a feed holds several of them after the end
# of one that began in an earlier feed: the parser takes those whole (``_whole_run``).
_padded = st.builds(
    lambda body, pad, k: {"id": k, "result": body, "pad": pad},
    _json, st.text(alphabet=st.sampled_from('x}{"\\ ab'), max_size=300), st.integers(0, 99),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(_padded, min_size=2, max_size=12),
    sep=st.sampled_from(["", "", "", " ", "\n"]),
    cuts=st.lists(st.integers(0, 6000), max_size=6),
)
def test_bursts_after_a_split_message_give_the_same_values(
    values: list[Any], sep: str, cuts: list[int]
) -> None:
    stream = b"".join(_encode(v, "", False) + sep.encode() for v in values)
    assert _feed_all(_split(stream, cuts)) == values
    # The first message split in two: the second feed ends it and holds all the rest.
    first = len(_encode(values[0], "", False))
    for cut in (1, first // 2, first - 1):
        assert _feed_all([stream[:cut], stream[cut:]]) == values


def _parsed_bytes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the bytes handed to the JSON parser, failed attempts included."""
    from ovsdb_ic.wire import framing

    sizes: list[int] = []
    loads = framing._loads

    def counting(data: Any) -> Any:
        sizes.append(len(data))
        return loads(data)

    monkeypatch.setattr(framing, "_loads", counting)
    return sizes


@pytest.mark.parametrize("sep", [b"", b"\n"])
@pytest.mark.parametrize("inner", ["plain", "x}{y"])
def test_a_burst_after_a_split_message_is_parsed_linearly(
    monkeypatch: pytest.MonkeyPatch, sep: bytes, inner: str
) -> None:
    """20,000 messages in the feed that ends a split one: whatever separates them and
    whatever their strings hold, the parser sees each byte a bounded number of times
    (no candidate running to the end of the feed is retried after each message)."""
    sizes = _parsed_bytes(monkeypatch)
    msgs = [{"id": i, "result": {"s": inner}, "error": None} for i in range(20_000)]
    data = sep.join(json.dumps(m).encode() for m in msgs)
    f = JsonFramer()
    assert f.feed(data[:10]) == []
    assert f.feed(data[10:]) == msgs
    assert sum(sizes) <= 3 * len(data)
    assert f.bytes_examined <= 3 * len(data)


def test_bursts_keep_the_error_offsets_and_the_size_limit() -> None:
    msgs = [json.dumps({"id": i, "result": "x" * 200}).encode() for i in range(5)]
    data = b"".join(msgs)
    # Malformed after whole messages taken by the parser: the error is at the start of
    # the malformed value, counted from the stream's start.
    f = JsonFramer()
    assert f.feed(data[:10]) == []
    with pytest.raises(FramingError) as exc:
        f.feed(data[10:] + b"{]")
    assert exc.value.offset == len(data)
    # A message over the limit among them is refused, not parsed.
    big = json.dumps({"id": 9, "result": "y" * 2000}).encode()
    f = JsonFramer(max_message_size=1000)
    assert f.feed(msgs[0][:10]) == []
    with pytest.raises(MessageTooLargeError):
        f.feed(msgs[0][10:] + msgs[1] + big + msgs[2])
