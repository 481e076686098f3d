"""Interconnection topologies for the differential tests: the data, generators, and how
to build one in a real :class:`~ovsdb_ic.testing.IcDeployment`.

A :class:`Topology` is plain data: transit switches (IC-NB), and per availability zone the
``NB_Global`` name and route options, routers with LAN ports (IPv4/IPv6 networks), ports on
transit switches (``169.254.(100+t).x/24`` and ``fd00:a9fe:(64+t)::x/112``, with a route
table and a gateway chassis), static routes (route tables, ``src-ip`` policies, default
routes, ECMP, ``discard``), deny lists, and SB chassis standing in for ``ovn-controller``.

:func:`build` applies it with the real tools (``ovn-ic-nbctl``, ``ovn-nbctl``,
``ovn-sbctl``), in the order an operator would: transit switches, AZ configuration and
gateways; ``ovn-northd`` and the IC agents; then, once each agent has created the transit
switches in its NB, the transit switch ports and the gateway port bindings.

:func:`topologies` is a hypothesis strategy that only draws topologies on which the C
``ovn-ic`` 23.03 behaves correctly (no two routers of an AZ on one transit switch, no IPv6
deny-list entry, dual-stack transit ports, distinct transit subnets, no static route whose
prefix string is also a router port network), so that it and the engine must agree; the
23.03 defect cases are separate named topologies (``DEFECTS``).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar, cast

import attrs
from hypothesis import strategies as st

from ovsdb_ic.testing import IcDeployment, Sandbox
from ovsdb_ic.testing.deployment import AgentKind
from ovsdb_ic.testing.install import OvnInstall
from ovsdb_ic.testing.ovn import (
    IcState,
    add_chassis,
    bind_port,
    daemon_log_tails,
    ovn_ic_nbctl,
    ovn_nbctl,
    query,
    wait_for,
)

T = TypeVar("T")

# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@attrs.frozen
class StaticRoute:
    """An NB static route; *ecmp* adds it with ``--ecmp`` (same prefix, another nexthop)."""

    prefix: str
    nexthop: str
    route_table: str = ""
    policy: str = "dst-ip"
    ecmp: bool = False


@attrs.frozen
class RouterPort:
    """A router port that is not on a transit switch (its networks are advertised)."""

    name: str
    mac: str
    networks: tuple[str, ...]


@attrs.frozen
class TsPort:
    """A router's port on transit switch *ts*: LRP *lrp* and, on the switch, LSP *lsp*
    (type router). *gateway* is the LRP's gateway chassis; *bind* binds ``cr-<lrp>`` to it
    (as ``ovn-controller`` on the gateway would)."""

    ts: str
    lrp: str
    lsp: str
    mac: str
    networks: tuple[str, ...]
    route_table: str = ""
    gateway: str | None = None
    bind: bool = True
    route_tag: str = ""
    route_filter_tag: str = ""


@attrs.frozen
class Router:
    """A logical router, its LAN ports, its transit switch ports and static routes."""

    name: str
    ports: tuple[RouterPort, ...] = ()
    ts_ports: tuple[TsPort, ...] = ()
    routes: tuple[StaticRoute, ...] = ()


@attrs.frozen
class Chassis:
    """An SB chassis standing in for ``ovn-controller``; *interconn*: an IC gateway."""

    name: str
    encap_ip: str
    encap_type: str = "geneve"
    hostname: str = ""
    interconn: bool = True


@attrs.frozen
class Zone:
    """One availability zone: ``NB_Global`` name and options, routers, chassis."""

    name: str
    routers: tuple[Router, ...] = ()
    chassis: tuple[Chassis, ...] = ()
    adv: bool = True
    learn: bool = True
    adv_default: bool = False
    learn_default: bool = False
    denylist: tuple[str, ...] = ()
    denylist_key: str = "ic-route-blacklist"

    def options(self) -> dict[str, str]:
        """The ``NB_Global.options`` this zone sets."""
        opts = {
            "ic-route-adv": str(self.adv).lower(),
            "ic-route-learn": str(self.learn).lower(),
            "ic-route-adv-default": str(self.adv_default).lower(),
            "ic-route-learn-default": str(self.learn_default).lower(),
        }
        if self.denylist:
            opts[self.denylist_key] = ",".join(self.denylist)
        return opts


@attrs.frozen
class Topology:
    """Transit switches and zones; *name* labels it in test ids and messages."""

    name: str
    transit_switches: tuple[str, ...]
    zones: tuple[Zone, ...]

    @property
    def az_names(self) -> tuple[str, ...]:
        """The zones' names, in order."""
        return tuple(z.name for z in self.zones)

    def zone(self, name: str) -> Zone:
        """The zone called *name*."""
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(name)


# --------------------------------------------------------------------------------------
# Addressing (one scheme for named and generated topologies)
# --------------------------------------------------------------------------------------


def lan_v4(a: int, r: int, p: int) -> str:
    """LAN network ``p`` of router ``r`` of zone ``a`` (1-based), host address .1."""
    return f"10.{a * 10 + r}.{p}.1/24"


def lan_v6(a: int, r: int, p: int) -> str:
    """The IPv6 LAN network matching :func:`lan_v4`."""
    return f"2001:db8:{a * 10 + r:x}:{p:x}::1/64"


def ts_v4(t: int, a: int, r: int) -> str:
    """Zone ``a``'s router ``r`` address on transit switch ``t`` (0-based)."""
    return f"169.254.{100 + t}.{a * 10 + r}/24"


def ts_v6(t: int, a: int, r: int) -> str:
    """The IPv6 address matching :func:`ts_v4` (not link-local: ``fd00:a9fe:...``)."""
    return f"fd00:a9fe:{100 + t:x}::{a * 10 + r:x}/112"


def mac(kind: int, a: int, r: int, p: int) -> str:
    """A unicast MAC per (kind, zone, router, port)."""
    return f"0a:{kind:02x}:00:{a:02x}:{r:02x}:{p:02x}"


def gateway_chassis(a: int, g: int) -> Chassis:
    """Gateway ``g`` of zone ``a`` (encap IPs are unique: IC-SB indexes (type, ip))."""
    return Chassis(name=f"gw{g}-az{a}", encap_ip=f"192.168.{a}.{g}", hostname=f"host-gw{g}-az{a}")


def ts_port(
    ts_index: int,
    ts: str,
    a: int,
    r: int,
    *,
    gateway: str | None = None,
    route_table: str = "",
    bind: bool = True,
    networks: tuple[str, ...] | None = None,
    route_tag: str = "",
    route_filter_tag: str = "",
) -> TsPort:
    """Router ``r`` of zone ``a`` on transit switch *ts* (index *ts_index*), dual-stack
    unless *networks* says otherwise."""
    az = f"az{a}"
    return TsPort(
        ts=ts,
        lrp=f"{az}-lr{r}-{ts}",
        lsp=f"{ts}-{az}-lr{r}",
        mac=mac(1, a, r, ts_index),
        networks=networks or (ts_v4(ts_index, a, r), ts_v6(ts_index, a, r)),
        route_table=route_table,
        gateway=gateway,
        bind=bind,
        route_tag=route_tag,
        route_filter_tag=route_filter_tag,
    )


# --------------------------------------------------------------------------------------
# Building a topology in a deployment
# --------------------------------------------------------------------------------------


def _q(value: str) -> str:
    """Quote a value for ovn-nbctl's database syntax."""
    return json.dumps(value)


def zone_nb_commands(zone: Zone) -> list[str]:
    """One ``ovn-nbctl`` argument list (commands joined by ``--``) configuring *zone*."""
    cmds: list[list[str]] = [["init"]]
    sets = [f"name={_q(zone.name)}"]
    sets += [f"options:{k}={_q(v)}" for k, v in zone.options().items()]
    cmds.append(["set", "NB_Global", ".", *sets])
    for router in zone.routers:
        cmds.append(["lr-add", router.name])
        for port in router.ports:
            cmds.append(["lrp-add", router.name, port.name, port.mac, *port.networks])
        for tp in router.ts_ports:
            cmds.append(["lrp-add", router.name, tp.lrp, tp.mac, *tp.networks])
            if tp.route_table:
                table = f"options:route_table={_q(tp.route_table)}"
                cmds.append(["set", "Logical_Router_Port", tp.lrp, table])
            # OVN 25.03's route tags (a 23.03 ovn-ic ignores them).
            for key, tag in (("ic-route-tag", tp.route_tag),
                             ("ic-route-filter-tag", tp.route_filter_tag)):  # fmt: skip
                if tag:
                    cmds.append(["set", "Logical_Router_Port", tp.lrp, f"options:{key}={_q(tag)}"])
            if tp.gateway is not None:
                cmds.append(["lrp-set-gateway-chassis", tp.lrp, tp.gateway, "100"])
        for route in router.routes:
            opts = []
            if route.ecmp:
                opts.append("--ecmp")
            if route.route_table:
                opts.append(f"--route-table={route.route_table}")
            if route.policy != "dst-ip":
                opts.append(f"--policy={route.policy}")
            cmds.append([*opts, "lr-route-add", router.name, route.prefix, route.nexthop])
    argv: list[str] = []
    for cmd in cmds:
        argv += [*(["--"] if argv else []), *cmd]
    return argv


def apply_zone(zone: Zone, nb: str, sb: str, ovn: OvnInstall | None = None) -> None:
    """Configure *zone*'s NB (options, routers, routes) and SB (chassis), with the tools
    of OVN release *ovn* (default 23.03)."""
    ovn_nbctl(nb, *zone_nb_commands(zone), ovn=ovn)
    for chassis in zone.chassis:
        add_chassis(
            sb,
            chassis.name,
            encaps=[(chassis.encap_type, chassis.encap_ip)],
            hostname=chassis.hostname or chassis.name,
            interconn=chassis.interconn,
            ovn=ovn,
        )


def apply_transit_switches(topology: Topology, ic_nb: str, ovn: OvnInstall | None = None) -> None:
    """Create the transit switches in IC-NB."""
    argv: list[str] = []
    for ts in topology.transit_switches:
        argv += [*(["--"] if argv else []), "ts-add", ts]
    if argv:
        ovn_ic_nbctl(ic_nb, *argv, ovn=ovn)


def _nb_transit_switches(nb: str) -> set[str]:
    rows = query(nb, "OVN_Northbound", {"Logical_Switch": ["name", "other_config"]})
    return {
        r["name"]
        for r in rows["Logical_Switch"]
        if isinstance(r["other_config"], dict) and "interconn-ts" in r["other_config"]
    }


def _has_switches(nb: str, switches: set[str]) -> bool:
    return switches <= _nb_transit_switches(nb)


def _ic_sb_zones(ic_sb: str) -> set[str]:
    rows = query(ic_sb, "OVN_IC_Southbound", {"Availability_Zone": ["name"]})
    return {r["name"] for r in rows["Availability_Zone"]}


def wait_agents_started(topology: Topology, ic_sb: str, nbs: Mapping[str, str]) -> None:
    """Wait until every zone's agent acted: its AZ is registered in IC-SB and every
    transit switch exists in its NB (so a quiet period cannot be mistaken for a settled
    state while an agent is still starting)."""
    wanted = set(topology.az_names)
    wait_for(lambda: wanted <= _ic_sb_zones(ic_sb), timeout=30, what=f"AZs {sorted(wanted)}")
    switches = set(topology.transit_switches)
    for zone in topology.zones:
        nb = nbs[zone.name]
        wait_for(
            functools.partial(_has_switches, nb, switches),
            timeout=30,
            what=f"transit switches {sorted(switches)} in {zone.name}'s NB",
        )


def attach_ts_ports(
    zone: Zone, nb: str, sb: str, *, timeout: float = 20.0, ovn: OvnInstall | None = None
) -> None:
    """Once the agent created the transit switches in *zone*'s NB, add the router-type
    LSPs on them, then bind each ``cr-<lrp>`` to its gateway chassis."""
    needed = {tp.ts for r in zone.routers for tp in r.ts_ports}
    if not needed:
        return
    wait_for(
        lambda: needed <= _nb_transit_switches(nb),
        timeout=timeout,
        what=f"transit switches {sorted(needed)} in {zone.name}'s NB",
    )
    argv: list[str] = []
    for router in zone.routers:
        for tp in router.ts_ports:
            cmd = [
                "lsp-add", tp.ts, tp.lsp,
                "--", "lsp-set-type", tp.lsp, "router",
                "--", "lsp-set-addresses", tp.lsp, "router",
                "--", "lsp-set-options", tp.lsp, f"router-port={tp.lrp}",
            ]  # fmt: skip
            argv += [*(["--"] if argv else []), *cmd]
    ovn_nbctl(nb, *argv, ovn=ovn)
    for router in zone.routers:
        for tp in router.ts_ports:
            if tp.gateway is not None and tp.bind:
                bind_port(sb, f"cr-{tp.lrp}", tp.gateway, timeout=timeout, ovn=ovn)


def build(
    deployment: IcDeployment,
    topology: Topology,
    agents: AgentKind | Mapping[str, AgentKind],
) -> None:
    """Build *topology* in *deployment* (whose AZ names are the zones' names), starting
    ``ovn-northd`` (unless running) and the IC agent of each zone (*agents*: one kind for
    all, or per zone name)."""
    ovn = deployment.ovn
    for zone in topology.zones:
        az = deployment.azs[zone.name]
        apply_zone(zone, az.nb.remote, az.sb.remote, ovn)
    apply_transit_switches(topology, deployment.ic_nb.remote, ovn)
    for zone in topology.zones:
        if zone.name not in deployment.northd:
            deployment.start_northd(zone.name)
        kind = agents if isinstance(agents, str) else agents[zone.name]
        deployment.start_agent(zone.name, kind)
    wait_agents_started(
        topology,
        deployment.ic_sb.reachable()[0].remote,
        {name: az.nb.remote for name, az in deployment.azs.items()},
    )
    for zone in topology.zones:
        az = deployment.azs[zone.name]
        attach_ts_ports(zone, az.nb.remote, az.sb.remote, ovn=ovn)


def run_topology(
    topology: Topology,
    agents: AgentKind | Mapping[str, AgentKind],
    *,
    quiet: float = 1.0,
    timeout: float = 30.0,
    then: Callable[[IcDeployment, IcState], T] | None = None,
    ovn: str | None = None,
) -> IcState | T:
    """Start a fresh deployment (IC-SB: a 1-member cluster) of OVN release *ovn*
    (default 23.03: servers, ``ovn-northd``, the C ``ovn-ic`` and the tools), build
    *topology* with *agents*, settle, and return the state (or ``then(deployment,
    state)``, called before the deployment is torn down). Errors carry the daemons' and
    servers' logs."""
    with Sandbox(ovn=ovn) as box:
        try:
            deployment = IcDeployment.start(box, azs=topology.az_names, ic_sb_size=1)
            build(deployment, topology, agents)
            state = deployment.settle(quiet=quiet, timeout=timeout)
            if then is not None:
                return then(deployment, state)
            return state
        except BaseException as exc:
            exc.add_note(f"topology {topology.name}, agents {agents}, OVN {box.ovn.version}")
            exc.add_note(daemon_log_tails(box, 15))
            raise


def in_parallel(*calls: Callable[[], T]) -> list[T]:
    """Run *calls* in threads (each builds its own sandbox) and return their results in
    order; the first exception is re-raised after all finished."""
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:
            errors[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for err in errors:
        if err is not None:
            raise err
    return cast(list[T], results)


# --------------------------------------------------------------------------------------
# Named topologies
# --------------------------------------------------------------------------------------


def _lan(a: int, r: int, p: int, *, v4: bool = True, v6: bool = True) -> RouterPort:
    nets = tuple(n for n, on in ((lan_v4(a, r, p), v4), (lan_v6(a, r, p), v6)) if on)
    return RouterPort(name=f"az{a}-lr{r}-p{p}", mac=mac(0, a, r, p), networks=nets)


def basic_two_az() -> Topology:
    """Two AZs on one transit switch, a router each with a dual-stack LAN and one static
    route: the smallest useful interconnection."""
    zones = []
    for a in (1, 2):
        zones.append(
            Zone(
                name=f"az{a}",
                chassis=(gateway_chassis(a, 1),),
                routers=(
                    Router(
                        name="lr1",
                        ports=(_lan(a, 1, 1),),
                        ts_ports=(ts_port(0, "ts1", a, 1, gateway=f"gw1-az{a}"),),
                        routes=(StaticRoute(f"172.{16 + a}.0.0/16", f"10.{a * 10 + 1}.1.254"),),
                    ),
                ),
            )
        )
    return Topology("basic_two_az", ("ts1",), tuple(zones))


def rich_two_az() -> Topology:
    """Two AZs, two transit switches, every route feature at once: route tables on a
    transit port, src-ip policies, default routes (advertised by az1, learned by az2),
    ECMP, a discard route, a deny list, an IPv6 default, two routers of az2 on different
    transit switches, a second gateway, an unbound gateway port and a plain chassis."""
    az1 = Zone(
        name="az1",
        adv_default=True,
        denylist=("172.31.0.0/16", "10.99.0.0/16"),
        chassis=(
            gateway_chassis(1, 1),
            gateway_chassis(1, 2),
            Chassis(name="hv1-az1", encap_ip="192.168.1.100", interconn=False),
        ),
        routers=(
            Router(
                name="lr1",
                ports=(_lan(1, 1, 1), _lan(1, 1, 2, v6=False), _lan(1, 1, 3, v4=False)),
                ts_ports=(
                    ts_port(0, "ts1", 1, 1, gateway="gw1-az1"),
                    ts_port(1, "ts2", 1, 1, gateway="gw2-az1", route_table="rtb1"),
                ),
                routes=(
                    StaticRoute("172.20.0.0/16", "10.11.1.254"),
                    StaticRoute("172.20.0.0/16", "10.11.1.253", ecmp=True),
                    StaticRoute("172.21.0.0/16", "10.11.1.254", route_table="rtb1"),
                    StaticRoute("172.22.0.0/16", "10.11.1.254", policy="src-ip"),
                    StaticRoute("172.31.5.0/24", "10.11.1.254"),
                    StaticRoute("172.23.0.0/16", "discard"),
                    StaticRoute("0.0.0.0/0", "10.11.1.1"),
                    StaticRoute("::/0", "2001:db8:b:1::fe"),
                    StaticRoute("2001:db8:ff01::/48", "2001:db8:b:1::fe"),
                    StaticRoute("2001:db8:ff02::/48", "2001:db8:b:1::fe", route_table="rtb1"),
                ),
            ),
        ),
    )
    az2 = Zone(
        name="az2",
        learn_default=True,
        denylist=("172.22.0.0/16",),
        chassis=(gateway_chassis(2, 1), gateway_chassis(2, 2)),
        routers=(
            Router(
                name="lr1",
                ports=(_lan(2, 1, 1),),
                ts_ports=(ts_port(0, "ts1", 2, 1, gateway="gw1-az2"),),
                routes=(
                    StaticRoute("172.24.0.0/16", "10.21.1.254"),
                    StaticRoute("10.99.1.0/24", "10.21.1.254"),
                ),
            ),
            Router(
                name="lr2",
                ports=(_lan(2, 2, 1),),
                ts_ports=(
                    ts_port(1, "ts2", 2, 2, gateway="gw2-az2", route_table="rtb1", bind=False),
                ),
                routes=(
                    StaticRoute("172.25.0.0/16", "10.22.1.254", route_table="rtb1"),
                    StaticRoute("172.26.0.0/16", "10.22.1.254", route_table="rtb2"),
                ),
            ),
        ),
    )
    return Topology("rich_two_az", ("ts1", "ts2"), (az1, az2))


def three_az_ecmp() -> Topology:
    """Three AZs on two transit switches: az2 (on ts1) and az3 (on ts1 and ts2) advertise
    the same prefix, so az1 (on both) learns it three times (ECMP); az3 does not learn;
    az1's deny list hides one of az2's prefixes; a prefix az1 also has as a local static
    route is not learned."""
    where = {1: ("ts1", "ts2"), 2: ("ts1",), 3: ("ts1", "ts2")}
    zones = []
    for a in (1, 2, 3):
        routes = [StaticRoute("172.30.0.0/16", f"10.{a * 10 + 1}.1.254")] if a != 1 else []
        if a == 2:
            routes.append(StaticRoute("172.28.0.0/16", "10.21.1.254"))
            routes.append(StaticRoute("172.29.0.0/16", "10.21.1.254"))
        if a == 1:
            routes.append(StaticRoute("172.29.0.0/16", "10.11.1.254"))
        zones.append(
            Zone(
                name=f"az{a}",
                learn=a != 3,
                denylist=("172.28.0.0/16",) if a == 1 else (),
                chassis=(gateway_chassis(a, 1),),
                routers=(
                    Router(
                        name="lr1",
                        ports=(_lan(a, 1, 1),),
                        ts_ports=tuple(
                            ts_port(t, ts, a, 1, gateway=f"gw1-az{a}")
                            for t, ts in enumerate(("ts1", "ts2"))
                            if ts in where[a]
                        ),
                        routes=tuple(routes),
                    ),
                ),
            )
        )
    return Topology("three_az_ecmp", ("ts1", "ts2"), tuple(zones))


NAMED: dict[str, Callable[[], Topology]] = {
    "basic_two_az": basic_two_az,
    "rich_two_az": rich_two_az,
    "three_az_ecmp": three_az_ecmp,
}
"""Fixed topologies on which the C daemon 23.03 is correct."""


# --------------------------------------------------------------------------------------
# The 23.03 defect cases (spec: "23.03 defects the engine does not copy")
# --------------------------------------------------------------------------------------


def defect_ipv6_denylist() -> Topology:
    """az1 denies ``2001:db8:ffff::/48`` and advertises ``2001:db8:b:1::1/64`` (outside
    it) and ``2001:db8:ffff:1::/64`` (inside it); 23.03 blocks both."""
    base = basic_two_az()
    az1 = base.zone("az1")
    router = attrs.evolve(
        az1.routers[0],
        routes=(*az1.routers[0].routes, StaticRoute("2001:db8:ffff:1::/64", "2001:db8:b:1::fe")),
    )
    az1 = attrs.evolve(az1, denylist=("2001:db8:ffff::/48",), routers=(router,))
    return attrs.evolve(base, name="defect_ipv6_denylist", zones=(az1, base.zone("az2")))


def defect_two_routers_one_ts() -> Topology:
    """az1 has two routers (lr1, lr2) on the same transit switch ts1."""
    base = basic_two_az()
    az1 = base.zone("az1")
    lr2 = Router(
        name="lr2",
        ports=(_lan(1, 2, 1),),
        ts_ports=(ts_port(0, "ts1", 1, 2, gateway="gw1-az1"),),
        routes=(StaticRoute("172.27.0.0/16", "10.12.1.254"),),
    )
    az1 = attrs.evolve(az1, routers=(*az1.routers, lr2))
    return attrs.evolve(base, name="defect_two_routers_one_ts", zones=(az1, base.zone("az2")))


def defect_ipv6_on_ipv4_only_ts_port() -> Topology:
    """az1's transit port has only an IPv4 address, and az1's router has IPv6 networks."""
    base = basic_two_az()
    az1 = base.zone("az1")
    r = az1.routers[0]
    tp = attrs.evolve(r.ts_ports[0], networks=(ts_v4(0, 1, 1),))
    az1 = attrs.evolve(az1, routers=(attrs.evolve(r, ts_ports=(tp,)),))
    return attrs.evolve(
        base, name="defect_ipv6_on_ipv4_only_ts_port", zones=(az1, base.zone("az2"))
    )


def defect_static_equals_network() -> Topology:
    """az1's router has LAN network ``10.11.9.0/24`` written without host bits, and a
    static route to ``10.11.9.0/24``: the same IC-SB unique key twice."""
    base = basic_two_az()
    az1 = base.zone("az1")
    r = az1.routers[0]
    port = RouterPort(name="az1-lr1-p9", mac=mac(0, 1, 1, 9), networks=("10.11.9.0/24",))
    r = attrs.evolve(
        r,
        ports=(*r.ports, port),
        routes=(*r.routes, StaticRoute("10.11.9.0/24", "10.11.1.254")),
    )
    az1 = attrs.evolve(az1, routers=(r,))
    return attrs.evolve(base, name="defect_static_equals_network", zones=(az1, base.zone("az2")))


def defect_identical_learned_keys() -> Topology:
    """az2 (on ts1) and az3 (on ts2) advertise ``172.30.0.0/16`` with the same nexthop
    169.254.100.2 (ts2 reuses ts1's subnet); az1, on both, learns the same key twice."""
    # (zone, transit switch) -> host part in 169.254.100.0/24, used on both switches.
    hosts = {(1, "ts1"): 1, (1, "ts2"): 3, (2, "ts1"): 2, (3, "ts2"): 2}
    zones = []
    for a in (1, 2, 3):
        ports = tuple(
            TsPort(
                ts=ts,
                lrp=f"az{a}-lr1-{ts}",
                lsp=f"{ts}-az{a}-lr1",
                mac=mac(1, a, 1, int(ts[2:])),
                networks=(f"169.254.100.{host}/24", f"fd00:a9fe:64::{host:x}/112"),
                gateway=f"gw1-az{a}",
            )
            for (za, ts), host in hosts.items()
            if za == a
        )
        routes = () if a == 1 else (StaticRoute("172.30.0.0/16", f"10.{a * 10 + 1}.1.254"),)
        zones.append(
            Zone(
                name=f"az{a}",
                adv=a != 1,
                chassis=(gateway_chassis(a, 1),),
                routers=(
                    Router(
                        name="lr1",
                        ports=(_lan(a, 1, 1, v6=False),),
                        ts_ports=ports,
                        routes=routes,
                    ),
                ),
            )
        )
    return Topology("defect_identical_learned_keys", ("ts1", "ts2"), tuple(zones))


DEFECTS: dict[str, Callable[[], Topology]] = {
    "ipv6_denylist": defect_ipv6_denylist,
    "two_routers_one_ts": defect_two_routers_one_ts,
    "ipv6_on_ipv4_only_ts_port": defect_ipv6_on_ipv4_only_ts_port,
    "static_equals_network": defect_static_equals_network,
    "identical_learned_keys": defect_identical_learned_keys,
}
"""The spec's 23.03 defect cases (the "routers of one AZ learn each other's routes" case
uses ``two_routers_one_ts``)."""


# --------------------------------------------------------------------------------------
# Hypothesis strategies
# --------------------------------------------------------------------------------------

_DENY_CANDIDATES = ("172.17.0.0/16", "172.30.0.0/16", "10.12.0.0/16", "172.18.5.0/24")
_ROUTE_TABLES = ("", "", "rtb1")


@st.composite
def static_routes(draw: st.DrawFn, a: int, r: int) -> tuple[StaticRoute, ...]:
    """0-6 static routes for router ``r`` of zone ``a`` (LAN 1 is dual-stack, so its
    ``.254`` / ``::fe`` are valid nexthops). Prefixes come from a pool shared by all zones
    (so zones advertise overlapping prefixes) plus per-zone ones and default routes."""
    pool4 = [f"172.{16 + a}.{k}.0/24" for k in range(3)] + ["172.30.0.0/16", "0.0.0.0/0"]
    pool6 = [f"2001:db8:f{a:x}{k:x}::/48" for k in range(2)] + ["2001:db8:3000::/36", "::/0"]
    nh4 = [f"10.{a * 10 + r}.1.254", f"10.{a * 10 + r}.1.253"]
    nh6 = [f"2001:db8:{a * 10 + r:x}:1::fe", f"2001:db8:{a * 10 + r:x}:1::fd"]
    count = draw(st.integers(0, 6))
    routes: list[StaticRoute] = []
    used: set[tuple[str, str]] = set()
    for _ in range(count):
        v6 = draw(st.booleans())
        prefix = draw(st.sampled_from(pool6 if v6 else pool4))
        table = draw(st.sampled_from(_ROUTE_TABLES))
        if (prefix, table) in used:
            continue
        used.add((prefix, table))
        policy = draw(st.sampled_from(("dst-ip", "dst-ip", "dst-ip", "src-ip")))
        shape = draw(st.sampled_from(("one", "one", "ecmp", "discard")))
        nexthops = nh6 if v6 else nh4
        if shape == "discard" and policy == "dst-ip":
            routes.append(StaticRoute(prefix, "discard", table))
            continue
        routes.append(StaticRoute(prefix, nexthops[0], table, policy))
        if shape == "ecmp":
            routes.append(StaticRoute(prefix, nexthops[1], table, policy, ecmp=True))
    return tuple(routes)


@st.composite
def zones(draw: st.DrawFn, a: int, transit_switches: Sequence[str]) -> Zone:
    """Zone ``az<a>``: options, 1-2 gateways (plus maybe a plain chassis), 1-2 routers;
    each transit switch gets at most one of its routers."""
    n_gw = draw(st.integers(1, 2))
    chassis = [gateway_chassis(a, g) for g in range(1, n_gw + 1)]
    if draw(st.booleans()):
        chassis.append(Chassis(name=f"hv-az{a}", encap_ip=f"192.168.{a}.100", interconn=False))
    n_routers = draw(st.integers(1, 2))
    # Every zone is on the first transit switch (so the zones are interconnected); the
    # others get one of its routers or none.
    owner = {
        ts: draw(
            st.sampled_from(list(range(1, n_routers + 1)))
            if i == 0
            else st.sampled_from([None, *range(1, n_routers + 1)])
            if n_routers > 1
            else st.sampled_from([1, 1, None])
        )
        for i, ts in enumerate(transit_switches)
    }
    routers = []
    for r in range(1, n_routers + 1):
        lans = [_lan(a, r, 1)]
        if draw(st.booleans()):
            v4, v6 = draw(st.sampled_from([(True, False), (False, True), (True, True)]))
            lans.append(_lan(a, r, 2, v4=v4, v6=v6))
        tps = []
        for t, ts in enumerate(transit_switches):
            if owner[ts] != r:
                continue
            gw = draw(st.sampled_from([c.name for c in chassis if c.interconn]))
            tps.append(
                ts_port(
                    t,
                    ts,
                    a,
                    r,
                    gateway=gw,
                    route_table=draw(st.sampled_from(_ROUTE_TABLES)),
                    bind=draw(st.sampled_from([True, True, True, False])),
                )
            )
        routers.append(
            Router(
                name=f"lr{r}",
                ports=tuple(lans),
                ts_ports=tuple(tps),
                routes=draw(static_routes(a, r)),
            )
        )
    deny = draw(st.lists(st.sampled_from(_DENY_CANDIDATES), max_size=2, unique=True))
    return Zone(
        name=f"az{a}",
        routers=tuple(routers),
        chassis=tuple(chassis),
        adv=draw(st.sampled_from([True] * 5 + [False])),
        learn=draw(st.sampled_from([True] * 5 + [False])),
        adv_default=draw(st.booleans()),
        learn_default=draw(st.booleans()),
        denylist=tuple(deny),
    )


@st.composite
def topologies(draw: st.DrawFn, min_azs: int = 2, max_azs: int = 3) -> Topology:
    """Two- or three-AZ topologies with 1-3 transit switches (see the module docstring
    for what is left out so that the C daemon 23.03 is a valid reference)."""
    n_az = draw(st.integers(min_azs, max_azs))
    n_ts = draw(st.integers(1, 3))
    switches = tuple(f"ts{i}" for i in range(1, n_ts + 1))
    drawn = tuple(draw(zones(a, switches)) for a in range(1, n_az + 1))
    topo = Topology(name=f"generated_{n_az}az_{n_ts}ts", transit_switches=switches, zones=drawn)
    assert_reference_safe(topo)
    return topo


def assert_reference_safe(topology: Topology) -> None:
    """Check that *topology* avoids every 23.03 defect case (a generator bug otherwise)."""
    for zone in topology.zones:
        per_ts: dict[str, int] = {}
        networks: set[str] = set()
        for router in zone.routers:
            for tp in router.ts_ports:
                per_ts[tp.ts] = per_ts.get(tp.ts, 0) + 1
                assert any(":" in n for n in tp.networks), f"{tp.lrp} is not dual-stack"
            for port in router.ports:
                networks.update(port.networks)
            for route in router.routes:
                assert route.prefix not in networks, f"{route.prefix} is also a network"
        assert all(n == 1 for n in per_ts.values()), f"{zone.name}: two routers on one TS"
        for entry in zone.denylist:
            assert ipaddress.ip_network(entry).version == 4, f"IPv6 deny-list entry {entry}"
