"""Framing: split a byte stream of back-to-back JSON texts into JSON values.

``ovsdb-server`` writes JSON-RPC messages one after another with no delimiter.
:class:`JsonFramer` takes bytes in chunks of any size, finds where each
top-level object or array ends, and parses each complete one.

How it stays linear and fast:

* It tracks, for the unfinished tail of the stream, the nesting depth and
  whether it is inside a string. Each byte is examined a constant number of
  times, so a 50 MB message fed 4 KiB at a time costs the same as one fed
  whole (nothing is rescanned).
* The common case runs at C speed: a chunk with no backslash is split on ``"``
  (string contents then alternate with structure), brackets outside strings
  are counted with ``bytes.count``, and only when a chunk *may* contain the
  end of a value (a closing bracket followed by something other than ``,``,
  ``]`` or ``}``, or the depth reaching zero) does a token-by-token scan locate
  the exact end.
* Complete values are parsed with :mod:`orjson` (falling back to :mod:`json`),
  the fastest parser measured here (see docs/performance.md).

Errors: any byte sequence that is not a series of JSON objects/arrays raises
:class:`~ovsdb_ic.errors.FramingError`; a value growing beyond
``max_message_size`` raises :class:`~ovsdb_ic.errors.MessageTooLargeError`.
After an error the framer is unusable (like h11 after a protocol error): the
stream position is lost, the connection should be closed.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from ovsdb_ic.errors import FramingError, LocalProtocolError, MessageTooLargeError
from ovsdb_ic.wire._gc import gc_paused

try:
    import orjson

    _loads: Any = orjson.loads
    _DecodeErrors: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - orjson is a declared dependency
    _loads = json.loads
    _DecodeErrors = (ValueError,)

__all__ = ["JsonFramer", "DEFAULT_MAX_MESSAGE_SIZE"]

_PARSE_ERRORS: tuple[type[Exception], ...] = (*_DecodeErrors, RecursionError)

DEFAULT_MAX_MESSAGE_SIZE: Final = 256 * 1024 * 1024
"""Default limit on one JSON value: 256 MiB (a 200k-row IC-SB reply is ~70 MB)."""

_WS: Final = b" \t\r\n"
# One structural token outside a string: skip non-structural bytes and whole
# strings, stop at a bracket or at an unterminated string's opening quote.
_SKIP: Final = re.compile(rb'[^"{}\[\]]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^"{}\[\]]*)*', re.S)
# The rest of a string that is already open: body, then the closing quote.
_STR_REST: Final = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*', re.S)
# A closing bracket followed by anything but , ] } means the value ended there
# (or the input is malformed): both need the exact scan.
_RAW_SUSPECT: Final = re.compile(rb"[}\]][ \t\r\n]*[^,\]} \t\r\n]")
# The quick check runs on regions at least this long (shorter ones are cheaper
# to scan directly), and cancels bracket pairs at most this many rounds deep.
_QUICK_MIN: Final = 512
# Messages at least this big are parsed with the cyclic GC paused (see _gc.py).
_BIG_MESSAGE: Final = 1 << 20
_MAX_REDUCE: Final = 24
_DROP_ALL_BUT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'{}[]"')
_SQUARE_TO_CURLY: Final = bytes.maketrans(b"[]", b"{}")
_OPEN: Final = frozenset(b"{[")
_CLOSE: Final = frozenset(b"}]")


class JsonFramer:
    """Incremental splitter and parser of concatenated JSON values (sans-IO).

    Use :meth:`feed` with every chunk received; it returns the values completed
    by that chunk, in order. Top-level values must be objects or arrays (every
    JSON-RPC message is an object); whitespace between them is ignored.

    ``bytes_examined`` counts the bytes its scanners looked at; it stays within
    a small multiple of the bytes fed, however the stream is split.
    """

    __slots__ = (
        "_broken",
        "_buf",
        "_consumed",
        "_depth",
        "_in_str",
        "_max",
        "_scan",
        "_start",
        "bytes_examined",
    )

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        """Create a framer; values longer than ``max_message_size`` bytes are refused."""
        if max_message_size < 2:
            raise LocalProtocolError("max_message_size must be at least 2 bytes")
        self._buf = bytearray()
        self._start = -1  # start of the unfinished value in _buf; -1 between values
        self._scan = 0  # bytes of _buf already examined
        self._depth = 0
        self._in_str = False
        self._max = max_message_size
        self._consumed = 0  # stream offset of _buf[0]
        self._broken: FramingError | None = None
        self.bytes_examined = 0


    @property
    def max_message_size(self) -> int:
        """The configured limit on a single value, in bytes."""
        return self._max

    @property
    def buffered(self) -> int:
        """Bytes held for a value that is not complete yet."""
        return len(self._buf)

    @property
    def in_message(self) -> bool:
        """True when a value has started but not ended (a close now would truncate it)."""
        return self._start >= 0 or bool(self._buf.strip(_WS))

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Add received bytes; return the JSON values they complete (maybe none)."""
        if self._broken is not None:
            raise self._broken
        try:
            return self._feed(data)
        except FramingError as exc:
            self._broken = exc
            raise

    def eof(self) -> None:
        """Declare the end of the stream; raise FramingError if it cut a value short."""
        if self._broken is not None:
            raise self._broken
        if self.in_message:
            raise FramingError(
                f"stream ended inside a JSON value ({len(self._buf)} bytes pending)",
                offset=self._consumed + len(self._buf),
            )

    # ------------------------------------------------------------------ internals

    def _error(self, msg: str, pos: int) -> FramingError:
        return FramingError(msg, offset=self._consumed + pos)

    def _feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        buf = self._buf
        buf += data
        out: list[Any] = []
        end = len(buf)
        pos = self._scan
        quick = True
        while pos < end:
            if self._start < 0:
                # Between values: skip whitespace, expect { or [.
                while pos < end and buf[pos] in _WS:
                    pos += 1
                if pos == end:
                    break
                c = buf[pos]
                if c not in _OPEN:
                    raise self._error(
                        f"expected '{{' or '[' to start a message, found {bytes([c])!r}", pos
                    )
                self._start = pos
                self._depth = 1
                self._in_str = False
                pos += 1
                continue
            resume = self._advance(buf, pos, end, out, quick)
            # One quick check per feed: after a value ended, the rest of the
            # feed is scanned exactly (a quick check of the remaining bytes
            # after every small message would make the feed quadratic).
            quick = False
            if resume == pos:  # a trailing backslash: wait for the next byte
                break
            pos = resume
        self._scan = pos
        # Drop what has been consumed, once per feed (keeps this linear).
        keep_from = self._start if self._start >= 0 else end
        if keep_from > 0:
            del buf[:keep_from]
            self._consumed += keep_from
            self._scan -= keep_from
            if self._start >= 0:
                self._start = 0
        if self._start >= 0 and len(buf) > self._max:
            raise MessageTooLargeError(len(buf), self._max, offset=self._consumed)
        return out

    def _advance(
        self, buf: bytearray, pos: int, end: int, out: list[Any], quick: bool
    ) -> int:
        """Scan from pos (inside a value); return where scanning stopped.

        Returns after the first value that ends, or at ``end``.
        """
        if quick and end - pos >= _QUICK_MIN and self._quick_skip(buf, pos, end, out):
            return end
        start = self._start
        while True:
            # In valid JSON a value can only end at a closing bracket that is
            # followed (after whitespace) by something other than , ] } -- or
            # at the end of the buffer. Such "suspects" are found at C speed in
            # the raw bytes; ones inside strings are false alarms, told apart
            # below by the exact string state.
            m = _RAW_SUSPECT.search(buf, pos, end)
            stop = m.start() + 1 if m is not None else end
            if buf.find(b"\\", pos, stop) >= 0:
                return self._exact_counted(buf, pos, end, out)
            self.bytes_examined += stop - pos
            pieces = bytes(buf[pos:stop]).split(b'"')
            in_str = self._in_str
            outside = b"".join(pieces[1::2] if in_str else pieces[0::2])
            depth = (
                self._depth
                + outside.count(b"{") + outside.count(b"[")
                - outside.count(b"}") - outside.count(b"]")
            )
            if (len(pieces) - 1) % 2:
                in_str = not in_str
            if depth < 0:
                return self._exact_counted(buf, pos, end, out)
            self._depth = depth
            self._in_str = in_str
            if depth == 0 and not in_str:
                # Nothing but , ] } and whitespace follows a closing bracket
                # before stop, so (for valid JSON) the value ends at stop's
                # last closing bracket; malformed input fails in the parser.
                out.append(self._parse(buf, start, stop))
                self._start = -1
                return stop
            if m is None:
                return end
            pos = stop

    def _quick_skip(self, buf: bytearray, pos: int, end: int, out: list[Any]) -> bool:
        """Cheap check that no value ends in buf[pos:end] (or exactly one ends at ``end``).

        Returns True when the region is fully handled (state updated, a value
        ending at ``end`` parsed into ``out``).

        Keeps only brackets and quotes (one C pass), drops every string that
        holds no bracket (adjacent quote pairs; removing an adjacent pair keeps
        every other byte's inside/outside parity), then cancels matched bracket
        pairs: what is left is the unmatched closes followed by the unmatched
        opens. The depth stays above zero iff there are fewer unmatched closes
        than the current depth. Anything unusual (backslashes, brackets inside
        strings, deep nesting) returns False and the exact paths take over.
        """
        if buf.find(b"\\", pos, end) >= 0:
            return False
        s = bytes(buf[pos:end]).translate(None, _DROP_ALL_BUT_STRUCTURE)
        quotes = s.count(b'"')
        in_str_end = self._in_str ^ (quotes % 2 == 1)
        if self._in_str:
            s = b'"' + s
        if in_str_end:
            s = s + b'"'
        if quotes:
            s = s.replace(b'""', b"")
            if b'"' in s:
                return False
        t = s.translate(_SQUARE_TO_CURLY)
        opens = t.count(b"{")
        depth = self._depth + opens - (len(t) - opens)
        if depth < 0:
            return False
        for _ in range(_MAX_REDUCE):
            r = t.replace(b"{}", b"")
            if len(r) == len(t):
                break
            t = r
        else:
            return False
        unmatched_closes = len(t) - t.count(b"{")
        if depth == 0 and not in_str_end and unmatched_closes == len(t):
            # The region closes the value and opens nothing unmatched: most
            # likely it ends the value exactly (a whole reply in one chunk).
            # One parse tells: a second value after it fails as "trailing
            # characters" right after the first, so a wrong guess is cheap.
            try:
                value = self._load(buf, self._start, end)
            except MessageTooLargeError:
                raise
            except _PARSE_ERRORS:
                return False  # not one whole value after all: the exact path decides
            self.bytes_examined += end - pos
            out.append(value)
            self._start = -1
            self._depth = 0
            return True
        if depth == 0 or unmatched_closes >= self._depth:
            return False
        self.bytes_examined += end - pos
        self._depth = depth
        self._in_str = in_str_end
        return True

    def _exact_counted(self, buf: bytearray, pos: int, end: int, out: list[Any]) -> int:
        resume = self._exact(buf, pos, end, out)
        self.bytes_examined += resume - pos
        return resume

    def _exact(self, buf: bytearray, pos: int, end: int, out: list[Any]) -> int:
        """Token-by-token scan; emits complete values; returns where it stopped."""
        depth = self._depth
        if self._in_str:
            m = _STR_REST.match(buf, pos, end)
            assert m is not None
            pos = m.end()
            if pos >= end:
                self._depth = depth
                return end  # still inside the string (maybe after a lone backslash)
            if buf[pos] != 0x22:  # a backslash at the very end: wait for more
                self._depth = depth
                return pos
            pos += 1
            self._in_str = False
        skip = _SKIP.match
        while pos < end:
            pos = skip(buf, pos, end).end()  # type: ignore[union-attr]
            if pos >= end:
                break
            c = buf[pos]
            pos += 1
            if c in _OPEN:
                depth += 1
            elif c in _CLOSE:
                depth -= 1
                if depth == 0:
                    start = self._start
                    out.append(self._parse(buf, start, pos))
                    self._start = -1
                    self._depth = 0
                    return pos
            else:  # an opening quote whose string does not end in this buffer
                self._in_str = True
                m = _STR_REST.match(buf, pos, end)
                assert m is not None
                stop = m.end()
                self._depth = depth
                # Stops at the end, or at a trailing backslash to re-examine
                # once more bytes arrive.
                return stop
        self._depth = depth
        return pos

    def _load(self, buf: bytearray, start: int, stop: int) -> Any:
        """Parse buf[start:stop] (size-checked, GC paused when big); decode errors escape."""
        if stop - start > self._max:
            raise MessageTooLargeError(stop - start, self._max, offset=self._consumed + start)
        chunk = buf if (start == 0 and stop == len(buf)) else buf[start:stop]
        with gc_paused(stop - start >= _BIG_MESSAGE):
            return _loads(chunk)

    def _parse(self, buf: bytearray, start: int, stop: int) -> Any:
        try:
            return self._load(buf, start, stop)
        except MessageTooLargeError:
            raise
        except _DecodeErrors as exc:
            raise self._error(f"malformed JSON: {exc}", start) from None
        except RecursionError:
            raise self._error("JSON nested too deeply", start) from None
