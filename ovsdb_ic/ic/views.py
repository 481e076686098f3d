"""Typed, read-only views of an interconnection, read from IC-SB (and IC-NB) replicas.

:class:`Interconnection` wraps an ``OVN_IC_Southbound`` replica, and optionally an
``OVN_IC_Northbound`` one, and answers lookups by natural keys through the replicas'
indexes (see :mod:`ovsdb_ic.ic.requirements`): one dictionary access per lookup, never a
scan of a table. Each answer is a view: a frozen value holding the row as a typed model
(:mod:`ovsdb_ic.models.ic_sb` / :mod:`~ovsdb_ic.models.ic_nb`) plus navigation methods
(``zone.gateways()``, ``port.gateway()``, ``switch.routes()``...).

A view's ``model`` is the row as it was when the view was made; navigation methods read
the replica as it is when they are called. Lists come back as tuples in a stable order:
zones, gateways and transit switches by name, port bindings by logical port, datapath
bindings by tunnel key, routes by their key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeAlias, TypeVar, final
from uuid import UUID

import attrs

from ovsdb_ic.errors import ConfigError
from ovsdb_ic.ic.databases import DATABASES, index_over
from ovsdb_ic.ic.requirements import (
    MissingRequirementError,
    database_key,
    install_indexes,
)
from ovsdb_ic.models import Model, has_default, to_model
from ovsdb_ic.models import ic_nb as inb
from ovsdb_ic.models import ic_sb as isb
from ovsdb_ic.replica import Index, IndexColumn, Replica, Row, TableView

__all__ = [
    "AvailabilityZoneView",
    "AzRef",
    "GatewayView",
    "Interconnection",
    "PortBindingView",
    "RouteKey",
    "RouteView",
    "TransitSwitchView",
]

M = TypeVar("M", bound=Model)

RouteKey: TypeAlias = tuple[str, UUID, str, str, str]
"""A route's unique key: ``(transit_switch, availability_zone, route_table, ip_prefix,
nexthop)``."""

_ROUTE_KEY: tuple[IndexColumn, ...] = (
    "transit_switch", "availability_zone", "route_table", "ip_prefix", "nexthop",
)


def _model(cls: type[M], row: Row) -> M:
    return to_model(cls, row.uuid, row)


@final
@attrs.frozen
class AvailabilityZoneView:
    """An ``Availability_Zone`` of IC-SB: one OVN deployment taking part."""

    model: isb.AvailabilityZone
    """The row, as a typed model."""
    ic: Interconnection = attrs.field(eq=False, repr=False)
    """The interconnection the view was read from."""

    @property
    def uuid(self) -> UUID:
        """The row's UUID."""
        return self.model.uuid

    @property
    def name(self) -> str:
        """The zone's name (``NB_Global.name`` of its OVN deployment)."""
        return self.model.name

    def gateways(self) -> tuple[GatewayView, ...]:
        """The zone's gateways, by name."""
        return self.ic.gateways(az=self.uuid)

    def port_bindings(self) -> tuple[PortBindingView, ...]:
        """The zone's port bindings on every transit switch, by logical port."""
        return self.ic.port_bindings(az=self.uuid)

    def routes(self) -> tuple[RouteView, ...]:
        """The routes the zone advertises, on every transit switch."""
        return self.ic.routes(az=self.uuid)


@final
@attrs.frozen
class GatewayView:
    """A ``Gateway`` of IC-SB: an interconnection gateway chassis of one zone."""

    model: isb.Gateway
    """The row, as a typed model."""
    ic: Interconnection = attrs.field(eq=False, repr=False)
    """The interconnection the view was read from."""

    @property
    def uuid(self) -> UUID:
        """The row's UUID."""
        return self.model.uuid

    @property
    def name(self) -> str:
        """The gateway's (chassis) name."""
        return self.model.name

    @property
    def hostname(self) -> str:
        """The gateway's hostname (may be empty)."""
        return self.model.hostname

    def availability_zone(self) -> AvailabilityZoneView | None:
        """The zone the gateway belongs to."""
        return self.ic.availability_zone(self.model.availability_zone)

    def encaps(self) -> tuple[isb.Encap, ...]:
        """The gateway's encapsulations, in UUID order (the order ``ovn-ic-sbctl`` uses)."""
        return self.ic._encaps(self.model.encaps)

    def port_bindings(self) -> tuple[PortBindingView, ...]:
        """The port bindings of the gateway's zone bound to it (``gateway`` = its name)."""
        return self.ic.port_bindings(gateway=self)


@final
@attrs.frozen
class PortBindingView:
    """A ``Port_Binding`` of IC-SB: one zone's port on a transit switch."""

    model: isb.PortBinding
    """The row, as a typed model."""
    ic: Interconnection = attrs.field(eq=False, repr=False)
    """The interconnection the view was read from."""

    @property
    def uuid(self) -> UUID:
        """The row's UUID."""
        return self.model.uuid

    @property
    def logical_port(self) -> str:
        """The logical port's name (unique across the interconnection)."""
        return self.model.logical_port

    def availability_zone(self) -> AvailabilityZoneView | None:
        """The zone the port belongs to."""
        return self.ic.availability_zone(self.model.availability_zone)

    def gateway(self) -> GatewayView | None:
        """The gateway of the port's zone named by ``gateway``; ``None`` when unbound."""
        gw = self.ic.gateway(self.model.gateway)
        if gw is None or gw.model.availability_zone != self.model.availability_zone:
            return None
        return gw

    def transit_switch(self) -> TransitSwitchView | None:
        """The transit switch the port is on (see :meth:`Interconnection.transit_switch`)."""
        return self.ic.transit_switch(self.model.transit_switch)

    def encap(self) -> isb.Encap | None:
        """The encapsulation the port uses, if set (a weak reference)."""
        if self.model.encap is None:
            return None
        encaps = self.ic._encaps((self.model.encap,))
        return encaps[0] if encaps else None


@final
@attrs.frozen
class RouteView:
    """A ``Route`` of IC-SB: a prefix one zone advertises on one transit switch."""

    model: isb.Route
    """The row, as a typed model."""
    ic: Interconnection = attrs.field(eq=False, repr=False)
    """The interconnection the view was read from."""

    @property
    def uuid(self) -> UUID:
        """The row's UUID."""
        return self.model.uuid

    @property
    def key(self) -> RouteKey:
        """The route's unique key (see :data:`RouteKey`)."""
        m = self.model
        return (m.transit_switch, m.availability_zone, m.route_table, m.ip_prefix, m.nexthop)

    def availability_zone(self) -> AvailabilityZoneView | None:
        """The zone that advertises the route."""
        return self.ic.availability_zone(self.model.availability_zone)

    def transit_switch(self) -> TransitSwitchView | None:
        """The transit switch the route is advertised on."""
        return self.ic.transit_switch(self.model.transit_switch)


@final
@attrs.frozen
class TransitSwitchView:
    """A transit switch: its IC-NB ``Transit_Switch`` and IC-SB ``Datapath_Binding`` rows.

    ``nb`` is ``None`` when the interconnection has no IC-NB replica. Normally one
    datapath binding holds the switch's tunnel key; while zones race to allocate one
    there may be none or (briefly) several, all listed by tunnel key.
    """

    name: str
    """The switch's name."""
    nb: inb.TransitSwitch | None
    """The IC-NB row, or ``None`` without an IC-NB replica."""
    datapath_bindings: tuple[isb.DatapathBinding, ...]
    """The IC-SB datapath bindings of the switch, by tunnel key."""
    ic: Interconnection = attrs.field(eq=False, repr=False)
    """The interconnection the view was read from."""

    @property
    def tunnel_key(self) -> int | None:
        """The switch's tunnel key (the lowest if several), ``None`` before allocation."""
        return self.datapath_bindings[0].tunnel_key if self.datapath_bindings else None

    def port_bindings(self) -> tuple[PortBindingView, ...]:
        """The ports of every zone on this switch, by logical port."""
        return self.ic.port_bindings(transit_switch=self.name)

    def routes(self) -> tuple[RouteView, ...]:
        """The routes advertised on this switch, by every zone."""
        return self.ic.routes(transit_switch=self.name)


AzRef: TypeAlias = str | UUID | AvailabilityZoneView
"""A zone given by name (``str``), by row UUID, or as a view."""


def _sorted_by(rows: Iterable[Row], column: str) -> list[Row]:
    return sorted(rows, key=lambda r: r[column])


def _route_order(row: Row) -> tuple[str, str, str, str, str]:
    return (row["transit_switch"], str(row["availability_zone"]), row["route_table"],
            row["ip_prefix"], row["nexthop"])


@final
class Interconnection:
    """Read-only views of an interconnection, over an IC-SB and an optional IC-NB replica.

    ``Interconnection(ic_sb_replica, ic_nb_replica)``. With ``install`` (the default)
    the client indexes of :data:`~ovsdb_ic.ic.requirements.REQUIREMENTS` missing from
    the replicas are added (:func:`~ovsdb_ic.ic.requirements.install_indexes`); with
    ``install=False`` a lookup whose index is missing raises
    :class:`~ovsdb_ic.ic.requirements.MissingRequirementError`, as does a lookup in a
    table the replica does not hold with every column.

    The views read the replicas when called: keep using one ``Interconnection`` while
    the replicas follow their servers. Like the replica, it is not thread-safe.
    """

    __slots__ = ("_complete", "ic_nb", "ic_sb")

    ic_sb: Replica
    """The ``OVN_IC_Southbound`` replica."""
    ic_nb: Replica | None
    """The ``OVN_IC_Northbound`` replica, if any."""

    def __init__(
        self, ic_sb: Replica, ic_nb: Replica | None = None, *, install: bool = True
    ) -> None:
        """Views over ``ic_sb`` (and ``ic_nb``); see the class documentation.

        Raises :class:`~ovsdb_ic.errors.ConfigError` when a replica is of the wrong
        database.
        """
        if database_key(ic_sb) != "ic_sb":
            raise ConfigError("ic_sb", ic_sb.schema.name,
                              f"expected a replica of {DATABASES['ic_sb']}")
        if ic_nb is not None and database_key(ic_nb) != "ic_nb":
            raise ConfigError("ic_nb", ic_nb.schema.name,
                              f"expected a replica of {DATABASES['ic_nb']}")
        self.ic_sb = ic_sb
        self.ic_nb = ic_nb
        self._complete: set[tuple[int, str]] = set()
        if install:
            install_indexes(ic_sb)
            if ic_nb is not None:
                install_indexes(ic_nb)

    def __repr__(self) -> str:
        return f"<Interconnection {self.ic_sb!r} {self.ic_nb!r}>"

    # ------------------------------------------------------------------ plumbing

    def _table(self, name: str, cls: type[Model], replica: Replica | None = None) -> TableView:
        """The held table ``name``, checked to hold every column ``cls`` reads."""
        replica = self.ic_sb if replica is None else replica
        key = (id(replica), name)
        if key in self._complete:
            return replica.table(name)
        if name not in replica:
            raise MissingRequirementError(
                replica.schema.name, name, "the replica does not hold this table"
            )
        view = replica.table(name)
        # A column the server's schema lacks (an older OVN than the models') reads as
        # its default, when it has one; every other model column must be held.
        server_columns = replica.schema.tables[name].columns
        lacking = [
            c for c in cls.__columns__
            if c not in view.columns and (c in server_columns or not has_default(cls, c))
        ]
        if lacking:
            raise MissingRequirementError(
                replica.schema.name, name,
                f"the replica does not hold column(s) {', '.join(lacking)}",
            )
        self._complete.add(key)
        return view

    def _index(self, view: TableView, columns: Sequence[IndexColumn]) -> Index:
        """The index of an IC-SB table over ``columns`` (under whatever name)."""
        found = index_over(view, columns)
        if found is None:
            raise MissingRequirementError(
                self.ic_sb.schema.name, view.name,
                f"no index over ({', '.join(map(str, columns))}); "
                "call ovsdb_ic.ic.install_indexes(replica) first",
            )
        return found

    def _az_uuid(self, az: AzRef) -> UUID | None:
        if isinstance(az, AvailabilityZoneView):
            return az.uuid
        if isinstance(az, UUID):
            return az
        view = self._table("Availability_Zone", isb.AvailabilityZone)
        row = view.lookup_one(("name",), az)
        return None if row is None else row.uuid

    def _encaps(self, uuids: Iterable[UUID]) -> tuple[isb.Encap, ...]:
        view = self._table("Encap", isb.Encap)
        out = []
        for u in sorted(uuids, key=lambda u: u.int):
            row = view.get(u)
            if row is not None:
                out.append(_model(isb.Encap, row))
        return tuple(out)

    def _azs(self, rows: Iterable[Row]) -> tuple[AvailabilityZoneView, ...]:
        return tuple(AvailabilityZoneView(_model(isb.AvailabilityZone, r), self)
                     for r in _sorted_by(rows, "name"))

    def _gateways(self, rows: Iterable[Row]) -> tuple[GatewayView, ...]:
        return tuple(GatewayView(_model(isb.Gateway, r), self)
                     for r in _sorted_by(rows, "name"))

    def _ports(self, rows: Iterable[Row]) -> tuple[PortBindingView, ...]:
        return tuple(PortBindingView(_model(isb.PortBinding, r), self)
                     for r in _sorted_by(rows, "logical_port"))

    def _routes(self, rows: Iterable[Row]) -> tuple[RouteView, ...]:
        return tuple(RouteView(_model(isb.Route, r), self)
                     for r in sorted(rows, key=_route_order))

    # ------------------------------------------------------------------ zones

    def availability_zones(self) -> tuple[AvailabilityZoneView, ...]:
        """Every zone, by name."""
        return self._azs(self._table("Availability_Zone", isb.AvailabilityZone))

    def availability_zone(self, key: str | UUID) -> AvailabilityZoneView | None:
        """The zone named ``key`` (a ``str``), or with row UUID ``key``; ``None`` if none."""
        view = self._table("Availability_Zone", isb.AvailabilityZone)
        row = view.get(key) if isinstance(key, UUID) else view.lookup_one(("name",), key)
        return None if row is None else AvailabilityZoneView(
            _model(isb.AvailabilityZone, row), self)

    # ------------------------------------------------------------------ gateways

    def gateway(self, name: str) -> GatewayView | None:
        """The gateway called ``name`` (gateway names are unique), or ``None``."""
        view = self._table("Gateway", isb.Gateway)
        row = view.lookup_one(("name",), name)
        return None if row is None else GatewayView(_model(isb.Gateway, row), self)

    def gateways(self, *, az: AzRef | None = None) -> tuple[GatewayView, ...]:
        """Every gateway, or those of zone ``az``; by name."""
        view = self._table("Gateway", isb.Gateway)
        if az is None:
            return self._gateways(view)
        u = self._az_uuid(az)
        if u is None:
            return ()
        return self._gateways(self._index(view, ("availability_zone",)).find(u))

    # ------------------------------------------------------------------ port bindings

    def port_binding(self, logical_port: str) -> PortBindingView | None:
        """The port binding of ``logical_port`` (unique), or ``None``."""
        view = self._table("Port_Binding", isb.PortBinding)
        row = view.lookup_one(("logical_port",), logical_port)
        return None if row is None else PortBindingView(_model(isb.PortBinding, row), self)

    def port_bindings(
        self,
        *,
        az: AzRef | None = None,
        transit_switch: str | None = None,
        gateway: str | GatewayView | None = None,
    ) -> tuple[PortBindingView, ...]:
        """Port bindings matching every filter given, by logical port.

        ``az``: of that zone; ``transit_switch``: on that switch (by name);
        ``gateway``: bound to that gateway, which must exist: the ports of the
        gateway's zone whose ``gateway`` column is its name (as ``ovn-ic-sbctl show``
        groups them). With no filter, every port binding.
        """
        view = self._table("Port_Binding", isb.PortBinding)
        rows: Iterable[Row]
        if gateway is not None:
            gw = gateway if isinstance(gateway, GatewayView) else self.gateway(gateway)
            if gw is None:
                return ()
            gw_az = gw.model.availability_zone
            if az is not None and self._az_uuid(az) != gw_az:
                return ()
            rows = self._index(view, ("availability_zone", "gateway")).find((gw_az, gw.name))
            if transit_switch is not None:
                rows = [r for r in rows if r["transit_switch"] == transit_switch]
        elif az is not None:
            u = self._az_uuid(az)
            if u is None:
                return ()
            if transit_switch is not None:
                rows = self._index(view, ("transit_switch", "availability_zone")).find(
                    (transit_switch, u))
            else:
                rows = self._index(view, ("availability_zone",)).find(u)
        elif transit_switch is not None:
            rows = self._index(view, ("transit_switch",)).find(transit_switch)
        else:
            rows = view
        return self._ports(rows)

    # ------------------------------------------------------------------ routes

    def route(
        self,
        transit_switch: str,
        az: AzRef,
        route_table: str,
        ip_prefix: str,
        nexthop: str,
    ) -> RouteView | None:
        """The route with this unique key (the schema's index), or ``None``.

        ``ip_prefix`` and ``nexthop`` are compared as the strings stored.
        """
        view = self._table("Route", isb.Route)
        u = self._az_uuid(az)
        if u is None:
            return None
        row = view.index(_ROUTE_KEY).get((transit_switch, u, route_table, ip_prefix, nexthop))
        return None if row is None else RouteView(_model(isb.Route, row), self)

    def routes(
        self, *, az: AzRef | None = None, transit_switch: str | None = None
    ) -> tuple[RouteView, ...]:
        """Routes advertised by zone ``az`` and/or on ``transit_switch``; all without filter.

        Ordered by ``(transit_switch, str(availability_zone), route_table, ip_prefix,
        nexthop)``.
        """
        view = self._table("Route", isb.Route)
        rows: Iterable[Row]
        if az is not None:
            u = self._az_uuid(az)
            if u is None:
                return ()
            if transit_switch is not None:
                rows = self._index(view, ("transit_switch", "availability_zone")).find(
                    (transit_switch, u))
            else:
                rows = self._index(view, ("availability_zone",)).find(u)
        elif transit_switch is not None:
            rows = self._index(view, ("transit_switch",)).find(transit_switch)
        else:
            rows = view
        return self._routes(rows)

    # ------------------------------------------------------------------ transit switches

    def datapath_bindings(
        self, *, transit_switch: str | None = None
    ) -> tuple[isb.DatapathBinding, ...]:
        """IC-SB datapath bindings (of one transit switch, by name), by tunnel key."""
        view = self._table("Datapath_Binding", isb.DatapathBinding)
        rows: Iterable[Row] = view if transit_switch is None else self._index(
            view, ("transit_switch",)).find(transit_switch)
        return tuple(_model(isb.DatapathBinding, r) for r in _sorted_by(rows, "tunnel_key"))

    def datapath_binding(self, tunnel_key: int) -> isb.DatapathBinding | None:
        """The datapath binding holding ``tunnel_key`` (the schema's unique index)."""
        view = self._table("Datapath_Binding", isb.DatapathBinding)
        row = view.lookup_one(("tunnel_key",), tunnel_key)
        return None if row is None else _model(isb.DatapathBinding, row)

    def _switch(self, name: str, nb: inb.TransitSwitch | None) -> TransitSwitchView:
        return TransitSwitchView(name, nb, self.datapath_bindings(transit_switch=name), self)

    def transit_switch(self, name: str) -> TransitSwitchView | None:
        """The transit switch called ``name``, or ``None``.

        With an IC-NB replica a transit switch is an IC-NB ``Transit_Switch`` row (a
        leftover datapath binding of a deleted switch is not one); without, it is a
        name some IC-SB ``Datapath_Binding`` carries.
        """
        if self.ic_nb is not None:
            nbv = self._table("Transit_Switch", inb.TransitSwitch, self.ic_nb)
            row = nbv.lookup_one(("name",), name)
            if row is None:
                return None
            return self._switch(name, _model(inb.TransitSwitch, row))
        sw = self._switch(name, None)
        return sw if sw.datapath_bindings else None

    def transit_switches(self) -> tuple[TransitSwitchView, ...]:
        """Every transit switch (see :meth:`transit_switch`), by name."""
        if self.ic_nb is not None:
            nbv = self._table("Transit_Switch", inb.TransitSwitch, self.ic_nb)
            return tuple(self._switch(r["name"], _model(inb.TransitSwitch, r))
                         for r in _sorted_by(nbv, "name"))
        view = self._table("Datapath_Binding", isb.DatapathBinding)
        names = sorted(self._index(view, ("transit_switch",)).keys())
        return tuple(self._switch(n, None) for n in names)
