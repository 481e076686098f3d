"""Replica benchmark: ovsdb_ic vs python-ovs (and ovsdbapp) against a real IC-SB server.

One standalone ``OVN_IC_Southbound`` ``ovsdb-server`` (in a :class:`~ovsdb_ic.testing.Sandbox`)
is filled with one ``Availability_Zone`` and N ``Route`` rows (same rows as
``benchmarks/capture.py``). Then, for each client, a FRESH subprocess (separate memory):

1. **initial sync** -- time from before connecting until the client holds a complete
   replica of ``Route`` + ``Availability_Zone`` (N Route rows), and the growth of the
   process's VmRSS (``/proc/self/status``) over that interval;
2. **steady state** -- while the replica is connected, this (parent) process commits
   ``--updates`` single-row transactions (set one Route's ``nexthop``), pipelined over a
   raw unix socket (all requests sent, replies read concurrently); measured is the time
   from the first request until the client has seen every one of the changes
   (``time.monotonic`` is system-wide, so the two processes' clocks agree);
3. **transaction round trips** -- 1000 sequential iterations of "insert one
   Availability_Zone row" + "delete it" (two transactions each, so 2000 round trips),
   ``Client.transact`` vs python-ovs ``Transaction.commit_block``.

Usage::

    PYTHONPATH=. python benchmarks/replica_sync.py                # 10000 and 50000 rows
    PYTHONPATH=. python benchmarks/replica_sync.py --rows 10000 --skip-ovsdbapp
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def wait_go() -> None:
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise RuntimeError(f"expected 'go' from the parent, got {line!r}")


# ============================================================================ workers
# Protocol (stdout, JSON lines): {"sync": ...}  -> parent sends "go\n" on stdin and
# starts the updates -> {"steady_end": monotonic} -> {"txn": ...} -> exit.


def worker_ovsdb_ic(remote: str, rows: int, updates: int, nexthop: str) -> None:
    import trio

    import ovsdb_ic.client

    async def main() -> None:
        rss0 = rss_kib()
        t0 = time.perf_counter()
        async with ovsdb_ic.client.connect(remote, database=DB) as c:
            live = await c.replicate(["Route", "Availability_Zone"])
            dt = time.perf_counter() - t0
            got = len(live.replica.table("Route"))
            emit({"sync": dt, "rss_kib": rss_kib() - rss0, "rows": got})
            if got != rows:
                raise RuntimeError(f"replica has {got} Route rows, expected {rows}")

            sub = live.subscribe(size=updates * 2 + 16)
            await trio.to_thread.run_sync(wait_go)
            seen = 0
            async for change in sub:
                if (change.table == "Route" and change.kind == "modify"
                        and change.new is not None and change.new["nexthop"] == nexthop):
                    seen += 1
                    if seen == updates:
                        break
            emit({"steady_end": time.monotonic(), "overflowed": sub.overflowed})

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
    class CountingIdl(base):  # type: ignore[misc, valid-type]
        target_nexthop = ""
        target = 0
        seen = 0
        done = threading.Event()

        def notify(self, event, row, updates=None):
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


def worker_python_ovs(remote: str, rows: int, updates: int, nexthop: str) -> None:
    import ovs.db.idl
    import ovs.poller

    from ovsdb_ic.testing import schema_path

    Idl = _counting_idl(ovs.db.idl.Idl)
    rss0 = rss_kib()
    t0 = time.perf_counter()
    helper = ovs.db.idl.SchemaHelper(location=str(schema_path("ic-sb")))
    helper.register_all()
    idl = Idl(remote, helper)
    routes = idl.tables["Route"].rows
    while True:
        idl.run()
        if idl.has_ever_connected() and len(routes) == rows:
            break
        _idl_block(idl)
    dt = time.perf_counter() - t0
    emit({"sync": dt, "rss_kib": rss_kib() - rss0, "rows": len(routes)})

    idl.target_nexthop = nexthop
    idl.target = updates
    wait_go()
    while idl.seen < updates:
        idl.run()
        if idl.seen >= updates:
            break
        _idl_block(idl)
    emit({"steady_end": idl.end})

    azs = idl.tables["Availability_Zone"]
    t0 = time.perf_counter()
    for i in range(TXN_ITERATIONS):
        txn = ovs.db.idl.Transaction(idl)
        row = txn.insert(azs)
        row.name = f"bench-{i}"
        status = txn.commit_block()
        if status != ovs.db.idl.Transaction.SUCCESS:
            raise RuntimeError(f"insert: {status} {txn.get_error()}")
        new_uuid = txn.get_insert_uuid(row.uuid)
        while new_uuid not in azs.rows:
            idl.run()
            if new_uuid in azs.rows:
                break
            _idl_block(idl)
        txn = ovs.db.idl.Transaction(idl)
        azs.rows[new_uuid].delete()
        status = txn.commit_block()
        if status != ovs.db.idl.Transaction.SUCCESS:
            raise RuntimeError(f"delete: {status} {txn.get_error()}")
    emit({"txn": time.perf_counter() - t0})
    idl.close()


def worker_ovsdbapp(remote: str, rows: int, updates: int, nexthop: str) -> None:
    import ovs.db.idl
    from ovsdbapp.backend.ovs_idl import connection, idlutils

    Idl = _counting_idl(ovs.db.idl.Idl)
    rss0 = rss_kib()
    t0 = time.perf_counter()
    helper = idlutils.get_schema_helper(remote, DB)  # fetches the schema from the server
    helper.register_all()
    idl = Idl(remote, helper)
    conn = connection.Connection(idl, timeout=60)
    conn.start()  # runs idl.run() in ovsdbapp's own thread; returns once connected
    routes = idl.tables["Route"].rows
    while len(routes) != rows:
        time.sleep(0.001)
    dt = time.perf_counter() - t0
    emit({"sync": dt, "rss_kib": rss_kib() - rss0, "rows": len(routes)})

    idl.target_nexthop = nexthop
    idl.target = updates
    wait_go()
    if not idl.done.wait(120):
        raise RuntimeError(f"ovsdbapp saw only {idl.seen} of {updates} updates")
    emit({"steady_end": idl.end})
    emit({"txn": None})  # not measured (ovsdbapp has no generic IC-SB command API)
    conn.stop()


WORKERS = {"ovsdb_ic": worker_ovsdb_ic, "python-ovs": worker_python_ovs,
           "ovsdbapp": worker_ovsdbapp}


# ============================================================================ parent


class Updater:
    """Commits single-row Route updates, pipelined, over a raw unix socket."""

    def __init__(self, path: str) -> None:
        from capture import RawClient

        self.raw = RawClient(path)
        rows = self.raw.call("transact", [DB, {"op": "select", "table": "Route", "where": [],
                                               "columns": ["_uuid"]}])[0]["rows"]
        self.uuids = [r["_uuid"][1] for r in rows]

    def run(self, count: int, nexthop: str) -> float:
        """Send ``count`` update transactions; return the monotonic time of the first send.

        Returns once every reply is read (and checked)."""
        from ovsdb_ic.wire.framing import JsonFramer

        reqs = [
            json.dumps({"method": "transact", "id": 1_000_000 + i, "params": [
                DB, {"op": "update", "table": "Route",
                     "where": [["_uuid", "==", ["uuid", self.uuids[i % len(self.uuids)]]]],
                     "row": {"nexthop": nexthop}}]}).encode()
            for i in range(count)
        ]
        sock = self.raw.sock
        framer = JsonFramer()

        def send() -> None:
            for r in reqs:
                sock.sendall(r)

        t0 = time.monotonic()
        sender = threading.Thread(target=send)
        sender.start()
        replies = 0
        while replies < count:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the updater connection")
            for msg in framer.feed(chunk):
                if msg.get("method") == "echo":
                    sock.sendall(json.dumps({"result": msg["params"], "error": None,
                                             "id": msg["id"]}).encode())
                    continue
                res = msg.get("result")
                if msg.get("error") is not None or not res or res[0].get("count") != 1:
                    raise RuntimeError(f"update failed: {msg}")
                replies += 1
        sender.join()
        self.committed = time.monotonic() - t0
        return t0


def run_client(kind: str, remote: str, path: str, rows: int, updates: int, rnd: int,
               updater: Updater) -> dict[str, Any]:
    nexthop = f"192.0.2.{rnd % 250 + 1}"
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", kind, "--remote", remote, "--rows", str(rows),
         "--updates", str(updates), "--nexthop", nexthop],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def read() -> dict[str, Any]:
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            raise RuntimeError(f"{kind} worker exited ({proc.returncode})")
        return json.loads(line)

    out: dict[str, Any] = {}
    try:
        out.update(read())
        proc.stdin.write("go\n")
        proc.stdin.flush()
        t0 = updater.run(updates, nexthop)
        out["committed"] = updater.committed
        end = read()
        out["steady"] = end["steady_end"] - t0
        out["txn"] = read()["txn"]
        proc.stdin.close()
        if proc.wait(60) != 0:
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10000, 50000])
    ap.add_argument("--updates", type=int, default=5000)
    ap.add_argument("--skip-ovsdbapp", action="store_true")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--remote", help=argparse.SUPPRESS)
    ap.add_argument("--nexthop", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        WORKERS[args.worker](args.remote, args.rows[0], args.updates, args.nexthop)
        return 0

    from capture import RawClient, populate

    from ovsdb_ic.testing import Sandbox

    kinds = ["ovsdb_ic", "python-ovs"] + ([] if args.skip_ovsdbapp else ["ovsdbapp"])
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, updates={args.updates}, txn iterations={TXN_ITERATIONS}")
    results: dict[int, dict[str, dict[str, Any]]] = {}
    rnd = 0
    for rows in args.rows:
        with Sandbox() as sb:
            srv = sb.start_server("ic-sb", name="icsb", unix=True)
            remote = srv.remote
            path = remote.split(":", 1)[1]
            setup = RawClient(path)
            t = populate(setup, rows)
            setup.close()
            print(f"# {rows} Route rows inserted in {t:.1f}s")
            updater = Updater(path)
            results[rows] = {}
            for kind in kinds:
                rnd += 1
                try:
                    r = run_client(kind, remote, path, rows, args.updates, rnd, updater)
                except Exception as exc:  # report and go on with the other clients
                    print(f"# {kind} at {rows} rows failed: {exc!r}")
                    continue
                results[rows][kind] = r
                print(f"# {rows:>6} {kind:<10} sync {r['sync']:.3f}s "
                      f"rss +{r['rss_kib'] / 1024:.1f} MiB, steady {r['steady']:.3f}s "
                      f"(server committed in {r['committed']:.3f}s), txn {fmt(r['txn'], '.2f')}s",
                      flush=True)
            updater.raw.close()

    hdr = ("| rows | client | initial sync (s) | RSS growth (MiB) | bytes/row | "
           f"{args.updates} updates seen (s) | updates/s | txn round trips/s |")
    print()
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for rows, by_kind in results.items():
        for kind, r in by_kind.items():
            rt = None if r["txn"] is None else 2 * TXN_ITERATIONS / r["txn"]
            print(f"| {rows} | {kind} | {r['sync']:.3f} | {r['rss_kib'] / 1024:.1f} | "
                  f"{r['rss_kib'] * 1024 / rows:.0f} | {r['steady']:.3f} | "
                  f"{args.updates / r['steady']:.0f} | {fmt(rt, '.0f')} |")
    print()
    print("| rows | ratio ovsdb_ic / python-ovs | sync time | RSS growth | update catch-up time "
          "| txn round trips/s |")
    print("|---|---|---|---|---|---|")
    for rows, by_kind in results.items():
        a, b = by_kind.get("ovsdb_ic"), by_kind.get("python-ovs")
        if not a or not b:
            continue
        rt_a = None if a["txn"] is None else 1 / a["txn"]
        rt_b = None if b["txn"] is None else 1 / b["txn"]
        print(f"| {rows} | | {ratio(a['sync'], b['sync'])} | "
              f"{ratio(a['rss_kib'], b['rss_kib'])} | {ratio(a['steady'], b['steady'])} | "
              f"{ratio(rt_a, rt_b)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
