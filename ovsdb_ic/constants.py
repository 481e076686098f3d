"""The OVN and Kube-OVN constants more than one layer uses, each defined once.

Dependency-free (it imports nothing), so the command line can use them while it builds
its parser without loading any library layer.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEFAULT_CLUSTER_ROUTER",
    "DEFAULT_IC_NB_PORT",
    "DEFAULT_IC_SB_PORT",
    "LEARNED_ROUTE_KEY",
    "LOCK_NAME",
    "MAX_TS_NUM",
    "TS_KEY",
]

LEARNED_ROUTE_KEY: Final = "ic-learned-route"
"""The ``external_ids`` key marking an NB static route the IC sync learned (value: the
IC-SB ``Route`` row's UUID)."""

TS_KEY: Final = "interconn-ts"
"""The ``Logical_Switch.other_config`` key naming the transit switch an NB switch mirrors."""

LOCK_NAME: Final = "ovn_ic"
"""The OVSDB lock on the AZ's SB database that one IC agent per AZ holds (as ovn-ic)."""

DEFAULT_CLUSTER_ROUTER: Final = "ovn-cluster"
"""Kube-OVN's default VPC router, where the transit switch ports are attached."""

DEFAULT_IC_NB_PORT: Final = 6645
"""The IC-NB client port when ``ovn-ic-config`` names none (``ic-nb-port``)."""

DEFAULT_IC_SB_PORT: Final = 6646
"""The IC-SB client port when ``ovn-ic-config`` names none (``ic-sb-port``)."""

MAX_TS_NUM: Final = 156
"""Most Kube-OVN transit switches: ``ts155`` has the last subnet, ``169.254.255.0/24``."""
