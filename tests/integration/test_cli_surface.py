"""The CLI's surface: ``--version``, ``dump`` over SSL, a wrong database name in one
line, and ``monitor``'s bound on retrying (said once, not once per round)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import ovsdb_ic
from ovsdb_ic.testing import Cluster, Sandbox, make_test_pki, schema_path

NB = "OVN_IC_Northbound"


def _ic(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ovsdb_ic", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_version_prints_the_package_version() -> None:
    r = _ic("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"ovsdb-ic {ovsdb_ic.__version__}"


def test_dump_over_ssl_against_a_pssl_server(sandbox: Sandbox, tmp_path: Path) -> None:
    server_files, client_files = make_test_pki(tmp_path / "pki")
    server = sandbox.start_server("ic-nb", name="icnb-ssl", tcp=True, ssl=server_files)
    remote = server.tcp_remote
    assert remote is not None and remote.startswith("ssl:127.0.0.1:")
    r = _ic("dump", f"--db={remote}", f"--private-key={client_files.key}",
            f"--certificate={client_files.cert}", f"--ca-cert={client_files.ca_cert}",
            NB, "Transit_Switch")
    assert r.returncode == 0, r.stderr
    [table] = [json.loads(line) for line in r.stdout.splitlines()]
    assert table["caption"] == "Transit_Switch table" and table["data"] == []
    # Without the SSL options the handshake fails, and says so in one line.
    r = _ic("dump", "--timeout=5", f"--db={remote}", NB)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert remote in r.stderr and "Traceback" not in r.stderr
    # Incomplete SSL options are a usage error, reported before connecting.
    r = _ic("dump", f"--db={remote}", f"--ca-cert={client_files.ca_cert}", NB)
    assert r.returncode == 2 and "ssl needs all three" in r.stderr


def test_wrong_database_name_is_one_line_naming_remote_and_reason(sandbox: Sandbox) -> None:
    server = sandbox.start_server("ic-nb", name="icnb")
    for command in (["dump"], ["monitor"]):
        args = [*command, f"--db={server.remote}", "OVN_IC_Nortbound"]
        if command[0] == "monitor":
            args.append("Transit_Switch")
        r = _ic(*args)
        assert r.returncode == 1, r
        text = r.stderr
        assert "Traceback" not in text and "{" not in text, text
        assert f"{server.remote}: OVN_IC_Nortbound: unknown database" in text
        assert len(text.strip().splitlines()) == 1, text


def test_monitor_gives_up_after_retry_for_and_says_why_once(sandbox: Sandbox) -> None:
    t0 = time.monotonic()
    r = _ic("monitor", "--retry-for=3", "--db=tcp:127.0.0.1:1", NB, "Transit_Switch")
    elapsed = time.monotonic() - t0
    assert r.returncode == 1
    assert 3 <= elapsed < 20
    lines = r.stderr.strip().splitlines()
    # One line when the failure starts, one when it gives up: not one per retry.
    assert len(lines) == 2, r.stderr
    assert "refused" in lines[0].lower() and "retrying in" in lines[0]
    assert "for up to 3 s" in lines[0]
    assert "no working connection for 3 s" in lines[1]
    r = _ic("monitor", "--retry-for=-1", "--db=tcp:127.0.0.1:1", NB, "Transit_Switch")
    assert r.returncode == 2 and "--retry-for" in r.stderr


def test_monitor_waiting_for_a_leader_says_so_once(sandbox: Sandbox) -> None:
    cluster: Cluster = sandbox.start_cluster(schema_path("ic-sb"), name="ic-sb", size=3)
    leader = cluster.leader()
    followers = cluster.followers()
    # Two of three members gone: the one left has no leader and can never elect one.
    for member in (leader, followers[0]):
        member.kill()
    alone = followers[1]
    r = _ic("monitor", "--retry-for=4", f"--db={alone.remote}", "OVN_IC_Southbound",
            "Route")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr
    # The client polls briskly during an election (every ~0.2 s): that is ~20 rounds,
    # and they show as one line, plus the final one.
    assert 1 <= len(lines) <= 3, r.stderr
    assert "no working connection for 4 s" in lines[-1]


def test_connect_error_names_each_remote_and_its_reason_in_words(sandbox: Sandbox) -> None:
    import trio

    from ovsdb_ic import connect
    from ovsdb_ic.errors import ConnectError, RpcError

    server = sandbox.start_server("ic-nb", name="icnb")

    async def main() -> None:
        try:
            async with connect(f"{server.remote},tcp:127.0.0.1:1",
                               database="OVN_IC_Nortbound", shuffle=False):
                raise AssertionError("connected to a database that does not exist")
        except ConnectError as exc:
            text = str(exc)
        assert f"{server.remote}: OVN_IC_Nortbound: unknown database" in text
        assert "tcp:127.0.0.1:1: " in text and "refused" in text.lower()
        assert "{" not in text and "\n" not in text
        async with connect(server.remote) as client:
            try:
                await client.get_schema("Nope")
            except RpcError as exc:
                assert str(exc).startswith("get_schema: unknown database")
                assert exc.error_name == "unknown database" and "{" not in str(exc)

    trio.run(main)
