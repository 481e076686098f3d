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

Only memory changes: the values are equal, and they are immutable.
"""

from __future__ import annotations

import sys
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
        full = False
        for pos, cache in self._scalars:
            v = out[pos]
            if v is not None:
                out[pos] = cache.setdefault(v, v)
                if len(cache) > LIMIT:
                    full = True
        if full:
            self._scalars = [e for e in self._scalars if len(e[1]) <= LIMIT]
            self.active = bool(self._scalars or self._maps)
        for pos, skeys, vcaches, off in self._maps:
            d = out[pos]
            if not d:
                continue
            if vcaches is None:
                out[pos] = {_intern(k): v for k, v in d.items()}
                continue
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
            out[pos] = new
        return tuple(out)
