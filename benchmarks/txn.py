"""Transaction round trips: ovsdb_ic ``Client.transact`` beside python-ovs and a raw-socket floor.

One standalone ``OVN_IC_Southbound`` ``ovsdb-server`` (a :class:`~ovsdb_ic.testing.Sandbox`,
unix socket). Each client runs in a FRESH subprocess, one after the other, round after
round, and does ``--iterations`` sequential iterations of "insert one
``Availability_Zone`` row" + "delete it" (two round trips each; the same requests as phase
3 of ``benchmarks/replica_sync.py``) after a short warm-up:

* ``raw``: the floor. A blocking unix socket, every request JSON-encoded before the
  clock starts, each reply read until it is complete (parsed with ``orjson``) and checked
  for an error. Nothing a Python client does can be cheaper than this; what is left is
  the server's time and the two system calls.
* ``raw-live``: the same, with a ``monitor_cond`` of ``Availability_Zone`` on the same
  connection: each round trip also reads the ``update2`` the server sends before its reply.
* ``ovsdb_ic``: ``Client.transact`` with the operations as dicts (as phase 3 does).
* ``ovsdb_ic-live``: the same, with ``Client.replicate(["Availability_Zone"])`` following
  every change (as a real user does); the clock stops once the replica has applied the
  last change (``Client.caught_up``).
* ``python-ovs``: ``ovs.db.idl.Idl`` of ``Availability_Zone`` and
  ``Transaction.commit_block`` (an Idl always keeps its replica: python-ovs has no
  non-live variant); it waits for each inserted row to appear in its replica before
  deleting it through that row, as phase 3 does.

Reported per client: round trips per second (median and best round), and the CPU the
client process used per round trip (user + system, the steadier number on a busy
machine), and the ``ovsdb-server``'s CPU per round trip during the same loop; then the
ratios of ovsdb_ic to python-ovs and to the floor, per round (each round's clients run
back to back, so their ratio is measured under about the same load).

``--switches`` runs ovsdb_ic once more with a trio ``Instrument`` counting task steps
per round trip (not timed); ``--profile`` runs it under ``cProfile`` and prints the top
functions by own time.

Usage::

    .venv/bin/python benchmarks/txn.py                       # 5 rounds of 1000 iterations
    .venv/bin/python benchmarks/txn.py --rounds 3 --iterations 500 --switches
    .venv/bin/python benchmarks/txn.py --clients ovsdb_ic --profile
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

DB = "OVN_IC_Southbound"
CLIENTS = ("raw", "raw-live", "ovsdb_ic", "ovsdb_ic-live", "python-ovs")
WARMUP = 50


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def ready_and_wait() -> None:
    """Tell the parent the warm-up is over; wait for its go (it reads the server's CPU)."""
    emit({"ready": True})
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("no go from the parent")


def insert_op(name: str) -> dict[str, Any]:
    return {"op": "insert", "table": "Availability_Zone", "row": {"name": name}}


def delete_op(name: str) -> dict[str, Any]:
    return {"op": "delete", "table": "Availability_Zone", "where": [["name", "==", name]]}


class GcClock:
    """CPU time spent in the cyclic garbage collector (``gc.callbacks``), per generation."""

    def __init__(self) -> None:
        self.total = 0.0
        self.by_gen = [0, 0, 0]
        self._start = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.thread_time()
        else:
            self.total += time.thread_time() - self._start
            self.by_gen[info["generation"]] += 1

    def since(self, mark: tuple[float, list[int]]) -> dict[str, Any]:
        return {"gc_cpu": self.total - mark[0],
                "gc_runs": [a - b for a, b in zip(self.by_gen, mark[1], strict=True)]}

    def mark(self) -> tuple[float, list[int]]:
        return self.total, list(self.by_gen)


def cpu() -> float:
    return time.process_time()  # user + system of this process, nanosecond clock


def sys_cpu() -> float:
    """System (kernel) CPU seconds of this process so far (getrusage, microseconds)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


# ============================================================================ workers


def worker_raw(args: argparse.Namespace, *, live: bool) -> None:
    import orjson

    path = args.remote.split(":", 1)[1]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    recv = sock.recv
    send = sock.sendall

    def read_until(expect: int) -> list[Any]:
        """Read until ``expect`` whole messages have arrived (the server writes them back
        to back; our strings hold no ``}{``)."""
        buf = b""
        while True:
            buf += recv(65536)
            if buf.endswith(b"}"):
                try:
                    msgs: list[Any] = orjson.loads(b"[" + buf.replace(b"}{", b"},{") + b"]")
                except orjson.JSONDecodeError:
                    continue
                if len(msgs) >= expect:
                    return msgs

    if live:
        send(orjson.dumps({"id": 0, "method": "monitor_cond", "params": [
            DB, "az", {"Availability_Zone": [{"columns": ["name"]}]}]}))
        read_until(1)
    per_rt = 2 if live else 1

    def requests(prefix: str, n: int) -> list[bytes]:
        out = []
        for i in range(n):
            name = f"{prefix}-{i}"
            for k, op in enumerate((insert_op(name), delete_op(name))):
                out.append(orjson.dumps({"id": 2 * i + k + 1, "method": "transact",
                                         "params": [DB, op]}))
        return out

    def run(reqs: list[bytes]) -> None:
        for data in reqs:
            send(data)
            for msg in read_until(per_rt):
                if msg.get("error") is not None or (
                        "result" in msg and "error" in msg["result"][0]):
                    raise RuntimeError(f"transaction failed: {msg}")

    run(requests("warm", WARMUP))
    reqs = requests("bench", args.iterations)
    ready_and_wait()
    gcc = GcClock()
    g0, c0, s0, t0 = gcc.mark(), cpu(), sys_cpu(), time.perf_counter()
    run(reqs)
    emit({"wall": time.perf_counter() - t0, "cpu": cpu() - c0, "sys": sys_cpu() - s0,
          **gcc.since(g0)})
    sock.close()


def worker_ovsdb_ic(args: argparse.Namespace, *, live: bool) -> None:
    import trio

    import ovsdb_ic.client

    async def loop(c: Any, prefix: str, n: int) -> None:
        transact = c.transact
        for i in range(n):
            name = f"{prefix}-{i}"
            await transact([insert_op(name)])
            await transact([delete_op(name)])

    async def main() -> None:
        async with ovsdb_ic.client.connect(args.remote, database=DB) as c:
            replica = await c.replicate(["Availability_Zone"]) if live else None
            await loop(c, "warm", WARMUP)
            if replica is not None:
                await c.caught_up(replica)
            await trio.to_thread.run_sync(ready_and_wait)
            if args.mode == "switches":
                counter = _StepCounter()
                # Duck-typed (trio is imported only in the ovsdb_ic worker).
                trio.lowlevel.add_instrument(cast("trio.abc.Instrument", counter))
            if args.mode == "profile":
                import cProfile
                import pstats

                # Wall-clock timer by default (TXN_PROFILE_CPU=1: thread CPU time, whose
                # per-call cost inflates small functions far more).
                timer = time.thread_time if os.environ.get("TXN_PROFILE_CPU") else time.perf_counter
                prof = cProfile.Profile(timer)
                prof.enable()
            gcc = GcClock()
            g0, c0, s0, t0 = gcc.mark(), cpu(), sys_cpu(), time.perf_counter()
            await loop(c, "bench", args.iterations)
            if replica is not None:
                await c.caught_up(replica)
            wall, used = time.perf_counter() - t0, cpu() - c0
            out: dict[str, Any] = {"wall": wall, "cpu": used, "sys": sys_cpu() - s0,
                                   **gcc.since(g0)}
            if args.mode == "switches":
                trio.lowlevel.remove_instrument(cast("trio.abc.Instrument", counter))
                out["steps"] = counter.steps
                out["by_task"] = counter.by_task
                out["cpu_by_task"] = counter.cpu_by_task
            if args.mode == "profile":
                prof.disable()
                import io

                text = io.StringIO()
                pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(30)
                out["profile"] = text.getvalue()
            emit(out)

    trio.run(main)


class _StepCounter:
    """A trio Instrument: task steps (each one a task switch) and their thread CPU time,
    per task name; the rest of the loop's CPU is the scheduler's (and I/O waits')."""

    def __init__(self) -> None:
        self.steps = 0
        self.by_task: dict[str, int] = {}
        self.cpu_by_task: dict[str, float] = {}
        self._t: float | None = None  # None until a step starts under the instrument

    def before_task_step(self, task: Any) -> None:
        self.steps += 1
        name = task.name.rsplit(".", 1)[-1]
        self.by_task[name] = self.by_task.get(name, 0) + 1
        self._t = time.thread_time()

    def after_task_step(self, task: Any) -> None:
        if self._t is None:
            return
        name = task.name.rsplit(".", 1)[-1]
        self.cpu_by_task[name] = self.cpu_by_task.get(name, 0.0) + time.thread_time() - self._t


def idl_insert_delete(idl: Any, prefix: str, n: int, block: Any) -> None:
    """python-ovs: ``n`` times, insert an Availability_Zone row named ``prefix-i``, wait
    until the Idl holds it, delete it (two commit_block round trips each); ``block``
    waits for the Idl's next event. (benchmarks/replica_sync.py's phase 3 too.)"""
    import ovs.db.idl

    azs = idl.tables["Availability_Zone"]
    for i in range(n):
        txn = ovs.db.idl.Transaction(idl)
        row = txn.insert(azs)
        row.name = f"{prefix}-{i}"
        status = txn.commit_block()
        if status != ovs.db.idl.Transaction.SUCCESS:
            raise RuntimeError(f"insert: {status} {txn.get_error()}")
        new_uuid = txn.get_insert_uuid(row.uuid)
        while new_uuid not in azs.rows:
            idl.run()
            if new_uuid in azs.rows:
                break
            block()
        txn = ovs.db.idl.Transaction(idl)
        azs.rows[new_uuid].delete()
        status = txn.commit_block()
        if status != ovs.db.idl.Transaction.SUCCESS:
            raise RuntimeError(f"delete: {status} {txn.get_error()}")


def worker_python_ovs(args: argparse.Namespace) -> None:
    import ovs.db.idl
    import ovs.poller

    from ovsdb_ic.testing import schema_path

    helper = ovs.db.idl.SchemaHelper(location=str(schema_path("ic-sb")))
    helper.register_table("Availability_Zone")
    idl = ovs.db.idl.Idl(args.remote, helper)

    def block() -> None:
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.block()

    while True:
        idl.run()
        if idl.has_ever_connected():
            break
        block()

    def loop(prefix: str, n: int) -> None:
        idl_insert_delete(idl, prefix, n, block)

    loop("warm", WARMUP)
    ready_and_wait()
    gcc = GcClock()
    g0, c0, s0, t0 = gcc.mark(), cpu(), sys_cpu(), time.perf_counter()
    loop("bench", args.iterations)
    emit({"wall": time.perf_counter() - t0, "cpu": cpu() - c0, "sys": sys_cpu() - s0,
          **gcc.since(g0)})
    idl.close()


def run_worker(args: argparse.Namespace) -> None:
    kind = args.worker
    if kind in ("raw", "raw-live"):
        worker_raw(args, live=kind == "raw-live")
    elif kind in ("ovsdb_ic", "ovsdb_ic-live"):
        worker_ovsdb_ic(args, live=kind == "ovsdb_ic-live")
    else:
        worker_python_ovs(args)


# ============================================================================ parent


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(kind: str, remote: str, server_pid: int, iterations: int,
               mode: str = "time") -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", kind, "--remote", remote,
           "--iterations", str(iterations), "--mode", mode]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None

    def read() -> dict[str, Any]:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            raise RuntimeError(f"{kind} worker exited ({proc.returncode})")
        out: dict[str, Any] = json.loads(line)
        return out

    try:
        read()  # ready
        s0 = proc_cpu(server_pid)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out = read()
        out["server_cpu"] = proc_cpu(server_pid) - s0
        proc.stdin.close()
        if proc.wait(60) != 0:
            raise RuntimeError(f"{kind} worker failed ({proc.returncode})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=1000,
                    help="insert + delete pairs per client per round (2 round trips each)")
    ap.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS))
    ap.add_argument("--switches", action="store_true",
                    help="count trio task steps per round trip of ovsdb_ic (untimed run)")
    ap.add_argument("--profile", action="store_true",
                    help="print a cProfile of ovsdb_ic's loop (untimed run)")
    ap.add_argument("--worker", choices=CLIENTS, help=argparse.SUPPRESS)
    ap.add_argument("--remote", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="time", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0

    from ovsdb_ic.testing import Sandbox

    rts = 2 * args.iterations
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {args.rounds} rounds x {args.iterations} iterations "
          f"({rts} round trips per client per round); load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in args.clients}
    with Sandbox() as sb:
        srv = sb.start_server("ic-sb", name="icsb", unix=True)
        for rnd in range(args.rounds):
            for kind in args.clients:
                r = run_client(kind, srv.remote, srv.pid, args.iterations)
                results[kind].append(r)
                print(f"# round {rnd + 1} {kind:<14} {rts / r['wall']:8.0f} rt/s  "
                      f"client cpu {1e6 * r['cpu'] / rts:6.1f} us/rt "
                      f"(sys {1e6 * r['sys'] / rts:5.1f})  "
                      f"server cpu {1e6 * r['server_cpu'] / rts:6.1f} us/rt  "
                      f"gc {1e6 * r['gc_cpu'] / rts:5.1f} us/rt {r['gc_runs']}", flush=True)
        extra: dict[str, dict[str, Any]] = {}
        for kind in ("ovsdb_ic", "ovsdb_ic-live"):
            if args.switches and kind in args.clients:
                extra[kind + " switches"] = run_client(kind, srv.remote, srv.pid,
                                                       args.iterations, "switches")
            if args.profile and kind in args.clients:
                extra[kind + " profile"] = run_client(kind, srv.remote, srv.pid,
                                                      args.iterations, "profile")
    print(f"# load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    report(args, results)
    for name, r in extra.items():
        if "steps" in r:
            per = {t: round(n / rts, 2) for t, n in sorted(r["by_task"].items(),
                                                             key=lambda kv: -kv[1])}
            print(f"\n{name}: {r['steps'] / rts:.2f} task steps per round trip: {per}")
            cpu_per = {t: round(1e6 * c / rts, 1) for t, c in sorted(
                r["cpu_by_task"].items(), key=lambda kv: -kv[1])}
            print(f"  CPU per round trip: {1e6 * r['cpu'] / rts:.1f} us, in task steps "
                  f"(us, thread CPU, instrumented): {cpu_per}, the rest "
                  f"{1e6 * (r['cpu'] - sum(r['cpu_by_task'].values())) / rts:.1f} us")
        if "profile" in r:
            print(f"\n{name} ({rts} round trips):\n{r['profile']}")
    return 0


def report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]]) -> None:
    rts = 2 * args.iterations
    print()
    print("| client | rounds | round trips/s, median (best) | client CPU us/rt, median | "
          "server CPU us/rt, median |")
    print("|---|---:|---:|---:|---:|")
    for kind, rs in results.items():
        if not rs:
            continue
        rates = [rts / r["wall"] for r in rs]
        print(f"| {kind} | {len(rs)} | {statistics.median(rates):.0f} ({max(rates):.0f}) | "
              f"{statistics.median(1e6 * r['cpu'] / rts for r in rs):.1f} | "
              f"{statistics.median(1e6 * r['server_cpu'] / rts for r in rs):.1f} |")
    pairs = [("ovsdb_ic-live", "python-ovs"), ("ovsdb_ic", "python-ovs"),
             ("ovsdb_ic", "raw"), ("ovsdb_ic-live", "raw-live"), ("python-ovs", "raw-live")]
    print()
    print("| ratio of round trips/s | per round | median | client CPU per rt (inverse) |")
    print("|---|---|---:|---:|")
    for a, b in pairs:
        ra, rb = results.get(a), results.get(b)
        if not ra or not rb:
            continue
        per = [rb_["wall"] / ra_["wall"] for ra_, rb_ in zip(ra, rb, strict=False)]
        cpu_ratio = statistics.median(rb_["cpu"] / ra_["cpu"]
                                      for ra_, rb_ in zip(ra, rb, strict=False))
        print(f"| {a} / {b} | {' '.join(f'{x:.2f}' for x in per)} | "
              f"{statistics.median(per):.2f}x | {cpu_ratio:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
