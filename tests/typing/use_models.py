"""Code that uses the generated models the way applications do; ``mypy --strict`` must
accept it (tests/unit/test_models_typing.py runs it). It is also importable and runnable."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import assert_never

import attrs

from ovsdb_ic.models import (
    ZERO_UUID,
    FrozenMap,
    Model,
    ModelModule,
    check_compatible,
    ic_nb,
    ic_sb,
    model_for,
    model_schema,
    nb,
    sb,
    to_model,
    to_row,
)
from ovsdb_ic.models.ic_sb import Route, RouteOrigin


def describe_origin(origin: RouteOrigin) -> str:
    # Exhaustive match over a Literal enum: mypy proves every value is handled.
    match origin:
        case "connected":
            return "directly connected subnet"
        case "static":
            return "static route"
        case _:
            assert_never(origin)


def route_key(route: Route) -> tuple[str, str, str]:
    return (route.transit_switch, route.ip_prefix, route.nexthop)


def names(switches: Iterable[ic_nb.TransitSwitch]) -> list[str]:
    return sorted(ts.name for ts in switches)


def by_name(switches: Iterable[ic_nb.TransitSwitch]) -> dict[str, ic_nb.TransitSwitch]:
    return {ts.name: ts for ts in switches}


def gateway_encaps(gw: ic_sb.Gateway) -> frozenset[uuid.UUID]:
    return gw.encaps


def external_id(row: ic_sb.Route, key: str) -> str | None:
    ids: Mapping[str, str] = row.external_ids
    return ids.get(key)


def table_of(model: Model) -> str:
    return f"{model.__database__}.{model.__table__}"


def main() -> None:
    az = uuid.uuid4()
    ts = ic_nb.TransitSwitch(name="ts1", external_ids={"owner": "me"})
    assert ts.uuid == ZERO_UUID
    other: ic_nb.TransitSwitch = attrs.evolve(ts, name="ts2")
    assert names([ts, other]) == ["ts1", "ts2"]
    assert by_name([ts])["ts1"] is ts

    route = Route(
        availability_zone=az,
        origin="static",
        ip_prefix="10.0.0.0/24",
        nexthop="169.254.100.1",
        transit_switch="ts1",
        external_ids=FrozenMap({"lr": "r1"}),
    )
    assert describe_origin(route.origin) == "static route"
    assert route_key(route) == ("ts1", "10.0.0.0/24", "169.254.100.1")
    assert external_id(route, "lr") == "r1"
    assert table_of(route) == "OVN_IC_Southbound.Route"
    seen: set[Route] = {route, route}  # hashable
    assert len(seen) == 1

    gw = ic_sb.Gateway(name="gw1", availability_zone=az, encaps=frozenset({uuid.uuid4()}))
    assert len(gateway_encaps(gw)) == 1
    encap = ic_sb.Encap(type="geneve", ip="192.0.2.1", gateway_name="gw1")
    encap_type: ic_sb.EncapType = encap.type
    assert encap_type == "geneve"

    # Optional columns are X | None; narrowing is required before use.
    port = nb.LogicalSwitchPort(name="lsp1", tag_request=7)
    tag: int | None = port.tag_request
    if tag is not None:
        assert tag + 1 == 8
    acl = nb.ACL(action="allow-related", direction="to-lport", match="ip4", priority=1000)
    assert acl.severity is None
    lb = nb.LoadBalancer(name="lb1", selection_fields=frozenset({"ip_src", "ip_dst"}))
    assert "ip_src" in lb.selection_fields
    qos = nb.QoS(action={"dscp": 10}, direction="from-lport", match="1", priority=1)
    assert qos.action["dscp"] == 10
    chassis = sb.Chassis(name="hv1", encaps=frozenset({uuid.uuid4()}))
    assert chassis.hostname == ""

    # The mapper, generically typed.
    row = to_row(route)
    back: Route = to_model(Route, route.uuid, row)
    assert back == route
    cls = model_for("OVN_IC_Southbound", "Route")
    assert cls is Route
    if cls is not None:
        generic: Model = to_model(cls, az, row)
        assert generic.uuid == az
    module: ModelModule = ic_sb
    assert check_compatible(module, model_schema(module)) == []
    assert ic_sb.MODELS["Route"] is Route

    # Reference fields take the NamedUUID of a row inserted in the same transaction.
    from ovsdb_ic.wire import NamedUUID

    new_az = NamedUUID("az_new")
    gw = ic_sb.Gateway(name="gw1", hostname="h", availability_zone=new_az,
                       encaps=frozenset({NamedUUID("encap_new"), uuid.uuid4()}))
    assert gw.availability_zone == new_az
    pb = ic_sb.PortBinding(availability_zone=new_az, logical_port="lp", transit_switch="ts",
                           tunnel_key=1, encap=None)
    assert pb.encap is None


if __name__ == "__main__":
    main()
