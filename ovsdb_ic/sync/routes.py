"""The route planner: section 5 ("Routes") of the IC sync specification, as a pure function.

:func:`plan_routes` reads a :class:`~ovsdb_ic.sync.plan.Snapshot` and returns the
:class:`~ovsdb_ic.sync.plan.Plan` that advertises this availability zone's routes to
IC-SB and learns the other routers' routes into NB. No trio, no I/O, no clock: the
same snapshot gives the same plan, and applying it then planning again gives an
empty plan.

What it reads:

* NB: ``NB_Global`` (``name``, the ``ic-route-*`` options), ``Logical_Switch`` with
  ``other_config:interconn-ts`` (the transit switches), their ``Logical_Switch_Port``
  of type ``router`` whose ``options:router-port`` names a ``Logical_Router_Port``
  (the TS ports), the ``Logical_Router`` owning that port, its other ports (connected
  networks) and its ``Logical_Router_Static_Route`` rows;
* IC-NB: ``Transit_Switch`` names; IC-SB: ``Availability_Zone`` (found by
  ``NB_Global.name``) and ``Route``.

What it writes:

* IC-SB ``Route`` inserts and deletes (and ``external_ids`` updates for ``nb-id`` and
  ``lr-id``) so that this AZ's rows are exactly the advertised set, on every transit
  switch; rows of a transit switch that no longer exists are deleted;
* NB ``Logical_Router_Static_Route`` inserts (named, added to the router's
  ``static_routes`` with a ``Mutate``), ``external_ids:ic-learned-route`` refreshes,
  and removals (a ``Mutate`` deleting from ``static_routes``; the route table is not a
  root table, so the server collects the row).

It follows the newer OVN releases where 23.03 is defective (see docs/sync.md, "Routes").
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypeAlias

import attrs

from ovsdb_ic.errors import DataError
from ovsdb_ic.replica import Replica, Row
from ovsdb_ic.sync.addr import (
    Cidr,
    eui64_link_local,
    format_address,
    is_link_local_nexthop,
    parse_cidr,
    parse_cidr_list,
    parse_mac,
)
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, Requirements, Snapshot, Update
from ovsdb_ic.wire.data import NamedUUID, parse_uuid

__all__ = [
    "LEARNED_ROUTE_KEY",
    "REQUIREMENTS",
    "RouteFilters",
    "RouteInfo",
    "RouteOptions",
    "plan_routes",
]

LEARNED_ROUTE_KEY: Final = "ic-learned-route"
"""The ``external_ids`` key marking an NB static route as learned (value: IC-SB Route uuid)."""

_TS_KEY: Final = "interconn-ts"
_ORIGIN_RANK: Final = {"connected": 0, "static": 1}
_LS_TS_INDEX: Final = (("other_config", _TS_KEY),)
_ROUTE_TS_INDEX: Final = ("transit_switch",)
_ROUTE_AZ_INDEX: Final = ("availability_zone",)
_NAME_INDEX: Final = ("name",)

REQUIREMENTS: Final = Requirements(
    tables={
        "nb": {
            "NB_Global": ("name", "options"),
            "Logical_Router": ("name", "ports", "static_routes"),
            "Logical_Router_Port": ("name", "mac", "networks", "options"),
            "Logical_Router_Static_Route": (
                "ip_prefix", "nexthop", "route_table", "policy", "options", "external_ids",
            ),
            "Logical_Switch": ("name", "ports", "other_config"),
            "Logical_Switch_Port": ("name", "type", "options"),
        },
        "ic_nb": {"Transit_Switch": ("name",)},
        "ic_sb": {
            "Availability_Zone": ("name",),
            "Route": (
                "transit_switch", "availability_zone", "route_table", "ip_prefix", "nexthop",
                "origin", "external_ids",
            ),
        },
    },
    indexes=(
        ("nb", "Logical_Switch", "other_config:interconn-ts", _LS_TS_INDEX),
        ("ic_sb", "Route", "transit_switch", _ROUTE_TS_INDEX),
        ("ic_sb", "Route", "availability_zone", _ROUTE_AZ_INDEX),
    ),
)
"""What :func:`plan_routes` reads, and the client indexes it looks rows up with:
NB ``Logical_Switch`` by ``other_config:interconn-ts``, IC-SB ``Route`` by
``transit_switch`` and by ``availability_zone`` (plus the schema's unique indexes on
``Logical_Router_Port.name``, ``Transit_Switch.name`` and ``Availability_Zone.name``).
Install them with :meth:`~ovsdb_ic.sync.plan.Requirements.install` before planning."""


# ---------------------------------------------------------------------------- public values


@attrs.frozen
class RouteInfo:
    """One route a filter of :class:`RouteFilters` decides on.

    For an advertisement: the local router, the prefix as it will be written to IC-SB,
    the rewritten next hop (the TS port's address), its origin and route table, and
    the transit switch. For a learned route: the learning router, and the IC-SB
    row's ``ip_prefix``, ``nexthop``, ``origin``, ``route_table`` and switch.
    """

    router: str
    prefix: str
    nexthop: str
    origin: str
    route_table: str
    transit_switch: str


@attrs.frozen
class RouteFilters:
    """Embedder filters applied on top of the NB options: a route passes only if the
    options allow it and the filter (when given) returns true.

    Filters must be pure functions of the :class:`RouteInfo` (the planner's
    determinism and idempotence rely on it).
    """

    advertise: Callable[[RouteInfo], bool] | None = None
    learn: Callable[[RouteInfo], bool] | None = None


def _opt_bool(options: Mapping[str, str], key: str) -> bool:
    # smap_get_bool(..., false): true only for "true", case-insensitively.
    return str(options.get(key, "")).lower() == "true"


@attrs.frozen
class RouteOptions:
    """The routing switches of ``NB_Global.options`` (all off by default)."""

    advertise: bool = False
    """``ic-route-adv``."""
    learn: bool = False
    """``ic-route-learn``."""
    advertise_default: bool = False
    """``ic-route-adv-default``: also advertise prefix length 0."""
    learn_default: bool = False
    """``ic-route-learn-default``: also learn prefix length 0."""
    denylist: tuple[Cidr, ...] = ()
    """``ic-route-denylist``, or ``ic-route-blacklist`` when the former is absent or empty."""

    @classmethod
    def from_nb_options(cls, options: Mapping[str, str]) -> RouteOptions:
        """Read the options from an ``NB_Global.options`` map."""
        deny = options.get("ic-route-denylist") or options.get("ic-route-blacklist") or ""
        return cls(
            advertise=_opt_bool(options, "ic-route-adv"),
            learn=_opt_bool(options, "ic-route-learn"),
            advertise_default=_opt_bool(options, "ic-route-adv-default"),
            learn_default=_opt_bool(options, "ic-route-learn-default"),
            denylist=parse_cidr_list(deny),
        )

    def denied(self, prefix: Cidr) -> bool:
        """Whether ``prefix`` lies inside a deny-list entry of its family."""
        if not self.denylist:
            return False
        return any(prefix.within(entry) for entry in self.denylist)

    def may_advertise(self, prefix: Cidr) -> bool:
        """The option checks for an advertised prefix (policy and parse checks aside)."""
        return (
            self.advertise
            and (prefix.plen != 0 or self.advertise_default)
            and not prefix.is_link_local()
            and not self.denied(prefix)
        )

    def may_learn(self, prefix: Cidr) -> bool:
        """The option checks for a learned prefix (the per-router checks aside)."""
        return (
            self.learn
            and (prefix.plen != 0 or self.learn_default)
            and not prefix.is_link_local()
            and not self.denied(prefix)
        )


# ---------------------------------------------------------------------------- topology

# (prefix version, address, plen, nexthop version, address, origin, route_table)
_LearnKey: TypeAlias = tuple[int, int, int, int, int, str, str]
# IC-SB unique key within one (transit switch, AZ): (route_table, ip_prefix, nexthop)
_AdKey: TypeAlias = tuple[str, str, str]


@attrs.frozen
class _TsPort:
    """A local port on a transit switch: LSP of type router -> LRP of a router."""

    ts: str
    lsp_name: str
    lsp_uuid: uuid.UUID
    lrp: Row
    route_table: str
    usable: bool  # the LRP's MAC parses (OVN ignores the port for advertising otherwise)
    nexthop_v4: int | None
    nexthop_v6: int | None


@attrs.define
class _Router:
    row: Row
    ports: list[_TsPort] = attrs.Factory(list)

    @property
    def name(self) -> str:
        name: str = self.row["name"]
        return name


def _parse_route(prefix: Any, nexthop: Any) -> tuple[Cidr, Cidr] | None:
    """Prefix and next hop of a route, or ``None`` when either does not parse or the
    next hop is IPv6 link-local (OVN's ``parse_route``; ``discard`` does not parse)."""
    p = parse_cidr(prefix)
    if p is None:
        return None
    n = parse_cidr(nexthop)
    if n is None or is_link_local_nexthop(n.version, n.address):
        return None
    return p, n


def _port_nexthops(lrp: Row) -> tuple[bool, int | None, int | None]:
    """(usable, first IPv4, first IPv6 or the EUI-64 link-local) of a TS port's LRP."""
    mac = parse_mac(lrp.get("mac", ""))
    if mac is None:
        return False, None, None
    v4: int | None = None
    v6: int | None = None
    for net in sorted(lrp.get("networks", ())):
        c = parse_cidr(net)
        if c is None:
            continue
        if c.version == 4:
            if v4 is None and c.address != 0:
                v4 = c.address
        elif v6 is None:
            v6 = c.address
    if v6 is None:
        v6 = eui64_link_local(mac)
    return True, v4, v6


def _nb_global(nb: Replica) -> Row | None:
    rows = list(nb.table("NB_Global"))
    return min(rows, key=lambda r: r.uuid.int) if rows else None


def _routers(snap: Snapshot) -> dict[uuid.UUID, _Router]:
    """The routers with at least one port on a transit switch, with those ports."""
    nb = snap.nb
    ts_table = snap.ic_nb.table("Transit_Switch")
    lsp_table = nb.table("Logical_Switch_Port")
    lrp_table = nb.table("Logical_Router_Port")
    ls_index = nb.table("Logical_Switch").index(_LS_TS_INDEX)
    # A transit switch's NB switch is named after it and carries interconn-ts=<name>
    # (the lowest uuid if several), as the transit switch planner and C's find_ts_in_nb.
    switches: list[Row] = []
    for key in sorted(k for k in ls_index if isinstance(k, str)):
        named = [ls for ls in ls_index.find(key) if ls["name"] == key]
        if named and ts_table.lookup_one(_NAME_INDEX, key) is not None:
            switches.append(min(named, key=lambda r: r.uuid.int))
    ports_by_lrp: dict[uuid.UUID, list[_TsPort]] = {}
    for ls in switches:
        for lsp_uuid in ls["ports"]:
            lsp = lsp_table.get(lsp_uuid)
            if lsp is None or lsp["type"] != "router":
                continue
            lrp_name = lsp["options"].get("router-port")
            lrp = lrp_table.lookup_one(_NAME_INDEX, lrp_name) if lrp_name else None
            if lrp is None:
                continue
            usable, v4, v6 = _port_nexthops(lrp)
            ports_by_lrp.setdefault(lrp.uuid, []).append(_TsPort(
                ts=ls["name"], lsp_name=lsp["name"], lsp_uuid=lsp.uuid, lrp=lrp,
                route_table=lrp["options"].get("route_table", ""),
                usable=usable, nexthop_v4=v4, nexthop_v6=v6,
            ))
    routers: dict[uuid.UUID, _Router] = {}
    if not ports_by_lrp:
        return routers
    wanted = set(ports_by_lrp)
    claimed: set[uuid.UUID] = set()
    # One pass over the routers; ``frozenset & set`` walks the smaller side.
    for lr in sorted((r for r in nb.table("Logical_Router") if r["ports"] & wanted),
                     key=lambda r: r.uuid.int):
        for lrp_uuid in sorted(lr["ports"] & wanted, key=lambda u: u.int):
            if lrp_uuid in claimed:
                continue  # an LRP listed by two routers: the first (lowest uuid) owns it
            claimed.add(lrp_uuid)
            routers.setdefault(lr.uuid, _Router(lr)).ports.extend(ports_by_lrp[lrp_uuid])
    for r in routers.values():
        r.ports.sort(key=lambda p: (p.ts, p.lsp_name, p.lsp_uuid.int))
    return routers


# ---------------------------------------------------------------------------- advertise


@attrs.frozen
class _Source:
    """A route a router may advertise, before the next hop is rewritten per TS port."""

    prefix: Cidr
    origin: str
    route_table: str
    nb_id: uuid.UUID


@attrs.frozen
class _Ad:
    origin: str
    nb_id: str
    lr_id: str
    rank: tuple[int, int, int]


def _static_routes(nb: Replica, router: Row) -> tuple[list[Row], list[Row]]:
    """(non-learned, learned) static routes of a router, each sorted by uuid."""
    table = nb.table("Logical_Router_Static_Route")
    own: list[Row] = []
    learned: list[Row] = []
    for u in sorted(router["static_routes"], key=lambda u: u.int):
        row = table.get(u)
        if row is None:
            continue
        (learned if LEARNED_ROUTE_KEY in row["external_ids"] else own).append(row)
    return own, learned


def _sources(nb: Replica, router: _Router, own: list[Row], opts: RouteOptions) -> list[_Source]:
    """The static and connected routes of ``router`` that the options let it advertise."""
    out: list[_Source] = []
    for row in own:
        if row.get("policy") == "src-ip":
            continue
        parsed = _parse_route(row["ip_prefix"], row["nexthop"])
        if parsed is None or not opts.may_advertise(parsed[0]):
            continue
        out.append(_Source(parsed[0], "static", row["route_table"], row.uuid))
    ts_lrps = {p.lrp.uuid for p in router.ports}
    lrp_table = nb.table("Logical_Router_Port")
    for u in sorted(router.row["ports"], key=lambda u: u.int):
        if u in ts_lrps:
            continue
        lrp = lrp_table.get(u)
        if lrp is None:
            continue
        for net in sorted(lrp["networks"]):
            prefix = parse_cidr(net)
            if prefix is None or not opts.may_advertise(prefix):
                continue
            out.append(_Source(prefix, "connected", "", lrp.uuid))
    return out


def _desired_ads(
    snap: Snapshot,
    routers: Mapping[uuid.UUID, _Router],
    own_routes: Mapping[uuid.UUID, list[Row]],
    opts: RouteOptions,
    filters: RouteFilters,
) -> dict[str, dict[_AdKey, _Ad]]:
    """Per transit switch, the IC-SB rows this AZ should have, by unique key."""
    desired: dict[str, dict[_AdKey, _Ad]] = {}
    if not opts.advertise:
        return desired
    adv_filter = filters.advertise
    for lr_uuid, router in routers.items():
        sources = _sources(snap.nb, router, own_routes[lr_uuid], opts)
        if not sources:
            continue
        lr_id = str(lr_uuid)
        for port in router.ports:
            if not port.usable:
                continue
            per_ts = desired.setdefault(port.ts, {})
            for src in sources:
                if src.origin == "static" and src.route_table != port.route_table:
                    continue
                nh = port.nexthop_v4 if src.prefix.version == 4 else port.nexthop_v6
                if nh is None:
                    continue
                prefix_s = str(src.prefix)
                nexthop_s = format_address(src.prefix.version, nh)
                if adv_filter is not None and not adv_filter(RouteInfo(
                    router.name, prefix_s, nexthop_s, src.origin, src.route_table, port.ts,
                )):
                    continue
                key = (src.route_table, prefix_s, nexthop_s)
                # Connected beats static on one unique key (a static route written
                # like an LRP network), then the lowest router and NB uuid (ECMP).
                ad = _Ad(src.origin, str(src.nb_id), lr_id,
                         (_ORIGIN_RANK[src.origin], lr_uuid.int, src.nb_id.int))
                cur = per_ts.get(key)
                if cur is None or ad.rank < cur.rank:
                    per_ts[key] = ad
    return desired


def _advertise_ops(
    snap: Snapshot, az: Row, desired: Mapping[str, Mapping[_AdKey, _Ad]]
) -> list[Op]:
    """Reconcile this AZ's IC-SB Route rows with ``desired``."""
    ts_table = snap.ic_nb.table("Transit_Switch")
    ts_exists: dict[str, bool] = {}
    deletes: list[Op] = []
    updates: list[Op] = []
    matched: set[tuple[str, _AdKey]] = set()
    rows = sorted(snap.ic_sb.table("Route").lookup(_ROUTE_AZ_INDEX, az.uuid),
                  key=lambda r: r.uuid.int)
    for row in rows:
        ts = row["transit_switch"]
        if ts not in ts_exists:
            ts_exists[ts] = ts_table.lookup_one(_NAME_INDEX, ts) is not None
        key = (row["route_table"], row["ip_prefix"], row["nexthop"])
        want = desired.get(ts, {}).get(key) if ts_exists[ts] else None
        if want is None or want.origin != row["origin"] or (ts, key) in matched:
            deletes.append(Delete("ic_sb", "Route", row.uuid))
            continue
        matched.add((ts, key))
        ext = row["external_ids"]
        if ext.get("nb-id") != want.nb_id or ext.get("lr-id") != want.lr_id:
            new_ext = dict(ext)
            new_ext["nb-id"] = want.nb_id
            new_ext["lr-id"] = want.lr_id
            updates.append(Update("ic_sb", "Route", row.uuid, {"external_ids": new_ext}))
    inserts: list[Op] = []
    for ts in sorted(desired):
        for key in sorted(desired[ts]):
            if (ts, key) in matched:
                continue
            ad = desired[ts][key]
            route_table, prefix, nexthop = key
            inserts.append(Insert("ic_sb", "Route", {
                "transit_switch": ts,
                "availability_zone": az.uuid,
                "route_table": route_table,
                "ip_prefix": prefix,
                "nexthop": nexthop,
                "origin": ad.origin,
                "external_ids": {"nb-id": ad.nb_id, "lr-id": ad.lr_id},
            }))
    return deletes + updates + inserts


# ---------------------------------------------------------------------------- learn


@attrs.frozen
class _Offer:
    """An IC-SB route that passed the router-independent learning checks.

    The fields the per-router loop reads are copied out of the row once.
    """

    row: Row
    key: _LearnKey
    lr_id: uuid.UUID | None
    own_az: bool  # advertised by this AZ (what rows without lr-id are judged by)
    route_table: str
    ip_prefix: str
    order: tuple[str, int]  # (transit_switch, uuid): which of equal offers is preferred


def _learn_key(prefix: Cidr, nexthop: Cidr, origin: str, route_table: str) -> _LearnKey:
    return (prefix.version, prefix.address, prefix.plen, nexthop.version, nexthop.address,
            origin, route_table)


def _offers(snap: Snapshot, az: Row, ts: str, opts: RouteOptions) -> list[_Offer]:
    """The Route rows of one transit switch any local router could learn."""
    out: list[_Offer] = []
    for row in sorted(snap.ic_sb.table("Route").lookup(_ROUTE_TS_INDEX, ts),
                      key=lambda r: r.uuid.int):
        lr_text = row["external_ids"].get("lr-id")
        lr_id: uuid.UUID | None = None
        if lr_text is not None:
            try:
                lr_id = parse_uuid(lr_text)
            except DataError:
                continue  # OVN skips rows whose lr-id is not a uuid
        parsed = _parse_route(row["ip_prefix"], row["nexthop"])
        if parsed is None or not opts.may_learn(parsed[0]):
            continue
        rt = row["route_table"]
        out.append(_Offer(
            row, _learn_key(parsed[0], parsed[1], row["origin"], rt), lr_id,
            row["availability_zone"] == az.uuid, rt, row["ip_prefix"], (ts, row.uuid.int),
        ))
    return out


def _learn_ops(
    router: _Router,
    own: list[Row],
    learned: list[Row],
    offers_by_ts: Mapping[str, list[_Offer]],
    filters: RouteFilters,
    names: Iterator[int],
) -> list[Op]:
    """Reconcile one router's learned static routes with the routes it should learn."""
    lr_uuid = router.row.uuid
    local = {(r["route_table"], r["ip_prefix"]) for r in own}
    learn_filter = filters.learn
    wanted: dict[_LearnKey, dict[int, _Offer]] = {}
    for port in router.ports:
        port_rt = port.route_table
        for offer in offers_by_ts.get(port.ts, ()):
            if offer.lr_id is not None:
                if offer.lr_id == lr_uuid:
                    continue
            elif offer.own_az:
                continue
            rt = offer.route_table
            if rt and rt != port_rt:
                continue
            if (rt, offer.ip_prefix) in local:
                continue  # a local route wins
            if learn_filter is not None and not learn_filter(RouteInfo(
                router.name, offer.ip_prefix, offer.row["nexthop"], offer.row["origin"], rt,
                port.ts,
            )):
                continue
            found = wanted.get(offer.key)
            if found is None:
                wanted[offer.key] = {offer.order[1]: offer}
            else:
                found[offer.order[1]] = offer
    existing: dict[_LearnKey, list[Row]] = {}
    removed: list[uuid.UUID] = []
    for row in learned:
        parsed = _parse_route(row["ip_prefix"], row["nexthop"])
        if parsed is None:
            removed.append(row.uuid)  # a learned route OVN cannot read: drop it
            continue
        key = _learn_key(parsed[0], parsed[1], row["options"].get("origin", ""),
                         row["route_table"])
        existing.setdefault(key, []).append(row)
    updates: list[Op] = []
    inserts: list[Op] = []
    added: list[NamedUUID] = []
    for key in sorted(wanted):
        offers = wanted[key]
        if len(offers) == 1:
            cands = [o.row for o in offers.values()]
        else:
            cands = [o.row for o in sorted(offers.values(), key=lambda o: o.order)]
        cand_ids = {str(r.uuid) for r in cands}
        olds = existing.pop(key, None)
        if olds:
            keeper = next((o for o in olds if o["external_ids"].get(LEARNED_ROUTE_KEY)
                           in cand_ids), olds[0])
            if keeper["external_ids"].get(LEARNED_ROUTE_KEY) not in cand_ids:
                ext = dict(keeper["external_ids"])
                ext[LEARNED_ROUTE_KEY] = str(cands[0].uuid)
                updates.append(Update("nb", "Logical_Router_Static_Route", keeper.uuid,
                                      {"external_ids": ext}))
            removed.extend(o.uuid for o in olds if o is not keeper)
            continue
        src = cands[0]
        name = NamedUUID(f"ic_learned_route{next(names)}")
        inserts.append(Insert("nb", "Logical_Router_Static_Route", {
            "ip_prefix": src["ip_prefix"],
            "nexthop": src["nexthop"],
            "route_table": src["route_table"],
            "options": {"origin": src["origin"]},
            "external_ids": {LEARNED_ROUTE_KEY: str(src.uuid)},
        }, name=name.name))
        added.append(name)
    for olds in existing.values():
        removed.extend(o.uuid for o in olds)
    ops: list[Op] = updates + inserts
    if added or removed:
        ops.append(Mutate("nb", "Logical_Router", lr_uuid, "static_routes",
                          insert=frozenset(added),
                          delete=frozenset(removed)))
    return ops


# ---------------------------------------------------------------------------- planner


def plan_routes(snap: Snapshot, *, filters: RouteFilters | None = None) -> Plan:
    """Plan one routes pass for the AZ named by ``NB_Global.name``.

    Returns an empty plan when the name is empty or IC-SB has no
    ``Availability_Zone`` row of that name yet. IC-SB operations come first (deletes,
    ``external_ids`` updates, inserts), then NB operations router by router (by name
    and uuid). ``filters`` narrow what the NB options allow. The snapshot must hold
    :data:`REQUIREMENTS`' indexes.
    """
    filters = filters or RouteFilters()
    nb_global = _nb_global(snap.nb)
    if nb_global is None or not nb_global["name"]:
        return Plan()
    az = snap.ic_sb.table("Availability_Zone").lookup_one(_NAME_INDEX, nb_global["name"])
    if az is None:
        return Plan()
    opts = RouteOptions.from_nb_options(nb_global["options"])
    routers = _routers(snap)
    own_routes: dict[uuid.UUID, list[Row]] = {}
    learned_routes: dict[uuid.UUID, list[Row]] = {}
    for lr_uuid, router in routers.items():
        own_routes[lr_uuid], learned_routes[lr_uuid] = _static_routes(snap.nb, router.row)

    ops: list[Op] = _advertise_ops(
        snap, az, _desired_ads(snap, routers, own_routes, opts, filters))

    offers_by_ts: dict[str, list[_Offer]] = {}
    if opts.learn:
        for ts in sorted({p.ts for r in routers.values() for p in r.ports}):
            offers_by_ts[ts] = _offers(snap, az, ts, opts)
    names = itertools.count()
    for lr_uuid, router in sorted(routers.items(), key=lambda kv: (kv[1].name, kv[0].int)):
        ops.extend(_learn_ops(router, own_routes[lr_uuid], learned_routes[lr_uuid],
                              offers_by_ts, filters, names))
    return Plan(tuple(ops))
