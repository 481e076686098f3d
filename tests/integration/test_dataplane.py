"""The dataplane proof: packets cross from one AZ to the other through the transit
switches an IC agent set up, with the engine and with the C ``ovn-ic``.

Two AZs, each with one real chassis (``ovs-vswitchd`` with the userspace datapath and
``ovn-controller`` in a network namespace of its own, see
:class:`~ovsdb_ic.testing.dataplane.Dataplane`) that is also the AZ's IC gateway. Kube-OVN's
establish sets up three ECMP transit switches (TS_NUM=3); the IC agent under test
advertises and learns the Pod subnets. Then:

* ``ovn-trace`` on AZ2's SB, from a Pod's port to a Pod of AZ1, ends on a transit switch's
  remote port bound to AZ1's gateway chassis, whose geneve encap is that chassis' underlay
  address; AZ2's chassis has a geneve tunnel to it;
* a Pod in AZ2 pings Pods in AZ1 and the reverse (3 sent, 3 received);
* once an AZ1 subnet is marked ``disableInterConnection``, its route is withdrawn: the
  trace to it no longer leaves AZ2 and it stops answering, while the other AZ1 subnet
  still does;
* everything is gone afterwards: no namespace, veth, tap or process is left.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import trio

from ovsdb_ic.kubeovn import IcConfig
from ovsdb_ic.kubeovn.commands import AzRemotes, EstablishParams, RunOptions, establish
from ovsdb_ic.testing import AgentKind, IcDeployment, Sandbox
from ovsdb_ic.testing.dataplane import (
    NETNS_PREFIX,
    Dataplane,
    add_pod_port,
    add_subnet,
    dataplane_unavailable,
    sweep_stale_namespaces,
)
from ovsdb_ic.testing.ovn import ovn_nbctl, query, wait_for

pytestmark = pytest.mark.integration

ROUTER = "ovn-cluster"
TS = ("ts", "ts1", "ts2")
# az -> subnet -> (router port address, pod address)
SUBNETS = {
    "az1": {"ovn-default": ("10.16.0.1/16", "10.16.0.2/16"),
            "web": ("10.20.0.1/16", "10.20.0.2/16")},
    "az2": {"ovn-default": ("10.18.0.1/16", "10.18.0.2/16")},
}
CONFIG = """\
data:
  enable-ic: "true"
  az-name: "{az}"
  ic-db-host: "127.0.0.1"
  ic-nb-port: "{nb_port}"
  ic-sb-port: "6646"
  gw-nodes: "{az}-gw1"
  auto-route: "true"
"""


def host_links() -> set[str]:
    return {line.split(":")[1].strip().split("@")[0] for line in subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout.splitlines()}


def our_namespaces() -> list[str]:
    try:
        names = os.listdir("/run/netns")
    except OSError:
        return []
    return [n for n in names if n.startswith(f"{NETNS_PREFIX}{os.getpid()}-")]


def processes_using(directory: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and str(directory).encode() in argv:
            found.append(argv.decode(errors="replace"))
    return found


def do_establish(dep: IcDeployment, az: str, disabled: tuple[str, ...] = ()) -> None:
    zone = dep.azs[az]
    port = int(str(dep.ic_nb.tcp_remote).rsplit(":", 1)[1])
    config = IcConfig.from_document(CONFIG.format(az=az, nb_port=port))
    remotes = AzRemotes.from_config(config, ovnnb_db=zone.nb.remote, ovnsb_db=zone.sb.remote,
                                    ic_sb_db=dep.ic_sb.remote)
    params = EstablishParams(ts_num=len(TS), cluster_router=ROUTER, protocol="IPv4",
                             disabled_subnets=disabled, join_subnet="100.64.0.0/16")
    trio.run(lambda: establish(remotes, config, params, options=RunOptions()))


def learned(dep: IcDeployment, az: str) -> dict[str, int]:
    """Learned prefix -> how many transit switches it is learned over."""
    out: dict[str, int] = {}
    for line in ovn_nbctl(dep.azs[az].nb.remote, "lr-route-list", ROUTER).splitlines():
        if "(learned)" in line:
            prefix = line.split()[0]
            out[prefix] = out.get(prefix, 0) + 1
    return out


def trace(dep: IcDeployment, src: str, dst_ip: str, select_id: int) -> str:
    """``ovn-trace --minimal`` on AZ2's SB of an ICMP echo from Pod port *src*."""
    nb = dep.azs["az2"].nb.remote
    mac = ovn_nbctl(nb, "lsp-get-addresses", src).split()[0]
    ip = ovn_nbctl(nb, "lsp-get-addresses", src).split()[1]
    gw_mac = ovn_nbctl(nb, "get", "Logical_Router_Port", f"{ROUTER}-ovn-default",
                       "mac").strip().strip('"')
    flow = (f'inport == "{src}" && eth.src == {mac} && eth.dst == {gw_mac} && '
            f"ip4.src == {ip} && ip4.dst == {dst_ip} && ip.ttl == 64 && icmp4.type == 8")
    done = subprocess.run(
        ["ovn-trace", f"--db={dep.azs['az2'].sb.remote}", "--minimal",
         f"--select-id={select_id}", "ovn-default", flow],
        capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


# The traces each agent produced, by agent: the second one to run compares with the first.
TRACES: dict[str, list[str]] = {}


@pytest.fixture
def sandbox_dir(tmp_path: Path) -> Path:
    return tmp_path / "dp"


@pytest.mark.parametrize("agent", ["engine", "ovn-ic"])
def test_pods_ping_across_azs_through_the_transit_switches(
    agent: AgentKind, sandbox_dir: Path
) -> None:
    assert dataplane_unavailable() is None  # never skipped: this host must run it
    before = host_links()
    with Sandbox(sandbox_dir) as sandbox:
        dep = IcDeployment.start(sandbox, ic_sb_size=1, northd=True)
        dp = Dataplane(sandbox)
        for i, (az, zone) in enumerate(dep.azs.items(), 1):
            dp.add_chassis(f"{az}-gw1", az=az, sb=zone.sb.remote)
            do_establish(dep, az)
            for j, (switch, (gateway, pod_ip)) in enumerate(SUBNETS[az].items(), 1):
                add_subnet(zone.nb.remote, router=ROUTER, switch=switch, gateway=gateway,
                           mac=f"00:00:00:0{i}:0{j}:01")
                pod = f"{switch}-pod-{az}"
                mac = f"00:00:00:a{i}:0{j}:02"
                add_pod_port(zone.nb.remote, switch=switch, name=pod, mac=mac, ip=pod_ip)
                dp.add_pod(pod, chassis=f"{az}-gw1", mac=mac, ip=pod_ip,
                           gateway=gateway.split("/")[0], sb=zone.sb.remote)
        # A node of az2 that is not a gateway, with a Pod of its own: its packets reach
        # the gateway (the transit switch ports' chassis-redirect ports) over geneve too.
        az2 = dep.azs["az2"]
        dp.add_chassis("az2-node1", az="az2", sb=az2.sb.remote, interconn=False)
        add_pod_port(az2.nb.remote, switch="ovn-default", name="ovn-default-pod-node",
                     mac="00:00:00:a2:01:03", ip="10.18.0.3/16")
        dp.add_pod("ovn-default-pod-node", chassis="az2-node1", mac="00:00:00:a2:01:03",
                   ip="10.18.0.3/16", gateway="10.18.0.1", sb=az2.sb.remote)
        for az in dep.azs:
            dep.start_agent(az, agent)
        wait_for(lambda: learned(dep, "az2") == {"10.16.0.0/16": 3, "10.20.0.0/16": 3}
                 and learned(dep, "az1") == {"10.18.0.0/16": 3}, timeout=30,
                 what="routes learned over three transit switches")
        dep.check_daemons()

        # ovn-trace: each ECMP member ends on one transit switch's remote port of az1.
        az2_sb = dep.azs["az2"].sb.remote
        az1_gw = dp.chassis["az1-gw1"]
        remote_ports = set()
        traces = []
        for select_id in (1, 2, 3):
            out = trace(dep, "ovn-default-pod-az2", "10.16.0.2", select_id)
            traces.append(out)
            (port,) = re.findall(r'output\("(ts\d?-az1)"\);', out)
            remote_ports.add(port)
            ts = port.removesuffix("-az1")
            lrp_mac = ovn_nbctl(dep.azs["az2"].nb.remote, "get", "Logical_Router_Port",
                                f"az2-{ts}", "mac").strip().strip('"')
            remote_mac = ovn_nbctl(dep.azs["az2"].nb.remote, "lsp-get-addresses",
                                   port).split()[0]
            assert out.rstrip().splitlines()[1:] == [
                "ip.ttl--;",
                f"select: reg8[16..31] = {select_id} {{",
                f"    eth.src = {lrp_mac};",
                f"    eth.dst = {remote_mac};",
                f'    output("{port}");',
                "};",
            ], out
        assert remote_ports == {f"{ts}-az1" for ts in TS}
        # Which select id picks which route depends on row UUIDs: compare the set of paths.
        paths = sorted(re.sub(r"reg8\[16\.\.31\] = \d+", "reg8[16..31] = N", t) for t in traces)
        TRACES[agent] = paths
        for other, theirs in TRACES.items():
            assert theirs == paths, f"{agent} and {other} traced differently"
        # ... each bound to az1's gateway chassis, whose geneve encap is its underlay IP.
        rows = query(az2_sb, "OVN_Southbound",
                     {"Port_Binding": ["logical_port", "type", "chassis"],
                      "Chassis": ["_uuid", "name", "encaps", "other_config"],
                      "Encap": ["_uuid", "type", "ip"]})
        chassis = {c["_uuid"]: c for c in rows["Chassis"]}
        encaps = {e["_uuid"]: e for e in rows["Encap"]}
        for pb in rows["Port_Binding"]:
            if pb["logical_port"] in remote_ports:
                assert pb["type"] == "remote"
                remote = chassis[pb["chassis"]]
                assert remote["name"] == "az1-gw1"
                assert remote["other_config"]["is-remote"] == "true"
                (encap,) = [encaps[remote["encaps"]]]
                assert (encap["type"], encap["ip"]) == ("geneve", az1_gw.encap_ip)
        tunnels = dp.chassis["az2-gw1"].vsctl(
            "--bare", "--columns=options", "find", "Interface", "type=geneve")
        assert f"remote_ip={az1_gw.encap_ip}" in tunnels.split()

        # A real ping, both ways, to both az1 subnets.
        pod2 = dp.pods["ovn-default-pod-az2"]
        for target in ("10.16.0.2", "10.20.0.2"):
            pod2.wait_reachable(target)
            result = pod2.ping(target)
            assert (result.transmitted, result.received) == (3, 3), result.output
            assert "3 packets transmitted, 3 received, 0% packet loss" in result.output
        for source in ("ovn-default-pod-az1", "web-pod-az1"):
            for target in ("10.18.0.2", "10.18.0.3"):
                dp.pods[source].wait_reachable(target)
                result = dp.pods[source].ping(target)
                assert (result.transmitted, result.received) == (3, 3), result.output
        # From the Pod on az2's non-gateway node: via az2-gw1, then to az1.
        node_pod = dp.pods["ovn-default-pod-node"]
        node_pod.wait_reachable("10.16.0.2")
        result = node_pod.ping("10.16.0.2")
        assert (result.transmitted, result.received) == (3, 3), result.output

        # disableInterConnection on az1's web subnet: withdrawn from az2.
        do_establish(dep, "az1", disabled=("10.20.0.0/16",))
        wait_for(lambda: learned(dep, "az2") == {"10.16.0.0/16": 3}, timeout=30,
                 what="10.20.0.0/16 withdrawn from az2")
        for select_id in (1, 2, 3):
            out = trace(dep, "ovn-default-pod-az2", "10.20.0.2", select_id)
            # Only the flow line: nothing visible happens to it, it is dropped in az2.
            assert out.strip().splitlines()[1:] == [], out
        time.sleep(1.0)  # ovn-controller removes the flows
        gone = pod2.ping("10.20.0.2", count=2, wait=0.5)
        assert gone.received == 0, gone.output
        kept = pod2.ping("10.16.0.2")
        assert kept.received == 3, kept.output
        dep.check_daemons()
        namespaces = dp.namespaces
        assert len(namespaces) == 1 + 3 + 4  # underlay, three chassis, four Pods
        assert set(our_namespaces()) >= set(namespaces)

    # Nothing is left: namespaces, links in the host's namespace, processes.
    assert not set(our_namespaces()) & set(namespaces)
    assert host_links() <= before
    assert processes_using(sandbox_dir) == []


def test_a_failure_inside_the_sandbox_leaves_nothing_behind(sandbox_dir: Path) -> None:
    before = host_links()
    namespaces: list[str] = []
    sandbox_dir.mkdir()  # an existing directory: the sandbox removes only what it made
    (sandbox_dir / "mine").write_text("kept")
    with pytest.raises(RuntimeError, match="boom"), Sandbox(sandbox_dir) as sandbox:
        sb = sandbox.start_server("sb", name="az1-sb")
        dp = Dataplane(sandbox)
        dp.add_chassis("az1-gw1", az="az1", sb=sb.remote)
        dp.add_pod("pod", chassis="az1-gw1", mac="00:00:00:a1:01:02", ip="10.16.0.2/16",
                   gateway="10.16.0.1")
        namespaces = dp.namespaces
        assert len(namespaces) == 3 and set(our_namespaces()) >= set(namespaces)
        assert "pod1" in dp.links()[dp.pods["pod"].netns]
        raise RuntimeError("boom")
    assert not set(our_namespaces()) & set(namespaces)
    assert host_links() <= before
    assert processes_using(sandbox_dir) == []
    assert [p.name for p in sandbox_dir.iterdir()] == ["mine"]


def test_sweep_removes_only_the_namespaces_of_dead_processes() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"{NETNS_PREFIX}{dead.pid}-1-c1"
    live = f"{NETNS_PREFIX}{os.getpid()}-999-c1"
    for name in (stale, live):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        removed = sweep_stale_namespaces()
        assert stale in removed and live not in removed
        assert stale not in os.listdir("/run/netns")
        assert live in os.listdir("/run/netns")
    finally:
        for name in (stale, live):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def test_a_chassis_registers_as_ovn_controller_does(
    ovn_deployment: IcDeployment, dataplane: Dataplane
) -> None:
    sb = ovn_deployment.azs["az1"].sb.remote
    gw = dataplane.add_chassis("az1-gw1", az="az1", sb=sb)
    node = dataplane.add_chassis("az1-node1", az="az1", sb=sb, interconn=False)
    rows = query(sb, "OVN_Southbound", {"Chassis": ["name", "hostname", "other_config"],
                                        "Encap": ["chassis_name", "type", "ip"]})
    chassis = {c["name"]: c for c in rows["Chassis"]}
    assert set(chassis) == {"az1-gw1", "az1-node1"}
    assert chassis["az1-gw1"]["hostname"] == "az1-gw1"
    assert chassis["az1-gw1"]["other_config"]["is-interconn"] == "true"
    assert chassis["az1-node1"]["other_config"].get("is-interconn", "false") == "false"
    assert sorted((e["chassis_name"], e["type"], e["ip"]) for e in rows["Encap"]) == [
        ("az1-gw1", "geneve", gw.encap_ip), ("az1-node1", "geneve", node.encap_ip)]
    # br-int was made by ovn-controller on the userspace datapath, with a tunnel between
    # the two chassis of the AZ.
    assert gw.vsctl("get", "Bridge", "br-int", "datapath_type").strip() == "netdev"
    wait_for(lambda: f"remote_ip={node.encap_ip}" in gw.vsctl(
        "--bare", "--columns=options", "find", "Interface", "type=geneve").split(),
        timeout=10, what="a geneve tunnel from az1-gw1 to az1-node1")
