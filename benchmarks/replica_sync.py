"""Replica benchmark: ovsdb_ic vs python-ovs and ovsdbapp against a real IC-SB server.

One standalone ``OVN_IC_Southbound`` ``ovsdb-server`` (in a :class:`~ovsdb_ic.testing.Sandbox`)
is filled with one ``Availability_Zone`` and N ``Route`` rows (the rows of
``benchmarks/capture.py``). Then, for each client, a FRESH subprocess (separate memory),
one after the other against the same server:

1. **initial sync** -- time from before connecting until the client holds a complete
   replica of ``Route`` + ``Availability_Zone`` (N Route rows); the growth of the
   process's resident set (VmRSS) over that interval and of its peak (VmHWM, reset
   before connecting). For ovsdb_ic also a breakdown: connect (schema, set_db_change_aware),
   the server building its reply (request sent -> first byte), the transfer (first ->
   last byte), framing (the JSON parse of the reply), decoding into ``RowUpdate``s, the
   replica apply (staged steps + commit, CPU), the time spent in the cyclic garbage
   collector during all of it, and the rest (scheduling, waiting);
2. **update catch-up** -- while the replica is connected, this (parent) process commits
   ``--updates`` single-row transactions (set one Route's ``nexthop``, each row once),
   pipelined over ``--writers`` raw unix-socket connections from one tight select loop
   (requests encoded beforehand, replies counted by scanning the bytes); measured are
   the server's commit rate (first request -> last reply) and the time from the first
   request until the client has seen every change (``time.monotonic`` is system-wide,
   so the two processes' clocks agree);
3. **transaction round trips** -- 1000 sequential iterations of "insert one
   Availability_Zone row" + "delete it" (2000 round trips), ``Client.transact`` vs
   python-ovs ``Transaction.commit_block`` (``benchmarks/txn.py`` runs the same loop
   alone, in rounds, beside a raw-socket floor, with CPU per round trip).

For context, the C ``ovsdb-client dump --format=json`` of the Route table is timed on
the same server (whole process).

With ``--probe-ms MS`` the clients connect through a db-managed unix remote (a
``Connection`` row) with that server-side inactivity probe, and each client stays
connected ``--hold`` seconds after its sync; reported is whether it was disconnected
(python-ovs/ovsdbapp: reconnections counted by their reconnect FSM).

Usage::

    .venv/bin/python benchmarks/replica_sync.py                  # 10000, 50000, 200000 rows
    .venv/bin/python benchmarks/replica_sync.py --rows 200000 --clients ovsdb_ic
    .venv/bin/python benchmarks/replica_sync.py --rows 200000 --probe-ms 5000 --hold 60
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

DB = "OVN_IC_Southbound"
TXN_ITERATIONS = 1000
CLIENTS = ("ovsdb_ic", "python-ovs", "ovsdbapp")


def proc_status(field: str) -> int:
    """A ``/proc/self/status`` value in KiB (VmRSS, VmHWM)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux: ``echo 5 > /proc/self/clear_refs``)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def wait_go() -> None:
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise RuntimeError(f"expected 'go' from the parent, got {line!r}")


class GcClock:
    """Time spent in the cyclic garbage collector (``gc.callbacks``).

    ``total`` is wall-clock time; ``cpu`` the thread's CPU time, and ``by_gen``
    ``[collections, cpu seconds]`` per generation (0, 1, 2).
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.cpu = 0.0
        self.collections = 0
        self.by_gen = [[0, 0.0], [0, 0.0], [0, 0.0]]
        self._start = 0.0
        self._cpu_start = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            self._cpu_start = time.thread_time()
        else:
            self.total += time.perf_counter() - self._start
            cpu = time.thread_time() - self._cpu_start
            self.cpu += cpu
            self.collections += 1
            gen = self.by_gen[info["generation"]]
            gen[0] += 1
            gen[1] += cpu


# ============================================================================ workers
# Protocol (stdout, JSON lines): {"sync": ...} -> parent sends "go\n" on stdin and
# starts the updates -> {"steady_end": monotonic} -> {"txn": ...} -> exit.


def _instrument_ovsdb_ic() -> dict[str, Any]:
    """Wrap the sync's steps with timers (measurement only; behaviour unchanged)."""
    from ovsdb_ic.client import monitor as monitor_mod
    from ovsdb_ic.replica import staged as staged_mod
    from ovsdb_ic.wire import jsonrpc

    marks: dict[str, Any] = {"receive": [], "decode": 0.0, "apply_cpu": 0.0, "requested": None,
                             "reply_at": None}
    clock = time.perf_counter

    receive_data = jsonrpc.Connection.receive_data

    params = monitor_mod.Monitor.params

    def timed_params(self: Any) -> list[Any]:
        marks["requested"] = marks["requested"] or clock()
        return params(self)

    handle_reply_async = monitor_mod.Monitor.handle_reply_async

    async def timed_reply(self: Any, result: Any, **kwargs: Any) -> None:
        # The reply is parsed whole once the client hands it to its monitor.
        marks["reply_at"] = marks["reply_at"] or clock()
        await handle_reply_async(self, result, **kwargs)

    # Decoding: every decode_update2 call of the client's monitor (a big reply is
    # decoded in parts by handle_reply_async, a small one by handle_reply).
    decode_update2 = monitor_mod.decode_update2  # type: ignore[attr-defined]

    def timed_decode(*args: Any, **kwargs: Any) -> Any:
        t = clock()
        try:
            return decode_update2(*args, **kwargs)
        finally:
            marks["decode"] += clock() - t

    step, commit = staged_mod.StagedApply.step, staged_mod.StagedApply.commit

    def timed_step(self: Any, n: int = 1000) -> bool:
        t = clock()
        try:
            return step(self, n)
        finally:
            marks["apply_cpu"] += clock() - t

    def timed_commit(self: Any) -> Any:
        t = clock()
        try:
            return commit(self)
        finally:
            marks["apply_cpu"] += clock() - t

    # The update phase, per step, in CPU time of the thread (a loaded machine inflates
    # wall-clock time inside each call): framing is receive_data, decode the monitor's
    # handle_notification, apply the replica's apply, publish the delivery to
    # subscriptions; the rest of the process's CPU is scheduling and the consumer.
    cpu_clock = time.thread_time
    from ovsdb_ic.client import live as live_mod
    from ovsdb_ic.replica import replica as replica_mod

    steady = marks["steady"] = {"framing": 0.0, "decode": 0.0, "apply": 0.0, "publish": 0.0}
    calls = marks["calls"] = {"framing": 0, "decode": 0, "apply": 0, "publish": 0}

    def add_timer(owner: Any, name: str, key: str) -> None:
        inner = getattr(owner, name)

        def timed(*a: Any, **kw: Any) -> Any:
            t = cpu_clock()
            try:
                return inner(*a, **kw)
            finally:
                steady[key] += cpu_clock() - t
                calls[key] += 1

        setattr(owner, name, timed)

    add_timer(monitor_mod.Monitor, "handle_notification", "decode")
    add_timer(replica_mod.Replica, "apply", "apply")
    add_timer(live_mod.LiveReplica, "_publish", "publish")

    def timed_receive_all(self: Any, data: bytes) -> None:
        t, c = clock(), cpu_clock()
        receive_data(self, data)
        marks["receive"].append((t, clock(), len(data)))
        steady["framing"] += cpu_clock() - c
        calls["framing"] += 1

    jsonrpc.Connection.receive_data = timed_receive_all  # type: ignore[method-assign, assignment]
    monitor_mod.Monitor.params = timed_params  # type: ignore[method-assign]
    monitor_mod.decode_update2 = timed_decode  # type: ignore[attr-defined]
    monitor_mod.Monitor.handle_reply_async = timed_reply  # type: ignore[method-assign]
    staged_mod.StagedApply.step = timed_step  # type: ignore[method-assign]
    staged_mod.StagedApply.commit = timed_commit  # type: ignore[method-assign]
    return marks


def _phases(marks: dict[str, Any], t0: float, t_end: float, gc_s: float) -> dict[str, float]:
    """The sync's timeline split into phases (seconds)."""
    requested = marks["requested"]
    after = [r for r in marks["receive"] if r[0] >= requested]
    first_byte = after[0][0]
    # Framing: the receive_data calls from the first byte until the reply is handed to
    # the monitor (the framer parses big replies in pieces as they arrive, so its work
    # is spread over those calls); transfer: the rest of that time.
    reply_at = marks["reply_at"] or after[-1][1]
    framing = sum(e - s for s, e, _ in after if s < reply_at)
    out = {
        "connect": requested - t0,
        "server": first_byte - requested,
        "transfer": reply_at - first_byte - framing,
        "framing": framing,
        "decode": marks["decode"],
        "apply": marks["apply_cpu"],
        "gc": gc_s,
    }
    out["rest"] = (t_end - t0) - sum(v for k, v in out.items() if k != "gc")
    out["reply_bytes"] = sum(n for s, _, n in after if s < reply_at)
    return out


def worker_ovsdb_ic(args: argparse.Namespace) -> None:
    import trio

    import ovsdb_ic.client

    marks = _instrument_ovsdb_ic()

    async def main() -> None:
        gc.collect()
        rss0 = proc_status("VmRSS")
        reset_peak()
        gclock = GcClock()
        t0 = time.perf_counter()
        async with ovsdb_ic.client.connect(args.remote, database=DB) as c:
            live = await c.replicate(["Route", "Availability_Zone"])
            t_end = time.perf_counter()
            dt = t_end - t0
            got = len(live.replica.table("Route"))
            emit({"sync": dt, "rss_kib": proc_status("VmRSS") - rss0,
                  "peak_kib": proc_status("VmHWM") - rss0, "rows": got,
                  "phases": _phases(marks, t0, t_end, gclock.total),
                  "gc_collections": gclock.collections,
                  "longest_step": live.longest_step})
            if got != args.rows:
                raise RuntimeError(f"replica has {got} Route rows, expected {args.rows}")
            if args.hold:
                await trio.sleep(args.hold)
                emit({"disconnected": c.session.closed, "reconnects": 0})
            if args.sync_only:
                return
            sub = live.subscribe(size=args.updates * 2 + 16)
            if args.freeze:
                gc.freeze()
            await trio.to_thread.run_sync(wait_go)
            gc0, gc_cpu0, batches0 = gclock.total, gclock.cpu, live.transactions
            by_gen0 = [list(g) for g in gclock.by_gen]
            for k in marks["steady"]:
                marks["steady"][k] = 0.0
                marks["calls"][k] = 0
            profile = None
            if args.profile:
                import cProfile

                profile = cProfile.Profile()
                profile.enable()
            cpu0, tcpu0 = time.process_time(), time.thread_time()
            seen = 0
            if args.consumer == "batch":
                async for changes in sub.batches():
                    for change in changes:
                        if (change.table == "Route" and change.kind == "modify"
                                and change.new is not None
                                and change.new["nexthop"] == args.nexthop):
                            seen += 1
                    if seen >= args.updates:
                        break
            else:
                async for change in sub:
                    if (change.table == "Route" and change.kind == "modify"
                            and change.new is not None
                            and change.new["nexthop"] == args.nexthop):
                        seen += 1
                        if seen == args.updates:
                            break
            steady_end = time.monotonic()
            cpu1, tcpu1 = time.process_time(), time.thread_time()
            if profile is not None:
                profile.disable()
                profile.dump_stats(args.profile)
            emit({"steady_end": steady_end, "overflowed": sub.overflowed,
                  "steady_gc": gclock.total - gc0, "batches": live.transactions - batches0,
                  "steady_cpu": cpu1 - cpu0, "steady_thread_cpu": tcpu1 - tcpu0,
                  "steady_phases": dict(marks["steady"], gc=gclock.cpu - gc_cpu0),
                  "steady_calls": dict(marks["calls"]),
                  "steady_gc_gens": [[a[0] - b[0], round(a[1] - b[1], 4)]
                                     for a, b in zip(gclock.by_gen, by_gen0, strict=True)]})

            t0 = time.perf_counter()
            for i in range(TXN_ITERATIONS):
                name = f"bench-{i}"
                await c.transact([{"op": "insert", "table": "Availability_Zone",
                                   "row": {"name": name}}])
                await c.transact([{"op": "delete", "table": "Availability_Zone",
                                   "where": [["name", "==", name]]}])
            emit({"txn": time.perf_counter() - t0})

    trio.run(main)


def _counting_idl(base: type) -> type:
    class CountingIdl(base):  # type: ignore[misc]
        target_nexthop = ""
        target = 0
        seen = 0
        done = threading.Event()

        def notify(self, event, row, updates=None):  # type: ignore[no-untyped-def]
            if (event == "update" and self.target and row._table.name == "Route"
                    and row.nexthop == self.target_nexthop):
                self.seen += 1
                if self.seen == self.target:
                    self.end = time.monotonic()
                    self.done.set()
            return super().notify(event, row, updates)

    return CountingIdl


def _idl_block(idl: Any) -> None:
    import ovs.poller

    poller = ovs.poller.Poller()
    idl.wait(poller)
    poller.block()


def _reconnects(idl: Any) -> int:
    """Connections the Idl's session made beyond its first."""
    import ovs.timeval

    stats = idl._session.reconnect.get_stats(ovs.timeval.msec())
    return max(0, int(stats.n_successful_connections) - 1)


def _hold_idl(idl: Any, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        idl.run()
        poller_timeout = max(0, int((end - time.monotonic()) * 1000))
        import ovs.poller

        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(poller_timeout)
        poller.block()


def worker_python_ovs(args: argparse.Namespace) -> None:
    import ovs.db.idl

    from ovsdb_ic.testing import schema_path

    Idl = _counting_idl(ovs.db.idl.Idl)
    gc.collect()
    rss0 = proc_status("VmRSS")
    reset_peak()
    t0 = time.perf_counter()
    helper = ovs.db.idl.SchemaHelper(location=str(schema_path("ic-sb")))
    helper.register_all()
    idl = Idl(args.remote, helper)
    routes = idl.tables["Route"].rows
    while True:
        idl.run()
        if idl.has_ever_connected() and len(routes) == args.rows:
            break
        _idl_block(idl)
    dt = time.perf_counter() - t0
    emit({"sync": dt, "rss_kib": proc_status("VmRSS") - rss0,
          "peak_kib": proc_status("VmHWM") - rss0, "rows": len(routes)})
    if args.hold:
        _hold_idl(idl, args.hold)
        emit({"disconnected": _reconnects(idl) > 0, "reconnects": _reconnects(idl)})
    if args.sync_only:
        idl.close()
        return

    idl.target_nexthop = args.nexthop
    idl.target = args.updates
    wait_go()
    cpu0 = time.process_time()
    while idl.seen < args.updates:
        idl.run()
        if idl.seen >= args.updates:
            break
        _idl_block(idl)
    emit({"steady_end": idl.end, "steady_cpu": time.process_time() - cpu0})

    from txn import idl_insert_delete

    t0 = time.perf_counter()
    idl_insert_delete(idl, "bench", TXN_ITERATIONS, lambda: _idl_block(idl))
    emit({"txn": time.perf_counter() - t0})
    idl.close()


def worker_ovsdbapp(args: argparse.Namespace) -> None:
    import ovs.db.idl
    from ovsdbapp.backend.ovs_idl import connection, idlutils

    Idl = _counting_idl(ovs.db.idl.Idl)
    gc.collect()
    rss0 = proc_status("VmRSS")
    reset_peak()
    t0 = time.perf_counter()
    helper = idlutils.get_schema_helper(args.remote, DB)  # fetches the schema from the server
    helper.register_all()
    idl = Idl(args.remote, helper)
    conn = connection.Connection(idl, timeout=600)
    conn.start()  # runs idl.run() in ovsdbapp's own thread; returns once connected
    routes = idl.tables["Route"].rows
    while len(routes) != args.rows:
        time.sleep(0.001)
    dt = time.perf_counter() - t0
    emit({"sync": dt, "rss_kib": proc_status("VmRSS") - rss0,
          "peak_kib": proc_status("VmHWM") - rss0, "rows": len(routes)})
    if args.hold:
        time.sleep(args.hold)
        emit({"disconnected": _reconnects(idl) > 0, "reconnects": _reconnects(idl)})
    if args.sync_only:
        conn.stop()
        return

    idl.target_nexthop = args.nexthop
    idl.target = args.updates
    wait_go()
    if not idl.done.wait(300):
        raise RuntimeError(f"ovsdbapp saw only {idl.seen} of {args.updates} updates")
    emit({"steady_end": idl.end})
    emit({"txn": None})  # not measured (ovsdbapp has no generic IC-SB command API)
    conn.stop()


WORKERS = {"ovsdb_ic": worker_ovsdb_ic, "python-ovs": worker_python_ovs,
           "ovsdbapp": worker_ovsdbapp}


# ============================================================================ parent


class Writer:
    """Commits single-row Route updates as fast as the server takes them.

    ``conns`` raw unix-socket connections, all driven by one select loop in this
    process: every request is JSON-encoded before the clock starts, each connection
    gets its share as one buffer written as fast as the socket accepts it, and the
    replies are only counted (``{"count":1}`` occurrences in the byte stream), so the
    writer costs little CPU next to the server and the client being measured.
    """

    _OK = b'[{"count":1}]'

    def __init__(self, path: str, conns: int) -> None:
        from capture import RawClient

        self.path = path
        self.conns = conns
        raw = RawClient(path)
        rows = raw.call("transact", [DB, {"op": "select", "table": "Route", "where": [],
                                          "columns": ["_uuid"]}])[0]["rows"]
        raw.close()
        self.uuids = [r["_uuid"][1] for r in rows]
        self.committed = 0.0

    def run(self, count: int, nexthop: str) -> float:
        """Commit ``count`` updates; return the monotonic time of the first send.

        Returns once every reply is in (raises if any update did not change one row).
        """
        if count > len(self.uuids):
            raise ValueError(f"{count} updates need {count} rows; the table has "
                             f"{len(self.uuids)}")
        bufs: list[bytearray] = [bytearray() for _ in range(self.conns)]
        for i in range(count):
            bufs[i % self.conns] += json.dumps(
                {"method": "transact", "id": i, "params": [
                    DB, {"op": "update", "table": "Route",
                         "where": [["_uuid", "==", ["uuid", self.uuids[i]]]],
                         "row": {"nexthop": nexthop}}]},
                separators=(",", ":")).encode()
        expected = [len(range(k, count, self.conns)) for k in range(self.conns)]
        socks = []
        for _ in range(self.conns):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.path)
            s.setblocking(False)
            socks.append(s)
        sel = selectors.DefaultSelector()
        state = []
        for k, s in enumerate(socks):
            st = {"out": memoryview(bufs[k]), "ok": 0, "tail": b"", "want": expected[k]}
            state.append(st)
            sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, (k, st))
        pat, keep = self._OK, len(self._OK) - 1
        t0 = time.monotonic()
        pending = sum(1 for k in range(self.conns) if expected[k])
        while pending:
            ready = sel.select(timeout=30)
            if not ready:
                raise TimeoutError(f"no progress for 30 s ({[st['ok'] for st in state]} "
                                   f"replies of {expected})")
            for key, events in ready:
                k, st = key.data
                s = socks[k]
                if events & selectors.EVENT_WRITE and st["out"]:
                    sent = s.send(st["out"][:1 << 20])
                    st["out"] = st["out"][sent:]
                    if not st["out"]:
                        sel.modify(s, selectors.EVENT_READ, key.data)
                if events & selectors.EVENT_READ:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        raise ConnectionError("the server closed a writer connection")
                    data = st["tail"] + chunk
                    if b'"error":"' in data or b'"count":0' in data:
                        raise RuntimeError(f"an update failed: {data[:300]!r}")
                    st["ok"] += data.count(pat)
                    st["tail"] = data[-keep:]
                    if st["ok"] >= st["want"] and not st["out"]:
                        sel.unregister(s)
                        pending -= 1
        self.committed = time.monotonic() - t0
        for s in socks:
            s.close()
        if any(st["ok"] != st["want"] for st in state):
            raise RuntimeError(f"replies {[st['ok'] for st in state]}, expected {expected}")
        return t0


def add_probed_remote(server: Any, path: str, probe_ms: int) -> str:
    """Serve the database on a db-managed unix remote with ``probe_ms`` inactivity probe."""
    from capture import RawClient

    sock = Path(path).with_name("probed.sock")
    raw = RawClient(path)
    raw.call("transact", [
        DB,
        {"op": "insert", "table": "Connection", "uuid-name": "c",
         "row": {"target": f"punix:{sock}", "inactivity_probe": probe_ms}},
        {"op": "insert", "table": "IC_SB_Global", "row": {"connections": ["named-uuid", "c"]}},
    ])
    raw.close()
    server.appctl("ovsdb-server/add-remote", f"db:{DB},IC_SB_Global,connections")
    deadline = time.monotonic() + 10
    while not sock.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the probed remote did not come up")
        time.sleep(0.05)
    return f"unix:{sock}"


def c_dump_seconds(remote: str, client: list[str] | None = None) -> float:
    """Seconds the C ``ovsdb-client dump --format=json`` of the Route table takes
    (*client*: the ``ovsdb-client`` command of the sandbox's OVS; the host's by default)."""
    t0 = time.perf_counter()
    subprocess.run([*(client or ["ovsdb-client"]), "dump", "--format=json", remote, DB, "Route"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return time.perf_counter() - t0


def run_client(kind: str, remote: str, args: argparse.Namespace, rows: int, rnd: int,
               writer: Writer) -> dict[str, Any]:
    nexthop = f"192.0.2.{rnd % 250 + 1}"
    cmd = [sys.executable, __file__, "--worker", kind, "--remote", remote, "--rows", str(rows),
           "--updates", str(args.updates), "--nexthop", nexthop, "--hold", str(args.hold)]
    if args.sync_only:
        cmd.append("--sync-only")
    if args.freeze:
        cmd.append("--freeze")
    cmd += ["--consumer", args.consumer]
    if args.profile and kind == "ovsdb_ic":
        cmd += ["--profile", args.profile]
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

    out: dict[str, Any] = {}
    try:
        out.update(read())
        if args.hold:
            out.update(read())
        if args.sync_only:
            proc.stdin.close()
            if proc.wait(120) != 0:
                raise RuntimeError(f"{kind} worker failed ({proc.returncode})")
            return out
        proc.stdin.write("go\n")
        proc.stdin.flush()
        t0 = writer.run(args.updates, nexthop)
        out["committed"] = writer.committed
        end = read()
        out["steady"] = end["steady_end"] - t0
        out["steady_gc"] = end.get("steady_gc")
        out["batches"] = end.get("batches")
        out["steady_cpu"] = end.get("steady_cpu")
        out["steady_phases"] = end.get("steady_phases")
        out["steady_thread_cpu"] = end.get("steady_thread_cpu")
        out["steady_gc_gens"] = end.get("steady_gc_gens")
        out["steady_calls"] = end.get("steady_calls")
        out["txn"] = read()["txn"]
        proc.stdin.close()
        if proc.wait(120) != 0:
            raise RuntimeError(f"{kind} worker failed ({proc.returncode})")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def report(args: argparse.Namespace, results: dict[int, dict[str, dict[str, Any]]],
           dumps: dict[int, float]) -> None:
    hdr = ("| rows | client | initial sync (s) | RSS growth (MiB) | bytes/row | "
           "peak RSS growth (MiB) | server commits/s | "
           f"{args.updates} updates seen (s) | updates/s | behind the server (s) | "
           "txn round trips/s |")
    print()
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for rows, by_kind in results.items():
        for kind, r in by_kind.items():
            txn, committed, steady = r.get("txn"), r.get("committed"), r.get("steady")
            rt = None if txn is None else 2 * TXN_ITERATIONS / txn
            rate = None if committed is None else args.updates / committed
            seen = None if steady is None else args.updates / steady
            behind = None if steady is None or committed is None else steady - committed
            print(f"| {rows} | {kind} | {r['sync']:.3f} | {r['rss_kib'] / 1024:.1f} | "
                  f"{r['rss_kib'] * 1024 / rows:.0f} | {r['peak_kib'] / 1024:.1f} | "
                  f"{fmt(rate, '.0f')} | {fmt(steady, '.3f')} | {fmt(seen, '.0f')} | "
                  f"{fmt(behind, '.3f')} | {fmt(rt, '.0f')} |")
    print()
    print("| rows | ovsdb_ic / python-ovs: sync time | RSS growth | peak RSS growth | "
          "update catch-up time | txn round trips/s | ovsdb_ic sync / C dump |")
    print("|---|---|---|---|---|---|---|")
    for rows, by_kind in results.items():
        a, b = by_kind.get("ovsdb_ic"), by_kind.get("python-ovs")
        if not a:
            continue
        b = b or {}
        rt_a = None if a.get("txn") is None else 1 / a["txn"]
        rt_b = None if b.get("txn") is None else 1 / b["txn"]
        print(f"| {rows} | {ratio(a['sync'], b.get('sync'))} | "
              f"{ratio(a['rss_kib'], b.get('rss_kib'))} | "
              f"{ratio(a['peak_kib'], b.get('peak_kib'))} | "
              f"{ratio(a.get('steady'), b.get('steady'))} | {ratio(rt_a, rt_b)} | "
              f"{ratio(a['sync'], dumps.get(rows))} |")
    print()
    names = ("connect", "server", "transfer", "framing", "decode", "apply", "rest", "gc")
    print("| rows | ovsdb_ic sync (s) | " + " | ".join(names) + " | reply MB | C dump (s) |")
    print("|---|---|" + "---|" * (len(names) + 2))
    for rows, by_kind in results.items():
        a = by_kind.get("ovsdb_ic")
        if not a:
            continue
        p = a["phases"]
        print(f"| {rows} | {a['sync']:.3f} | " + " | ".join(f"{p[n]:.3f}" for n in names)
              + f" | {p['reply_bytes'] / 1e6:.1f} | {fmt(dumps.get(rows), '.3f')} |")
    if args.hold:
        print()
        print(f"| rows | client | disconnected within the sync + {args.hold:g} s | "
              "reconnections |")
        print("|---|---|---|---|")
        for rows, by_kind in results.items():
            for kind, r in by_kind.items():
                print(f"| {rows} | {kind} | {'yes' if r['disconnected'] else 'no'} | "
                      f"{r['reconnects']} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10000, 50000, 200000])
    ap.add_argument("--updates", type=int, default=10000,
                    help="single-row update transactions in the catch-up phase")
    ap.add_argument("--writers", type=int, default=4,
                    help="connections the updates are pipelined over")
    ap.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS))
    ap.add_argument("--skip-ovsdbapp", action="store_true")
    ap.add_argument("--ovn", choices=("23.03", "25.03"), default="23.03",
                    help="whose ovsdb-server to run: the host's OVS 3.1 (OVN 23.03) or the "
                         "OVS 3.5 of the OVN 25.03 root that ./dev setup provisions")
    ap.add_argument("--probe-ms", type=int, default=0,
                    help="connect the clients through a remote with this inactivity probe")
    ap.add_argument("--hold", type=float, default=0.0,
                    help="seconds each client stays connected after its sync")
    ap.add_argument("--sync-only", action="store_true",
                    help="measure the initial sync (and --hold) only")
    ap.add_argument("--freeze", action="store_true",
                    help="ovsdb_ic: gc.freeze() after the initial sync")
    ap.add_argument("--consumer", choices=("each", "batch"), default="each",
                    help="ovsdb_ic's consumer of the updates: async for over the "
                         "subscription (each) or over sub.batches() (batch)")
    ap.add_argument("--profile", metavar="FILE",
                    help="ovsdb_ic: write a cProfile of the update phase to FILE")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--remote", help=argparse.SUPPRESS)
    ap.add_argument("--nexthop", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        args.rows = args.rows[0]
        WORKERS[args.worker](args)
        return 0

    from capture import RawClient, populate

    from ovsdb_ic.testing import Sandbox

    kinds = [k for k in args.clients if not (args.skip_ovsdbapp and k == "ovsdbapp")]
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, updates={args.updates} over {args.writers} connections, "
          f"txn iterations={TXN_ITERATIONS}, probe={args.probe_ms or 'none'} ms, "
          f"hold={args.hold:g} s", flush=True)
    results: dict[int, dict[str, dict[str, Any]]] = {}
    dumps: dict[int, float] = {}
    rnd = 0
    for rows in args.rows:
        with Sandbox(ovn=args.ovn) as sb:
            srv = sb.start_server("ic-sb", name="icsb", unix=True)
            path = srv.remote.split(":", 1)[1]
            setup = RawClient(path)
            t = populate(setup, rows)
            setup.close()
            remote = add_probed_remote(srv, path, args.probe_ms) if args.probe_ms else srv.remote
            dumps[rows] = c_dump_seconds(srv.remote, sb.ovn.command("ovsdb-client"))
            print(f"# {rows} Route rows inserted in {t:.1f}s; C ovsdb-client dump of Route "
                  f"{dumps[rows]:.3f}s", flush=True)
            writer = Writer(path, args.writers)
            results[rows] = {}
            for kind in kinds:
                rnd += 1
                try:
                    r = run_client(kind, remote, args, rows, rnd, writer)
                except Exception as exc:  # report and go on with the other clients
                    print(f"# {kind} at {rows} rows failed: {exc!r}", flush=True)
                    continue
                results[rows][kind] = r
                extra = ""
                if "phases" in r:
                    extra = " phases " + ", ".join(f"{k} {v:.3f}" for k, v in r["phases"].items()
                                                   if k != "reply_bytes")
                steady = ""
                if "steady" in r:
                    steady = (f", steady {r['steady']:.3f}s (server committed {args.updates} in "
                              f"{r['committed']:.3f}s; gc {fmt(r['steady_gc'], '.3f')}s, "
                              f"{r['batches']} batches), txn {fmt(r['txn'], '.2f')}s")
                    if r.get("steady_cpu") is not None and not r.get("steady_phases"):
                        steady += f"; update phase: cpu {r['steady_cpu']:.3f}s"
                    if r.get("steady_phases"):
                        steady += (f"; update phase: cpu {r['steady_cpu']:.3f}s "
                                   f"(thread {r['steady_thread_cpu']:.3f}s), " + ", ".join(
                                       f"{k} {v:.3f}" for k, v in r["steady_phases"].items())
                                   + f"; gc per generation [n, cpu s] {r['steady_gc_gens']}"
                                   + f"; calls {r['steady_calls']}")
                print(f"# {rows:>6} {kind:<10} sync {r['sync']:.3f}s "
                      f"rss +{r['rss_kib'] / 1024:.1f} MiB (peak +{r['peak_kib'] / 1024:.1f})"
                      f"{steady}{extra}", flush=True)
    report(args, results, dumps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
