"""Waiting for every AZ's agent: ``ovn-ic-nbctl --wait=sb sync`` as a library call.

:func:`wait_ic_synced` increments IC-NB ``IC_NB_Global.nb_ic_cfg`` and returns once
``IC_NB_Global.sb_ic_cfg`` has reached the new value, which happens when every AZ's
agent (the C ``ovn-ic`` of OVN 24.03 or later, or this engine on such databases) has
committed its IC-SB changes for it (the protocol: :mod:`ovsdb_ic.sync.seqno`).
"""

from __future__ import annotations

from ovsdb_ic.client import Client, LiveReplica
from ovsdb_ic.errors import ConfigError
from ovsdb_ic.replica import Replica
from ovsdb_ic.wire import ops as wire_ops

__all__ = ["bump_nb_ic_cfg", "wait_ic_synced", "wait_sb_ic_cfg"]


def _check_schema(client: Client) -> None:
    schema = client.schema
    if schema is None or schema.name != "OVN_IC_Northbound":
        raise ConfigError("client", None if schema is None else schema.name,
                          "needs a client connected to OVN_IC_Northbound")
    table = schema.tables.get("IC_NB_Global")
    if table is None or not {"nb_ic_cfg", "sb_ic_cfg"} <= set(table.columns):
        raise ConfigError("IC_NB_Global", schema.version,
                          "this IC-NB schema has no nb_ic_cfg/sb_ic_cfg columns (they "
                          "come with OVN 24.03)")


async def bump_nb_ic_cfg(client: Client) -> int:
    """Increment ``IC_NB_Global.nb_ic_cfg`` and return its new value.

    Raises ConfigError when the schema lacks the column or the database has no
    ``IC_NB_Global`` row yet (``ovn-ic-nbctl init`` or any 24.03+ agent creates it).
    """
    _check_schema(client)
    assert client.schema is not None
    schema = client.schema
    result = await client.transact([
        wire_ops.mutate(schema, "IC_NB_Global", [], [wire_ops.Mutation("nb_ic_cfg", "+=", 1)]),
        wire_ops.select(schema, "IC_NB_Global", [], ["nb_ic_cfg"]),
    ])
    rows = result[1].rows or ()
    if not rows:
        raise ConfigError("IC_NB_Global", None,
                          "the IC-NB database has no IC_NB_Global row yet (run "
                          "ovn-ic-nbctl init, or start an agent)")
    return int(rows[0]["nb_ic_cfg"])


async def wait_sb_ic_cfg(live: LiveReplica, target: int) -> None:
    """Return once the replica's ``IC_NB_Global.sb_ic_cfg`` is at least ``target``."""

    def synced(replica: Replica) -> bool:
        return any(int(row["sb_ic_cfg"]) >= target for row in replica.table("IC_NB_Global"))

    await live.wait_for(synced)


async def wait_ic_synced(client: Client, *, live: LiveReplica | None = None) -> int:
    """Increment ``nb_ic_cfg`` and wait until every AZ's agent has synced it, as
    ``ovn-ic-nbctl --wait=sb sync``; return the value waited for.

    ``client`` is connected to ``OVN_IC_Northbound`` (24.03 or newer schema); ``live``
    an existing replica of its ``IC_NB_Global`` with ``sb_ic_cfg`` (otherwise one is
    made and its monitor cancelled at the end). No timeout of its own: it lasts
    until every AZ has taken part, so bound it with ``trio.fail_after``.
    """
    _check_schema(client)
    own = live is None
    if live is None:
        live = await client.replicate({"IC_NB_Global": ["nb_ic_cfg", "sb_ic_cfg"]})
    try:
        target = await bump_nb_ic_cfg(client)
        await wait_sb_ic_cfg(live, target)
        return target
    finally:
        if own:
            await client.monitor_cancel(live.monitor)
