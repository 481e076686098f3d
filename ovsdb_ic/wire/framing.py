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
* Big values are parsed **in pieces while they arrive**, so that no single
  parse holds up an event loop for long (one parse of a 68 MB, 200,000-row
  monitor reply takes one to two seconds). OVSDB puts one row per member of an
  object keyed by the row's UUID (``"<uuid>":{...}``), in monitor replies and
  update notifications alike. Once a value has grown by ``piece_size`` bytes
  past the last cut, the framer finds the next such member, parses the members
  since the last cut as one object (``{`` + members + ``}``), and keeps the
  result, and lets go of the piece's bytes (so a big message is never held
  twice, as bytes and parsed). When the value ends, the rest (the value with
  every cut-out run of members replaced by one placeholder member) is parsed and
  the pieces are put back in place, in order. The result is exactly the one-shot
  parse, key order and duplicate keys included. A piece only parses if it is a
  list of whole members of one object, so a cut in the wrong place (a value of
  another shape) is noticed, and the framer stops cutting that value. A malformed
  value fails as the one-shot parse does (a ``FramingError`` at the value's
  offset), with the parser's own text about the rest.
* Small messages skip the scan: a chunk of at most 64 KiB that starts a value
  and ends with ``}`` (a whole reply or update, or a few back to back) is cut
  before each ``}{`` and each piece handed to the parser as it is. A piece is
  accepted only when it parses as one whole JSON value (no proper prefix of a
  JSON object is one), and whatever is not accepted goes to the scan, so the
  outcome is the same, only cheaper.
* So do bursts: once the scan has seen a value end inside a feed, the messages
  back to back after it (a busy connection's read holds many) are cut the same
  way, before each ``}{``, as long as the pieces parse; the last value of the
  feed is left to the scan. The next ``}{`` is searched for once and
  remembered, so a feed is still examined a bounded number of times per byte
  however the scan and the parser take turns in it.

Errors: any byte sequence that is not a series of JSON objects/arrays raises
:class:`~ovsdb_ic.errors.FramingError`; a value growing beyond
``max_message_size`` raises :class:`~ovsdb_ic.errors.MessageTooLargeError`.
After an error the framer is unusable (like h11 after a protocol error): the
stream position is lost, the connection should be closed.
"""

from __future__ import annotations

import json
import os
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

__all__ = ["JsonFramer", "DEFAULT_MAX_MESSAGE_SIZE", "DEFAULT_PIECE_SIZE"]

_PARSE_ERRORS: tuple[type[Exception], ...] = (*_DecodeErrors, RecursionError)

DEFAULT_MAX_MESSAGE_SIZE: Final = 256 * 1024 * 1024
"""Default limit on one JSON value: 256 MiB (a 200k-row IC-SB reply is ~70 MB)."""

DEFAULT_PIECE_SIZE: Final = 1 << 20
"""Default size of the pieces a big value is parsed in as it arrives: 1 MiB (tens of
milliseconds of parsing)."""

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
# Chunks up to this size that start a value are first tried with the parser alone.
_WHOLE_MAX: Final = 1 << 16
# After a value ended inside a feed, at least this many bytes left are first tried
# with the parser alone too (fewer are cheaper to scan).
_WHOLE_MIN_REST: Final = 512
_MAX_REDUCE: Final = 24
# A member keyed by a (lower-case) UUID whose value is an object: one row of an OVSDB
# table update. Matched at the byte before it: the object's "{" for its first
# member, a "," for the others. In valid JSON a match is always a real member
# start (the quote after "{" or "," is unescaped, and a closing quote cannot be
# followed by a hex digit), never text inside a string.
_ROW_KEY: Final = rb'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}":\{'
_RUN_START: Final = re.compile(rb"\{(?=" + _ROW_KEY + rb")")
_MEMBER: Final = re.compile(rb"[{,](?=" + _ROW_KEY + rb")")
_ROW_KEY_LEN: Final = 41  # the delimiter plus everything the look-ahead needs
_DROP_ALL_BUT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'{}[]"')
_SQUARE_TO_CURLY: Final = bytes.maketrans(b"[]", b"{}")
_OPEN: Final = frozenset(b"{[")
_CLOSE: Final = frozenset(b"}]")


class _Run:
    """Row members of one object cut out of the value being received.

    ``at`` is where they were (their bytes are gone, so it is also where the first
    member not cut out yet starts); ``pieces`` are the parsed members, in order.
    """

    __slots__ = ("at", "pieces")

    def __init__(self, at: int) -> None:
        self.at = at
        self.pieces: list[dict[str, Any]] = []


class JsonFramer:
    """Incremental splitter and parser of concatenated JSON values (sans-IO).

    Use :meth:`feed` with every chunk received; it returns the values completed
    by that chunk, in order. Top-level values must be objects or arrays (every
    JSON-RPC message is an object); whitespace between them is ignored.

    A value that arrives over several feeds and holds many row members (an OVSDB
    monitor reply or update) is parsed in pieces of about ``piece_size`` bytes as
    it arrives, so no single call parses much more than that; ``piece_size=None``
    parses every value in one go when it is complete. The values returned are the
    same either way.

    ``bytes_examined`` counts the bytes its scanners looked at; it stays within
    a small multiple of the bytes fed, however the stream is split.
    ``pieces_parsed`` counts the pieces parsed ahead of their value's end, and
    ``largest_parse`` is the most bytes handed to the JSON parser at once.
    """

    __slots__ = (
        "_broken",
        "_buf",
        "_consumed",
        "_depth",
        "_dropped",
        "_hunt",
        "_in_str",
        "_max",
        "_piece",
        "_run",
        "_runs",
        "_scan",
        "_start",
        "bytes_examined",
        "largest_parse",
        "pieces_parsed",
    )

    def __init__(
        self,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        *,
        piece_size: int | None = DEFAULT_PIECE_SIZE,
    ) -> None:
        """Create a framer; values longer than ``max_message_size`` bytes are refused,
        values arriving in several feeds are parsed in pieces of about ``piece_size``
        bytes (``None``: never)."""
        if max_message_size < 2:
            raise LocalProtocolError("max_message_size must be at least 2 bytes")
        if piece_size is not None and (not isinstance(piece_size, int) or piece_size < 1):
            raise LocalProtocolError(
                f"piece_size must be a positive number of bytes or None, not {piece_size!r}")
        self._piece = piece_size or 0
        self._runs: list[_Run] = []  # runs of the value being received (_start == 0)
        self._run: _Run | None = None  # the run still growing, or None
        self._hunt = 0  # where to look for the next run start or cut
        self._dropped = 0  # bytes of the value being received parsed as pieces and let go
        self.pieces_parsed = 0
        self.largest_parse = 0
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
            pending = len(self._buf) + self._dropped
            raise FramingError(
                f"stream ended inside a JSON value ({pending} bytes pending)",
                offset=self._consumed + pending,
            )

    # ------------------------------------------------------------------ internals

    def _error(self, msg: str, pos: int) -> FramingError:
        return FramingError(msg, offset=self._consumed + pos)

    def _whole_values(self, data: bytes, out: list[Any]) -> int:
        """Parse the whole JSON values at the start of ``data`` with the parser alone.

        Appends them to ``out`` and returns how many bytes they took (0 to
        ``len(data)``); the caller scans whatever is left. ``ovsdb-server``
        writes messages back to back, so a value most likely ends just before
        the next ``}{``, or at the end of the chunk: each candidate is parsed,
        and accepted only when it parses as one whole JSON value (no proper
        prefix of a JSON object is one, so that is exactly the next value). The
        first candidate that fails to parse (a ``}{`` inside a string, a value
        that continues in the next chunk, malformed input) ends the fast path.
        """
        used = 0
        n = len(data)
        while used < n and data[used] == 0x7B:
            stop = data.find(b"}{", used) + 1 or n
            if stop - used > self.largest_parse:
                self.largest_parse = stop - used
            try:
                out.append(_loads(data if stop - used == n else data[used:stop]))
            except _PARSE_ERRORS:
                break
            used = stop
        return used

    def _whole_run(self, buf: bytearray, pos: int, end: int, out: list[Any],
                   pair: int) -> tuple[int, int]:
        """:meth:`_whole_values` for the messages back to back that follow, in the same
        feed, one that the scan saw end (a burst read at once): returns where the whole
        values taken end and the cached position of the next ``}{``.

        Only candidates that end before a ``}{`` are tried (the last value of the feed
        is left to the scan, which also tells a value that continues in the next feed),
        and the next ``}{`` is searched for once and remembered (``pair``: its
        position, or ``end`` when there is none), so however often the scan and this
        take turns in one feed, each byte is searched and handed to the parser a
        bounded number of times. Candidates are parsed through a view of ``buf``.
        """
        with memoryview(buf) as view:
            while pos < end and buf[pos] == 0x7B:
                if pair < pos:
                    pair = buf.find(b"}{", pos, end)
                    if pair < 0:
                        pair = end
                if pair >= end:
                    break
                stop = pair + 1
                if stop - pos > self._max:
                    break
                if stop - pos > self.largest_parse:
                    self.largest_parse = stop - pos
                try:
                    out.append(_loads(view[pos:stop]))
                except _PARSE_ERRORS:
                    break
                pos = stop
        return pos, pair

    def _feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        buf = self._buf
        out: list[Any] = []
        n = len(data)
        if (
            self._start < 0 and not buf and 0 < n <= _WHOLE_MAX and n <= self._max
            and data[0] == 0x7B and data[-1] == 0x7D
        ):
            whole = data if type(data) is bytes else bytes(data)
            used = self._whole_values(whole, out)
            self.bytes_examined += used
            self._consumed += used
            if used == n:
                return out
            data = whole[used:]
        buf += data
        end = len(buf)
        pos = self._scan
        quick = True
        pair = -1  # where the next "}{" is, once _whole_run looked (end: none)
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
                if c == 0x7B and end - pos >= _WHOLE_MIN_REST:
                    # Messages back to back after one that ended in this feed: the
                    # parser alone takes the whole ones.
                    taken, pair = self._whole_run(buf, pos, end, out, pair)
                    if taken > pos:
                        self.bytes_examined += taken - pos
                        pos = taken
                        continue
                self._start = pos
                self._depth = 1
                self._in_str = False
                self._forget_pieces()
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
        if self._start >= 0 and len(buf) + self._dropped > self._max:
            raise MessageTooLargeError(len(buf) + self._dropped, self._max,
                                       offset=self._consumed)
        if self._start == 0 and self._piece and len(buf) >= self._hunt + self._piece:
            self._cut(buf)
        return out

    # ------------------------------------------------------------ pieces

    def _forget_pieces(self) -> None:
        self._runs = []
        self._run = None
        self._hunt = 0
        self._dropped = 0

    def _cut(self, buf: bytearray) -> None:
        """Parse, ahead of the value's end, the row members received since the last cut.

        The unfinished value starts at buf[0]. ``_hunt`` is -1 once a piece failed to
        parse (no more of this value is cut; what was not cut is parsed at its end).
        """
        if self._hunt < 0:
            return
        end = len(buf)
        while True:
            run = self._run
            if run is None:
                m = _RUN_START.search(buf, self._hunt, end)
                if m is None:  # none yet; one may straddle the end
                    self._hunt = max(self._hunt, end - _ROW_KEY_LEN)
                    return
                run = self._run = _Run(m.start() + 1)
                self._runs.append(run)
                self._hunt = run.at
            target = max(run.at + self._piece, self._hunt)
            if target >= end:
                return
            m = _MEMBER.search(buf, target, end)
            if m is None:
                self._hunt = max(target, end - _ROW_KEY_LEN)
                return
            # Did another object of row members open since the last cut? Then this
            # run ends at its last cut, and the new object starts the next run.
            r = _RUN_START.search(buf, run.at, min(end, m.start() + _ROW_KEY_LEN))
            if r is not None:
                self._run = None
                self._hunt = r.start()
                continue
            chunk = b"{" + buf[run.at:m.start()] + b"}"
            self.largest_parse = max(self.largest_parse, len(chunk))
            try:
                with gc_paused(len(chunk) >= _BIG_MESSAGE):
                    piece = _loads(chunk)
            except _PARSE_ERRORS:
                # Not a list of whole members of one object (or malformed): cut no
                # more of this value; the rest is parsed when it ends.
                self._run = None
                self._hunt = -1
                return
            run.pieces.append(piece)
            self.pieces_parsed += 1
            # Let go of the piece's bytes and its comma: the next member now starts
            # where the run's cut-out members did.
            gone = m.start() + 1 - run.at
            del buf[run.at:m.start() + 1]
            self._dropped += gone
            self._scan -= gone
            end -= gone
            self._hunt = run.at

    def _assemble(self, buf: bytearray, stop: int, runs: list[_Run]) -> Any:
        """The value in buf[0:stop], from its pieces and the parse of the rest."""
        tag = os.urandom(8).hex()
        keys = [f"\x00ovsdb-ic piece {tag} {i}" for i in range(len(runs))]
        rest = bytearray()
        pos = 0
        for key, run in zip(keys, runs, strict=True):
            rest += buf[pos:run.at]
            rest += b'"\\u0000' + key[1:].encode() + b'":0,'
            pos = run.at
        rest += buf[pos:stop]
        self.largest_parse = max(self.largest_parse, len(rest))
        value = _loads(rest)
        # The placeholders' objects, found in document order.
        holders: list[dict[str, Any]] = []
        stack = [value]
        while stack and len(holders) < len(keys):
            item = stack.pop()
            if type(item) is dict:
                while len(holders) < len(keys) and keys[len(holders)] in item:
                    holders.append(item)
                stack.extend(reversed(list(item.values())))
            elif type(item) is list:
                stack.extend(reversed(item))
        if len(holders) < len(keys):
            raise ValueError("a placeholder of the pieces was not found")
        for key, holder, run in zip(keys, holders, runs, strict=True):
            members = list(holder.items())
            holder.clear()
            for k, v in members:
                if k == key:
                    for piece in run.pieces:
                        holder.update(piece)
                else:
                    holder[k] = v
        return value

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
                value = self._load(buf, self._start, end, guess=True)
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

    def _load(self, buf: bytearray, start: int, stop: int, *, guess: bool = False) -> Any:
        """Parse buf[start:stop] (size-checked, GC paused when big); decode errors escape.

        ``guess``: the caller is not sure a value ends exactly at ``stop`` (then a
        failed parse only means "not there").
        """
        size = stop - start + (self._dropped if start == 0 else 0)
        if size > self._max:
            raise MessageTooLargeError(size, self._max, offset=self._consumed + start)
        runs = [run for run in self._runs if run.pieces] if start == 0 else []
        with gc_paused(size >= _BIG_MESSAGE):
            if runs:
                # The pieces' bytes are gone: the rest with its placeholders is all
                # there is to parse (its errors are the value's errors).
                value = self._assemble(buf, stop, runs)
                self._consumed += self._dropped
            else:
                self.largest_parse = max(self.largest_parse, stop - start)
                chunk = buf if (start == 0 and stop == len(buf)) else buf[start:stop]
                value = _loads(chunk)
            if start == 0:
                self._forget_pieces()
            return value

    def _parse(self, buf: bytearray, start: int, stop: int) -> Any:
        try:
            return self._load(buf, start, stop)
        except MessageTooLargeError:
            raise
        except _DecodeErrors as exc:
            raise self._error(f"malformed JSON: {exc}", start) from None
        except RecursionError:
            raise self._error("JSON nested too deeply", start) from None
