"""Planner 3: gateways (SB ``Chassis`` <-> IC-SB ``Gateway``/``Encap``).

As the 23.03 ``ovn-ic`` ``gateway_run()``:

* Local: every SB ``Chassis`` with ``other_config:is-interconn=true`` has an IC-SB
  ``Gateway{name, availability_zone, hostname, encaps}`` whose encaps copy the
  chassis' ``Encap{type, ip, options}`` with ``gateway_name=<chassis name>``. A
  gateway is resynced (hostname and a fresh set of encaps; the old ``Encap`` rows
  are collected by the server) when the hostname differs, the number of encaps
  differs, or an encap has no chassis encap of the same type and ip, or one with
  other options. This AZ's gateways with no such chassis are deleted.
* Remote: every ``Gateway`` of another AZ has an SB ``Chassis{name, hostname,
  other_config:is-remote=true, encaps}`` with copied encaps (``chassis_name`` set).
  ``is-remote`` chassis whose gateway is gone are deleted; changed ones are resynced
  the same way. A chassis that is both ``is-interconn`` and ``is-remote`` is local.

Where 23.03 would commit a transaction the server must refuse, this planner leaves
the row alone instead (the C daemon retries the failing transaction forever):

* a chassis with no encaps gets no ``Gateway`` (``Gateway.encaps`` needs one; C
  asserts) and an existing gateway is then left as it is;
* a local gateway chassis whose name another AZ's ``Gateway`` already uses is not
  registered (``Gateway.name`` is unique);
* a remote gateway whose name an SB chassis of some other kind already uses gets no
  remote chassis (``Chassis.name`` is unique).

Nothing is planned until this AZ's ``Availability_Zone`` row exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from ovsdb_ic.ic.databases import DatabaseKey, Requirements, Snapshot
from ovsdb_ic.replica import Replica, Row
from ovsdb_ic.sync.az import LOCAL_AZ_REQUIREMENTS, local_az, smap_get_bool
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, Update
from ovsdb_ic.wire.data import NamedUUID

__all__ = ["REQUIREMENTS", "encaps_differ", "plan_gateways"]

REQUIREMENTS: Final = LOCAL_AZ_REQUIREMENTS | Requirements(
    tables={
        "sb": {
            "Chassis": ("name", "hostname", "other_config", "encaps"),
            "Encap": ("chassis_name", "type", "ip", "options"),
        },
        "ic_sb": {
            "Gateway": ("name", "availability_zone", "hostname", "encaps"),
            "Encap": ("gateway_name", "type", "ip", "options"),
        },
    },
)
"""What :func:`plan_gateways` reads."""

_Encap = tuple[str, str, Mapping[str, str]]


def _encaps(replica: Replica, row: Row) -> list[_Encap]:
    """``(type, ip, options)`` of the ``Encap`` rows ``row.encaps`` refers to, sorted."""
    view = replica.table("Encap")
    out: list[_Encap] = []
    for ref in row["encaps"]:
        enc = view.get(ref)
        if enc is not None:
            out.append((str(enc["type"]), str(enc["ip"]), dict(enc["options"])))
    out.sort(key=lambda e: (e[0], e[1], sorted(e[2].items())))
    return out


def encaps_differ(hostname_a: str, encaps_a: Iterable[_Encap],
                  hostname_b: str, encaps_b: Iterable[_Encap]) -> bool:
    """Whether a gateway (``a``) and a chassis (``b``) differ, as C's check does.

    True when the hostnames or the numbers of encaps differ, or when an encap of
    ``a`` has no encap of ``b`` with the same type and ip, or the first such one
    has other options.
    """
    list_a, list_b = list(encaps_a), list(encaps_b)
    if hostname_a != hostname_b or len(list_a) != len(list_b):
        return True
    for type_a, ip_a, options_a in list_a:
        match = next(((t, i, o) for t, i, o in list_b if t == type_a and i == ip_a), None)
        if match is None or dict(match[2]) != dict(options_a):
            return True
    return False


class _Names:
    """Fresh named-UUIDs for one planner's inserts."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"{self.prefix}{self.count}"


def _encap_inserts(db: DatabaseKey, encaps: list[_Encap], owner_column: str, owner: str,
                   names: _Names) -> tuple[list[Op], frozenset[NamedUUID]]:
    ops: list[Op] = []
    refs = []
    for type_, ip, options in encaps:
        name = names()
        ops.append(Insert(db, "Encap",
                          {owner_column: owner, "type": type_, "ip": ip,
                           "options": dict(options)}, name=name))
        refs.append(NamedUUID(name))
    return ops, frozenset(refs)


def plan_gateways(snap: Snapshot) -> Plan:
    """Gateways for this AZ's interconnection chassis, chassis for the others' (module doc)."""
    az = local_az(snap)
    if az is None:
        return Plan()
    isb_names, sb_names = _Names("gw_isb_encap_"), _Names("gw_sb_encap_")
    local_gws: dict[str, Row] = {}
    remote_gws: dict[str, Row] = {}
    for row in sorted(snap.ic_sb.table("Gateway"), key=lambda r: (r["name"], r.uuid.int)):
        target = local_gws if row["availability_zone"] == az.uuid else remote_gws
        target.setdefault(str(row["name"]), row)
    ops: list[Op] = []
    chassis_by_name: dict[str, Row] = {}
    for chassis in sorted(snap.sb.table("Chassis"), key=lambda r: (r["name"], r.uuid.int)):
        name = str(chassis["name"])
        chassis_by_name.setdefault(name, chassis)
        other_config = chassis["other_config"]
        ch_encaps = _encaps(snap.sb, chassis)
        if smap_get_bool(other_config, "is-interconn"):
            gw: Row | None = local_gws.pop(name, None)
            if not ch_encaps:
                continue
            if gw is None:
                if name in remote_gws:
                    continue
                encap_ops, refs = _encap_inserts("ic_sb", ch_encaps, "gateway_name", name,
                                                 isb_names)
                ops.extend(encap_ops)
                ops.append(Insert("ic_sb", "Gateway", {
                    "name": name, "availability_zone": az.uuid,
                    "hostname": str(chassis["hostname"]), "encaps": refs}))
            elif encaps_differ(str(gw["hostname"]), _encaps(snap.ic_sb, gw),
                               str(chassis["hostname"]), ch_encaps):
                encap_ops, refs = _encap_inserts("ic_sb", ch_encaps, "gateway_name", name,
                                                 isb_names)
                ops.extend(encap_ops)
                ops.append(Update("ic_sb", "Gateway", gw.uuid, {
                    "hostname": str(chassis["hostname"]), "encaps": refs}))
        elif smap_get_bool(other_config, "is-remote"):
            gw = remote_gws.pop(name, None)
            if gw is None:
                ops.append(Delete("sb", "Chassis", chassis.uuid))
                continue
            gw_encaps = _encaps(snap.ic_sb, gw)
            if gw_encaps and encaps_differ(str(gw["hostname"]), gw_encaps,
                                           str(chassis["hostname"]), ch_encaps):
                encap_ops, refs = _encap_inserts("sb", gw_encaps, "chassis_name", name,
                                                 sb_names)
                ops.extend(encap_ops)
                ops.append(Update("sb", "Chassis", chassis.uuid, {
                    "hostname": str(gw["hostname"]), "encaps": refs}))
                if other_config.get("is-remote") != "true":
                    ops.append(Mutate("sb", "Chassis", chassis.uuid, "other_config",
                                      insert={"is-remote": "true"},
                                      delete=frozenset({"is-remote"})))
    for name in sorted(local_gws):
        ops.append(Delete("ic_sb", "Gateway", local_gws[name].uuid))
    for name in sorted(remote_gws):
        gw_encaps = _encaps(snap.ic_sb, remote_gws[name])
        if name in chassis_by_name or not gw_encaps:
            continue
        encap_ops, refs = _encap_inserts("sb", gw_encaps, "chassis_name", name, sb_names)
        ops.extend(encap_ops)
        ops.append(Insert("sb", "Chassis", {
            "name": name, "hostname": str(remote_gws[name]["hostname"]),
            "other_config": {"is-remote": "true"}, "encaps": refs}))
    return Plan(tuple(ops))
