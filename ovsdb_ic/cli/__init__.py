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
command starts without paying for the ones it does not use; and a command line that
starts with a command's name builds (and imports) only that command's group.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ovsdb_ic._lazy import lazy_attributes
from ovsdb_ic.cli._common import say
from ovsdb_ic.errors import OvsdbError

if TYPE_CHECKING:
    from ovsdb_ic.cli import client, demo, icdb, kubeovn, sync  # noqa: F401

__all__ = ["build_parser", "main", "version"]

# The modules of the groups of subcommands, in the order ``--help`` lists them.
_GROUPS: Final = ("demo", "client", "sync", "kubeovn", "icdb")
# Which group adds each command (tests/unit/test_cli_errors.py checks it against the
# parsers the groups build).
_COMMANDS: Final[dict[str, str]] = {
    "demo": "demo",
    "dump": "client",
    "monitor": "client",
    "sync": "sync",
    "establish": "kubeovn",
    "teardown": "kubeovn",
    "reset": "kubeovn",
    "show": "kubeovn",
    "routes": "kubeovn",
    "policies": "kubeovn",
    "icdb": "icdb",
}


# The group modules (``ovsdb_ic.cli.sync``, ...) are imported on first use.
__getattr__, __dir__ = lazy_attributes(
    __name__, {group: f"{__name__}.{group}" for group in _GROUPS}, globals())


def version() -> str:
    """The installed distribution's version (``ovsdb_ic.__version__``)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("ovsdb-ic")
    except PackageNotFoundError:  # run from a source tree that was never installed
        import importlib

        return str(importlib.import_module("ovsdb_ic").__version__)


class _VersionAction(argparse.Action):
    """``--version``: print ``ovsdb-ic VERSION`` and exit (looked up only when asked)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"ovsdb-ic {version()}")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser of the ``ovsdb-ic`` command (one subparser per command).

    With *command* the name of a command, only the subparsers of its group are added:
    what parsing a command line that starts with that name needs (its help, errors and
    usage lines are the same), without importing or building the other groups.
    """
    parser = argparse.ArgumentParser(
        prog="ovsdb-ic",
        description="Pure-Python OVSDB tools for OVN Interconnection.",
    )
    parser.add_argument("--version", action=_VersionAction,
                        help="print the version of ovsdb-ic and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    group = _COMMANDS.get(command) if command is not None else None
    for name in _GROUPS if group is None else (group,):
        importlib.import_module(f"{__name__}.{name}").add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``ovsdb-ic`` command with *argv* (default: ``sys.argv[1:]``); return its
    exit status."""
    if argv is None:
        argv = sys.argv[1:]
    # The first argument names the command when it is one (the top-level parser has no
    # option that takes a value): only that command's group is needed to parse the rest.
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``ovsdb-ic monitor ... | head``): stop quietly, as
        # other tools do, and keep Python from complaining again when it flushes
        # stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a killed writer
    except OvsdbError as exc:
        say(args.command, str(exc), error=True)
        return 1
