"""Typed models of the OVN databases, and the mapper between models and wire rows.

The model modules are generated from ``schemas/`` by ``python -m
ovsdb_ic.models.generate`` and committed:

* :mod:`ovsdb_ic.models.ic_nb` (``OVN_IC_Northbound``),
* :mod:`ovsdb_ic.models.ic_sb` (``OVN_IC_Southbound``),
* :mod:`ovsdb_ic.models.nb` (``OVN_Northbound``),
* :mod:`ovsdb_ic.models.sb` (``OVN_Southbound``).

Each table is a frozen, slotted, final attrs class named after the table without
underscores (``Transit_Switch`` -> ``TransitSwitch``). Importing this package imports
none of them; :func:`model_for` imports a module on first use. See docs/models.md.
"""

from ovsdb_ic.models.base import EMPTY_MAP, ZERO_UUID, FrozenMap, Model, frozen_map, frozen_set
from ovsdb_ic.models.mapping import (
    MODULES,
    ModelModule,
    check_compatible,
    column_has_default,
    has_default,
    model_for,
    model_schema,
    models_module,
    server_row,
    to_model,
    to_row,
)
from ovsdb_ic.models.releases import OVN_SCHEMA_VERSIONS, newest_release, ovn_releases

__all__ = [
    "EMPTY_MAP",
    "MODULES",
    "OVN_SCHEMA_VERSIONS",
    "ZERO_UUID",
    "FrozenMap",
    "Model",
    "ModelModule",
    "check_compatible",
    "column_has_default",
    "frozen_map",
    "frozen_set",
    "has_default",
    "model_for",
    "model_schema",
    "models_module",
    "newest_release",
    "ovn_releases",
    "server_row",
    "to_model",
    "to_row",
]
