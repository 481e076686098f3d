"""Wire-core benchmark: framing and decoding a real N-row IC-SB ``Route`` monitor reply.

Every measurement runs over the same captured bytes (see :mod:`capture`), side by side in
one run, and is reported as min and median seconds, MB/s and the ratio to the fastest
plain JSON parse of the same bytes (``json.loads`` / ``orjson.loads``: the floor).

* plain parse: ``json.loads``, ``orjson.loads``;
* python-ovs: ``ovs.json.from_string`` and its ``jsonrpc.Connection.recv`` path (4 KiB
  reads, incremental UTF-8 decode, ``ovs.json.Parser.feed``, ``Message.from_json``), plus
  its ``Idl`` turning the parsed reply into rows (the real ``Idl`` code path, fed the
  parsed reply directly: no connection);
* ovsdb_ic: :class:`~ovsdb_ic.wire.framing.JsonFramer` alone (whole reply, 64 KiB and
  4 KiB chunks) and framing + :mod:`ovsdb_ic.wire.monitor` decoding into ``RowUpdate``
  objects, for the ``monitor_cond``, ``monitor`` (v1) and ``monitor_cond_since`` replies
  (reported as "not available yet" while ``ovsdb_ic.wire.monitor`` cannot be imported).

Usage (``./dev bench`` runs this; results go to docs/performance.md)::

    .venv/bin/python benchmarks/run.py --rows 50000

Each case runs in a fresh interpreter (so no other case's objects change its garbage
collection cost), with the garbage collector enabled as in a real client (``--no-gc`` to
compare) and a full collection before each timed call; wall-clock and CPU times are both
recorded (``--clock cpu`` bases the table on CPU time, steadier on a busy machine). Peak
memory (``--memory``) is measured in a separate pass, again one fresh process per case: the
growth of the peak resident set size (``VmHWM``, reset before the call) over one call, then
tracemalloc's peak over a second call. The two differ for orjson, which reserves a large
parse arena (about 8x the input) of which only the touched pages become resident.
"""

from __future__ import annotations

import argparse
import codecs
import gc
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from capture import data_paths, ensure_capture

from ovsdb_ic.testing import schema_path
from ovsdb_ic.wire.framing import JsonFramer
from ovsdb_ic.wire.schema import parse_schema

CHUNK = 4096  # what python-ovs's jsonrpc reads at a time
BIG_CHUNK = 65536  # trio's default SocketStream.receive_some size

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency
    orjson = None  # type: ignore[assignment]

try:
    import ovs.db.idl
    import ovs.json
    import ovs.jsonrpc
except ImportError:  # python-ovs is a test extra
    ovs = None

try:
    from ovsdb_ic.wire import monitor
except Exception as exc:
    monitor = None  # type: ignore[assignment]
    MONITOR_ERROR = f"{type(exc).__name__}: {exc}"
else:
    MONITOR_ERROR = ""


@dataclass
class Case:
    """One timed function over one captured reply (built inside the worker process)."""

    name: str
    group: str
    fn: Callable[[], Any]
    size: int
    check: Callable[[Any], None] | None = None
    slow: bool = False
    before: Callable[[], None] | None = None  # untimed preparation before every call


@dataclass
class Result:
    """What a worker measured for one case."""

    name: str
    group: str
    size: int
    times: list[float] = field(default_factory=list)
    cpu_times: list[float] = field(default_factory=list)
    peak: int | None = None
    rss: int | None = None


# ----------------------------------------------------------------------------- cases


def _chunks(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _frame(chunks: list[bytes]) -> list[Any]:
    framer = JsonFramer()
    out: list[Any] = []
    for c in chunks:
        out.extend(framer.feed(c))
    return out


def _one_message(out: list[Any]) -> None:
    assert len(out) == 1 and "result" in out[0], "expected exactly one reply message"


def _ovs_jsonrpc_recv(chunks: list[bytes]) -> Any:
    """What ``ovs.jsonrpc.Connection.recv`` does with the reply, without the socket."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    parser = ovs.json.Parser()
    for chunk in chunks:
        text = decoder.decode(chunk)
        while text:  # the pure-Python parser consumes everything until the value ends
            text = text[parser.feed(text) :]
            if parser.is_done():
                break
    msg = ovs.jsonrpc.Message.from_json(parser.finish())
    assert isinstance(msg, ovs.jsonrpc.Message), msg
    return msg


def _new_idl() -> Any:
    helper = ovs.db.idl.SchemaHelper(location=str(schema_path("ic-sb")))
    helper.register_all()
    # The session is created but never run: nothing connects to this remote.
    return ovs.db.idl.Idl("unix:/nonexistent/ovsdb-ic-bench.sock", helper)


def _idl_apply(idl: Any, table_updates: Any) -> Any:
    # Idl.__parse_update is what Idl.run() calls for a monitor_cond(_since) reply and
    # for update2/update3 notifications; OVSDB_UPDATE2 and OVSDB_UPDATE3 share the code.
    idl._Idl__parse_update(table_updates, ovs.db.idl.OVSDB_UPDATE2)
    return idl


def _plain_loads(data: bytes) -> Any:
    return orjson.loads(data) if orjson is not None else json.loads(data)


# (name, group, needs) in report order; needs: "monitor" or "ovs" or "".
CASES: list[tuple[str, str, str]] = [
    ("json.loads(bytes)", "plain parse", ""),
    ("orjson.loads(bytes)", "plain parse", "orjson"),
    ("JsonFramer.feed(whole reply)", "ovsdb_ic framing", ""),
    ("JsonFramer.feed(64 KiB chunks)", "ovsdb_ic framing", ""),
    ("JsonFramer.feed(4 KiB chunks)", "ovsdb_ic framing", ""),
    ("decode_update2(parsed result) only", "ovsdb_ic decode", "monitor"),
    ("framing + decode_update2 (whole reply)", "ovsdb_ic framing + decode", "monitor"),
    ("framing + decode_update2 (64 KiB chunks)", "ovsdb_ic framing + decode", "monitor"),
    ("framing + decode_update2 (4 KiB chunks)", "ovsdb_ic framing + decode", "monitor"),
    ("framing + decode_update v1 (4 KiB) [monitor]", "other reply formats", "monitor"),
    ("framing + decode_cond_since_reply (4 KiB) [update3]", "other reply formats", "monitor"),
    ("ovs.json.from_string(str)", "python-ovs", "ovs"),
    ("ovs jsonrpc recv path (4 KiB chunks)", "python-ovs", "ovs"),
    ("ovs Idl update2 processing (parsed result) only", "python-ovs", "ovs"),
    ("ovs recv path + Idl processing (4 KiB chunks)", "python-ovs", "ovs"),
]
_GROUPS = {name: group for name, group, _ in CASES}


def available(needs: str) -> bool:
    return {"": True, "orjson": orjson is not None, "monitor": monitor is not None,
            "ovs": ovs is not None}[needs]


def build_case(name: str, rows: int) -> Case:
    """Load the inputs of case *name* and return it (runs in the worker process)."""
    paths = data_paths(rows)
    group = _GROUPS[name]
    kind = "update" if "v1" in name else "update3" if "update3" in name else "update2"
    data = paths[kind].read_bytes()
    size = len(data)
    chunks = _chunks(data)

    def rows_ok(out: Any) -> None:
        assert len(out) == rows, f"decoded {len(out)} row updates, expected {rows}"

    def case(fn: Callable[[], Any], check: Callable[[Any], None] | None = None,
             before: Callable[[], None] | None = None) -> Case:
        return Case(name, group, fn, size, check, group == "python-ovs", before)

    if name == "json.loads(bytes)":
        return case(lambda: json.loads(data))
    if name == "orjson.loads(bytes)":
        return case(lambda: orjson.loads(data))
    if name == "JsonFramer.feed(whole reply)":
        return case(lambda: JsonFramer().feed(data), _one_message)
    if name == "JsonFramer.feed(64 KiB chunks)":
        big = _chunks(data, BIG_CHUNK)
        return case(lambda: _frame(big), _one_message)
    if name == "JsonFramer.feed(4 KiB chunks)":
        return case(lambda: _frame(chunks), _one_message)

    if group == "python-ovs":
        idls: list[Any] = []

        def fresh_idl() -> None:
            idls.append(_new_idl())  # a new, empty replica for every call

        def idl_rows_ok(idl: Any) -> None:
            got = len(idl.tables["Route"].rows)
            assert got == rows, f"python-ovs Idl holds {got} rows, expected {rows}"

        if name == "ovs.json.from_string(str)":
            text = data.decode()
            return case(lambda: ovs.json.from_string(text),
                        lambda out: None if isinstance(out, dict) else _fail(out))
        if name == "ovs jsonrpc recv path (4 KiB chunks)":
            return case(lambda: _ovs_jsonrpc_recv(chunks))
        if name == "ovs Idl update2 processing (parsed result) only":
            # python-ovs's parser yields the same dict/list/str/int tree as orjson.
            result = _plain_loads(data)["result"]
            return case(lambda: _idl_apply(idls.pop(), result), idl_rows_ok, fresh_idl)
        if name == "ovs recv path + Idl processing (4 KiB chunks)":
            return case(lambda: _idl_apply(idls.pop(), _ovs_jsonrpc_recv(chunks).result),
                        idl_rows_ok, fresh_idl)

    schema = parse_schema(json.loads(schema_path("ic-sb").read_text()))

    def frame_decode2(cs: list[bytes]) -> list[Any]:
        out: list[Any] = []
        for msg in _frame(cs):
            out.extend(monitor.decode_update2(schema, msg["result"]))
        return out

    def frame_decode1() -> list[Any]:
        out: list[Any] = []
        for msg in _frame(chunks):
            out.extend(monitor.decode_update(schema, msg["result"], initial=True))
        return out

    def frame_decode3() -> list[Any]:
        out: list[Any] = []
        for msg in _frame(chunks):
            found, _txn, updates = monitor.decode_cond_since_reply(schema, msg["result"])
            assert not found
            out.extend(updates)
        return out

    if name == "decode_update2(parsed result) only":
        result = _plain_loads(data)["result"]
        return case(lambda: monitor.decode_update2(schema, result), rows_ok)
    if name == "framing + decode_update2 (whole reply)":
        return case(lambda: frame_decode2([data]), rows_ok)
    if name == "framing + decode_update2 (64 KiB chunks)":
        big = _chunks(data, BIG_CHUNK)
        return case(lambda: frame_decode2(big), rows_ok)
    if name == "framing + decode_update2 (4 KiB chunks)":
        return case(lambda: frame_decode2(chunks), rows_ok)
    if name == "framing + decode_update v1 (4 KiB) [monitor]":
        return case(frame_decode1, rows_ok)
    if name == "framing + decode_cond_since_reply (4 KiB) [update3]":
        return case(frame_decode3, rows_ok)
    raise KeyError(name)


def _fail(out: Any) -> None:
    raise AssertionError(f"parse failed: {out!r:.200}")


# ----------------------------------------------------------------------------- running


def measure(case: Case, repeat: int, gc_enabled: bool) -> Result:
    """Time *repeat* calls of *case*."""
    res = Result(case.name, case.group, case.size)
    for i in range(repeat):
        if case.before is not None:
            case.before()
        gc.collect()
        if not gc_enabled:
            gc.disable()
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = case.fn()
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - c0
        gc.enable()
        if i == 0 and case.check is not None:
            case.check(out)
        del out
        res.times.append(elapsed)
        res.cpu_times.append(cpu)
    return res


def _rss_kib() -> tuple[int, int]:
    """(current, peak) resident set size in KiB, from /proc/self/status."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(rest.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return True


def measure_memory(case: Case) -> Result:
    """Peak RSS growth over one call, then tracemalloc's peak over another (fresh process).

    The peak RSS mark is reset first where Linux allows it, so a higher peak during the
    case's preparation (parsing its input) does not hide the call's own peak.
    """
    res = Result(case.name, case.group, case.size)
    if case.before is not None:
        case.before()
    gc.collect()
    if _reset_peak_rss():
        base = _rss_kib()[0]
        out = case.fn()
        res.rss = (_rss_kib()[1] - base) * 1024
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = case.fn()
        res.rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024
    del out
    if case.before is not None:
        case.before()
    gc.collect()
    tracemalloc.start()
    out = case.fn()
    res.peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del out
    return res


def worker(args: argparse.Namespace) -> int:
    """Measure one case in this (fresh) process; print the result as JSON."""
    case = build_case(args.worker, args.rows)
    repeat = args.ovs_repeat if case.slow else args.repeat
    res = measure_memory(case) if args.memory_pass else measure(case, repeat, not args.no_gc)
    print(json.dumps(res.__dict__))
    return 0


def run_case(name: str, args: argparse.Namespace, memory: bool = False) -> Result:
    """Run case *name* in a fresh interpreter, so no other case's garbage or retained
    objects change its garbage-collection costs (or its memory peak)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", name,
            "--rows", str(args.rows), "--repeat", str(args.repeat),
            "--ovs-repeat", str(args.ovs_repeat)]
    if memory:
        argv.append("--memory-pass")
    if args.no_gc:
        argv.append("--no-gc")
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark case {name!r} failed (exit status {done.returncode})")
    return Result(**json.loads(done.stdout.strip().splitlines()[-1]))


def report(results: list[Result], meta: dict[str, Any],
           args: argparse.Namespace) -> dict[str, Any]:
    def clock(c: Result) -> list[float]:
        return c.cpu_times if args.clock == "cpu" else c.times

    floor_cases = [c for c in results if c.group == "plain parse"]
    floor = min(min(clock(c)) for c in floor_cases)
    floor_name = min(floor_cases, key=lambda c: min(clock(c))).name
    rows_out = []
    for c in results:
        best = min(clock(c))
        rows_out.append({
            "name": c.name,
            "group": c.group,
            "runs": len(c.times),
            "min_s": best,
            "median_s": statistics.median(clock(c)),
            "wall_min_s": min(c.times),
            "cpu_min_s": min(c.cpu_times),
            "mb_per_s": c.size / best / 1e6,
            "ratio": best / floor,
            "peak_mib": None if c.peak is None else c.peak / 2**20,
            "rss_mib": None if c.rss is None else c.rss / 2**20,
            "bytes": c.size,
            "wall_s": c.times,
            "cpu_s": c.cpu_times,
        })
    mem = any(r["peak_mib"] is not None for r in rows_out)
    other = "cpu" if args.clock == "wall" else "wall"
    head = (f"{'case':<52} {'runs':>4} {'min s':>8} {'median s':>9} {other + ' min':>8} "
            f"{'MB/s':>7} {'x floor':>8}")
    if mem:
        head += f" {'RSS+ MiB':>9} {'traced MiB':>10}"
    print()
    print(f"{meta['rows']} Route rows; monitor_cond reply {meta['bytes']['update2']:,} bytes, "
          f"monitor (v1) {meta['bytes']['update']:,}, monitor_cond_since "
          f"{meta['bytes']['update3']:,}")
    print(f"{args.clock} clock; floor = {floor_name}; garbage collector "
          f"{'off' if args.no_gc else 'on'}; every case in a fresh process")
    print(head)
    print("-" * len(head))
    group = None
    for r in rows_out:
        if r["group"] != group:
            group = r["group"]
            print(f"[{group}]")
        line = (f"  {r['name']:<50} {r['runs']:>4} {r['min_s']:>8.3f} {r['median_s']:>9.3f} "
                f"{r[other + '_min_s']:>8.3f} {r['mb_per_s']:>7.1f} {r['ratio']:>7.2f}x")
        if mem:
            line += (f" {r['rss_mib']:>9.0f} {r['peak_mib']:>10.0f}"
                     if r["peak_mib"] is not None else f" {'-':>9} {'-':>10}")
        print(line)
    if monitor is None:
        print("  ovsdb_ic framing + decode: not available yet "
              f"(ovsdb_ic.wire.monitor: {MONITOR_ERROR})")
    if ovs is None:
        print("  python-ovs: not installed (pip install ovs)")
    elif args.no_ovs:
        print("  python-ovs: skipped (--no-ovs)")
    print()
    print("Context, measured on the same server when the data was captured "
          f"({meta.get('captured', '?')}, {meta.get('ovsdb_server', '?')}):")
    recv = meta.get("receive_last_byte_s")
    if recv:
        print(f"  request -> last reply byte, raw socket reads, no parsing: min {min(recv):.3f} s "
              f"(first byte after {min(meta['receive_first_byte_s']):.3f} s)")
    dump = meta.get("ovsdb_client_dump_s")
    if dump:
        print(f"  C ovsdb-client dump --format=json OVN_IC_Southbound Route: "
              f"min {min(dump):.3f} s, median {statistics.median(dump):.3f} s")
    machine = meta.get("machine", {})
    print(f"  machine: {machine.get('cpus', '?')} CPUs, {machine.get('cpu', '?')}, "
          f"Python {machine.get('python', '?')}")
    return {"meta": meta, "floor": floor_name, "gc": not args.no_gc, "clock": args.clock,
            "results": rows_out,
            "monitor_available": monitor is not None}


def code_version() -> dict[str, Any]:
    """Which code was measured: the git HEAD, and a digest of ovsdb_ic/wire (which may hold
    uncommitted changes)."""
    root = Path(__file__).resolve().parents[1]
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    digest = hashlib.sha256()
    for path in sorted((root / "ovsdb_ic" / "wire").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return {"git_head": head or None, "wire_sha256": digest.hexdigest()[:16]}


def markdown_table(out: dict[str, Any]) -> str:
    """The results as a Markdown table (the format of docs/performance.md)."""
    clock = out["clock"]
    other = "cpu" if clock == "wall" else "wall"
    mem = any(r["peak_mib"] is not None for r in out["results"])
    cols = ["case", "runs", f"min s ({clock})", "median s", f"min s ({other})", "MB/s",
            "x fastest parse"] + (["peak RSS growth MiB", "tracemalloc peak MiB"] if mem else [])
    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|"]
    for r in out["results"]:
        cells = [f"{r['group']}: `{r['name']}`", str(r["runs"]), f"{r['min_s']:.3f}",
                 f"{r['median_s']:.3f}", f"{r[other + '_min_s']:.3f}", f"{r['mb_per_s']:.1f}",
                 f"{r['ratio']:.2f}x"]
        if mem:
            cells += (["-", "-"] if r["peak_mib"] is None
                      else [f"{r['rss_mib']:.0f}", f"{r['peak_mib']:.0f}"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="Route rows (default 50000)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed runs per case (default 5; min and median are reported)")
    parser.add_argument("--ovs-repeat", type=int, default=1,
                        help="timed runs of the (slow, 10-40x) python-ovs cases (default 1)")
    parser.add_argument("--no-ovs", action="store_true", help="skip the python-ovs cases")
    parser.add_argument("--only", metavar="SUBSTRING", action="append",
                        help="run only the cases whose name contains SUBSTRING (repeatable; "
                             "the plain parses always run, they are the floor)")
    parser.add_argument("--no-gc", action="store_true",
                        help="disable the garbage collector during the timed calls "
                             "(for analysis; real clients run with it on)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="clock of min/median/MB/s/ratio: wall (perf_counter, default) or "
                             "cpu (process_time: steadier on a busy machine)")
    parser.add_argument("--memory", action="store_true",
                        help="also measure memory per case: peak RSS growth and tracemalloc "
                             "peak (a separate pass)")
    parser.add_argument("--memory-pass", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--recapture", action="store_true",
                        help="capture fresh replies from a new ovsdb-server first")
    parser.add_argument("--json", metavar="OUT", type=Path, help="also write results as JSON")
    parser.add_argument("--markdown", metavar="OUT", type=Path,
                        help="also write the table as Markdown (for docs/performance.md)")
    parser.add_argument("--worker", metavar="CASE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1 or args.ovs_repeat < 1:
        parser.error("--rows, --repeat and --ovs-repeat must be positive")
    if args.worker is not None:
        return worker(args)

    meta = ensure_capture(args.rows, force=args.recapture)
    names = [
        name for name, group, needs in CASES
        if available(needs)
        and not (args.no_ovs and group == "python-ovs")
        and (not args.only or group == "plain parse" or any(o in name for o in args.only))
    ]
    results = []
    for name in names:
        print(f"  {name} ...", end="", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        res = run_case(name, args)
        if args.memory:
            mem = run_case(name, args, memory=True)
            res.rss, res.peak = mem.rss, mem.peak
        results.append(res)
        print(f" {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    out = report(results, meta, args)
    if args.json is not None:
        out["code"] = code_version()
        out["argv"] = sys.argv[1:]
        out["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    if args.markdown is not None:
        args.markdown.write_text(markdown_table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
