"""Atoms and datums: OVSDB values in JSON form and in Python form.

Python forms, by column shape (see :class:`~ovsdb_ic.wire.schema.ColumnType`):

========================  ===============================================
column shape              Python value
========================  ===============================================
scalar (min=max=1)        the atom
optional (min=0, max=1)   the atom, or ``None``
set (max > 1)             ``frozenset`` of atoms
map                       ``dict`` of atom to atom (treat as read-only)
========================  ===============================================

Atoms: ``int`` (integer), ``float`` (real; ints are accepted on input),
``bool`` (boolean), ``str`` (string), :class:`uuid.UUID` (uuid) and, inside
transactions only, :class:`NamedUUID` (a ``named-uuid`` reference to a row
inserted by the same transaction).

Everything here validates: a value that does not fit its column type raises
:class:`~ovsdb_ic.errors.DataError` naming ``Table.column``, the offending
value and the reason. Decoders and encoders are compiled once per column type
(:func:`column_codec`) so the hot path of a large monitor reply is a few
``type()`` checks per value.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Set
from functools import lru_cache
from typing import Any, Final

import attrs

from ovsdb_ic.errors import DataError
from ovsdb_ic.wire.schema import INT64_MAX, INT64_MIN, BaseType, ColumnType

__all__ = [
    "NamedUUID",
    "ColumnCodec",
    "column_codec",
    "atom_from_json",
    "atom_to_json",
    "atoms_from_json_set",
    "datum_from_json",
    "datum_to_json",
    "diff_from_json",
    "apply_diff",
    "make_diff",
    "parse_uuid",
]

_UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
_ID_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_new_uuid = object.__new__
_intern = sys.intern
_set_attr = object.__setattr__
_SAFE_UNKNOWN = uuid.SafeUUID.unknown
_UUID = uuid.UUID
_INF = float("inf")
# References repeat (every Route names its Availability_Zone): decoding each
# distinct UUID text once saves time, and sharing the UUID objects saves
# replica memory. Bounded; cleared when full.
_UUID_CACHE: dict[str, uuid.UUID] = {}
_UUID_CACHE_SIZE: Final = 1 << 16
_EMPTY2: Final = ("", "")  # s.join(_EMPTY2) is a new copy of s
_MAX_FLOAT_INT = int(sys.float_info.max)
# What ovsdb-server cannot take: its JSON lexer drops the connection over a real
# that is not zero or a normal double (strtod reports ERANGE) and over U+0000 in a
# string; lone surrogates are not UTF-8 at all. It also writes reals with 15
# significant digits, to clients and to its database file alike, so a real whose
# 15-digit form is not a normal double (2.2250738585072014e-308 becomes
# 2.2250738585072e-308, 1.7976931348623157e308 becomes 1.79769313486232e+308) is
# accepted but makes the file unreadable and the C clients fail. The encoders refuse
# all of these with a DataError before anything is sent.
_MIN_NORMAL: Final = sys.float_info.min
_MAX_REAL: Final = sys.float_info.max
_NEAR_MIN: Final = 2.2250738585073e-308  # outside (_NEAR_MIN, _NEAR_MAX) look closer
_NEAR_MAX: Final = 1.7976931348623e308


def _real_problem(v: float) -> str | None:
    """Why ovsdb-server cannot keep the real ``v``, or None."""
    if not v or _NEAR_MIN < abs(v) < _NEAR_MAX:
        return None
    written = float(f"{v:.15g}")
    if _MIN_NORMAL <= abs(written) <= _MAX_REAL:
        return None
    return (f"ovsdb-server writes reals with 15 significant digits and reads back only "
            f"zero and normal doubles; this one would be written as {v:.15g}")


def parse_uuid(text: str) -> uuid.UUID:
    """Parse the canonical ``8-4-4-4-12`` hex form; raise DataError otherwise."""
    if type(text) is not str or not _UUID_RE.match(text):
        raise DataError("not a UUID in 8-4-4-4-12 hex form", value=text)
    u = _new_uuid(_UUID)
    _set_attr(u, "int", int(text.replace("-", ""), 16))
    _set_attr(u, "is_safe", _SAFE_UNKNOWN)
    return u


@attrs.frozen
class NamedUUID:
    """A ``named-uuid``: refers, inside one transaction, to a row it inserts.

    ``name`` must be an identifier (letters, digits and underscores, not
    starting with a digit).
    """

    name: str = attrs.field()

    @name.validator
    def _check(self, _attr: Any, value: str) -> None:
        if not isinstance(value, str) or not _ID_RE.match(value):
            raise DataError("a named-uuid must be an identifier", value=value)


_Dec = Callable[[Any], Any]
_Enc = Callable[[Any], Any]


def _kind(value: Any) -> str:
    return type(value).__name__


# Decoded strings are never the parser's own objects. A JSON parser allocates every
# string of a message among the lists and dicts of its tree; a string kept from it
# (a route's prefix in a replica) keeps the allocator's memory around it from being
# returned once the tree is freed, and a replica built from a big message then held
# about twice its own size in resident memory. So the decoders hand out a new copy
# of each string (``s.join(("", ""))``, under 0.1 us), the enum member itself for an
# enum value, and the one interned object for a string map key (few distinct ones).


def _enum_strings(base: BaseType) -> dict[str, str] | None:
    """``{value: value}`` over a string enum's members (their shared objects), or None."""
    if base.type != "string" or base.enum is None:
        return None
    return {_intern(v): _intern(v) for v in base.enum if type(v) is str}


# --------------------------------------------------------------------------- atoms


def _check_constraints(base: BaseType, value: Any, where: str | None) -> None:
    """Check enum and range constraints of an already type-correct atom."""
    if base.enum is not None and value not in base.enum:
        allowed = ", ".join(repr(a) for a in sorted(base.enum))
        raise DataError(f"not one of the allowed values {allowed}", value=value, where=where)
    t = base.type
    if t == "integer":
        lo = INT64_MIN if base.min_integer is None else base.min_integer
        hi = INT64_MAX if base.max_integer is None else base.max_integer
        if not lo <= value <= hi:
            raise DataError(f"integer out of range {lo}..{hi}", value=value, where=where)
    elif t == "real":
        if base.min_real is not None and value < base.min_real:
            raise DataError(f"real below minimum {base.min_real}", value=value, where=where)
        if base.max_real is not None and value > base.max_real:
            raise DataError(f"real above maximum {base.max_real}", value=value, where=where)
    elif t == "string":
        n = len(value)
        if base.min_length is not None and n < base.min_length:
            raise DataError(
                f"string shorter than {base.min_length} characters", value=value, where=where
            )
        if base.max_length is not None and n > base.max_length:
            raise DataError(
                f"string longer than {base.max_length} characters", value=value, where=where
            )


def _atom_decoder(base: BaseType, where: str | None, allow_named: bool) -> _Dec:
    t = base.type
    constrained = base.has_constraints or t == "integer"

    def check(v: Any) -> Any:
        if constrained:
            _check_constraints(base, v, where)
        return v

    if t == "string":
        if not base.has_constraints:

            def dec_str(j: Any) -> Any:
                if type(j) is not str:
                    raise DataError("expected a string", value=j, where=where)
                return j.join(_EMPTY2)

            return dec_str

        canon = _enum_strings(base)

        def dec_str_c(j: Any) -> Any:
            if type(j) is not str:
                raise DataError("expected a string", value=j, where=where)
            check(j)
            return canon[j] if canon is not None else j.join(_EMPTY2)

        return dec_str_c
    if t == "integer":

        def dec_int(j: Any) -> Any:
            if type(j) is not int:
                raise DataError("expected an integer", value=j, where=where)
            return check(j)

        return dec_int
    if t == "real":

        def dec_real(j: Any) -> Any:
            if type(j) is not float and type(j) is not int:
                raise DataError("expected a real number", value=j, where=where)
            try:
                f = float(j)
            except OverflowError:
                raise DataError("real out of range", value=j, where=where) from None
            if f != f or f in (_INF, -_INF):
                raise DataError("reals must be finite", value=j, where=where)
            return check(f)

        return dec_real
    if t == "boolean":

        def dec_bool(j: Any) -> Any:
            if type(j) is not bool:
                raise DataError("expected true or false", value=j, where=where)
            return check(j)

        return dec_bool

    def dec_uuid(j: Any) -> Any:
        if type(j) is list and len(j) == 2:
            tag = j[0]
            if tag == "uuid":
                text = j[1]
                u = _UUID_CACHE.get(text) if type(text) is str else None
                if u is None:
                    if type(text) is not str or not _UUID_RE.match(text):
                        raise DataError(
                            "not a UUID in 8-4-4-4-12 hex form", value=j, where=where
                        )
                    u = _new_uuid(_UUID)
                    _set_attr(u, "int", int(text.replace("-", ""), 16))
                    _set_attr(u, "is_safe", _SAFE_UNKNOWN)
                    if len(_UUID_CACHE) >= _UUID_CACHE_SIZE:
                        _UUID_CACHE.clear()
                    _UUID_CACHE[text] = u
                return check(u) if base.enum is not None else u
            if tag == "named-uuid" and allow_named:
                if type(j[1]) is not str or not _ID_RE.match(j[1]):
                    raise DataError("a named-uuid needs an identifier", value=j, where=where)
                return NamedUUID(j[1])
        want = '["uuid", ...] or ["named-uuid", ...]' if allow_named else '["uuid", ...]'
        raise DataError(f"expected {want}", value=j, where=where)

    return dec_uuid


def _atom_encoder(base: BaseType, where: str | None) -> _Enc:
    t = base.type
    constrained = base.has_constraints or t == "integer"

    def enc(v: Any) -> Any:
        if t == "string":
            if type(v) is not str:
                raise DataError(f"expected a str, not {_kind(v)}", value=v, where=where)
            if "\x00" in v:
                raise DataError("ovsdb-server refuses strings holding U+0000 (NUL)",
                                value=v, where=where)
            if not v.isascii():
                try:
                    v.encode()
                except UnicodeEncodeError:
                    raise DataError("not valid Unicode text (a lone surrogate)",
                                    value=v, where=where) from None
        elif t == "integer":
            if type(v) is not int:
                raise DataError(f"expected an int, not {_kind(v)}", value=v, where=where)
        elif t == "real":
            if type(v) is not float and type(v) is not int:
                raise DataError(f"expected a float, not {_kind(v)}", value=v, where=where)
            if v != v or v in (_INF, -_INF):
                raise DataError("reals must be finite", value=v, where=where)
            if type(v) is int and not -_MAX_FLOAT_INT <= v <= _MAX_FLOAT_INT:
                raise DataError("real out of range", value=v, where=where)
            problem = _real_problem(v)
            if problem is not None:
                raise DataError(problem, value=v, where=where)
        elif t == "boolean":
            if type(v) is not bool:
                raise DataError(f"expected a bool, not {_kind(v)}", value=v, where=where)
        else:
            if isinstance(v, uuid.UUID):
                if constrained:
                    _check_constraints(base, v, where)
                return ["uuid", str(v)]
            if isinstance(v, NamedUUID):
                return ["named-uuid", v.name]
            raise DataError(
                f"expected a uuid.UUID or NamedUUID, not {_kind(v)}", value=v, where=where
            )
        if constrained:
            _check_constraints(base, v, where)
        return v

    return enc


def atom_from_json(
    base: BaseType, value: Any, *, where: str | None = None, allow_named: bool = False
) -> Any:
    """Convert one atom from JSON to Python, validating it against ``base``."""
    return _atom_decoder(base, where, allow_named)(value)


def atom_to_json(base: BaseType, value: Any, *, where: str | None = None) -> Any:
    """Convert one Python atom to JSON, validating it against ``base``."""
    return _atom_encoder(base, where)(value)


def atoms_from_json_set(base: BaseType, value: Any) -> frozenset[Any]:
    """Decode a ``<set>`` (or a single atom) of ``base`` atoms, as used by ``enum``.

    Enum constraints of ``base`` itself are ignored (this parses the enum).
    """
    plain = attrs.evolve(base, enum=None)
    dec = _atom_decoder(plain, None, False)
    if type(value) is list and len(value) == 2 and value[0] == "set":
        if type(value[1]) is not list:
            raise DataError('a set is ["set", [atoms...]]', value=value)
        atoms = [dec(a) for a in value[1]]
        result = frozenset(atoms)
        if len(result) != len(atoms):
            raise DataError("set contains duplicate values", value=value)
        return result
    return frozenset([dec(value)])


# --------------------------------------------------------------------------- datums


@attrs.frozen
class ColumnCodec:
    """Compiled converters for one column type.

    ``decode(json)`` returns the Python value; ``encode(value)`` returns JSON;
    ``decode_diff(json)`` decodes an ``update2`` modify diff of this column;
    ``apply_diff(old, diff)`` applies a decoded diff to an old value.
    """

    type: ColumnType
    decode: _Dec
    encode: _Enc
    decode_diff: _Dec
    apply_diff: Callable[[Any, Any], Any]


def _bounds_error(ctype: ColumnType, n: int, value: Any, where: str | None) -> DataError:
    hi = "unlimited" if ctype.max is None else str(ctype.max)
    return DataError(
        f"has {n} element{'s' if n != 1 else ''}, but the column allows {ctype.min} to {hi}",
        value=value,
        where=where,
    )


def _make_set_decoder(ctype: ColumnType, dec: _Dec, where: str | None, limited: bool) -> _Dec:
    """Decoder returning a frozenset from a ``<set>`` or a single atom."""
    mn, mx = ctype.min, ctype.max

    def dec_set(j: Any) -> frozenset[Any]:
        if type(j) is list and len(j) == 2 and j[0] == "set":
            items = j[1]
            if type(items) is not list:
                raise DataError('a set is ["set", [atoms...]]', value=j, where=where)
            result = frozenset([dec(a) for a in items])
            if len(result) != len(items):
                raise DataError("set contains duplicate values", value=j, where=where)
            n = len(result)
            if limited and (n < mn or (mx is not None and n > mx)):
                raise _bounds_error(ctype, n, j, where)
            return result
        if limited and mx is not None and mx < 1:
            raise _bounds_error(ctype, 1, j, where)
        return frozenset([dec(j)])

    return dec_set


def _make_map_decoder(ctype: ColumnType, kdec: _Dec, vdec: _Dec, where: str | None,
                      limited: bool) -> _Dec:
    mn, mx = ctype.min, ctype.max
    if ctype.key.type == "string":
        kdec_plain = kdec

        def kdec(j: Any) -> Any:
            return _intern(kdec_plain(j))  # few distinct keys: one object each

    def dec_map(j: Any) -> dict[Any, Any]:
        if type(j) is not list or len(j) != 2 or j[0] != "map" or type(j[1]) is not list:
            raise DataError('expected a map ["map", [[key, value], ...]]', value=j, where=where)
        pairs = j[1]
        out: dict[Any, Any] = {}
        for p in pairs:
            if type(p) is not list or len(p) != 2:
                raise DataError("map entries must be [key, value] pairs", value=p, where=where)
            out[kdec(p[0])] = vdec(p[1])
        if len(out) != len(pairs):
            raise DataError("map contains duplicate keys", value=j, where=where)
        n = len(out)
        if limited and (n < mn or (mx is not None and n > mx)):
            raise _bounds_error(ctype, n, j, where)
        return out

    return dec_map


def _fast_atom_encoder(base: BaseType, enc: _Enc) -> _Enc:
    """Wrap an atom encoder with an inline path for the common, valid case.

    The inline path returns what ``enc`` returns; anything else (a wrong type, a
    string with NUL or non-ASCII text, a constrained type) goes to ``enc``, which
    validates fully and raises the precise error.
    """
    t = base.type
    if t == "string" and not base.has_constraints:

        def fast_str(v: Any) -> Any:
            if type(v) is str and v.isascii() and "\x00" not in v:
                return v
            return enc(v)

        return fast_str
    if t == "uuid" and base.enum is None:
        new_uuid_json = _uuid_json

        def fast_uuid(v: Any) -> Any:
            if type(v) is _UUID:
                return new_uuid_json(v)
            return enc(v)

        return fast_uuid
    if t == "integer" and base.enum is None:
        lo = INT64_MIN if base.min_integer is None else base.min_integer
        hi = INT64_MAX if base.max_integer is None else base.max_integer

        def fast_int(v: Any) -> Any:
            if type(v) is int and lo <= v <= hi:
                return v
            return enc(v)

        return fast_int
    if t == "boolean" and base.enum is None:

        def fast_bool(v: Any) -> Any:
            return v if type(v) is bool else enc(v)

        return fast_bool
    return enc


def _no_fast_path(_base: BaseType, enc: _Enc) -> _Enc:
    return enc


def _uuid_json(v: uuid.UUID) -> list[str]:
    """``["uuid", text]`` of a UUID (what the uuid atom encoder returns)."""
    return ["uuid", str(v)]


def _build_codec(ctype: ColumnType, where: str | None, allow_named: bool,
                 fast: bool = True) -> ColumnCodec:
    """The codec of ``ctype``; ``fast`` false leaves out the inline paths of the encoders
    (the reference the tests hold them to)."""
    inline = _fast_atom_encoder if fast else _no_fast_path
    kdec = _atom_decoder(ctype.key, where, allow_named)
    kenc = inline(ctype.key, _atom_encoder(ctype.key, where))
    # Diffs of set/map columns may toggle more elements than max allows
    # (replacing x by y toggles both), so they are decoded without bounds.
    unbounded = ColumnType(ctype.key, ctype.value, 0, None)
    # Columns holding at most one value (max 1) are not "composite" for
    # ovsdb-server: their update2 diff is simply the new value.
    single = ctype.max == 1

    if ctype.value is not None:
        vdec = _atom_decoder(ctype.value, where, allow_named)
        venc = inline(ctype.value, _atom_encoder(ctype.value, where))
        decode = _fast_map(ctype, _make_map_decoder(ctype, kdec, vdec, where, True))
        diff_dec = _make_map_decoder(unbounded, kdec, vdec, where, False)
        mn, mx = ctype.min, ctype.max

        def encode_map(v: Any) -> Any:
            if type(v) is not dict and not isinstance(v, Mapping):
                raise DataError(f"expected a mapping, not {_kind(v)}", value=v, where=where)
            n = len(v)
            if n < mn or (mx is not None and n > mx):
                raise _bounds_error(ctype, n, v, where)
            return ["map", [[kenc(k), venc(x)] for k, x in v.items()]]

        def apply_map(old: Any, diff: Any) -> Any:
            new = dict(old) if old else {}
            for k, x in diff.items():
                if k not in new:
                    new[k] = x
                elif new[k] == x:
                    del new[k]
                else:
                    new[k] = x
            return new

        if single:
            return ColumnCodec(ctype, decode, encode_map, decode, _replace)
        return ColumnCodec(ctype, decode, encode_map, diff_dec, apply_map)

    set_dec = _make_set_decoder(ctype, kdec, where, True)
    toggle_dec = _make_set_decoder(unbounded, kdec, where, False)

    if ctype.is_scalar:

        def slow_scalar(j: Any) -> Any:
            if type(j) is list and len(j) == 2 and j[0] == "set":
                (only,) = set_dec(j)
                return only
            return kdec(j)

        decode_scalar = _fast_scalar(ctype.key, slow_scalar)

        def encode_scalar(v: Any) -> Any:
            if v is None:
                raise DataError("a value is required (the column is not optional)", where=where)
            return kenc(v)

        return ColumnCodec(ctype, decode_scalar, inline(ctype.key, encode_scalar),
                           decode_scalar, _replace)

    if ctype.is_optional:

        def decode_opt(j: Any) -> Any:
            if type(j) is list and len(j) == 2 and j[0] == "set":
                s = set_dec(j)
                return next(iter(s)) if s else None
            return kdec(j)

        def encode_opt(v: Any) -> Any:
            if v is None:
                return ["set", []]
            if isinstance(v, Set | list | tuple) and not isinstance(v, str):
                items = list(v)
                if len(items) > 1:
                    raise _bounds_error(ctype, len(items), v, where)
                return ["set", [kenc(x) for x in items]]
            return kenc(v)

        return ColumnCodec(ctype, decode_opt, encode_opt, decode_opt, _replace)

    mn, mx = ctype.min, ctype.max

    def encode_set(v: Any) -> Any:
        if isinstance(v, str | bytes | Mapping) or not isinstance(v, Iterable):
            raise DataError(f"expected a set, not {_kind(v)}", value=v, where=where)
        items = list(v) if isinstance(v, Set) else list(dict.fromkeys(v))
        n = len(items)
        if n < mn or (mx is not None and n > mx):
            raise _bounds_error(ctype, n, v, where)
        if n == 1:
            return kenc(items[0])
        return ["set", [kenc(x) for x in items]]

    def apply_set(old: Any, diff: Any) -> Any:
        return (old or frozenset()) ^ diff

    return ColumnCodec(ctype, set_dec, encode_set, toggle_dec, apply_set)


def _replace(_old: Any, new: Any) -> Any:
    return new


def _fast_scalar(base: BaseType, slow: _Dec) -> _Dec:
    """Wrap a scalar decoder with an inline path for the common, valid case.

    Anything the fast path does not accept goes to ``slow``, which validates
    fully and raises the precise error.
    """
    t = base.type
    if t == "string" and base.min_length is None and base.max_length is None:
        canon = _enum_strings(base)
        if canon is None:

            def fast_str(j: Any) -> Any:
                return j.join(_EMPTY2) if type(j) is str else slow(j)

            return fast_str

        def fast_enum(j: Any) -> Any:
            if type(j) is str:
                v = canon.get(j)
                if v is not None:
                    return v
            return slow(j)

        return fast_enum
    if t == "uuid" and base.enum is None:
        cache = _UUID_CACHE

        def fast_uuid(j: Any) -> Any:
            if type(j) is list and len(j) == 2 and j[0] == "uuid":
                u = cache.get(j[1])
                if u is not None:
                    return u
            return slow(j)

        return fast_uuid
    if t == "integer" and base.enum is None:
        lo = INT64_MIN if base.min_integer is None else base.min_integer
        hi = INT64_MAX if base.max_integer is None else base.max_integer

        def fast_int(j: Any) -> Any:
            return j if type(j) is int and lo <= j <= hi else slow(j)

        return fast_int
    return slow


def _fast_map(ctype: ColumnType, slow: _Dec) -> _Dec:
    """Inline path for unconstrained string-to-string maps (external_ids, options)."""
    key, value = ctype.key, ctype.value
    if (
        value is None
        or key.type != "string" or key.has_constraints
        or value.type != "string" or value.has_constraints
    ):
        return slow
    mn, mx = ctype.min, ctype.max

    def fast_map(j: Any) -> Any:
        if type(j) is list and len(j) == 2 and j[0] == "map" and type(j[1]) is list:
            pairs = j[1]
            out = {}
            for p in pairs:
                # A list of two (a two-character string would unpack as a pair too).
                if type(p) is not list or len(p) != 2:
                    return slow(j)
                k, v = p
                if type(k) is not str or type(v) is not str:
                    return slow(j)
                out[_intern(k)] = v.join(_EMPTY2)  # see _enum_strings
            n = len(out)
            if n == len(pairs) and n >= mn and (mx is None or n <= mx):
                return out
        return slow(j)

    return fast_map


@lru_cache(maxsize=4096)
def column_codec(ctype: ColumnType, where: str | None = None,
                 allow_named: bool = False) -> ColumnCodec:
    """Return the (cached) compiled codec of a column type.

    ``where`` (``"Table.column"``) is used in error messages. ``allow_named``
    lets decoders accept ``["named-uuid", name]`` atoms, as transactions may.
    """
    return _build_codec(ctype, where, allow_named)


def datum_from_json(ctype: ColumnType, value: Any, *, where: str | None = None,
                    allow_named: bool = False) -> Any:
    """Convert a datum from JSON to its Python form, validating it."""
    return column_codec(ctype, where, allow_named).decode(value)


def datum_to_json(ctype: ColumnType, value: Any, *, where: str | None = None) -> Any:
    """Convert a Python value to datum JSON, validating it against ``ctype``."""
    return column_codec(ctype, where).encode(value)


def diff_from_json(ctype: ColumnType, value: Any, *, where: str | None = None) -> Any:
    """Decode an ``update2`` "modify" diff of one column.

    Columns holding at most one value (scalars, optional columns, maps with
    max 1) decode to the new value, as ``ovsdb-server`` sends them whole; sets
    decode to the ``frozenset`` of atoms to toggle, maps to the ``dict`` of
    pairs to add, remove (same value) or replace (different value).
    """
    return column_codec(ctype, where).decode_diff(value)


def apply_diff(ctype: ColumnType, old: Any, diff: Any, *, where: str | None = None) -> Any:
    """Apply a decoded ``update2`` diff (see :func:`diff_from_json`) to ``old``."""
    return column_codec(ctype, where).apply_diff(old, diff)


def make_diff(ctype: ColumnType, old: Any, new: Any) -> Any:
    """The decoded diff that turns ``old`` into ``new`` (inverse of :func:`apply_diff`).

    Useful for tests and for servers; ``ovsdb-server`` computes the same thing.
    """
    if ctype.max == 1:
        return new
    if ctype.value is not None:
        out: dict[Any, Any] = {}
        old = old or {}
        for k, v in old.items():
            if k not in new:
                out[k] = v
            elif new[k] != v:
                out[k] = new[k]
        for k, v in new.items():
            if k not in old:
                out[k] = v
        return out
    return frozenset(old or ()) ^ frozenset(new or ())
