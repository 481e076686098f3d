"""``ovsdb-ic dump`` and ``ovsdb-ic monitor``: the client's read commands."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ovsdb_ic.cli._common import add_ssl_options, client_log_to_stderr, say, ssl_context, usage

__all__ = ["add_parsers"]

_DB_HELP = ("comma-separated remotes: tcp:HOST:PORT, tcp:[IPv6]:PORT, ssl:HOST:PORT "
            "(with the ssl options), unix:PATH")


def add_parsers(sub: Any) -> None:
    """Add the ``dump`` and ``monitor`` subcommands to *sub*."""
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
    dump.add_argument("--db", required=True, metavar="REMOTES", help=_DB_HELP)
    dump.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                      help="give up on a remote after this long (default: 10)")
    add_ssl_options(dump)
    dump.add_argument("database", metavar="DATABASE")
    dump.add_argument("tables", nargs="*", metavar="TABLE")
    dump.set_defaults(func=_cmd_dump)

    monitor = sub.add_parser(
        "monitor",
        help="print every change of TABLEs as one JSON object per line",
        description=(
            "Print the initial rows of each TABLE, then every insert, modify and delete, "
            "one JSON object per line, until stopped. Reconnects with backoff after "
            "failures and resumes from the last transaction; says once on stderr why it "
            "is waiting (no leader, refused...), and exits 1 after --retry-for seconds "
            "without a working connection."
        ),
    )
    monitor.add_argument("--db", required=True, metavar="REMOTES", help=_DB_HELP)
    monitor.add_argument("--retry-for", type=float, default=60.0, metavar="SECONDS",
                         help="give up after this long without a working connection "
                              "(default: 60; 0: retry forever)")
    add_ssl_options(monitor)
    monitor.add_argument("database", metavar="DATABASE")
    monitor.add_argument("tables", nargs="+", metavar="TABLE")
    monitor.set_defaults(func=_cmd_monitor)


def _cmd_dump(args: argparse.Namespace) -> int:
    import trio

    from ovsdb_ic.client.commands import DumpError, dump_lines

    problems: list[str] = []
    context = ssl_context(args, problems)
    if problems:
        return usage("dump", problems)
    try:
        lines = trio.run(lambda: dump_lines(args.db, args.database, args.tables,
                                            attempt_seconds=args.timeout, ssl_context=context))
    except DumpError as exc:
        for line in exc.problems:
            say("dump", line)
        return 1
    sys.stdout.flush()
    for table_line in lines:
        sys.stdout.buffer.write(table_line)
    sys.stdout.buffer.flush()
    return 0


def _cmd_monitor(args: argparse.Namespace) -> int:
    import orjson
    import trio

    from ovsdb_ic.client.commands import DumpError, monitor_changes

    out = sys.stdout.buffer

    def emit(event: dict[str, Any]) -> None:
        out.write(orjson.dumps(event) + b"\n")

    def log(message: str) -> None:
        say("monitor", message)

    problems: list[str] = []
    context = ssl_context(args, problems)
    if args.retry_for < 0:
        problems.append(f"--retry-for: must not be negative (got {args.retry_for:g})")
    if problems:
        return usage("monitor", problems)
    give_up = args.retry_for or None
    with client_log_to_stderr("monitor", no_repeats=True):
        try:
            trio.run(lambda: monitor_changes(args.db, args.database, args.tables, emit,
                                             log=log, give_up_after=give_up,
                                             ssl_context=context, flush=out.flush,
                                             write=out.write))
        except DumpError as exc:
            for line in exc.problems:
                say("monitor", line)
            return 1
    return 0
