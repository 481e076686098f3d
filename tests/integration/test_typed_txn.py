"""Typed transactions against a real server: references to rows inserted in the same
transaction, update and delete from a model or a key, a missing row as an error (never
a silent count of 0), and models that refuse bad values on construction."""

from __future__ import annotations

import attrs
import pytest
import trio

from ovsdb_ic import NamedUUID, connect
from ovsdb_ic.errors import DataError, LocalProtocolError, RowNotFoundError
from ovsdb_ic.models import ic_nb, ic_sb, to_model
from ovsdb_ic.testing import Sandbox
from ovsdb_ic.wire.ops import Mutation


def test_models_validate_on_construction() -> None:
    with pytest.raises(DataError) as exc:
        ic_nb.TransitSwitch(name=5)  # type: ignore[arg-type]
    assert exc.value.where == "Transit_Switch.name"
    assert str(exc.value) == "Transit_Switch.name: expected a str, not int (got 5)"
    with pytest.raises(DataError, match=r"Route\.origin: not one of the allowed values"):
        ic_sb.Route(availability_zone=NamedUUID("az"), origin="bgp")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"Port_Binding\.tunnel_key: integer out of range"):
        ic_sb.PortBinding(availability_zone=NamedUUID("az"), tunnel_key=0)
    assert isinstance(DataError("x"), ValueError)


def test_typed_insert_update_delete(sandbox: Sandbox) -> None:
    ic_sb_server = sandbox.start_server("ic-sb", name="icsb")
    ic_nb_server = sandbox.start_server("ic-nb", name="icnb")

    async def main() -> None:
        async with connect(ic_sb_server.remote, database="OVN_IC_Southbound") as sb:
            live = await sb.replicate(["Availability_Zone", "Route"])
            txn = sb.transaction()
            az = txn.insert(ic_sb.AvailabilityZone(name="az1"))
            # The reference is a field of the model: no placeholder, no keyword override.
            txn.insert(ic_sb.Route(availability_zone=az, transit_switch="ts1",
                                   ip_prefix="10.0.0.0/24", nexthop="169.254.100.1",
                                   origin="connected"))
            result = await sb.commit(txn)
            az_uuid = result.uuid(az)
            await sb.caught_up(live)
            [route_row] = list(live.replica.table("Route"))
            assert route_row["availability_zone"] == az_uuid
            route = to_model(ic_sb.Route, route_row.uuid, route_row)

            # update from a model read from the server (a changed copy).
            txn = sb.transaction()
            txn.update(attrs.evolve(route, external_ids={"seen": "yes"}),
                       columns=["external_ids"])
            await sb.commit(txn)
            await sb.caught_up(live)
            assert live.replica.table("Route")[route.uuid]["external_ids"] == {"seen": "yes"}

            # update by model class and key (the table's one-column index: name).
            txn = sb.transaction()
            txn.update(ic_sb.AvailabilityZone, "az1", name="az-one")
            await sb.commit(txn)
            await sb.caught_up(live)
            assert [r["name"] for r in live.replica.table("Availability_Zone")] == ["az-one"]

            # A missing row is an error, and the whole transaction is undone.
            txn = sb.transaction()
            txn.insert(ic_sb.AvailabilityZone(name="must-not-stay"))
            txn.update(ic_sb.AvailabilityZone, "no-such-az", name="x")
            with pytest.raises(RowNotFoundError) as missing:
                await sb.commit(txn)
            assert str(missing.value) == (
                "Availability_Zone no-such-az: no such row (nothing was changed)")
            assert isinstance(missing.value, LookupError)
            await sb.caught_up(live)
            assert [r["name"] for r in live.replica.table("Availability_Zone")] == ["az-one"]

            # delete from a model; deleting it again is a missing row.
            txn = sb.transaction()
            txn.delete(route)
            await sb.commit(txn)
            await sb.caught_up(live)
            assert len(live.replica.table("Route")) == 0
            txn = sb.transaction()
            txn.delete(route)
            with pytest.raises(RowNotFoundError, match=str(route.uuid)):
                await sb.commit(txn)
            txn = sb.transaction()
            txn.delete("Route", {"ip_prefix": "10.0.0.0/24"})
            with pytest.raises(RowNotFoundError):
                await sb.commit(txn)

            # Misuse is refused before anything is sent.
            txn = sb.transaction()
            with pytest.raises(LocalProtocolError, match="no one-column index"):
                txn.delete(ic_sb.Route, "10.0.0.0/24")
            with pytest.raises(LocalProtocolError, match="has no column 'nope'"):
                txn.update(ic_sb.AvailabilityZone, "az-one", nope=1)
            with pytest.raises(LocalProtocolError, match="no server UUID"):
                txn.delete(ic_sb.AvailabilityZone(name="never-read"))
            with pytest.raises(DataError, match=r"Availability_Zone\.name"):
                txn.update(ic_sb.AvailabilityZone, "az-one", name=7)

        async with connect(ic_nb_server.remote, database="OVN_IC_Northbound") as nb:
            live_nb = await nb.replicate(["Transit_Switch"])
            txn = nb.transaction()
            txn.insert(ic_nb.TransitSwitch(name="ts1"))
            await nb.commit(txn)
            txn = nb.transaction()
            txn.update("Transit_Switch", "ts1", {"external_ids": {"k": "v"}})
            txn.mutate(ic_nb.TransitSwitch, "ts1",
                       [Mutation("external_ids", "insert", {"k2": "v2"})])
            await nb.commit(txn)
            await nb.caught_up(live_nb)
            [ts] = list(live_nb.replica.table("Transit_Switch"))
            assert ts["external_ids"] == {"k": "v", "k2": "v2"}
            txn = nb.transaction()
            txn.delete(ic_nb.TransitSwitch, "ts1")
            await nb.commit(txn)
            txn = nb.transaction()
            txn.mutate("Transit_Switch", "ts1", [Mutation("external_ids", "delete", ["k"])])
            with pytest.raises(RowNotFoundError, match="Transit_Switch ts1"):
                await nb.commit(txn)

    trio.run(main)
