"""Failover benchmark: kill -9 the Raft leader, time how long clients take to recover.

A real 3-member Raft cluster (:class:`~ovsdb_ic.testing.Sandbox`, election timer 1000 ms,
the ovsdb-server default) serves a tiny database: one table ``Write {writer, seq, t}``,
seeded with ``--rows`` rows so that a full resync has a visible cost. Three separate
processes run side by side, all with the remote list of the three members:

* **writer** -- an ovsdb_ic client (fast backoff) inserting a row every 10 ms, each row
  stamped with ``t``, the system-wide ``time.monotonic()`` when it was built;
* **ovsdb_ic** -- ``connect(remotes, database=...)`` with its defaults (leader only,
  shuffled remotes, Backoff(0.1 s .. 5 s)), a live replica of ``Write`` and a write every
  20 ms (``transact(..., idempotent=True)``, guarded by a ``wait``);
* **python-ovs** -- ``ovs.db.idl.Idl(remotes, helper, leader_only=True)`` with its
  defaults, a write every 20 ms (``Transaction.commit_block()``, retried on ``TRY_AGAIN``
  after ``change_seqno`` moves, as its documentation says).

Each run: a second of steady state, then the parent notes ``T0``, SIGKILLs the leader and
notes ``T1`` once it is reaped (dead for sure). Measured, per client, from ``T0``:

(a) **updates again**: the first time the client's replica receives a writer row with
    ``t > T1`` -- a row built after the leader was dead, so it was committed by a new
    leader and reached the client on its new connection;
(b) **first write**: the first of the client's own transactions reported committed on a
    connection newer than the one it had before the kill (ovsdb_ic:
    ``client.stats.connects``; python-ovs: its ``jsonrpc.Session`` seqno). A reply read
    just after ``T0`` from the dying leader is thus never counted.

And whether each client did a **full resync** in that run: ovsdb_ic counts them itself
(``client.stats.resyncs``: a monitor that was not resumed with ``monitor_cond_since``
``found=true``); python-ovs says nothing, so the worker counts rows the Idl reports
``create`` for although it already had them (on ``found=false`` the Idl empties its tables
silently and re-downloads everything, each row reported as created again). The writer's
own first post-kill commit (its first row with ``t > T1``) is printed as a reference:
neither client can see a post-kill row earlier than about then.

The killed member is restarted and the cluster agrees on a leader before the next run.

Usage::

    PYTHONPATH=. python benchmarks/failover.py --runs 5
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import os
import platform
import queue
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

DB = "Failover"
SCHEMA = {
    "name": DB,
    "version": "1.0.0",
    "tables": {
        "Write": {
            "columns": {
                "writer": {"type": "string"},
                "seq": {"type": "integer"},
                "t": {"type": "real"},
            },
            "isRoot": True,
        }
    },
}
KINDS = ("ovsdb_ic", "python-ovs")
HISTORY = 50_000


def emit(obj: dict[str, Any]) -> None:
    """One JSON line to the parent."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Log:
    """What a worker saw, for the parent's measurements (shared by all worker kinds)."""

    def __init__(self) -> None:
        self.ext: collections.deque[tuple[float, float]] = collections.deque(maxlen=HISTORY)
        """(t of a writer row, when this client received it)."""
        self.own: collections.deque[tuple[float, int]] = collections.deque(maxlen=HISTORY)
        """(when an own write was reported committed, connection generation then)."""

    def measure(self, t0: float, t1: float) -> tuple[float | None, float | None]:
        """(a) and (b) in seconds from ``t0``, or None while not seen yet."""
        a = min((recv for t, recv in self.ext if t > t1), default=None)
        before = [gen for when, gen in self.own if when < t0]
        gen0 = max(before) if before else None
        b = min((when for when, gen in self.own if when > t0 and gen0 is not None
                 and gen > gen0), default=None)
        return (None if a is None else a - t0, None if b is None else b - t0)


def read_commands(into: queue.Queue[str]) -> None:
    """Copy stdin lines into a queue (a thread); "quit" when stdin closes."""
    for line in sys.stdin:
        into.put(line.strip())
    into.put("quit")


# =============================================================================== workers


def worker_writer(remote: str, args: argparse.Namespace) -> None:
    """The neutral writer: a row every 10 ms, resent after a failover (guarded)."""
    import trio

    from ovsdb_ic.client import connect
    from ovsdb_ic.client.failover import Backoff
    from ovsdb_ic.errors import WaitTimedOutError

    async def main() -> None:
        commands: queue.Queue[str] = queue.Queue()
        threading.Thread(target=read_commands, args=(commands,), daemon=True).start()
        committed: collections.deque[tuple[float, float]] = collections.deque(maxlen=HISTORY)
        async with connect(remote, database=DB, backoff=Backoff(initial=0.02, maximum=0.2),
                           probe_interval=1.0) as client:
            emit({"ready": True})
            seq = 0
            pending: tuple[float, float] | None = None
            while True:
                try:
                    cmd = commands.get_nowait()
                except queue.Empty:
                    cmd = ""
                if cmd == "quit":
                    return
                if cmd.startswith("measure"):
                    pending = (float(cmd.split()[1]), float(cmd.split()[2]))
                if pending is not None:
                    t0, t1 = pending
                    first = min((w for t, w in committed if t > t1), default=None)
                    if first is not None:
                        emit({"first_commit": first - t0})
                        pending = None
                seq += 1
                t = time.monotonic()
                where = [["writer", "==", "ext"], ["seq", "==", seq]]
                # WaitTimedOutError: an earlier attempt committed it.
                with contextlib.suppress(WaitTimedOutError):
                    await client.transact([
                        {"op": "wait", "table": "Write", "where": where, "columns": ["seq"],
                         "until": "==", "rows": [], "timeout": 0},
                        {"op": "insert", "table": "Write",
                         "row": {"writer": "ext", "seq": seq, "t": t}},
                    ], idempotent=True)
                committed.append((t, time.monotonic()))
                await trio.sleep(args.writer_pace)

    trio.run(main)


def worker_ovsdb_ic(remote: str, args: argparse.Namespace) -> None:
    """ovsdb_ic with its defaults: a live replica and a guarded write every ``pace`` s."""
    import trio

    from ovsdb_ic.client import connect
    from ovsdb_ic.client.failover import Backoff
    from ovsdb_ic.errors import WaitTimedOutError

    log = Log()
    backoff = None if args.backoff_max is None else Backoff(maximum=args.backoff_max)

    async def main() -> None:
        commands: queue.Queue[str] = queue.Queue()
        threading.Thread(target=read_commands, args=(commands,), daemon=True).start()
        async with connect(remote, database=DB, backoff=backoff) as client:
            live = await client.replicate(["Write"])
            sub = live.subscribe(size=1_000_000)
            rows = len(live.replica.table("Write"))

            async def feed() -> None:
                async for change in sub:
                    new = change.new
                    if change.kind == "insert" and new is not None and new["writer"] == "ext":
                        log.ext.append((new["t"], time.monotonic()))
                raise RuntimeError("the change subscription ended (overflowed?)")

            async def write() -> None:
                seq = 0
                while True:
                    seq += 1
                    where = [["writer", "==", "ovsdb_ic"], ["seq", "==", seq]]
                    with contextlib.suppress(WaitTimedOutError):
                        await client.transact([
                            {"op": "wait", "table": "Write", "where": where,
                             "columns": ["seq"], "until": "==", "rows": [], "timeout": 0},
                            {"op": "insert", "table": "Write", "row": {
                                "writer": "ovsdb_ic", "seq": seq, "t": time.monotonic()}},
                        ], idempotent=True)
                    log.own.append((time.monotonic(), client.stats.connects))
                    await trio.sleep(args.pace)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed)
                nursery.start_soon(write)
                while not log.own:
                    await trio.sleep(0.01)
                emit({"ready": True, "rows": rows})
                base = (client.stats.resyncs, client.stats.resumes, client.stats.reconnects)
                pending: tuple[float, float, float] | None = None
                while True:
                    try:
                        cmd = commands.get_nowait()
                    except queue.Empty:
                        cmd = ""
                    if cmd == "quit":
                        nursery.cancel_scope.cancel()
                        return
                    if cmd.startswith("measure"):
                        _, t0, t1 = cmd.split()
                        pending = (float(t0), float(t1), time.monotonic() + args.timeout)
                    if pending is not None:
                        a, b = log.measure(pending[0], pending[1])
                        if (a is not None and b is not None) or time.monotonic() > pending[2]:
                            st = client.stats
                            emit({"a": a, "b": b, "resyncs": st.resyncs - base[0],
                                  "resumes": st.resumes - base[1],
                                  "reconnects": st.reconnects - base[2],
                                  "failover": st.failover_durations[-1]
                                  if st.failover_durations else None,
                                  "rows": len(live.replica.table("Write"))})
                            base = (st.resyncs, st.resumes, st.reconnects)
                            pending = None
                    await trio.sleep(0.005)

    trio.run(main)


def worker_python_ovs(remote: str, args: argparse.Namespace) -> None:
    """python-ovs ``Idl(leader_only=True)``: replica of ``Write``, a write every ``pace`` s."""
    import ovs.db.idl
    import ovs.poller

    log = Log()
    known: set[Any] = set()
    counters = {"recreated": 0}

    class Idl(ovs.db.idl.Idl):  # type: ignore[misc]
        def notify(self, event: str, row: Any, updates: Any = None) -> None:
            if event == ovs.db.idl.ROW_CREATE and row._table.name == "Write":
                if row.uuid in known:
                    counters["recreated"] += 1  # re-downloaded: a full resync
                else:
                    known.add(row.uuid)
                if row.writer == "ext":
                    log.ext.append((row.t, time.monotonic()))
            super().notify(event, row, updates)

    helper = ovs.db.idl.SchemaHelper(location=args.schema)
    helper.register_all()
    idl = Idl(remote, helper, leader_only=True)

    def block(ms: int) -> None:
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(ms)
        poller.block()

    def connection_gen() -> int:
        # The jsonrpc.Session's seqno moves on every connect and disconnect.
        return int(idl._session.get_seqno())

    while not idl.has_ever_connected():
        idl.run()
        block(10)
    commands: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_commands, args=(commands,), daemon=True).start()
    table = idl.tables["Write"]
    seq = 0
    next_write = 0.0
    pending: tuple[float, float, float] | None = None
    ready = False
    base = 0
    while True:
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            cmd = ""
        if cmd == "quit":
            idl.close()
            return
        if cmd.startswith("measure"):
            _, t0, t1 = cmd.split()
            pending = (float(t0), float(t1), time.monotonic() + args.timeout)
        if pending is not None:
            a, b = log.measure(pending[0], pending[1])
            if (a is not None and b is not None) or time.monotonic() > pending[2]:
                emit({"a": a, "b": b, "recreated": counters["recreated"] - base,
                      "rows": len(table.rows)})
                base = counters["recreated"]
                pending = None
        idl.run()
        now = time.monotonic()
        if now >= next_write:
            seq += 1
            before = idl.change_seqno
            txn = ovs.db.idl.Transaction(idl)
            row = txn.insert(table)
            row.writer = "python-ovs"
            row.seq = seq
            row.t = now
            status = txn.commit_block()
            if status == ovs.db.idl.Transaction.SUCCESS:
                log.own.append((time.monotonic(), connection_gen()))
                next_write = time.monotonic() + args.pace
                if not ready:
                    ready = True
                    emit({"ready": True, "rows": len(table.rows)})
            elif status == ovs.db.idl.Transaction.TRY_AGAIN:
                seq -= 1
                # Wait for the database to change (a reconnect and resync) and try again.
                deadline = time.monotonic() + 1.0
                while idl.change_seqno == before and time.monotonic() < deadline:
                    idl.run()
                    block(10)
            else:
                raise RuntimeError(f"python-ovs commit: {status} {txn.get_error()}")
            continue
        block(max(1, int((next_write - now) * 1000)))


WORKERS: dict[str, Callable[[str, argparse.Namespace], None]] = {
    "writer": worker_writer,
    "ovsdb_ic": worker_ovsdb_ic,
    "python-ovs": worker_python_ovs,
}


# ================================================================================ parent


class Worker:
    """A worker process and a thread that queues its JSON lines."""

    def __init__(self, kind: str, remote: str, args: argparse.Namespace, schema: Path) -> None:
        self.kind = kind
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", kind, "--remote", remote,
             "--schema", str(schema), "--pace", str(args.pace), "--writer-pace",
             str(args.writer_pace), "--timeout", str(args.timeout),
             *([] if args.backoff_max is None else ["--backoff-max", str(args.backoff_max)])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self, timeout: float) -> dict[str, Any]:
        try:
            msg = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.kind}: no answer within {timeout} s") from None
        if msg is None:
            raise RuntimeError(f"{self.kind} worker exited ({self.proc.wait()})")
        return msg

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def seed_rows(remote: str, rows: int) -> None:
    """Insert ``rows`` rows (``ovsdb-client``, not a measured client), 500 per transaction."""
    for start in range(0, rows, 500):
        ops = [{"op": "insert", "table": "Write",
                "row": {"writer": "seed", "seq": i, "t": 0.0}}
               for i in range(start, min(rows, start + 500))]
        subprocess.run(["ovsdb-client", "transact", remote, json.dumps([DB, *ops])],
                       check=True, capture_output=True, timeout=60)


def summary(values: list[float]) -> tuple[float, float, float] | None:
    return (min(values), statistics.median(values), max(values)) if values else None


def fmt(s: tuple[float, float, float] | None) -> str:
    return "- | - | -" if s is None else " | ".join(f"{v:.3f}" for v in s)


def ratio(a: tuple[float, float, float] | None, b: tuple[float, float, float] | None) -> str:
    if a is None or b is None:
        return "- | - | -"
    return " | ".join(f"{x / y:.2f}" if y else "-" for x, y in zip(a, b, strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="leader kills (default 5)")
    ap.add_argument("--rows", type=int, default=2000,
                    help="rows in the table before the first run (default 2000)")
    ap.add_argument("--pace", type=float, default=0.02,
                    help="seconds between a measured client's writes (default 0.02)")
    ap.add_argument("--writer-pace", type=float, default=0.01,
                    help="seconds between the writer process's writes (default 0.01)")
    ap.add_argument("--timeout", type=float, default=40.0,
                    help="give up on a measure after this many seconds (default 40)")
    ap.add_argument("--backoff-max", type=float, default=None,
                    help="ovsdb_ic: Backoff(maximum=...) instead of the default (5 s)")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds of steady state before each kill (default 1)")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--remote", help=argparse.SUPPRESS)
    ap.add_argument("--schema", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        # The clients log every refused server while they fail over: keep the output to
        # the measurements.
        logging.disable(logging.WARNING)
        WORKERS[args.worker](args.remote, args)
        return 0
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    import ovs.version

    from ovsdb_ic.testing import Sandbox

    started = time.monotonic()
    server_version = subprocess.run(
        ["ovsdb-client", "--version"], capture_output=True, text=True, check=False
    ).stdout.split("\n")[0]
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, python-ovs {ovs.version.VERSION}, {server_version}")
    print(f"# runs={args.runs} rows={args.rows} pace={args.pace}s "
          f"writer pace={args.writer_pace}s ovsdb_ic backoff="
          f"{'default' if args.backoff_max is None else f'maximum={args.backoff_max}s'}",
          flush=True)
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    floors: list[float] = []
    with Sandbox() as sandbox:
        schema = sandbox.path / "failover.ovsschema"
        schema.write_text(json.dumps(SCHEMA))
        cluster = sandbox.start_cluster(schema, name="fo", size=3)
        seed_rows(cluster.leader().remote, args.rows)
        remote = cluster.remote
        workers = [Worker(k, remote, args, schema) for k in ("writer", *KINDS)]
        try:
            for w in workers:
                ready = w.read(60)
                if not ready.get("ready"):
                    raise RuntimeError(f"{w.kind}: {ready}")
            for run in range(1, args.runs + 1):
                time.sleep(args.settle)
                leader = cluster.leader()
                t0 = time.monotonic()
                leader.kill()
                t1 = time.monotonic()
                for w in workers:
                    w.send(f"measure {t0!r} {t1!r}")
                line = [f"# run {run}: killed {leader.name} (reaped after "
                        f"{(t1 - t0) * 1000:.1f} ms)"]
                for w in workers:
                    r = w.read(args.timeout + 20)
                    if w.kind == "writer":
                        floors.append(r["first_commit"])
                        line.append(f"writer first commit {r['first_commit']:.3f}s")
                        continue
                    results[w.kind].append(r)
                    resync = r.get("resyncs", r.get("recreated"))
                    line.append(f"{w.kind} a={r['a'] if r['a'] is None else round(r['a'], 3)}"
                                f" b={r['b'] if r['b'] is None else round(r['b'], 3)}"
                                f" resync={resync}")
                print("; ".join(line), flush=True)
                leader.restart()
                cluster.wait_for_leader(timeout=30)
        finally:
            for w in workers:
                w.stop()

    print()
    print(f"Failover after kill -9 of the Raft leader: seconds from the kill, {args.runs} runs "
          f"(min | median | max)")
    print()
    print("| client | (a) updates again: min | median | max | (b) first write: min | median "
          "| max | full resyncs |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    stats: dict[str, dict[str, tuple[float, float, float] | None]] = {}
    for kind in KINDS:
        rs = results[kind]
        a = summary([r["a"] for r in rs if r["a"] is not None])
        b = summary([r["b"] for r in rs if r["b"] is not None])
        stats[kind] = {"a": a, "b": b}
        missing = sum(r["a"] is None or r["b"] is None for r in rs)
        if kind == "ovsdb_ic":
            full = sum(1 for r in rs if r["resyncs"])
            detail = f"{full} of {len(rs)} runs (resumed: {sum(r['resumes'] for r in rs)})"
        else:
            full = sum(1 for r in rs if r["recreated"])
            rows = [r["recreated"] for r in rs if r["recreated"]]
            detail = f"{full} of {len(rs)} runs" + (
                f" ({statistics.median(rows):.0f} rows re-downloaded, median)" if rows else "")
        if missing:
            detail += f"; {missing} run(s) timed out"
        print(f"| {kind} | {fmt(a)} | {fmt(b)} | {detail} |")
    print(f"| (writer's first post-kill commit) | {fmt(summary(floors))} | | | | |")
    print()
    print("| ratio ovsdb_ic / python-ovs | (a) min | median | max | (b) min | median | max |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| | {ratio(stats['ovsdb_ic']['a'], stats['python-ovs']['a'])} | "
          f"{ratio(stats['ovsdb_ic']['b'], stats['python-ovs']['b'])} |")
    print()
    print(f"# total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
