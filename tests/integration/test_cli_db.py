"""``ovsdb-ic dump`` and ``ovsdb-ic monitor`` against real servers."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from typing import Any

from ovsdb_ic.testing import Sandbox, Server
from tests.integration.rawclient import RawClient

NB = "OVN_IC_Northbound"


def _ic(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ovsdb_ic", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def _transact(server: Server, *ops: dict[str, Any]) -> Any:
    out = subprocess.run(["ovsdb-client", "transact", server.remote, json.dumps([NB, *ops])],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _populate(server: Server) -> None:
    _transact(server,
              {"op": "insert", "table": "Transit_Switch",
               "row": {"name": "ts1", "external_ids": ["map", [["vendor", "kube-ovn"]]]}},
              {"op": "insert", "table": "Transit_Switch", "row": {"name": "ts2"}},
              {"op": "insert", "table": "Connection",
               "row": {"target": "ptcp:6645", "inactivity_probe": 1000,
                       "other_config": ["map", [["a", "b"]]]}})


def _by_caption(text: str) -> dict[str, Any]:
    out = {}
    for line in text.splitlines():
        t = json.loads(line)
        out[t["caption"]] = {"headings": t["headings"],
                             "data": sorted(json.dumps(r, sort_keys=True) for r in t["data"])}
    return out


def test_dump_matches_ovsdb_client(sandbox: Sandbox) -> None:
    server = sandbox.start_server("ic-nb", name="icnb", tcp=True)
    _populate(server)
    ours = _ic("dump", f"--db={server.remote}", NB)
    assert ours.returncode == 0, ours.stderr
    theirs = subprocess.run(["ovsdb-client", "-f", "json", "dump", server.remote, NB],
                            capture_output=True, text=True, check=True)
    assert _by_caption(ours.stdout) == _by_caption(theirs.stdout)
    assert ours.stdout == theirs.stdout  # byte for byte, tables and rows in the same order
    one = _ic("dump", f"--db={server.tcp_remote}", NB, "Transit_Switch")
    assert one.returncode == 0
    assert [json.loads(line)["caption"] for line in one.stdout.splitlines()] == [
        "Transit_Switch table"]


def test_dump_failures_one_line_per_remote_no_traceback(sandbox: Sandbox) -> None:
    server = sandbox.start_server("ic-nb", name="icnb")
    missing = f"unix:{sandbox.path}/missing.sock"
    r = _ic("dump", f"--db=tcp:127.0.0.1:1,{missing},{server.remote}", "Nope")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3, r.stderr
    assert "tcp:127.0.0.1:1" in lines[0] and "refused" in lines[0].lower()
    assert "missing.sock" in lines[1] and "No such file" in lines[1]
    assert "unknown database" in lines[2]
    assert "Traceback" not in r.stderr
    # A hung server: the attempt times out.
    server.stop()
    try:
        t0 = time.monotonic()
        r = _ic("dump", "--timeout=1", f"--db={server.remote}", NB)
        assert time.monotonic() - t0 < 20
    finally:
        server.cont()
    assert r.returncode == 1
    assert "timed out after 1 s" in r.stderr
    bad = _ic("dump", "--db=192.168.65.3:6645", NB)
    assert bad.returncode == 1
    assert "--db" in bad.stderr and "Traceback" not in bad.stderr
    unknown_table = _ic("dump", f"--db={server.remote}", NB, "Nope")
    assert unknown_table.returncode == 1 and "no table 'Nope'" in unknown_table.stderr


class _Lines:
    """Read a child's stdout line by line with a deadline.

    Reads the pipe with os.read into our own buffer: a text wrapper's
    readline may swallow several lines at once, after which select() on the
    pipe would wait for data that was already read.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.fd, selectors.EVENT_READ)
        self.buf = b""

    def next(self, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise AssertionError("no output in time")
            chunk = os.read(self.fd, 65536)
            assert chunk, "monitor exited"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        event: dict[str, Any] = json.loads(line)
        return event


def test_monitor_prints_changes_and_survives_a_restart(sandbox: Sandbox) -> None:
    server = sandbox.start_server("ic-nb", name="icnb")
    _populate(server)
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "ovsdb_ic", "monitor", f"--db={server.remote}", NB,
         "Transit_Switch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = _Lines(proc)
        initial = [lines.next(), lines.next()]
        assert {e["kind"] for e in initial} == {"initial"}
        assert sorted(e["new"]["name"] for e in initial) == ["ts1", "ts2"]
        _transact(server, {"op": "insert", "table": "Transit_Switch", "row": {"name": "ts3"}})
        ins = lines.next()
        assert (ins["kind"], ins["new"]["name"]) == ("insert", "ts3")
        _transact(server, {"op": "update", "table": "Transit_Switch",
                           "where": [["name", "==", "ts3"]],
                           "row": {"external_ids": ["map", [["k", "v"]]]}})
        mod = lines.next()
        assert mod["kind"] == "modify" and mod["uuid"] == ins["uuid"]
        assert mod["old"] == {"external_ids": ["map", []]}
        assert mod["new"] == {"external_ids": ["map", [["k", "v"]]]}
        # A row of the initial copy (printed without decoding) changes: its old
        # values come from the row decoded when this update arrives.
        _transact(server, {"op": "mutate", "table": "Transit_Switch",
                           "where": [["name", "==", "ts1"]],
                           "mutations": [["external_ids", "insert", ["map", [["a", "b"]]]]]})
        mod1 = lines.next()
        assert mod1["kind"] == "modify"
        assert mod1["uuid"] == next(e["uuid"] for e in initial if e["new"]["name"] == "ts1")
        assert mod1["old"] == {"external_ids": ["map", [["vendor", "kube-ovn"]]]}
        # (a modified map lists its new keys last, as the replica applies the diff)
        assert mod1["new"] == {"external_ids": ["map", [["vendor", "kube-ovn"], ["a", "b"]]]}
        _transact(server, {"op": "delete", "table": "Transit_Switch",
                           "where": [["name", "==", "ts2"]]})
        dele = lines.next()
        assert dele["kind"] == "delete" and dele["old"]["name"] == "ts2"
        # Restart the server: the monitor reconnects, resyncs, and reports only
        # the differences (none), then new changes.
        server.kill()
        server.restart()
        _transact(server, {"op": "insert", "table": "Transit_Switch", "row": {"name": "ts4"}})
        after = lines.next(timeout=20)
        assert (after["kind"], after["new"]["name"]) == ("insert", "ts4")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert "retrying in" in err
    assert "Traceback" not in err


SB = "OVN_IC_Southbound"
_AZ2 = "22222222-2222-4222-8222-222222222222"


def _populate_sb(server: Server) -> dict[str, int]:
    """Rows of every column shape of IC-SB: sets of UUIDs, optional UUIDs and integers,
    maps, enums, defaults left out (update2 omits them), strings needing escapes."""
    ops: list[dict[str, Any]] = [
        {"op": "insert", "table": "Availability_Zone", "row": {"name": "az1"},
         "uuid-name": "az1"},
        {"op": "insert", "table": "Availability_Zone", "row": {"name": 'a"z\\2 \u00e9'},
         "uuid-name": "az2"},
        {"op": "insert", "table": "Encap", "uuid-name": "e1",
         "row": {"type": "geneve", "ip": "192.0.2.1", "gateway_name": "gw1",
                 "options": ["map", [["csum", "true"], ["dst_port", "6081"]]]}},
        {"op": "insert", "table": "Encap", "uuid-name": "e2",
         "row": {"type": "vxlan", "ip": "192.0.2.2", "gateway_name": "gw1"}},
        {"op": "insert", "table": "Gateway",
         "row": {"name": "gw1", "hostname": "host-1", "availability_zone": ["named-uuid", "az1"],
                 "encaps": ["set", [["named-uuid", "e1"], ["named-uuid", "e2"]]],
                 "external_ids": ["map", [["k", "v"], ["z", ""]]]}},
        {"op": "insert", "table": "Port_Binding",
         "row": {"logical_port": "lsp1", "transit_switch": "ts1", "tunnel_key": 5,
                 "availability_zone": ["named-uuid", "az2"], "gateway": "gw1",
                 "encap": ["named-uuid", "e1"], "address": "00:00:00:00:00:01 10.0.0.1"}},
        {"op": "insert", "table": "Port_Binding",
         "row": {"logical_port": "lsp2", "transit_switch": "ts1", "tunnel_key": 6,
                 "availability_zone": ["named-uuid", "az1"]}},
        {"op": "insert", "table": "Route",
         "row": {"transit_switch": "ts1", "availability_zone": ["named-uuid", "az1"],
                 "ip_prefix": "10.0.0.0/24", "nexthop": "169.254.100.1", "origin": "static",
                 "route_table": "rtb1"}},
        {"op": "insert", "table": "Route",
         "row": {"transit_switch": "ts1", "availability_zone": ["named-uuid", "az2"],
                 "ip_prefix": "10.0.1.0/24", "nexthop": "169.254.100.2",
                 "origin": "connected", "external_ids": ["map", [["lr-id", _AZ2]]]}},
        {"op": "insert", "table": "Connection", "uuid-name": "c1",
         "row": {"target": "ptcp:6645", "inactivity_probe": 1000,
                 "other_config": ["map", [["a", "b"]]]}},
        {"op": "insert", "table": "Connection", "uuid-name": "c2",
         "row": {"target": "pssl:6646"}},
        {"op": "insert", "table": "IC_SB_Global",
         "row": {"connections": ["set", [["named-uuid", "c1"], ["named-uuid", "c2"]]],
                 "options": ["map", [["x", "1"]]]}},
        {"op": "insert", "table": "Datapath_Binding",
         "row": {"transit_switch": "ts1", "tunnel_key": 16777215}},
    ]
    out = subprocess.run(["ovsdb-client", "transact", server.remote, json.dumps([SB, *ops])],
                         capture_output=True, text=True, check=True)
    assert not any("error" in r for r in json.loads(out.stdout) if r), out.stdout
    counts: dict[str, int] = {}
    for op in ops:
        counts[op["table"]] = counts.get(op["table"], 0) + 1
    return counts


def _canonical(value: Any) -> Any:
    """A datum with the atoms of a set sorted (we print sets in no particular order)."""
    if type(value) is list and len(value) == 2 and value[0] == "set":
        return ["set", sorted(value[1], key=json.dumps)]
    return value


def _first_lines(cmd: list[str], n: int) -> list[dict[str, Any]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = _Lines(proc)
        return [lines.next(timeout=20) for _ in range(n)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_monitor_initial_rows_match_ovsdb_client(sandbox: Sandbox) -> None:
    """The initial rows printed from the undecoded reply hold what the C client prints
    for its initial table: the same rows, columns and values (it prints ``_version``
    too, which ``ovsdb-ic monitor`` never did)."""
    server = sandbox.start_server("ic-sb", name="icsb")
    counts = _populate_sb(server)
    ours = _first_lines([sys.executable, "-m", "ovsdb_ic", "monitor", f"--db={server.remote}",
                         SB, *counts], sum(counts.values()))
    assert {e["kind"] for e in ours} == {"initial"}
    for table, n in counts.items():
        (theirs,) = _first_lines(["ovsdb-client", "-f", "json", "monitor", server.remote, SB,
                                  table], 1)
        heads = theirs["headings"]
        assert heads[:2] == ["row", "action"]
        expected = {row[0]: {h: _canonical(v) for h, v in zip(heads[2:], row[2:], strict=True)
                             if h != "_version"}
                    for row in theirs["data"]}
        assert {row[1] for row in theirs["data"]} == {"initial"}
        got = {e["uuid"]: {c: _canonical(v) for c, v in e["new"].items()}
               for e in ours if e["table"] == table}
        assert len(got) == n
        assert got == expected, table


def test_a_reader_that_goes_away_ends_the_command_quietly(sandbox: Sandbox) -> None:
    """``ovsdb-ic monitor ... | head -1``: once the reader has closed the pipe the next
    write fails, and the command ends with 141 (128 + SIGPIPE) and no traceback."""
    server = sandbox.start_server("ic-nb", name="icnb-pipe")
    with RawClient(server.remote) as raw:
        raw.call("transact", [NB, *({"op": "insert", "table": "Transit_Switch",
                                     "row": {"name": f"ts{i}",
                                             "external_ids": ["map", [["k", "v" * 200]]]}}
                                    for i in range(2000))])
    proc = subprocess.Popen([sys.executable, "-m", "ovsdb_ic", "monitor",
                             f"--db={server.remote}", NB, "Transit_Switch"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["table"] == "Transit_Switch"
    proc.stdout.close()  # the reader goes away after one line
    # More than a pipe's buffer is still to come (2,000 rows of about 250 bytes) or,
    # failing that, the next change.
    _transact(server, {"op": "insert", "table": "Transit_Switch", "row": {"name": "last"}})
    assert proc.wait(timeout=30) == 141
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
