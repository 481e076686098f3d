"""Kube-OVN's interconnection workflow on top of the sync engine.

* :mod:`ovsdb_ic.kubeovn.config`: :class:`IcConfig`, the typed ``ovn-ic-config``
  ConfigMap (parsed from its data or a YAML/JSON document, validated all at once);
* :mod:`ovsdb_ic.kubeovn.establish`: the pure planners :func:`plan_establish` and
  :func:`plan_teardown`, and for manual routing :func:`remote_ts_ports` and
  :func:`plan_static_routes`;
* :mod:`ovsdb_ic.kubeovn.commands`: the same against live databases (trio):
  :func:`establish`, :func:`teardown`, :func:`reset`, :func:`show` and
  :func:`route_list`, given :class:`AzRemotes` and :class:`RunOptions`.

See docs/kubeovn.md.
"""

from ovsdb_ic.kubeovn import icdb
from ovsdb_ic.kubeovn.commands import (
    ApplyError,
    ApplyResult,
    AzRemotes,
    EstablishParams,
    RouterNotFoundError,
    RunOptions,
    UnreachableError,
    establish,
    reset,
    route_list,
    show,
    teardown,
)
from ovsdb_ic.kubeovn.config import (
    DEFAULT_IC_NB_PORT,
    DEFAULT_IC_SB_PORT,
    KEYS,
    ConfigProblem,
    IcConfig,
    IcConfigError,
    parse_document,
)
from ovsdb_ic.kubeovn.establish import (
    AUTO_ROUTE_KEYS,
    DEFAULT_CLUSTER_ROUTER,
    GW_CHASSIS_MAX_PRIORITY,
    LEARNED_ROUTE_KEY,
    MAX_TS_NUM,
    REQUIREMENTS,
    VENDOR,
    EstablishError,
    Protocol,
    RemotePort,
    deny_list,
    plan_establish,
    plan_static_routes,
    plan_teardown,
    remote_ts_ports,
    ts_index,
    ts_name,
    ts_subnet,
)

__all__ = [
    "AUTO_ROUTE_KEYS",
    "DEFAULT_CLUSTER_ROUTER",
    "DEFAULT_IC_NB_PORT",
    "DEFAULT_IC_SB_PORT",
    "GW_CHASSIS_MAX_PRIORITY",
    "KEYS",
    "LEARNED_ROUTE_KEY",
    "MAX_TS_NUM",
    "REQUIREMENTS",
    "VENDOR",
    "ApplyError",
    "ApplyResult",
    "AzRemotes",
    "ConfigProblem",
    "EstablishError",
    "EstablishParams",
    "IcConfig",
    "IcConfigError",
    "Protocol",
    "RemotePort",
    "RouterNotFoundError",
    "RunOptions",
    "UnreachableError",
    "deny_list",
    "establish",
    "parse_document",
    "plan_establish",
    "plan_static_routes",
    "plan_teardown",
    "remote_ts_ports",
    "reset",
    "route_list",
    "show",
    "teardown",
    "ts_index",
    "ts_name",
    "icdb",
    "ts_subnet",
]
