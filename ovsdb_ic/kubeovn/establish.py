"""Kube-OVN's establish and teardown of interconnection, as pure planners.

:func:`plan_establish` and :func:`plan_teardown` read a
:class:`~ovsdb_ic.ic.Snapshot` and return a :class:`~ovsdb_ic.sync.plan.Plan`
(operations for ``nb``, ``ic_nb``, ``ic_sb`` and ``sb``) that does what Kube-OVN's
controller does for an ``ovn-ic-config``: the AZ name, the ``ts``, ``ts1``, ...
transit switches, one ``<ts>-<az>`` / ``<az>-<ts>`` port pair per transit switch on
the cluster router with its gateways rotated for ECMP, and the auto-route options.
Both are idempotent: applying the plan and planning again gives an empty plan.

For manual routing, :func:`remote_ts_ports` lists the other AZs' transit switch ports
and :func:`plan_static_routes` adds static routes through them. No I/O here; see
docs/kubeovn.md.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal, TypeAlias

import attrs

from ovsdb_ic.constants import DEFAULT_CLUSTER_ROUTER, MAX_TS_NUM
from ovsdb_ic.errors import ConfigError, OvsdbError
from ovsdb_ic.ic.addr import Cidr, parse_address, parse_cidr
from ovsdb_ic.ic.databases import (
    LEARNED_ROUTE_KEY,
    TS_KEY,
    DatabaseKey,
    Requirements,
    Snapshot,
    find_rows,
    nb_global,
)
from ovsdb_ic.kubeovn.config import IcConfig
from ovsdb_ic.replica import Row, TableView
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, Update
from ovsdb_ic.wire.data import NamedUUID

__all__ = [
    "AUTO_ROUTE_KEYS",
    "DEFAULT_CLUSTER_ROUTER",
    "GW_CHASSIS_MAX_PRIORITY",
    "LEARNED_ROUTE_KEY",
    "MAX_TS_NUM",
    "REQUIREMENTS",
    "VENDOR",
    "EstablishError",
    "Protocol",
    "RemotePort",
    "deny_list",
    "plan_establish",
    "plan_static_routes",
    "plan_teardown",
    "remote_ts_ports",
    "ts_index",
    "ts_name",
    "ts_subnet",
]

VENDOR: Final = "kube-ovn"
"""The ``external_ids:vendor`` value on the transit switches, ports and router ports."""

GW_CHASSIS_MAX_PRIORITY: Final = 100
"""Priority of a transit switch's preferred gateway; the next ones get 99, 98, ..."""

AUTO_ROUTE_KEYS: Final[tuple[str, ...]] = ("ic-route-adv", "ic-route-learn", "ic-route-blacklist")
"""The ``NB_Global.options`` keys auto-route sets (and manual mode or teardown removes)."""

_TS_PREFIX: Final = "ts"
_TS_NAME = re.compile(r"ts(|[1-9][0-9]*)")
_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")

Protocol: TypeAlias = Literal["IPv4", "IPv6", "Dual"]
"""The address families of new transit switch subnets (Kube-OVN's protocol names)."""



class EstablishError(OvsdbError, ValueError):
    """The databases do not allow the requested plan (e.g. the cluster router name is
    ambiguous, a transit switch has no free address or an unreadable subnet)."""


REQUIREMENTS: Final = Requirements(
    tables={
        "nb": {
            "NB_Global": ("name", "options"),
            "Logical_Switch": ("name", "ports", "other_config"),
            "Logical_Switch_Port": ("name", "type", "addresses", "options", "external_ids"),
            "Logical_Router": ("name", "ports", "static_routes", "policies"),
            "Logical_Router_Port": ("name", "networks", "mac", "gateway_chassis", "external_ids"),
            "Gateway_Chassis": ("name", "chassis_name", "priority", "external_ids"),
            "Logical_Router_Static_Route": (
                "ip_prefix", "nexthop", "route_table", "policy", "options", "external_ids",
            ),
            # Kube-OVN's learned-route policies, removed by teardown (kubeovn.policies)
            "Logical_Router_Policy": (
                "priority", "match", "action", "nexthops", "options", "external_ids",
            ),
        },
        "sb": {"Chassis": ("name", "hostname", "other_config")},
        "ic_nb": {"Transit_Switch": ("name", "external_ids")},
        "ic_sb": {
            "Availability_Zone": ("name",),
            "Gateway": ("name", "availability_zone"),
            "Port_Binding": (
                "logical_port", "transit_switch", "availability_zone", "address", "gateway",
            ),
            "Route": ("transit_switch", "availability_zone"),
        },
    },
    indexes=(
        Requirements.index("nb", "Logical_Switch", "name"),
        Requirements.index("nb", "Logical_Router", "name"),
        Requirements.index("sb", "Chassis", "hostname"),
        Requirements.index("ic_sb", "Port_Binding", "transit_switch"),
        Requirements.index("ic_sb", "Port_Binding", "availability_zone"),
        Requirements.index("ic_sb", "Gateway", "availability_zone"),
        Requirements.index("ic_sb", "Route", "availability_zone"),
    ),
)
"""What the planners of this module read (tables, columns, client indexes)."""


# ------------------------------------------------------------------------ naming


def ts_name(index: int) -> str:
    """The name of transit switch ``index``: ``ts`` for 0, then ``ts1``, ``ts2``, ..."""
    if index < 0:
        raise ValueError(f"transit switch index {index} is negative")
    return _TS_PREFIX if index == 0 else f"{_TS_PREFIX}{index}"


def ts_index(name: str) -> int | None:
    """The index of a Kube-OVN transit switch name (``ts`` -> 0, ``ts2`` -> 2), or
    ``None`` for any other name (``ts0`` and ``ts01`` included)."""
    match = _TS_NAME.fullmatch(name)
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else 0


def ts_subnet(index: int, protocol: Protocol = "Dual") -> str:
    """Kube-OVN's subnet of transit switch ``index``: ``169.254.(100+i).0/24`` and
    ``fe80:a9fe:<hex(100+i)>::/112``, comma-separated for ``Dual``."""
    if not 0 <= index < MAX_TS_NUM:
        raise ValueError(f"transit switch index {index} is outside 0..{MAX_TS_NUM - 1}")
    v4 = f"169.254.{100 + index}.0/24"
    v6 = f"fe80:a9fe:{100 + index:02x}::/112"
    if protocol == "IPv4":
        return v4
    if protocol == "IPv6":
        return v6
    if protocol == "Dual":
        return f"{v4},{v6}"
    raise ValueError(f"unknown protocol {protocol!r} (IPv4, IPv6 or Dual)")


def deny_list(
    disabled_subnets: Iterable[str] = (),
    join_subnet: str | None = None,
    node_ips: Iterable[str] = (),
) -> tuple[str, ...]:
    """Kube-OVN's ``ic-route-blacklist`` entries: the CIDRs of the subnets with
    ``disableInterConnection``, the join subnet, then every node's internal IP.

    An entry may be a dual-stack ``"v4cidr,v6cidr"`` string. Entries are stripped and
    de-duplicated (first one kept); a bad CIDR or IP raises
    :class:`~ovsdb_ic.errors.ConfigError` naming the parameter.
    """
    if isinstance(disabled_subnets, str) or isinstance(node_ips, str):
        raise TypeError("disabled_subnets and node_ips are sequences of strings")
    out: dict[str, None] = {}
    sources: list[tuple[str, Iterable[str], bool]] = [
        ("disabled_subnets", disabled_subnets, True),
        ("join_subnet", () if join_subnet is None else (join_subnet,), True),
        ("node_ips", node_ips, False),
    ]
    for field, entries, cidr in sources:
        for entry in entries:
            for part in str(entry).split(","):
                part = part.strip()
                if not part:
                    continue
                parsed = parse_cidr(part) if cidr else parse_address(part)
                if parsed is None:
                    what = "a CIDR" if cidr else "an IP address"
                    raise ConfigError(field, part, f"is not {what}")
                out.setdefault(part, None)
    return tuple(out)


# ------------------------------------------------------------------- row helpers


def _by_name(view: TableView, name: str) -> Row | None:
    """The row of a table with a unique ``name`` index."""
    return view.lookup_one("name", name)


def _az_names(snap: Snapshot) -> dict[uuid.UUID, str]:
    return {row.uuid: row["name"] for row in snap.ic_sb.table("Availability_Zone")}


def _sha(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class _Names:
    """Fresh named-uuid names for one plan."""

    def __init__(self) -> None:
        self._count = 0

    def __call__(self, kind: str) -> NamedUUID:
        self._count += 1
        return NamedUUID(f"kubeovn_{kind}_{self._count}")


class _SetMutations:
    """Set-column additions and removals per row, emitted as one Mutate each."""

    def __init__(self) -> None:
        self._rows: dict[tuple[DatabaseKey, str, uuid.UUID, str], tuple[set[Any], set[Any]]] = {}

    def add(self, db: DatabaseKey, table: str, row: uuid.UUID, column: str, value: Any) -> None:
        self._rows.setdefault((db, table, row, column), (set(), set()))[0].add(value)

    def remove(self, db: DatabaseKey, table: str, row: uuid.UUID, column: str, value: Any) -> None:
        self._rows.setdefault((db, table, row, column), (set(), set()))[1].add(value)

    def ops(self, skip: Iterable[uuid.UUID] = ()) -> list[Op]:
        skipped = set(skip)
        out: list[Op] = []
        for (db, table, row, column), (ins, dele) in self._rows.items():
            if row in skipped:
                continue
            ins, dele = ins - dele, dele - ins
            if ins or dele:
                out.append(Mutate(db, table, row, column, frozenset(ins), frozenset(dele)))
        return out


def _map_mutation(
    db: DatabaseKey, table: str, row: Row, column: str, want: Mapping[str, str | None]
) -> Op | None:
    """Set (value) or remove (``None``) keys of a map column, touching no other key."""
    have = row[column]
    insert = {k: v for k, v in want.items() if v is not None and have.get(k) != v}
    delete = {k for k, v in want.items() if k in have and (v is None or have[k] != v)}
    if not insert and not delete:
        return None
    return Mutate(db, table, row.uuid, column, insert, frozenset(delete))


# ----------------------------------------------------------------------- subnets


@attrs.frozen
class _Subnet:
    """A transit switch subnet: an IPv4 and/or an IPv6 network."""

    v4: Cidr | None
    v6: Cidr | None

    @property
    def networks(self) -> tuple[Cidr, ...]:
        return tuple(n for n in (self.v4, self.v6) if n is not None)

    def capacity(self) -> int:
        """How many host numbers every family of the subnet has room for."""
        caps = []
        if self.v4 is not None:
            caps.append(max(0, self.v4.size - 2))
        if self.v6 is not None:
            caps.append(self.v6.size - 1)
        return min(caps)

    def host(self, number: int) -> tuple[Cidr, ...]:
        """Host ``number`` (from 1) in each family, as addresses with the prefix."""
        return tuple(net.host(number) for net in self.networks)

    def valid_host(self, iface: Cidr) -> bool:
        """Whether ``iface`` is a usable host address of its family's network."""
        for net in self.networks:
            if net.version != iface.version:
                continue
            if iface.prefix() != net or iface.address == net.network:
                return False
            return not (net.version == 4 and iface.address == net.last)
        return False

    def __str__(self) -> str:
        return ",".join(str(n) for n in self.networks)


def _parse_subnet(text: str) -> _Subnet | None:
    v4: Cidr | None = None
    v6: Cidr | None = None
    for part in text.split(","):
        part = part.strip().strip('"')
        if not part:
            continue
        parsed = parse_cidr(part)
        if parsed is None:
            return None
        net = parsed.prefix()
        if net.version == 4:
            if v4 is not None:
                return None
            v4 = net
        else:
            if v6 is not None:
                return None
            v6 = net
    subnet = _Subnet(v4, v6)
    if not subnet.networks or subnet.capacity() < 1:
        return None
    return subnet


# ------------------------------------------------------------------------- peers


@attrs.frozen
class _Peer:
    """Another port on a transit switch: its AZ (``None`` when unknown) and addresses."""

    az: str | None
    ips: frozenset[Cidr]
    macs: frozenset[str]


def _peer(az: str | None, mac: str | None, ifaces: Iterable[Cidr]) -> _Peer:
    return _Peer(az, frozenset(i.ip for i in ifaces), frozenset(() if mac is None else (mac,)))


def _parse_addresses(texts: Iterable[str]) -> tuple[str | None, tuple[Cidr, ...]]:
    """``"00:00:00:00:01:01 169.254.100.1/24 fe80::1/112"`` -> (mac, interfaces)."""
    mac: str | None = None
    ifaces: list[Cidr] = []
    for text in texts:
        for token in text.split():
            if _MAC.fullmatch(token):
                mac = mac or token.lower()
                continue
            iface = parse_cidr(token)
            if iface is not None:
                ifaces.append(iface)
    return mac, tuple(ifaces)


def _ts_peers(
    snap: Snapshot,
    ts: str,
    ls_row: Row | None,
    own_lsp: str,
    az: str,
    az_names: Mapping[uuid.UUID, str],
) -> list[_Peer]:
    """Every port on transit switch ``ts`` except ours: the IC-SB Port_Bindings of the
    switch and the NB ports of its local mirror (remote ports, other routers' ports)."""
    peers: list[_Peer] = []
    bindings = find_rows(snap.ic_sb, "Port_Binding", "transit_switch", ("transit_switch",), ts)
    for pb in bindings:
        pb_az = az_names.get(pb["availability_zone"])
        if pb["logical_port"] == own_lsp and pb_az == az:
            continue
        mac, ifaces = _parse_addresses([pb["address"]])
        peers.append(_peer(pb_az, mac, ifaces))
    if ls_row is None:
        return peers
    lsps = snap.nb.table("Logical_Switch_Port")
    lrps = snap.nb.table("Logical_Router_Port")
    pbs = snap.ic_sb.table("Port_Binding")
    for port_uuid in sorted(ls_row["ports"]):
        lsp = lsps.get(port_uuid)
        if lsp is None or lsp["name"] == own_lsp:
            continue
        if lsp["type"] == "remote":
            mac, ifaces = _parse_addresses(lsp["addresses"])
            binding = pbs.lookup_one("logical_port", lsp["name"])
            peer_az = None if binding is None else az_names.get(binding["availability_zone"])
            if peer_az is None and lsp["name"].startswith(f"{ts}-"):
                peer_az = lsp["name"][len(ts) + 1 :]
        elif lsp["type"] == "router":
            peer_lrp = _by_name(lrps, lsp["options"].get("router-port", ""))
            if peer_lrp is None:
                continue
            mac, ifaces = _parse_addresses([peer_lrp["mac"], *peer_lrp["networks"]])
            peer_az = az
        else:
            continue
        peers.append(_peer(peer_az, mac, ifaces))
    return peers


def _loses_to(peer: _Peer, az: str) -> bool:
    """On a clash, whether *we* must move: the AZ whose name sorts first keeps its
    address; a port of our own AZ or of an unknown AZ never moves for us."""
    return peer.az is None or peer.az <= az


def _keep_networks(
    networks: Iterable[str], subnet: _Subnet, peers: Sequence[_Peer], az: str
) -> bool:
    """Whether an existing router port's networks are still right: one usable host
    address per family of the subnet, nothing else, and no clash we lose."""
    parsed = [parse_cidr(n) for n in networks]
    ifaces = [i for i in parsed if i is not None]
    if len(ifaces) != len(parsed):
        return False
    if len(ifaces) != len(subnet.networks) or not all(subnet.valid_host(i) for i in ifaces):
        return False
    if len({i.version for i in ifaces}) != len(ifaces):
        return False
    ours = {i.ip for i in ifaces}
    return not any(peer.ips & ours and _loses_to(peer, az) for peer in peers)


def _choose_networks(subnet: _Subnet, peers: Sequence[_Peer], az: str, ts: str) -> frozenset[str]:
    """A free host number of the subnet, the same in each family, starting at a place
    derived from the AZ name (so that AZs starting together rarely pick the same)."""
    used = set().union(*(p.ips for p in peers)) if peers else set()
    cap = subnet.capacity()
    start = int.from_bytes(_sha(az)[:8], "big") % cap
    for step in range(cap):
        ifaces = subnet.host(1 + (start + step) % cap)
        if not any(i.ip in used for i in ifaces):
            return frozenset(str(i) for i in ifaces)
    raise EstablishError(f"transit switch {ts}: no free address left in {subnet}")


def _choose_mac(current: str, peers: Sequence[_Peer], az: str, ts: str) -> str:
    """Keep a valid MAC nobody we lose to uses; else ``00:00:00:xx:xx:xx`` (Kube-OVN's
    layout) from a hash of AZ and switch, skipping MACs in use on the switch."""
    used = set().union(*(p.macs for p in peers)) if peers else set()
    if _MAC.fullmatch(current or "") and not any(
        current.lower() in p.macs and _loses_to(p, az) for p in peers
    ):
        return current
    value = int.from_bytes(_sha(f"{az}/{ts}")[:3], "big")
    for _ in range(1 << 24):
        value = value or 1
        mac = "00:00:00:" + ":".join(f"{b:02x}" for b in value.to_bytes(3, "big"))
        if mac not in used:
            return mac
        value = (value + 1) % (1 << 24)
    raise EstablishError(f"transit switch {ts}: no free MAC address")  # pragma: no cover


# -------------------------------------------------------------------- establish


@attrs.frozen
class _TransitSwitch:
    position: int
    name: str
    subnet: _Subnet


def _auto_route_options(
    config: IcConfig,
    disabled_subnets: Iterable[str],
    join_subnet: str | None,
    node_ips: Iterable[str],
) -> dict[str, str | None]:
    if not config.auto_route:
        return dict.fromkeys(AUTO_ROUTE_KEYS)
    denied = deny_list(disabled_subnets, join_subnet, node_ips)
    return {
        "ic-route-adv": "true",
        "ic-route-learn": "true",
        "ic-route-blacklist": ",".join(denied) if denied else None,
    }


def _transit_switches(
    snap: Snapshot, ts_num: int | None, protocol: Protocol, ops: list[Op]
) -> list[_TransitSwitch]:
    """The transit switches this AZ attaches to; IC-NB ops creating or fixing them."""
    table = snap.ic_nb.table("Transit_Switch")
    if ts_num is None:
        indexes = sorted(
            i for row in table
            if row["external_ids"].get("vendor") == VENDOR
            and (i := ts_index(row["name"])) is not None and i < MAX_TS_NUM
        )
        names = [ts_name(i) for i in indexes] or [ts_name(0)]
    else:
        names = [ts_name(i) for i in range(ts_num)]
    out = []
    for position, name in enumerate(names):
        index = ts_index(name)
        assert index is not None
        default = ts_subnet(index, protocol)
        row = _by_name(table, name)
        if row is None:
            ops.append(Insert("ic_nb", "Transit_Switch", {
                "name": name, "external_ids": {"vendor": VENDOR, "subnet": default},
            }))
            text = default
        else:
            text = row["external_ids"].get("subnet", default)
            want: dict[str, str | None] = {"vendor": VENDOR}
            if "subnet" not in row["external_ids"]:
                want["subnet"] = default
            op = _map_mutation("ic_nb", "Transit_Switch", row, "external_ids", want)
            if op is not None:
                ops.append(op)
        subnet = _parse_subnet(text)
        if subnet is None:
            raise EstablishError(
                f"transit switch {name}: external_ids:subnet={text!r} is not one IPv4 "
                "and/or one IPv6 CIDR with room for hosts"
            )
        out.append(_TransitSwitch(position, name, subnet))
    return out


def _chassis_name(snap: Snapshot, node: str) -> str:
    """The SB chassis of a gateway node: the name of the local chassis whose hostname is
    the node (the first by name if several), else the node name itself."""
    local = [
        r for r in find_rows(snap.sb, "Chassis", "hostname", ("hostname",), node)
        if r["other_config"].get("is-remote") != "true"
    ]
    if local:
        return str(min(r["name"] for r in local))
    return node


def _rotated(items: Sequence[str], by: int) -> list[str]:
    if not items:
        return []
    by %= len(items)
    return [*items[by:], *items[:by]]


def _owners(view: TableView, column: str, member: uuid.UUID) -> list[Row]:
    """Rows of ``view`` whose set column ``column`` holds ``member``."""
    return sorted((r for r in view if member in r[column]), key=lambda r: r.uuid)


def _find_router(snap: Snapshot, name: str) -> Row | None:
    rows = find_rows(snap.nb, "Logical_Router", "name", ("name",), name)
    if len(rows) > 1:
        raise EstablishError(f"{len(rows)} logical routers are named {name!r}; expected one")
    return rows[0] if rows else None


def _ts_mirror(snap: Snapshot, ts: str) -> Row | None:
    """The NB switch mirroring transit switch ``ts`` (name and ``interconn-ts``)."""
    rows = [
        r for r in find_rows(snap.nb, "Logical_Switch", "name", ("name",), ts)
        if r["other_config"].get(TS_KEY) == ts
    ]
    return rows[0] if rows else None


class _Establish:
    """The NB part of an establish plan, built one transit switch at a time."""

    def __init__(self, snap: Snapshot, az: str, cluster_router: str, chassis: list[str]) -> None:
        self.snap = snap
        self.az = az
        self.chassis = chassis
        self.names = _Names()
        self.inserts: list[Op] = []
        self.updates: list[Op] = []
        self.sets = _SetMutations()
        self.lsps = snap.nb.table("Logical_Switch_Port")
        self.lrps = snap.nb.table("Logical_Router_Port")
        self.gcs = snap.nb.table("Gateway_Chassis")
        self.routers = snap.nb.table("Logical_Router")
        self.switches = snap.nb.table("Logical_Switch")
        self.az_names = _az_names(snap)
        self.cluster_router = cluster_router
        self.router = _find_router(snap, cluster_router)
        self.router_ref: uuid.UUID | NamedUUID = (
            self.router.uuid if self.router is not None else self.names("lr")
        )
        self.new_router_ports: set[Any] = set()

    def update(self, table: str, row: Row, want: Mapping[str, Any]) -> None:
        """Set the columns of ``want`` that differ."""
        changed = {k: v for k, v in want.items() if row[k] != v}
        if changed:
            self.updates.append(Update("nb", table, row.uuid, changed))

    def update_map(self, table: str, row: Row, column: str, want: Mapping[str, str | None]) -> None:
        op = _map_mutation("nb", table, row, column, want)
        if op is not None:
            self.updates.append(op)

    def nb_global(self, options: Mapping[str, str | None]) -> None:
        """The AZ name and the auto-route options."""
        nbg = nb_global(self.snap.nb)
        if nbg is None:
            self.inserts.append(Insert("nb", "NB_Global", {
                "name": self.az, "options": {k: v for k, v in options.items() if v is not None},
            }))
            return
        self.update("NB_Global", nbg, {"name": self.az})
        self.update_map("NB_Global", nbg, "options", options)

    def attach(
        self, table: str, column: str, parent: uuid.UUID | NamedUUID,
        member: uuid.UUID | NamedUUID, new_members: set[Any],
    ) -> None:
        """Make ``member`` belong to ``parent``'s set ``column`` only (moving it there)."""
        owners: list[Row] = []
        if isinstance(member, uuid.UUID):
            owners = _owners(self.snap.nb.table(table), column, member)
            for owner in owners:
                if owner.uuid != parent:
                    self.sets.remove("nb", table, owner.uuid, column, member)
        if isinstance(parent, NamedUUID):
            new_members.add(member)
        elif parent not in {o.uuid for o in owners}:
            self.sets.add("nb", table, parent, column, member)

    def gateways(self, lrp_name: str, lrp_row: Row | None, position: int) -> set[Any]:
        """Gateway_Chassis ``<lrp>-<chassis>`` rotated by ``position``; their refs."""
        current = {} if lrp_row is None else {
            self.gcs[u]["name"]: self.gcs[u] for u in lrp_row["gateway_chassis"] if u in self.gcs
        }
        refs: set[Any] = set()
        for j, ch in enumerate(_rotated(self.chassis, position)):
            name, priority = f"{lrp_name}-{ch}", GW_CHASSIS_MAX_PRIORITY - j
            row = current.get(name)
            if row is None:
                row = _by_name(self.gcs, name)
            if row is None:
                ref = self.names("gc")
                self.inserts.append(Insert("nb", "Gateway_Chassis", {
                    "name": name, "chassis_name": ch, "priority": priority,
                    "external_ids": {"lrp": lrp_name},
                }, name=ref.name))
                refs.add(ref)
                continue
            refs.add(row.uuid)
            self.update("Gateway_Chassis", row, {"chassis_name": ch, "priority": priority})
            if name not in current:  # adopted from another router port
                for owner in _owners(self.lrps, "gateway_chassis", row.uuid):
                    if lrp_row is None or owner.uuid != lrp_row.uuid:
                        self.sets.remove("nb", "Logical_Router_Port", owner.uuid,
                                         "gateway_chassis", row.uuid)
        return refs

    def router_port(self, ts: _TransitSwitch, peers: Sequence[_Peer]) -> None:
        """The LRP ``<az>-<ts>`` on the cluster router, its addresses and gateways."""
        az = self.az
        lrp_name = f"{az}-{ts.name}"
        row = _by_name(self.lrps, lrp_name)
        if row is not None and _keep_networks(row["networks"], ts.subnet, peers, az):
            networks = frozenset(row["networks"])
        else:
            networks = _choose_networks(ts.subnet, peers, az, ts.name)
        mac = _choose_mac(row["mac"] if row is not None else "", peers, az, ts.name)
        gc_refs = self.gateways(lrp_name, row, ts.position)
        if row is None:
            ref = self.names("lrp")
            self.inserts.append(Insert("nb", "Logical_Router_Port", {
                "name": lrp_name, "mac": mac, "networks": networks,
                "gateway_chassis": frozenset(gc_refs), "external_ids": {"vendor": VENDOR},
            }, name=ref.name))
            member: uuid.UUID | NamedUUID = ref
        else:
            member = row.uuid
            self.update("Logical_Router_Port", row, {"networks": networks, "mac": mac})
            self.update_map("Logical_Router_Port", row, "external_ids", {"vendor": VENDOR})
            for gc_uuid in row["gateway_chassis"] - gc_refs:
                self.sets.remove("nb", "Logical_Router_Port", row.uuid, "gateway_chassis", gc_uuid)
            for ref in gc_refs - row["gateway_chassis"]:
                self.sets.add("nb", "Logical_Router_Port", row.uuid, "gateway_chassis", ref)
        self.attach("Logical_Router", "ports", self.router_ref, member, self.new_router_ports)

    def switch_port(self, ts: _TransitSwitch, ls_row: Row | None) -> None:
        """The LSP ``<ts>-<az>`` on the transit switch's mirror (made when missing)."""
        lsp_name, lrp_name = f"{ts.name}-{self.az}", f"{self.az}-{ts.name}"
        ls_ref: uuid.UUID | NamedUUID = ls_row.uuid if ls_row is not None else self.names("ls")
        row = _by_name(self.lsps, lsp_name)
        options = {"router-port": lrp_name}
        external_ids = {"ls": ts.name, "vendor": VENDOR}
        if row is None:
            ref = self.names("lsp")
            self.inserts.append(Insert("nb", "Logical_Switch_Port", {
                "name": lsp_name, "type": "router", "addresses": frozenset({"router"}),
                "options": options, "external_ids": external_ids,
            }, name=ref.name))
            member: uuid.UUID | NamedUUID = ref
        else:
            member = row.uuid
            self.update("Logical_Switch_Port", row,
                        {"type": "router", "addresses": frozenset({"router"})})
            self.update_map("Logical_Switch_Port", row, "options", options)
            self.update_map("Logical_Switch_Port", row, "external_ids", external_ids)
        new_ports: set[Any] = set()
        self.attach("Logical_Switch", "ports", ls_ref, member, new_ports)
        if isinstance(ls_ref, NamedUUID):
            self.inserts.append(Insert("nb", "Logical_Switch", {
                "name": ts.name, "other_config": {TS_KEY: ts.name},
                "ports": frozenset(new_ports),
            }, name=ls_ref.name))

    def detach_others(self, wanted: set[str]) -> None:
        """Remove this AZ's ports on Kube-OVN transit switches not in ``wanted``."""
        for row in sorted(self.lrps, key=lambda r: r.uuid):
            stale = _own_ts_of_lrp(row["name"], self.az)
            if stale is None or stale in wanted:
                continue
            for owner in _owners(self.routers, "ports", row.uuid):
                self.sets.remove("nb", "Logical_Router", owner.uuid, "ports", row.uuid)
            lsp_row = _by_name(self.lsps, f"{stale}-{self.az}")
            if lsp_row is not None:
                for owner in _owners(self.switches, "ports", lsp_row.uuid):
                    self.sets.remove("nb", "Logical_Switch", owner.uuid, "ports", lsp_row.uuid)

    def ops(self) -> list[Op]:
        if self.router is None:
            assert isinstance(self.router_ref, NamedUUID)
            self.inserts.append(Insert("nb", "Logical_Router", {
                "name": self.cluster_router, "ports": frozenset(self.new_router_ports),
            }, name=self.router_ref.name))
        return self.inserts + self.updates + self.sets.ops()


def plan_establish(
    snap: Snapshot,
    config: IcConfig,
    *,
    ts_num: int | None = None,
    cluster_router: str = DEFAULT_CLUSTER_ROUTER,
    protocol: Protocol = "Dual",
    disabled_subnets: Iterable[str] = (),
    join_subnet: str | None = None,
    node_ips: Iterable[str] = (),
) -> Plan:
    """The plan that establishes interconnection for ``config`` (Kube-OVN's workflow).

    * NB: ``NB_Global.name`` = az-name; the auto-route options (``ic-route-adv``,
      ``ic-route-learn``, ``ic-route-blacklist`` from :func:`deny_list` of
      ``disabled_subnets``, ``join_subnet`` and ``node_ips``) set when auto-route is
      on, removed when off.
    * IC-NB: transit switches ``ts``, ``ts1``, ... with ``external_ids:vendor=kube-ovn``
      and ``subnet`` (:func:`ts_subnet` for ``protocol``) created when missing.
      ``ts_num=None`` attaches to the Kube-OVN transit switches IC-NB already has
      (creating ``ts`` when there is none); ``ts_num=N`` to exactly the first N.
    * NB, per transit switch (position ``i``): the local mirror switch when missing,
      the LSP ``<ts>-<az>`` (type router, addresses ``router``, ``router-port``), the
      LRP ``<az>-<ts>`` on ``cluster_router`` (created when missing) with a free
      address of the switch's subnet, and Gateway_Chassis ``<lrp>-<chassis>`` with
      priorities 100, 99, ... over gw-nodes rotated by ``i``. This AZ's ports on
      Kube-OVN transit switches outside that list are removed.

    Raises :class:`~ovsdb_ic.errors.ConfigError` for a config with enable-ic false (use
    :func:`plan_teardown`), a bad ``ts_num`` or deny-list entry, and
    :class:`EstablishError` when the databases do not allow the plan.
    """
    if not config.enable_ic:
        raise ConfigError("enable-ic", "false", "interconnection is disabled: plan a teardown")
    if ts_num is not None and (
        isinstance(ts_num, bool) or not isinstance(ts_num, int) or not 1 <= ts_num <= MAX_TS_NUM
    ):
        raise ConfigError("ts_num", ts_num, f"must be a number from 1 to {MAX_TS_NUM}")
    if protocol not in ("IPv4", "IPv6", "Dual"):
        raise ConfigError("protocol", protocol, "must be IPv4, IPv6 or Dual")
    options = _auto_route_options(config, disabled_subnets, join_subnet, node_ips)
    ic_nb_ops: list[Op] = []
    switches = _transit_switches(snap, ts_num, protocol, ic_nb_ops)
    chassis = list(dict.fromkeys(_chassis_name(snap, node) for node in config.gw_nodes))
    nb = _Establish(snap, config.az_name, cluster_router, chassis)
    nb.nb_global(options)
    for ts in switches:
        ls_row = _ts_mirror(snap, ts.name)
        peers = _ts_peers(snap, ts.name, ls_row, f"{ts.name}-{config.az_name}",
                          config.az_name, nb.az_names)
        nb.router_port(ts, peers)
        nb.switch_port(ts, ls_row)
    nb.detach_others({ts.name for ts in switches})
    # IC-NB first: committed database by database in plan order, the transit switches
    # exist before their local mirrors (which a sync pass would otherwise delete).
    return Plan(tuple(ic_nb_ops + nb.ops()))


def _own_ts_of_lrp(name: str, az: str) -> str | None:
    """``<az>-<ts>`` -> ``<ts>`` for a Kube-OVN transit switch name, else ``None``."""
    prefix = f"{az}-"
    if not name.startswith(prefix):
        return None
    ts = name[len(prefix) :]
    return ts if ts_index(ts) is not None else None


# ---------------------------------------------------------------------- teardown


def plan_teardown(
    snap: Snapshot,
    config_or_az_name: IcConfig | str,
    *,
    remove_remote_chassis: bool = True,
    clear_az_name: bool = False,
) -> Plan:
    """The plan that removes this AZ's interconnection (Kube-OVN's teardown).

    * NB: the auto-route options removed; every ``<ts>-<az>`` LSP and ``<az>-<ts>``
      LRP (``ts`` a Kube-OVN transit switch name) detached, so that the server deletes
      them with their Gateway_Chassis; the local mirrors of the Kube-OVN transit switches
      deleted (with the remote ports on them); every learned static route (with
      ``external_ids:ic-learned-route``) removed from its router, with Kube-OVN's
      policies for them (:func:`~ovsdb_ic.kubeovn.policies.plan_remove_learned_route_policies`).
      ``NB_Global.name`` is kept unless ``clear_az_name``.
    * IC-SB: this AZ's Port_Binding, Gateway and Route rows, then its
      Availability_Zone row, deleted. IC-NB (the transit switches other AZs use) and
      every other AZ's rows are left alone.
    * SB: with ``remove_remote_chassis``, the chassis the sync engine created for other
      AZs' gateways (``other_config:is-remote=true``) deleted.

    Stop the sync engine of this AZ first, or it recreates what the plan removes.
    """
    az = config_or_az_name.az_name if isinstance(config_or_az_name, IcConfig) else (
        config_or_az_name
    )
    if not isinstance(az, str) or not az.strip():
        raise ConfigError("az-name", az, "must not be empty")
    ops: list[Op] = []
    sets = _SetMutations()

    nbg = nb_global(snap.nb)
    if nbg is not None:
        op = _map_mutation("nb", "NB_Global", nbg, "options", dict.fromkeys(AUTO_ROUTE_KEYS))
        if op is not None:
            ops.append(op)
        if clear_az_name and nbg["name"] == az:
            ops.append(Update("nb", "NB_Global", nbg.uuid, {"name": ""}))

    lsps = snap.nb.table("Logical_Switch_Port")
    lrps = snap.nb.table("Logical_Router_Port")
    routers = snap.nb.table("Logical_Router")
    ls_table = snap.nb.table("Logical_Switch")

    doomed: dict[uuid.UUID, Row] = {
        r.uuid: r for r in ls_table
        if ts_index(r["name"]) is not None and r["other_config"].get(TS_KEY) == r["name"]
    }
    ts_names = {r["name"] for r in doomed.values()}
    ts_names |= {
        r["name"] for r in snap.ic_nb.table("Transit_Switch") if ts_index(r["name"]) is not None
    }
    for lrp_row in sorted(lrps, key=lambda r: r.uuid):
        ts = _own_ts_of_lrp(lrp_row["name"], az)
        if ts is None:
            continue
        ts_names.add(ts)
        for owner in _owners(routers, "ports", lrp_row.uuid):
            sets.remove("nb", "Logical_Router", owner.uuid, "ports", lrp_row.uuid)
    for ts in sorted(ts_names):
        lsp_row = _by_name(lsps, f"{ts}-{az}")
        if lsp_row is None:
            continue
        for owner in _owners(ls_table, "ports", lsp_row.uuid):
            if owner["name"] == ts:
                doomed[owner.uuid] = owner
            else:
                sets.remove("nb", "Logical_Switch", owner.uuid, "ports", lsp_row.uuid)
    static_routes = snap.nb.table("Logical_Router_Static_Route")
    for router in sorted(routers, key=lambda r: r.uuid):
        for route_uuid in router["static_routes"]:
            route = static_routes.get(route_uuid)
            if route is not None and LEARNED_ROUTE_KEY in route["external_ids"]:
                sets.remove("nb", "Logical_Router", router.uuid, "static_routes", route_uuid)
    ops += sets.ops(skip=set(doomed))
    ops += [Delete("nb", "Logical_Switch", u) for u in sorted(doomed)]
    from ovsdb_ic.kubeovn.policies import plan_remove_learned_route_policies

    ops += plan_remove_learned_route_policies(snap)

    az_row = _by_name(snap.ic_sb.table("Availability_Zone"), az)
    if az_row is not None:
        for table in ("Port_Binding", "Gateway", "Route"):
            for row in find_rows(snap.ic_sb, table, "availability_zone",
                                 ("availability_zone",), az_row.uuid):
                ops.append(Delete("ic_sb", table, row.uuid))
        ops.append(Delete("ic_sb", "Availability_Zone", az_row.uuid))

    if remove_remote_chassis:
        for row in sorted(snap.sb.table("Chassis"), key=lambda r: r.uuid):
            if row["other_config"].get("is-remote") == "true":
                ops.append(Delete("sb", "Chassis", row.uuid))
    return Plan(tuple(ops))


# ----------------------------------------------------------------- manual routes


@attrs.frozen
class RemotePort:
    """A port of another AZ on a transit switch, as IC-SB's Port_Binding shows it."""

    transit_switch: str
    """The transit switch (``ts``, ``ts1``, ...)."""
    logical_port: str
    """The port's name, ``<ts>-<az>`` for Kube-OVN."""
    availability_zone: str
    """The AZ owning the port."""
    mac: str | None
    """The router port's MAC, when the binding has one."""
    networks: tuple[str, ...]
    """Its addresses with prefix length, e.g. ``("169.254.100.31/24", "fe80:a9fe:64::1f/112")``."""
    gateway: str = ""
    """The chassis the port is bound to in its AZ (empty when unbound)."""

    @property
    def nexthops(self) -> tuple[str, ...]:
        """The addresses without prefix length: what a static route's nexthop takes."""
        return tuple(c.address_text() for n in self.networks if (c := parse_cidr(n)))

    def nexthop(self, version: Literal[4, 6] = 4) -> str | None:
        """The port's IPv4 (or IPv6) address, ``None`` when it has none."""
        for net in self.networks:
            iface = parse_cidr(net)
            if iface is not None and iface.version == version:
                return iface.address_text()
        return None


def remote_ts_ports(
    snap: Snapshot,
    az: IcConfig | str,
    *,
    peer: str | None = None,
    transit_switches: Iterable[str] | None = None,
) -> tuple[RemotePort, ...]:
    """The transit switch ports of every AZ but ``az`` (only ``peer``'s when given,
    only on ``transit_switches`` when given), read from IC-SB Port_Binding, ordered by
    transit switch (``ts``, ``ts1``, ...), AZ and port."""
    own = az.az_name if isinstance(az, IcConfig) else az
    only = None if transit_switches is None else set(transit_switches)
    names = _az_names(snap)
    out = []
    for pb in snap.ic_sb.table("Port_Binding"):
        pb_az = names.get(pb["availability_zone"], "")
        if pb_az == own or (peer is not None and pb_az != peer):
            continue
        if only is not None and pb["transit_switch"] not in only:
            continue
        mac, ifaces = _parse_addresses([pb["address"]])
        out.append(RemotePort(
            transit_switch=pb["transit_switch"],
            logical_port=pb["logical_port"],
            availability_zone=pb_az,
            mac=mac,
            networks=tuple(str(i) for i in ifaces),
            gateway=str(pb.get("gateway", "")),
        ))

    def key(p: RemotePort) -> tuple[int, str, str, str]:
        index = ts_index(p.transit_switch)
        return (MAX_TS_NUM if index is None else index, p.transit_switch,
                p.availability_zone, p.logical_port)

    return tuple(sorted(out, key=key))


def _same_prefix(text: str, net: Cidr) -> bool:
    parsed = parse_cidr(text)
    return parsed is not None and parsed.prefix() == net


def _same_ip(text: str, ip: Cidr) -> bool:
    return parse_address(text) == ip


def plan_static_routes(
    snap: Snapshot,
    router: str,
    cidrs: Iterable[str],
    via: Iterable[str | RemotePort],
    *,
    route_table: str = "",
) -> Plan:
    """Static routes on ``router`` to each of ``cidrs`` (a peer AZ's subnets) through
    each nexthop of ``via`` of the same family (ECMP when several): nexthop addresses,
    or :class:`RemotePort` values from :func:`remote_ts_ports`.

    Only missing routes are added (a route matches on prefix, nexthop and route table;
    learned routes do not count); nothing is removed. Raises
    :class:`~ovsdb_ic.errors.ConfigError` for a bad CIDR or nexthop and
    :class:`EstablishError` when the router does not exist (or is ambiguous) or a CIDR
    has no nexthop of its family.
    """
    if isinstance(cidrs, str):
        cidrs = [c for c in cidrs.split(",") if c.strip()]
    if isinstance(via, str | RemotePort):
        via = [via]
    nexthops: dict[Cidr, None] = {}
    for hop in via:
        texts = hop.nexthops if isinstance(hop, RemotePort) else (hop,)
        for text in texts:
            address = parse_address(text.strip())
            if address is None:
                raise ConfigError("via", text, "is not an IP address")
            nexthops.setdefault(address, None)
    nets: dict[Cidr, None] = {}
    for cidr in cidrs:
        parsed = parse_cidr(cidr.strip())
        if parsed is None:
            raise ConfigError("cidrs", cidr, "is not a CIDR")
        nets.setdefault(parsed.prefix(), None)
    row = _find_router(snap, router)
    if row is None:
        raise EstablishError(f"no logical router named {router!r}")
    static_routes = snap.nb.table("Logical_Router_Static_Route")
    existing = [
        r for u in row["static_routes"] if (r := static_routes.get(u)) is not None
        and LEARNED_ROUTE_KEY not in r["external_ids"] and r["route_table"] == route_table
        and r["policy"] in (None, "dst-ip")
    ]
    names = _Names()
    ops: list[Op] = []
    refs: set[Any] = set()
    for net in nets:
        hops = [ip for ip in nexthops if ip.version == net.version]
        if not hops:
            raise EstablishError(f"no IPv{net.version} nexthop given for {net}")
        for ip in hops:
            if any(_same_prefix(r["ip_prefix"], net) and _same_ip(r["nexthop"], ip)
                   for r in existing):
                continue
            ref = names("route")
            ops.append(Insert("nb", "Logical_Router_Static_Route", {
                "ip_prefix": net.route_text(), "nexthop": ip.address_text(),
                "route_table": route_table,
            }, name=ref.name))
            refs.add(ref)
    if refs:
        ops.append(Mutate("nb", "Logical_Router", row.uuid, "static_routes", frozenset(refs)))
    return Plan(tuple(ops))
