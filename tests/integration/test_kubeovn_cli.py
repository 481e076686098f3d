"""``ovsdb-ic establish / teardown / reset / show / routes`` against real servers.

Each test gets a fresh :class:`~ovsdb_ic.testing.IcDeployment` (IC-NB, a 3-member IC-SB
cluster, NB and SB for az1 and az2). The configs name the IC databases as Kube-OVN does
(``ic-db-host: 127.0.0.1`` and the ports; IC-SB's port is the cluster leader's). What
the commands wrote is read back with the real tools (``ovn-nbctl``, ``ovn-ic-nbctl``,
``ovn-ic-sbctl``, ``ovsdb-client``), and ``show`` / ``routes`` are compared with
``ovn-ic-sbctl show`` / ``ovn-nbctl lr-route-list`` byte for byte.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovsdb_ic.cli import main
from ovsdb_ic.client import connect
from ovsdb_ic.constants import LOCK_NAME
from ovsdb_ic.ic.addr import format_address
from ovsdb_ic.kubeovn.commands import RouterNotFoundError, route_list
from ovsdb_ic.sync.runner import SyncConfig, SyncEngine, run_sync
from ovsdb_ic.testing import IcDeployment, Sandbox, Server, schema_path

pytestmark = pytest.mark.integration

NB = "OVN_Northbound"
GW1 = ["az1-gw1", "az1-gw2", "az1-gw3"]
GW2 = ["az2-gw1", "az2-gw2"]


# ------------------------------------------------------------------------- helpers


def tool(program: str, server: Server | str, *args: str, check: bool = True) -> str:
    """Run ``program --db=REMOTE ARGS`` (ovn-nbctl, ovn-sbctl, ovn-ic-nbctl, ...)."""
    remote = server if isinstance(server, str) else server.remote
    out = subprocess.run([program, f"--db={remote}", "--timeout=20", *args],
                         capture_output=True, text=True, check=False, timeout=30)
    if check:
        assert out.returncode == 0, (program, args, out.stderr)
    return out.stdout


def dump(server: Server) -> str:
    """``ovsdb-client dump`` of the server's database: every row, as text."""
    return subprocess.run(["ovsdb-client", "dump", server.remote], capture_output=True,
                          text=True, check=True, timeout=30).stdout


def _datum(value: Any) -> Any:
    """OVSDB JSON (as ``--format=json`` prints it) -> Python: sets to lists, maps to
    dicts, uuids to their text."""
    if isinstance(value, list) and len(value) == 2 and value[0] in ("set", "map", "uuid"):
        kind, inner = value
        if kind == "uuid":
            return inner
        if kind == "set":
            return [_datum(v) for v in inner]
        return {_datum(k): _datum(v) for k, v in inner}
    return value


def rows(program: str, server: Server | str, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` (every column), read with the real tool."""
    data = json.loads(tool(program, server, "--format=json", "list", table))
    return [dict(zip(data["headings"], map(_datum, r), strict=True)) for r in data["data"]]


def scalar_set(value: Any) -> list[Any]:
    """An optional or set column as a list (``--format=json`` prints one value bare)."""
    return value if isinstance(value, list) else [value]


def ic(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line in a subprocess (exit status, stdout, stderr)."""
    return subprocess.run([sys.executable, "-m", "ovsdb_ic", *args], capture_output=True,
                          text=True, check=False, timeout=90)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command line in this process; (status, stdout, stderr)."""
    capsys.readouterr()
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def write_config(tmp_path: Path, dep: IcDeployment, az: str, gw_nodes: list[str], *,
                 auto_route: bool = True, name: str | None = None) -> str:
    """An ovn-ic-config ConfigMap for ``az``: the IC databases at 127.0.0.1 with IC-NB's
    port and the IC-SB cluster leader's port."""
    leader = dep.ic_sb_leader()
    path = tmp_path / f"{name or az}.yaml"
    path.write_text(f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: ovn-ic-config
  namespace: kube-system
data:
  enable-ic: "true"
  az-name: "{az}"
  ic-db-host: "127.0.0.1"
  ic-nb-port: "{dep.ic_nb.tcp_port}"
  ic-sb-port: "{leader.tcp_port}"
  gw-nodes: "{','.join(gw_nodes)}"
  auto-route: "{'true' if auto_route else 'false'}"
""")
    return str(path)


def az_args(dep: IcDeployment, az: str) -> list[str]:
    zone = dep.azs[az]
    return [f"--ovnnb-db={zone.nb.remote}", f"--ovnsb-db={zone.sb.remote}"]


def add_gateway_chassis(dep: IcDeployment) -> None:
    """SB chassis for some gateway nodes (hostname = node, is-interconn), as
    ovn-controller on a Kube-OVN gateway node would register them. az1-gw3 has none."""
    for az, index, host in [("az1", 1, "az1-gw1"), ("az1", 2, "az1-gw2"),
                            ("az2", 1, "az2-gw1"), ("az2", 2, "az2-gw2")]:
        sb = dep.azs[az].sb
        name = f"ch-{az}-{index}"
        ip = f"192.168.{10 if az == 'az1' else 20}.{index}"
        tool("ovn-sbctl", sb, "chassis-add", name, "geneve", ip, "--",
             "set", "Chassis", name, f"hostname={host}", "other_config:is-interconn=true")


def sync_config(dep: IcDeployment, az: str) -> SyncConfig:
    zone = dep.azs[az]
    return SyncConfig(ovnnb_db=zone.nb.remote, ovnsb_db=zone.sb.remote,
                      ic_nb_db=dep.ic_nb.remote, ic_sb_db=dep.ic_sb.remote,
                      probe_interval=2.0)


def sync_once(dep: IcDeployment, *azs: str, rounds: int = 2) -> None:
    """Run the sync engine of each AZ until it has nothing to do, ``rounds`` times
    (the second round picks up what the other AZs published in the first)."""

    async def run() -> None:
        for _ in range(rounds):
            for az in azs:
                with trio.fail_after(30):
                    await run_sync(sync_config(dep, az), once=True)

    trio.run(run)


def establish_both(dep: IcDeployment, tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    add_gateway_chassis(dep)
    c1 = write_config(tmp_path, dep, "az1", GW1)
    c2 = write_config(tmp_path, dep, "az2", GW2)
    status, _, err = cli(capsys, "establish", "--config", c1, *az_args(dep, "az1"),
                         "--ts-num", "3", "--join-subnet", "100.64.0.0/16",
                         "--node-ip", "172.18.0.2", "--disabled-subnet", "10.99.0.0/16")
    assert status == 0, err
    status, _, err = cli(capsys, "establish", "--config", c2, *az_args(dep, "az2"),
                         "--ts-num", "3")
    assert status == 0, err
    return c1, c2


def by_name(table: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in table}


@pytest.fixture
def dep(ovn_sandbox: Sandbox) -> IcDeployment:
    """IC-NB, a 3-member IC-SB cluster and NB/SB per AZ, of each OVN release in turn."""
    return IcDeployment.start(ovn_sandbox)


# ------------------------------------------------------------------------ establish


def test_establish_two_azs_with_three_transit_switches(
    dep: IcDeployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_gateway_chassis(dep)
    c1 = write_config(tmp_path, dep, "az1", GW1)
    c2 = write_config(tmp_path, dep, "az2", GW2, auto_route=False)
    # az1 through the real entry point, the IC remotes from the config.
    done = ic("establish", "--config", c1, *az_args(dep, "az1"), "--ts-num", "3",
              "--join-subnet", "100.64.0.0/16", "--node-ip", "172.18.0.2",
              "--node-ip", "172.18.0.3", "--disabled-subnet", "10.99.0.0/16")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "IC-NB: committed 3 operation(s)"
    assert lines[1].startswith("NB: committed ")
    assert lines[-1].startswith("established az1: ") and "2 transaction(s)" in lines[-1]
    assert "Traceback" not in done.stderr
    status, out, err = cli(capsys, "establish", "--config", c2, *az_args(dep, "az2"),
                           "--ts-num", "3")
    assert status == 0, err
    assert "IC-NB" not in out  # the transit switches exist already
    assert out.splitlines()[-1].startswith("established az2: ")

    # IC-NB: ts, ts1, ts2 with Kube-OVN's subnets.
    switches = by_name(rows("ovn-ic-nbctl", dep.ic_nb, "Transit_Switch"))
    assert sorted(switches) == ["ts", "ts1", "ts2"]
    for i, ts in enumerate(["ts", "ts1", "ts2"]):
        assert switches[ts]["external_ids"] == {
            "vendor": "kube-ovn",
            "subnet": f"169.254.{100 + i}.0/24,fe80:a9fe:{100 + i:x}::/112",
        }

    networks: dict[str, dict[str, set[str]]] = {}
    for az, gws, chassis in [
        ("az1", GW1, ["ch-az1-1", "ch-az1-2", "az1-gw3"]),
        ("az2", GW2, ["ch-az2-1", "ch-az2-2"]),
    ]:
        nb = dep.azs[az].nb
        (nbg,) = rows("ovn-nbctl", nb, "NB_Global")
        assert nbg["name"] == az
        if az == "az1":
            assert nbg["options"]["ic-route-adv"] == "true"
            assert nbg["options"]["ic-route-learn"] == "true"
            assert nbg["options"]["ic-route-blacklist"] == (
                "10.99.0.0/16,100.64.0.0/16,172.18.0.2,172.18.0.3")
        else:
            assert not set(nbg["options"]) & {"ic-route-adv", "ic-route-learn",
                                              "ic-route-blacklist"}
        lsps = by_name(rows("ovn-nbctl", nb, "Logical_Switch_Port"))
        lrps = by_name(rows("ovn-nbctl", nb, "Logical_Router_Port"))
        gcs = {r["_uuid"]: r for r in rows("ovn-nbctl", nb, "Gateway_Chassis")}
        switches_nb = by_name(rows("ovn-nbctl", nb, "Logical_Switch"))
        (router,) = rows("ovn-nbctl", nb, "Logical_Router")
        assert router["name"] == "ovn-cluster"
        assert sorted(lrps) == [f"{az}-ts", f"{az}-ts1", f"{az}-ts2"]
        assert sorted(scalar_set(router["ports"])) == sorted(r["_uuid"] for r in lrps.values())
        networks[az] = {}
        for i, ts in enumerate(["ts", "ts1", "ts2"]):
            ls = switches_nb[ts]
            assert ls["other_config"]["interconn-ts"] == ts
            lsp = lsps[f"{ts}-{az}"]
            assert lsp["_uuid"] in scalar_set(ls["ports"])
            assert lsp["type"] == "router"
            assert lsp["addresses"] == "router"
            assert lsp["options"]["router-port"] == f"{az}-{ts}"
            lrp = lrps[f"{az}-{ts}"]
            nets = set(scalar_set(lrp["networks"]))
            v4 = [n for n in nets if ipaddress.ip_interface(n).version == 4]
            v6 = [n for n in nets if ipaddress.ip_interface(n).version == 6]
            assert len(v4) == 1 and len(v6) == 1, nets
            assert ipaddress.ip_interface(v4[0]).network == ipaddress.ip_network(
                f"169.254.{100 + i}.0/24")
            assert ipaddress.ip_interface(v6[0]).network == ipaddress.ip_network(
                f"fe80:a9fe:{100 + i:x}::/112")
            assert lrp["mac"].startswith("00:00:00:")
            networks[az][ts] = nets
            # Gateways rotated by the switch's position: each prefers another node.
            got = sorted(((gcs[u]["priority"], gcs[u]["chassis_name"], gcs[u]["name"])
                          for u in scalar_set(lrp["gateway_chassis"])), reverse=True)
            rotated = chassis[i % len(chassis):] + chassis[:i % len(chassis)]
            assert got == [(100 - j, ch, f"{az}-{ts}-{ch}") for j, ch in enumerate(rotated)]
        assert len(gws) == len(chassis)
    for ts in ["ts", "ts1", "ts2"]:
        assert not networks["az1"][ts] & networks["az2"][ts]
    # Distinct MACs on each switch, too.
    macs1 = {r["mac"] for r in rows("ovn-nbctl", dep.azs["az1"].nb, "Logical_Router_Port")}
    macs2 = {r["mac"] for r in rows("ovn-nbctl", dep.azs["az2"].nb, "Logical_Router_Port")}
    assert len(macs1) == 3 and len(macs2) == 3 and not macs1 & macs2


def test_establish_is_idempotent_before_and_after_the_sync_engine_ran(
    dep: IcDeployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c1, c2 = establish_both(dep, tmp_path, capsys)
    again = ["--ts-num", "3", "--join-subnet", "100.64.0.0/16", "--node-ip", "172.18.0.2",
             "--disabled-subnet", "10.99.0.0/16"]
    before = dump(dep.azs["az1"].nb)
    status, out, err = cli(capsys, "establish", "--config", c1, *az_args(dep, "az1"), *again)
    assert status == 0, err
    assert out == "established az1: already established, nothing committed\n"
    assert dump(dep.azs["az1"].nb) == before
    # The sync engine adds its own keys (requested-tnl-key, ...): still nothing to do.
    sync_once(dep, "az1", "az2")
    for config, az, extra in [(c1, "az1", again), (c2, "az2", ["--ts-num", "3"])]:
        status, out, err = cli(capsys, "establish", "--config", config, *az_args(dep, az),
                               *extra)
        assert status == 0, err
        assert out == f"established {az}: already established, nothing committed\n"
    # A dry run of a changed parameter shows the change and writes nothing.
    status, out, err = cli(capsys, "establish", "--config", c1, *az_args(dep, "az1"),
                           "--ts-num", "3", "--dry-run")
    assert status == 0, err
    assert "nb: mutate NB_Global" in out and "ic-route-blacklist" in out
    assert out.splitlines()[-1].startswith("established az1: dry run, ")
    (nbg,) = rows("ovn-nbctl", dep.azs["az1"].nb, "NB_Global")
    assert nbg["options"]["ic-route-blacklist"] == "10.99.0.0/16,100.64.0.0/16,172.18.0.2"


# ------------------------------------------------------------------------- teardown


def _ic_sb_rows_of(dep: IcDeployment, az: str) -> dict[str, list[dict[str, Any]]]:
    zones = by_name(rows("ovn-ic-sbctl", dep.ic_sb.remote, "Availability_Zone"))
    if az not in zones:
        return {}
    uuid = zones[az]["_uuid"]
    out: dict[str, list[dict[str, Any]]] = {"Availability_Zone": [zones[az]]}
    for table in ("Gateway", "Port_Binding", "Route"):
        out[table] = sorted((r for r in rows("ovn-ic-sbctl", dep.ic_sb.remote, table)
                             if r["availability_zone"] == uuid), key=lambda r: r["_uuid"])
    return out


def test_teardown_of_one_az_leaves_the_other_intact(
    dep: IcDeployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c1, _c2 = establish_both(dep, tmp_path, capsys)
    # A pod subnet in each AZ and a learned route or two, from real sync passes.
    tool("ovn-nbctl", dep.azs["az1"].nb, "lrp-add", "ovn-cluster", "az1-pods",
         "00:00:00:00:01:99", "10.16.0.1/16")
    tool("ovn-nbctl", dep.azs["az2"].nb, "lrp-add", "ovn-cluster", "az2-pods",
         "00:00:00:00:02:99", "10.17.0.1/16")
    tool("ovn-nbctl", dep.azs["az2"].nb, "set", "NB_Global", ".",
         "options:ic-route-adv=true", "options:ic-route-learn=true")
    sync_once(dep, "az1", "az2", rounds=3)
    assert "(learned)" in tool("ovn-nbctl", dep.azs["az1"].nb, "lr-route-list", "ovn-cluster")
    assert _ic_sb_rows_of(dep, "az1")["Gateway"]
    remote_in_az1 = [r for r in rows("ovn-sbctl", dep.azs["az1"].sb, "Chassis")
                     if r["other_config"].get("is-remote") == "true"]
    assert len(remote_in_az1) == 2  # az2's two gateways
    tool("ovn-nbctl", dep.azs["az1"].nb, "lr-route-add", "ovn-cluster", "10.50.0.0/16",
         "169.254.100.77")

    az2_nb = dump(dep.azs["az2"].nb)
    az2_sb = dump(dep.azs["az2"].sb)
    ic_nb = dump(dep.ic_nb)
    az2_ic_sb = _ic_sb_rows_of(dep, "az2")
    assert az2_ic_sb["Gateway"] and az2_ic_sb["Route"]

    done = ic("teardown", "--config", c1, *az_args(dep, "az1"))
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr  # no sync engine holds the lock
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["IC-SB", "NB", "SB"]
    assert lines[-1].startswith("tore down az1: ")

    # az1: nothing of the interconnection left, its own static route kept.
    nb1 = dep.azs["az1"].nb
    assert not [r for r in rows("ovn-nbctl", nb1, "Logical_Switch_Port")
                if r["name"].endswith("-az1")]
    assert sorted(r["name"] for r in rows("ovn-nbctl", nb1, "Logical_Router_Port")) == [
        "az1-pods"]
    assert rows("ovn-nbctl", nb1, "Logical_Switch") == []
    assert rows("ovn-nbctl", nb1, "Gateway_Chassis") == []
    routes = rows("ovn-nbctl", nb1, "Logical_Router_Static_Route")
    assert [(r["ip_prefix"], r["external_ids"]) for r in routes] == [("10.50.0.0/16", {})]
    (nbg,) = rows("ovn-nbctl", nb1, "NB_Global")
    assert nbg["name"] == "az1"
    assert not set(nbg["options"]) & {"ic-route-adv", "ic-route-learn", "ic-route-blacklist"}
    assert _ic_sb_rows_of(dep, "az1") == {}
    assert not [r for r in rows("ovn-sbctl", dep.azs["az1"].sb, "Chassis")
                if r["other_config"].get("is-remote") == "true"]
    assert sorted(r["name"] for r in rows("ovn-sbctl", dep.azs["az1"].sb, "Chassis")) == [
        "ch-az1-1", "ch-az1-2"]
    # az2 and IC-NB: untouched, row for row.
    assert dump(dep.azs["az2"].nb) == az2_nb
    assert dump(dep.azs["az2"].sb) == az2_sb
    assert dump(dep.ic_nb) == ic_nb
    assert _ic_sb_rows_of(dep, "az2") == az2_ic_sb

    status, out, err = cli(capsys, "teardown", "--config", c1, *az_args(dep, "az1"))
    assert status == 0, err
    assert out == "tore down az1: nothing to tear down, nothing committed\n"


def test_teardown_warns_when_a_sync_engine_holds_the_lock(
    dep: IcDeployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A running engine puts back what teardown removes (the NB side of every IC-NB
    # transit switch), so whether a real teardown beside it ends before the engine
    # answers is a race; the warning is what teardown owes the operator. The dry run
    # runs beside a real engine; the real teardown beside a client that holds the
    # engine's lock and writes nothing.
    c1, _ = establish_both(dep, tmp_path, capsys)
    result: list[subprocess.CompletedProcess[str]] = []

    async def run() -> None:
        async with trio.open_nursery() as nursery:
            engine: SyncEngine = await nursery.start(run_sync, sync_config(dep, "az1"))
            with trio.fail_after(30):
                await engine.wait_settled()
            assert engine.stats.lock_held
            result.append(await trio.to_thread.run_sync(
                lambda: ic("teardown", "--config", c1, *az_args(dep, "az1"), "--dry-run")))
            nursery.cancel_scope.cancel()
        async with connect(dep.azs["az1"].sb.remote, database="OVN_Southbound") as holder:
            lock = await holder.lock(LOCK_NAME)
            assert lock.held
            result.append(await trio.to_thread.run_sync(
                lambda: ic("teardown", "--config", c1, *az_args(dep, "az1"))))

    trio.run(run)
    dry, real = result
    assert dry.returncode == 0 and "warning" not in dry.stderr  # a dry run takes no lock
    assert "nb: delete Logical_Switch" in dry.stdout
    assert real.returncode == 0, real.stderr
    assert "warning: the ovn_ic lock on the SB database is held by another client" in (
        real.stderr)


# ---------------------------------------------------------------------------- reset


def test_reset_is_a_teardown_then_an_establish(
    dep: IcDeployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write_config(tmp_path, dep, "az1", ["az1-gw1", "az1-gw2"])
    status, _, err = cli(capsys, "establish", "--config", old, *az_args(dep, "az1"),
                         "--ts-num", "2")
    assert status == 0, err
    sync_once(dep, "az1", rounds=1)
    assert _ic_sb_rows_of(dep, "az1")
    # Same AZ, other gateways, one more transit switch.
    new = write_config(tmp_path, dep, "az1", ["az1-gw3", "az1-gw1"], name="az1-new")
    status, out, err = cli(capsys, "reset", "--config", new, *az_args(dep, "az1"),
                           "--ts-num", "3")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[-2].startswith("tore down az1: ") and "operation(s)" in lines[-2]
    assert lines[-1].startswith("established az1: ")
    assert _ic_sb_rows_of(dep, "az1") == {}  # the sync engine re-registers the AZ
    nb = dep.azs["az1"].nb
    gcs = rows("ovn-nbctl", nb, "Gateway_Chassis")
    assert sorted((g["name"], g["priority"]) for g in gcs) == [
        ("az1-ts-az1-gw1", 99), ("az1-ts-az1-gw3", 100),
        ("az1-ts1-az1-gw1", 100), ("az1-ts1-az1-gw3", 99),
        ("az1-ts2-az1-gw1", 99), ("az1-ts2-az1-gw3", 100),
    ]
    # A new AZ name: the old AZ's ports go, the new AZ's come.
    renamed = write_config(tmp_path, dep, "az9", ["az1-gw1"])
    status, out, err = cli(capsys, "reset", "--config", renamed, "--previous-config", new,
                           *az_args(dep, "az1"), "--ts-num", "3")
    assert status == 0, err
    assert out.splitlines()[-2].startswith("tore down az1: ")
    assert out.splitlines()[-1].startswith("established az9: ")
    assert sorted(r["name"] for r in rows("ovn-nbctl", nb, "Logical_Switch_Port")) == [
        "ts-az9", "ts1-az9", "ts2-az9"]
    assert sorted(r["name"] for r in rows("ovn-nbctl", nb, "Logical_Router_Port")) == [
        "az9-ts", "az9-ts1", "az9-ts2"]
    (nbg,) = rows("ovn-nbctl", nb, "NB_Global")
    assert nbg["name"] == "az9"


# ----------------------------------------------------------------------------- show


def test_show_equals_ovn_ic_sbctl_show(
    dep: IcDeployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c1, _ = establish_both(dep, tmp_path, capsys)
    sync_once(dep, "az1", "az2")
    # Bind one transit switch port to a gateway, as the sync engine does once
    # ovn-northd and ovn-controller ran (here written directly).
    (zone1,) = [r for r in rows("ovn-ic-sbctl", dep.ic_sb.remote, "Availability_Zone")
                if r["name"] == "az1"]
    ts_key = 1 + max([0] + [r["tunnel_key"] for r in
                            rows("ovn-ic-sbctl", dep.ic_sb.remote, "Port_Binding")])
    tool("ovn-ic-sbctl", dep.ic_sb.remote, "create", "Port_Binding", "logical_port=ts-az1",
         "transit_switch=ts", f"availability_zone={zone1['_uuid']}", f"tunnel_key={ts_key}",
         "gateway=ch-az1-1", 'address="00:00:00:12:34:56 169.254.100.150/24"')
    theirs = tool("ovn-ic-sbctl", dep.ic_sb.remote, "show")
    assert "availability-zone az1" in theirs and "gateway ch-az2-2" in theirs
    assert "port ts-az1" in theirs
    status, out, err = cli(capsys, "show", f"--ic-sb-db={dep.ic_sb.remote}")
    assert status == 0, err
    assert out == theirs
    for az in ("az2", zone1["_uuid"], "nosuch"):
        status, out, err = cli(capsys, "show", f"--ic-sb-db={dep.ic_sb.remote}",
                               f"--ic-nb-db={dep.ic_nb.remote}", az)
        assert status == 0, err
        assert out == tool("ovn-ic-sbctl", dep.ic_sb.remote, "show", az)
    assert out == ""
    # The remotes of a config, through the real entry point.
    done = ic("show", "--config", c1)
    assert done.returncode == 0, done.stderr
    assert done.stdout == theirs


# --------------------------------------------------------------------------- routes


def test_routes_equal_lr_route_list_with_learned_routes_marked(
    dep: IcDeployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    establish_both(dep, tmp_path, capsys)
    nb1, nb2 = dep.azs["az1"].nb, dep.azs["az2"].nb
    tool("ovn-nbctl", nb2, "lrp-add", "ovn-cluster", "az2-pods", "00:00:00:00:02:99",
         "10.17.0.1/16", "fd00:17::1/64")
    tool("ovn-nbctl", nb2, "set", "NB_Global", ".", "options:ic-route-adv=true")
    sync_once(dep, "az2", "az1", rounds=2)
    # Static routes of every kind next to the learned ones.
    for options, args in [
        ((), ("10.20.0.0/16", "169.254.100.1")),
        (("--ecmp",), ("10.20.0.0/16", "169.254.101.1")),
        ((), ("10.21.0.5", "169.254.100.2", "az1-ts")),
        (("--policy=src-ip",), ("10.22.0.0/24", "169.254.100.3")),
        (("--route-table=rtb1",), ("0.0.0.0/0", "169.254.102.9")),
        (("--route-table=rtb1",), ("192.168.0.0/24", "discard")),
        (("--ecmp-symmetric-reply",), ("10.23.0.0/16", "169.254.100.4")),
        ((), ("fd00:99::/64", "fe80:a9fe:64::9")),
    ]:
        tool("ovn-nbctl", nb1, *options, "lr-route-add", "ovn-cluster", *args)
    theirs = tool("ovn-nbctl", nb1, "lr-route-list", "ovn-cluster")
    assert theirs.count("(learned)") >= 3
    learned = [line for line in theirs.splitlines() if "10.17.0.0/16" in line]
    assert len(learned) == 3 and all(line.endswith("(learned) ecmp") for line in learned)
    status, out, err = cli(capsys, "routes", f"--ovnnb-db={nb1.remote}", "ovn-cluster")
    assert status == 0, err
    assert out == theirs
    status, out, err = cli(capsys, "routes", f"--ovnnb-db={nb1.remote}",
                           "--route-table=rtb1", "ovn-cluster")
    assert status == 0, err
    assert out == tool("ovn-nbctl", nb1, "--route-table=rtb1", "lr-route-list", "ovn-cluster")
    # By UUID, and an unknown router: the tool's message, exit status 1.
    (router,) = rows("ovn-nbctl", nb1, "Logical_Router")
    status, out, err = cli(capsys, "routes", f"--ovnnb-db={nb1.remote}", router["_uuid"])
    assert status == 0 and out == theirs, err
    done = ic("routes", f"--ovnnb-db={nb1.remote}", "nosuch")
    assert done.returncode == 1
    assert done.stderr == "ovsdb-ic routes: error: nosuch: router name not found\n"
    assert done.stdout == ""


# ------------------------------------------------- lr-route-list, generated routes


_V4_POOL = [0x0A000000, 0x0A000001, 0x0A0000FF, 0xC0A80100, 0, 0xFFFFFFFF]
_V6_POOL = [0, 1, 0xFFFF_0102_0304, 0x0102_0304, 0xFE80 << 112, (0xFD00 << 112) | 0x17,
            (0x2001 << 112) | (1 << 64)]


@st.composite
def _prefixes(draw: st.DrawFn) -> tuple[str, tuple[Any, ...]]:
    """An ``ip_prefix`` text and the key that makes two routes tie in the sort."""
    kind = draw(st.sampled_from(["v4", "v4", "v6", "v6", "bad"]))
    if kind == "bad":
        text = draw(st.sampled_from(["bogus", "10.0.0.0/33", "fe80::/129", "10.0.0/8", ""]))
        return text, ("bad", text)
    if kind == "v4":
        addr = draw(st.sampled_from(_V4_POOL) | st.integers(0, 2**32 - 1))
        plen = draw(st.sampled_from([0, 8, 16, 24, 32]) | st.integers(0, 32))
        ip = str(ipaddress.IPv4Address(addr))
        form = draw(st.sampled_from(["len", "mask", "bare"]))
        if form == "bare":
            plen = 32
            text = ip
        elif form == "mask":
            text = f"{ip}/{ipaddress.IPv4Network(f'0.0.0.0/{plen}').netmask}"
        else:
            text = f"{ip}/{plen}"
        return text, ("v4", addr, plen)
    addr = draw(st.sampled_from(_V6_POOL) | st.integers(0, 2**128 - 1))
    plen = draw(st.sampled_from([0, 64, 112, 128]) | st.integers(0, 128))
    address = ipaddress.IPv6Address(addr)
    ip = draw(st.sampled_from([str(address), address.exploded]))
    text = ip if plen == 128 and draw(st.booleans()) else f"{ip}/{plen}"
    return text, ("v6", addr, plen)


_nexthops = st.one_of(
    st.sampled_from(["", "discard", "bogus", "169.254.100.1", "169.254.100.2"]),
    st.integers(0, 2**32 - 1).map(lambda a: str(ipaddress.IPv4Address(a))),
    st.sampled_from(_V6_POOL).map(lambda a: ipaddress.IPv6Address(a).exploded),
    st.integers(0, 2**128 - 1).map(lambda a: str(ipaddress.IPv6Address(a))),
)


@st.composite
def _routes(draw: st.DrawFn) -> dict[str, Any]:
    prefix, key = draw(_prefixes())
    return {
        "ip_prefix": prefix,
        "nexthop": draw(_nexthops),
        "policy": draw(st.sampled_from([None, "dst-ip", "src-ip"])),
        "route_table": draw(st.sampled_from(["", "", "rtb-a", "rtb-b"])),
        "output_port": draw(st.sampled_from([None, None, "lrp-a", "lrp-b"])),
        "learned": draw(st.booleans()),
        "symmetric": draw(st.sampled_from([None, None, "true", "TRUE", "false"])),
        "bfd": draw(st.booleans()),
        "_key": key,
    }


def _tie_key(route: dict[str, Any]) -> tuple[Any, ...]:
    return (route["route_table"], route["policy"] or "dst-ip", route["_key"],
            route["nexthop"], route["output_port"])


def _transact(server: Server, *ops: dict[str, Any]) -> None:
    out = subprocess.run(["ovsdb-client", "transact", server.remote, json.dumps([NB, *ops])],
                         capture_output=True, text=True, check=True, timeout=30)
    assert "error" not in out.stdout, out.stdout


def _optional(value: Any) -> Any:
    return ["set", []] if value is None else value


@pytest.fixture(scope="module")
def route_server() -> Iterator[Server]:
    """An NB server with router ``lr`` and one BFD row the generated routes may use."""
    with Sandbox() as box:
        server = box.start_server(schema_path("nb"), name="nb-routes")
        tool("ovn-nbctl", server, "lr-add", "lr")
        tool("ovn-nbctl", server, "create", "BFD", "logical_port=lrp-a",
             "dst_ip=169.254.1.1")
        yield server


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_routes(), max_size=12, unique_by=_tie_key))
def test_routes_render_like_ovn_nbctl_for_generated_routes(
    route_server: Server, routes: list[dict[str, Any]]
) -> None:
    (bfd,) = [r["_uuid"] for r in rows("ovn-nbctl", route_server, "BFD")]
    ops: list[dict[str, Any]] = []
    names = []
    for i, r in enumerate(routes):
        row: dict[str, Any] = {
            "ip_prefix": r["ip_prefix"], "nexthop": r["nexthop"],
            "policy": _optional(r["policy"]), "route_table": r["route_table"],
            "output_port": _optional(r["output_port"]),
            "external_ids": ["map", [["ic-learned-route", "x"]] if r["learned"] else []],
            "options": ["map", [] if r["symmetric"] is None else
                        [["ecmp_symmetric_reply", r["symmetric"]]]],
            "bfd": ["uuid", bfd] if r["bfd"] else ["set", []],
        }
        ops.append({"op": "insert", "table": "Logical_Router_Static_Route",
                    "uuid-name": f"r{i}", "row": row})
        names.append(["named-uuid", f"r{i}"])
    ops.append({"op": "update", "table": "Logical_Router", "where": [["name", "==", "lr"]],
                "row": {"static_routes": ["set", names]}})
    _transact(route_server, *ops)
    theirs = tool("ovn-nbctl", route_server, "lr-route-list", "lr")
    ours = trio.run(lambda: route_list(route_server.remote, "lr"))
    assert ours == theirs
    for table in ("", "rtb-a"):
        theirs = tool("ovn-nbctl", route_server, f"--route-table={table}", "lr-route-list",
                      "lr")
        assert trio.run(lambda: route_list(route_server.remote, "lr",
                                           route_table=table)) == theirs  # noqa: B023


def test_route_list_names_an_unknown_or_ambiguous_router(route_server: Server) -> None:
    tool("ovn-nbctl", route_server, "--may-exist", "lr-add", "twin")
    tool("ovn-nbctl", route_server, "create", "Logical_Router", "name=twin")
    for router, message in [
        ("twin", "Multiple logical routers named 'twin'.  Use a UUID."),
        ("nosuch", "nosuch: router name not found"),
        ("6a8c8f2e-0000-4000-8000-000000000000",
         "6a8c8f2e-0000-4000-8000-000000000000: router UUID not found"),
    ]:
        with pytest.raises(RouterNotFoundError) as info:
            trio.run(lambda: route_list(route_server.remote, router))  # noqa: B023
        assert str(info.value) == message
        out = subprocess.run(["ovn-nbctl", f"--db={route_server.remote}", "lr-route-list",
                              router], capture_output=True, text=True, check=False)
        assert out.returncode == 1
        assert out.stderr.strip() == f"ovn-nbctl: {message}"


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**128 - 1) | st.sampled_from(_V6_POOL)
       | st.integers(0, 2**32 - 1).map(lambda v: v | (0xFFFF << 32)))
def test_ipv6_text_is_glibc_inet_ntop(value: int) -> None:
    assert format_address(6, value) == socket.inet_ntop(socket.AF_INET6,
                                                         value.to_bytes(16, "big"))


def test_unreachable_ic_databases_are_named_and_nothing_is_written(
    dep: IcDeployment, tmp_path: Path
) -> None:
    """A valid config whose IC remotes nobody listens on: exit 1, one line per remote,
    and the AZ's own NB (reachable) is left as it was."""
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    path = tmp_path / "unreachable.json"
    path.write_text(json.dumps({"data": {
        "enable-ic": "true", "az-name": "az1", "ic-db-host": "127.0.0.1",
        "ic-nb-port": str(ports[0]), "ic-sb-port": str(ports[1]), "gw-nodes": "gw1",
    }}))
    before = dump(dep.azs["az1"].nb)
    done = ic("establish", "--config", str(path), *az_args(dep, "az1"), "--timeout", "10")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2, lines
    for line, label, port in zip(lines, ["IC-NB", "IC-SB"], ports, strict=True):
        assert line.startswith(f"ovsdb-ic establish: error: {label}: tcp:127.0.0.1:{port}: ")
        assert line.endswith("Connection refused")
    assert done.stdout == ""
    assert dump(dep.azs["az1"].nb) == before


# ------------------------------------------- real YAML, learned-route policies, metrics


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in the scrape")


def test_configmaps_as_kubectl_writes_them_then_policies_and_metrics(
    dep: IcDeployment, tmp_path: Path,
) -> None:
    """establish reads a flow-style ConfigMap and a ``kubectl -o json`` dump on stdin;
    ``sync --kubeovn-policies --metrics-address`` learns az2's subnet, adds Kube-OVN's
    allow policy for it and serves metrics and health; teardown removes the policy."""
    add_gateway_chassis(dep)
    leader = dep.ic_sb_leader()
    flow = tmp_path / "az1.yaml"
    flow.write_text(
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: ovn-ic-config, namespace: kube-system}\n"
        f"data: {{enable-ic: 'true', az-name: az1, ic-db-host: 127.0.0.1,\n"
        f"       ic-nb-port: '{dep.ic_nb.tcp_port}', ic-sb-port: '{leader.tcp_port}',\n"
        "       gw-nodes: 'az1-gw1,az1-gw2', auto-route: 'true'}  # flow style\n")
    done = ic("establish", "--config", str(flow), *az_args(dep, "az1"), "--ts-num", "1")
    assert done.returncode == 0, done.stderr
    kubectl_json = json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "ovn-ic-config", "namespace": "kube-system",
                     "resourceVersion": "4242", "uid": "7c9f0e1a-1111-2222-3333-444455556666",
                     "creationTimestamp": "2026-12-06T10:00:00Z"},
        "data": {"enable-ic": "true", "az-name": "az2", "ic-db-host": "127.0.0.1",
                 "ic-nb-port": str(dep.ic_nb.tcp_port), "ic-sb-port": str(leader.tcp_port),
                 "gw-nodes": "az2-gw1,az2-gw2", "auto-route": "true"},
    }, indent=4)
    done = subprocess.run([sys.executable, "-m", "ovsdb_ic", "establish", "--config", "-",
                           *az_args(dep, "az2"), "--ts-num", "1"], input=kubectl_json,
                          capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr
    nb1, nb2 = dep.azs["az1"].nb, dep.azs["az2"].nb
    tool("ovn-nbctl", nb2, "lrp-add", "ovn-cluster", "az2-pods", "00:00:00:00:02:99",
         "10.17.0.1/16", "fd00:17::1/64")
    sync_once(dep, "az2")

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    engine = subprocess.Popen(
        [sys.executable, "-m", "ovsdb_ic", "sync", *[f"--ovnnb-db={nb1.remote}",
         f"--ovnsb-db={dep.azs['az1'].sb.remote}", f"--ic-nb-db={dep.ic_nb.remote}",
         f"--ic-sb-db={dep.ic_sb.remote}"], "--kubeovn-policies",
         f"--metrics-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        while True:
            assert engine.poll() is None, engine.stderr.read() if engine.stderr else ""
            policies = tool("ovn-nbctl", nb1, "lr-policy-list", "ovn-cluster")
            # (a connected route's prefix keeps the LRP's host bits, as OVN writes it)
            if "10.17.0.1/16" in policies and "fd00:17::1/64" in policies:
                break
            assert time.monotonic() < end, policies
            sync_once(dep, "az2", rounds=1)
            time.sleep(0.2)
        assert "ip4.dst == 10.17.0.1/16           allow" in policies
        assert "ip6.dst == fd00:17::1/64           allow" in policies
        out = ic("policies", f"--ovnnb-db={nb1.remote}", "ovn-cluster")
        assert out.returncode == 0, out.stderr
        assert out.stdout == policies  # byte for byte as ovn-nbctl lr-policy-list
        (pol,) = [r for r in rows("ovn-nbctl", nb1, "Logical_Router_Policy")
                  if r["match"] == "ip4.dst == 10.17.0.1/16"]
        assert pol["priority"] == 29500 and pol["action"] == "allow"
        assert pol["external_ids"] == {"origin": "connected", "vendor": "kube-ovn"}

        code, text = _get(f"{base}/metrics")
        assert code == 200
        assert _metric(text, "ovsdb_ic_sync_passes_total") > 0
        assert _metric(text, "ovsdb_ic_sync_commits_total") > 0
        assert _metric(text, "ovsdb_ic_sync_routes_learned") == 2
        assert _metric(text, "ovsdb_ic_sync_lock_held") == 1
        assert _metric(text, "ovsdb_ic_sync_pass_duration_seconds_count") > 0
        assert 'ovsdb_ic_sync_database_connected{database="ic_sb"} 1.0' in text
        assert 'ovsdb_ic_sync_database_leader{database="ic_sb"} 1.0' in text
        assert _get(f"{base}/healthz") == (200, "ok: connected to all four databases\n")
        assert _get(f"{base}/readyz") == (200, "ok: replicas loaded, holding the ovn_ic lock\n")
        assert _get(f"{base}/nope")[0] == 404
    finally:
        engine.send_signal(signal.SIGINT)
        try:
            engine.wait(20)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait()
    # Teardown removes the learned routes and their policies.
    done = ic("teardown", "--config", str(flow), *az_args(dep, "az1"))
    assert done.returncode == 0, done.stderr
    assert tool("ovn-nbctl", nb1, "lr-policy-list", "ovn-cluster") == ""
