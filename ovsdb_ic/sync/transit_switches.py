"""Planner 2: transit switches (IC-NB ``Transit_Switch`` -> IC-SB ``Datapath_Binding`` -> NB).

As the 23.03 ``ovn-ic`` ``ts_run()``:

* NB: every transit switch has a ``Logical_Switch{name}`` with
  ``other_config:interconn-ts=<name>``; once the switch's IC-SB ``Datapath_Binding``
  exists, also ``other_config:requested-tnl-key=<its tunnel_key>`` (only a committed
  key is copied, so an allocation that loses a race never reaches NB). NB switches
  carrying ``interconn-ts`` for a switch that is gone are deleted, and so are
  duplicates (several switches claiming one name: the one whose ``name`` matches,
  then the lowest UUID, is kept).
* IC-SB: every transit switch has a ``Datapath_Binding{transit_switch, tunnel_key}``
  with a key from the global datapath range (:mod:`ovsdb_ic.sync.keys`); bindings
  whose switch is gone, and duplicates for one switch (left by two AZs racing: the
  lowest key is kept), are deleted. As in 23.03 (there is no cross-AZ lock) every
  AZ's agent creates and deletes bindings; a racing insert that loses fails on the
  ``tunnel_key`` unique index and the next pass sees the winner's row.

Nothing is planned until this AZ's ``Availability_Zone`` row exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ovsdb_ic.replica import Row
from ovsdb_ic.sync.az import REQUIREMENTS as AZ_REQUIREMENTS
from ovsdb_ic.sync.az import find_rows, local_az
from ovsdb_ic.sync.keys import DP_KEY_MAX, DP_KEY_MIN, KeyAllocator, KeyHints, smap_get_int
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, Requirements, Snapshot

__all__ = [
    "REQUIREMENTS",
    "datapath_bindings",
    "nb_transit_switches",
    "plan_transit_switches",
    "transit_switch_names",
]

_LS_BY_TS: Final = "other_config:interconn-ts"

REQUIREMENTS: Final = AZ_REQUIREMENTS | Requirements(
    tables={
        "ic_nb": {"Transit_Switch": ("name",)},
        "ic_sb": {"Datapath_Binding": ("transit_switch", "tunnel_key")},
        "nb": {"Logical_Switch": ("name", "other_config")},
    },
    indexes=(("nb", "Logical_Switch", _LS_BY_TS, (("other_config", "interconn-ts"),)),),
)
"""What :func:`plan_transit_switches` reads."""


def transit_switch_names(snap: Snapshot) -> list[str]:
    """The IC-NB transit switch names, sorted."""
    return sorted({str(row["name"]) for row in snap.ic_nb.table("Transit_Switch")})


def datapath_bindings(snap: Snapshot) -> dict[str, Row]:
    """Transit switch name -> its IC-SB ``Datapath_Binding`` (the lowest key of duplicates)."""
    out: dict[str, Row] = {}
    rows = sorted(snap.ic_sb.table("Datapath_Binding"),
                  key=lambda r: (r["tunnel_key"], r.uuid.int))
    for row in rows:
        out.setdefault(str(row["transit_switch"]), row)
    return out


def _nb_switches(snap: Snapshot) -> dict[str, list[Row]]:
    """``interconn-ts`` value -> NB switches carrying it, the preferred one first."""
    out: dict[str, list[Row]] = {}
    for ls in snap.nb.table("Logical_Switch"):
        ts = ls["other_config"].get("interconn-ts")
        if ts is not None:
            out.setdefault(ts, []).append(ls)
    for ts, rows in out.items():
        rows.sort(key=_preferred(ts))
    return out


def _preferred(ts: str) -> Callable[[Row], tuple[bool, int]]:
    """Sort key: the switch named ``ts`` first, then by UUID."""
    return lambda row: (row["name"] != ts, row.uuid.int)


def nb_transit_switches(snap: Snapshot, name: str) -> Row | None:
    """The NB switch of transit switch ``name``: named so and ``interconn-ts=name``.

    (What the C daemon's ``find_ts_in_nb`` finds; the lowest UUID if several.)
    """
    for ls in find_rows(snap.nb, "Logical_Switch", _LS_BY_TS,
                        (("other_config", "interconn-ts"),), name):
        if ls["name"] == name:
            return ls
    return None


def plan_transit_switches(snap: Snapshot, *, hints: KeyHints | None = None) -> Plan:
    """Datapath bindings and NB switches for the IC-NB transit switches (module doc)."""
    if local_az(snap) is None:
        return Plan()
    hints = hints or KeyHints()
    names = transit_switch_names(snap)
    dps = datapath_bindings(snap)
    ops: list[Op] = []

    # NB first, from committed IC-SB keys only.
    nb_tses = _nb_switches(snap)
    for name in names:
        candidates = nb_tses.pop(name, [])
        dp = dps.get(name)
        if not candidates:
            other_config = {"interconn-ts": name}
            if dp is not None:
                other_config["requested-tnl-key"] = str(dp["tunnel_key"])
            ops.append(Insert("nb", "Logical_Switch",
                              {"name": name, "other_config": other_config}))
        else:
            ls = candidates[0]
            key = None if dp is None else int(dp["tunnel_key"])
            if key is not None and smap_get_int(ls["other_config"], "requested-tnl-key") != key:
                ops.append(Mutate("nb", "Logical_Switch", ls.uuid, "other_config",
                                  insert={"requested-tnl-key": str(key)},
                                  delete=frozenset({"requested-tnl-key"})))
            for extra in candidates[1:]:
                ops.append(Delete("nb", "Logical_Switch", extra.uuid))
    for ts in sorted(nb_tses):
        for ls in nb_tses[ts]:
            ops.append(Delete("nb", "Logical_Switch", ls.uuid))

    # IC-SB: allocate keys for new switches, delete stale and duplicate bindings.
    alloc = KeyAllocator(DP_KEY_MIN, DP_KEY_MAX, hints.datapath,
                         {int(r["tunnel_key"]) for r in snap.ic_sb.table("Datapath_Binding")})
    for name in names:
        if name in dps:
            continue
        new_key = alloc.allocate()
        if new_key is None:
            continue
        ops.append(Insert("ic_sb", "Datapath_Binding",
                          {"transit_switch": name, "tunnel_key": new_key}))
    wanted = set(names)
    for row in sorted(snap.ic_sb.table("Datapath_Binding"),
                      key=lambda r: (r["tunnel_key"], r.uuid.int)):
        ts = str(row["transit_switch"])
        if ts not in wanted or dps[ts].uuid != row.uuid:
            ops.append(Delete("ic_sb", "Datapath_Binding", row.uuid))
    return Plan(tuple(ops))
