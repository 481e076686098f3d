"""``ovsdb-ic demo``: two Kube-OVN availability zones interconnected on loopback."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ovsdb_ic.testing import IcDeployment

__all__ = ["add_parsers"]

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def add_parsers(sub: Any) -> None:
    """Add the ``demo`` subcommand to *sub*."""
    demo = sub.add_parser(
        "demo",
        help="interconnect two Kube-OVN availability zones on loopback, end to end",
        description=(
            "Start real servers in a temporary directory (IC-NB, IC-SB as a 3-member Raft "
            "cluster, NB, SB and ovn-northd per availability zone), establish "
            "interconnection from two ovn-ic-config documents with three ECMP transit "
            "switches, run a sync engine per AZ, add pod subnets, print the show view and "
            "each AZ's learned routes, kill the IC-SB leader while syncing, withdraw a "
            "subnet marked disableInterConnection, and stop everything. Where the host "
            "can run it (root, the userspace datapath), each AZ's gateway is a real chassis "
            "and Pods ping across the AZs, also while the IC-SB leader is killed. With "
            "--keep-running: leave that end state running, print every remote and wait for "
            "Ctrl-C. With --databases-only: start only the databases, print what runs "
            "where and wait for Ctrl-C."
        ),
    )
    demo.add_argument("--keep-running", action="store_true",
                      help="after the scenario, keep everything running (AZs established, "
                           "engines syncing, ovn-northd up), print every remote and wait "
                           "for Ctrl-C")
    demo.add_argument("--databases-only", action="store_true",
                      help="only start the databases and wait for Ctrl-C (see --once)")
    demo.add_argument("--no-dataplane", action="store_true",
                      help="skip the dataplane part (chassis in network namespaces, Pods "
                           "that ping), which runs by default where the host allows it")
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
        "--metrics-address",
        metavar="HOST:PORT",
        help="serve az1's sync engine metrics there while the demo runs",
    )
    demo.add_argument(
        "--dir",
        metavar="DIR",
        help="put databases, sockets and logs in DIR instead of a temporary directory",
    )
    demo.set_defaults(func=_cmd_demo)


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
    if args.keep_running and args.databases_only:
        print("ovsdb-ic demo: --keep-running and --databases-only exclude each other",
              file=sys.stderr)
        return 2
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

    from ovsdb_ic.cli._common import host_port, usage
    from ovsdb_ic.demo import run_demo

    problems: list[str] = []
    address = (None if args.metrics_address is None
               else host_port("--metrics-address", args.metrics_address, problems))
    if problems:
        return usage(args.command, problems)

    def out(line: str) -> None:
        print(line, flush=True)

    try:
        trio.run(lambda: run_demo(out, directory=args.dir,
                                  dataplane=not args.no_dataplane,
                                  metrics_address=address,
                                  keep_running=args.keep_running))
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
