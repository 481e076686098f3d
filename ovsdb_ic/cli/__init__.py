"""The ``ovsdb-ic`` command line.

One module per group of subcommands, each with an ``add_parsers(sub)``:

:mod:`ovsdb_ic.cli.demo`
    ``demo``: two Kube-OVN availability zones interconnected on loopback, end to end
    (docs/demo.md); ``--databases-only`` starts just the databases.
:mod:`ovsdb_ic.cli.client`
    ``dump --db=REMOTES DATABASE [TABLE...]`` (like ``ovsdb-client -f json dump``) and
    ``monitor --db=REMOTES DATABASE TABLE...`` (every change, one JSON object per line).
:mod:`ovsdb_ic.cli.sync`
    ``sync --ovnnb-db=R --ovnsb-db=R --ic-nb-db=R --ic-sb-db=R [--once] [--dry-run]``:
    the IC sync engine for one availability zone (a drop-in for ``ovn-ic``).
:mod:`ovsdb_ic.cli.kubeovn`
    ``establish``, ``teardown``, ``reset`` (Kube-OVN's workflow from an ``ovn-ic-config``),
    ``show`` (as ``ovn-ic-sbctl show``), ``routes`` (as ``ovn-nbctl lr-route-list``) and
    ``policies`` (as ``ovn-nbctl lr-policy-list``).
:mod:`ovsdb_ic.cli.icdb`
    ``icdb start|status|stop|clean``: the IC databases as Kube-OVN deploys them, a single
    node or one Raft member per ``--db-dir``.

Shared pieces (SSL options, log lines on stderr, one-line errors) are in
:mod:`ovsdb_ic.cli._common`. Building the parser imports no library layer, so every
command starts without paying for the ones it does not use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ovsdb_ic.cli import client, demo, icdb, kubeovn, sync
from ovsdb_ic.errors import OvsdbError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``ovsdb-ic`` command (one subparser per command)."""
    parser = argparse.ArgumentParser(
        prog="ovsdb-ic",
        description="Pure-Python OVSDB tools for OVN Interconnection.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in (demo, client, sync, kubeovn, icdb):
        group.add_parsers(sub)
    return parser


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
