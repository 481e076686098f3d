"""Kube-OVN's interconnection commands: ``establish``, ``teardown``, ``reset``, ``show``,
``routes``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ovsdb_ic.cli._common import (
    REMOTES_HELP,
    add_ssl_options,
    check_remotes,
    run_trio,
    say,
    ssl_context,
    usage,
)
from ovsdb_ic.constants import DEFAULT_CLUSTER_ROUTER, MAX_TS_NUM

__all__ = ["add_parsers"]

_KUBE_EXIT = (
    "Exit status: 0 on success, 1 when a database cannot be reached or a change cannot "
    "be made, 2 for a bad command line or configuration (reported before connecting "
    "to anything). Progress and warnings go to stderr."
)
_READ_EXIT = (
    "It only reads; nothing is written. Exit status: 0 on success, 1 when a database "
    "cannot be reached, 2 for a bad command line or configuration (reported before "
    "connecting to anything)."
)


def add_parsers(sub: Any) -> None:
    """Add the Kube-OVN subcommands: establish, teardown, reset, show, routes, policies."""

    def connection(p: argparse.ArgumentParser, *, az: bool, config: bool = True) -> None:
        if az:
            p.add_argument("--config", required=True, metavar="FILE",
                           help="the ovn-ic-config ConfigMap (YAML or JSON, or just its data "
                                "keys); its ic-db-host and ports name the IC databases")
            p.add_argument("--ovnnb-db", required=True, metavar="REMOTES",
                           help="the AZ's OVN_Northbound; " + REMOTES_HELP)
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
        add_ssl_options(
            p, extra="; the IC remotes made from the config then use ssl:" if config else "")

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
            "An unknown AZ prints nothing. " + _READ_EXIT
        ),
    )
    show.add_argument("--ic-sb-db", metavar="REMOTES",
                      help="OVN_IC_Southbound; " + REMOTES_HELP)
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
            "when set. " + _READ_EXIT
        ),
    )
    routes.add_argument("--ovnnb-db", required=True, metavar="REMOTES",
                        help="OVN_Northbound; " + REMOTES_HELP)
    routes.add_argument("--route-table", metavar="TABLE",
                        help="only the routes of this route table ('' for the main one)")
    connection(routes, az=False, config=False)
    routes.add_argument("router", metavar="ROUTER", help="the router's name or UUID")
    routes.set_defaults(func=_cmd_routes)

    policies = sub.add_parser(
        "policies",
        help="print a router's policies, like ovn-nbctl lr-policy-list",
        description=(
            "Print ROUTER's routing policies exactly as ovn-nbctl lr-policy-list does, "
            "highest priority first. With Kube-OVN, each route learned from another "
            "cluster has an 'allow' policy at priority 29500 on ovn-cluster (see "
            "ovsdb-ic sync --kubeovn-policies). " + _READ_EXIT
        ),
    )
    policies.add_argument("--ovnnb-db", required=True, metavar="REMOTES",
                          help="OVN_Northbound; " + REMOTES_HELP)
    connection(policies, az=False, config=False)
    policies.add_argument("router", metavar="ROUTER", help="the router's name or UUID")
    policies.set_defaults(func=_cmd_policies)


def _config(path: str, problems: list[str]) -> Any:
    """The IcConfig in ``path``, or None after adding one line per problem."""
    from ovsdb_ic.kubeovn.config import IcConfig, IcConfigError

    try:
        return IcConfig.from_file(path)
    except IcConfigError as exc:
        problems.extend(f"{path}: {p}" for p in exc.problems)
        return None


def _params(args: argparse.Namespace, problems: list[str]) -> Any:
    from ovsdb_ic.kubeovn.commands import EstablishParams

    params = EstablishParams(
        ts_num=args.ts_num, cluster_router=args.cluster_router, protocol=args.protocol,
        disabled_subnets=tuple(args.disabled_subnet), join_subnet=args.join_subnet,
        node_ips=tuple(args.node_ip),
    )
    problems.extend(str(p) for p in params.problems())
    return params


def _check_enabled(args: argparse.Namespace, config: Any, problems: list[str]) -> None:
    """Refuse a config whose enable-ic is false (establish, reset: teardown is for it)."""
    if config is not None and not config.enable_ic:
        problems.append(f"{args.config}: enable-ic: interconnection is disabled (\"false\"); "
                        "use teardown")


def _az_setup(args: argparse.Namespace, problems: list[str]) -> tuple[Any, Any, Any]:
    """Config, AzRemotes and SSL context of an AZ command (None where a problem was found)."""
    from ovsdb_ic.kubeovn.commands import AzRemotes

    config = _config(args.config, problems)
    context = ssl_context(args, problems)
    check_remotes([("--ovnnb-db", args.ovnnb_db), ("--ovnsb-db", args.ovnsb_db),
                   ("--ic-nb-db", args.ic_nb_db), ("--ic-sb-db", args.ic_sb_db)], problems)
    remotes = None
    if config is not None and not problems:
        remotes = AzRemotes.from_config(
            config, ovnnb_db=args.ovnnb_db, ovnsb_db=args.ovnsb_db, ic_nb_db=args.ic_nb_db,
            ic_sb_db=args.ic_sb_db, scheme="ssl" if context is not None else "tcp",
        )
    return config, remotes, context


def _options(args: argparse.Namespace, context: Any, *, dry_run: bool = False) -> Any:
    from ovsdb_ic.kubeovn.commands import RunOptions

    command = args.command

    def report(line: str) -> None:
        print(line, flush=True)

    def progress(line: str) -> None:
        say(command, line)

    return RunOptions(ssl_context=context, connect_timeout=args.timeout, report=report,
                      progress=progress, dry_run=dry_run)


def _summary(verb: str, az: str, result: Any, nothing: str) -> None:
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
    config, remotes, context = _az_setup(args, problems)
    params = _params(args, problems)
    _check_enabled(args, config, problems)
    if args.timeout <= 0:
        problems.append("--timeout: must be positive")
    if problems:
        return usage(args.command, problems)
    options = _options(args, context, dry_run=args.dry_run)
    status, result = run_trio(args.command,
                               lambda: establish(remotes, config, params, options=options))
    if status == 0:
        _summary("established", config.az_name, result, "already established")
    return status


def _cmd_teardown(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import teardown

    problems: list[str] = []
    config, remotes, context = _az_setup(args, problems)
    if args.timeout <= 0:
        problems.append("--timeout: must be positive")
    if problems:
        return usage(args.command, problems)
    options = _options(args, context, dry_run=args.dry_run)
    status, result = run_trio(args.command, lambda: teardown(
        remotes, config, clear_az_name=args.clear_az_name,
        remove_remote_chassis=not args.keep_remote_chassis, options=options))
    if status == 0:
        _summary("tore down", config.az_name, result, "nothing to tear down")
    return status


def _cmd_reset(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import reset

    problems: list[str] = []
    config, remotes, context = _az_setup(args, problems)
    previous = None
    if args.previous_config is not None:
        previous = _config(args.previous_config, problems)
    params = _params(args, problems)
    _check_enabled(args, config, problems)
    if args.timeout <= 0:
        problems.append("--timeout: must be positive")
    if problems:
        return usage(args.command, problems)
    options = _options(args, context)
    status, result = run_trio(args.command, lambda: reset(
        remotes, config, params, previous=previous, options=options))
    if status == 0:
        down, up = result
        old = config.az_name if previous is None else previous.az_name
        _summary("tore down", old, down, "nothing to tear down")
        _summary("established", config.az_name, up, "already established")
    return status


def _cmd_show(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import show

    problems: list[str] = []
    context = ssl_context(args, problems)
    ic_sb, ic_nb = args.ic_sb_db, args.ic_nb_db
    if args.config is not None:
        config = _config(args.config, problems)
        if config is not None:
            scheme = "ssl" if context is not None else "tcp"
            ic_sb = ic_sb or config.ic_sb_remotes(scheme)
    elif ic_sb is None:
        problems.append("--ic-sb-db (or --config) is required")
    check_remotes([("--ic-sb-db", args.ic_sb_db), ("--ic-nb-db", args.ic_nb_db)], problems)
    return _print_view(args, context, problems, lambda options: show(
        ic_sb, args.az, ic_nb_db=ic_nb, options=options))


def _cmd_routes(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import route_list

    return _print_router_view(args, lambda options: route_list(
        args.ovnnb_db, args.router, route_table=args.route_table, options=options))


def _cmd_policies(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn.commands import policy_list

    return _print_router_view(args, lambda options: policy_list(
        args.ovnnb_db, args.router, options=options))


def _print_router_view(args: argparse.Namespace,
                       view: Callable[[Any], Awaitable[str]]) -> int:
    """Check ``--ovnnb-db``, SSL and ``--timeout``, then print what ``view(options)``
    renders of a router (``routes``, ``policies``)."""
    problems: list[str] = []
    context = ssl_context(args, problems)
    check_remotes([("--ovnnb-db", args.ovnnb_db)], problems)
    return _print_view(args, context, problems, view)


def _print_view(args: argparse.Namespace, context: Any, problems: list[str],
                view: Callable[[Any], Awaitable[str]]) -> int:
    """Check ``--timeout``, then report *problems* (exit status 2) or print what
    ``view(options)`` renders (``show``, ``routes``, ``policies``)."""
    if args.timeout <= 0:
        problems.append("--timeout: must be positive")
    if problems:
        return usage(args.command, problems)
    options = _options(args, context)
    status, text = run_trio(args.command, lambda: view(options))
    if status == 0:
        sys.stdout.write(text)
        sys.stdout.flush()
    return status
