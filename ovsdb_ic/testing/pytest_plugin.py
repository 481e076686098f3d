"""pytest fixtures that start real ``ovsdb-server`` processes.

Enable them in a ``conftest.py``::

    pytest_plugins = ["ovsdb_ic.testing.pytest_plugin"]

Fixtures (all function-scoped, each test gets fresh servers):

``sandbox``
    A :class:`~ovsdb_ic.testing.Sandbox`; closed (processes stopped, files removed) after
    the test. If the test failed, the end of every server log (and of every daemon log, see
    :mod:`ovsdb_ic.testing.ovn`) is attached to the report.
``ic_nb_server`` / ``ic_sb_server``
    A standalone ``OVN_IC_Northbound`` / ``OVN_IC_Southbound`` server listening on a unix
    socket and a loopback TCP port.
``ic_sb_cluster``
    A 3-member ``OVN_IC_Southbound`` Raft cluster with an elected leader.
``ic_deployment``
    An :class:`~ovsdb_ic.testing.IcDeployment`: IC-NB, a 3-member IC-SB cluster, and NB
    and SB servers for availability zones ``az1`` and ``az2``.
``ovn_version``
    Parametrized over :data:`~ovsdb_ic.testing.install.OVN_VERSIONS` (``"23.03"``,
    ``"25.03"``; test ids ``ovn-23.03``, ``ovn-25.03``): a test using it, or a fixture
    below built on it, runs once per OVN release.
``ovn_sandbox``
    Like ``sandbox``, running the OVN release of ``ovn_version``.
``ovn_deployment``
    An :class:`~ovsdb_ic.testing.IcDeployment` with real ``ovn-northd`` per AZ: IC-NB, a
    1-member IC-SB cluster, NB, SB and ``ovn-northd`` for ``az1`` and ``az2``, and no IC
    agent yet (start one with ``start_ovn_ic(az)`` or ``start_engine(az)``); in
    ``ovn_sandbox``, so once per OVN release.
``dataplane``
    A :class:`~ovsdb_ic.testing.dataplane.Dataplane` in the ``sandbox``: add chassis
    (``ovs-vswitchd`` and ``ovn-controller`` in network namespaces) and Pods that ping.
    Needs root; its daemons' logs are attached to a failed test's report, and closing
    the sandbox removes its namespaces.

When the OVS binaries (or, for 25.03, the root ``./dev setup`` builds) are missing, the
fixtures raise :class:`~ovsdb_ic.errors.SandboxError` (the test errors out; it is never
skipped).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from ovsdb_ic.testing.dataplane import Dataplane
from ovsdb_ic.testing.deployment import IcDeployment
from ovsdb_ic.testing.install import OVN_VERSIONS
from ovsdb_ic.testing.ovn import daemon_log_tails, sandbox_daemons
from ovsdb_ic.testing.sandbox import Cluster, Sandbox, Server

__all__ = [
    "dataplane",
    "ic_deployment",
    "ic_nb_server",
    "ic_sb_cluster",
    "ic_sb_server",
    "ovn_deployment",
    "ovn_sandbox",
    "ovn_version",
    "sandbox",
]

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``integration`` marker."""
    config.addinivalue_line(
        "markers", "integration: needs real ovsdb-server binaries (never skipped)"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report so the ``sandbox`` fixture knows if the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _sandbox(request: pytest.FixtureRequest, ovn: str | None) -> Iterator[Sandbox]:
    box = Sandbox(ovn=ovn)
    try:
        yield box
    finally:
        try:
            reports = request.node.stash.get(_REPORTS, {})
            failed = any(r.failed for r in reports.values())
            if failed and box.servers:
                request.node.add_report_section("teardown", "ovsdb-server logs", box.log_tails())
            if failed and sandbox_daemons(box):
                request.node.add_report_section(
                    "teardown", "ovn daemon logs", daemon_log_tails(box)
                )
        finally:
            box.close()


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A fresh :class:`~ovsdb_ic.testing.Sandbox` (OVN 23.03), closed after the test."""
    yield from _sandbox(request, None)


@pytest.fixture(params=OVN_VERSIONS, ids=[f"ovn-{v}" for v in OVN_VERSIONS])
def ovn_version(request: pytest.FixtureRequest) -> str:
    """Each OVN release the sandbox can run, in turn: ``"23.03"``, ``"25.03"``."""
    version: str = request.param
    return version


@pytest.fixture
def ovn_sandbox(request: pytest.FixtureRequest, ovn_version: str) -> Iterator[Sandbox]:
    """A fresh :class:`~ovsdb_ic.testing.Sandbox` running OVN *ovn_version*."""
    yield from _sandbox(request, ovn_version)


@pytest.fixture
def ic_nb_server(sandbox: Sandbox) -> Server:
    """A standalone OVN_IC_Northbound server (unix socket and loopback TCP)."""
    return sandbox.start_server("ic-nb", name="ic-nb", tcp=True)


@pytest.fixture
def ic_sb_server(sandbox: Sandbox) -> Server:
    """A standalone OVN_IC_Southbound server (unix socket and loopback TCP)."""
    return sandbox.start_server("ic-sb", name="ic-sb", tcp=True)


@pytest.fixture
def ic_sb_cluster(sandbox: Sandbox) -> Cluster:
    """A 3-member OVN_IC_Southbound Raft cluster whose members agree on a leader."""
    return sandbox.start_cluster("ic-sb", name="ic-sb-cluster", size=3)


@pytest.fixture
def ic_deployment(sandbox: Sandbox) -> IcDeployment:
    """IC-NB, a 3-member IC-SB cluster, and NB/SB servers for ``az1`` and ``az2``."""
    return IcDeployment.start(sandbox)


@pytest.fixture
def ovn_deployment(ovn_sandbox: Sandbox) -> IcDeployment:
    """IC-NB, a 1-member IC-SB cluster, and NB, SB and ``ovn-northd`` for ``az1`` and
    ``az2``; no IC agent (start one with ``start_ovn_ic(az)`` or ``start_engine(az)``)."""
    return IcDeployment.start(ovn_sandbox, ic_sb_size=1, northd=True)


@pytest.fixture
def dataplane(sandbox: Sandbox) -> Dataplane:
    """An empty :class:`~ovsdb_ic.testing.dataplane.Dataplane` in ``sandbox``."""
    return Dataplane(sandbox)
