"""The ``ovsdb-ic`` command line.

Subcommands:

``demo``
    Start a complete OVN-IC database set on loopback (IC-NB standalone, IC-SB as a
    3-member Raft cluster, NB and SB for two availability zones), print what runs where
    and which IC-SB member leads, then wait for Ctrl-C (or SIGTERM) and stop everything.
    ``--once`` prints and exits.

``dump --db=REMOTES DATABASE [TABLE...]``
    Print tables as JSON, like ``ovsdb-client -f json dump``.

``monitor --db=REMOTES DATABASE TABLE...``
    Print every change as one JSON object per line until stopped.

``sync --ovnnb-db=R --ovnsb-db=R --ic-nb-db=R --ic-sb-db=R [--once] [--dry-run]``
    Run the IC sync engine for one availability zone (a drop-in for ``ovn-ic``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from ovsdb_ic.errors import OvsdbError

if TYPE_CHECKING:
    from ovsdb_ic.testing import IcDeployment

__all__ = ["build_parser", "main"]

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``ovsdb-ic`` command (one subparser per command)."""
    parser = argparse.ArgumentParser(
        prog="ovsdb-ic",
        description="Pure-Python OVSDB tools for OVN Interconnection.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="run IC-NB, a 3-member IC-SB Raft cluster and two AZs' NB/SB on loopback",
        description=(
            "Start real ovsdb-server processes in a temporary directory: IC-NB "
            "(standalone), IC-SB (Raft cluster), and NB and SB for each availability "
            "zone. Print what runs where and which IC-SB member leads, then wait for "
            "Ctrl-C and stop everything."
        ),
    )
    demo.add_argument("--once", action="store_true", help="print the deployment, stop it and exit")
    demo.add_argument(
        "--azs",
        type=int,
        default=2,
        metavar="N",
        help="number of availability zones az1..azN (default: 2)",
    )
    demo.add_argument(
        "--ic-sb-size",
        type=int,
        default=3,
        metavar="N",
        help="number of IC-SB Raft cluster members (default: 3)",
    )
    demo.add_argument(
        "--dir",
        metavar="DIR",
        help="put databases, sockets and logs in DIR instead of a temporary directory",
    )
    demo.set_defaults(func=_cmd_demo)

    dump = sub.add_parser(
        "dump",
        help="print tables as JSON, like ovsdb-client -f json dump",
        description=(
            "Print the rows of TABLEs (default: all) of DATABASE, one JSON object per table "
            "({caption, data, headings}, as ovsdb-client -f json dump). Each remote of "
            "--db is tried once; if none works, one line per remote says why and the exit "
            "status is 1."
        ),
    )
    dump.add_argument("--db", required=True, metavar="REMOTES",
                      help="comma-separated remotes: tcp:HOST:PORT, tcp:[IPv6]:PORT, unix:PATH")
    dump.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                      help="give up on a remote after this long (default: 10)")
    dump.add_argument("database", metavar="DATABASE")
    dump.add_argument("tables", nargs="*", metavar="TABLE")
    dump.set_defaults(func=_cmd_dump)

    monitor = sub.add_parser(
        "monitor",
        help="print every change of TABLEs as one JSON object per line",
        description=(
            "Print the initial rows of each TABLE, then every insert, modify and delete, "
            "one JSON object per line, until stopped. Reconnects with backoff after "
            "failures (logged on stderr) and resumes from the last transaction."
        ),
    )
    monitor.add_argument("--db", required=True, metavar="REMOTES",
                         help="comma-separated remotes: tcp:HOST:PORT, tcp:[IPv6]:PORT, unix:PATH")
    monitor.add_argument("database", metavar="DATABASE")
    monitor.add_argument("tables", nargs="+", metavar="TABLE")
    monitor.set_defaults(func=_cmd_monitor)

    sync = sub.add_parser(
        "sync",
        help="run the IC sync engine for one availability zone (like ovn-ic)",
        description=(
            "Keep one availability zone's NB and SB in sync with IC-NB and IC-SB, as the "
            "ovn-ic daemon does: AZ registration, transit switches, gateways, port bindings "
            "and routes. Holds the ovn_ic lock on the SB database, so it never acts at the "
            "same time as ovn-ic or another sync for the same AZ. Runs until stopped."
        ),
    )
    remote_help = "comma-separated remotes: tcp:HOST:PORT, ssl:HOST:PORT, unix:PATH"
    sync.add_argument("--ovnnb-db", required=True, metavar="REMOTES", help="the AZ's NB; " +
                      remote_help)
    sync.add_argument("--ovnsb-db", required=True, metavar="REMOTES", help="the AZ's SB")
    sync.add_argument("--ic-nb-db", required=True, metavar="REMOTES", help="OVN_IC_Northbound")
    sync.add_argument("--ic-sb-db", required=True, metavar="REMOTES", help="OVN_IC_Southbound")
    sync.add_argument("--once", action="store_true",
                      help="sync until nothing is left to do, then exit 0")
    sync.add_argument("--dry-run", action="store_true",
                      help="print the planned operations instead of writing them")
    sync.add_argument("--private-key", metavar="FILE", help="for ssl: remotes")
    sync.add_argument("--certificate", metavar="FILE", help="for ssl: remotes")
    sync.add_argument("--ca-cert", metavar="FILE", help="for ssl: remotes")
    sync.set_defaults(func=_cmd_sync)
    return parser


def _cmd_sync(args: argparse.Namespace) -> int:
    import ssl

    import trio

    from ovsdb_ic.errors import ConfigError
    from ovsdb_ic.sync.runner import SyncConfig, run_sync

    context = None
    if args.private_key or args.certificate or args.ca_cert:
        if not (args.private_key and args.certificate and args.ca_cert):
            raise ConfigError("--private-key/--certificate/--ca-cert", None,
                              "ssl needs all three files")
        context = ssl.create_default_context(cafile=args.ca_cert)
        context.check_hostname = False
        context.load_cert_chain(args.certificate, args.private_key)
    config = SyncConfig(ovnnb_db=args.ovnnb_db, ovnsb_db=args.ovnsb_db, ic_nb_db=args.ic_nb_db,
                        ic_sb_db=args.ic_sb_db, ssl_context=context, dry_run=args.dry_run)

    def report(line: str) -> None:
        print(line, flush=True)

    if not args.dry_run:
        _log_client_to_stderr("sync")
    stats = trio.run(lambda: run_sync(config, once=args.once, report=report))
    if args.once and not args.dry_run:
        print(f"ovsdb-ic sync: {stats.passes} pass(es), {stats.commits} transaction(s), "
              f"{stats.ops} operation(s), {stats.conflicts} conflict(s)", file=sys.stderr)
    return 0


def _cmd_dump(args: argparse.Namespace) -> int:
    import json

    import trio

    from ovsdb_ic.client.commands import DumpError, dump

    try:
        tables = trio.run(lambda: dump(args.db, args.database, args.tables,
                                       attempt_seconds=args.timeout))
    except DumpError as exc:
        for line in exc.problems:
            print(f"ovsdb-ic dump: {line}", file=sys.stderr)
        return 1
    for t in tables:
        print(json.dumps(t, separators=(",", ":")))
    return 0


def _cmd_monitor(args: argparse.Namespace) -> int:
    import json

    import trio

    from ovsdb_ic.client.commands import DumpError, monitor_changes

    def emit(event: dict[str, Any]) -> None:
        print(json.dumps(event, separators=(",", ":")), flush=True)

    def log(message: str) -> None:
        print(f"ovsdb-ic monitor: {message}", file=sys.stderr, flush=True)

    _log_client_to_stderr("monitor")
    try:
        trio.run(lambda: monitor_changes(args.db, args.database, args.tables, emit, log=log))
    except DumpError as exc:
        for line in exc.problems:
            print(f"ovsdb-ic monitor: {line}", file=sys.stderr)
        return 1
    return 0


def _log_client_to_stderr(command: str) -> None:
    """Show the client's reconnect and failover messages on stderr, one line each."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"ovsdb-ic {command}: %(message)s"))
    logger = logging.getLogger("ovsdb_ic")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run the ``ovsdb-ic`` command with *argv* (default: ``sys.argv[1:]``); return its
    exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OvsdbError as exc:
        print(f"ovsdb-ic {args.command}: error: {exc}", file=sys.stderr)
        return 1


class _StopRequested(BaseException):
    """Raised by the signal handlers of ``demo`` (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _signals_raise_stop() -> Iterator[None]:
    """Make SIGINT and SIGTERM raise :class:`_StopRequested` while the block runs."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _StopRequested(signum)

    old: dict[int, _Handler] = {}
    for signum in (int(signal.SIGINT), int(signal.SIGTERM)):
        old[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, previous in old.items():
            signal.signal(signum, previous)


def _ignore_stop_signals() -> None:
    """Ignore SIGINT and SIGTERM (so a second Ctrl-C cannot interrupt the cleanup)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def _cmd_demo(args: argparse.Namespace) -> int:
    # Imported here: ovsdb_ic.testing may import anything, and only commands that need
    # real servers should pay for it.
    from ovsdb_ic.testing import IcDeployment, Sandbox

    if args.azs < 1 or args.ic_sb_size < 1:
        print("ovsdb-ic demo: --azs and --ic-sb-size must be at least 1", file=sys.stderr)
        return 2
    azs = [f"az{i}" for i in range(1, args.azs + 1)]
    status = 0
    started = False
    stopped_by: int | None = None
    sandbox: Sandbox | None = None
    with _signals_raise_stop():  # restores the previous handlers when leaving
        try:
            sandbox = Sandbox(args.dir)
            print(f"Starting OVN-IC databases in {sandbox.path} ...", flush=True)
            deployment = IcDeployment.start(sandbox, azs=azs, ic_sb_size=args.ic_sb_size)
            print(deployment.describe(), flush=True)
            started = True
            if not args.once:
                print("\nPress Ctrl-C to stop.", flush=True)
                status = _watch(deployment)
        except _StopRequested as stop:
            stopped_by = stop.signum
            # A stop requested after startup is the normal way to end the demo.
            status = 0 if started else 128 + stop.signum
        finally:
            _ignore_stop_signals()
            if stopped_by is not None:
                print(f"\n{signal.Signals(stopped_by).name} received, stopping ...", flush=True)
            if sandbox is not None:
                sandbox.close()
                if not args.once or stopped_by is not None:
                    print("All servers stopped.", flush=True)
    return status


def _watch(deployment: IcDeployment) -> int:
    """Sleep until a signal arrives, reporting servers that die on their own.

    An IC-SB member dying is part of the fun (the cluster elects a new leader, which is
    reported); the demo goes on while the cluster keeps a leader. A standalone server
    dying, or the IC-SB cluster losing its quorum, ends the demo with status 1.
    """
    from ovsdb_ic.errors import SandboxError

    members = deployment.ic_sb.members
    reported: set[str] = set()
    while True:
        time.sleep(0.5)
        dead = [s for s in deployment.servers() if not s.running and s.name not in reported]
        if not dead:
            continue
        for server in dead:
            reported.add(server.name)
            print(
                f"\n{server.name} (pid {server.pid}) exited with status {server.returncode}",
                flush=True,
            )
        if any(s not in members for s in dead):
            for server in dead:
                print(server.log_tail(10), file=sys.stderr, flush=True)
            return 1
        try:
            leader = deployment.ic_sb.wait_for_leader(timeout=10.0)
        except SandboxError:
            print("IC-SB has no leader any more (no quorum); stopping.", flush=True)
            return 1
        print(f"IC-SB leader is now {leader.name} (pid {leader.pid}).", flush=True)
