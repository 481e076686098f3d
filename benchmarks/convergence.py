"""Convergence benchmark: the sync engine side by side with the C ``ovn-ic`` 23.03.

Set-up, the same for every agent and size (issue 5, "Performance"): two availability
zones, one router each, one transit switch; standalone databases (IC-NB, IC-SB, and each
AZ's NB and SB) on unix sockets in a :class:`~ovsdb_ic.testing.Sandbox`. Each AZ has a
gateway chassis bound to its transit port, route advertising and learning on, and N
static routes (``/32`` prefixes, one transaction). ``ovn-northd`` runs while the
transit ports are created (it makes their SB port bindings) and is then paused, so its
flow computation does not compete with the agents for the CPUs; nothing the agents do
after that needs it.

Measured, per agent kind (``ovn-ic``: the C daemon; ``engine``: ``python -m ovsdb_ic
sync``) and per N:

(a) **cold**: from starting both AZs' agents (empty IC-SB) until IC-SB holds every
    advertised route of both AZs and each AZ's NB holds every route learned from the
    other (N + 1 per AZ: the static routes and the LAN network), and until both agents
    are idle again (at most 10 ms of CPU in half a second). For the engine this
    includes the interpreter's start-up and imports (reported separately);
(b) **one route**: from sending one new static route to AZ1's NB until AZ2's NB holds
    the learned route (median and max of ``--repeat`` routes, one at a time);
(c) **CPU**: each agent's user+system CPU over ``--idle`` seconds of nothing
    happening; per added route of (b) (from the insert until both agents are idle again);
    and for an unrelated change (a new logical switch in AZ1's NB, which wakes the C
    daemon for a full pass), again until both are idle. Every measurement starts with
    both agents idle.

Timestamps come from monitors (``monitor`` of ``Route`` in IC-SB and of the static routes
in each NB) read by this process over persistent connections, and the inserts go over
another persistent connection, so no tool start-up is timed.

Usage::

    PYTHONPATH=. python benchmarks/convergence.py --routes 0,1000,10000
    PYTHONPATH=. python benchmarks/convergence.py --agents ovn-ic --routes 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import selectors
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ovsdb_ic.testing import Sandbox as Sandbox  # re-exported: other benchmarks use cv.Sandbox
from ovsdb_ic.testing import schema_path
from ovsdb_ic.testing.ovn import (
    Daemon,
    add_chassis,
    bind_port,
    ovn_ic_nbctl,
    ovn_nbctl,
    start_engine,
    start_northd,
    start_ovn_ic,
)
from ovsdb_ic.wire.framing import JsonFramer

AZS = ("az1", "az2")


# --------------------------------------------------------------------------------------
# A minimal blocking JSON-RPC connection (monitors and inserts)
# --------------------------------------------------------------------------------------


class Rpc:
    """One unix-socket JSON-RPC connection: requests block; ``update`` notifications are
    handed to the monitor callbacks with their arrival time; echo requests are answered."""

    def __init__(self, remote: str) -> None:
        kind, _, path = remote.partition(":")
        if kind != "unix":
            raise ValueError(f"benchmark remotes are unix sockets, not {remote}")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.framer = JsonFramer()
        self.next_id = 0
        self.replies: dict[int, dict[str, Any]] = {}
        self.monitors: dict[str, Callable[[float, dict[str, Any]], None]] = {}

    def fileno(self) -> int:
        """The socket's descriptor (for selectors)."""
        return self.sock.fileno()

    def send(self, method: str, params: list[Any]) -> int:
        """Send a request and return its id."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        self.sock.sendall(json.dumps(msg).encode())
        return self.next_id

    def pump(self, timeout: float | None) -> bool:
        """Read what is available (waiting up to *timeout*); False on timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except (TimeoutError, BlockingIOError):
            return False
        now = time.monotonic()
        if not data:
            raise ConnectionError("the server closed the connection")
        for msg in self.framer.feed(data):
            method = msg.get("method")
            if method == "echo":
                reply = {"id": msg["id"], "result": msg["params"], "error": None}
                self.sock.sendall(json.dumps(reply).encode())
            elif method == "update":
                monitor_id, updates = msg["params"][0], msg["params"][1]
                self.monitors[monitor_id](now, updates)
            elif "id" in msg and method is None:
                self.replies[msg["id"]] = msg
        return True

    def call(self, method: str, params: list[Any], timeout: float = 120.0) -> Any:
        """Send a request and wait for its result."""
        rid = self.send(method, params)
        deadline = time.monotonic() + timeout
        while rid not in self.replies:
            pumped = self.pump(max(0.01, deadline - time.monotonic()))
            if not pumped and time.monotonic() > deadline:
                raise TimeoutError(f"{method}: no reply within {timeout}s")
        reply = self.replies.pop(rid)
        if reply.get("error") is not None:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def transact(self, db: str, *ops: dict[str, Any]) -> list[Any]:
        """Run a transaction; raise on any operation error."""
        result: list[Any] = self.call("transact", [db, *ops])
        for r in result:
            if isinstance(r, dict) and "error" in r:
                raise RuntimeError(f"transaction failed: {r} {result[-1]}")
        return result

    def monitor(
        self,
        db: str,
        name: str,
        requests: dict[str, Any],
        on_update: Callable[[float, dict[str, Any]], None],
    ) -> None:
        """Start monitor *name*; its initial rows go through *on_update* too."""
        self.monitors[name] = on_update
        initial = self.call("monitor", [db, name, requests])
        on_update(time.monotonic(), initial)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


class Counter:
    """Rows of one monitored table satisfying *accept*, kept up to date from updates."""

    def __init__(self, accept: Callable[[dict[str, Any]], bool]) -> None:
        self.accept = accept
        self.rows: set[str] = set()
        self.rows_by_value: dict[str, str] = {}
        self.changed_at = time.monotonic()

    def __call__(self, now: float, updates: dict[str, Any]) -> None:
        for table_updates in updates.values():
            for uuid, change in table_updates.items():
                new = change.get("new")
                if new is not None and self.accept(new):
                    self.rows.add(uuid)
                    prefix = new.get("ip_prefix")
                    if isinstance(prefix, str):
                        self.rows_by_value[prefix] = uuid
                else:
                    self.rows.discard(uuid)
        self.changed_at = now

    def has_prefix(self, prefix: str) -> bool:
        """Whether an accepted row with this ``ip_prefix`` was seen."""
        return prefix in self.rows_by_value


def pump_for(selector: selectors.BaseSelector, seconds: float) -> None:
    """Let the monitor connections registered in ``selector`` read for ``seconds``."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=left):
            key.data.pump(0)


def learned(row: dict[str, Any]) -> bool:
    """Whether a monitored NB static route row is an IC-learned one."""
    ids = row.get("external_ids", ["map", []])
    return any(k == "ic-learned-route" for k, _ in ids[1])


# --------------------------------------------------------------------------------------
# The deployment
# --------------------------------------------------------------------------------------


class Bench:
    """Databases, northd and one agent per AZ for one (agent kind, N) case."""

    def __init__(self, sandbox: Sandbox, n_routes: int) -> None:
        self.sandbox = sandbox
        self.n = n_routes
        self.ic_nb = sandbox.start_server(schema_path("ic-nb"), name="ic-nb").remote
        self.ic_sb = sandbox.start_server(schema_path("ic-sb"), name="ic-sb").remote
        self.nb = {az: sandbox.start_server(schema_path("nb"), name=f"{az}-nb").remote
                   for az in AZS}  # fmt: skip
        self.sb = {az: sandbox.start_server(schema_path("sb"), name=f"{az}-sb").remote
                   for az in AZS}  # fmt: skip
        self.northd: dict[str, Daemon] = {}
        self.agents: dict[str, Daemon] = {}
        self.added = 0

    def setup(self) -> None:
        """Topology, port bindings (northd then paused), N routes per AZ."""
        ovn_ic_nbctl(self.ic_nb, "ts-add", "ts1")
        for i, az in enumerate(AZS, 1):
            nb, sb = self.nb[az], self.sb[az]
            add_chassis(sb, f"gw-{az}", encaps=[("geneve", f"192.168.0.{i}")])
            ovn_nbctl(
                nb, "init",
                "--", "set", "NB_Global", ".", f"name={az}",
                "options:ic-route-adv=true", "options:ic-route-learn=true",
                "--", "lr-add", "lr1",
                "--", "lrp-add", "lr1", "lan", f"0a:00:00:00:0{i}:01", f"10.{i}.1.1/24",
                "--", "lrp-add", "lr1", f"{az}-ts1", f"0a:00:00:00:0{i}:ff",
                f"169.254.100.{i}/24",
                "--", "lrp-set-gateway-chassis", f"{az}-ts1", f"gw-{az}", "100",
                "--", "ls-add", "ts1",
                "--", "set", "Logical_Switch", "ts1", "other_config:interconn-ts=ts1",
                "--", "lsp-add", "ts1", f"ts1-{az}",
                "--", "lsp-set-type", f"ts1-{az}", "router",
                "--", "lsp-set-addresses", f"ts1-{az}", "router",
                "--", "lsp-set-options", f"ts1-{az}", f"router-port={az}-ts1",
            )  # fmt: skip
            self.northd[az] = start_northd(self.sandbox, nb=nb, sb=sb, name=f"{az}-northd")
            bind_port(sb, f"cr-{az}-ts1", f"gw-{az}", timeout=30)
            self.northd[az].appctl("pause")
        for i, az in enumerate(AZS, 1):
            rpc = Rpc(self.nb[az])
            ops: list[dict[str, Any]] = []
            names = []
            for k in range(self.n):
                name = f"r{k}"
                names.append(["named-uuid", name])
                ops.append({
                    "op": "insert", "table": "Logical_Router_Static_Route", "uuid-name": name,
                    "row": {"ip_prefix": route_prefix(i, k), "nexthop": f"10.{i}.1.254"},
                })  # fmt: skip
            if ops:
                ops.append({
                    "op": "mutate", "table": "Logical_Router",
                    "where": [["name", "==", "lr1"]],
                    "mutations": [["static_routes", "insert", ["set", names]]],
                })  # fmt: skip
                rpc.transact("OVN_Northbound", *ops)
            rpc.close()

    def start_agents(self, kind: str) -> None:
        """Start one agent of *kind* per AZ."""
        for az in AZS:
            if kind == "ovn-ic":
                self.agents[az] = start_ovn_ic(
                    self.sandbox, nb=self.nb[az], sb=self.sb[az], ic_nb=self.ic_nb,
                    ic_sb=self.ic_sb, name=f"{az}-agent",
                )  # fmt: skip
            else:
                self.agents[az] = start_engine(
                    self.sandbox, nb=self.nb[az], sb=self.sb[az], ic_nb=self.ic_nb,
                    ic_sb=self.ic_sb, name=f"{az}-agent",
                )  # fmt: skip

    def cpu(self) -> dict[str, float]:
        """Each agent's CPU seconds so far."""
        return {az: d.cpu_seconds() for az, d in self.agents.items()}

    def check(self) -> None:
        """Fail if an agent died."""
        for d in self.agents.values():
            d.check()


def route_prefix(az: int, k: int) -> str:
    """The k-th static route prefix of AZ *az* (a /32)."""
    return f"172.{16 + az}.{k // 256}.{k % 256}/32"


# --------------------------------------------------------------------------------------
# One case
# --------------------------------------------------------------------------------------


T = TypeVar("T")


def in_sandbox(case: Callable[[Sandbox], T]) -> T:
    """Run ``case`` in a fresh sandbox; a failure carries the daemons' log tails as a note."""
    with Sandbox() as sandbox:
        try:
            return case(sandbox)
        except BaseException as exc:
            from ovsdb_ic.testing.ovn import daemon_log_tails

            exc.add_note(daemon_log_tails(sandbox, 10))
            raise


def run_case(kind: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Measure (a), (b), (c) for one agent kind and N."""
    return in_sandbox(lambda sandbox: _run_case(sandbox, kind, n, args))


def _run_case(sandbox: Sandbox, kind: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    bench = Bench(sandbox, n)
    bench.setup()
    conns = {"ic-sb": Rpc(bench.ic_sb), "az1": Rpc(bench.nb["az1"]), "az2": Rpc(bench.nb["az2"])}
    ic_routes = Counter(lambda row: True)
    learned_in = {az: Counter(learned) for az in AZS}
    conns["ic-sb"].monitor("OVN_IC_Southbound", "r", {"Route": {"columns": ["ip_prefix"]}},
                           ic_routes)  # fmt: skip
    for az in AZS:
        conns[az].monitor(
            "OVN_Northbound", "s",
            {"Logical_Router_Static_Route": {"columns": ["ip_prefix", "external_ids"]}},
            learned_in[az],
        )  # fmt: skip
    selector = selectors.DefaultSelector()
    for conn in conns.values():
        selector.register(conn.sock, selectors.EVENT_READ, conn)

    def pump_until(done: Callable[[], bool], timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{kind} N={n}: IC-SB routes {len(ic_routes.rows)}, learned "
                    f"{[len(c.rows) for c in learned_in.values()]}"
                )
            bench.check()
            for key, _ in selector.select(timeout=0.2):
                key.data.pump(0)
        return time.monotonic()

    def wait_idle(timeout: float) -> float:
        """Pump until both agents used at most 10 ms CPU in a 0.5 s window; return when
        that window began (the agents' last work ended before it)."""
        deadline = time.monotonic() + timeout
        while True:
            start = time.monotonic()
            before = bench.cpu()
            pump_for(selector, 0.5)
            after = bench.cpu()
            if all(after[az] - before[az] <= 0.011 for az in AZS):
                return start
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind} N={n}: agents still busy after {timeout}s")

    want = n + 1
    result: dict[str, Any] = {"agent": kind, "routes": n}
    # (a) cold convergence.
    t0 = time.monotonic()
    bench.start_agents(kind)
    t1 = pump_until(
        lambda: (
            len(ic_routes.rows) >= 2 * want
            and all(len(c.rows) >= want for c in learned_in.values())
        ),
        args.timeout,
    )
    result["cold_s"] = t1 - t0
    result["cold_idle_s"] = wait_idle(args.timeout) - t0
    result["cold_cpu_s"] = bench.cpu()
    result["load1"] = os.getloadavg()[0]
    if args.cold_only:
        for conn in conns.values():
            conn.close()
        return result
    # (c) idle CPU.
    before = bench.cpu()
    pump_for(selector, args.idle)
    after = bench.cpu()
    result["idle_cpu_s"] = {az: after[az] - before[az] for az in AZS}
    # (b) one added route, learned in AZ2; (c) CPU per change.
    latencies = []
    change_cpu: dict[str, list[float]] = {az: [] for az in AZS}
    writer = Rpc(bench.nb["az1"])
    for _ in range(args.repeat):
        bench.added += 1
        prefix = f"192.0.{bench.added // 256}.{bench.added % 256}/32"
        before = bench.cpu()
        t0 = time.monotonic()
        writer.transact(
            "OVN_Northbound",
            {"op": "insert", "table": "Logical_Router_Static_Route", "uuid-name": "r",
             "row": {"ip_prefix": prefix, "nexthop": "10.1.1.254"}},
            {"op": "mutate", "table": "Logical_Router", "where": [["name", "==", "lr1"]],
             "mutations": [["static_routes", "insert", ["named-uuid", "r"]]]},
        )  # fmt: skip
        t1 = pump_until(functools.partial(learned_in["az2"].has_prefix, prefix), args.timeout)
        latencies.append(t1 - t0)
        wait_idle(args.timeout)
        after = bench.cpu()
        for az in AZS:
            change_cpu[az].append(after[az] - before[az])
    result["add_median_s"] = statistics.median(latencies)
    result["add_max_s"] = max(latencies)
    result["change_cpu_s"] = {az: statistics.median(v) for az, v in change_cpu.items()}
    # (c) an unrelated change: a new logical switch in AZ1's NB.
    before = bench.cpu()
    writer.transact("OVN_Northbound", {"op": "insert", "table": "Logical_Switch",
                                       "row": {"name": "unrelated"}})  # fmt: skip
    pump_for(selector, 0.5)
    wait_idle(args.timeout)
    after = bench.cpu()
    result["unrelated_cpu_s"] = {az: after[az] - before[az] for az in AZS}
    writer.close()
    for conn in conns.values():
        conn.close()
    return result


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def fmt_s(value: float) -> str:
    """Seconds, human-readable."""
    if value < 1.0:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def report(results: list[dict[str, Any]], python_start: float) -> str:
    """A plain-text table, one line per (N, agent)."""
    header = (
        "routes/AZ  agent    cold (learned / idle)     +1 route (median/max)   "
        "CPU idle az1/az2     CPU per change az1/az2   CPU unrelated az1/az2"
    )
    lines = [header, "-" * len(header)]
    for r in sorted(results, key=lambda r: (r["routes"], r["agent"])):
        lines.append(
            f"{r['routes']:>9}  {r['agent']:<7}  "
            f"{fmt_s(r['cold_s']):>9} / {fmt_s(r['cold_idle_s']):<11}  "
            f"{fmt_s(r['add_median_s']):>9} / {fmt_s(r['add_max_s']):<9}   "
            f"{fmt_s(r['idle_cpu_s']['az1']):>8} / {fmt_s(r['idle_cpu_s']['az2']):<8}  "
            f"{fmt_s(r['change_cpu_s']['az1']):>8} / {fmt_s(r['change_cpu_s']['az2']):<8}       "
            f"{fmt_s(r['unrelated_cpu_s']['az1']):>8} / {fmt_s(r['unrelated_cpu_s']['az2'])}"
        )
    lines.append("")
    if python_start:
        lines.append(
            f"engine start-up (interpreter + imports): {fmt_s(python_start)}, "
            "included in its cold time"
        )
    return "\n".join(lines)


def cold_report(results: list[dict[str, Any]]) -> str:
    """Cold convergence per (N, agent): best and median time, median CPU of both
    agents until idle, and the engine's ratios to the C daemon's (same run)."""
    by: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in results:
        by.setdefault((r["routes"], r["agent"]), []).append(r)
    header = ("routes/AZ  agent    runs  cold best   cold median   CPU az1+az2 median   "
              "engine / C (best, median, CPU)")
    lines = [header, "-" * len(header)]
    for (n, agent), rs in sorted(by.items()):
        cold = [r["cold_s"] for r in rs]
        cpu = [sum(r["cold_cpu_s"].values()) for r in rs if "cold_cpu_s" in r]
        line = (f"{n:>9}  {agent:<7}  {len(rs):>4}  {fmt_s(min(cold)):>9}   "
                f"{fmt_s(statistics.median(cold)):>11}   "
                f"{fmt_s(statistics.median(cpu)) if cpu else '-':>18}")
        c = by.get((n, "ovn-ic"))
        if agent == "engine" and c:
            c_cold = [r["cold_s"] for r in c]
            c_cpu = [sum(r["cold_cpu_s"].values()) for r in c if "cold_cpu_s" in r]
            ratios = [min(cold) / min(c_cold), statistics.median(cold) / statistics.median(c_cold)]
            text = f"{ratios[0]:.2f}x, {ratios[1]:.2f}x"
            if cpu and c_cpu and statistics.median(c_cpu) > 0:
                text += f", {statistics.median(cpu) / statistics.median(c_cpu):.2f}x"
            line += f"   {text}"
        loads = [r["load1"] for r in rs if "load1" in r]
        if loads:
            line += f"   (load {min(loads):.1f} to {max(loads):.1f})"
        lines.append(line)
    return "\n".join(lines)


def compile_checkout(tree: Path | None = None) -> bool:
    """Byte-compile the ``ovsdb_ic`` of checkout ``tree`` (default: this one) into
    ``__pycache__``, as installing the package does: with ``PYTHONDONTWRITEBYTECODE``
    set in the environment and no cache, every engine process would compile the
    library from source at start (~0.1 s of its cold time that an installed engine
    never pays). False when some module did not compile."""
    import compileall

    root = Path(__file__).resolve().parents[1] if tree is None else tree
    return bool(compileall.compile_dir(str(root / "ovsdb_ic"), quiet=1))


def python_startup() -> float:
    """How long ``python -c "import ovsdb_ic.cli, ovsdb_ic.sync.runner"`` takes (best of
    3): the engine's start-up before it can connect, part of its cold time."""
    best = float("inf")
    code = "import ovsdb_ic.cli, ovsdb_ic.sync.runner"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for _ in range(3):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        best = min(best, time.monotonic() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the table (and JSON with ``--json``)."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument(
        "--agents", default="ovn-ic,engine", help="comma-separated: ovn-ic, engine (default both)"
    )
    ap.add_argument(
        "--routes",
        default="0,1000,10000",
        help="comma-separated static routes per AZ (default 0,1000,10000)",
    )
    ap.add_argument("--repeat", type=int, default=5, help="routes added one by one for (b)")
    ap.add_argument("--idle", type=float, default=3.0, help="seconds of idle CPU measurement")
    ap.add_argument("--timeout", type=float, default=300.0, help="per convergence wait")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--cold-only", action="store_true",
                    help="measure only (a), the cold convergence (and its CPU)")
    ap.add_argument("--cold-repeat", default="1", metavar="K[,K...]",
                    help="run each case K times (fresh deployments, the agents alternating) "
                         "and report the cold times' best and median per agent; one K per "
                         "size of --routes (the last one repeats) to run big sizes fewer times")
    args = ap.parse_args(argv)  # fmt: skip
    agents = [a.strip() for a in args.agents.split(",") if a.strip()]
    for a in agents:
        if a not in ("ovn-ic", "engine"):
            ap.error(f"unknown agent {a!r}")
    sizes = [int(x) for x in args.routes.split(",") if x.strip()]
    repeats = [int(x) for x in args.cold_repeat.split(",") if x.strip()]
    if not repeats or min(repeats) < 1:
        ap.error(f"--cold-repeat: positive counts wanted, got {args.cold_repeat!r}")
    repeats = (repeats + [repeats[-1]] * len(sizes))[: len(sizes)]
    print(f"# {platform.node()} {platform.python_implementation()} {platform.python_version()}",
          flush=True)  # fmt: skip
    compile_checkout()
    results = []
    for n, times in zip(sizes, repeats, strict=True):
        for rep in range(times):
            for kind in agents:
                print(f"# {kind}, {n} routes per AZ (run {rep + 1}) ...", flush=True)
                results.append(run_case(kind, n, args))
                print(f"#   {results[-1]}", flush=True)
    if args.cold_only:
        print(cold_report(results))
    else:
        print(report(results, python_startup() if "engine" in agents else 0.0))
        if max(repeats) > 1:
            print(cold_report(results))
    print(f"# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
