"""Sharing equal strings between rows, to save replica memory.

The JSON parser makes a new ``str`` object for every string of every row, so
200,000 ``Route`` rows hold 200,000 copies of ``"static"``, of the transit switch
name, of the map keys ``"lr-id"`` and ``"nb-id"``, and so on. A :class:`Interner`
replaces each new string by an equal one already held, for the columns (and map
keys) where values repeat:

* map keys are passed through :func:`sys.intern` (there are few distinct keys);
* each string column, and each key (the first :data:`MAP_KEYS`) of each
  string-valued map column, has its own small cache of values seen; once it has
  seen :data:`LIMIT` distinct values the column (or map key) is taken to be
  high-cardinality (prefixes, UUID strings) and is no longer looked at, and its
  cache is dropped. The caches are bounded, and they hold nothing but strings.
  (Reference columns need no cache: the wire decoder already hands out one
  ``uuid.UUID`` object per distinct value it has seen recently.)

Only memory changes: the values are equal, and they are immutable.

:meth:`Interner.values` shares the values of one row (the path of ordinary
transactions); :meth:`Interner.columns` those of many rows at once, column by
column, with one C-level pass per scalar column (the path of large initial copies).
"""

from __future__ import annotations

import operator
import sys
from collections import deque as _consume
from collections.abc import Collection
from itertools import repeat
from typing import Any, Final

from ovsdb_ic.wire.schema import TableSchema

__all__ = ["LIMIT", "Interner"]

LIMIT: Final = 1024
"""Distinct values a column (or map key) may show before it is no longer shared."""
MAP_KEYS: Final = 64
"""Keys of one map column whose values are cached (map keys beyond are only interned)."""

_intern = sys.intern


class Interner:
    """The string caches of one table's columns (mutable; one per replica table)."""

    __slots__ = ("_maps", "_scalars", "active")

    def __init__(self, table: TableSchema, columns: tuple[str, ...]) -> None:
        """Caches for the string columns and string maps among ``columns``."""
        # (position, cache): string scalar and optional columns
        self._scalars: list[tuple[int, dict[str, str]]] = []
        # (position, intern keys?, value cache per map key, map keys no longer cached)
        self._maps: list[tuple[int, bool, dict[Any, dict[str, str]] | None, set[Any]]] = []
        for pos, name in enumerate(columns):
            ctype = table.column(name).type
            if ctype.value is not None:
                skeys = ctype.key.type == "string"
                svals = ctype.value.type == "string"
                if skeys or svals:
                    self._maps.append((pos, skeys, {} if svals else None, set()))
            elif ctype.max == 1 and ctype.key.type == "string":
                self._scalars.append((pos, {}))
        self.active = bool(self._scalars or self._maps)

    def values(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """``values`` with its strings replaced by equal shared ones."""
        out = list(values)
        self._share(out, None)
        return tuple(out)

    def values_at(self, values: list[Any], changed: Collection[int]) -> None:
        """Share, in place, the strings of ``values`` at the positions ``changed`` only.

        The path of a modify: the row's other values were shared when it was built.
        """
        self._share(values, changed)

    def _share(self, values: list[Any], changed: Collection[int] | None) -> None:
        """Share, in place, the strings of ``values`` (at ``changed`` only, unless None)."""
        full = False
        for pos, cache in self._scalars:
            if changed is None or pos in changed:
                v = values[pos]
                if v is not None:
                    values[pos] = cache.setdefault(v, v)
                    if len(cache) > LIMIT:
                        full = True
        if full:
            self._scalars = [e for e in self._scalars if len(e[1]) <= LIMIT]
            self.active = bool(self._scalars or self._maps)
        for pos, skeys, vcaches, off in self._maps:
            if changed is None or pos in changed:
                d = values[pos]
                if d:
                    values[pos] = _share_map(d, skeys, vcaches, off)

    def columns(self, cols: list[list[Any]], *, owned: bool = False) -> None:
        """Share the strings of many rows given column by column, in place.

        ``cols[pos]`` holds the values of column ``pos`` for every row of a batch.
        A column whose cache overflows during the batch is dropped afterwards (its
        cache may hold up to one batch more than :data:`LIMIT` until then).
        ``owned``: the map values are the caller's to change (decoded updates it
        gives up): maps whose keys are already interned get their shared values
        in place instead of being copied.
        """
        full = False
        for pos, cache in self._scalars:
            col = cols[pos]
            cols[pos] = list(map(cache.setdefault, col, col))
            if len(cache) > LIMIT:
                full = True
        if full:
            self._scalars = [e for e in self._scalars if len(e[1]) <= LIMIT]
            self.active = bool(self._scalars or self._maps)
        for pos, skeys, vcaches, off in self._maps:
            cols[pos] = _share_map_column(cols[pos], skeys, vcaches, off, owned)


def _share_map(
    d: dict[Any, Any], skeys: bool, vcaches: dict[Any, dict[str, str]] | None, off: set[Any]
) -> dict[Any, Any]:
    """A copy of map ``d`` with interned string keys and cached values (see the module doc)."""
    if vcaches is None:
        return {_intern(k): v for k, v in d.items()}
    new = {}
    for k, v in d.items():
        if skeys:
            k = _intern(k)
        vcache = vcaches.get(k)
        if vcache is not None:
            v = vcache.setdefault(v, v)
            if len(vcache) > LIMIT:  # a high-cardinality key: stop caching it
                del vcaches[k]
                off.add(k)
        elif k not in off and len(vcaches) < MAP_KEYS:
            vcaches[k] = {v: v}
        new[k] = v
    return new


def _share_map_column(
    col: list[Any], skeys: bool, vcaches: dict[Any, dict[str, str]] | None, off: set[Any],
    owned: bool = False,
) -> list[Any]:
    """:func:`_share_map` over many maps: C-level passes per group of maps with the same keys.

    Maps are grouped by their key tuple (the rows of a table mostly share one or
    a few); per group, the values under each key are extracted, shared and zipped
    back into new maps without a Python-level loop per map. With ``owned``, a
    group whose keys are the interned objects already (as the wire decoder makes
    them) keeps its maps and gets the shared values stored into them.
    """
    shapes = list(map(tuple, col))
    first = shapes[0] if shapes else ()
    groups: dict[tuple[Any, ...], list[int]]
    if shapes.count(first) == len(shapes):
        groups = {first: []}  # every map has the same keys: no index lists needed
    else:
        groups = {}
        for i, shape in enumerate(shapes):
            groups.setdefault(shape, []).append(i)
    out = col if len(groups) == 1 else list(col)
    for shape, where in groups.items():
        if not shape:
            continue  # empty maps stay as they are
        maps = col if len(groups) == 1 else [col[i] for i in where]
        ikeys = tuple(map(_intern, shape)) if skeys else shape
        in_place = owned and all(map(operator.is_, ikeys, shape))
        columns = []
        for raw_key, key in zip(shape, ikeys, strict=True):
            if in_place and (vcaches is None or key in off):
                continue  # nothing to share under this key
            vals = list(map(operator.itemgetter(raw_key), maps))
            if vcaches is not None:
                vcache = vcaches.get(key)
                if vcache is None and key not in off and len(vcaches) < MAP_KEYS:
                    vcache = vcaches[key] = {}
                if vcache is not None:
                    vals = list(map(vcache.setdefault, vals, vals))
                    if in_place:
                        _consume(map(operator.setitem, maps, repeat(key), vals), maxlen=0)
                    if len(vcache) > LIMIT:  # a high-cardinality key: stop caching it
                        del vcaches[key]
                        off.add(key)
            columns.append(vals)
        if in_place:
            continue  # the maps in ``out`` are the same objects, now sharing
        new = list(map(dict, map(zip, repeat(ikeys), zip(*columns, strict=True))))
        if len(groups) == 1:
            return new
        for i, d in zip(where, new, strict=True):
            out[i] = d
    return out
