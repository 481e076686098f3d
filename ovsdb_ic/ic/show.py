"""``ovn-ic-sbctl show``, rendered from an IC-SB replica.

:func:`render_show` returns the very text ``ovn-ic-sbctl show [AZ]`` (OVN 23.03)
prints: every availability zone by name; under it each of its gateways by name, with
its hostname when not empty and each encapsulation (type, then IP) in UUID order; under
each gateway the port bindings of the same zone whose ``gateway`` column names it, by
logical port. Port bindings bound to no gateway of their zone are not shown.
"""

from __future__ import annotations

import re
from typing import Final
from uuid import UUID

from ovsdb_ic.ic.views import AvailabilityZoneView, Interconnection
from ovsdb_ic.replica import Replica

__all__ = ["render_show"]

_UUID_TEXT: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def _find_zone(ic: Interconnection, key: str) -> AvailabilityZoneView | None:
    """A zone by UUID text first (when ``key`` is one), else by name, as the tool does."""
    if _UUID_TEXT.fullmatch(key):
        zone = ic.availability_zone(UUID(key))
        if zone is not None:
            return zone
    return ic.availability_zone(key)


def _zone_lines(zone: AvailabilityZoneView, out: list[str]) -> None:
    out.append(f"availability-zone {zone.name}")
    for gw in zone.gateways():
        out.append(f"    gateway {gw.name}")
        if gw.hostname:
            out.append(f"        hostname: {gw.hostname}")
        for encap in gw.encaps():
            out.append(f"        type: {encap.type}")
            out.append(f"            ip: {encap.ip}")
        for port in gw.port_bindings():
            out.append(f"        port {port.logical_port}")
            out.append(f"            transit switch: {port.model.transit_switch}")
            out.append(f'            address: ["{port.model.address}"]')


def render_show(source: Interconnection | Replica, az: str | None = None) -> str:
    """The output of ``ovn-ic-sbctl show`` (``show AZ`` when ``az`` is given).

    ``source`` is an :class:`~ovsdb_ic.ic.views.Interconnection` or an IC-SB
    :class:`~ovsdb_ic.replica.Replica` holding ``Availability_Zone``, ``Gateway``,
    ``Encap`` and ``Port_Binding`` with every column (missing client indexes are
    installed on it). ``az`` is a zone's UUID or name; an unknown zone gives ``""``,
    as the tool prints nothing. Every line ends with a newline.
    """
    ic = source if isinstance(source, Interconnection) else Interconnection(source)
    if az is None:
        zones: tuple[AvailabilityZoneView, ...] = ic.availability_zones()
    else:
        zone = _find_zone(ic, az)
        zones = () if zone is None else (zone,)
    lines: list[str] = []
    for zone in zones:
        _zone_lines(zone, lines)
    return "".join(f"{line}\n" for line in lines)
