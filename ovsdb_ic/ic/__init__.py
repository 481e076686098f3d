"""The interconnection object model: typed, read-only views over IC-SB/IC-NB replicas.

* :class:`Interconnection`: lookups by natural key through replica indexes (zone by
  name, transit switch by name, port binding by logical port, gateways and ports of a
  zone, ports and routes of a transit switch, a route by its unique key...);
* the views it hands out: :class:`AvailabilityZoneView`, :class:`GatewayView`,
  :class:`PortBindingView`, :class:`RouteView`, :class:`TransitSwitchView`, each a
  frozen value holding its row as a typed model (:mod:`ovsdb_ic.models`);
* the vocabulary of the four databases every upper layer uses
  (:mod:`ovsdb_ic.ic.databases`): :data:`DatabaseKey`, :data:`DATABASES`,
  :class:`Requirements`, :class:`Snapshot`, :func:`find_rows`, :func:`first_row`,
  :func:`nb_global`;
* :data:`REQUIREMENTS` (tables and client indexes the views need) and
  :func:`install_indexes`, which adds those indexes to a replica;
* :func:`render_show`: the text of ``ovn-ic-sbctl show``.

See docs/ic.md.
"""

from typing import TYPE_CHECKING

from ovsdb_ic._lazy import lazy_attributes
from ovsdb_ic.ic.databases import (
    DATABASES,
    LABELS,
    LEARNED_ROUTE_KEY,
    TS_KEY,
    DatabaseKey,
    IndexRequirement,
    Requirements,
    Snapshot,
    empty_snapshot,
    find_rows,
    first_row,
    index_name,
    index_over,
    nb_global,
)

if TYPE_CHECKING:
    from ovsdb_ic.ic.requirements import (
        REQUIREMENTS,
        MissingRequirementError,
        database_key,
        install_indexes,
    )
    from ovsdb_ic.ic.show import render_show
    from ovsdb_ic.ic.views import (
        AvailabilityZoneView,
        AzRef,
        GatewayView,
        Interconnection,
        PortBindingView,
        RouteKey,
        RouteView,
        TransitSwitchView,
    )

__all__ = [
    "DATABASES",
    "LABELS",
    "LEARNED_ROUTE_KEY",
    "REQUIREMENTS",
    "TS_KEY",
    "AvailabilityZoneView",
    "AzRef",
    "DatabaseKey",
    "GatewayView",
    "IndexRequirement",
    "Interconnection",
    "MissingRequirementError",
    "PortBindingView",
    "Requirements",
    "RouteKey",
    "RouteView",
    "Snapshot",
    "TransitSwitchView",
    "database_key",
    "empty_snapshot",
    "find_rows",
    "first_row",
    "index_name",
    "index_over",
    "install_indexes",
    "nb_global",
    "render_show",
]

# The views and the show renderer build typed model classes (ovsdb_ic.models.ic_nb and
# ic_sb): imported on first use, so that a program using only the database vocabulary
# (the sync engine) does not pay for them; so are the views' requirements.
_LAZY: dict[str, str] = {
    "render_show": "ovsdb_ic.ic.show",
    **dict.fromkeys(
        ("REQUIREMENTS", "MissingRequirementError", "database_key", "install_indexes"),
        "ovsdb_ic.ic.requirements",
    ),
    **dict.fromkeys(
        ("AvailabilityZoneView", "AzRef", "GatewayView", "Interconnection", "PortBindingView",
         "RouteKey", "RouteView", "TransitSwitchView"),
        "ovsdb_ic.ic.views",
    ),
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
