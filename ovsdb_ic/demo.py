"""The demo: two Kube-OVN availability zones interconnected on loopback, end to end.

``ovsdb-ic demo`` runs :func:`run_demo`: real ``ovsdb-server`` processes for IC-NB, a
3-member IC-SB Raft cluster and each AZ's NB and SB, a real ``ovn-northd`` per AZ;
then, all through this library, Kube-OVN's establish from two ``ovn-ic-config``
documents (three ECMP transit switches), one sync engine per AZ, pod subnets on both
sides, the ``show`` view and each AZ's learned routes, the IC-SB leader killed while
the engines carry on, and a subnet marked ``disableInterConnection`` withdrawn.

Where the host can run it (root, ``/dev/net/tun``, the ``openvswitch-switch``,
``ovn-host`` and ``iputils-ping`` packages), it also proves the dataplane: each AZ's
gateway is a real chassis (``ovs-vswitchd`` with the userspace datapath and
``ovn-controller`` in a network namespace, geneve over a veth underlay, see
:class:`~ovsdb_ic.testing.dataplane.Dataplane`) with a Pod per subnet; a Pod of one AZ
pings a Pod of the other, a ping keeps running while the IC-SB leader is killed, and
the withdrawn subnet stops answering while the others still do. Elsewhere one line says
why, and the demo goes on with the control plane.
Everything started is stopped at the end.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import trio
from prometheus_client import generate_latest

from ovsdb_ic.constants import DEFAULT_CLUSTER_ROUTER, LEARNED_ROUTE_KEY
from ovsdb_ic.ic.addr import Cidr, format_address, parse_cidr
from ovsdb_ic.kubeovn import IcConfig
from ovsdb_ic.kubeovn.commands import (
    AzRemotes,
    EstablishParams,
    RunOptions,
    establish,
    policy_list,
    route_list,
    show,
)
from ovsdb_ic.kubeovn.policies import policy_step
from ovsdb_ic.sync.metrics import SyncMetrics, register_sync_metrics, serve_metrics
from ovsdb_ic.sync.runner import SyncConfig, SyncEngine
from ovsdb_ic.testing.dataplane import (
    Dataplane,
    PingResult,
    Pod,
    add_pod_port,
    add_subnet,
    dataplane_unavailable,
)
from ovsdb_ic.testing.deployment import IcDeployment
from ovsdb_ic.testing.ovn import add_chassis, bind_port, ovn_nbctl, start_northd
from ovsdb_ic.testing.sandbox import Sandbox

__all__ = ["DemoResult", "remote_lines", "run_demo"]

CLUSTER_ROUTER = DEFAULT_CLUSTER_ROUTER
TS_NUM = 3
JOIN_SUBNET = "100.64.0.0/16"

CONFIG_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: ovn-ic-config
  namespace: kube-system
data:
  enable-ic: "true"
  az-name: "{az}"
  ic-db-host: "127.0.0.1"
  ic-nb-port: "{nb_port}"
  ic-sb-port: "{sb_port}"
  gw-nodes: "{gw_nodes}"
  auto-route: "true"
"""

# Pod subnets per AZ: the router port address, as Kube-OVN writes it on ovn-cluster.
SUBNETS = {
    "az1": {"ovn-default": "10.16.0.1/16", "web": "10.20.0.1/16"},
    "az2": {"ovn-default": "10.18.0.1/16", "db": "10.22.0.1/16"},
}
WITHDRAWN = ("az2", "db")  # marked disableInterConnection at the end


@attrs.define
class DemoResult:
    """What the demo saw (its tests check these)."""

    learned: dict[str, set[tuple[str, str]]] = attrs.field(factory=dict)
    """Each AZ's learned routes (prefix, nexthop) once settled."""
    after_failover: dict[str, set[tuple[str, str]]] = attrs.field(factory=dict)
    """The same after the IC-SB leader was killed and a subnet added."""
    after_withdraw: dict[str, set[tuple[str, str]]] = attrs.field(factory=dict)
    """The same after a subnet was marked disableInterConnection."""
    show: str = ""
    """The ``show`` view printed."""
    metrics: str = ""
    """az1's engine metrics, scraped once the routes were learned."""
    seconds: float = 0.0
    """How long the whole demo took."""
    no_dataplane: str | None = None
    """Why the dataplane part did not run (None when it ran)."""
    pings: dict[str, PingResult] = attrs.field(factory=dict)
    """The dataplane's pings: ``az2->az1`` and ``az1->az2`` once routes are learned,
    ``failover`` (kept running while the IC-SB leader was killed), ``withdrawn`` (to the
    subnet marked disableInterConnection) and ``kept`` (to a subnet still advertised)."""


def _learned(engine: SyncEngine) -> set[tuple[str, str]]:
    nb = engine.replicas["nb"].replica
    routes = nb.table("Logical_Router_Static_Route")
    return {(r["ip_prefix"], r["nexthop"]) for r in routes
            if LEARNED_ROUTE_KEY in r["external_ids"]}


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        text: str = reply.read().decode()
        return text


async def _policies(nb: str) -> list[str]:
    """The learned-route policy lines of ovn-cluster (priority 29500)."""
    text = await policy_list(nb, CLUSTER_ROUTER)
    return [line for line in text.splitlines() if line.strip().startswith("29500 ")]


def _remote_subnets(subnets: dict[str, dict[str, str]], az: str,
                    skip: tuple[str, str] | None = None) -> set[str]:
    return {cidr for zone, nets in subnets.items() if zone != az
            for name, cidr in nets.items() if (zone, name) != skip}


async def _wait(engine: SyncEngine, want: Callable[[set[tuple[str, str]]], bool],
                seconds: float) -> set[tuple[str, str]]:
    live = engine.replicas["nb"]
    with trio.fail_after(seconds):
        await live.wait_for(lambda _r: want(_learned(engine)))
    return _learned(engine)


def _add_gateway_chassis(sb: str, az_index: int, nodes: list[str]) -> None:
    """SB Chassis rows for the gateway nodes, as ovn-controller would register them."""
    for i, node in enumerate(nodes, 1):
        # Example encap addresses: data only, nothing connects to them.
        add_chassis(sb, node, encaps=[("geneve", f"192.168.65.{10 * az_index + i}")])


def _add_subnet(nb: str, az_index: int, subnet_index: int, name: str, cidr: str,
                dataplane: Dataplane | None = None, az: str = "", sb: str = "") -> None:
    """A Kube-OVN subnet: a router port of ovn-cluster with the gateway address; with a
    dataplane also its logical switch and a Pod (the subnet's ``.2``) on *az*'s chassis."""
    port = f"{CLUSTER_ROUTER}-{name}"
    mac = f"00:00:00:0{az_index}:{subnet_index:02x}:01"
    if dataplane is None:
        ovn_nbctl(nb, "--may-exist", "lrp-add", CLUSTER_ROUTER, port, mac, cidr)
        return
    add_subnet(nb, router=CLUSTER_ROUTER, switch=name, gateway=cidr, mac=mac)
    gateway = _cidr(cidr)
    pod_ip = str(Cidr(gateway.version, gateway.address + 1, gateway.plen))
    pod_mac = f"00:00:00:a{az_index}:{subnet_index:02x}:02"
    pod = f"{name}-pod-{az}"
    add_pod_port(nb, switch=name, name=pod, mac=pod_mac, ip=pod_ip)
    dataplane.add_pod(pod, chassis=f"{az}-gw1", mac=pod_mac, ip=pod_ip,
                      gateway=gateway.address_text(), sb=sb)


def _wait_unreachable(pod: Pod, address: str, seconds: float = 15.0) -> None:
    """Until a single ping from *pod* to *address* goes unanswered (flows removed)."""
    deadline = time.monotonic() + seconds
    while pod.ping(address, count=1, wait=0.3).received:
        if time.monotonic() > deadline:
            raise trio.TooSlowError(f"{address} still answers {pod.name}")
        time.sleep(0.1)


def _cidr(text: str) -> Cidr:
    parsed = parse_cidr(text)
    if parsed is None:
        raise ValueError(f"{text!r} is not a CIDR")
    return parsed


def _pod_ip(cidr: str) -> str:
    gateway = _cidr(cidr)
    return format_address(gateway.version, gateway.address + 1)


def _ping_lines(out: Callable[[str], None], who: str, result: PingResult) -> None:
    out(f"{who}:")
    for line in result.output.strip().splitlines():
        if line.strip():
            out(f"    {line}")


@contextmanager
def _timed(out: Callable[[str], None], what: str) -> Iterator[None]:
    t0 = time.monotonic()
    yield
    out(f"    ({what}: {time.monotonic() - t0:.1f} s)")


def remote_lines(dep: IcDeployment) -> list[str]:
    """One line per database of the running demo: ``  LABEL  DATABASE  REMOTES`` (what a
    newcomer connects to; ``--keep-running`` prints them)."""
    rows = [("ic-nb", "OVN_IC_Northbound", dep.ic_nb.remote),
            ("ic-sb", "OVN_IC_Southbound", dep.ic_sb.remote)]
    for name, zone in dep.azs.items():
        rows.append((f"{name}-nb", "OVN_Northbound", zone.nb.remote))
        rows.append((f"{name}-sb", "OVN_Southbound", zone.sb.remote))
    width = max(len(label) for label, _, _ in rows)
    return [f"  {label:<{width}}  {db:<17}  {remotes}" for label, db, remotes in rows]


async def _serve_until_signal(dep: IcDeployment, out: Callable[[str], None]) -> None:
    """Print every remote and wait for SIGINT or SIGTERM (``--keep-running``)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        out("\n== running: both AZs established, engines syncing, ovn-northd up ==")
        out("Remotes (comma-separated lists are clusters):")
        for line in remote_lines(dep):
            out(line)
        az1 = dep.azs["az1"]
        out("The docs' examples take az1's remotes from the environment (as OVN's tools do):")
        for var, remote in (("OVN_NB_DB", az1.nb.remote), ("OVN_SB_DB", az1.sb.remote),
                            ("OVN_IC_NB_DB", dep.ic_nb.remote),
                            ("OVN_IC_SB_DB", dep.ic_sb.remote)):
            out(f"  export {var}={remote}")
        out(f"Try: ovsdb-ic show --ic-sb-db={dep.ic_sb.remote}")
        out(f"     ovsdb-ic routes --ovnnb-db={dep.azs['az1'].nb.remote} {CLUSTER_ROUTER}")
        out("Press Ctrl-C to stop everything.")
        async for signum in signals:
            out(f"\n{signal.Signals(signum).name} received")
            return


async def run_demo(
    out: Callable[[str], None] = print,
    *,
    directory: str | Path | None = None,
    dataplane: bool = True,
    metrics_address: tuple[str, int] | None = None,
    keep_running: bool = False,
) -> DemoResult:
    """Run the demo, printing through ``out``; returns what it observed.

    ``directory`` keeps databases, sockets and logs there instead of a temporary
    directory. ``dataplane``: add real chassis and Pods that ping where the host can
    run them (``False``: the control plane only). ``metrics_address`` (host, port)
    serves az1's engine metrics there (``/metrics``, ``/healthz``, ``/readyz``) while
    the demo runs. With ``keep_running``, the scenario's end state stays up (both AZs
    established, the engines syncing, ovn-northd running, the dataplane if any): every
    remote is printed and the demo waits for SIGINT (Ctrl-C) or SIGTERM before stopping
    everything (call it from the main thread). Raises
    :class:`~ovsdb_ic.errors.SandboxError` when a binary is missing and
    ``trio.TooSlowError`` when a step does not happen in time.
    """
    t_start = time.monotonic()
    result = DemoResult()
    subnets = {az: dict(nets) for az, nets in SUBNETS.items()}
    metrics: dict[str, SyncMetrics] = {}
    with Sandbox(directory) as sandbox, contextlib.ExitStack() as stack:
        out(f"Starting OVN-IC in {sandbox.path} ...")
        dep = await trio.to_thread.run_sync(lambda: IcDeployment.start(sandbox))
        for name, zone in dep.azs.items():
            await trio.to_thread.run_sync(functools.partial(
                start_northd, sandbox, nb=zone.nb.remote, sb=zone.sb.remote,
                name=f"{name}-northd"))
        out(dep.describe())
        ic_nb_port = int(str(dep.ic_nb.tcp_remote).rsplit(":", 1)[1])

        # 0. A real chassis per AZ, when this host can run the userspace datapath.
        dp: Dataplane | None = None
        result.no_dataplane = (await trio.to_thread.run_sync(dataplane_unavailable)
                               if dataplane else "not asked for (--no-dataplane)")
        if result.no_dataplane is not None:
            out(f"\n(no dataplane: {result.no_dataplane}; showing the control plane only)")
        else:
            out("\n== 0. a gateway chassis per AZ: ovs-vswitchd (userspace datapath) and "
                "ovn-controller in a network namespace, geneve over a veth underlay ==")
            dp = await trio.to_thread.run_sync(Dataplane, sandbox)
            for name, zone in dep.azs.items():
                chassis = await trio.to_thread.run_sync(functools.partial(
                    dp.add_chassis, f"{name}-gw1", az=name, sb=zone.sb.remote))
                out(f"{chassis.name}: netns {chassis.netns}, encap geneve "
                    f"{chassis.encap_ip}, registered in {name}'s SB")

        # 1. Kube-OVN establishes interconnection from its ConfigMaps.
        out(f"\n== 1. establish from ovn-ic-config (TS_NUM={TS_NUM}, auto-route) ==")
        engines: dict[str, SyncEngine] = {}
        configs: dict[str, IcConfig] = {}
        for i, (name, zone) in enumerate(dep.azs.items(), 1):
            if dp is None:
                nodes = [f"{name}-gw{j}" for j in (1, 2, 3)]
                await trio.to_thread.run_sync(_add_gateway_chassis, zone.sb.remote, i, nodes)
            else:
                nodes = [f"{name}-gw1"]  # the real chassis
            document = CONFIG_TEMPLATE.format(az=name, nb_port=ic_nb_port, sb_port=6646,
                                              gw_nodes=",".join(nodes))
            config = IcConfig.from_document(document)
            configs[name] = config
            if i == 1:
                out("ovn-ic-config of az1:\n" + "\n".join(
                    "    " + line for line in document.splitlines()))
            # The IC-SB cluster runs on loopback with one port per member, which
            # ic-db-host cannot say: its remote list is given explicitly.
            remotes = AzRemotes.from_config(config, ovnnb_db=zone.nb.remote,
                                            ovnsb_db=zone.sb.remote,
                                            ic_sb_db=dep.ic_sb.remote)
            applied = await establish(remotes, config, _params(name), options=RunOptions())
            out(f"{name}: established ({applied.transactions} transactions, "
                f"{applied.operations} operations)")

        # ovn-controller on the gateway nodes would claim each transit switch port's
        # chassis-redirect port on its preferred gateway; bind them as it would (the
        # real chassis of the dataplane claim theirs themselves).
        for name, zone in dep.azs.items():
            for t in range(TS_NUM if dp is None else 0):
                ts = "ts" if t == 0 else f"ts{t}"
                await trio.to_thread.run_sync(functools.partial(
                    bind_port, zone.sb.remote, f"cr-{name}-{ts}", f"{name}-gw{t + 1}",
                    timeout=20))

        # 2. One sync engine per AZ.
        out("\n== 2. a sync engine per AZ (holding the ovn_ic lock of its SB) ==")
        async with trio.open_nursery() as nursery:
            for name, zone in dep.azs.items():
                cfg = SyncConfig(ovnnb_db=zone.nb.remote, ovnsb_db=zone.sb.remote,
                                 ic_nb_db=dep.ic_nb.remote, ic_sb_db=dep.ic_sb.remote,
                                 probe_interval=1.0,
                                 extra_planners=(policy_step(CLUSTER_ROUTER),))
                engine = SyncEngine(cfg)
                metrics[name] = register_sync_metrics(engine)
                await nursery.start(functools.partial(engine.run))
                engines[name] = engine
            server = None
            if metrics_address is not None:
                server = await trio.to_thread.run_sync(
                    serve_metrics, metrics["az1"], *metrics_address)
                stack.callback(server.close)
                out(f"az1 engine metrics on http://{server.host}:{server.port}/metrics")

            # 3. Pod subnets on both sides, learned over three ECMP transit switches.
            out("\n== 3. pod subnets on both sides ==")
            for i, (name, zone) in enumerate(dep.azs.items(), 1):
                for j, (subnet, cidr) in enumerate(subnets[name].items(), 1):
                    await trio.to_thread.run_sync(_add_subnet, zone.nb.remote, i, j, subnet,
                                                  cidr, dp, name, zone.sb.remote)
                    pod_text = "" if dp is None else f", Pod {_pod_ip(cidr)}"
                    out(f"{name}: subnet {subnet} {cidr}{pod_text}")
            with _timed(out, "routes learned"):
                for name, engine in engines.items():
                    want = _remote_subnets(subnets, name)
                    result.learned[name] = await _wait(
                        engine, functools.partial(_ecmp_complete, want=want), 45)
            result.show = await show(dep.ic_sb.remote)
            out("\n-- show (as ovn-ic-sbctl show) --")
            out(result.show.rstrip())
            for name, zone in dep.azs.items():
                out(f"\n-- {name}: routes of {CLUSTER_ROUTER} (as ovn-nbctl lr-route-list) --")
                out((await route_list(zone.nb.remote, CLUSTER_ROUTER)).rstrip())
            if dp is not None:
                out("\n-- ping from a Pod of one AZ to a Pod of the other (through the "
                    "transit switches, geneve between the gateways) --")
                for key, src, target in (("az2->az1", "ovn-default-pod-az2", "10.16.0.2"),
                                         ("az1->az2", "ovn-default-pod-az1", "10.18.0.2")):
                    pod = dp.pods[src]
                    await trio.to_thread.run_sync(pod.wait_reachable, target)
                    result.pings[key] = await trio.to_thread.run_sync(pod.ping, target)
                    _ping_lines(out, f"Pod {pod.ip} ({pod.chassis.az}) -> {target}",
                                result.pings[key])
            with trio.fail_after(45):  # the policies follow the learned routes by a pass
                while len(await _policies(dep.azs["az1"].nb.remote)) < len(
                        _remote_subnets(subnets, "az1")):
                    await trio.sleep(0.1)
            out(f"\n-- az1: policies of {CLUSTER_ROUTER} (as ovn-nbctl lr-policy-list) --")
            out((await policy_list(dep.azs["az1"].nb.remote, CLUSTER_ROUTER)).rstrip())
            metrics["az1"].refresh()
            if server is not None:  # a real scrape over HTTP
                url = f"http://{server.host}:{server.port}/metrics"
                scraped = await trio.to_thread.run_sync(_scrape, url)
                out(f"\n-- az1: a scrape of {url} (excerpt) --")
            else:
                scraped = generate_latest(metrics["az1"].registry).decode()
                out("\n-- az1: its engine's metrics (excerpt) --")
            result.metrics = scraped
            out("\n".join(line for line in scraped.splitlines() if line.startswith((
                "ovsdb_ic_sync_passes_total", "ovsdb_ic_sync_commits_total",
                "ovsdb_ic_sync_routes_", "ovsdb_ic_sync_lock_held"))))

            # 4. Kill the IC-SB leader; the engines carry on.
            out("\n== 4. kill -9 the IC-SB leader ==")
            leader = await trio.to_thread.run_sync(dep.ic_sb.leader)
            running = None
            if dp is not None:
                running = dp.pods["ovn-default-pod-az2"].start_ping(
                    "10.16.0.2", interval=0.05)
                out("a Pod of az2 pings 10.16.0.2 (az1) every 50 ms meanwhile")
            leader.kill()
            out(f"killed {leader.name}")
            subnets["az1"]["api"] = "10.24.0.1/16"
            await trio.to_thread.run_sync(_add_subnet, dep.azs["az1"].nb.remote, 1,
                                          len(subnets["az1"]), "api", "10.24.0.1/16",
                                          dp, "az1", dep.azs["az1"].sb.remote)
            out("az1: subnet api 10.24.0.1/16 (added while IC-SB elects a new leader)")
            with _timed(out, "learned across the failover"):
                want = _remote_subnets(subnets, "az2")
                result.after_failover["az2"] = await _wait(
                    engines["az2"], lambda got: _ecmp_complete(got, want), 45)
            new_leader = await trio.to_thread.run_sync(dep.ic_sb.leader)
            stats = engines["az2"].clients["ic_sb"].stats
            out(f"IC-SB leader is now {new_leader.name}; az2's IC-SB client reconnected "
                f"{stats.reconnects} time(s), resumed {stats.resumes} monitor(s), "
                f"full resyncs: {stats.resyncs}")
            n = sum(1 for p, _ in result.after_failover["az2"] if p == "10.24.0.1/16")
            out(f"az2 learned 10.24.0.1/16 over {n} transit switches")
            if running is not None:
                ping = result.pings["failover"] = await trio.to_thread.run_sync(running.stop)
                out(f"ping az2 -> az1 across the failover: {ping.summary} "
                    f"({ping.lost} lost)")

            # 5. disableInterConnection on one subnet: its route is withdrawn.
            zone_name, subnet = WITHDRAWN
            cidr = str(_cidr(subnets[zone_name][subnet]).prefix())
            out(f"\n== 5. {zone_name}: subnet {subnet} ({cidr}) marked "
                "disableInterConnection ==")
            z = dep.azs[zone_name]
            remotes = AzRemotes.from_config(configs[zone_name], ovnnb_db=z.nb.remote,
                                            ovnsb_db=z.sb.remote, ic_sb_db=dep.ic_sb.remote)
            await establish(remotes, configs[zone_name],
                            _params(zone_name, disabled=(cidr,)), options=RunOptions())
            with _timed(out, "withdrawn"):
                want = _remote_subnets(subnets, "az1", skip=WITHDRAWN)
                result.after_withdraw["az1"] = await _wait(
                    engines["az1"], lambda got: {p for p, _ in got} == want, 45)
            out(f"az1 no longer routes to {subnets[zone_name][subnet]}; it keeps "
                + ", ".join(sorted({p for p, _ in result.after_withdraw['az1']})))
            if dp is not None:
                pod = dp.pods["ovn-default-pod-az1"]
                gone, kept = _pod_ip(subnets[zone_name][subnet]), "10.18.0.2"
                await trio.to_thread.run_sync(_wait_unreachable, pod, gone)
                result.pings["withdrawn"] = await trio.to_thread.run_sync(pod.ping, gone)
                result.pings["kept"] = await trio.to_thread.run_sync(pod.ping, kept)
                out(f"Pod {pod.ip} (az1) -> {gone} (withdrawn): "
                    f"{result.pings['withdrawn'].summary}")
                out(f"Pod {pod.ip} (az1) -> {kept} (still advertised): "
                    f"{result.pings['kept'].summary}")
            for name, engine in engines.items():
                s = engine.stats
                out(f"{name} engine: {s.passes} passes, {s.commits} transactions, "
                    f"{s.ops} operations, {s.conflicts} conflicts")
            if keep_running:
                await _serve_until_signal(dep, out)
            nursery.cancel_scope.cancel()
        out("\nStopping everything ...")
    result.seconds = time.monotonic() - t_start
    out(f"Done in {result.seconds:.1f} s; every process stopped.")
    return result


def _params(az: str, disabled: tuple[str, ...] = ()) -> EstablishParams:
    index = list(SUBNETS).index(az) + 1
    return EstablishParams(ts_num=TS_NUM, cluster_router=CLUSTER_ROUTER, protocol="IPv4",
                           disabled_subnets=disabled, join_subnet=JOIN_SUBNET,
                           node_ips=(f"172.18.0.{10 * index + 1}", f"172.18.0.{10 * index + 2}"))


def _ecmp_complete(got: set[tuple[str, str]], want: set[str]) -> bool:
    """Every wanted prefix is learned over all TS_NUM transit switches, nothing else."""
    prefixes = {p for p, _ in got}
    if prefixes != want:
        return False
    return all(sum(1 for p, _ in got if p == w) == TS_NUM for w in want)
