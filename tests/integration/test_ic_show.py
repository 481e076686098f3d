"""render_show against the real ``ovn-ic-sbctl show``, on a real OVN_IC_Southbound server.

Rows are written with ``ovn-ic-sbctl`` itself (one test) or with transactions through
our client (generated contents, several rounds on one server), read back with
``client.replicate`` into a live replica, and rendered; the text must equal the tool's
stdout byte for byte, for ``show`` and for ``show AZ`` by name and by UUID.
"""

from __future__ import annotations

import itertools
import random
import subprocess
from typing import Any

import pytest
import trio

from ovsdb_ic.client import connect
from ovsdb_ic.ic import REQUIREMENTS, Interconnection, install_indexes, render_show
from ovsdb_ic.replica import Replica
from ovsdb_ic.testing import Sandbox, Server
from ovsdb_ic.wire import ops
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.schema import DatabaseSchema

pytestmark = pytest.mark.integration

DB = "OVN_IC_Southbound"


@pytest.fixture
def ic_sb_server(ovn_sandbox: Sandbox) -> Server:
    """A standalone OVN_IC_Southbound server of each OVN release in turn."""
    return ovn_sandbox.start_server("ic-sb", name="ic-sb", tcp=True)


@pytest.fixture
def ic_nb_server(ovn_sandbox: Sandbox) -> Server:
    """A standalone OVN_IC_Northbound server of the same release."""
    return ovn_sandbox.start_server("ic-nb", name="ic-nb", tcp=True)


def tool(server: Server, *args: str, program: str = "ovn-ic-sbctl") -> str:
    """Run the server's release's ``ovn-ic-sbctl --db=<unix remote> ARGS``; its stdout."""
    command = server.ovn.command(program)
    out = subprocess.run([*command, f"--db={server.unix_remote}", "--timeout=20", *args],
                         capture_output=True, text=True, check=False, timeout=30)
    assert out.returncode == 0, (args, out.stderr)
    return out.stdout


def _names(replica: Replica) -> dict[str, set[str]]:
    return {
        "Availability_Zone": {r["name"] for r in replica.table("Availability_Zone")},
        "Gateway": {r["name"] for r in replica.table("Gateway")},
        "Port_Binding": {r["logical_port"] for r in replica.table("Port_Binding")},
        "Encap": {r["ip"] for r in replica.table("Encap")},
    }


def test_show_equals_the_tool_for_rows_the_tool_wrote(ic_sb_server: Server) -> None:
    az1 = tool(ic_sb_server, "create", "Availability_Zone", "name=az1").strip()
    tool(ic_sb_server, "create", "Availability_Zone", "name=az2")
    tool(ic_sb_server, "create", "Availability_Zone", "name=az-empty")
    az2 = tool(ic_sb_server, "--bare", "--columns=_uuid", "find", "Availability_Zone",
               "name=az2").strip()
    tool(ic_sb_server,
         "--", "--id=@e1", "create", "Encap", "type=geneve", "ip=192.168.0.1",
         "gateway_name=gw-b",
         "--", "--id=@e2", "create", "Encap", "type=vxlan", "ip=192.168.0.2",
         "gateway_name=gw-b",
         "--", "--id=@e3", "create", "Encap", "type=stt", "ip=192.168.0.3",
         "gateway_name=gw-b",
         "--", "create", "Gateway", "name=gw-b", f"availability_zone={az1}",
         "hostname=node-b", "encaps=@e1,@e2,@e3")
    tool(ic_sb_server,
         "--", "--id=@e", "create", "Encap", "type=geneve", "ip=192.168.0.4",
         "gateway_name=gw-a",
         "--", "create", "Gateway", "name=gw-a", f"availability_zone={az1}", "encaps=@e")
    tool(ic_sb_server,
         "--", "--id=@e", "create", "Encap", "type=geneve", "ip=192.168.1.1",
         "gateway_name=gw-c",
         "--", "create", "Gateway", "name=gw-c", f"availability_zone={az2}",
         "hostname=node-c", "encaps=@e")
    for lp, zone, key, gw, address in [
        ("ts-az1", az1, 1, "gw-b", "00:00:00:00:01:01 169.254.100.1/24"),
        ("ts1-az1", az1, 2, "gw-b", "00:00:00:00:01:02 169.254.101.1/24 fe80::1/64"),
        ("ts-az1-unbound", az1, 3, "", "00:00:00:00:01:03 169.254.100.3/24"),
        ("ts-az2", az2, 4, "gw-c", ""),
        ("ts-az2-stale", az2, 5, "gw-b", "00:00:00:00:02:05"),
    ]:
        tool(ic_sb_server, "create", "Port_Binding", f"logical_port={lp}",
             "transit_switch=ts", f"availability_zone={zone}", f"tunnel_key={key}",
             f'gateway="{gw}"', f'address="{address}"')

    async def main() -> None:
        async with connect(ic_sb_server.unix_remote or "", database=DB) as client:
            live = await client.replicate(REQUIREMENTS.tables_for("ic_sb"))
            install_indexes(live.replica)
            ic = Interconnection(live.replica)
            expected = tool(ic_sb_server, "show")
            assert "availability-zone az-empty\n" in expected and "    gateway gw-b" in expected
            assert render_show(ic) == expected
            for key in ("az1", "az2", "az-empty", az1, az2, "nope", "00000000-0000-0000-0000-"
                        "000000000000"):
                assert render_show(ic, key) == tool(ic_sb_server, "show", key), key
            # Changes the tool makes reach the live replica and the rendering.
            tool(ic_sb_server, "set", "Gateway", "gw-a", "hostname=node-a")
            tool(ic_sb_server, "set", "Port_Binding", "ts-az1-unbound", "gateway=gw-a")
            tool(ic_sb_server, "destroy", "Port_Binding", "ts-az2")
            expected = tool(ic_sb_server, "show")
            with trio.fail_after(10):
                await live.wait_for(lambda r: "ts-az2" not in _names(r)["Port_Binding"] and any(
                    g["hostname"] == "node-a" for g in r.table("Gateway")) and any(
                    p["gateway"] == "gw-a" for p in r.table("Port_Binding")))
            assert "        hostname: node-a\n" in expected
            assert render_show(ic) == expected

    trio.run(main)


def _generated(rng: random.Random, round_no: int) -> dict[str, Any]:
    """Random IC-SB contents (respecting the schema's unique indexes) as plain data."""
    zones = [f"az{round_no}-{i}" for i in rng.sample(range(10), rng.randint(2, 3))]
    zones.append(f"empty{round_no}")                      # an AZ with nothing in it
    gateways = []
    ip = 0
    for g in range(rng.randint(2, 5)):
        encaps = []
        for _ in range(rng.randint(1, 4)):
            ip += 1
            encaps.append((rng.choice(["geneve", "vxlan", "stt"]), f"10.{round_no}.0.{ip}"))
        gateways.append({"name": f"gw{rng.randint(0, 99)}-{g}",
                         "zone": rng.randrange(len(zones) - 1),
                         "hostname": rng.choice(["", f"node{g}", "host with space"]),
                         "encaps": encaps})
    ports = []
    for p in range(rng.randint(3, 10)):
        zone = rng.randrange(len(zones) - 1)
        same_zone = [gw["name"] for gw in gateways if gw["zone"] == zone]
        other = [gw["name"] for gw in gateways if gw["zone"] != zone]
        gw_name = rng.choice([*same_zone, *same_zone, "", "missing", *other[:1]])
        ports.append({"logical_port": f"lp{rng.randint(0, 999)}-{p}",
                      "transit_switch": rng.choice(["ts", "ts1", "ts2"]), "zone": zone,
                      "tunnel_key": p + 1, "gateway": gw_name,
                      "address": rng.choice(["", f"00:00:00:00:00:{p:02x} 169.254.100.{p}/24"])})
    return {"zones": zones, "gateways": gateways, "ports": ports}


def _write_ops(schema: DatabaseSchema, contents: dict[str, Any]) -> list[dict[str, Any]]:
    """One transaction replacing everything with ``contents``."""
    out = [ops.delete(schema, t, []) for t in ("Port_Binding", "Gateway", "Availability_Zone")]
    for i, name in enumerate(contents["zones"]):
        out.append(ops.insert(schema, "Availability_Zone", {"name": name}, uuid_name=f"az{i}"))
    for g, gw in enumerate(contents["gateways"]):
        names = []
        for e, (kind, ip) in enumerate(gw["encaps"]):
            names.append(NamedUUID(f"e{g}x{e}"))
            out.append(ops.insert(schema, "Encap", {"type": kind, "ip": ip,
                                                    "gateway_name": gw["name"]},
                                  uuid_name=f"e{g}x{e}"))
        out.append(ops.insert(schema, "Gateway", {
            "name": gw["name"], "availability_zone": NamedUUID(f"az{gw['zone']}"),
            "hostname": gw["hostname"], "encaps": frozenset(names)}))
    for pb in contents["ports"]:
        out.append(ops.insert(schema, "Port_Binding", {
            "logical_port": pb["logical_port"], "transit_switch": pb["transit_switch"],
            "availability_zone": NamedUUID(f"az{pb['zone']}"), "tunnel_key": pb["tunnel_key"],
            "gateway": pb["gateway"], "address": pb["address"]}))
    return out


def test_show_equals_the_tool_for_generated_contents(ic_sb_server: Server) -> None:
    rng = random.Random(20230301)

    async def main() -> None:
        async with connect(ic_sb_server.unix_remote or "", database=DB) as client:
            schema = client.schema
            assert schema is not None
            # Only the tables show reads: a partial replica is enough.
            live = await client.replicate(["Availability_Zone", "Gateway", "Encap",
                                           "Port_Binding"])
            ic = Interconnection(live.replica)
            seen = ""
            for round_no in range(4):
                contents = _generated(rng, round_no)
                await client.transact(_write_ops(schema, contents))
                want = {
                    "Availability_Zone": set(contents["zones"]),
                    "Gateway": {g["name"] for g in contents["gateways"]},
                    "Port_Binding": {p["logical_port"] for p in contents["ports"]},
                    "Encap": {ip for g in contents["gateways"] for _, ip in g["encaps"]},
                }

                def written(r: Replica, want: dict[str, set[str]] = want) -> bool:
                    return _names(r) == want

                with trio.fail_after(10):
                    await live.wait_for(written)
                expected = tool(ic_sb_server, "show")
                assert f"availability-zone empty{round_no}\n" in expected
                assert render_show(ic) == expected, round_no
                seen += expected
                zone = ic.availability_zone(contents["zones"][0])
                assert zone is not None
                for key in (zone.name, str(zone.uuid)):
                    assert render_show(ic, key) == tool(ic_sb_server, "show", key)
            # The rounds did show ports, hostnames and gateways with several encaps.
            assert "        port " in seen and "        hostname: " in seen
            lines = seen.splitlines()
            assert any(a.startswith("            ip: ") and b.startswith("        type: ")
                       for a, b in itertools.pairwise(lines))

    trio.run(main)


def test_views_over_live_ic_sb_and_ic_nb(ic_sb_server: Server, ic_nb_server: Server) -> None:
    tool(ic_nb_server, "ts-add", "ts1", program="ovn-ic-nbctl")
    tool(ic_nb_server, "ts-add", "ts2", program="ovn-ic-nbctl")

    async def main() -> None:
        async with connect(ic_sb_server.unix_remote or "", database=DB) as sb, \
                connect(ic_nb_server.unix_remote or "", database="OVN_IC_Northbound") as nb:
            s = sb.schema
            assert s is not None
            await sb.transact([
                ops.insert(s, "Availability_Zone", {"name": "az1"}, uuid_name="az"),
                ops.insert(s, "Datapath_Binding", {"transit_switch": "ts1",
                                                   "tunnel_key": 16711682}),
                ops.insert(s, "Route", {"transit_switch": "ts1",
                                        "availability_zone": NamedUUID("az"),
                                        "ip_prefix": "10.16.0.0/16",
                                        "nexthop": "169.254.100.1", "origin": "connected"}),
                ops.insert(s, "Port_Binding", {"logical_port": "ts1-az1",
                                               "transit_switch": "ts1",
                                               "availability_zone": NamedUUID("az"),
                                               "tunnel_key": 1}),
            ])
            live_sb = await sb.replicate(REQUIREMENTS.tables_for("ic_sb"))
            live_nb = await nb.replicate(REQUIREMENTS.tables_for("ic_nb"))
            ic = Interconnection(live_sb.replica, live_nb.replica)
            assert [t.name for t in ic.transit_switches()] == ["ts1", "ts2"]
            ts1 = ic.transit_switch("ts1")
            assert ts1 is not None and ts1.tunnel_key == 16711682 and ts1.nb is not None
            assert [p.logical_port for p in ts1.port_bindings()] == ["ts1-az1"]
            assert [r.model.ip_prefix for r in ts1.routes()] == ["10.16.0.0/16"]
            route = ic.route("ts1", "az1", "", "10.16.0.0/16", "169.254.100.1")
            assert route is not None and route.model.origin == "connected"
            ts2 = ic.transit_switch("ts2")
            assert ts2 is not None and ts2.tunnel_key is None
            tool(ic_nb_server, "ts-del", "ts2", program="ovn-ic-nbctl")
            with trio.fail_after(10):
                await live_nb.wait_for(lambda r: len(r.table("Transit_Switch")) == 1)
            assert ic.transit_switch("ts2") is None

    trio.run(main)
