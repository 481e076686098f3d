"""Tunnel key allocation, the way the C ``ovn-ic`` daemon (OVN 23.03) hands keys out.

Two key spaces matter to interconnection:

* transit switch datapaths: the global datapath range ``16711681..16777215``
  (``0xFF0001..0xFFFFFF``, :data:`DP_KEY_MIN`..:data:`DP_KEY_MAX`), unique across
  IC-SB ``Datapath_Binding`` rows;
* transit switch ports: ``1..32767`` (:data:`PORT_KEY_MIN`..:data:`PORT_KEY_MAX`),
  unique per transit switch across IC-SB ``Port_Binding`` rows.

The C daemon allocates with ``ovn_allocate_tnlid()``: starting from a *hint* (the
last key it handed out), it tries the next key, wrapping from the top of the range
to the bottom, and takes the first one not in use; the hint itself is tried last
(in C, never). :func:`allocate_tnlid` does exactly that.

In 23.03 both hints are process-wide statics: the datapath hint starts at
:data:`DP_KEY_MIN` (so the first key handed out is 16711682) and the port hint at 0
(first port key 1), and both keep moving for as long as the daemon runs; the port
hint is shared by every transit switch. The planners are pure, so they take the
hints as a value, :class:`KeyHints`; the default is a freshly started daemon. A
runner that wants 23.03's keys exactly keeps the hints between passes with
:meth:`KeyHints.after` (as C does, the hints move even when the transaction that
used the key then fails). A runner that does not ends up allocating like newer
OVN releases do for datapaths (every pass starts from the bottom of the range).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Final

import attrs

from ovsdb_ic.sync.plan import Insert, Plan
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr

__all__ = [
    "DP_KEY_MAX",
    "DP_KEY_MIN",
    "PORT_KEY_MAX",
    "PORT_KEY_MIN",
    "KeyAllocator",
    "KeyHints",
    "allocate_tnlid",
    "next_tnlid",
    "smap_get_int",
]

DP_KEY_MIN: Final = 0xFF0001
"""The lowest global datapath key (``OVN_MIN_DP_KEY_GLOBAL``, 16711681)."""
DP_KEY_MAX: Final = 0xFFFFFF
"""The highest datapath key (``OVN_MAX_DP_KEY_GLOBAL``, 16777215)."""
PORT_KEY_MIN: Final = 1
"""The lowest transit switch port key."""
PORT_KEY_MAX: Final = (1 << 15) - 1
"""The highest transit switch port key (32767)."""

_INT_RE: Final = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+\Z")
_INT_MIN: Final = -(1 << 31)
_INT_MAX: Final = (1 << 31) - 1


def smap_get_int(smap: Mapping[str, str], key: str, default: int = 0) -> int:
    """``smap[key]`` as a C ``int``, or ``default`` when missing or not a valid integer.

    The same parse as OVS's ``smap_get_int`` (``str_to_int``, base 10): leading
    white space and a sign are accepted, trailing characters are not, and the value
    must fit in 32 bits. Used for ``requested-tnl-key`` comparisons.
    """
    value = smap.get(key)
    if value is None or not _INT_RE.match(value):
        return default
    number = int(value)
    if not _INT_MIN <= number <= _INT_MAX:
        return default
    return number


def next_tnlid(key: int, lo: int, hi: int) -> int:
    """The key after ``key`` in ``lo..hi``, wrapping from ``hi`` to ``lo``."""
    return key + 1 if key + 1 <= hi else lo


def allocate_tnlid(used: AbstractSet[int], lo: int, hi: int, hint: int) -> int | None:
    """The first key after ``hint`` in ``lo..hi`` (wrapping) that is not in ``used``.

    ``None`` when every key is in use. Like C's ``ovn_allocate_tnlid`` the hint is
    the last key tried, but it is tried (C never tries it, and loops forever when
    the hint lies outside the range and the range is full; here at most
    ``hi - lo + 1`` keys are tried).
    """
    key = hint
    for _ in range(hi - lo + 1):
        key = next_tnlid(key, lo, hi)
        if key not in used:
            return key
    return None


@attrs.define(repr=False, eq=False)
class KeyAllocator:
    """Hands out unused keys of one range, moving its hint like C does.

    ``used`` is the keys already taken (the allocator adds the ones it hands out).
    """

    lo: int
    hi: int
    hint: int
    used: set[int] = attrs.field(factory=set)

    def allocate(self) -> int | None:
        """A free key (now marked used, and the new hint), or ``None`` when exhausted."""
        key = allocate_tnlid(self.used, self.lo, self.hi, self.hint)
        if key is not None:
            self.used.add(key)
            self.hint = key
        return key

    __repr__ = attrs_repr
    __eq__ = attrs_eq


@attrs.frozen(repr=False, eq=False)
class KeyHints:
    """Where the next tunnel key searches start (C's static hints), as a value.

    The default is a freshly started 23.03 daemon: the datapath hint at
    :data:`DP_KEY_MIN` (first key 16711682) and the port hint at 0 (first key 1).
    """

    datapath: int = DP_KEY_MIN
    port: int = 0

    def after(self, plan: Plan) -> KeyHints:
        """The hints once ``plan``'s allocations are made (the last key of each kind)."""
        datapath, port = self.datapath, self.port
        for op in plan:
            if isinstance(op, Insert) and op.db == "ic_sb":
                key: Any = op.values.get("tunnel_key")
                if not isinstance(key, int):
                    continue
                if op.table == "Datapath_Binding":
                    datapath = key
                elif op.table == "Port_Binding":
                    port = key
        return KeyHints(datapath=datapath, port=port)

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash
