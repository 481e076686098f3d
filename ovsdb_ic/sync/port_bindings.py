"""Planner 4: port bindings (NB ports of transit switches <-> IC-SB ``Port_Binding``).

As the 23.03 ``ovn-ic`` ``port_binding_run()``. For each IC-NB transit switch whose
NB switch exists (named so, with ``other_config:interconn-ts`` naming it), for each
of its ports, by name:

* ``type=router`` (a local port; skipped until ovn-northd made its SB
  ``Port_Binding``): this AZ's IC-SB ``Port_Binding{logical_port, transit_switch,
  availability_zone, tunnel_key, address, gateway, external_ids:router-id}`` is
  created or kept in sync:

  - ``tunnel_key``: a free key in ``1..32767`` among the switch's bindings, allocated
    like the C daemon (:mod:`ovsdb_ic.sync.keys`; the hint is shared by all
    switches), and copied back, once committed, to the port's
    ``options:requested-tnl-key``;
  - ``address``: the first (in sorted order) ``mac`` string of the SB binding of the
    port's peer (``options:peer``, the router port), "" without one;
  - ``gateway``: the name of the chassis the SB binding ``cr-<router port>`` is bound
    to, "" when unbound;
  - ``external_ids:router-id``: ``external_ids:logical-router`` of the peer's SB
    datapath, when it is a UUID (left alone otherwise, as in C).

* ``type=remote``: removed from the switch when no other AZ's binding on this
  switch has its name; otherwise its ``addresses`` (``[address]``, or none) and
  ``options:requested-tnl-key`` follow the binding, and, once its SB binding exists,
  the SB ``Port_Binding.chassis`` is set to the chassis named by the binding's
  ``gateway`` (left alone while that chassis is missing; cleared when the gateway is
  empty).
* Other AZs' bindings with no port get a new port ``{name, type=remote, up=true,
  addresses, options:requested-tnl-key}`` on the switch (not while some NB port
  already has the name: ``Logical_Switch_Port.name`` is unique and 23.03 would fail
  the whole NB transaction).
* Other port types are ignored. This AZ's bindings with no local port (including
  those of a router port whose SB binding is missing, as in C) are deleted.

Later releases (``rules``, see :mod:`ovsdb_ic.sync.rules`): a remote port whose
``options:requested-chassis`` is set keeps its SB chassis (23.09); ports of type
``switch`` are local ports too (spine-leaf, 25.03), with ``address`` ``"unknown"``
and, when no ``cr-`` port is bound, the chassis their own SB binding is bound to as
``gateway`` (when syncing; a new binding takes only the ``cr-`` chassis, as C).

Nothing is planned until this AZ's ``Availability_Zone`` row exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from ovsdb_ic.ic.databases import Requirements, Snapshot
from ovsdb_ic.replica import Row
from ovsdb_ic.sync.az import LOCAL_AZ_REQUIREMENTS, find_rows, local_az
from ovsdb_ic.sync.keys import PORT_KEY_MAX, PORT_KEY_MIN, KeyAllocator, KeyHints, smap_get_int
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, Update
from ovsdb_ic.sync.rules import RULES_23_03, IcRules
from ovsdb_ic.sync.transit_switches import (
    REQUIREMENTS as TS_REQUIREMENTS,
)
from ovsdb_ic.sync.transit_switches import (
    nb_transit_switches,
    transit_switch_names,
)
from ovsdb_ic.wire.data import NamedUUID, parse_uuid

__all__ = ["REQUIREMENTS", "plan_port_bindings", "redirect_port_name"]

_PB_BY_TS: Final = "transit_switch"
_PB_BY_AZ: Final = "availability_zone"

REQUIREMENTS: Final = LOCAL_AZ_REQUIREMENTS | TS_REQUIREMENTS | Requirements(
    tables={
        "nb": {
            "Logical_Switch": ("name", "other_config", "ports"),
            "Logical_Switch_Port": ("name", "type", "addresses", "options", "up"),
        },
        "sb": {
            "Port_Binding": ("logical_port", "options", "mac", "datapath", "chassis"),
            "Datapath_Binding": ("external_ids",),
            "Chassis": ("name",),
        },
        "ic_sb": {
            "Port_Binding": ("logical_port", "transit_switch", "availability_zone",
                             "tunnel_key", "address", "gateway", "external_ids"),
        },
    },
    indexes=(
        ("ic_sb", "Port_Binding", _PB_BY_TS, ("transit_switch",)),
        ("ic_sb", "Port_Binding", _PB_BY_AZ, ("availability_zone",)),
    ),
)
"""What :func:`plan_port_bindings` reads."""


def redirect_port_name(port: str) -> str:
    """The chassis-redirect port ovn-northd makes for router port ``port``."""
    return f"cr-{port}"


class _Sb:
    """Lookups in the AZ's SB replica (C's ``find_*`` helpers)."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def port(self, name: str) -> Row | None:
        rows = find_rows(self.snap.sb, "Port_Binding", "logical_port", ("logical_port",), name)
        return rows[0] if rows else None

    def chassis_named(self, name: str) -> Row | None:
        rows = find_rows(self.snap.sb, "Chassis", "name", ("name",), name)
        return rows[0] if rows else None

    def chassis_of(self, pb: Row) -> Row | None:
        ref = pb["chassis"]
        return None if ref is None else self.snap.sb.table("Chassis").get(ref)

    def peer(self, pb: Row) -> Row | None:
        name = pb["options"].get("peer")
        return None if name is None else self.port(name)

    def address(self, pb: Row) -> str | None:
        peer = self.peer(pb)
        if peer is None or not peer["mac"]:
            return None
        return str(min(peer["mac"]))

    def gateway(self, pb: Row) -> str | None:
        peer = self.peer(pb)
        if peer is None:
            return None
        crp = self.port(redirect_port_name(str(peer["logical_port"])))
        chassis = None if crp is None else self.chassis_of(crp)
        return None if chassis is None else str(chassis["name"])

    def router_id(self, pb: Row) -> uuid.UUID | None:
        peer = self.peer(pb)
        if peer is None or peer["datapath"] is None:
            return None
        dp = self.snap.sb.table("Datapath_Binding").get(peer["datapath"])
        return None if dp is None else _as_uuid(dp["external_ids"].get("logical-router"))


def _as_uuid(text: str | None) -> uuid.UUID | None:
    if text is None:
        return None
    try:
        return parse_uuid(text)
    except ValueError:
        return None


def _setkey(db: Any, table: str, row: Row, column: str, key: str, value: str) -> Mutate:
    """C's ``update_<column>_setkey``: replace one map key."""
    return Mutate(db, table, row.uuid, column, insert={key: value}, delete=frozenset({key}))


def _sync_tnl_key(lsp: Row, key: int) -> list[Op]:
    if smap_get_int(lsp["options"], "requested-tnl-key") == key:
        return []
    return [_setkey("nb", "Logical_Switch_Port", lsp, "options", "requested-tnl-key", str(key))]


def _router_id_ops(sb: _Sb, sb_pb: Row, isb_pb: Row) -> list[Op]:
    lr = sb.router_id(sb_pb)
    if lr is None or _as_uuid(isb_pb["external_ids"].get("router-id")) == lr:
        return []
    return [_setkey("ic_sb", "Port_Binding", isb_pb, "external_ids", "router-id", str(lr))]


def _sync_local(sb: _Sb, isb_pb: Row, sb_pb: Row, lsp: Row) -> list[Op]:
    values: dict[str, Any] = {}
    switch = lsp["type"] == "switch"
    address = "unknown" if switch else (sb.address(sb_pb) or "")
    if address != isb_pb["address"]:
        values["address"] = address
    gateway = sb.gateway(sb_pb)
    if gateway is None and switch:
        bound = sb.chassis_of(sb_pb)
        gateway = None if bound is None else str(bound["name"])
    gateway = gateway or ""
    if gateway != isb_pb["gateway"]:
        values["gateway"] = gateway
    ops: list[Op] = []
    if values:
        ops.append(Update("ic_sb", "Port_Binding", isb_pb.uuid, values))
    ops.extend(_router_id_ops(sb, sb_pb, isb_pb))
    ops.extend(_sync_tnl_key(lsp, int(isb_pb["tunnel_key"])))
    return ops


def _sync_remote(sb: _Sb, isb_pb: Row, lsp: Row, sb_pb: Row, rules: IcRules) -> list[Op]:
    ops: list[Op] = []
    address = str(isb_pb["address"])
    addresses = frozenset({address}) if address else frozenset()
    if frozenset(lsp["addresses"]) != addresses:
        ops.append(Update("nb", "Logical_Switch_Port", lsp.uuid, {"addresses": addresses}))
    ops.extend(_sync_tnl_key(lsp, int(isb_pb["tunnel_key"])))
    if rules.requested_chassis and "requested-chassis" in lsp["options"]:
        return ops  # the CMS chose the chassis (23.09)
    gateway = str(isb_pb["gateway"])
    bound = sb.chassis_of(sb_pb)
    if gateway:
        if bound is None or bound["name"] != gateway:
            chassis = sb.chassis_named(gateway)
            if chassis is not None:
                ops.append(Update("sb", "Port_Binding", sb_pb.uuid, {"chassis": chassis.uuid}))
    elif sb_pb["chassis"] is not None:
        ops.append(Update("sb", "Port_Binding", sb_pb.uuid, {"chassis": None}))
    return ops


def _create_isb_pb(sb: _Sb, sb_pb: Row, az: Row, ts: str, key: int, switch: bool) -> Insert:
    values: dict[str, Any] = {
        "availability_zone": az.uuid,
        "transit_switch": ts,
        "logical_port": str(sb_pb["logical_port"]),
        "tunnel_key": key,
    }
    address = "unknown" if switch else sb.address(sb_pb)
    if address is not None:
        values["address"] = address
    gateway = sb.gateway(sb_pb)
    if gateway is not None:
        values["gateway"] = gateway
    lr = sb.router_id(sb_pb)
    if lr is not None:
        values["external_ids"] = {"router-id": str(lr)}
    return Insert("ic_sb", "Port_Binding", values)


def _by_port(rows: list[Row]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for row in sorted(rows, key=lambda r: (r["logical_port"], r.uuid.int)):
        out.setdefault(str(row["logical_port"]), row)
    return out


def plan_port_bindings(snap: Snapshot, *, hints: KeyHints | None = None,
                       rules: IcRules | None = None) -> Plan:
    """Sync the ports of every transit switch with IC-SB (module doc)."""
    az = local_az(snap)
    if az is None:
        return Plan()
    hints = hints or KeyHints()
    rules = rules or RULES_23_03
    local_types = ("router", "switch") if rules.switch_ports else ("router",)
    sb = _Sb(snap)
    lsps = snap.nb.table("Logical_Switch_Port")
    all_local: dict[uuid.UUID, Row] = {
        r.uuid: r
        for r in find_rows(snap.ic_sb, "Port_Binding", _PB_BY_AZ, ("availability_zone",), az.uuid)
    }
    ops: list[Op] = []
    port_hint = hints.port
    created = 0
    for ts in transit_switch_names(snap):
        ls = nb_transit_switches(snap, ts)
        if ls is None:
            continue
        isb_pbs = find_rows(snap.ic_sb, "Port_Binding", _PB_BY_TS, ("transit_switch",), ts)
        local_pbs = _by_port([r for r in isb_pbs if r["availability_zone"] == az.uuid])
        remote_pbs = _by_port([r for r in isb_pbs if r["availability_zone"] != az.uuid])
        for row in local_pbs.values():
            all_local.pop(row.uuid, None)
        alloc = KeyAllocator(PORT_KEY_MIN, PORT_KEY_MAX, port_hint,
                             {int(r["tunnel_key"]) for r in isb_pbs})
        ports = [p for p in (lsps.get(ref) for ref in ls["ports"]) if p is not None]
        for lsp in sorted(ports, key=lambda r: (r["name"], r.uuid.int)):
            name = str(lsp["name"])
            if lsp["type"] in local_types:
                sb_pb = sb.port(name)
                if sb_pb is None:
                    continue
                isb_pb = local_pbs.pop(name, None)
                if isb_pb is None:
                    key = alloc.allocate()
                    if key is not None:
                        ops.append(_create_isb_pb(sb, sb_pb, az, ts, key,
                                                  lsp["type"] == "switch"))
                else:
                    ops.extend(_sync_local(sb, isb_pb, sb_pb, lsp))
            elif lsp["type"] == "remote":
                isb_pb = remote_pbs.pop(name, None)
                if isb_pb is None:
                    ops.append(Mutate("nb", "Logical_Switch", ls.uuid, "ports",
                                      delete=frozenset({lsp.uuid})))
                else:
                    sb_pb = sb.port(name)
                    if sb_pb is not None:
                        ops.extend(_sync_remote(sb, isb_pb, lsp, sb_pb, rules))
        port_hint = alloc.hint
        for row in local_pbs.values():
            ops.append(Delete("ic_sb", "Port_Binding", row.uuid))
        for name, isb_pb in remote_pbs.items():
            if find_rows(snap.nb, "Logical_Switch_Port", "name", ("name",), name):
                continue
            created += 1
            ops.extend(_create_lsp(isb_pb, ls, f"pb_lsp_{created}"))
    for row in sorted(all_local.values(), key=lambda r: (r["logical_port"], r.uuid.int)):
        ops.append(Delete("ic_sb", "Port_Binding", row.uuid))
    return Plan(tuple(ops))


def _create_lsp(isb_pb: Row, ls: Row, named: str) -> list[Op]:
    address = str(isb_pb["address"])
    values: Mapping[str, Any] = {
        "name": str(isb_pb["logical_port"]),
        "type": "remote",
        "up": True,
        "addresses": frozenset({address}) if address else frozenset(),
        "options": {"requested-tnl-key": str(isb_pb["tunnel_key"])},
    }
    return [
        Insert("nb", "Logical_Switch_Port", values, name=named),
        Mutate("nb", "Logical_Switch", ls.uuid, "ports", insert=frozenset({NamedUUID(named)})),
    ]
