"""Which ``ovn-ic`` the engine imitates: per-OVN-release rules, chosen from the schemas.

The C ``ovn-ic`` daemon changed between releases (new options, new columns, fixes).
The engine does not fork its planners per release: it reads the schema versions of
the four databases it is given, names the OVN release they come from
(:func:`detect_release`), and hands the planners an :class:`IcRules` value, a set of
switches that say which of the later behaviours apply (:func:`rules_for`). Each
switch is one row of :data:`FEATURES`, with the release that introduced it in
``ovn-ic``; a release gets every feature introduced up to it.

The release is read from the AZ's Northbound schema (the AZ's own OVN packages,
whose ``ovn-ic`` the engine replaces); the IC databases are shared by every AZ and
may be newer. A feature that needs columns (the ``nb_ic_cfg`` sequence numbers) is
only switched on when all four schemas have them. Releases are known up to 25.03;
a newer Northbound schema gets the 25.03 rules.

Beyond 25.03 (off unless configured, on 25.03 databases only): the per-router and
per-port allow-lists ``ic-route-filter-adv``/``ic-route-filter-learn`` (OVN 25.09)
and deny-lists ``ic-route-deny-adv``/``ic-route-deny-learn`` (OVN 26.03), which need
no schema change (see docs/sync.md, "OVN versions").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs

from ovsdb_ic.errors import ConfigError
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr
from ovsdb_ic.wire.schema import DatabaseSchema

__all__ = [
    "FEATURES",
    "KNOWN_RELEASES",
    "RULES_23_03",
    "RULES_25_03",
    "IcRules",
    "detect_release",
    "detect_rules",
    "rules_for",
]

KNOWN_RELEASES: Final[Mapping[str, tuple[str, str, str, str]]] = {
    # release: (IC-NB, IC-SB, NB, SB) schema versions of its x.y.0 tag
    "23.03": ("1.0.0", "1.1.1", "7.0.0", "20.27.0"),
    "23.06": ("1.0.0", "1.1.1", "7.0.4", "20.27.2"),
    "23.09": ("1.0.0", "1.1.1", "7.1.0", "20.27.4"),
    "24.03": ("1.1.0", "1.2.0", "7.3.0", "20.33.0"),
    "24.09": ("1.1.0", "1.2.0", "7.6.0", "20.37.0"),
    "25.03": ("1.2.0", "1.3.0", "7.11.0", "20.41.0"),
}
"""The schema versions each OVN release ships (from the ``ovn-org/ovn`` tags)."""

FEATURES: Final[Mapping[str, str]] = {
    "probe_interval_option": "23.06",
    "sequence_numbers": "24.03",
    "requested_chassis": "23.09",
    "vxlan_mode": "25.03",
    "switch_ports": "25.03",
    "fresh_datapath_hint": "25.03",
    "route_tags": "25.03",
    "route_filters": "25.03",
}
"""Each :class:`IcRules` switch and the OVN release whose ``ovn-ic`` has it.

``route_filters`` is this engine's own: the 25.09/26.03 filter options, offered on
25.03 databases (no C daemon of that release reads them)."""

_SEQ_COLUMNS: Final = (
    ("ic_nb", "IC_NB_Global", "nb_ic_cfg"),
    ("ic_nb", "IC_NB_Global", "sb_ic_cfg"),
    ("ic_sb", "IC_SB_Global", "nb_ic_cfg"),
    ("ic_sb", "Availability_Zone", "nb_ic_cfg"),
)


def _vtuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@attrs.frozen(repr=False, eq=False)
class IcRules:
    """What the planners and the runner do differently per OVN release.

    Every switch off is the 23.03 ``ovn-ic`` as the engine has always followed it
    (with the 23.03 defects it does not copy, see docs/sync.md); :data:`RULES_25_03`
    turns on what 25.03's daemon does. Build one with :func:`rules_for` or
    :func:`detect_rules`.
    """

    release: str = "23.03"
    """The OVN release these rules follow (a key of :data:`KNOWN_RELEASES`)."""
    probe_interval_option: bool = False
    """``options:ic_probe_interval`` (ms) of ``NB_Global`` (NB and SB clients) and
    ``IC_NB_Global`` (IC clients) sets the clients' inactivity probe (23.06)."""
    sequence_numbers: bool = False
    """The ``nb_ic_cfg``/``sb_ic_cfg`` protocol behind ``ovn-ic-nbctl --wait=sb``
    (24.03; needs the IC-NB 1.1.0 / IC-SB 1.2.0 columns)."""
    vxlan_mode: bool = False
    """``IC_NB_Global options:vxlan_mode`` with a ``vxlan`` IC-SB encap narrows the
    transit switch keys to the VXLAN range; NB transit switches carry
    ``other_config:ic-vxlan_mode`` (25.03)."""
    switch_ports: bool = False
    """Transit switch ports of type ``switch`` are local ports (spine-leaf, 25.03)."""
    requested_chassis: bool = False
    """A remote port with ``options:requested-chassis`` keeps its SB chassis (23.09)."""
    fresh_datapath_hint: bool = False
    """Datapath keys are searched from the bottom of the range on every pass instead
    of from a hint kept for the daemon's life (25.03)."""
    route_tags: bool = False
    """LRP ``options:ic-route-tag`` is set on advertised routes as
    ``external_ids:ic-route-tag``; a port's ``options:ic-route-filter-tag`` does not
    learn routes with that tag (25.03)."""
    route_filters: bool = False
    """Beyond 25.03: LR/LRP ``options:ic-route-filter-adv``/``-learn`` allow-lists
    (25.09) and ``ic-route-deny-adv``/``-learn`` deny-lists (26.03)."""

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


def rules_for(release: str) -> IcRules:
    """The rules of ``release`` (a key of :data:`KNOWN_RELEASES`): every feature of
    :data:`FEATURES` introduced up to it. Raises ConfigError for an unknown release."""
    if release not in KNOWN_RELEASES:
        raise ConfigError("release", release,
                          f"unknown OVN release; known: {', '.join(KNOWN_RELEASES)}")
    v = _vtuple(release)
    flags = {name: _vtuple(since) <= v for name, since in FEATURES.items()}
    return IcRules(release=release, **flags)


RULES_23_03: Final = rules_for("23.03")
"""The 23.03 rules (every switch off)."""
RULES_25_03: Final = rules_for("25.03")
"""The 25.03 rules."""


def detect_release(nb_schema: DatabaseSchema) -> str:
    """The newest known OVN release whose Northbound schema version is not newer than
    ``nb_schema``'s (a schema older than 23.03's gets "23.03")."""
    if nb_schema.name != "OVN_Northbound":
        raise ConfigError("schema", nb_schema.name, "not an OVN_Northbound schema")
    have = _vtuple(nb_schema.version)
    found = "23.03"
    for release, versions in KNOWN_RELEASES.items():
        if _vtuple(versions[2]) <= have:
            found = release
    return found


def detect_rules(schemas: Mapping[str, DatabaseSchema]) -> IcRules:
    """The rules for a set of databases: ``schemas`` maps the database keys ``"nb"``,
    ``"sb"``, ``"ic_nb"`` and ``"ic_sb"`` to the servers' schemas.

    The release comes from the NB schema (:func:`detect_release`); the sequence
    numbers are switched off when a schema lacks their columns (older IC databases).
    """
    if "nb" not in schemas:
        raise ConfigError("schemas", sorted(schemas), "the NB schema is needed")
    rules = rules_for(detect_release(schemas["nb"]))
    if rules.sequence_numbers and not all(_has_column(schemas, *c) for c in _SEQ_COLUMNS):
        rules = attrs.evolve(rules, sequence_numbers=False)
    return rules


def _has_column(schemas: Mapping[str, DatabaseSchema], db: str, table: str, column: str) -> bool:
    schema = schemas.get(db)
    if schema is None or table not in schema.tables:
        return False
    return column in schema.tables[table].columns
