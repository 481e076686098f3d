"""The route planner: section 5 ("Routes") of the IC sync specification, as a pure function.

:func:`plan_routes` reads a :class:`~ovsdb_ic.ic.Snapshot` and returns the
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

Planning only what changed. A :class:`RouteCache`, owned by the caller (each
:class:`~ovsdb_ic.sync.runner.SyncEngine` has its own; without one every call plans from
scratch), keeps, per snapshot source (the NB, IC-NB and IC-SB replica objects and the filter
functions), what the previous call derived: each router's routes with their parsed
prefixes and the IC-SB rows they advertise, the learnable IC-SB rows, the rows of this
AZ by unique key, and the operations each key needs. A later call looks at the tables'
``version`` counters and, where one moved, at which rows changed (rows are immutable,
so a changed row is a new object; the comparison is by identity, mostly in C), and
re-derives only the keys those rows touch. The cache never changes the result: a cold
cache and a warm one give the same plan for the same snapshot (a property test checks
it across random change sequences); a call that raises drops what it had cached.
"""

from __future__ import annotations

import functools
import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeAlias, TypeVar

import attrs

from ovsdb_ic.errors import DataError
from ovsdb_ic.ic.addr import (
    Cidr,
    cidr_text,
    eui64_link_local,
    format_address,
    is_link_local_nexthop,
    parse_cidr,
    parse_cidr_list,
    parse_mac,
)
from ovsdb_ic.ic.databases import LEARNED_ROUTE_KEY, TS_KEY, Requirements, Snapshot, nb_global
from ovsdb_ic.replica import Row, TableView, gc_paused
from ovsdb_ic.sync.plan import Delete, Insert, Mutate, Op, Plan, Update
from ovsdb_ic.sync.rules import RULES_23_03, IcRules
from ovsdb_ic.wire.data import NamedUUID, parse_uuid

__all__ = [
    "LEARNED_ROUTE_KEY",
    "REQUIREMENTS",
    "ROUTE_TAG_KEY",
    "RouteCache",
    "RouteFilters",
    "RouteInfo",
    "RouteOptions",
    "plan_routes",
]

ROUTE_TAG_KEY: Final = "ic-route-tag"
"""The IC-SB ``Route.external_ids`` key (and TS LRP option) of a route tag (OVN 25.03)."""

_ORIGIN_RANK: Final = {"connected": 0, "static": 1}
_LS_TS_INDEX: Final = (("other_config", TS_KEY),)
_ROUTE_TS_INDEX: Final = ("transit_switch",)
_ROUTE_AZ_INDEX: Final = ("availability_zone",)
_NAME_INDEX: Final = ("name",)

REQUIREMENTS: Final = Requirements(
    tables={
        "nb": {
            "NB_Global": ("name", "options"),
            "Logical_Router": ("name", "ports", "static_routes", "options"),
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
        Requirements.index("nb", "Logical_Switch", *_LS_TS_INDEX),
        Requirements.index("ic_sb", "Route", *_ROUTE_TS_INDEX),
        Requirements.index("ic_sb", "Route", *_ROUTE_AZ_INDEX),
    ),
)
"""What :func:`plan_routes` reads, and the client indexes it looks rows up with:
NB ``Logical_Switch`` by ``other_config:interconn-ts``, IC-SB ``Route`` by
``transit_switch`` and by ``availability_zone`` (plus the schema's unique indexes on
``Logical_Router_Port.name``, ``Transit_Switch.name`` and ``Availability_Zone.name``).
Install them with :meth:`~ovsdb_ic.ic.Requirements.install` before planning."""


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


# ---------------------------------------------------------------------------- parsing

# (prefix version, address, plen, nexthop version, address, origin, route_table)
_LearnKey: TypeAlias = tuple[int, int, int, int, int, str, str]
# An IC-SB row's unique key within this AZ: (transit_switch, route_table, ip_prefix, nexthop)
_AdKey: TypeAlias = tuple[str, str, str, str]
# One advertisement: (origin rank, lr uuid int, nb uuid int, origin, nb-id (the nb uuid's
# text), lr-id, route tag); the smallest wins a key: connected beats static, then the lowest
# router and NB uuid (ECMP).
_Ad: TypeAlias = tuple[int, int, int, str, str, str, str]
# A local route as the learning side compares it: (route_table, ip_prefix)
_LocalKey: TypeAlias = tuple[str, str]


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


def _learn_key(prefix: Cidr, nexthop: Cidr, origin: str, route_table: str) -> _LearnKey:
    return (prefix.version, prefix.address, prefix.plen, nexthop.version, nexthop.address,
            origin, route_table)


@functools.lru_cache(maxsize=4096)
def _lr_id(text: str) -> int | None:
    """The uuid (as an int) of an ``lr-id`` value; ``None`` when it is not a uuid."""
    try:
        return parse_uuid(text).int
    except DataError:
        return None


def _uuid_int(row: Row) -> int:
    return row.uuid.int


_K = TypeVar("_K")
_V = TypeVar("_V")


def _bucket_add(index: dict[_K, list[_V]], key: _K, value: _V) -> None:
    """Add ``value`` to the list of ``key`` (lists rather than sets or dicts: most hold
    one item, and a one-item list is the smallest container)."""
    found = index.get(key)
    if found is None:
        index[key] = [value]
    else:
        found.append(value)


def _bucket_remove(index: dict[_K, list[_V]], key: _K, value: _V) -> None:
    """Remove ``value`` (this very object) from the list of ``key``."""
    found = index[key]
    for i, v in enumerate(found):
        if v is value:
            del found[i]
            break
    if not found:
        del index[key]


# ---------------------------------------------------------------------------- topology


@attrs.frozen
class _TsPort:
    """A local port on a transit switch: LSP of type router -> LRP of a router."""

    ts: str
    lsp_name: str
    lsp_uuid: uuid.UUID
    lrp_uuid: uuid.UUID
    route_table: str
    usable: bool  # the LRP's MAC parses (OVN ignores the port for advertising otherwise)
    nexthop_v4: str | None  # the next hop advertised for IPv4 prefixes, formatted
    nexthop_v6: str | None
    route_tag: str = ""  # options:ic-route-tag (rules.route_tags)
    filter_tag: str | None = None  # options:ic-route-filter-tag, "" when unset (route_tags)
    adv_allow: tuple[Cidr, ...] | None = None  # merged LRP+LR ic-route-filter-adv
    adv_deny: tuple[Cidr, ...] = ()  # merged LRP+LR ic-route-deny-adv
    learn_allow: tuple[Cidr, ...] | None = None  # merged LRP+LR ic-route-filter-learn
    learn_deny: tuple[Cidr, ...] = ()  # merged LRP+LR ic-route-deny-learn

    def may_advertise(self, prefix: Cidr) -> bool:
        """The port's own checks (route filter options) for an advertised prefix."""
        return _listed_ok(prefix, self.adv_allow, self.adv_deny)


def _listed_ok(prefix: Cidr, allow: tuple[Cidr, ...] | None, deny: tuple[Cidr, ...]) -> bool:
    """Inside one CIDR of ``allow`` (when there is a list) and of none of ``deny``."""
    if allow is not None and not any(prefix.within(c) for c in allow):
        return False
    return not (deny and any(prefix.within(c) for c in deny))


def _option_tokens(*texts: str | None) -> list[str]:
    """The entries of comma-separated option values, merged (OVN's
    ``sset_from_delimited_string``: empty entries are dropped)."""
    return [t for text in texts if text for t in text.split(",") if t]


def _allow_list(*texts: str | None) -> tuple[Cidr, ...] | None:
    """An allow-list merged from option values: ``None`` when no entry is given (all
    pass); otherwise the entries that parse (none parse: nothing passes, as OVN)."""
    if not _option_tokens(*texts):
        return None
    return _cidr_list(*texts)


def _cidr_list(*texts: str | None) -> tuple[Cidr, ...]:
    """The CIDRs of option values, merged (a deny-list, or an allow-list's entries):
    :func:`~ovsdb_ic.ic.addr.parse_cidr_list` of each, entries that do not parse ignored."""
    return tuple(c for text in texts if text for c in parse_cidr_list(text))


@attrs.frozen
class _Source:
    """A route a router may advertise, before the next hop is rewritten per TS port."""

    prefix: Cidr
    origin: str
    route_table: str
    nb_id: uuid.UUID


@attrs.frozen
class _RouterConfig:
    """What a router's planning depends on besides its static routes."""

    uuid: uuid.UUID
    name: str
    ports: tuple[_TsPort, ...]  # sorted by (ts, lsp name, lsp uuid)
    connected: tuple[_Source, ...]  # advertisable networks of its other ports


def _port_nexthops(lrp: Row) -> tuple[bool, str | None, str | None]:
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
    return True, None if v4 is None else format_address(4, v4), format_address(6, v6)


def _topology(snap: Snapshot, opts: RouteOptions,
              rules: IcRules = RULES_23_03) -> dict[int, tuple[Row, _RouterConfig]]:
    """The routers with at least one port on a transit switch (by uuid int, in uuid
    order): each router's row and its :class:`_RouterConfig`."""
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
            switches.append(min(named, key=_uuid_int))
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
            lrp_opts = lrp["options"]
            ports_by_lrp.setdefault(lrp.uuid, []).append(_TsPort(
                ts=ls["name"], lsp_name=lsp["name"], lsp_uuid=lsp.uuid, lrp_uuid=lrp.uuid,
                route_table=lrp_opts.get("route_table", ""),
                usable=usable, nexthop_v4=v4, nexthop_v6=v6,
                route_tag=lrp_opts.get(ROUTE_TAG_KEY, "") if rules.route_tags else "",
                filter_tag=(lrp_opts.get("ic-route-filter-tag", "") if rules.route_tags
                            else None),
            ))
    out: dict[int, tuple[Row, _RouterConfig]] = {}
    if not ports_by_lrp:
        return out
    wanted = set(ports_by_lrp)
    claimed: set[uuid.UUID] = set()
    owned: dict[uuid.UUID, tuple[Row, list[_TsPort]]] = {}
    # One pass over the routers; ``frozenset & set`` walks the smaller side.
    for lr in sorted((r for r in nb.table("Logical_Router") if r["ports"] & wanted),
                     key=_uuid_int):
        for lrp_uuid in sorted(lr["ports"] & wanted, key=lambda u: u.int):
            if lrp_uuid in claimed:
                continue  # an LRP listed by two routers: the first (lowest uuid) owns it
            claimed.add(lrp_uuid)
            owned.setdefault(lr.uuid, (lr, []))[1].extend(ports_by_lrp[lrp_uuid])
    for lr_uuid, (lr, ports) in owned.items():
        ports.sort(key=lambda p: (p.ts, p.lsp_name, p.lsp_uuid.int))
        if rules.route_filters:
            ports[:] = [_with_filters(p, lrp_table.get(p.lrp_uuid), lr) for p in ports]
        ts_lrps = {p.lrp_uuid for p in ports}
        connected: list[_Source] = []
        for u in sorted(lr["ports"], key=lambda u: u.int):
            if u in ts_lrps:
                continue
            lrp = lrp_table.get(u)
            if lrp is None:
                continue
            for net in sorted(lrp["networks"]):
                prefix = parse_cidr(net)
                if prefix is None or not opts.may_advertise(prefix):
                    continue
                connected.append(_Source(prefix, "connected", "", lrp.uuid))
        out[lr_uuid.int] = (lr, _RouterConfig(lr_uuid, lr["name"], tuple(ports),
                                              tuple(connected)))
    return out


def _with_filters(port: _TsPort, lrp: Row | None, lr: Row) -> _TsPort:
    """``port`` with the route filter options of its LRP and router, merged (the 25.09
    allow-lists and 26.03 deny-lists; see :class:`~ovsdb_ic.sync.rules.IcRules`)."""
    p_opts: Mapping[str, str] = lrp["options"] if lrp is not None else {}
    r_opts: Mapping[str, str] = lr.get("options", {})
    return attrs.evolve(
        port,
        adv_allow=_allow_list(p_opts.get("ic-route-filter-adv"), r_opts.get("ic-route-filter-adv")),
        adv_deny=_cidr_list(p_opts.get("ic-route-deny-adv"), r_opts.get("ic-route-deny-adv")),
        learn_allow=_allow_list(p_opts.get("ic-route-filter-learn"),
                                r_opts.get("ic-route-filter-learn")),
        learn_deny=_cidr_list(p_opts.get("ic-route-deny-learn"), r_opts.get("ic-route-deny-learn")),
    )


# ---------------------------------------------------------------------------- change tracking

_GALLOP: Final = 32
"""First block size of the identity walk in :func:`_common_run`."""
_MAX_GAPS: Final = 48
"""Mismatches :func:`_row_changes` walks before it switches to comparing id sets."""


def _common_run(a: tuple[Row, ...], i: int, b: tuple[Row, ...], j: int) -> int:
    """How many rows ``a[i:]`` and ``b[j:]`` have in common at their start.

    Compares growing slices (in C: identity first, then row equality) and bisects the
    first block that differs, so a long common run costs O(run) in C plus O(log run)
    steps here.
    """
    limit = min(len(a) - i, len(b) - j)
    p, step = 0, _GALLOP
    while p < limit:
        q = min(p + step, limit)
        if a[i + p:i + q] != b[j + p:j + q]:
            lo, hi = p, q  # a[i:i+lo] == b[j:j+lo]; the first difference is below hi
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if a[i + lo:i + mid] == b[j + lo:j + mid]:
                    lo = mid
                else:
                    hi = mid
            return lo
        p = q
        step *= 2
    return limit


def _id_changes(old: tuple[Row, ...], new: tuple[Row, ...]) -> dict[int, Row | None]:
    """Rows of ``new`` that are not (identically) in ``old``, and the uuids of ``old``
    rows gone from ``new``. Both tuples hold their rows, so ids are unambiguous."""
    old_by = dict(zip(map(id, old), old, strict=True))
    new_by = dict(zip(map(id, new), new, strict=True))
    out: dict[int, Row | None] = {}
    for key in old_by.keys() - new_by.keys():
        out[old_by[key].uuid.int] = None
    for key in new_by.keys() - old_by.keys():
        row = new_by[key]
        out[row.uuid.int] = row
    return out


def _row_changes(old: tuple[Row, ...], new: tuple[Row, ...]) -> dict[int, Row | None]:
    """What changed between two listings of one table: uuid int -> the row now (``None``
    when gone), for every row that is new, replaced or gone.

    A replica's rows keep their order: a modify replaces a row in place, a delete
    removes it, an insert appends. So the listings are walked in step, skipping
    common runs in C (:func:`_common_run`). The result is right for any two listings
    (a row equal to the old one may be reported unchanged; a reordering reports rows
    as changed that are not), and fast for the usual ones.
    """
    n_old, n_new = len(old), len(new)
    if n_new >= n_old and new[:n_old] == old:
        return {row.uuid.int: row for row in new[n_old:]}
    out: dict[int, Row | None] = {}
    i = j = gaps = 0
    while True:
        run = _common_run(old, i, new, j)
        i += run
        j += run
        if i >= n_old or j >= n_new:
            break
        gaps += 1
        if gaps > _MAX_GAPS:
            return _id_changes(old, new)
        a, b = old[i], new[j]
        if a.uuid == b.uuid:
            out[b.uuid.int] = b  # modified in place
            j += 1
        else:
            out.setdefault(a.uuid.int, None)  # deleted (a later sighting overrides)
        i += 1
    for a in old[i:]:
        out.setdefault(a.uuid.int, None)
    for b in new[j:]:
        out[b.uuid.int] = b
    return out


class _Tracker:
    """One table's rows as last seen, to tell what changed since (see :func:`_row_changes`)."""

    __slots__ = ("rows", "version", "view")

    def __init__(self, view: TableView) -> None:
        self.view = view
        self.version = view.version
        self.rows: tuple[Row, ...] = tuple(view.rows.values())

    def changes(self) -> dict[int, Row | None]:
        """The rows changed since the previous call (or since creation)."""
        view = self.view
        if view.version == self.version:
            return {}
        new = tuple(view.rows.values())
        out = _row_changes(self.rows, new)
        self.rows = new
        self.version = view.version
        return out


# ---------------------------------------------------------------------------- planner state


class _Offer:
    """An IC-SB route on a transit switch of interest that passed the
    router-independent learning checks (fields copied out of the row once)."""

    __slots__ = ("cidr", "key", "lr_id", "nexthop", "origin", "own_az", "prefix", "route_table",
                 "row", "tag", "text", "ts", "uid")

    def __init__(self, row: Row, key: _LearnKey, lr_id: int | None, own_az: bool,
                 fields: tuple[str, str, str, str, str], cidr: Cidr, tag: str | None) -> None:
        self.row = row
        self.key = key
        self.lr_id = lr_id
        self.own_az = own_az  # advertised by this AZ (what rows without lr-id are judged by)
        self.uid: int = row.uuid.int
        self.ts, self.route_table, self.prefix, self.nexthop, self.origin = fields
        self.cidr = cidr
        self.tag = tag  # external_ids:ic-route-tag (None: no such key)
        self.text: str | None = None  # the row's uuid as text, once asked (_offer_text)


def _offer_text(offer: _Offer) -> str:
    """The offer's row uuid as text (what a learned route's ``ic-learned-route`` holds)."""
    text = offer.text
    if text is None:
        text = offer.text = str(offer.row.uuid)
    return text


def _offer_order(offer: _Offer) -> tuple[str, int]:
    """Which of several offers of one key a router learns: the first (ts, uuid)."""
    return offer.ts, offer.uid


class _Own:
    """A router's own (not learned) static route: its local key and advertisements."""

    __slots__ = ("ads", "local", "row")

    def __init__(self, row: Row, local: _LocalKey, ads: tuple[tuple[_AdKey, _Ad], ...]) -> None:
        self.row = row
        self.local = local
        self.ads = ads


class _Learned:
    """A router's learned static route and its key (``None``: unreadable, to remove)."""

    __slots__ = ("key", "row")

    def __init__(self, row: Row, key: _LearnKey | None) -> None:
        self.row = row
        self.key = key


class _LearnOps:
    """What one learned key of one router needs: an ``external_ids`` refresh, an insert
    (from this IC-SB row) and the NB routes to remove."""

    __slots__ = ("insert", "removed", "update")

    def __init__(self, update: Update | None, insert: Row | None,
                 removed: tuple[uuid.UUID, ...]) -> None:
        self.update = update
        self.insert = insert
        self.removed = removed


class _AdOps:
    """What one IC-SB key of this AZ needs: deletes, an ``external_ids`` update, an insert."""

    __slots__ = ("deletes", "insert", "update")

    def __init__(self, deletes: tuple[uuid.UUID, ...], update: Update | None,
                 insert: Insert | None) -> None:
        self.deletes = deletes
        self.update = update
        self.insert = insert


class _Router:
    """One router's planning state."""

    __slots__ = ("bad", "cfg", "connected_ads", "dirty", "existing", "learned", "local",
                 "lops", "lr_int", "lr_text", "members", "missing", "own", "passing",
                 "plain_rts", "ports_by_ts", "row", "wanted")

    def __init__(self, row: Row, cfg: _RouterConfig) -> None:
        self.row = row
        self.cfg = cfg
        self.lr_int = cfg.uuid.int
        self.lr_text = str(cfg.uuid)
        by_ts: dict[str, list[_TsPort]] = {}
        for p in cfg.ports:
            by_ts.setdefault(p.ts, []).append(p)
        # Per switch, the ports that learn, one per distinct learning configuration.
        self.ports_by_ts: dict[str, tuple[_TsPort, ...]] = {
            ts: tuple({_learn_config(p): p for p in ps}.values()) for ts, ps in by_ts.items()
        }
        # The fast path: per switch whose ports have no filter tag and no filter list,
        # their route tables (then the only per-port rule for an untagged route).
        self.plain_rts: dict[str, frozenset[str]] = {
            ts: frozenset(p.route_table for p in ps) for ts, ps in self.ports_by_ts.items()
            if all(not p.filter_tag and p.learn_allow is None and not p.learn_deny
                   for p in ps)
        }
        self.members: frozenset[uuid.UUID] = frozenset()
        self.own: dict[int, _Own] = {}
        self.learned: dict[int, _Learned] = {}
        self.missing: set[int] = set()  # members whose row the table does not have
        self.local: dict[_LocalKey, int] = {}  # own routes per (route_table, ip_prefix)
        self.connected_ads: tuple[tuple[_AdKey, _Ad], ...] = ()
        self.existing: dict[_LearnKey, list[Row]] = {}  # learned routes by key
        self.bad: dict[int, Row] = {}  # learned routes OVN cannot read
        self.wanted: dict[_LearnKey, list[_Offer]] = {}  # what it should learn
        self.passing: dict[int, _Offer] = {}  # offer uid -> offer in ``wanted``
        self.lops: dict[_LearnKey, _LearnOps] = {}  # keys that need operations
        self.dirty: set[_LearnKey] = set()


def _learn_config(port: _TsPort) -> tuple[Any, ...]:
    return (port.route_table, port.filter_tag, port.learn_allow, port.learn_deny)


_Key: TypeAlias = tuple[Any, ...]


class _State:
    """Everything derived from one snapshot source, kept up to date call after call."""

    def __init__(self, snap: Snapshot, key: _Key, az_uuid: uuid.UUID, opts: RouteOptions,
                 filters: RouteFilters, rules: IcRules) -> None:
        self.key = key
        self.az_uuid = az_uuid
        self.opts = opts
        self.rules = rules
        self.adv_filter = filters.advertise
        self.learn_filter = filters.learn
        nb = snap.nb
        self.topo_views = (nb.table("Logical_Switch"), nb.table("Logical_Switch_Port"),
                           nb.table("Logical_Router_Port"), nb.table("Logical_Router"))
        self.topo_versions: tuple[int, ...] | None = None
        self.ts_view = snap.ic_nb.table("Transit_Switch")
        self.ts_version = self.ts_view.version
        self.sr = _Tracker(nb.table("Logical_Router_Static_Route"))
        self.rt = _Tracker(snap.ic_sb.table("Route"))
        # The columns the hot paths read, a row at a time (see RowLayout.getter).
        self.sr_cols = self.sr.view.layout.getter("route_table", "ip_prefix", "nexthop")
        self.rt_key = self.rt.view.layout.getter(
            "availability_zone", "transit_switch", "route_table", "ip_prefix", "nexthop")
        self.rt_offer = self.rt.view.layout.getter(
            "external_ids", "ip_prefix", "nexthop", "transit_switch", "route_table", "origin",
            "availability_zone")
        self.routers: dict[int, _Router] = {}
        self.by_ts: dict[str, list[_Router]] = {}  # transit switches of interest
        self.offers: dict[int, _Offer] = {}
        self.offers_by_ts: dict[str, dict[int, _Offer]] = {}
        self.by_local: dict[_LocalKey, list[_Offer]] = {}
        self.contrib: dict[_AdKey, list[_Ad]] = {}  # what every source advertises per key
        self.ad_rows: dict[_AdKey, list[Row]] = {}  # this AZ's IC-SB rows by key
        self.ad_row_of: dict[int, tuple[_AdKey, Row]] = {}
        self.ts_exists: dict[str, bool] = {}
        self.aops: dict[_AdKey, _AdOps] = {}
        self.dirty_ads: set[_AdKey] = set()
        for row in self.rt.view.lookup(_ROUTE_AZ_INDEX, az_uuid):
            _set_ad_row(self, row.uuid.int, row)

    def valid_for(self, snap: Snapshot, az_uuid: uuid.UUID, opts: RouteOptions,
                  rules: IcRules) -> bool:
        """Whether this state can be brought up to date for ``snap`` incrementally."""
        nb = snap.nb
        views = self.topo_views
        return (
            az_uuid == self.az_uuid
            and opts == self.opts
            and rules == self.rules
            and self.ts_view is snap.ic_nb.table("Transit_Switch")
            and self.ts_view.version == self.ts_version
            and self.sr.view is nb.table("Logical_Router_Static_Route")
            and self.rt.view is snap.ic_sb.table("Route")
            and views[0] is nb.table("Logical_Switch")
            and views[1] is nb.table("Logical_Switch_Port")
            and views[2] is nb.table("Logical_Router_Port")
            and views[3] is nb.table("Logical_Router")
        )


# -- advertise side


def _ads(st: _State, router: _Router, src: _Source) -> tuple[tuple[_AdKey, _Ad], ...]:
    """The IC-SB rows ``src`` of ``router`` asks for, one per usable TS port."""
    out: list[tuple[_AdKey, _Ad]] = []
    adv_filter = st.adv_filter
    cfg = router.cfg
    prefix_s = cidr_text(src.prefix)
    nb_text = str(src.nb_id)
    v4 = src.prefix.version == 4
    for port in cfg.ports:
        if not port.usable:
            continue
        if src.origin == "static" and src.route_table != port.route_table:
            continue
        nexthop_s = port.nexthop_v4 if v4 else port.nexthop_v6
        if nexthop_s is None:
            continue
        if (port.adv_allow is not None or port.adv_deny) and not port.may_advertise(src.prefix):
            continue
        if adv_filter is not None and not adv_filter(RouteInfo(
            cfg.name, prefix_s, nexthop_s, src.origin, src.route_table, port.ts,
        )):
            continue
        out.append(((port.ts, src.route_table, prefix_s, nexthop_s),
                    (_ORIGIN_RANK[src.origin], router.lr_int, src.nb_id.int, src.origin,
                     nb_text, router.lr_text, port.route_tag)))
    return tuple(out)


def _contribute(st: _State, ads: Iterable[tuple[_AdKey, _Ad]]) -> None:
    contrib, dirty = st.contrib, st.dirty_ads
    for key, ad in ads:
        found = contrib.get(key)
        if found is None:
            contrib[key] = [ad]
        else:
            found.append(ad)
        dirty.add(key)


def _withdraw(st: _State, ads: Iterable[tuple[_AdKey, _Ad]]) -> None:
    contrib, dirty = st.contrib, st.dirty_ads
    for key, ad in ads:
        found = contrib[key]
        found.remove(ad)
        if not found:
            del contrib[key]
        dirty.add(key)


def _set_ad_row(st: _State, uid: int, row: Row | None) -> None:
    """Track IC-SB row ``uid`` as it is now (``None``: gone) among this AZ's rows."""
    cur = st.ad_row_of.get(uid)
    if cur is not None:
        key, old = cur
        if old is row:
            return
        _bucket_remove(st.ad_rows, key, old)
        del st.ad_row_of[uid]
        st.dirty_ads.add(key)
    if row is None:
        return
    az, ts, route_table, prefix, nexthop = st.rt_key(row)
    if az != st.az_uuid:
        return
    key = (ts, route_table, prefix, nexthop)
    _bucket_add(st.ad_rows, key, row)
    st.ad_row_of[uid] = (key, row)
    st.dirty_ads.add(key)


def _ts_exists(st: _State, ts: str) -> bool:
    found = st.ts_exists.get(ts)
    if found is None:
        found = st.ts_exists[ts] = st.ts_view.lookup_one(_NAME_INDEX, ts) is not None
    return found


def _ad_ops(st: _State, key: _AdKey) -> _AdOps | None:
    """Reconcile this AZ's IC-SB rows of one key with what the routers advertise."""
    contribs = st.contrib.get(key)
    want = min(contribs) if contribs else None
    rows = st.ad_rows.get(key)
    deletes: list[uuid.UUID] = []
    update: Update | None = None
    matched = False
    tags = st.rules.route_tags
    if rows:
        if want is not None and not _ts_exists(st, key[0]):
            want = None
        nb_id = "" if want is None else want[4]
        for row in sorted(rows, key=_uuid_int) if len(rows) > 1 else rows:
            if want is None or matched or want[3] != row["origin"]:
                deletes.append(row.uuid)
                continue
            matched = True
            ext = row["external_ids"]
            tag_ok = not tags or ext.get(ROUTE_TAG_KEY) == (want[6] or None)
            if ext.get("nb-id") != nb_id or ext.get("lr-id") != want[5] or not tag_ok:
                new_ext = dict(ext)
                new_ext["nb-id"] = nb_id
                new_ext["lr-id"] = want[5]
                if tags:
                    # Set when the port has a tag, removed otherwise (as 25.03).
                    if want[6]:
                        new_ext[ROUTE_TAG_KEY] = want[6]
                    else:
                        new_ext.pop(ROUTE_TAG_KEY, None)
                update = Update("ic_sb", "Route", row.uuid, {"external_ids": new_ext})
    insert: Insert | None = None
    if want is not None and not matched:
        ts, route_table, prefix, nexthop = key
        insert = Insert("ic_sb", "Route", {
            "transit_switch": ts,
            "availability_zone": st.az_uuid,
            "route_table": route_table,
            "ip_prefix": prefix,
            "nexthop": nexthop,
            "origin": want[3],
            "external_ids": ({"nb-id": want[4], "lr-id": want[5], ROUTE_TAG_KEY: want[6]}
                             if tags and want[6] else {"nb-id": want[4], "lr-id": want[5]}),
        })
    if deletes or update is not None or insert is not None:
        return _AdOps(tuple(deletes), update, insert)
    return None


# -- learn side


def _make_offer(st: _State, row: Row) -> _Offer | None:
    """The offer of an IC-SB row, or ``None`` when no router may learn it."""
    ext, prefix, nexthop, ts, route_table, origin, az = st.rt_offer(row)
    lr_text = ext.get("lr-id")
    lr_id: int | None = None
    if lr_text is not None:
        lr_id = _lr_id(lr_text)
        if lr_id is None:
            return None  # OVN skips rows whose lr-id is not a uuid
    parsed = _parse_route(prefix, nexthop)
    if parsed is None or not st.opts.may_learn(parsed[0]):
        return None
    key = _learn_key(parsed[0], parsed[1], origin, route_table)
    tag = ext.get(ROUTE_TAG_KEY) if st.rules.route_tags else None
    return _Offer(row, key, lr_id, az == st.az_uuid,
                  (ts, route_table, prefix, nexthop, origin), parsed[0], tag)


def _passes(st: _State, router: _Router, offer: _Offer) -> bool:
    """Whether ``router`` learns ``offer`` (through any of its ports on the offer's TS)."""
    if offer.lr_id is not None:
        if offer.lr_id == router.lr_int:
            return False
    elif offer.own_az:
        return False
    rt = offer.route_table
    plain = router.plain_rts.get(offer.ts) if offer.tag is None else None
    if plain is not None:
        if rt and rt not in plain:
            return False
    else:
        ports = router.ports_by_ts.get(offer.ts)
        if not ports or not any(_port_learns(p, offer) for p in ports):
            return False
    if (rt, offer.prefix) in router.local:
        return False  # a local route wins
    flt = st.learn_filter
    return flt is None or bool(flt(RouteInfo(
        router.cfg.name, offer.prefix, offer.nexthop, offer.origin, rt, offer.ts,
    )))


def _port_learns(port: _TsPort, offer: _Offer) -> bool:
    """Whether one TS port of a router takes ``offer``: its route table (a row without
    one goes to every port), its filter tag, its route filter options."""
    if offer.route_table and offer.route_table != port.route_table:
        return False
    if offer.tag is not None and offer.tag == port.filter_tag:
        return False  # the tag is filtered by this port (25.03)
    if port.learn_allow is None and not port.learn_deny:
        return True
    return _listed_ok(offer.cidr, port.learn_allow, port.learn_deny)


def _want(router: _Router, offer: _Offer) -> None:
    _bucket_add(router.wanted, offer.key, offer)
    router.passing[offer.uid] = offer
    router.dirty.add(offer.key)


def _unwant(router: _Router, offer: _Offer) -> None:
    _bucket_remove(router.wanted, offer.key, offer)
    del router.passing[offer.uid]
    router.dirty.add(offer.key)


def _reevaluate(st: _State, router: _Router, offer: _Offer) -> None:
    cur = router.passing.get(offer.uid)
    if _passes(st, router, offer):
        if cur is offer:
            return
        if cur is not None:
            _unwant(router, cur)
        _want(router, offer)
    elif cur is not None:
        _unwant(router, cur)


def _add_offer(st: _State, offer: _Offer) -> None:
    st.offers[offer.uid] = offer
    st.offers_by_ts[offer.ts][offer.uid] = offer
    _bucket_add(st.by_local, (offer.route_table, offer.prefix), offer)
    for router in st.by_ts[offer.ts]:
        if _passes(st, router, offer):
            _want(router, offer)


def _remove_offer(st: _State, offer: _Offer) -> None:
    del st.offers[offer.uid]
    del st.offers_by_ts[offer.ts][offer.uid]
    _bucket_remove(st.by_local, (offer.route_table, offer.prefix), offer)
    for router in st.by_ts.get(offer.ts, ()):
        cur = router.passing.get(offer.uid)
        if cur is not None:
            _unwant(router, cur)


def _set_offer(st: _State, uid: int, row: Row | None) -> None:
    """Track IC-SB row ``uid`` as it is now (``None``: gone) among the offers."""
    old = st.offers.get(uid)
    if old is not None:
        if old.row is row:
            return
        _remove_offer(st, old)
    if row is None or not st.opts.learn or row["transit_switch"] not in st.by_ts:
        return
    offer = _make_offer(st, row)
    if offer is not None:
        _add_offer(st, offer)


def _local_flipped(st: _State, router: _Router, local: _LocalKey) -> None:
    """A (route_table, ip_prefix) became or stopped being one of the router's own routes."""
    offers = st.by_local.get(local)
    if offers:
        for offer in list(offers):
            if offer.ts in router.ports_by_ts:
                _reevaluate(st, router, offer)


def _learn_ops(router: _Router, key: _LearnKey) -> _LearnOps | None:
    """Reconcile one key of a router's learned routes with the offers it should learn."""
    offers = router.wanted.get(key)
    olds = router.existing.get(key)
    if not offers:
        return _LearnOps(None, None, tuple(r.uuid for r in olds)) if olds else None
    cands = sorted(offers, key=_offer_order) if len(offers) > 1 else offers
    if not olds:
        return _LearnOps(None, cands[0].row, ())
    rows = sorted(olds, key=_uuid_int) if len(olds) > 1 else olds
    if len(rows) == 1 and len(cands) == 1:  # the usual case, without the sets
        ext = rows[0]["external_ids"]
        if ext.get(LEARNED_ROUTE_KEY) == _offer_text(cands[0]):
            return None
        return _LearnOps(Update("nb", "Logical_Router_Static_Route", rows[0].uuid, {
            "external_ids": {**ext, LEARNED_ROUTE_KEY: _offer_text(cands[0])}}), None, ())
    cand_ids = {_offer_text(o) for o in cands}
    keeper = next((r for r in rows if r["external_ids"].get(LEARNED_ROUTE_KEY) in cand_ids),
                  rows[0])
    update: Update | None = None
    if keeper["external_ids"].get(LEARNED_ROUTE_KEY) not in cand_ids:
        ext = dict(keeper["external_ids"])
        ext[LEARNED_ROUTE_KEY] = str(cands[0].row.uuid)
        update = Update("nb", "Logical_Router_Static_Route", keeper.uuid, {"external_ids": ext})
    removed = tuple(r.uuid for r in rows if r is not keeper)
    if update is None and not removed:
        return None
    return _LearnOps(update, None, removed)


# -- a router's static routes


def _add_own(st: _State, router: _Router, uid: int, row: Row, *, flip: bool) -> None:
    route_table, prefix, nexthop = st.sr_cols(row)
    local = (route_table, prefix)
    ads: tuple[tuple[_AdKey, _Ad], ...] = ()
    opts = st.opts
    if opts.advertise and row.get("policy") != "src-ip":
        parsed = _parse_route(prefix, nexthop)
        if parsed is not None and opts.may_advertise(parsed[0]):
            ads = _ads(st, router, _Source(parsed[0], "static", local[0], row.uuid))
            _contribute(st, ads)
    router.own[uid] = _Own(row, local, ads)
    n = router.local.get(local, 0)
    router.local[local] = n + 1
    if n == 0 and flip:
        _local_flipped(st, router, local)


def _remove_own(st: _State, router: _Router, uid: int, own: _Own) -> None:
    del router.own[uid]
    _withdraw(st, own.ads)
    n = router.local[own.local] - 1
    if n:
        router.local[own.local] = n
    else:
        del router.local[own.local]
        _local_flipped(st, router, own.local)


def _add_learned(st: _State, router: _Router, uid: int, row: Row) -> None:
    route_table, prefix, nexthop = st.sr_cols(row)
    parsed = _parse_route(prefix, nexthop)
    if parsed is None:
        router.learned[uid] = _Learned(row, None)
        router.bad[uid] = row
        return
    key = _learn_key(parsed[0], parsed[1], row["options"].get("origin", ""), route_table)
    router.learned[uid] = _Learned(row, key)
    _bucket_add(router.existing, key, row)
    router.dirty.add(key)


def _remove_learned(router: _Router, uid: int, learned: _Learned) -> None:
    del router.learned[uid]
    key = learned.key
    if key is None:
        del router.bad[uid]
        return
    _bucket_remove(router.existing, key, learned.row)
    router.dirty.add(key)


def _set_member(st: _State, router: _Router, uid: int, member: bool, row: Row | None) -> None:
    """Make static route ``uid`` a member of ``router`` holding ``row`` (or not a member)."""
    if not member:
        row = None
    own = router.own.get(uid)
    if own is not None:
        if own.row is row:
            return
        _remove_own(st, router, uid, own)
    else:
        learned = router.learned.get(uid)
        if learned is not None:
            if learned.row is row:
                return
            _remove_learned(router, uid, learned)
    if row is None:
        if member:
            router.missing.add(uid)
        else:
            router.missing.discard(uid)
        return
    router.missing.discard(uid)
    if LEARNED_ROUTE_KEY in row["external_ids"]:
        _add_learned(st, router, uid, row)
    else:
        _add_own(st, router, uid, row, flip=True)


def _sync_members(st: _State, router: _Router, changes: Mapping[int, Row | None]) -> None:
    """Bring the router's static routes up to date: membership and changed rows."""
    members: frozenset[uuid.UUID] = router.row["static_routes"]
    touched: dict[int, tuple[bool, Row | None]] = {}
    old = router.members
    if members is not old:
        table = st.sr.view
        for u in old - members:
            touched[u.int] = (False, None)
        for u in members - old:
            k = u.int
            touched[k] = (True, changes[k] if k in changes else table.get(u))
        router.members = members
    for k, row in changes.items():
        if k not in touched and (k in router.own or k in router.learned or k in router.missing):
            touched[k] = (True, row)
    for k, (member, row) in touched.items():
        _set_member(st, router, k, member, row)


def _build_router(st: _State, row: Row, cfg: _RouterConfig) -> _Router:
    router = _Router(row, cfg)
    ads: list[tuple[_AdKey, _Ad]] = []
    for src in cfg.connected:
        ads.extend(_ads(st, router, src))
    router.connected_ads = tuple(ads)
    _contribute(st, router.connected_ads)
    members: frozenset[uuid.UUID] = row["static_routes"]
    router.members = members
    table = st.sr.view
    for u in members:
        r = table.get(u)
        if r is None:
            router.missing.add(u.int)
        elif LEARNED_ROUTE_KEY in r["external_ids"]:
            _add_learned(st, router, u.int, r)
        else:
            _add_own(st, router, u.int, r, flip=False)
    for ts in router.ports_by_ts:
        for offer in st.offers_by_ts.get(ts, {}).values():
            if _passes(st, router, offer):
                _want(router, offer)
    return router


def _drop_router(st: _State, router: _Router) -> None:
    _withdraw(st, router.connected_ads)
    for own in router.own.values():
        _withdraw(st, own.ads)


def _sync_topology(st: _State, snap: Snapshot) -> None:
    """Recompute the routers and their TS ports when an NB table they come from changed;
    rebuild the routers whose configuration changed, update the offers' switches."""
    versions = tuple(v.version for v in st.topo_views)
    if versions == st.topo_versions:
        return
    topo = _topology(snap, st.opts, st.rules)
    for k, router in list(st.routers.items()):
        entry = topo.get(k)
        if entry is None or entry[1] != router.cfg:
            _drop_router(st, router)
            del st.routers[k]
        else:
            router.row = entry[0]
    interest = {p.ts for _, cfg in topo.values() for p in cfg.ports}
    by_ts: dict[str, list[_Router]] = {ts: [] for ts in sorted(interest)}
    for router in st.routers.values():
        for ts in router.ports_by_ts:
            by_ts[ts].append(router)
    old_interest = set(st.by_ts)
    st.by_ts = by_ts
    for ts in old_interest - interest:
        for offer in list(st.offers_by_ts.get(ts, {}).values()):
            _remove_offer(st, offer)
        st.offers_by_ts.pop(ts, None)
    for ts in sorted(interest - old_interest):
        st.offers_by_ts[ts] = {}
        if st.opts.learn:
            for row in st.rt.view.lookup(_ROUTE_TS_INDEX, ts):
                made = _make_offer(st, row)
                if made is not None:
                    _add_offer(st, made)
    for k, (row, cfg) in topo.items():
        if k not in st.routers:
            router = st.routers[k] = _build_router(st, row, cfg)
            for ts in router.ports_by_ts:
                by_ts[ts].append(router)
    st.topo_versions = versions


def _refresh(st: _State, snap: Snapshot) -> None:
    """Bring the state up to date with ``snap``, then re-derive the dirty keys' operations."""
    sr_changes = st.sr.changes()
    rt_changes = st.rt.changes()
    _sync_topology(st, snap)
    for router in st.routers.values():
        _sync_members(st, router, sr_changes)
    for uid, row in rt_changes.items():
        _set_ad_row(st, uid, row)
        _set_offer(st, uid, row)
    aops = st.aops
    for key in st.dirty_ads:
        ad_ops = _ad_ops(st, key)
        if ad_ops is None:
            aops.pop(key, None)
        else:
            aops[key] = ad_ops
    st.dirty_ads.clear()
    for router in st.routers.values():
        lops = router.lops
        for lkey in router.dirty:
            found = _learn_ops(router, lkey)
            if found is None:
                lops.pop(lkey, None)
            else:
                lops[lkey] = found
        router.dirty.clear()


def _op_uuid_int(op: Update) -> int:
    return op.uuid.int


def _assemble(st: _State) -> Plan:
    """The plan: IC-SB deletes, updates and inserts, then NB operations router by router."""
    ops: list[Op] = []
    aops = st.aops
    if aops:
        deletes = sorted((u for a in aops.values() for u in a.deletes), key=lambda u: u.int)
        ops.extend(Delete("ic_sb", "Route", u) for u in deletes)
        updates = sorted((a.update for a in aops.values() if a.update is not None),
                         key=_op_uuid_int)
        ops.extend(updates)
        for ad_key in sorted(aops):
            insert = aops[ad_key].insert
            if insert is not None:
                ops.append(insert)
    names = itertools.count()
    for router in sorted(st.routers.values(), key=lambda r: (r.cfg.name, r.lr_int)):
        nb_updates: list[Op] = []
        inserts: list[Op] = []
        added: list[NamedUUID] = []
        removed: list[uuid.UUID] = [r.uuid for r in router.bad.values()]
        for key in sorted(router.lops):
            lo = router.lops[key]
            if lo.update is not None:
                nb_updates.append(lo.update)
            if lo.insert is not None:
                src = lo.insert
                name = NamedUUID(f"ic_learned_route{next(names)}")
                inserts.append(Insert("nb", "Logical_Router_Static_Route", {
                    "ip_prefix": src["ip_prefix"],
                    "nexthop": src["nexthop"],
                    "route_table": src["route_table"],
                    "options": {"origin": src["origin"]},
                    "external_ids": {LEARNED_ROUTE_KEY: str(src.uuid)},
                }, name=name.name))
                added.append(name)
            removed.extend(lo.removed)
        ops.extend(nb_updates)
        ops.extend(inserts)
        if added or removed:
            ops.append(Mutate("nb", "Logical_Router", router.row.uuid, "static_routes",
                              insert=frozenset(added), delete=frozenset(removed)))
    return Plan(tuple(ops))


# ---------------------------------------------------------------------------- planner


def _same_source(a: _Key, b: _Key) -> bool:
    """Same replica objects, and equal filter functions (a bound method made anew per
    call is equal to the previous one, not identical)."""
    return (a[0] is b[0] and a[1] is b[1] and a[2] is b[2]
            and (a[3] is b[3] or a[3] == b[3]) and (a[4] is b[4] or a[4] == b[4]))


class RouteCache:
    """What :func:`plan_routes` remembers between calls, so that a call costs in
    proportion to what changed in the snapshot rather than to its size.

    Holds the derived state of up to ``size`` snapshot sources (a source: the NB,
    IC-NB and IC-SB replica objects plus the filter functions), most recently used
    first; it keeps those replicas alive while it holds them. It never changes a
    plan, only how fast it is computed: filters must be pure (see
    :class:`RouteFilters`), so their answers are kept too. Calls are serialised by a
    lock. There is no shared default: whoever plans repeatedly owns a cache (a
    :class:`~ovsdb_ic.sync.runner.SyncEngine` has one, dropped when it stops).
    """

    def __init__(self, size: int = 4) -> None:
        """A cache of at most ``size`` (at least 1) snapshot sources' states."""
        self._size = max(1, size)
        self._states: list[_State] = []
        self._lock = threading.RLock()

    @property
    def held(self) -> int:
        """How many snapshot sources' states the cache holds now."""
        return len(self._states)

    def clear(self) -> None:
        """Forget everything (the next call of each source plans from scratch)."""
        with self._lock:
            self._states.clear()

    def _plan(self, snap: Snapshot, az_uuid: uuid.UUID, opts: RouteOptions,
              filters: RouteFilters, rules: IcRules) -> Plan:
        key = (snap.nb, snap.ic_nb, snap.ic_sb, filters.advertise, filters.learn)
        with self._lock:
            states = self._states
            st: _State | None = None
            for i, cand in enumerate(states):
                if _same_source(cand.key, key):
                    st = states.pop(i)
                    break
            # A state is dropped unless the call completes: a failure half-way (a
            # filter raising, an index conflict) must not leave it half updated.
            cold = st is None or not st.valid_for(snap, az_uuid, opts, rules)
            # Building a state creates many small containers and none of them can form
            # a cycle: the cyclic collector is paused meanwhile, and what survives a
            # cold build is promoted to the oldest generation (see replica.gc_paused).
            with gc_paused(promote=cold):
                if st is None or cold:
                    st = _State(snap, key, az_uuid, opts, filters, rules)
                _refresh(st, snap)
                plan = _assemble(st)
            states.insert(0, st)
            del states[self._size:]
            return plan


def plan_routes(
    snap: Snapshot, *, filters: RouteFilters | None = None, cache: RouteCache | None = None,
    rules: IcRules | None = None,
) -> Plan:
    """Plan one routes pass for the AZ named by ``NB_Global.name``.

    Returns an empty plan when the name is empty or IC-SB has no
    ``Availability_Zone`` row of that name yet. IC-SB operations come first (deletes,
    ``external_ids`` updates, inserts), then NB operations router by router (by name
    and uuid). ``filters`` narrow what the NB options allow. The snapshot must hold
    :data:`REQUIREMENTS`' indexes. ``cache`` (a :class:`RouteCache` the caller
    keeps between calls) only makes repeated calls faster; the plan is the same
    without it (every call then derives its state from scratch). ``rules`` (default:
    :data:`~ovsdb_ic.sync.rules.RULES_23_03`) says which OVN release's ``ovn-ic`` to
    follow (route tags, route filter options).
    """
    filters = filters or RouteFilters()
    rules = rules or RULES_23_03
    nbg = nb_global(snap.nb)
    if nbg is None or not nbg["name"]:
        return Plan()
    az = snap.ic_sb.table("Availability_Zone").lookup_one(_NAME_INDEX, nbg["name"])
    if az is None:
        return Plan()
    opts = RouteOptions.from_nb_options(nbg["options"])
    return (RouteCache(size=1) if cache is None else cache)._plan(snap, az.uuid, opts, filters,
                                                                  rules)
