"""Command-line errors of ``ovsdb-ic establish / teardown / reset / show / routes``.

No database server here. A bad config or command line exits with status 2 and one line
per problem before connecting to anything: the tests give every command a loopback
socket that listens and never answers as its remotes, and check that nobody knocked.
A good config whose databases nobody listens on exits with status 1, naming each
remote. Configs may name far-away hosts (192.168.65.3): the IC remotes are then always
overridden with loopback ones, so no test ever connects outside this machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.cli import main
from ovsdb_ic.kubeovn.commands import EstablishParams

COMMANDS = ["establish", "teardown", "reset", "show", "routes"]
AZ_COMMANDS = ["establish", "teardown", "reset"]

GOOD: dict[str, str] = {
    "enable-ic": "true",
    "az-name": "az1",
    "ic-db-host": "192.168.65.3,192.168.65.4,192.168.65.5",
    "gw-nodes": "gw1,gw2",
    "auto-route": "true",
}
BAD: dict[str, list[str]] = {
    "enable-ic": ["yes", "True", ""],
    "az-name": ["", "-az", "a b"],
    "ic-db-host": ["192.168.65.3,192.168.65.4", "192.168.65.300",
                   "192.168.65.3,192.168.65.3,192.168.65.4"],
    "ic-nb-port": ["0", "65536", "http"],
    "ic-sb-port": ["-1", "99999"],
    "gw-nodes": ["gw1,gw1", "GW_1"],
    "auto-route": ["yes", "1"],
    "surprise": ["x"],
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line in a subprocess."""
    return subprocess.run([sys.executable, "-m", "ovsdb_ic", *args], capture_output=True,
                          text=True, check=False, timeout=60)


def in_process(*args: str) -> tuple[int, str, str]:
    """The command line in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def unused_ports(count: int) -> list[int]:
    """Loopback ports nobody listens on (bound, then released)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback socket that listens and never answers (checked for knocks after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        s.setblocking(False)
        yield s


def knocked(s: socket.socket) -> bool:
    try:
        conn, _ = s.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def remote(s: socket.socket) -> str:
    return f"tcp:127.0.0.1:{s.getsockname()[1]}"


def write(path: Path, data: dict[str, str]) -> str:
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "data": data}))
    return str(path)


def az_args(command: str, config: str, nb: str, sb: str, ic_nb: str | None = None,
            ic_sb: str | None = None) -> list[str]:
    args = [command, "--config", config, f"--ovnnb-db={nb}", f"--ovnsb-db={sb}"]
    if ic_nb:
        args.append(f"--ic-nb-db={ic_nb}")
    if ic_sb:
        args.append(f"--ic-sb-db={ic_sb}")
    return args


# ---------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = out.getvalue()
    assert text.startswith(f"usage: ovsdb-ic {command} ")
    assert "Exit status: 0 on success" in " ".join(text.split())


def test_the_top_level_help_lists_the_commands() -> None:
    done = run("--help")
    assert done.returncode == 0
    for command in COMMANDS:
        assert f"    {command} " in done.stdout


@pytest.mark.parametrize("command,missing", [
    ("establish", "--config, --ovnnb-db, --ovnsb-db"),
    ("teardown", "--config, --ovnnb-db, --ovnsb-db"),
    ("reset", "--config, --ovnnb-db, --ovnsb-db"),
    ("routes", "--ovnnb-db, ROUTER"),
])
def test_missing_arguments_exit_2(command: str, missing: str) -> None:
    done = run(command)
    assert done.returncode == 2
    assert f"the following arguments are required: {missing}" in done.stderr
    assert "Traceback" not in done.stderr


def test_reset_has_no_dry_run() -> None:
    done = run("reset", "--config", "x", "--ovnnb-db=unix:x", "--ovnsb-db=unix:x", "--dry-run")
    assert done.returncode == 2
    assert "unrecognized arguments: --dry-run" in done.stderr


# ------------------------------------------------------------- bad config: exit 2


@pytest.mark.parametrize("command", AZ_COMMANDS)
def test_a_bad_config_exits_2_with_one_line_per_problem_before_connecting(
    command: str, tmp_path: Path, listener: socket.socket
) -> None:
    config = write(tmp_path / "bad.json", {
        **GOOD, "enable-ic": "yes", "ic-db-host": "192.168.65.3,192.168.65.4",
        "ic-sb-port": "0", "gw-nodes": "gw1,gw1", "surprise": "x",
    })
    here = remote(listener)
    done = run(*az_args(command, config, here, here, here, here))
    assert done.returncode == 2
    assert done.stdout == ""
    prefix = f"ovsdb-ic {command}: error: {config}: "
    assert done.stderr.splitlines() == [
        prefix + "surprise: unknown key (known keys: enable-ic, az-name, ic-db-host, "
                 "ic-nb-port, ic-sb-port, gw-nodes, auto-route) (got 'x')",
        prefix + "enable-ic: must be \"true\" or \"false\" (got 'yes')",
        prefix + "ic-db-host: must list 1 host or 3 hosts (a Raft cluster), not 2 "
                 "(got '192.168.65.3,192.168.65.4')",
        prefix + "ic-sb-port: must be a port from 1 to 65535 (got '0')",
        prefix + "gw-nodes: duplicate node gw1 (got 'gw1,gw1')",
    ]
    assert not knocked(listener)


def test_a_good_config_naming_far_hosts_passes_validation(tmp_path: Path) -> None:
    """192.168.65.x is fine when every field is: validation passes and the command goes
    on to connect (here to the loopback remotes that override the config's)."""
    config = write(tmp_path / "good.json", GOOD)
    nb, sb, ic_nb, ic_sb = (f"tcp:127.0.0.1:{p}" for p in unused_ports(4))
    done = run(*az_args("establish", config, nb, sb, ic_nb, ic_sb), "--timeout", "10")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "192.168.65" not in done.stderr
    lines = done.stderr.splitlines()
    assert [line.split(": ")[2] for line in lines] == ["IC-NB", "IC-SB", "NB", "SB"]
    for line, target in zip(lines, [ic_nb, ic_sb, nb, sb], strict=True):
        assert line.startswith("ovsdb-ic establish: error: ") and f": {target}: " in line
        assert line.endswith("Connection refused")


def test_unreachable_remotes_from_the_config_are_named(tmp_path: Path) -> None:
    """The IC remotes come from ic-db-host and the ports; each failure names its remote."""
    nb_port, sb_port, az_nb = unused_ports(3)
    config = write(tmp_path / "local.json", {
        **GOOD, "ic-db-host": "127.0.0.1", "ic-nb-port": str(nb_port),
        "ic-sb-port": str(sb_port),
    })
    for command in AZ_COMMANDS:
        done = run(*az_args(command, config, f"tcp:127.0.0.1:{az_nb}",
                            f"unix:{tmp_path}/nobody.sock"))
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 4, lines
        assert lines[0].startswith(f"ovsdb-ic {command}: error: IC-NB: tcp:127.0.0.1:{nb_port}: ")
        assert lines[1].startswith(f"ovsdb-ic {command}: error: IC-SB: tcp:127.0.0.1:{sb_port}: ")
        assert lines[2].startswith(f"ovsdb-ic {command}: error: NB: tcp:127.0.0.1:{az_nb}: ")
        assert lines[3].startswith(f"ovsdb-ic {command}: error: SB: unix:{tmp_path}/nobody.sock: ")
        assert "Traceback" not in done.stderr
    done = run("show", "--config", config)
    assert done.returncode == 1
    assert done.stderr.startswith(f"ovsdb-ic show: error: IC-SB: tcp:127.0.0.1:{sb_port}: ")
    done = run("routes", f"--ovnnb-db=tcp:127.0.0.1:{az_nb}", "ovn-cluster")
    assert done.returncode == 1
    assert done.stderr.startswith(f"ovsdb-ic routes: error: NB: tcp:127.0.0.1:{az_nb}: ")


@st.composite
def broken(draw: st.DrawFn) -> tuple[dict[str, str], set[str]]:
    """Config data with some fields broken (at least one), and the broken fields."""
    fields = draw(st.sets(st.sampled_from(sorted(BAD)), min_size=1))
    data = dict(GOOD)
    for field in sorted(fields):
        data[field] = draw(st.sampled_from(BAD[field]))
    for field in draw(st.sets(st.sampled_from(["enable-ic", "az-name", "ic-db-host"]))):
        if field not in fields:
            del data[field]  # a missing required key is a problem too
            fields.add(field)
    return data, fields


@settings(max_examples=40, deadline=None)
@given(broken(), st.sampled_from(AZ_COMMANDS))
def test_every_bad_field_is_named_and_nothing_connects(
    case: tuple[dict[str, str], set[str]], command: str
) -> None:
    data, fields = case
    with socket.socket() as s, tempfile.TemporaryDirectory() as tmp:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        s.setblocking(False)
        here = remote(s)
        config = write(Path(tmp) / "c.json", data)
        status, out, err = in_process(*az_args(command, config, here, here, here, here))
        assert status == 2
        assert out == ""
        prefix = f"ovsdb-ic {command}: error: {config}: "
        lines = err.splitlines()
        assert all(line.startswith(prefix) for line in lines), lines
        assert {line[len(prefix):].split(":")[0] for line in lines} == fields
        assert not knocked(s)


# -------------------------------------------------------- bad command line: exit 2


def test_bad_parameters_are_all_reported(tmp_path: Path, listener: socket.socket) -> None:
    config = write(tmp_path / "good.json", GOOD)
    here = remote(listener)
    status, out, err = in_process(
        *az_args("establish", config, "bogus", here, "tcp:host-without-port"),
        "--ts-num", "0", "--node-ip", "10.0.0.1", "--node-ip", "1.2.3",
        "--disabled-subnet", "10.0.0.0/33", "--join-subnet", "nope", "--timeout", "0",
        "--cluster-router", " ",
    )
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert all(line.startswith("ovsdb-ic establish: error: --") for line in lines), lines
    named = [line.split(": ")[2] for line in lines]
    assert sorted(named) == sorted(["--ovnnb-db", "--ic-nb-db", "--ts-num", "--cluster-router",
                                    "--disabled-subnet", "--join-subnet", "--node-ip",
                                    "--timeout"])
    assert "(got '1.2.3')" in err and "10.0.0.1" not in err
    assert not knocked(listener)


def test_establish_refuses_a_disabled_config(tmp_path: Path, listener: socket.socket) -> None:
    config = write(tmp_path / "off.json", {**GOOD, "enable-ic": "false"})
    here = remote(listener)
    for command in ("establish", "reset"):
        status, _, err = in_process(*az_args(command, config, here, here, here, here))
        assert status == 2
        assert err == (f"ovsdb-ic {command}: error: {config}: enable-ic: interconnection is "
                       "disabled (\"false\"); use teardown\n")
    assert not knocked(listener)


def test_a_missing_config_file_exits_2(tmp_path: Path, listener: socket.socket) -> None:
    here = remote(listener)
    missing = str(tmp_path / "nope.yaml")
    status, _, err = in_process(*az_args("teardown", missing, here, here))
    assert status == 2
    assert err.startswith(f"ovsdb-ic teardown: error: {missing}: document: cannot read the file")
    status, _, err = in_process("reset", "--config", missing, "--previous-config", missing,
                                f"--ovnnb-db={here}", f"--ovnsb-db={here}")
    assert status == 2 and len(err.splitlines()) == 2
    assert not knocked(listener)


def test_a_yaml_error_names_the_line(tmp_path: Path, listener: socket.socket) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  enable-ic: 'true'\n  - c\n")
    here = remote(listener)
    status, _, err = in_process(*az_args("establish", str(path), here, here))
    assert status == 2
    assert err.startswith(f"ovsdb-ic establish: error: {path}: document: line 3: ")
    assert not knocked(listener)


def test_show_and_routes_check_their_options(listener: socket.socket) -> None:
    status, _, err = in_process("show")
    assert status == 2
    assert err == "ovsdb-ic show: error: --ic-sb-db (or --config) is required\n"
    status, _, err = in_process("show", "--ic-sb-db=nonsense", "--ic-nb-db=tcp:x")
    assert status == 2 and len(err.splitlines()) == 2
    status, _, err = in_process("routes", "--ovnnb-db=bad", "lr")
    assert status == 2 and err.startswith("ovsdb-ic routes: error: --ovnnb-db: ")
    status, _, err = in_process("routes", f"--ovnnb-db={remote(listener)}", "--timeout=-1",
                                "lr")
    assert status == 2 and err == "ovsdb-ic routes: error: --timeout: must be positive\n"
    assert not knocked(listener)


def test_ssl_needs_all_three_files(tmp_path: Path, listener: socket.socket) -> None:
    config = write(tmp_path / "good.json", GOOD)
    here = remote(listener)
    status, _, err = in_process(*az_args("establish", config, here, here, here, here),
                                "--private-key", "k.pem")
    assert status == 2
    assert err == ("ovsdb-ic establish: error: --private-key, --certificate and --ca-cert: "
                   "ssl needs all three\n")
    status, _, err = in_process(*az_args("establish", config, here, here, here, here),
                                "--private-key", "k.pem", "--certificate", "c.pem",
                                "--ca-cert", str(tmp_path / "none.pem"))
    assert status == 2 and err.startswith("ovsdb-ic establish: error: ssl files: ")
    assert not knocked(listener)


# ------------------------------------------------------------ EstablishParams checks


_good_cidr = st.sampled_from(["10.16.0.0/16", "fd00:10::/64", "10.16.0.0/16,fd00:10::/64"])
_bad_cidr = st.sampled_from(["10.0.0.0/33", "fd00::/200", "nope", "10.0.0"])
_good_ip = st.sampled_from(["172.18.0.2", "fd00::2"])
_bad_ip = st.sampled_from(["172.18.0.256", "10.0.0.0/8", "x"])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.booleans(), st.data()), max_size=4),
    st.one_of(st.none(), st.integers(-5, 200)),
    st.booleans(),
    st.data(),
)
def test_establish_params_name_every_bad_entry(
    subnets: list[tuple[bool, Any]], ts_num: int | None, bad_join: bool, data: Any
) -> None:
    disabled = [d.draw(_bad_cidr if bad else _good_cidr) for bad, d in subnets]
    node_ips = data.draw(st.lists(_good_ip | _bad_ip, max_size=4))
    join = data.draw(_bad_cidr if bad_join else _good_cidr)
    params = EstablishParams(ts_num=ts_num, disabled_subnets=tuple(disabled),
                             join_subnet=join, node_ips=tuple(node_ips))
    problems = params.problems()
    expected = (
        [("--ts-num", str(ts_num))] if ts_num is not None and not 1 <= ts_num <= 156 else []
    )
    expected += [("--disabled-subnet", d) for bad, d in zip(
        [b for b, _ in subnets], disabled, strict=True) if bad]
    expected += [("--join-subnet", join)] if bad_join else []
    expected += [("--node-ip", ip) for ip in node_ips if ip in
                 ("172.18.0.256", "10.0.0.0/8", "x")]
    assert [(p.field, p.value) for p in problems] == expected
    if not problems:
        from ovsdb_ic.ic.databases import empty_snapshot
        from ovsdb_ic.kubeovn import REQUIREMENTS, IcConfig

        plan = params.plan(empty_snapshot(REQUIREMENTS), IcConfig.from_data(
            {**GOOD, "ic-db-host": "127.0.0.1"}))
        assert plan  # a fresh AZ has everything to do


def test_the_cli_and_the_library_share_one_definition_of_the_kubeovn_constants() -> None:
    import importlib

    from ovsdb_ic import constants
    from ovsdb_ic.cli import kubeovn as cli_kubeovn

    # The module (ovsdb_ic.kubeovn also exports a function named establish).
    establish = importlib.import_module("ovsdb_ic.kubeovn.establish")

    assert cli_kubeovn.DEFAULT_CLUSTER_ROUTER is establish.DEFAULT_CLUSTER_ROUTER
    assert establish.DEFAULT_CLUSTER_ROUTER is constants.DEFAULT_CLUSTER_ROUTER
    assert cli_kubeovn.MAX_TS_NUM is establish.MAX_TS_NUM is constants.MAX_TS_NUM


def test_building_the_parser_imports_no_library_layer() -> None:
    import subprocess
    import sys

    code = ("import sys; from ovsdb_ic.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith('ovsdb_ic.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "ovsdb_ic.kubeovn" not in out and "ovsdb_ic.sync" not in out, out


def test_each_command_is_built_by_the_group_the_cli_names_for_it() -> None:
    import argparse
    import importlib

    from ovsdb_ic import cli

    built: dict[str, str] = {}
    for group in cli._GROUPS:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"ovsdb_ic.cli.{group}").add_parsers(sub)
        built |= dict.fromkeys(sub.choices, group)
    assert built == cli._COMMANDS
    # Parsing a command line that starts with a command needs only that group, and
    # gives the same result as the whole parser.
    argv = ["sync", "--ovnnb-db=tcp:127.0.0.1:1", "--ovnsb-db=tcp:127.0.0.1:2",
            "--ic-nb-db=tcp:127.0.0.1:3", "--ic-sb-db=tcp:127.0.0.1:4", "--once"]
    assert vars(cli.build_parser("sync").parse_args(argv)) == vars(
        cli.build_parser().parse_args(argv))
    assert cli.sync is importlib.import_module("ovsdb_ic.cli.sync")
