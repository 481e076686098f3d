"""Capture real IC-SB ``Route`` monitor replies from ``ovsdb-server``.

Starts a standalone OVN_IC_Southbound ``ovsdb-server`` in a :class:`~ovsdb_ic.testing.Sandbox`,
inserts one ``Availability_Zone`` and N ``Route`` rows (default 50,000) with plain JSON-RPC
``transact`` requests over the raw unix socket, then asks for the whole ``Route`` table three
ways (all schema columns listed, as real clients do) and saves the exact bytes of each reply:

* ``monitor_cond``       -> ``benchmarks/data/route-<N>-update2.json`` ("initial" rows)
* ``monitor`` (v1)       -> ``benchmarks/data/route-<N>-update.json``  ("new" rows)
* ``monitor_cond_since`` -> ``benchmarks/data/route-<N>-update3.json`` (result is
  ``[found, last-txn-id, table-updates2]``)

For context it also records, on the same server, how long the C ``ovsdb-client dump
--format=json`` of the table takes and how long it takes just to receive the
``monitor_cond`` reply bytes (socket read loop, no parsing). These go to
``benchmarks/data/route-<N>-meta.json``.

Usage::

    .venv/bin/python benchmarks/capture.py --rows 50000

``benchmarks/data/`` is not committed; ``benchmarks/run.py`` calls :func:`ensure_capture`,
which captures on demand (and again with ``run.py --recapture``).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from ovsdb_ic.testing import Sandbox, require_binaries, schema_path
from ovsdb_ic.wire.framing import JsonFramer

DATA_DIR = Path(__file__).resolve().parent / "data"
DB = "OVN_IC_Southbound"
KINDS = ("update2", "update", "update3")
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
_INSERT_BATCH = 10_000
_RECV = 1 << 20


def data_paths(rows: int) -> dict[str, Path]:
    """The files a capture of *rows* rows writes: one per reply kind, plus ``meta``."""
    paths = {kind: DATA_DIR / f"route-{rows}-{kind}.json" for kind in KINDS}
    paths["meta"] = DATA_DIR / f"route-{rows}-meta.json"
    return paths


# ----------------------------------------------------------------------------- rows


def route_rows(n: int, az_uuid: str, seed: int = 20261126) -> list[dict[str, Any]]:
    """N realistic, distinct Route rows (unique on the schema's 5-column index)."""
    rng = random.Random(seed)

    def rand_uuid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    # A handful of logical routers advertise all the routes (as ovn-ic does per AZ).
    routers = [rand_uuid() for _ in range(16)]
    switches = ("ts", "ts1", "ts2")
    rows = []
    for i in range(n):
        if i % 10 == 9:  # every tenth route is IPv6
            prefix = f"fd{(i >> 16) & 0xFF:02x}:{i & 0xFFFF:x}::/64"
        else:
            prefix = f"{10 + (i >> 16)}.{(i >> 8) & 0xFF}.{i & 0xFF}.0/24"
        row: dict[str, Any] = {
            "transit_switch": switches[i % 3],
            "availability_zone": ["uuid", az_uuid],
            "route_table": "rtb-blue" if i % 50 == 0 else "",
            "ip_prefix": prefix,
            "nexthop": f"169.254.100.{1 + i % 250}",
            "origin": "connected" if i % 4 == 0 else "static",
            "external_ids": [
                "map",
                [["lr-id", routers[i % len(routers)]], ["nb-id", rand_uuid()]],
            ],
        }
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- raw JSON-RPC


class RawClient:
    """The smallest possible JSON-RPC client over a unix socket (for setup and capture)."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.framer = JsonFramer()
        self.next_id = 100  # three-digit ids: every reply has the same length prefix

    def close(self) -> None:
        self.sock.close()

    def send(self, method: str, params: list[Any]) -> int:
        msg_id = self.next_id
        self.next_id += 1
        self.sock.sendall(
            json.dumps({"method": method, "params": params, "id": msg_id}).encode()
        )
        return msg_id

    def call(self, method: str, params: list[Any]) -> Any:
        """Send a request and return its ``result`` (raises on an ``error`` reply)."""
        return self.call_raw(method, params)[0]["result"]

    def call_raw(self, method: str, params: list[Any]) -> tuple[dict[str, Any], bytes]:
        """Send a request; return the parsed reply and the exact bytes it arrived as.

        Nothing else may be in flight: every byte read after sending must belong to the
        reply (an ``echo`` request or an update notification in between is an error).
        """
        msg_id = self.send(method, params)
        raw = bytearray()
        while True:
            chunk = self.sock.recv(_RECV)
            if not chunk:
                raise ConnectionError("ovsdb-server closed the connection")
            raw += chunk
            msgs = self.framer.feed(chunk)
            if not msgs:
                continue
            if len(msgs) != 1 or msgs[0].get("id") != msg_id:
                raise RuntimeError(f"unexpected messages while waiting for {msg_id}: "
                                   f"{[m.get('method') or m.get('id') for m in msgs]}")
            reply = msgs[0]
            if reply.get("error") is not None:
                raise RuntimeError(f"{method} failed: {reply['error']}")
            if isinstance(reply.get("result"), list):
                for r in reply["result"]:
                    if isinstance(r, dict) and "error" in r:
                        raise RuntimeError(f"{method} failed: {r}")
            return reply, bytes(raw)

    def time_receive(self, method: str, params: list[Any], size: int) -> tuple[float, float]:
        """Send a request and read exactly *size* reply bytes without parsing them.

        Returns (seconds to the first byte, seconds to the last byte).
        """
        t0 = time.perf_counter()
        self.send(method, params)
        got = 0
        first = 0.0
        buf = bytearray(_RECV)
        view = memoryview(buf)
        while got < size:
            n = self.sock.recv_into(view, min(_RECV, size - got))
            if n == 0:
                raise ConnectionError("ovsdb-server closed the connection")
            if got == 0:
                first = time.perf_counter() - t0
            got += n
        return first, time.perf_counter() - t0


# ----------------------------------------------------------------------------- capture


def populate(client: RawClient, rows: int) -> float:
    """Insert the AZ and *rows* routes; return the seconds it took."""
    t0 = time.perf_counter()
    result = client.call(
        "transact",
        [DB, {"op": "insert", "table": "Availability_Zone", "row": {"name": "az1"}}],
    )
    az_uuid = result[0]["uuid"][1]
    all_rows = route_rows(rows, az_uuid)
    for start in range(0, rows, _INSERT_BATCH):
        ops = [
            {"op": "insert", "table": "Route", "row": row}
            for row in all_rows[start : start + _INSERT_BATCH]
        ]
        client.call("transact", [DB, *ops])
    return time.perf_counter() - t0


def route_columns() -> list[str]:
    """The Route table's columns, as listed in the schema."""
    with open(schema_path("ic-sb"), encoding="utf-8") as f:
        return sorted(json.load(f)["tables"]["Route"]["columns"])


def _requests(tag: str) -> dict[str, tuple[str, list[Any]]]:
    # Columns are listed explicitly, as the C IDL (ovn-ic), python-ovs's Idl and
    # ovsdbapp do; with no "columns" member the server also sends each row's _version.
    req = {"columns": route_columns()}
    return {
        "update2": ("monitor_cond", [DB, f"c2{tag}", {"Route": [req]}]),
        "update": ("monitor", [DB, f"c1{tag}", {"Route": req}]),
        "update3": ("monitor_cond_since", [DB, f"c3{tag}", {"Route": [req]}, ZERO_UUID]),
    }


def ovsdb_client_dump(remote: str, repeat: int) -> list[float]:
    """Seconds the C ``ovsdb-client dump --format=json`` of the Route table takes."""
    client = require_binaries("ovsdb-client")["ovsdb-client"]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(
            [client, "dump", "--format=json", remote, DB, "Route"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=True,
        )
        times.append(time.perf_counter() - t0)
    return times


def capture(rows: int, *, repeat: int = 3, quiet: bool = False) -> dict[str, Any]:
    """Capture the replies for *rows* routes into ``benchmarks/data``; return the metadata."""
    def say(*words: object) -> None:
        if not quiet:
            print(*words, file=sys.stderr)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    paths = data_paths(rows)
    meta: dict[str, Any] = {"rows": rows, "captured": time.strftime("%Y-%m-%d %H:%M:%S")}
    with Sandbox() as sandbox:
        server = sandbox.start_server(schema_path("ic-sb"), name="icsb", unix=True)
        assert server.unix_path is not None
        version = subprocess.run(
            [require_binaries("ovsdb-client")["ovsdb-client"], "--version"],
            capture_output=True, text=True, check=False,
        ).stdout.splitlines()
        meta["ovsdb_server"] = version[0] if version else "?"
        client = RawClient(str(server.unix_path))
        try:
            say(f"capture: inserting {rows} Route rows ...")
            meta["insert_s"] = populate(client, rows)
            say(f"capture: inserted in {meta['insert_s']:.2f} s")
            sizes = {}
            for kind, (method, params) in _requests("").items():
                reply, raw = client.call_raw(method, params)
                result = reply["result"]
                updates = result[2] if kind == "update3" else result
                got = len(updates.get("Route", {}))
                if got != rows:
                    raise RuntimeError(f"{method} returned {got} rows, expected {rows}")
                paths[kind].write_bytes(raw)
                sizes[kind] = len(raw)
                say(f"capture: {method}: {len(raw):,} bytes -> {paths[kind].name}")
            meta["bytes"] = sizes

            # Receiving alone: the same monitor_cond request again (new monitor id of
            # the same length, same request-id width, so the same reply size).
            first, last = [], []
            for i in range(repeat):
                method, params = _requests(f"r{i}")["update2"]
                f, t = client.time_receive(method, params, sizes["update2"])
                first.append(f)
                last.append(t)
            meta["receive_first_byte_s"] = first
            meta["receive_last_byte_s"] = last
            say(f"capture: monitor_cond reply received (no parsing) in min {min(last):.3f} s "
                f"(first byte after {min(first):.3f} s)")
        finally:
            client.close()
        meta["ovsdb_client_dump_s"] = ovsdb_client_dump(server.remote, repeat)
        say(f"capture: ovsdb-client dump --format=json: min "
            f"{min(meta['ovsdb_client_dump_s']):.3f} s, median "
            f"{statistics.median(meta['ovsdb_client_dump_s']):.3f} s")
    meta["machine"] = {
        "cpus": _cpus(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
    }
    paths["meta"].write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _cpus() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def ensure_capture(rows: int, *, force: bool = False) -> dict[str, Any]:
    """Return the capture metadata for *rows*, capturing first if any file is missing."""
    paths = data_paths(rows)
    if force or not all(p.is_file() for p in paths.values()):
        return capture(rows)
    meta: dict[str, Any] = json.loads(paths["meta"].read_text())
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="Route rows (default 50000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the receive and ovsdb-client timings (default 3)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be positive")
    meta = capture(args.rows, repeat=args.repeat)
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
