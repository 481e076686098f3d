"""One client, typed models of OVN 25.03, servers of OVN 23.03 and 25.03.

``connect()`` reports the schema version it talks to and the OVN release it belongs
to; rows of the newest models are written to an older server without the columns it
lacks; a replica asked for such columns with ``missing="skip"`` monitors only what the
server has, and its typed rows read the others as their defaults.
"""

from __future__ import annotations

import pytest
import trio

from ovsdb_ic.client import connect
from ovsdb_ic.errors import LocalProtocolError, SchemaError
from ovsdb_ic.models import ic_nb, ic_sb
from ovsdb_ic.testing import Sandbox

pytestmark = pytest.mark.integration

# Server schema versions and the newest release shipping each, per OVN release run.
EXPECTED = {
    "23.03": {"OVN_IC_Northbound": ("1.0.0", "23.09"), "OVN_IC_Southbound": ("1.1.1", "23.09"),
              "OVN_Northbound": ("7.0.0", "23.03"), "OVN_Southbound": ("20.27.0", "23.03")},
    "25.03": {"OVN_IC_Northbound": ("1.2.0", "25.09"), "OVN_IC_Southbound": ("1.3.0", "25.03"),
              "OVN_Northbound": ("7.11.0", "25.03"), "OVN_Southbound": ("20.41.0", "25.03")},
}  # fmt: skip


def test_connect_reports_schema_version_and_ovn_release(ovn_sandbox: Sandbox) -> None:
    version = ovn_sandbox.ovn.version
    servers = {
        name: ovn_sandbox.start_server(short, name=short)
        for name, short in (
            ("OVN_IC_Northbound", "ic-nb"),
            ("OVN_IC_Southbound", "ic-sb"),
            ("OVN_Northbound", "nb"),
            ("OVN_Southbound", "sb"),
        )
    }

    async def main() -> None:
        for database, server in servers.items():
            async with connect(server.remote, database=database) as client:
                assert client.schema is not None
                schema_version, release = EXPECTED[version][database]
                assert client.schema_version == client.schema.version == schema_version
                assert client.ovn_release == release
                assert version in client.ovn_releases
                if version == "23.03":  # the models are 25.03's: the 23.03 server lacks columns
                    assert any("has no such column" in w for w in client.schema_warnings)

    trio.run(main)


def test_newest_models_write_and_read_an_older_server(ovn_sandbox: Sandbox) -> None:
    """IC-NB 1.0.0 (23.03) lacks IC_NB_Global.nb_ic_cfg/sb_ic_cfg and SSL.ssl_ciphersuites:
    inserts leave them out, replicas with missing="skip" do not monitor them and typed
    rows read them as their defaults; 1.2.0 (25.03) has them all."""
    old = ovn_sandbox.ovn.version == "23.03"
    server = ovn_sandbox.start_server("ic-nb", name="ic-nb")
    columns = {"IC_NB_Global": ["options", "nb_ic_cfg", "sb_ic_cfg"],
               "SSL": ["private_key", "ssl_ciphersuites"]}  # fmt: skip

    async def main() -> None:
        async with connect(server.remote, database="OVN_IC_Northbound") as client:
            txn = client.transaction()
            ssl_row = txn.insert(ic_nb.SSL(private_key="k", certificate="c", ca_cert="a"))
            txn.insert(ic_nb.ICNBGlobal(options={"ic-route-adv": "true"}), ssl=ssl_row)
            await client.commit(txn)
            if old:
                with pytest.raises(LocalProtocolError, match="nb_ic_cfg"):
                    await client.replicate(columns)
                bad = client.transaction()
                with pytest.raises(SchemaError) as exc:
                    bad.insert(ic_nb.SSL(private_key="k", certificate="c", ca_cert="a",
                                         ssl_ciphersuites="HIGH"))
                assert exc.value.path == "SSL.ssl_ciphersuites"
            live = await client.replicate(columns, missing="skip")
            held = live.replica.columns
            assert ("nb_ic_cfg" in held["IC_NB_Global"]) is not old
            assert ("ssl_ciphersuites" in held["SSL"]) is not old
            (glob,) = live.models("IC_NB_Global")
            assert isinstance(glob, ic_nb.ICNBGlobal)
            assert glob.options == {"ic-route-adv": "true"}
            assert glob.nb_ic_cfg == 0 and glob.sb_ic_cfg == 0
            (ssl,) = live.models("SSL")
            assert ssl.private_key == "k" and ssl.ssl_ciphersuites == ""
            if not old:  # a 25.03 server takes the new columns
                await client.transact([{"op": "mutate", "table": "IC_NB_Global", "where": [],
                                        "mutations": [["nb_ic_cfg", "+=", 1]]}])
                with trio.fail_after(10):
                    await client.caught_up(live)
                assert live.models("IC_NB_Global")[0].nb_ic_cfg == 1

    trio.run(main)


def test_replicate_skip_leaves_out_a_table_the_server_lacks(sandbox: Sandbox) -> None:
    server = sandbox.start_server("ic-sb", name="ic-sb")

    async def main() -> None:
        async with connect(server.remote, database="OVN_IC_Southbound") as client:
            live = await client.replicate(
                {"Route": None, "No_Such_Table": None}, missing="skip"
            )
            assert set(live.replica.tables) == {"Route"}
            assert live.models("Route") == [] and ic_sb.Route is not None

    trio.run(main)
