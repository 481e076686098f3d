"""``ovsdb-ic icdb start|status|stop|clean``: the IC databases deployed the Kube-OVN way.

A single node (no IPs) or one member of a Raft cluster (``--local-ip``, ``--node-ips``,
``--leader-ip``); see :mod:`ovsdb_ic.kubeovn.icdb` and docs/kubeovn.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ovsdb_ic.cli._common import add_ssl_options, say, usage
from ovsdb_ic.constants import DEFAULT_IC_NB_PORT, DEFAULT_IC_SB_PORT

if TYPE_CHECKING:
    from ovsdb_ic.kubeovn.icdb import IcDbMember, IcDbTools

__all__ = ["DEFAULT_DB_DIR", "add_parsers", "find_tools"]

DEFAULT_DB_DIR = "/var/lib/ovsdb-ic/icdb"
"""Where a member keeps its files when ``--db-dir`` is not given."""


def add_parsers(sub: Any) -> None:
    """Add the ``icdb`` subcommand (with ``start``, ``status``, ``stop``, ``clean``) to *sub*."""
    icdb = sub.add_parser(
        "icdb",
        help="start, inspect, stop or clean the IC databases (single node or Raft member)",
        description=(
            "Run the IC databases as Kube-OVN's start-ic-db.sh does: with no IPs a single "
            "node (IC-NB on 6645, IC-SB on 6646, on every address); with --local-ip and "
            "--node-ips (3 or more) one member of a Raft cluster for each database (Raft "
            "ports 6647 and 6648), created on the first node (or --leader-ip) and joined "
            "on the others. One member per --db-dir."
        ),
    )
    actions = icdb.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser, *, addressing: bool) -> None:
        p.add_argument("--db-dir", default=DEFAULT_DB_DIR, metavar="DIR",
                       help="the member's database files, pidfiles, sockets and logs "
                            f"(default {DEFAULT_DB_DIR})")
        if not addressing:
            return
        p.add_argument("--local-ip", metavar="IP", help="this node's address (Raft member)")
        p.add_argument("--node-ips", metavar="A,B,C",
                       help="every node of the cluster, this one included (3 or more)")
        p.add_argument("--leader-ip", metavar="IP",
                       help="the node that creates the clusters (default: the first node)")
        p.add_argument("--listen", metavar="IP",
                       help="address of the client ports (default: --local-ip, or every "
                            "address for a single node)")
        p.add_argument("--nb-port", type=int, default=DEFAULT_IC_NB_PORT, metavar="PORT",
                       help=f"IC-NB client port (default {DEFAULT_IC_NB_PORT})")
        p.add_argument("--sb-port", type=int, default=DEFAULT_IC_SB_PORT, metavar="PORT",
                       help=f"IC-SB client port (default {DEFAULT_IC_SB_PORT})")
        p.add_argument("--nb-raft-port", type=int, default=6647, metavar="PORT",
                       help="IC-NB Raft port (default 6647)")
        p.add_argument("--sb-raft-port", type=int, default=6648, metavar="PORT",
                       help="IC-SB Raft port (default 6648)")
        add_ssl_options(p, extra="; the client ports are then pssl: and Raft uses ssl:")

    start = actions.add_parser(
        "start", help="start this member (a no-op when it runs already)",
        description=(
            "Create the databases when their files do not exist (create-cluster on the "
            "first node unless another node serves the cluster already, join-cluster "
            "elsewhere), start both ovsdb-servers detached (or in the foreground), wait "
            "until a Raft member is in its cluster, and, on the IC-NB leader, create the "
            "missing transit switches ts, ts1, ... as Kube-OVN's leader checker does."
        ),
    )
    common(start, addressing=True)
    start.add_argument("--ts-num", type=int, default=3, metavar="N",
                       help="transit switches to create (default 3, Kube-OVN's TS_NUM; "
                            "0: none)")
    start.add_argument("--protocol", default="IPv4", choices=("IPv4", "IPv6", "Dual"),
                       help="the transit switches' subnets (default IPv4)")
    start.add_argument("--election-timer", type=int, metavar="MS",
                       help="Raft election timer of the clusters created here")
    start.add_argument("--foreground", action="store_true",
                       help="keep both servers as children and run until stopped "
                            "(containers, systemd Type=simple)")
    start.set_defaults(func=_cmd_start)

    status = actions.add_parser("status", help="role, leader and members of both databases")
    common(status, addressing=True)
    status.set_defaults(func=_cmd_status)

    stop = actions.add_parser("stop", help="stop both servers of this member")
    common(stop, addressing=False)
    stop.set_defaults(func=_cmd_stop)

    clean = actions.add_parser(
        "clean", help="stop this member and remove its files (Kube-OVN's clean OVN-IC)")
    common(clean, addressing=False)
    clean.set_defaults(func=_cmd_clean)


def find_tools() -> IcDbTools:
    """``ovsdb-tool``, ``ovsdb-server``, ``ovs-appctl`` and the IC schemas, through the
    sandbox's lookup (one place that knows where the OVN packages put them)."""
    from ovsdb_ic.kubeovn.icdb import IcDbTools
    from ovsdb_ic.testing import require_binaries, schema_path

    found = require_binaries("ovsdb-server", "ovsdb-tool", "ovs-appctl")
    return IcDbTools(
        ovsdb_tool=(found["ovsdb-tool"],), ovsdb_server=(found["ovsdb-server"],),
        ovs_appctl=(found["ovs-appctl"],),
        ic_nb_schema=schema_path("ic-nb"), ic_sb_schema=schema_path("ic-sb"),
    )


def _member(args: argparse.Namespace) -> IcDbMember:
    from ovsdb_ic.kubeovn.icdb import IcDbMember, IcDbSsl

    ssl = None
    files = (getattr(args, "private_key", None), getattr(args, "certificate", None),
             getattr(args, "ca_cert", None))
    if any(files):
        from ovsdb_ic.errors import ConfigError

        if not all(files):
            raise ConfigError("--private-key/--certificate/--ca-cert", None,
                              "ssl needs all three")
        ssl = IcDbSsl(*(Path(str(f)) for f in files))
    return IcDbMember(
        args.db_dir,
        local_ip=getattr(args, "local_ip", None),
        node_ips=getattr(args, "node_ips", None) or (),
        leader_ip=getattr(args, "leader_ip", None),
        listen=getattr(args, "listen", None),
        nb_port=getattr(args, "nb_port", DEFAULT_IC_NB_PORT),
        sb_port=getattr(args, "sb_port", DEFAULT_IC_SB_PORT),
        nb_raft_port=getattr(args, "nb_raft_port", 6647),
        sb_raft_port=getattr(args, "sb_raft_port", 6648),
        ssl=ssl,
        election_timer_ms=getattr(args, "election_timer", None),
    )


def _run(args: argparse.Namespace, body: Any) -> int:
    from ovsdb_ic.kubeovn.icdb import IcDbConfigError

    command = f"icdb {args.action}"
    try:
        member = _member(args)
        return int(body(member, find_tools(), lambda line: say(command, line)))
    except IcDbConfigError as exc:
        return usage(command, [str(p) for p in exc.problems])


def _cmd_start(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn import icdb

    def body(member: IcDbMember, tools: IcDbTools, report: Any) -> int:
        if args.foreground:
            return icdb.run_foreground(member, tools, ts_num=args.ts_num,
                                       protocol=args.protocol, report=report)
        icdb.start(member, tools, ts_num=args.ts_num, protocol=args.protocol, report=report)
        return 0

    return _run(args, body)


def _cmd_status(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn import icdb

    def body(member: IcDbMember, tools: IcDbTools, _report: Any) -> int:
        states = icdb.status(member, tools)
        for st in states:
            print("\n".join(st.lines()))
        return 0 if all(st.running for st in states) else 3

    return _run(args, body)


def _cmd_stop(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn import icdb

    def body(member: IcDbMember, tools: IcDbTools, report: Any) -> int:
        icdb.stop(member, tools, report=report)
        return 0

    return _run(args, body)


def _cmd_clean(args: argparse.Namespace) -> int:
    from ovsdb_ic.kubeovn import icdb

    def body(member: IcDbMember, tools: IcDbTools, report: Any) -> int:
        icdb.clean(member, tools, report=report)
        return 0

    return _run(args, body)
