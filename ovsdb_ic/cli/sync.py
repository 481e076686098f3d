"""``ovsdb-ic sync``: the IC sync engine for one availability zone, a drop-in for ``ovn-ic``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ovsdb_ic.cli._common import (
    REMOTES_HELP,
    add_ssl_options,
    check_remotes,
    client_log_to_stderr,
    ssl_context,
    usage,
)

__all__ = ["add_parsers"]


def add_parsers(sub: Any) -> None:
    """Add the ``sync`` subcommand to *sub*."""
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
    sync.add_argument("--ovnnb-db", required=True, metavar="REMOTES",
                      help="the AZ's NB; " + REMOTES_HELP)
    sync.add_argument("--ovnsb-db", required=True, metavar="REMOTES", help="the AZ's SB")
    sync.add_argument("--ic-nb-db", required=True, metavar="REMOTES", help="OVN_IC_Northbound")
    sync.add_argument("--ic-sb-db", required=True, metavar="REMOTES", help="OVN_IC_Southbound")
    sync.add_argument("--once", action="store_true",
                      help="sync until nothing is left to do, then exit 0")
    sync.add_argument("--dry-run", action="store_true",
                      help="print the planned operations instead of writing them")
    add_ssl_options(sync)
    sync.set_defaults(func=_cmd_sync)


def _cmd_sync(args: argparse.Namespace) -> int:
    import trio

    from ovsdb_ic.sync.runner import SyncConfig, run_sync

    problems: list[str] = []
    context = ssl_context(args, problems)
    check_remotes([("--ovnnb-db", args.ovnnb_db), ("--ovnsb-db", args.ovnsb_db),
                   ("--ic-nb-db", args.ic_nb_db), ("--ic-sb-db", args.ic_sb_db)], problems)
    if problems:
        return usage(args.command, problems)
    config = SyncConfig(ovnnb_db=args.ovnnb_db, ovnsb_db=args.ovnsb_db, ic_nb_db=args.ic_nb_db,
                        ic_sb_db=args.ic_sb_db, ssl_context=context, dry_run=args.dry_run)

    def report(line: str) -> None:
        print(line, flush=True)

    if args.dry_run:
        stats = trio.run(lambda: run_sync(config, once=args.once, report=report))
    else:
        with client_log_to_stderr("sync"):
            stats = trio.run(lambda: run_sync(config, once=args.once, report=report))
    if args.once and not args.dry_run:
        print(f"ovsdb-ic sync: {stats.passes} pass(es), {stats.commits} transaction(s), "
              f"{stats.ops} operation(s), {stats.conflicts} conflict(s)", file=sys.stderr)
    return 0
