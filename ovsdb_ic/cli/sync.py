"""``ovsdb-ic sync``: the IC sync engine for one availability zone, a drop-in for ``ovn-ic``."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ovsdb_ic.cli._common import (
    REMOTES_HELP,
    add_ssl_options,
    check_remotes,
    client_log_to_stderr,
    host_port,
    say,
    ssl_context,
    startup_imports,
    usage,
)

if TYPE_CHECKING:
    from ovsdb_ic.sync.runner import SyncEngine

__all__ = ["add_parsers", "collector_paused_until_settled"]


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
    sync.add_argument("--kubeovn-policies", nargs="?", const="ovn-cluster", metavar="ROUTER",
                      help="also keep Kube-OVN's priority-29500 allow policy for each learned "
                           "route on ROUTER (default ovn-cluster), as its ovn-ic controller "
                           "does")
    sync.add_argument("--metrics-address", metavar="HOST:PORT",
                      help="serve Prometheus metrics on http://HOST:PORT/metrics, and "
                           "/healthz and /readyz")
    sync.add_argument("--wait", choices=("none", "sb"), default="none",
                      help="sb: once synced, increment IC-NB nb_ic_cfg and wait until every "
                           "AZ's agent has synced it, as ovn-ic-nbctl --wait=sb sync (OVN "
                           "24.03+ IC databases); with --once, exit then")
    add_ssl_options(sync)
    sync.set_defaults(func=_cmd_sync)


def _cmd_sync(args: argparse.Namespace) -> int:
    with startup_imports():
        import trio

        from ovsdb_ic.sync.runner import SyncConfig, SyncEngine

    problems: list[str] = []
    context = ssl_context(args, problems)
    check_remotes([("--ovnnb-db", args.ovnnb_db), ("--ovnsb-db", args.ovnsb_db),
                   ("--ic-nb-db", args.ic_nb_db), ("--ic-sb-db", args.ic_sb_db)], problems)
    address = (None if args.metrics_address is None
               else host_port("--metrics-address", args.metrics_address, problems))
    if args.wait == "sb" and args.dry_run:
        problems.append("--wait=sb cannot be combined with --dry-run (nothing is written)")
    if problems:
        return usage(args.command, problems)
    extra: tuple[Any, ...] = ()
    if args.kubeovn_policies is not None:
        from ovsdb_ic.kubeovn.policies import policy_step

        extra = (policy_step(args.kubeovn_policies),)
    config = SyncConfig(ovnnb_db=args.ovnnb_db, ovnsb_db=args.ovnsb_db, ic_nb_db=args.ic_nb_db,
                        ic_sb_db=args.ic_sb_db, ssl_context=context, dry_run=args.dry_run,
                        extra_planners=extra)

    def report(line: str) -> None:
        print(line, flush=True)

    engine = SyncEngine(config, report=report)
    server = None
    if address is not None:
        from ovsdb_ic.sync.metrics import register_sync_metrics, serve_metrics

        try:
            server = serve_metrics(register_sync_metrics(engine), *address)
        except OSError as exc:
            return usage(args.command, [f"--metrics-address: cannot listen on "
                                        f"{args.metrics_address}: {exc.strerror or exc}"])
        say(args.command, f"metrics on http://{args.metrics_address}/metrics "
                          "(and /healthz, /readyz)")
    try:
        if args.dry_run:
            trio.run(lambda: engine.run(once=args.once))
        else:
            wait_sb = args.wait == "sb"
            with client_log_to_stderr("sync"):
                trio.run(lambda: collector_paused_until_settled(
                    engine, lambda: engine.run_and_wait(once=args.once, wait_sb=wait_sb)))
    finally:
        if server is not None:
            server.close()
    stats = engine.stats
    if args.once and not args.dry_run:
        say(args.command, f"{stats.passes} pass(es), {stats.commits} transaction(s), "
                          f"{stats.ops} operation(s), {stats.conflicts} conflict(s)")
    return 0


async def collector_paused_until_settled(
    engine: SyncEngine, run: Callable[[], Awaitable[None]], *, bound: float = 60.0
) -> None:
    """Await ``run()`` (the engine's run) with the cyclic garbage collector paused
    until the engine's first pass that plans nothing, or until it stands by for the
    lock, or until ``run()`` ends, or for ``bound`` seconds at most (an engine that
    cannot reach its servers retries without end, and its failed attempts may leave
    cyclic garbage), whichever comes first.

    A cold start allocates the replicas' initial copies, the planners' derived state
    and the commits' operations and echoes: all of it lives on, and none of it forms
    cyclic garbage. At 1,000 routes per AZ the collections it set off (about 50 young
    and 4 middle ones) freed nothing and cost 5 to 10 ms of CPU. What the pause
    allocated is promoted to the oldest generation when it ends (see
    ``ovsdb_ic.replica.gc_paused``).
    """
    import trio

    from ovsdb_ic.errors import _one_error
    from ovsdb_ic.replica import _gc

    _gc.pause()
    paused = True

    def end() -> None:
        nonlocal paused
        if paused:
            paused = False
            _gc.resume(promote=True)

    async def first(wait: Callable[[], Awaitable[None]], scope: trio.CancelScope) -> None:
        await wait()
        scope.cancel()

    async def watch() -> None:
        with trio.move_on_after(bound):
            async with trio.open_nursery() as either:
                either.start_soon(first, engine.wait_settled, either.cancel_scope)
                either.start_soon(first, engine.wait_standing_by, either.cancel_scope)
        end()

    try:
        with _one_error():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                await run()
                nursery.cancel_scope.cancel()
    finally:
        end()
