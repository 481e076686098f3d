"""Tables as ``ovsdb-client -f json dump`` prints them, straight from a ``select`` reply.

:func:`format_table` takes the rows of a ``select`` result as the server sent them
(parsed JSON, never decoded into Python values), validates every cell against its
column type exactly as :func:`~ovsdb_ic.wire.data.column_codec` decoders do, sorts
the rows the way the C ``ovsdb-client`` does and returns the line it would print,
byte for byte. The common column types are checked a whole column at a time with
C-level loops (``map``, ``set``, one regular expression over all UUIDs of a column);
any other type, and any column whose quick check fails, goes through the column's
decoder value by value, which raises the precise
:class:`~ovsdb_ic.errors.DataError` (naming ``Table.column``) or accepts the value.

What makes the output identical to the C tool's:

* headings are ``_uuid`` and the table's columns, sorted by name (``strcmp``);
* rows are sorted by the values of the columns whose key type is not ``uuid`` (in
  heading order), then by the ``uuid`` columns; a datum compares first by its
  number of elements, then atom by atom (keys, then values of maps): strings by
  code point (the byte order of their UTF-8), UUIDs by their hex text;
* each cell is the server's own JSON for the datum: ``ovsdb-server`` keeps a datum's
  atoms sorted and writes a one-element set as the bare atom, as the C client does
  after parsing and printing it again. Reals are printed with ``%.15g``, as the OVS
  JSON library does; strings are escaped as it does (only ``"``, ``\\`` and control
  characters; everything else as UTF-8).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import chain, repeat, starmap
from operator import add, itemgetter, mul
from typing import Any, Final

from ovsdb_ic.errors import DataError, RemoteProtocolError
from ovsdb_ic.wire.data import column_codec
from ovsdb_ic.wire.schema import INT64_MAX, INT64_MIN, BaseType, ColumnType, TableSchema

__all__ = ["check_column", "dump_headings", "format_table", "sort_key_column"]

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _real_atom(x: Any) -> Any:
        return orjson.Fragment(b"%.15g" % x)

except ImportError:  # pragma: no cover - orjson is a declared dependency
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

    def _real_atom(x: Any) -> Any:
        return float(x)  # repr() formatting: may differ from %.15g in rare cases


_UUIDS_RE: Final = re.compile(
    r"(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\n)*\Z"
)
_STR: Final = {str}
_LIST: Final = {list}
_INT: Final = {int}
_BOOL: Final = {bool}
_TWO: Final = {2}
_first = itemgetter(0)
_second = itemgetter(1)


def dump_headings(table: TableSchema) -> list[str]:
    """``_uuid`` and the table's columns sorted by name, as ``ovsdb-client dump`` heads them."""
    return sorted(["_uuid", *table.columns])


# --------------------------------------------------------------------------- validation


def _uuid_texts_ok(texts: list[Any]) -> bool:
    if texts and set(map(type, texts)) != _STR:
        return False
    return _UUIDS_RE.match("\n".join(texts) + "\n" if texts else "") is not None


def _quick_atoms(base: BaseType, atoms: list[Any]) -> bool:
    """True when every JSON atom in ``atoms`` is valid for ``base`` (False: look closer)."""
    if not atoms:
        return True
    t = base.type
    if t == "string":
        if set(map(type, atoms)) != _STR:
            return False
        if base.min_length is not None or base.max_length is not None:
            lens = set(map(len, atoms))
            if base.min_length is not None and min(lens) < base.min_length:
                return False
            if base.max_length is not None and max(lens) > base.max_length:
                return False
        return base.enum is None or set(atoms) <= base.enum
    if t == "uuid":
        if base.enum is not None or set(map(type, atoms)) != _LIST:
            return False
        if set(map(len, atoms)) != _TWO or set(map(_first, atoms)) != {"uuid"}:
            return False
        return _uuid_texts_ok(list(map(_second, atoms)))
    if t == "integer":
        if set(map(type, atoms)) != _INT:
            return False
        lo = INT64_MIN if base.min_integer is None else base.min_integer
        hi = INT64_MAX if base.max_integer is None else base.max_integer
        if min(atoms) < lo or max(atoms) > hi:
            return False
        return base.enum is None or set(atoms) <= base.enum
    if t == "boolean":
        return set(map(type, atoms)) == _BOOL and (base.enum is None or set(atoms) <= base.enum)
    return False  # reals: the decoder checks finiteness and ranges


def _map_shape(
    ctype: ColumnType, values: list[Any]
) -> tuple[list[Any], list[int], list[Any]] | None:
    """The outer checks of a map column's JSON datums ``values`` (not empty): each is
    ``["map", [[k, v], ...]]`` with a number of pairs within the column's bounds.

    Returns the pair lists, their sizes and all the pairs in order, or None when a
    datum fails (the caller then looks closer). Keys and values are not checked.
    """
    if set(map(type, values)) != _LIST or set(map(len, values)) != _TWO:
        return None
    if set(map(_first, values)) != {"map"}:
        return None
    maps = list(map(_second, values))
    if set(map(type, maps)) != _LIST:
        return None
    sizes = list(map(len, maps))
    if min(sizes) < ctype.min or (ctype.max is not None and max(sizes) > ctype.max):
        return None
    pairs = list(chain.from_iterable(maps))
    if pairs and (set(map(type, pairs)) != _LIST or set(map(len, pairs)) != _TWO):
        return None
    return maps, sizes, pairs


def _quick_column(ctype: ColumnType, values: list[Any]) -> bool:
    """True when every JSON datum in ``values`` is valid for ``ctype`` (False: look closer)."""
    if not values:
        return True
    if ctype.is_scalar:
        return _quick_atoms(ctype.key, values)
    if ctype.value is None:
        return False  # optional and set columns: value by value
    shape = _map_shape(ctype, values)
    if shape is None:
        return False
    maps, sizes, pairs = shape
    if not (_quick_atoms(ctype.key, list(map(_first, pairs)))
            and _quick_atoms(ctype.value, list(map(_second, pairs)))):
        return False
    # No duplicate keys: a map's keys are hashable once they passed the atom checks.
    if ctype.key.type == "uuid":
        return sizes == [len({p[0][1] for p in m}) for m in maps]
    return sizes == list(map(len, map(dict, maps)))


def check_column(ctype: ColumnType, values: Sequence[Any], where: str | None = None) -> None:
    """Validate the JSON datums ``values`` of one column without keeping decoded values.

    Raises the :class:`~ovsdb_ic.errors.DataError` the column's decoder raises for the
    first invalid datum (``where`` is ``"Table.column"`` in its message).
    """
    vals = values if type(values) is list else list(values)
    if _quick_column(ctype, vals):
        return
    decode = column_codec(ctype, where).decode
    for v in vals:
        decode(v)


# --------------------------------------------------------------------------- sorting


def _atom_key(base: BaseType) -> Callable[[Any], Any]:
    if base.type == "uuid":
        return _second
    return lambda atom: atom


_TEXTUAL: Final = frozenset({"string", "uuid"})


def _texts(base: BaseType, atoms: Sequence[Any]) -> Sequence[Any]:
    return list(map(_second, atoms)) if base.type == "uuid" else atoms


def sort_key_column(ctype: ColumnType, values: Sequence[Any]) -> list[Any]:
    """Sort keys of one column's valid JSON datums, ordered as the C tool orders datums.

    A datum compares by its number of elements first, then atom by atom (the keys,
    then the values of a map); UUIDs compare by their text. Datums of string and UUID
    atoms get one string each (the count in ten digits, then the atoms, NUL-separated:
    OVSDB strings hold no NUL, and NUL sorts before every other character), which
    compares in the same order as the atom-by-atom rule and much faster than tuples.
    """
    if ctype.is_scalar:
        if ctype.key.type == "uuid":
            return list(map(_second, values))
        return list(values)
    kbase, vbase = ctype.key, ctype.value
    if kbase.type in _TEXTUAL and (vbase is None or vbase.type in _TEXTUAL):
        keys = _text_keys(kbase, vbase, values)
        if keys is not None:
            return keys
    key = _atom_key(kbase)
    if vbase is not None:
        val = _atom_key(vbase)

        def map_key(j: Any) -> Any:
            pairs = j[1]
            return (len(pairs), tuple(key(p[0]) for p in pairs),
                    tuple(val(p[1]) for p in pairs))

        return list(map(map_key, values))
    is_uuid = kbase.type == "uuid"

    def set_key(j: Any) -> Any:
        if type(j) is list and j[0] == "set":
            return (len(j[1]), tuple(map(key, j[1])))
        if is_uuid or type(j) is not list:
            return (1, (key(j),))
        raise DataError("not a datum", value=j)  # pragma: no cover - validated before

    return list(map(set_key, values))


def _text_keys(kbase: BaseType, vbase: BaseType | None, values: Sequence[Any]) -> list[str] | None:
    """One string per datum (see :func:`sort_key_column`); None when an atom holds a NUL."""
    if vbase is not None:
        maps = list(map(_second, values))
        sizes = list(map(len, maps))
        if kbase.type == "string" and vbase.type == "string":
            # All C-level: per map, zip(*pairs) gives (keys, values); chained and
            # NUL-joined, behind the zero-padded count.
            texts = map("\0".join, map(chain.from_iterable, starmap(zip, maps)))
            keys = list(map(add, map("%010d\0".__mod__, sizes), texts))
        else:
            def map_key(j: Any) -> str:
                pairs = j[1]
                if not pairs:
                    return "0000000000\0"
                ks, vs = zip(*pairs, strict=True)
                return "%010d\0%s\0%s" % (  # noqa: UP031
                    len(pairs), "\0".join(_texts(kbase, ks)), "\0".join(_texts(vbase, vs)))

            keys = list(map(map_key, values))
        separators = 2 * sum(sizes) + sizes.count(0)
    else:
        is_uuid = kbase.type == "uuid"

        def set_key(j: Any) -> str:
            if type(j) is list and j[0] == "set":
                return "%010d\0%s" % (len(j[1]), "\0".join(_texts(kbase, j[1])))  # noqa: UP031
            atom: str = j[1] if is_uuid else j
            return "0000000001\0" + atom

        keys = list(map(set_key, values))
        separators = sum(len(j[1]) if type(j) is list and j[0] == "set" else 1 for j in values)
    return keys if "".join(keys).count("\0") == separators else None


# --------------------------------------------------------------------------- output


def _real_cell(ctype: ColumnType) -> Callable[[Any], Any]:
    """Re-render the real atoms of a cell with ``%.15g``."""
    kreal = ctype.key.type == "real"
    vreal = ctype.value is not None and ctype.value.type == "real"

    def k(a: Any) -> Any:
        return _real_atom(a) if kreal else a

    def v(a: Any) -> Any:
        return _real_atom(a) if vreal else a

    def cell(j: Any) -> Any:
        if type(j) is list and len(j) == 2 and j[0] == "set":
            return ["set", [k(a) for a in j[1]]]
        if type(j) is list and len(j) == 2 and j[0] == "map":
            return ["map", [[k(p[0]), v(p[1])] for p in j[1]]]
        return k(j)

    return cell


def format_table(table: TableSchema, rows: Sequence[Any]) -> bytes:
    """The line ``ovsdb-client -f json dump`` prints for ``table`` (with its newline).

    ``rows`` are the row objects of a ``select`` of every column in
    :func:`dump_headings` (parsed JSON, as the server sent them). Raises
    :class:`~ovsdb_ic.errors.RemoteProtocolError` when a row is not an object or
    lacks a column, and :class:`~ovsdb_ic.errors.DataError` (naming
    ``Table.column``) when a cell does not fit its column's type.
    """
    headings = dump_headings(table)
    rows = rows if type(rows) is list else list(rows)
    if rows and set(map(type, rows)) != {dict}:
        raise RemoteProtocolError(f"a row of table {table.name} is not a JSON object")
    columns: dict[str, list[Any]] = {}
    for name in headings:
        try:
            columns[name] = list(map(itemgetter(name), rows))
        except KeyError:
            raise RemoteProtocolError(
                f"a row of table {table.name} lacks the column {name!r}") from None
        check_column(table.column(name).type, columns[name], f"{table.name}.{name}")
    plain = [h for h in headings if table.column(h).type.key.type != "uuid"]
    uuids = [h for h in headings if table.column(h).type.key.type == "uuid"]
    order = _row_order(table, [*plain, *uuids], columns, len(rows))
    for name in headings:
        ctype = table.column(name).type
        if ctype.key.type == "real" or (ctype.value is not None and ctype.value.type == "real"):
            columns[name] = list(map(_real_cell(ctype), columns[name]))
    cells = [columns[h] for h in headings]
    data = _rows(cells, order)
    return _dumps({"caption": f"{table.name} table", "data": data, "headings": headings}) + b"\n"


def _row_order(table: TableSchema, names: list[str], columns: dict[str, list[Any]],
               n: int) -> list[int]:
    """Row indexes sorted by the columns ``names`` (most significant first).

    Each column's sort keys are replaced by their dense rank among the column's
    distinct keys, and the ranks are folded into one integer per row (mixed radix),
    so the final sort compares integers, not nested tuples. Columns after the first
    prefix that already tells every row apart cannot change the order and are skipped.
    """
    if not names or n == 0:
        return list(range(n))
    first = sort_key_column(table.column(names[0]).type, columns[names[0]])
    if len(set(first)) == n:
        return sorted(range(n), key=first.__getitem__)
    combined: list[int] = [0] * n
    for name in names:
        keys = sort_key_column(table.column(name).type, columns[name])
        distinct = sorted(set(keys))
        rank = {k: i for i, k in enumerate(distinct)}
        radix = len(distinct)
        combined = list(map(add, map(mul, combined, repeat(radix, n)), map(rank.__getitem__, keys)))
        if len(set(combined)) == n:
            break
    return sorted(range(n), key=combined.__getitem__)


def _rows(cells: list[list[Any]], order: list[int]) -> list[Any]:
    """The cells of each row, in ``order``."""
    if not order:
        return []
    pick = itemgetter(*order)
    picked = [pick(col) for col in cells]
    if len(order) == 1:
        return [list(picked)]
    # Lists, not tuples: orjson writes lists several times faster.
    return list(map(list, zip(*picked, strict=True)))
