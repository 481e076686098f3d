"""What every ``ovsdb-ic`` command shares: SSL options, log lines on stderr, one-line errors.

Nothing here imports a library layer at module level: building the parser must stay cheap
(``ovsdb-ic --help`` and every command's start-up pay for it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ovsdb_ic.errors import OvsdbError

if TYPE_CHECKING:
    import ssl

__all__ = [
    "REMOTES_HELP",
    "add_ssl_options",
    "check_remotes",
    "client_log_to_stderr",
    "error_lines",
    "host_port",
    "run_trio",
    "say",
    "ssl_context",
    "usage",
]

REMOTES_HELP = "comma-separated remotes: tcp:HOST:PORT, ssl:HOST:PORT, unix:PATH"


def add_ssl_options(parser: argparse.ArgumentParser, *, extra: str = "") -> None:
    """Add ``--private-key``, ``--certificate`` and ``--ca-cert`` to *parser*."""
    parser.add_argument("--private-key", metavar="FILE",
                        help="for ssl: remotes (with --certificate and --ca-cert)" + extra)
    parser.add_argument("--certificate", metavar="FILE", help="for ssl: remotes")
    parser.add_argument("--ca-cert", metavar="FILE", help="for ssl: remotes")


def ssl_context(args: argparse.Namespace, problems: list[str]) -> ssl.SSLContext | None:
    """The client SSLContext of ``--private-key/--certificate/--ca-cert``, or None.

    None also when the options are incomplete or the files unusable; then one line per
    problem is added to *problems*.
    """
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


def check_remotes(pairs: list[tuple[str, str | None]], problems: list[str]) -> None:
    """Add a line to *problems* for each ``(option, remotes)`` that does not parse."""
    from ovsdb_ic.client import parse_remotes
    from ovsdb_ic.errors import ConfigError

    for option, value in pairs:
        if value is None:
            continue
        try:
            parse_remotes(value, field=option)
        except ConfigError as exc:
            problems.append(str(exc))


def host_port(option: str, text: str, problems: list[str]) -> tuple[str, int] | None:
    """``HOST:PORT`` (or ``[IPv6]:PORT``) as (host, port), or None after adding a line to
    *problems*."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        problems.append(f"{option}: {text!r} is not HOST:PORT")
        return None
    return host, int(port)


def say(command: str, line: str, *, error: bool = False) -> None:
    """Print ``ovsdb-ic COMMAND: [error: ]LINE`` on stderr."""
    prefix = f"ovsdb-ic {command}: " + ("error: " if error else "")
    print(prefix + line, file=sys.stderr, flush=True)


def usage(command: str, problems: list[str]) -> int:
    """Report command-line or configuration problems (one line each); exit status 2."""
    for line in problems:
        say(command, line, error=True)
    return 2


class _NoRepeats(logging.Filter):
    """Drop a record made from the same message template as the one shown just before
    (a retry loop says once that it is waiting, not once per round)."""

    def __init__(self) -> None:
        super().__init__()
        self._last: object = None

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        if key == self._last:
            return False
        self._last = key
        return True


@contextmanager
def startup_imports() -> Iterator[None]:
    """Around a long-running command's imports: the cyclic collector is off while the
    modules load (they allocate only objects that live as long as the process), and
    what they created is then moved to the oldest generation (``gc.freeze()`` then
    ``gc.unfreeze()``, two list splices), so young and middle collections never walk
    the modules, classes and functions again. Measured on the sync engine: 10 to 30 ms
    of collections during its start, and shorter ones after.

    They are moved, not kept frozen: the replicas' pauses of the collector
    (``ovsdb_ic.replica.gc_paused``) promote what they built the same way only when
    nothing is frozen, and with the imports frozen every big build was walked by the
    young and middle collections that followed it (at 1,000 routes per AZ, about 5 ms
    of a cold start's CPU; ``gc.get_freeze_count()`` also walks the frozen objects one
    by one, 2.3 ms at each big commit). Full collections, which are rare, walk them."""
    import gc

    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()


@contextmanager
def client_log_to_stderr(
    command: str, level: int = logging.INFO, *, no_repeats: bool = False
) -> Iterator[None]:
    """Show the library's log messages of *level* and above (reconnects, failovers) on
    stderr, one line each, while the block runs; with *no_repeats*, a message repeated
    by a retry loop is shown once until a different one comes."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    if no_repeats:
        handler.addFilter(_NoRepeats())
    handler.setFormatter(logging.Formatter(f"ovsdb-ic {command}: %(message)s"))
    logger = logging.getLogger("ovsdb_ic")
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def error_lines(exc: BaseException) -> list[str] | None:
    """One line per problem of a failure, or None when it is not ours to report."""
    from ovsdb_ic.sync.session import UnreachableError

    if isinstance(exc, UnreachableError):
        return list(exc.problems)
    if isinstance(exc, BaseExceptionGroup):
        lines: list[str] = []
        for inner in exc.exceptions:
            got = error_lines(inner)
            if got is None:
                return None
            lines += got
        return lines
    if isinstance(exc, OvsdbError | OSError):
        text = str(exc).strip() or type(exc).__name__
        return [line.strip() for line in text.splitlines() if line.strip()]
    return None


def run_trio(command: str, job: Callable[[], Any]) -> tuple[int, Any]:
    """Run ``job`` (an async function) under trio with the library's warnings on stderr;
    (0, result), or (1, None) after reporting a failure one line per problem."""
    import trio

    with client_log_to_stderr(command, logging.WARNING):
        try:
            return 0, trio.run(job)
        except BaseException as exc:  # ours are reported below, anything else re-raised
            lines = error_lines(exc)
            if lines is None:
                raise
            for line in lines:
                say(command, line, error=True)
            return 1, None
