"""Many AZs on one IC-SB cluster: the C ``ovn-ic`` beside the sync engine.

Set-up, the same for every agent kind: IC-NB (standalone) and IC-SB (a 3-member Raft
cluster on loopback TCP) in one :class:`~ovsdb_ic.testing.Sandbox`; N availability zones,
each with its own NB and SB (unix sockets) and ``ovn-northd``; one transit switch ``ts1``;
per AZ one router with a LAN port (``10.<i>.0.1/24``), a transit port bound to the AZ's
gateway chassis, route advertising and learning on, and R static ``/32`` routes. As in
``benchmarks/convergence.py``, ``ovn-northd`` runs while the transit ports get their SB
bindings and is then paused, so its flow computation does not compete with the agents.

Agent kinds (``--agents``):

* ``ovn-ic``: the C daemon, one process per AZ;
* ``engine``: ``python -m ovsdb_ic sync``, one process per AZ;
* ``embedded``: all N engines in ONE Python process (``run_sync`` per AZ in one trio
  nursery), the "other tools embed the engine" case no C daemon offers;
* ``shared``: as ``embedded``, but the N engines share one IC-NB and one IC-SB
  connection and replica (``run_syncs``): IC-SB is copied and each update decoded
  once per process instead of once per engine.

With ``--processes K`` the ``embedded`` and ``shared`` kinds split the N AZs over K such
processes (contiguous groups of N / K), the way to use more than one core once one
process is the limit.

With ``--relays K`` (K >= 1) K OVSDB relays (``ovsdb-server`` with a
``relay:OVN_IC_Southbound:<cluster>`` database) sit in front of the cluster and the
engines read IC-SB from them (AZ i from relay i mod K; writes are forwarded by the relay
to the leader). The C daemon refuses relays (its IDL is leader-only), so only the
engine kinds run then; the engine-per-process kind runs the same worker as ``embedded``
with one AZ per process.

Measured per (agent kind, N):

(a) **all learned**: from starting every agent (empty IC-SB) until every AZ's NB holds
    every other AZ's routes as learned routes ((N - 1) x (R + 1): the static routes
    and the LAN network); for the engine this includes the interpreter start-up;
(b) **one added route**: a static route added to one AZ (a different one each time),
    until ALL other AZs have learned it: p50 and p99 (and max) over ``--repeat`` routes,
    one at a time, each after the agents are idle again;
(c) **CPU** of all agents together and of the IC-SB leader (and of all three members)
    during (a) and during (b); **memory**: the agents' total resident set at the end.

Timestamps come from monitors of each NB's static routes, read by this process; inserts
go over persistent connections.

With ``--trace DIR`` each engine process (``engine`` kind) writes a timeline of its cold
start into ``DIR/<kind>-N<n>-R<r>/`` (``benchmarks/fleet_trace/sitecustomize.py``: CPU at
the end of the imports, each connection attempt, plan and commit, conflicts), and the
case's result gets ``trace``: per engine (median) the CPU of the interpreter and
imports, of connecting and copying the four databases, and of the passes until the
agents are idle, with the conflicts, refused connections (cluster followers) and
passes counted over all engines. ``FLEET_TRACE_PROFILE=1`` adds a ``cProfile`` per
engine.

Usage::

    PYTHONPATH=. python benchmarks/fleet.py --azs 4,10 --routes 100
    PYTHONPATH=. python benchmarks/fleet.py --azs 10 --routes 100 --agents embedded \\
        --relays 2
    PYTHONPATH=. python benchmarks/fleet.py --azs 4 --routes 0,1000 --json fleet.json \
        --plots docs        # SVG plots against N and against R, from all results in fleet.json

Larger N (30, 50, ...) need about 3 + 2 x N processes for the C daemon and the
per-process engine (servers, northds, agents): run them on a machine with more cores,
e.g. ``--azs 10,30,50 --repeat 20``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import selectors
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from convergence import Counter, Rpc, compile_checkout, in_sandbox, learned, pump_for

from ovsdb_ic.testing import Cluster, Sandbox, Server, schema_path
from ovsdb_ic.testing.ovn import (
    Daemon,
    add_chassis,
    bind_port,
    ovn_ic_nbctl,
    ovn_nbctl,
    start_engine,
    start_northd,
    start_ovn_ic,
    start_python,
    start_relay,
)

IC_SB = "OVN_IC_Southbound"
AGENTS = ("ovn-ic", "engine", "embedded", "shared")
PLOT_LABELS = {
    "ovn-ic": "C ovn-ic, one per AZ",
    "engine": "engine, one process per AZ",
    "embedded": "engines in one process",
    "shared": "engines in one process, shared IC pair",
}
"""How the plots name each agent kind."""
TRACE_HOOK = Path(__file__).resolve().parent / "fleet_trace"


def route_prefix(az: int, k: int) -> str:
    """The k-th static route of AZ *az*: a /32 in 100.64.0.0/10, unique per (az, k)."""
    idx = az * 4096 + k
    return f"100.{64 + idx // 65536}.{(idx // 256) % 256}.{idx % 256}/32"


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of *pid* from ``/proc``."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        data = f.read()
    fields = data[data.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mib(pid: int) -> float:
    """Resident set of *pid* in MiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --------------------------------------------------------------------------------------
# The embedded worker: N engines in one process
# --------------------------------------------------------------------------------------


def embedded_worker(config_path: str) -> int:
    """Run one sync engine per entry of the JSON list at *config_path*, in one trio run."""
    import trio

    from ovsdb_ic.sync.runner import SyncConfig, run_sync

    configs = [SyncConfig(**c) for c in json.loads(Path(config_path).read_text())]

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for config in configs:
                nursery.start_soon(functools.partial(run_sync, config))

    trio.run(main)
    return 0


def shared_worker(config_path: str) -> int:
    """Run one sync engine per entry of the JSON list at *config_path*, in one trio run,
    over one shared IC-NB/IC-SB pair (``run_syncs``)."""
    import trio

    from ovsdb_ic.sync.runner import SyncConfig, run_syncs

    configs = [SyncConfig(**c) for c in json.loads(Path(config_path).read_text())]
    trio.run(run_syncs, configs)
    return 0


# --------------------------------------------------------------------------------------
# The deployment
# --------------------------------------------------------------------------------------


class Fleet:
    """IC databases, N AZs (NB, SB, northd) and their agents for one case."""

    def __init__(self, sandbox: Sandbox, n_azs: int, n_routes: int, relays: int) -> None:
        self.sandbox = sandbox
        self.n = n_azs
        self.r = n_routes
        self.azs = [f"az{i}" for i in range(1, n_azs + 1)]
        self.ic_nb = sandbox.start_server(schema_path("ic-nb"), name="ic-nb").remote
        self.cluster: Cluster = sandbox.start_cluster(schema_path("ic-sb"), name="ic-sb", size=3)
        self.ic_sb = self.cluster.remote
        self.relays: list[Daemon] = [
            start_relay(sandbox, database=IC_SB, remotes=self.ic_sb, name=f"relay{j}")
            for j in range(relays)
        ]
        self.nb = {az: sandbox.start_server(schema_path("nb"), name=f"{az}-nb").remote
                   for az in self.azs}
        self.sb = {az: sandbox.start_server(schema_path("sb"), name=f"{az}-sb").remote
                   for az in self.azs}
        self.agents: list[Daemon] = []
        self.added = 0

    def ic_sb_for(self, i: int) -> str:
        """The IC-SB remote AZ number *i* (0-based) reads from."""
        if not self.relays:
            return self.ic_sb
        return f"unix:{self.sandbox.path / f'relay{i % len(self.relays)}.sock'}"

    def setup(self) -> None:
        """Topology, port bindings (northd then paused), R routes per AZ."""
        ovn_ic_nbctl(self.ic_nb, "ts-add", "ts1")
        for i, az in enumerate(self.azs, 1):
            nb, sb = self.nb[az], self.sb[az]
            add_chassis(sb, f"gw-{az}", encaps=[("geneve", f"192.168.{i // 250}.{i % 250 + 1}")])
            mac = f"0a:00:00:00:{i // 256:02x}:{i % 256:02x}"
            ovn_nbctl(
                nb, "init",
                "--", "set", "NB_Global", ".", f"name={az}",
                "options:ic-route-adv=true", "options:ic-route-learn=true",
                "--", "lr-add", "lr1",
                "--", "lrp-add", "lr1", "lan", mac, f"10.{i}.0.1/24",
                "--", "lrp-add", "lr1", f"{az}-ts1", f"0a:00:00:01:{i // 256:02x}:{i % 256:02x}",
                f"169.254.{100 + i // 250}.{i % 250 + 1}/16",
                "--", "lrp-set-gateway-chassis", f"{az}-ts1", f"gw-{az}", "100",
                "--", "ls-add", "ts1",
                "--", "set", "Logical_Switch", "ts1", "other_config:interconn-ts=ts1",
                "--", "lsp-add", "ts1", f"ts1-{az}",
                "--", "lsp-set-type", f"ts1-{az}", "router",
                "--", "lsp-set-addresses", f"ts1-{az}", "router",
                "--", "lsp-set-options", f"ts1-{az}", f"router-port={az}-ts1",
            )  # fmt: skip
            northd = start_northd(self.sandbox, nb=nb, sb=sb, name=f"{az}-northd")
            bind_port(sb, f"cr-{az}-ts1", f"gw-{az}", timeout=60)
            northd.appctl("pause")
            if self.r:
                rpc = Rpc(nb)
                ops: list[dict[str, Any]] = []
                names = []
                for k in range(self.r):
                    names.append(["named-uuid", f"r{k}"])
                    ops.append({"op": "insert", "table": "Logical_Router_Static_Route",
                                "uuid-name": f"r{k}",
                                "row": {"ip_prefix": route_prefix(i, k),
                                        "nexthop": f"10.{i}.0.254"}})
                ops.append({"op": "mutate", "table": "Logical_Router",
                            "where": [["name", "==", "lr1"]],
                            "mutations": [["static_routes", "insert", ["set", names]]]})
                rpc.transact("OVN_Northbound", *ops)
                rpc.close()

    def start_agents(self, kind: str, processes: int = 1) -> None:
        """Start the agents of *kind* for every AZ (``embedded`` and ``shared``: in
        *processes* processes)."""
        if kind == "ovn-ic":
            for az in self.azs:
                self.agents.append(start_ovn_ic(
                    self.sandbox, nb=self.nb[az], sb=self.sb[az], ic_nb=self.ic_nb,
                    ic_sb=self.ic_sb, name=f"{az}-agent"))
            return
        if kind == "engine" and not self.relays:
            for az in self.azs:
                self.agents.append(start_engine(
                    self.sandbox, nb=self.nb[az], sb=self.sb[az], ic_nb=self.ic_nb,
                    ic_sb=self.ic_sb, name=f"{az}-agent"))
            return
        configs = [{"ovnnb_db": self.nb[az], "ovnsb_db": self.sb[az], "ic_nb_db": self.ic_nb,
                    "ic_sb_db": self.ic_sb_for(i), "leader_only": not self.relays}
                   for i, az in enumerate(self.azs)]
        if kind in ("embedded", "shared"):
            k = len(configs)
            groups = [configs[j * k // processes:(j + 1) * k // processes]
                      for j in range(processes)]
        else:
            groups = [[c] for c in configs]
        worker = "--shared-worker" if kind == "shared" else "--embedded-worker"
        for j, group in enumerate(groups):
            path = self.sandbox.path / f"fleet-{j}.json"
            path.write_text(json.dumps(group))
            self.agents.append(start_python(
                self.sandbox, args=[__file__, worker, str(path)],
                name=f"agents-{j}"))

    def agents_cpu(self) -> float:
        """CPU seconds of all agents so far."""
        return sum(a.cpu_seconds() for a in self.agents)

    def agents_rss(self) -> float:
        """Resident MiB of all agents now."""
        return sum(proc_rss_mib(a.pid) for a in self.agents)

    def members(self) -> list[Server]:
        """The IC-SB cluster's members."""
        return list(self.cluster.members)

    def check(self) -> None:
        """Fail if an agent died."""
        for a in self.agents:
            a.check()


# --------------------------------------------------------------------------------------
# Engine timelines (--trace)
# --------------------------------------------------------------------------------------


def trace_summary(directory: Path, until: float) -> dict[str, Any]:
    """Summarise the engines' timelines in *directory* up to Unix time *until* (the end
    of the cold start): per engine (median) the CPU ms of the interpreter and imports,
    of connecting and copying (to the first plan), of the passes (to the last plan
    before *until*); over all engines the conflicts, refused connections and plans."""
    phases: dict[str, list[float]] = {"imports_ms": [], "connect_copy_ms": [],
                                      "passes_ms": [], "total_ms": []}
    counts = {"conflicts": 0, "refused": 0, "plans": 0}
    for path in sorted(directory.glob("engine-*.txt")):
        events = []
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"(\S+) (\S+) (\S+) (.*)", line)
            if m and float(m[1]) <= until:
                events.append((float(m[3]), m[4]))
        imports = next((cpu for cpu, what in events if what == "imports done"), None)
        plans = [cpu for cpu, what in events if what.startswith("plan ")]
        if imports is None or not plans:
            continue
        phases["imports_ms"].append(imports)
        phases["connect_copy_ms"].append(plans[0] - imports)
        phases["passes_ms"].append(plans[-1] - plans[0])
        phases["total_ms"].append(plans[-1])
        counts["plans"] += len(plans)
        counts["conflicts"] += sum(1 for _, what in events
                                   if what.startswith("commit done") and "conflicts={}" not in what)
        counts["refused"] += sum(1 for _, what in events if what.startswith("connect refused"))
    out: dict[str, Any] = {k: round(statistics.median(v), 1) for k, v in phases.items() if v}
    out.update(counts, engines=len(phases["total_ms"]))
    return out


# --------------------------------------------------------------------------------------
# One case
# --------------------------------------------------------------------------------------


def run_case(kind: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Measure (a), (b), (c) for one agent kind and N."""
    return in_sandbox(lambda sandbox: _run_case(sandbox, kind, n, args))


def _run_case(sandbox: Sandbox, kind: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    fleet = Fleet(sandbox, n, args.routes, args.relays)
    t_setup = time.monotonic()
    fleet.setup()
    print(f"#   set up {n} AZs in {time.monotonic() - t_setup:.1f} s", flush=True)
    conns = {az: Rpc(fleet.nb[az]) for az in fleet.azs}
    learned_in = {az: Counter(learned) for az in fleet.azs}
    for az in fleet.azs:
        conns[az].monitor(
            "OVN_Northbound", "s",
            {"Logical_Router_Static_Route": {"columns": ["ip_prefix", "external_ids"]}},
            learned_in[az],
        )
    selector = selectors.DefaultSelector()
    for conn in conns.values():
        selector.register(conn.sock, selectors.EVENT_READ, conn)

    def pump_until(done: Callable[[], bool], timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                counts = sorted(len(c.rows) for c in learned_in.values())
                raise TimeoutError(f"{kind} N={n}: learned per AZ {counts}")
            fleet.check()
            for key, _ in selector.select(timeout=0.2):
                key.data.pump(0)
        return time.monotonic()

    def wait_idle(timeout: float) -> float:
        """Pump until the agents are idle; return their idle CPU rate (CPU s per s).

        Idle: together at most 20 ms of CPU in 0.5 s, or, for agents that never fall
        silent (each C ``ovn-ic`` runs a whole pass on every wake-up, its inactivity
        probes' included, which at N = 30 never stops), a CPU rate that has stopped
        falling: after at least 3 s, three 0.5 s windows within 25% of each other.
        """
        deadline = time.monotonic() + timeout
        used: list[float] = []
        while True:
            before = fleet.agents_cpu()
            pump_for(selector, 0.5)
            used.append(fleet.agents_cpu() - before)
            if used[-1] <= 0.021:
                return used[-1] / 0.5
            last = used[-3:]
            if len(used) >= 6 and max(last) <= 1.25 * min(last):
                return sum(last) / 1.5
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind} N={n}: agents still busy after {timeout}s")

    members = fleet.members()
    want = (n - 1) * (args.routes + 1)
    leader = fleet.cluster.leader()
    processes = args.processes if kind in ("embedded", "shared") else 1
    result: dict[str, Any] = {"agent": kind, "azs": n, "routes": args.routes,
                              "relays": args.relays, "processes": processes}
    ic_cpu0 = {m.name: proc_cpu(m.pid) for m in members}
    relay_cpu0 = sum(proc_cpu(r.pid) for r in fleet.relays)
    trace_dir = None
    if args.trace is not None and kind == "engine":
        trace_dir = args.trace / f"{kind}-N{n}-R{args.routes}"
        trace_dir.mkdir(parents=True, exist_ok=True)
        os.environ["FLEET_TRACE"] = str(trace_dir)
    t0 = time.monotonic()
    fleet.start_agents(kind, processes)
    os.environ.pop("FLEET_TRACE", None)
    t1 = pump_until(lambda: all(len(c.rows) >= want for c in learned_in.values()), args.timeout)
    result["all_learned_s"] = t1 - t0
    wait_idle(args.timeout)
    if trace_dir is not None:
        result["trace"] = trace_summary(trace_dir, time.time())
    result["cold_agents_cpu_s"] = fleet.agents_cpu()
    ic_cpu1 = {m.name: proc_cpu(m.pid) for m in members}
    result["cold_leader_cpu_s"] = ic_cpu1[leader.name] - ic_cpu0[leader.name]
    result["cold_cluster_cpu_s"] = sum(ic_cpu1[m] - ic_cpu0[m] for m in ic_cpu1)
    result["cold_relays_cpu_s"] = sum(proc_cpu(r.pid) for r in fleet.relays) - relay_cpu0
    # (b) one added route at a time, from AZ k to all others.
    writers = {az: Rpc(fleet.nb[az]) for az in fleet.azs}
    latencies = []
    agents_before = fleet.agents_cpu()
    ic_before = {m.name: proc_cpu(m.pid) for m in members}
    for j in range(args.repeat):
        src = j % n
        az = fleet.azs[src]
        fleet.added += 1
        prefix = f"198.18.{fleet.added // 256}.{fleet.added % 256}/32"
        others = [learned_in[a] for a in fleet.azs if a != az]
        t0 = time.monotonic()
        writers[az].transact(
            "OVN_Northbound",
            {"op": "insert", "table": "Logical_Router_Static_Route", "uuid-name": "r",
             "row": {"ip_prefix": prefix, "nexthop": f"10.{src + 1}.0.254"}},
            {"op": "mutate", "table": "Logical_Router", "where": [["name", "==", "lr1"]],
             "mutations": [["static_routes", "insert", ["named-uuid", "r"]]]},
        )
        t1 = pump_until(lambda others=others, prefix=prefix: all(  # type: ignore[misc]
            c.has_prefix(prefix) for c in others), args.timeout)
        latencies.append(t1 - t0)
        result["idle_agents_cpu_per_s"] = wait_idle(args.timeout)
    ic_after = {m.name: proc_cpu(m.pid) for m in members}
    latencies.sort()
    result["add_p50_s"] = statistics.median(latencies)
    result["add_p99_s"] = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    result["add_max_s"] = latencies[-1]
    result["add_agents_cpu_s"] = (fleet.agents_cpu() - agents_before) / args.repeat
    result["add_leader_cpu_s"] = (ic_after[leader.name] - ic_before[leader.name]) / args.repeat
    result["agents_rss_mib"] = fleet.agents_rss()
    result["agent_processes"] = len(fleet.agents)
    for c in [*conns.values(), *writers.values()]:
        c.close()
    return result


# --------------------------------------------------------------------------------------
# Report and plots
# --------------------------------------------------------------------------------------


def _agent_label(result: dict[str, Any]) -> str:
    """The agent kind, and "x K" when its engines ran in K processes."""
    k = result.get("processes", 1)
    return str(result["agent"]) + (f" x{k}" if k > 1 else "")


def report(results: list[dict[str, Any]]) -> str:
    """A markdown table, one line per (relays, R, N, agent)."""
    lines = [
        "| N AZs | R | agent | relays | all learned (s) | +1 route p50 / p99 (ms) | "
        "agents CPU cold (s) | IC-SB leader CPU cold (s) | agents CPU per route (ms) | "
        "leader CPU per route (ms) | agents idle CPU (s/s) | agents RSS (MiB) |",
        "|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(results, key=lambda r: (r["relays"], r["routes"], r["azs"], r["agent"])):
        lines.append(
            f"| {r['azs']} | {r['routes']} | {_agent_label(r)} | {r['relays']} | "
            f"{r['all_learned_s']:.2f} | "
            f"{r['add_p50_s'] * 1000:.0f} / {r['add_p99_s'] * 1000:.0f} | "
            f"{r['cold_agents_cpu_s']:.2f} | {r['cold_leader_cpu_s']:.2f} | "
            f"{r['add_agents_cpu_s'] * 1000:.0f} | {r['add_leader_cpu_s'] * 1000:.0f} | "
            f"{r.get('idle_agents_cpu_per_s', float('nan')):.2f} | "
            f"{r['agents_rss_mib']:.0f} |"
        )
    traced = [r for r in results if "trace" in r]
    if traced:
        lines += [
            "",
            "| N AZs | R | agent | per engine (median CPU ms): imports | connect + copy | "
            "passes | total | conflicts | refused connections | passes planned |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in traced:
            t = r["trace"]
            lines.append(
                f"| {r['azs']} | {r['routes']} | {r['agent']} | {t.get('imports_ms', '')} | "
                f"{t.get('connect_copy_ms', '')} | {t.get('passes_ms', '')} | "
                f"{t.get('total_ms', '')} | {t['conflicts']} | {t['refused']} | {t['plans']} |")
    return "\n".join(lines)


def _most_common(values: list[int]) -> int:
    return max(sorted(set(values)), key=values.count)


def plot(results: list[dict[str, Any]], directory: Path) -> list[Path]:
    """SVG plots of the time until all learned and of the +1 route p50, per agent kind,
    against N (at the most measured R) and against R (at the N with the most R values)."""
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    out = []
    r_fixed = _most_common([r["routes"] for r in results])
    n_fixed = max(sorted({r["azs"] for r in results}),
                  key=lambda n: len({r["routes"] for r in results if r["azs"] == n}))
    for x, fixed_key, fixed, xlabel, suffix in (
        ("azs", "routes", r_fixed, "availability zones (N)", "n"),
        ("routes", "azs", n_fixed, "static routes per AZ (R)", "routes"),
    ):
        chosen = [r for r in results if r[fixed_key] == fixed]
        if len({r[x] for r in chosen}) < 2:
            continue
        for key, title, name in (
            ("all_learned_s", "cold: every AZ learned every other AZ's routes (s)",
             "all-learned"),
            ("add_p50_s", "one added route learned by all other AZs, p50 (s)", "one-route"),
        ):
            fig, ax = plt.subplots(figsize=(6, 4))
            for agent in AGENTS:
                for relays in sorted({r["relays"] for r in chosen}):
                    pts = sorted((r[x], r[key]) for r in chosen
                                 if r["agent"] == agent and r["relays"] == relays
                                 and r.get("processes", 1) == 1)
                    if pts:
                        label = PLOT_LABELS[agent] + (f" + {relays} relays" if relays else "")
                        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                                label=label)
            where = f"R = {fixed}" if fixed_key == "routes" else f"N = {fixed}"
            ax.set_title(f"{title}, {where}", fontsize=9)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("seconds (log scale)")
            ax.set_yscale("log")  # C's per-route time grows 100-fold over the engine's
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
            path = directory / f"fleet-{name}-vs-{suffix}.svg"
            fig.tight_layout()
            fig.savefig(path, format="svg", metadata={"Date": None})
            plt.close(fig)
            out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the cases, print the table, optionally write JSON and plots."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--azs", default="4,10", help="comma-separated N (default 4,10)")
    ap.add_argument("--routes", default="100",
                    help="comma-separated static routes per AZ (R, default 100)")
    ap.add_argument("--agents", default=",".join(AGENTS),
                    help="comma-separated: ovn-ic, engine, embedded, shared (default all)")
    ap.add_argument("--relays", type=int, default=0,
                    help="OVSDB relays in front of IC-SB (engines only)")
    ap.add_argument("--processes", type=int, default=1,
                    help="embedded and shared: split the AZs over this many processes")
    ap.add_argument("--repeat", type=int, default=10, help="routes added one at a time")
    ap.add_argument("--timeout", type=float, default=600.0, help="per convergence wait")
    ap.add_argument("--json", type=Path, help="write the results as JSON here (appends to a "
                    "list already in the file)")
    ap.add_argument("--plots", type=Path, help="write SVG plots (from --json's results) here")
    ap.add_argument("--trace", type=Path, help="write a timeline per engine process here "
                    "and summarise where each engine's cold CPU went (engine kind only)")
    ap.add_argument("--embedded-worker", help=argparse.SUPPRESS)
    ap.add_argument("--shared-worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.embedded_worker:
        return embedded_worker(args.embedded_worker)
    if args.shared_worker:
        return shared_worker(args.shared_worker)
    if args.trace is not None:
        # Python imports the hook (sitecustomize) from the agents' PYTHONPATH; it does
        # nothing unless FLEET_TRACE is set, which only the engines' start sees.
        args.trace = args.trace.resolve()
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(TRACE_HOOK), os.environ.get("PYTHONPATH", "")) if p)
    agents = [a for a in args.agents.split(",") if a]
    for a in agents:
        if a not in AGENTS:
            ap.error(f"unknown agent {a!r}")
        if a == "ovn-ic" and args.relays:
            ap.error("the C ovn-ic cannot read from relays (its IDL is leader-only)")
    if args.processes < 1:
        ap.error("--processes must be at least 1")
    sizes = [int(x) for x in args.azs.split(",") if x]
    route_counts = [int(x) for x in args.routes.split(",") if x]
    print(f"# {platform.node()} {platform.python_version()}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}; R={args.routes}, relays={args.relays}", flush=True)
    # As benchmarks/convergence.py: an installed engine has its byte-code; without this,
    # with PYTHONDONTWRITEBYTECODE set, every engine process compiled the library from
    # source at start (about 0.1 s of CPU each, counted in its cold start).
    compile_checkout()
    results = []
    for r in route_counts:
        for n in sizes:
            for kind in agents:
                print(f"# {kind}, N={n}, R={r} ...", flush=True)
                results.append(run_case(kind, n, argparse.Namespace(**{**vars(args),
                                                                         "routes": r})))
                print(f"#   {results[-1]} (load {os.getloadavg()[0]:.1f})", flush=True)
    print(report(results))
    if args.json is not None:
        old = json.loads(args.json.read_text()) if args.json.exists() else []
        args.json.write_text(json.dumps(old + results, indent=1))
        results = old + results
    if args.plots is not None:
        for path in plot(results, args.plots):
            print(f"# wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
