"""``ovsdb-ic demo --keep-running``: the scenario's end state stays up, every remote is
printed and answers, and Ctrl-C (SIGINT) stops everything, leaving nothing behind."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import trio

from ovsdb_ic import Interconnection, connect
from ovsdb_ic.ic import REQUIREMENTS
from ovsdb_ic.replica import Replica

_REMOTE_LINE = re.compile(r"^  (\S+)\s+(OVN_\w+)\s+(\S+)$")


def _processes_using(directory: Path) -> list[str]:
    """Live processes whose command line mentions *directory*."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and str(directory).encode() in argv:
            found.append(argv.decode(errors="replace"))
    return found


def _read_until(proc: subprocess.Popen[bytes], marker: str, seconds: float) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    text = b""
    deadline = time.monotonic() + seconds
    while marker.encode() not in text:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in time; output so far:\n{text.decode()}"
        if sel.select(left):
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"the demo exited early:\n{text.decode()}"
            text += chunk
    return text.decode()


async def _check_remotes(remotes: dict[str, tuple[str, str]]) -> None:
    """Connect to every printed remote; the IC-SB view shows both AZs, and az1's NB has
    learned routes."""
    for label, (database, remote) in remotes.items():
        async with connect(remote, database=database) as client:
            assert client.schema is not None and client.schema.name == database, label
    database, remote = remotes["ic-sb"]
    async with connect(remote, database=database) as client:
        live = await client.replicate(REQUIREMENTS.tables_for("ic_sb"))
        replica: Replica = live.replica
        ic = Interconnection(ic_sb=replica)
        assert sorted(az.name for az in ic.availability_zones()) == ["az1", "az2"]
    database, remote = remotes["az1-nb"]
    async with connect(remote, database=database) as client:
        live = await client.replicate(["Logical_Router_Static_Route"])
        learned = [r for r in live.replica.table("Logical_Router_Static_Route")
                   if "ic-learned-route" in r["external_ids"]]
        assert learned, "az1 learned no route"


def test_keep_running_serves_every_remote_until_ctrl_c(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "ovsdb_ic", "demo", "--keep-running", "--dir",
         str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        text = _read_until(proc, "Press Ctrl-C to stop everything.", 150)
        running = text[text.index("== running"):]
        remotes = {m[1]: (m[2], m[3]) for line in running.splitlines()
                   if (m := _REMOTE_LINE.match(line))}
        assert set(remotes) == {"ic-nb", "ic-sb", "az1-nb", "az1-sb", "az2-nb", "az2-sb"}
        assert len(remotes["ic-sb"][1].split(",")) == 3  # the Raft cluster's members
        # Everything is still up: northd and the databases are running, and the remotes
        # answer with the scenario's state.
        assert any("ovn-northd" in p for p in _processes_using(directory))
        trio.run(_check_remotes, remotes)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "SIGINT received" in out.decode()
    assert "every process stopped" in out.decode()
    assert "Traceback" not in err.decode()
    deadline = time.monotonic() + 10
    while _processes_using(directory) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_using(directory) == []
