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

Under the 25.03 rules (``rules.vxlan_mode``, see :mod:`ovsdb_ic.sync.rules`): when
IC-NB ``IC_NB_Global options:vxlan_mode`` is true and some IC-SB ``Encap`` has type
``vxlan``, keys come from the VXLAN global range ``1024..4095``; a new NB switch
carries ``other_config:ic-vxlan_mode=true|false``, and when an existing switch's
value differs it is set and every binding gets a fresh key (C's ``dp_key_refresh``).
With ``rules.fresh_datapath_hint`` every pass searches keys from the bottom of the
range, as 25.03 does.

Nothing is planned until this AZ's ``Availability_Zone`` row exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ovsdb_ic.ic.databases import TS_KEY, Requirements, Snapshot, first_row, index_name
from ovsdb_ic.replica import Row
from ovsdb_ic.sync.az import LOCAL_AZ_REQUIREMENTS, find_rows, local_az, smap_get_bool
from ovsdb_ic.sync.keys import DP_KEY_MAX, DP_KEY_MIN, KeyAllocator, KeyHints, smap_get_int
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, Update
from ovsdb_ic.sync.rules import RULES_23_03, IcRules

__all__ = [
    "DP_VXLAN_KEY_MAX",
    "DP_VXLAN_KEY_MIN",
    "REQUIREMENTS",
    "VXLAN_REQUIREMENTS",
    "datapath_bindings",
    "nb_transit_switches",
    "plan_transit_switches",
    "transit_switch_names",
]

_LS_BY_TS: Final = index_name((("other_config", TS_KEY),))

REQUIREMENTS: Final = LOCAL_AZ_REQUIREMENTS | Requirements(
    tables={
        "ic_nb": {"Transit_Switch": ("name",)},
        "ic_sb": {"Datapath_Binding": ("transit_switch", "tunnel_key")},
        "nb": {"Logical_Switch": ("name", "other_config")},
    },
    indexes=(("nb", "Logical_Switch", _LS_BY_TS, (("other_config", TS_KEY),)),),
)
"""What :func:`plan_transit_switches` reads."""

VXLAN_REQUIREMENTS: Final = Requirements(tables={
    "ic_nb": {"IC_NB_Global": ("options",)},
    "ic_sb": {"Encap": ("type",)},
})
"""What it also reads under ``rules.vxlan_mode``."""

DP_VXLAN_KEY_MIN: Final = (1 << 10)
"""The lowest global datapath key in VXLAN mode (``OVN_MIN_DP_VXLAN_KEY_GLOBAL``, 1024)."""
DP_VXLAN_KEY_MAX: Final = (1 << 12) - 1
"""The highest global datapath key in VXLAN mode (``OVN_MAX_DP_VXLAN_KEY_GLOBAL``, 4095)."""

_VXLAN_KEY: Final = "ic-vxlan_mode"


def _vxlan_mode(snap: Snapshot) -> bool:
    row = first_row(snap.ic_nb, "IC_NB_Global")
    if row is None or not smap_get_bool(row["options"], "vxlan_mode"):
        return False
    return any(e["type"] == "vxlan" for e in snap.ic_sb.table("Encap"))


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
        ts = ls["other_config"].get(TS_KEY)
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
                        (("other_config", TS_KEY),), name):
        if ls["name"] == name:
            return ls
    return None


def plan_transit_switches(snap: Snapshot, *, hints: KeyHints | None = None,
                          rules: IcRules | None = None) -> Plan:
    """Datapath bindings and NB switches for the IC-NB transit switches (module doc)."""
    if local_az(snap) is None:
        return Plan()
    hints = hints or KeyHints()
    rules = rules or RULES_23_03
    vxlan = rules.vxlan_mode and _vxlan_mode(snap)
    refresh = False
    names = transit_switch_names(snap)
    dps = datapath_bindings(snap)
    ops: list[Op] = []

    # NB first, from committed IC-SB keys only.
    nb_tses = _nb_switches(snap)
    for name in names:
        candidates = nb_tses.pop(name, [])
        dp = dps.get(name)
        if not candidates:
            other_config = {TS_KEY: name}
            if rules.vxlan_mode:
                other_config[_VXLAN_KEY] = "true" if vxlan else "false"
            if dp is not None:
                other_config["requested-tnl-key"] = str(dp["tunnel_key"])
            ops.append(Insert("nb", "Logical_Switch",
                              {"name": name, "other_config": other_config}))
        else:
            ls = candidates[0]
            if rules.vxlan_mode and smap_get_bool(ls["other_config"], _VXLAN_KEY) != vxlan:
                refresh = True
                ops.append(Mutate("nb", "Logical_Switch", ls.uuid, "other_config",
                                  insert={_VXLAN_KEY: "true" if vxlan else "false"},
                                  delete=frozenset({_VXLAN_KEY})))
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
    lo, hi = (DP_VXLAN_KEY_MIN, DP_VXLAN_KEY_MAX) if vxlan else (DP_KEY_MIN, DP_KEY_MAX)
    hint = lo if rules.fresh_datapath_hint or not lo <= hints.datapath <= hi else hints.datapath
    alloc = KeyAllocator(lo, hi, hint,
                         {int(r["tunnel_key"]) for r in snap.ic_sb.table("Datapath_Binding")})
    for name in names:
        if name in dps:
            if refresh:
                # The encapsulation mode changed: a fresh key (C's dp_key_refresh).
                if rules.fresh_datapath_hint:
                    alloc.hint = lo
                new_key = alloc.allocate()
                if new_key is not None:
                    ops.append(Update("ic_sb", "Datapath_Binding", dps[name].uuid,
                                      {"tunnel_key": new_key}))
            continue
        if rules.fresh_datapath_hint:
            alloc.hint = lo
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
