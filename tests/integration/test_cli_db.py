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
