"""Real ``ovsdb-server`` sandboxes for tests, demos and benchmarks.

* :class:`Sandbox` owns a temporary directory and the processes started in it:
  :meth:`Sandbox.start_server` (standalone) and :meth:`Sandbox.start_cluster` (Raft).
* :class:`Server` and :class:`Cluster` control them (kill, SIGSTOP/SIGCONT, restart,
  ``ovs-appctl``, leader election, leadership transfer).
* :class:`IcDeployment` starts a whole OVN-IC database set (IC-NB, a 3-member IC-SB
  cluster, NB and SB per availability zone) and, on request, ``ovn-northd`` and an IC
  agent (the C ``ovn-ic`` or the sync engine) per zone.
* :mod:`ovsdb_ic.testing.ovn` starts those daemons (:class:`Daemon`), stands in for
  ``ovn-controller`` (:func:`add_chassis`, :func:`bind_port`), and reads back the IC state
  normalised for comparisons (:class:`IcState`, :func:`diff_states`, :func:`settle`).
* :class:`~ovsdb_ic.testing.dataplane.Dataplane` adds a real dataplane: chassis with
  ``ovs-vswitchd`` (userspace datapath) and ``ovn-controller`` in network namespaces,
  joined by a geneve underlay, and Pods that ping.
* :func:`require_binaries` and :func:`schema_path` locate the binaries and schemas.
* :mod:`ovsdb_ic.testing.pytest_plugin` offers pytest fixtures built on these.

Nothing in the library imports this package; only tests, benchmarks and the CLI do.
"""

from ovsdb_ic.testing.dataplane import (
    Dataplane,
    add_pod_port,
    add_subnet,
    dataplane_unavailable,
)
from ovsdb_ic.testing.deployment import (
    AgentKind,
    AvailabilityZone,
    ComponentInfo,
    IcDeployment,
    format_table,
)
from ovsdb_ic.testing.ovn import (
    OVN_BINARIES,
    Daemon,
    IcDump,
    IcState,
    NotSettledError,
    add_chassis,
    bind_port,
    diff_states,
    dump_ic,
    ovn_ic_nbctl,
    query,
    settle,
    start_engine,
    start_northd,
    start_ovn_ic,
)
from ovsdb_ic.testing.sandbox import (
    DEBIAN_PACKAGES,
    SANDBOX_BINARIES,
    Cluster,
    ClusterStatus,
    Sandbox,
    Server,
    SslFiles,
    make_test_pki,
    require_binaries,
    schema_database_name,
    schema_path,
    schemas_dir,
)

__all__ = [
    "DEBIAN_PACKAGES",
    "OVN_BINARIES",
    "SANDBOX_BINARIES",
    "AgentKind",
    "AvailabilityZone",
    "Cluster",
    "ClusterStatus",
    "ComponentInfo",
    "Daemon",
    "Dataplane",
    "IcDeployment",
    "IcDump",
    "IcState",
    "NotSettledError",
    "Sandbox",
    "Server",
    "SslFiles",
    "add_chassis",
    "add_pod_port",
    "add_subnet",
    "ovn_ic_nbctl",
    "dataplane_unavailable",
    "bind_port",
    "diff_states",
    "dump_ic",
    "format_table",
    "make_test_pki",
    "query",
    "require_binaries",
    "schema_database_name",
    "schema_path",
    "schemas_dir",
    "settle",
    "start_engine",
    "start_northd",
    "start_ovn_ic",
]
