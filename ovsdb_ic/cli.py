"""The ``ovsdb-ic`` command line.

Subcommands:

``demo``
    Interconnect two Kube-OVN availability zones on loopback, end to end (see
    docs/demo.md). ``--databases-only`` starts just the databases (IC-NB, a 3-member
    IC-SB Raft cluster, NB and SB per AZ), prints what runs where and waits for Ctrl-C;
    with ``--once`` it prints and exits.

``dump --db=REMOTES DATABASE [TABLE...]``
    Print tables as JSON, like ``ovsdb-client -f json dump``.

``monitor --db=REMOTES DATABASE TABLE...``
    Print every change as one JSON object per line until stopped.

``sync --ovnnb-db=R --ovnsb-db=R --ic-nb-db=R --ic-sb-db=R [--once] [--dry-run]``
    Run the IC sync engine for one availability zone (a drop-in for ``ovn-ic``).

``establish``, ``teardown``, ``reset`` ``--config FILE --ovnnb-db=R --ovnsb-db=R``
    Kube-OVN's interconnection workflow from an ``ovn-ic-config`` document.

``show --ic-sb-db=R [AZ]``
    The IC-SB view, as ``ovn-ic-sbctl show``.

``routes --ovnnb-db=R ROUTER``
    A router's routes, learned ones marked, as ``ovn-nbctl lr-route-list``.
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
        help="interconnect two Kube-OVN availability zones on loopback, end to end",
        description=(
            "Start real servers in a temporary directory (IC-NB, IC-SB as a 3-member Raft "
            "cluster, NB, SB and ovn-northd per availability zone), establish "
            "interconnection from two ovn-ic-config documents with three ECMP transit "
            "switches, run a sync engine per AZ, add pod subnets, print the show view and "
            "each AZ's learned routes, kill the IC-SB leader while syncing, withdraw a "
            "subnet marked disableInterConnection, and stop everything. With "
            "--databases-only: start only the databases, print what runs where and wait "
            "for Ctrl-C."
        ),
    )
    demo.add_argument("--databases-only", action="store_true",
                      help="only start the databases and wait for Ctrl-C (see --once)")
    demo.add_argument("--once", action="store_true",
                      help="with --databases-only: print the deployment, stop it and exit")
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
    _add_kubeovn_parsers(sub)
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
    if not args.databases_only:
        return _cmd_demo_scenario(args)
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


def _cmd_demo_scenario(args: argparse.Namespace) -> int:
    import trio

    from ovsdb_ic.testing.demo import run_demo

    def out(line: str) -> None:
        print(line, flush=True)

    try:
        trio.run(lambda: run_demo(out, directory=args.dir))
    except BaseExceptionGroup as group:
        # Ctrl-C lands in whichever task runs; everything has been stopped by then.
        if group.subgroup(KeyboardInterrupt) is None:
            raise
        print("interrupted; every process stopped", file=sys.stderr)
        return 130
    except trio.TooSlowError:
        print("ovsdb-ic demo: a step did not happen in time; see the logs above",
              file=sys.stderr)
        return 1
    return 0


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


# ----------------------------------------------------------------- Kube-OVN commands

_KUBE_REMOTES = "comma-separated remotes: tcp:HOST:PORT, ssl:HOST:PORT, unix:PATH"
_KUBE_EXIT = (
    "Exit status: 0 on success, 1 when a database cannot be reached or a change cannot "
    "be made, 2 for a bad command line or configuration (reported before connecting "
    "to anything). Progress and warnings go to stderr."
)


_KUBE_DEFAULT_CLUSTER_ROUTER = "ovn-cluster"
_KUBE_MAX_TS_NUM = 156


def _add_kubeovn_parsers(sub: Any) -> None:
    """Add the Kube-OVN subcommands: establish, teardown, reset, show, routes."""
    # Literal copies of ovsdb_ic.kubeovn.establish's constants (a test keeps them equal):
    # importing that package here would cost every command, `sync` included, ~0.1 s.
    DEFAULT_CLUSTER_ROUTER = _KUBE_DEFAULT_CLUSTER_ROUTER
    MAX_TS_NUM = _KUBE_MAX_TS_NUM

    def connection(p: argparse.ArgumentParser, *, az: bool) -> None:
        if az:
            p.add_argument("--config", required=True, metavar="FILE",
                           help="the ovn-ic-config ConfigMap (YAML or JSON, or just its data "
                                "keys); its ic-db-host and ports name the IC databases")
            p.add_argument("--ovnnb-db", required=True, metavar="REMOTES",
                           help="the AZ's OVN_Northbound; " + _KUBE_REMOTES)
            p.add_argument("--ovnsb-db", required=True, metavar="REMOTES",
                           help="the AZ's OVN_Southbound")
            p.add_argument("--ic-nb-db", metavar="REMOTES",
                           help="OVN_IC_Northbound, instead of the config's ic-db-host and "
                                "ic-nb-port")
            p.add_argument("--ic-sb-db", metavar="REMOTES",
                           help="OVN_IC_Southbound, instead of the config's ic-db-host and "
                                "ic-sb-port")
        p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="give up connecting to and copying a database after this long "
                            "(default: 30)")
        p.add_argument("--private-key", metavar="FILE",
                       help="for ssl: remotes (with --certificate and --ca-cert; the IC "
                            "remotes made from the config then use ssl:)")
        p.add_argument("--certificate", metavar="FILE", help="for ssl: remotes")
        p.add_argument("--ca-cert", metavar="FILE", help="for ssl: remotes")

    def establish_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--ts-num", type=int, metavar="N",
                       help=f"create and attach to the transit switches ts, ts1 .. ts<N-1> "
                            f"(1 to {MAX_TS_NUM}); default: attach to the Kube-OVN transit "
                            "switches IC-NB has, creating ts when there is none")
        p.add_argument("--cluster-router", default=DEFAULT_CLUSTER_ROUTER, metavar="NAME",
                       help=f"the router the transit switch ports go on (default: "
                            f"{DEFAULT_CLUSTER_ROUTER}; created when missing)")
        p.add_argument("--protocol", default="Dual", choices=("IPv4", "IPv6", "Dual"),
                       help="address families of new transit switch subnets (default: Dual)")
        p.add_argument("--disabled-subnet", action="append", default=[], metavar="CIDR",
                       help="a subnet marked disableInterConnection (repeat for each); "
                            "never advertised with auto-route")
        p.add_argument("--join-subnet", metavar="CIDR",
                       help="the join subnet (never advertised with auto-route)")
        p.add_argument("--node-ip", action="append", default=[], metavar="IP",
                       help="a node's internal IP (repeat for each; never advertised)")

    establish = sub.add_parser(
        "establish",
        help="establish Kube-OVN interconnection for one AZ from its ovn-ic-config",
        description=(
            "Do what Kube-OVN's controller does for an ovn-ic-config: name the AZ, create "
            "the transit switches ts, ts1, ... in IC-NB when missing, attach the cluster "
            "router to each (ports <ts>-<az> and <az>-<ts> with a free address and gateway "
            "chassis rotated over gw-nodes for ECMP), and set or clear the auto-route "
            "options. Commits until nothing is left to do; running it again commits "
            "nothing. " + _KUBE_EXIT
        ),
    )
    connection(establish, az=True)
    establish_options(establish)
    establish.add_argument("--dry-run", action="store_true",
                           help="print the planned operations instead of writing them")
    establish.set_defaults(func=_cmd_establish)

    teardown = sub.add_parser(
        "teardown",
        help="remove one AZ's Kube-OVN interconnection (nothing of another AZ)",
        description=(
            "Undo establish, as Kube-OVN does when ovn-ic-config is deleted or enable-ic "
            "is false: remove the auto-route options, the AZ's transit switch ports, the "
            "local transit switches and every learned route from NB, the AZ's "
            "Port_Binding, Gateway, Route and Availability_Zone rows from IC-SB, and the "
            "remote gateway chassis from SB. IC-NB and other AZs' rows are not touched. "
            "Stop the AZ's sync engine (ovn-ic or ovsdb-ic sync) first: a warning says "
            "when it holds the ovn_ic lock. " + _KUBE_EXIT
        ),
    )
    connection(teardown, az=True)
    teardown.add_argument("--clear-az-name", action="store_true",
                          help="also clear NB_Global.name (Kube-OVN keeps it)")
    teardown.add_argument("--keep-remote-chassis", action="store_true",
                          help="leave the SB chassis made for other AZs' gateways")
    teardown.add_argument("--dry-run", action="store_true",
                          help="print the planned operations instead of writing them")
    teardown.set_defaults(func=_cmd_teardown)

    reset = sub.add_parser(
        "reset",
        help="teardown then establish (what a change of ovn-ic-config does)",
        description=(
            "Kube-OVN treats ovn-ic-config as immutable: a change is a full teardown "
            "and a fresh establish. This does both over one set of connections: the "
            "teardown of --previous-config's AZ (default: --config's), then the "
            "establish of --config. " + _KUBE_EXIT
        ),
    )
    connection(reset, az=True)
    reset.add_argument("--previous-config", metavar="FILE",
                       help="the ovn-ic-config in force until now (its AZ is torn down)")
    establish_options(reset)
    reset.set_defaults(func=_cmd_reset)

    show = sub.add_parser(
        "show",
        help="print the IC-SB view, like ovn-ic-sbctl show",
        description=(
            "Print availability zones, their gateways with encapsulations and the port "
            "bindings bound to each gateway, exactly as ovn-ic-sbctl show [AZ] does. "
            "An unknown AZ prints nothing. " + _KUBE_EXIT
        ),
    )
    show.add_argument("--ic-sb-db", metavar="REMOTES",
                      help="OVN_IC_Southbound; " + _KUBE_REMOTES)
    show.add_argument("--ic-nb-db", metavar="REMOTES", help="OVN_IC_Northbound (optional)")
    show.add_argument("--config", metavar="FILE",
                      help="take the IC database remotes from this ovn-ic-config instead")
    connection(show, az=False)
    show.add_argument("az", nargs="?", metavar="AZ", help="only this AZ (name or UUID)")
    show.set_defaults(func=_cmd_show)

    routes = sub.add_parser(
        "routes",
        help="print a router's static routes, like ovn-nbctl lr-route-list",
        description=(
            "Print ROUTER's static routes exactly as ovn-nbctl lr-route-list does: IPv4 "
            "Routes then IPv6 Routes, grouped by route table, longest prefix first; "
            "each line has the prefix, the nexthop, the policy, the output port, "
            "'(learned)' for a route learned from another AZ through IC, 'ecmp' when "
            "several routes share the prefix, and 'ecmp-symmetric-reply' and 'bfd' "
            "when set. " + _KUBE_EXIT
        ),
    )
    routes.add_argument("--ovnnb-db", required=True, metavar="REMOTES",
                        help="OVN_Northbound; " + _KUBE_REMOTES)
    routes.add_argument("--route-table", metavar="TABLE",
                        help="only the routes of this route table ('' for the main one)")
    connection(routes, az=False)
    routes.add_argument("router", metavar="ROUTER", help="the router's name or UUID")
    routes.set_defaults(func=_cmd_routes)


def _kube_say(command: str, line: str, *, error: bool = False) -> None:
    prefix = f"ovsdb-ic {command}: " + ("error: " if error else "")
    print(prefix + line, file=sys.stderr, flush=True)


def _kube_usage(command: str, problems: list[str]) -> int:
    """Report command-line or configuration problems (one line each); exit status 2."""
    for line in problems:
        _kube_say(command, line, error=True)
    return 2


def _kube_config(path: str, problems: list[str]) -> Any:
    """The IcConfig in ``path``, or None after adding one line per problem."""
    from ovsdb_ic.kubeovn.config import IcConfig, IcConfigError

    try:
        return IcConfig.from_file(path)
    except IcConfigError as exc:
        problems.extend(f"{path}: {p}" for p in exc.problems)
        return None


def _kube_check_remotes(pairs: list[tuple[str, str | None]], problems: list[str]) -> None:
    from ovsdb_ic.client import parse_remotes
    from ovsdb_ic.errors import ConfigError

    for option, value in pairs:
        if value is None:
            continue
        try:
            parse_remotes(value, field=option)
        except ConfigError as exc:
            problems.append(str(exc))


def _kube_ssl(args: argparse.Namespace, problems: list[str]) -> Any:
    """An SSLContext from --private-key/--certificate/--ca-cert, or None."""
    import ssl

    files = (args.private_key, args.certificate, args.ca_cert)
    if not any(files):
        return None
    if not all(files):
        problems.append("--private-key, --certificate and --ca-cert: ssl needs all three")
        return None
    try:
        context = ssl.create_default_context(cafile=args.ca_cert)
        context.check_hostname = False
        context.load_cert_chain(args.certificate, args.private_key)
    except (OSError, ssl.SSLError) as exc:
        problems.append(f"ssl files: {exc}")
        return None
    return context


def _kube_params(args: argparse.Namespace, problems: list[str]) -> Any:
    from ovsdb_ic.kubeovn.commands import EstablishParams

    params = EstablishParams(
        ts_num=args.ts_num, cluster_router=args.cluster_router, protocol=args.protocol,
        disabled_subnets=tuple(args.disabled_subnet), join_subnet=args.join_subnet,
        node_ips=tuple(args.node_ip),
    )
    problems.extend(str(p) for p in params.problems())
    return params


def _kube_az_setup(args: argparse.Namespace, problems: list[str]) -> tuple[Any, Any, Any]:
    """Config, AzRemotes and SSL context of an AZ command (None where a problem was found)."""
    from ovsdb_ic.kubeovn.commands import AzRemotes

    config = _kube_config(args.config, problems)
    context = _kube_ssl(args, problems)
    _kube_check_remotes([("--ovnnb-db", args.ovnnb_db), ("--ovnsb-db", args.ovnsb_db),
                         ("--ic-nb-db", args.ic_nb_db), ("--ic-sb-db", args.ic_sb_db)],
                        problems)
    remotes = None
    if config is not None and not problems:
        remotes = AzRemotes.from_config(
            config, ovnnb_db=args.ovnnb_db, ovnsb_db=args.ovnsb_db, ic_nb_db=args.ic_nb_db,
            ic_sb_db=args.ic_sb_db, scheme="ssl" if context is not None else "tcp",
        )
    return config, remotes, context


def _kube_options(args: argparse.Namespace, context: Any, *, dry_run: bool = False) -> Any:
    from ovsdb_ic.kubeovn.commands import RunOptions

    command = args.command

    def report(line: str) -> None:
        print(line, flush=True)

    def progress(line: str) -> None:
        _kube_say(command, line)

    return RunOptions(ssl_context=context, connect_timeout=args.timeout, report=report,
                      progress=progress, dry_run=dry_run)


def _kube_error_lines(exc: BaseException) -> list[str] | None:
    """One line per problem of a failure, or None when it is not ours to report."""
    from ovsdb_ic.kubeovn.commands import UnreachableError

    if isinstance(exc, UnreachableError):
        return list(exc.problems)
    if isinstance(exc, BaseExceptionGroup):
        lines: list[str] = []
        for inner in exc.exceptions:
            got = _kube_error_lines(inner)
            if got is None:
                return None
            lines += got
        return lines
    if isinstance(exc, OvsdbError | OSError):
        text = str(exc).strip() or type(exc).__name__
        return [line.strip() for line in text.splitlines() if line.strip()]
    return None


def _kube_run(command: str, job: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``job`` (an async function) under trio with client warnings on stderr;
    (0, result), or (1, None) after reporting a failure one line per problem."""
    import logging

    import trio

    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(f"ovsdb-ic {command}: %(message)s"))
    logger = logging.getLogger("ovsdb_ic")
    logger.addHandler(handler)
    try:
        return 0, trio.run(job)
    except BaseException as exc:  # ours are reported below, anything else re-raised
        lines = _kube_error_lines(exc)
        if lines is None:
            raise
        for line in lines:
            _kube_say(command, line, error=True)
        return 1, None
    finally:
        logger.removeHandler(handler)


def _kube_summary(verb: str, az: str, result: Any, nothing: str) -> None:
    if result.dry_run:
        count = len(result.planned)
        print(f"{verb} {az}: dry run, {count} operation(s) planned, nothing written"
              if count else f"{verb} {az}: dry run, {nothing}", flush=True)
    elif result.changed:
        print(f"{verb} {az}: {result.operations} operation(s) in {result.transactions} "
              f"transaction(s)", flush=True)
    else:
        print(f"{verb} {az}: {nothing}, nothing committed", flush=True)


def _cmd_establish(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import establish

    problems: list[str] = []
    config, remotes, context = _kube_az_setup(args, problems)
    params = _kube_params(args, problems)
    if config is not None and not config.enable_ic:
        problems.append(f"{args.config}: enable-ic: interconnection is disabled (\"false\"); "
                        "use teardown")
    if args.timeout <= 0:
        problems.append("--timeout: must be positive")
    if problems:
        return _kube_usage(args.command, problems)
    options = _kube_options(args, context, dry_run=args.dry_run)
    status, result = _kube_run(args.command,
                               lambda: establish(remotes, config, params, options=options))
    if status == 0:
        _kube_summary("established", config.az_name, result, "already established")
    return status


def _cmd_teardown(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import teardown

    problems: list[str] = []
    config, remotes, context = _kube_az_setup(args, problems)
    if args.timeout <= 0:
        problems.append("--timeout: must be positive")
    if problems:
        return _kube_usage(args.command, problems)
    options = _kube_options(args, context, dry_run=args.dry_run)
    status, result = _kube_run(args.command, lambda: teardown(
        remotes, config, clear_az_name=args.clear_az_name,
        remove_remote_chassis=not args.keep_remote_chassis, options=options))
    if status == 0:
        _kube_summary("tore down", config.az_name, result, "nothing to tear down")
    return status


def _cmd_reset(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import reset

    problems: list[str] = []
    config, remotes, context = _kube_az_setup(args, problems)
    previous = None
    if args.previous_config is not None:
        previous = _kube_config(args.previous_config, problems)
    params = _kube_params(args, problems)
    if config is not None and not config.enable_ic:
        problems.append(f"{args.config}: enable-ic: interconnection is disabled (\"false\"); "
                        "use teardown")
    if args.timeout <= 0:
        problems.append("--timeout: must be positive")
    if problems:
        return _kube_usage(args.command, problems)
    options = _kube_options(args, context)
    status, result = _kube_run(args.command, lambda: reset(
        remotes, config, params, previous=previous, options=options))
    if status == 0:
        down, up = result
        old = config.az_name if previous is None else previous.az_name
        _kube_summary("tore down", old, down, "nothing to tear down")
        _kube_summary("established", config.az_name, up, "already established")
    return status


def _cmd_show(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import show

    problems: list[str] = []
    context = _kube_ssl(args, problems)
    ic_sb, ic_nb = args.ic_sb_db, args.ic_nb_db
    if args.config is not None:
        config = _kube_config(args.config, problems)
        if config is not None:
            scheme = "ssl" if context is not None else "tcp"
            ic_sb = ic_sb or config.ic_sb_remotes(scheme)
    elif ic_sb is None:
        problems.append("--ic-sb-db (or --config) is required")
    _kube_check_remotes([("--ic-sb-db", args.ic_sb_db), ("--ic-nb-db", args.ic_nb_db)],
                        problems)
    if args.timeout <= 0:
        problems.append("--timeout: must be positive")
    if problems:
        return _kube_usage(args.command, problems)
    options = _kube_options(args, context)
    status, text = _kube_run(args.command,
                             lambda: show(ic_sb, args.az, ic_nb_db=ic_nb, options=options))
    if status == 0:
        sys.stdout.write(text)
        sys.stdout.flush()
    return status


def _cmd_routes(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import route_list

    problems: list[str] = []
    context = _kube_ssl(args, problems)
    _kube_check_remotes([("--ovnnb-db", args.ovnnb_db)], problems)
    if args.timeout <= 0:
        problems.append("--timeout: must be positive")
    if problems:
        return _kube_usage(args.command, problems)
    options = _kube_options(args, context)
    status, text = _kube_run(args.command, lambda: route_list(
        args.ovnnb_db, args.router, route_table=args.route_table, options=options))
    if status == 0:
        sys.stdout.write(text)
        sys.stdout.flush()
    return status
