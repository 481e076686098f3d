"""The demo is the main job: ``python -m ovsdb_ic demo`` runs end to end, its printed
routes are right, it finishes in well under a minute, and it leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def env_with_repo() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def processes_using(directory: Path) -> list[str]:
    """Live processes (any binary) whose command line mentions *directory*."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and str(directory).encode() in b" ".join(argv):
            found.append(b" ".join(argv).decode(errors="replace"))
    return found


def namespaces_with(prefix: str) -> list[str]:
    """Network namespaces whose name starts with *prefix*."""
    try:
        return [n for n in os.listdir("/run/netns") if n.startswith(prefix)]
    except OSError:
        return []


def section(output: str, title: str) -> str:
    """The lines after a ``-- title --`` header up to the next blank line."""
    start = output.index(f"-- {title}")
    body = output[start:].split("\n", 1)[1]
    return body.split("\n\n", 1)[0]


def learned(block: str) -> dict[str, set[str]]:
    """prefix -> nexthops of the (learned) lines of an lr-route-list block."""
    out: dict[str, set[str]] = {}
    for line in block.splitlines():
        if "(learned)" in line:
            prefix, nexthop = line.split()[:2]
            out.setdefault(prefix, set()).add(nexthop)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ovsdb_ic", "demo", "--dir", str(directory),
         f"--metrics-address=127.0.0.1:{free_port()}"],
        env=env_with_repo(), capture_output=True, text=True, timeout=180,
    )
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Traceback" not in done.stderr
    # The show view lists both AZs, their three gateways and a port per transit switch.
    show = out[out.index("-- show"):out.index("-- az1: routes")]
    assert "availability-zone az1" in show and "availability-zone az2" in show
    # One gateway per AZ: the real chassis of the dataplane (this host must run it).
    assert len(re.findall(r"^    gateway ", show, re.M)) == 2
    assert "(no dataplane" not in out
    assert {m for m in re.findall(r"transit switch: (\S+)", show)} == {"ts", "ts1", "ts2"}
    # Each AZ learned the other's subnets over the three ECMP transit switches.
    az1 = learned(section(out, "az1: routes"))
    az2 = learned(section(out, "az2: routes"))
    assert set(az1) == {"10.18.0.0/16", "10.22.0.0/16"}
    assert set(az2) == {"10.16.0.0/16", "10.20.0.0/16"}
    for routes in (az1, az2):
        for nexthops in routes.values():
            assert len(nexthops) == 3
            assert {n.rsplit(".", 1)[0] for n in nexthops} == {
                "169.254.100", "169.254.101", "169.254.102"}
    # Kube-OVN's allow policy for each learned prefix, and a scrape of az1's engine.
    policies = section(out, "az1: policies")
    assert "29500                            ip4.dst == 10.18.0.1/16           allow" in policies
    assert "29500                            ip4.dst == 10.22.0.1/16           allow" in policies
    scrape = out[out.index("-- az1: a scrape of http://127.0.0.1:"):]
    passes = re.search(r"^ovsdb_ic_sync_passes_total (\S+)$", scrape, re.M)
    learned_count = re.search(r"^ovsdb_ic_sync_routes_learned (\S+)$", scrape, re.M)
    assert passes and float(passes.group(1)) > 0
    assert learned_count and float(learned_count.group(1)) == 6  # 2 prefixes x 3 TS
    # The IC-SB leader was killed and syncing carried on without a full resync.
    assert re.search(r"IC-SB leader is now ic-sb-\d", out)
    assert "full resyncs: 0" in out
    assert "az2 learned 10.24.0.1/16 over 3 transit switches" in out
    # The subnet marked disableInterConnection was withdrawn from the other AZ.
    assert "az1 no longer routes to 10.22.0.1/16; it keeps 10.18.0.1/16" in out
    # The dataplane: Pods ping across the AZs, also while the IC-SB leader is killed,
    # and the withdrawn subnet no longer answers while the other still does.
    pings = section(out, "ping from a Pod")
    assert "Pod 10.18.0.2 (az2) -> 10.16.0.2:" in pings
    assert "Pod 10.16.0.2 (az1) -> 10.18.0.2:" in pings
    assert pings.count("3 packets transmitted, 3 received, 0% packet loss") == 2
    failover = re.search(r"ping az2 -> az1 across the failover: (\d+) packets transmitted, "
                         r"(\d+) received.* \((\d+) lost\)", out)
    assert failover, out
    sent, received, lost = map(int, failover.groups())
    assert sent >= 5 and sent - received == lost
    assert "-> 10.22.0.2 (withdrawn): 3 packets transmitted, 0 received" in out
    assert "-> 10.18.0.2 (still advertised): 3 packets transmitted, 3 received" in out
    assert "every process stopped" in out
    assert processes_using(directory) == []
    (token,) = set(re.findall(r"netns (ovsdbic-\d+-\d+)-c\d+,", out))
    assert namespaces_with(token) == []
    assert elapsed < 60, f"the demo took {elapsed:.1f} s"


def test_demo_interrupted_leaves_nothing_behind(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ovsdb_ic", "demo", "--dir", str(directory)],
        env=env_with_repo(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    try:
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if "== 2." in line or not line:
                break
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert processes_using(directory) == []
    # The dataplane was up (its namespaces existed) and is gone too.
    (token,) = set(re.findall(r"netns (ovsdbic-\d+-\d+)-c\d+,", "".join(seen)))
    assert namespaces_with(token) == []


def test_demo_without_the_dataplane_says_so_in_one_line_and_goes_on(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "ovsdb_ic", "demo", "--dir", str(directory), "--no-dataplane"],
        env=env_with_repo(), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    notes = [line for line in out.splitlines() if "dataplane" in line]
    assert notes == ["(no dataplane: not asked for (--no-dataplane); showing the control "
                     "plane only)"]
    # The control plane as before: three gateways per AZ (SB rows only), no Pods.
    show = out[out.index("-- show"):out.index("-- az1: routes")]
    assert len(re.findall(r"^    gateway ", show, re.M)) == 6
    assert "packets transmitted" not in out and "netns" not in out
    assert "az1 no longer routes to 10.22.0.1/16; it keeps 10.18.0.1/16" in out
    assert processes_using(directory) == []
