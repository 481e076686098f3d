"""Misuses of the generated models that ``mypy --strict`` must reject.

Each line ending in ``# E: <code>`` must get exactly that mypy error code, and no other
line may get one (tests/unit/test_models_typing.py checks both). Never imported.
"""

from __future__ import annotations

import uuid

from ovsdb_ic.models import ic_nb, ic_sb, nb, to_model


def misuse() -> None:
    az = uuid.uuid4()
    ic_nb.TransitSwitch(name=1)  # E: arg-type
    ic_sb.Route(availability_zone=az, origin="bgp")  # E: arg-type
    ic_sb.Route(origin="static")  # E: call-arg
    ic_sb.Route(availability_zone="az1", origin="static")  # E: arg-type
    ic_nb.TransitSwitch("ts1")  # E: call-arg, arg-type
    ts = ic_nb.TransitSwitch(name="ts1")
    ts.name = "ts2"  # E: misc
    ts.external_ids["k"] = "v"  # E: index
    count: int = ts.name  # E: assignment
    ic_nb.TransitSwitch(external_ids={"k": 1})  # E: dict-item
    ic_sb.Gateway(availability_zone=az, encaps=[az])  # E: arg-type
    port = nb.LogicalSwitchPort(name="p")
    port.tag_request + 1  # E: operator
    nb.LoadBalancer(selection_fields=frozenset({"src_ip"}))  # E: arg-type
    route: ic_sb.Route = to_model(ic_nb.TransitSwitch, az, {})  # E: assignment
    ic_nb.TransitSwitch(nmae="typo")  # E: call-arg
    print(count, route)
