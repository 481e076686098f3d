"""Rows as ``ovsdb-ic monitor`` prints them, straight from an ``update2`` initial copy.

``ovsdb-ic monitor`` prints each row as a JSON object of all the row's columns, each
value in the JSON a decoded value encodes back to (:func:`value_encoder`): sets and
optional columns in the form :func:`~ovsdb_ic.wire.data.column_codec` writes, maps as
their pairs in the order they came, UUIDs in lower case, reals as Python floats.

:func:`initial_columns` gives the same JSON for the rows of a ``monitor_cond`` or
``monitor_cond_since`` initial copy without decoding them into Python values: a column
whose values the quick column-wise checks of :mod:`ovsdb_ic.wire.dump` accept, and
which is already in that form, is used as the server sent it; any other column goes
through its decoder value by value (raising the same
:class:`~ovsdb_ic.errors.DataError`, naming ``Table.column``, as decoding the update
does) and is encoded back. Columns the server left out (``update2`` omits defaults)
get their default value's JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, Final

from ovsdb_ic.wire.data import column_codec
from ovsdb_ic.wire.dump import _map_shape, _quick_column
from ovsdb_ic.wire.monitor import default_value
from ovsdb_ic.wire.schema import BaseType, ColumnType, TableSchema

__all__ = ["canonical_uuid_keys", "default_json", "initial_columns", "json_column",
           "value_encoder"]

Encoder = Callable[[Any], Any]

_STR: Final = {str}
_LIST: Final = {list}
_TWO: Final = {2}
_UUID_LEN: Final = {36}
_UUID_TAG: Final = {"uuid"}
_DASH_AT: Final = (8, 13, 18, 23)
_LOWER_HEX: Final = b"0123456789abcdef-"
_first = itemgetter(0)
_second = itemgetter(1)
_MISSING: Final = object()
"""Stands for a column a row object leaves out (compares equal to nothing else)."""


def _uuid_json(u: Any) -> list[str]:
    return ["uuid", str(u)]


def value_encoder(ctype: ColumnType) -> Encoder | None:
    """The JSON of a decoded value of a column of type ``ctype``, without checking it
    again (it was validated when decoded); None when the value is its own JSON
    (strings, integers, booleans, reals)."""
    k = _uuid_json if ctype.key.type == "uuid" else None
    if ctype.value is not None:
        v = _uuid_json if ctype.value.type == "uuid" else None
        if k is None and v is None:
            return lambda d: ["map", list(map(list, d.items()))]
        kk: Encoder = k or (lambda a: a)
        vv: Encoder = v or (lambda a: a)
        return lambda d: ["map", [[kk(a), vv(b)] for a, b in d.items()]]
    if ctype.is_scalar:
        return k
    if ctype.is_optional:
        ko: Encoder = k or (lambda a: a)
        return lambda x: ["set", []] if x is None else ko(x)

    def enc_set(values: Any) -> Any:
        items = list(map(k, values)) if k is not None else list(values)
        return items[0] if len(items) == 1 else ["set", items]

    return enc_set


def default_json(ctype: ColumnType) -> Any:
    """The JSON :func:`value_encoder` gives for the column's default value."""
    value = default_value(ctype)
    enc = value_encoder(ctype)
    return value if enc is None else enc(value)


def canonical_uuid_keys(texts: Sequence[Any]) -> bool:
    """True when every item of ``texts`` is a UUID in lower-case 8-4-4-4-12 form (the
    text ``str(uuid.UUID(...))`` gives back).

    C-level passes only: 36-character strings whose hyphens are exactly at offsets 8,
    13, 18 and 23 and whose other characters are lower-case hexadecimal digits.
    """
    if not texts:
        return True
    if set(map(type, texts)) != _STR or set(map(len, texts)) != _UUID_LEN:
        return False
    joined = "".join(texts)
    n = len(texts)
    if joined.count("-") != 4 * n:
        return False
    dashes = "-" * n
    if any(joined[i::36] != dashes for i in _DASH_AT):
        return False
    try:
        raw = joined.encode("ascii")
    except UnicodeEncodeError:
        return False
    return not raw.translate(None, _LOWER_HEX)


def _canonical_uuid_atoms(atoms: list[Any]) -> bool:
    """True when every item of ``atoms`` is ``["uuid", text]`` with a canonical text."""
    if set(map(type, atoms)) != _LIST or set(map(len, atoms)) != _TWO:
        return False
    return set(map(_first, atoms)) == _UUID_TAG and canonical_uuid_keys(list(map(_second, atoms)))


def _same_after_decoding(base: BaseType, atoms: list[Any]) -> bool:
    """True when ``atoms`` (valid for ``base``) encode back to themselves once decoded."""
    if base.type == "uuid":
        return canonical_uuid_keys(list(map(_second, atoms)))
    return base.type != "real"  # a real such as 1 decodes to 1.0


def _as_is(ctype: ColumnType, values: list[Any]) -> bool:
    """True when every datum in ``values`` is valid and already in :func:`value_encoder`'s
    form (False: decode and encode value by value)."""
    if not values:
        return True
    if ctype.is_scalar and ctype.key.type == "uuid" and ctype.key.enum is None:
        return _canonical_uuid_atoms(values)  # _quick_column's check, lower case only
    if ctype.value is not None and _plain_string(ctype.key) and _plain_string(ctype.value):
        return _string_maps(ctype, values)
    if not _quick_column(ctype, values):
        return False
    if ctype.is_scalar:
        return _same_after_decoding(ctype.key, values)
    # _quick_column accepts only scalars and maps: here values are ["map", pairs] with
    # distinct keys, which decode to a dict keeping the pairs' order.
    assert ctype.value is not None
    if ctype.key.type not in ("uuid", "real") and ctype.value.type not in ("uuid", "real"):
        return True
    pairs = [p for _, m in values for p in m]
    return (_same_after_decoding(ctype.key, list(map(_first, pairs)))
            and _same_after_decoding(ctype.value, list(map(_second, pairs))))


def _plain_string(base: BaseType) -> bool:
    return (base.type == "string" and base.enum is None and base.min_length is None
            and base.max_length is None)


def _string_maps(ctype: ColumnType, values: list[Any]) -> bool:
    """:func:`~ovsdb_ic.wire.dump._quick_column` for maps of unconstrained strings to
    unconstrained strings (``external_ids``, ``options``...), with fewer passes: the
    keys and values are checked together."""
    shape = _map_shape(ctype, values)
    if shape is None:
        return False
    maps, sizes, pairs = shape
    if not pairs:
        return True
    if set(map(type, chain.from_iterable(pairs))) != _STR:
        return False
    return max(sizes) < 2 or sizes == list(map(len, map(dict, maps)))  # no duplicate key


def json_column(ctype: ColumnType, values: Sequence[Any], where: str | None = None) -> list[Any]:
    """The JSON datums ``values`` of one column, validated, in :func:`value_encoder`'s form.

    Raises the :class:`~ovsdb_ic.errors.DataError` the column's decoder raises for the
    first invalid datum (``where`` is ``"Table.column"`` in its message).
    """
    vals = values if type(values) is list else list(values)
    if _as_is(ctype, vals):
        return vals
    decode = column_codec(ctype, where).decode
    enc = value_encoder(ctype)
    decoded = list(map(decode, vals))
    return decoded if enc is None else list(map(enc, decoded))


def initial_columns(table: TableSchema, columns: Sequence[str],
                    rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """For each of ``columns``, the JSON of its values in ``rows`` (row objects of an
    ``update2`` ``initial`` or ``insert``), validated and in :func:`value_encoder`'s form;
    a column a row lacks holds its default (not checked: a default may lie outside the
    column's range, as the decoder allows too). Other members of the rows are ignored.

    Raises :class:`~ovsdb_ic.errors.DataError` naming ``Table.column`` for a value that
    does not fit its column, as :class:`~ovsdb_ic.wire.monitor.TableDecoder` does.
    """
    out = []
    n = len(rows)
    for name in columns:
        ctype = table.column(name).type
        where = f"{table.name}.{name}"
        present = sum(map(dict.__contains__, rows, repeat(name, n)))
        if present == n:
            values = list(map(dict.__getitem__, rows, repeat(name, n)))
            out.append(json_column(ctype, values, where))
            continue
        default = default_json(ctype)
        if not present:
            out.append([default] * n)
            continue
        values = list(map(dict.get, rows, repeat(name, n), repeat(_MISSING, n)))
        given = iter(json_column(ctype, [v for v in values if v is not _MISSING], where))
        out.append([default if v is _MISSING else next(given) for v in values])
    return out

