"""The sandbox runs OVN 23.03 (the host's packages) and 25.03 (the debootstrap root).

Every binary a sandbox starts must come from the chosen release: the servers, the
Raft cluster tools, ``ovs-appctl``, ``ovn-northd``, the C ``ovn-ic`` and the ``*ctl``
tools; and the databases must be created from that release's schemas. A missing 25.03
root is an error that says to run ``./dev setup``, never a skip.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from ovsdb_ic.errors import SandboxError
from ovsdb_ic.testing import IcDeployment, Sandbox
from ovsdb_ic.testing.install import (
    OVN_VERSIONS,
    ROOT_25_03_ENV,
    OvnInstall,
    ovn_install,
)
from ovsdb_ic.testing.ovn import ovn_ic_nbctl, ovn_ic_sbctl, ovn_nbctl, ovn_sbctl, query

pytestmark = pytest.mark.integration

# What each release's packages carry: (OVN, OVS, IC-NB, IC-SB, NB, SB schema versions).
EXPECTED = {
    "23.03": ("23.03.1", "3.1.0", "1.0.0", "1.1.1", "7.0.0", "20.27.0"),
    "25.03": ("25.03.0", "3.5.0", "1.2.0", "1.3.0", "7.11.0", "20.41.0"),
}


def version_of(argv: list[str]) -> str:
    done = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_both_versions_are_known() -> None:
    assert OVN_VERSIONS == ("23.03", "25.03")
    assert ovn_install() == ovn_install("23.03") == OvnInstall.host()
    with pytest.raises(SandboxError, match=r"unknown OVN version '24\.03'.*23\.03, 25\.03"):
        ovn_install("24.03")


@pytest.mark.parametrize("version", OVN_VERSIONS)
def test_every_binary_comes_from_the_chosen_release(version: str) -> None:
    ovn, ovs, *_ = EXPECTED[version]
    install = ovn_install(version)
    for name in ("ovn-northd", "ovn-ic", "ovn-nbctl", "ovn-sbctl", "ovn-ic-nbctl", "ovn-ic-sbctl"):
        first = version_of(install.command(name)).splitlines()[0]
        assert first == f"{name} {ovn}", (name, first)
    for name in ("ovsdb-server", "ovsdb-tool", "ovs-appctl", "ovsdb-client"):
        assert f"(Open vSwitch) {ovs}" in version_of(install.command(name)), name


def test_25_03_binaries_run_through_the_roots_loader() -> None:
    install = ovn_install("25.03")
    assert install.root is not None and install.loader is not None
    argv = install.command("ovsdb-server")
    assert argv[0] == str(install.loader) and argv[1] == "--library-path"
    # /usr/sbin/ovsdb-server is a real file; everything resolves inside the root.
    assert Path(argv[-1]).is_relative_to(install.root)
    assert all(Path(d).is_relative_to(install.root) for d in argv[2].split(":"))


@pytest.mark.parametrize("version", OVN_VERSIONS)
def test_schemas_of_the_chosen_release(version: str) -> None:
    _, _, ic_nb, ic_sb, nb, sb = EXPECTED[version]
    install = ovn_install(version)
    found = {
        name: json.loads(install.schema(name).read_text())["version"]
        for name in ("ic-nb", "ic-sb", "nb", "sb")
    }
    assert found == {"ic-nb": ic_nb, "ic-sb": ic_sb, "nb": nb, "sb": sb}


def test_servers_tools_and_daemons_of_the_chosen_release(ovn_sandbox: Sandbox) -> None:
    """A whole deployment (standalone servers, a Raft cluster, northd, ovn-ic) in one
    release: every process reports that release, and every database its schema."""
    version = ovn_sandbox.ovn.version
    ovn, ovs, ic_nb_v, ic_sb_v, nb_v, sb_v = EXPECTED[version]
    deployment = IcDeployment.start(ovn_sandbox, ic_sb_size=3, northd=True, agents="ovn-ic")
    for server in deployment.servers():
        assert f"(Open vSwitch) {ovs}" in server.appctl("version"), server.name
    assert re.match(rf"ovn-northd {re.escape(ovn)}\b", deployment.northd["az1"].appctl("version"))
    assert re.match(rf"ovn-ic {re.escape(ovn)}\b", deployment.agents["az2"].appctl("version"))
    schemas = {
        "OVN_IC_Northbound": ic_nb_v,
        "OVN_IC_Southbound": ic_sb_v,
        "OVN_Northbound": nb_v,
        "OVN_Southbound": sb_v,
    }
    for server in deployment.servers():
        rows = query(
            server.remote,
            "_Server",
            {"Database": ["name", "schema"]},
            where={"Database": [["name", "==", server.database]]},
        )
        (row,) = rows["Database"]
        assert json.loads(row["schema"])["version"] == schemas[server.database], server.name
    # The ctl helpers run the same release's tools against its servers.
    ovn_ic_nbctl(deployment.ic_nb.remote, "ts-add", "ts1", ovn=deployment.ovn)
    assert "ts1" in ovn_ic_nbctl(deployment.ic_nb.remote, "ts-list", ovn=deployment.ovn)
    assert ovn_ic_sbctl(deployment.ic_sb.remote, "show", ovn=deployment.ovn) == ""
    az1 = deployment.azs["az1"]
    ovn_nbctl(az1.nb.remote, "lr-add", "lr1", ovn=deployment.ovn)
    assert "lr1" in ovn_nbctl(az1.nb.remote, "lr-list", ovn=deployment.ovn)
    assert ovn_sbctl(az1.sb.remote, "list", "Chassis", ovn=deployment.ovn) == ""


def test_missing_25_03_root_names_dev_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ROOT_25_03_ENV, str(tmp_path / "nothing-here"))
    with pytest.raises(SandboxError, match=r"OVN 25\.03 is not installed.*\./dev setup"):
        Sandbox(ovn="25.03")
    with pytest.raises(SandboxError, match=r"\./dev setup"):
        ovn_nbctl("unix:/nonexistent", "show", ovn="25.03")
    # A root without some binary names that binary.
    (tmp_path / "partial" / "usr" / "bin").mkdir(parents=True)
    (tmp_path / "partial" / "usr" / "bin" / "ovn-ic").touch()
    (tmp_path / "partial" / "lib64").mkdir()
    (tmp_path / "partial" / "lib64" / "ld-linux-x86-64.so.2").touch()
    monkeypatch.setenv(ROOT_25_03_ENV, str(tmp_path / "partial"))
    with pytest.raises(SandboxError, match=r"missing ovsdb-server, ovsdb-tool, ovs-appctl"):
        Sandbox(ovn="25.03")
