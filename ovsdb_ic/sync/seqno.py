"""The ``nb_ic_cfg`` / ``sb_ic_cfg`` sequence numbers (OVN 24.03 and later).

A user (``ovn-ic-nbctl --wait=sb sync``, or :func:`ovsdb_ic.sync.waiting.wait_ic_synced`) increments
IC-NB ``IC_NB_Global.nb_ic_cfg`` and waits until ``IC_NB_Global.sb_ic_cfg`` reaches
it. Every AZ's agent takes part, as 25.03's ``ovn-ic`` (``update_sequence_numbers``)
does, once per pass and after the other planners:

1. ``IC_NB_Global`` or IC-SB ``IC_SB_Global`` missing: it is inserted (values 0).
2. IC-NB's ``nb_ic_cfg`` differs from IC-SB's and from this AZ's
   ``Availability_Zone.nb_ic_cfg``: the AZ's counter goes up by one (from 0 after
   the largest 64-bit value) in the same IC-SB transaction as the pass's other
   changes, and the agent's *next* value becomes IC-NB's ``nb_ic_cfg``.
3. Otherwise, the AZ's counter differs from the agent's *current* value: it is set
   to it (a restarted agent starts at 0, as C's ``ovsdb_idl_loop``).
4. Otherwise, when every AZ's counter equals this AZ's and IC-NB's ``nb_ic_cfg``
   differs from IC-SB's: IC-SB ``IC_SB_Global.nb_ic_cfg`` and IC-NB
   ``IC_NB_Global.sb_ic_cfg`` are set to it, which is what the waiting user sees.

The current/next pair is the runner's state (:class:`IcCfg`): after a pass whose
IC-SB transaction committed, or had nothing to commit, *current* becomes *next*
(C's ``ovsdb_idl_loop_commit_and_wait``). The planner is pure: it takes the pair
and returns the plan and the new pair.
"""

from __future__ import annotations

from typing import Final

import attrs

from ovsdb_ic.ic.databases import Requirements, Snapshot, first_row
from ovsdb_ic.sync.az import local_az
from ovsdb_ic.sync.plan import Insert, Op, Plan, Update
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr

__all__ = ["REQUIREMENTS", "IcCfg", "plan_sequence_numbers"]

_LLONG_MAX: Final = (1 << 63) - 1

REQUIREMENTS: Final = Requirements(
    tables={
        "ic_nb": {"IC_NB_Global": ("nb_ic_cfg", "sb_ic_cfg", "options")},
        "ic_sb": {"IC_SB_Global": ("nb_ic_cfg",), "Availability_Zone": ("name", "nb_ic_cfg")},
    },
)
"""What :func:`plan_sequence_numbers` reads (the columns exist from IC-NB 1.1.0 and
IC-SB 1.2.0, OVN 24.03)."""


@attrs.frozen(repr=False, eq=False)
class IcCfg:
    """The agent's own sequence state: C's ``ovsdb_idl_loop`` ``cur_cfg`` and
    ``next_cfg`` of the IC-SB connection (both 0 when the agent starts)."""

    current: int = 0
    """The IC-NB ``nb_ic_cfg`` this agent's IC-SB changes are known to be committed for."""
    next: int = 0
    """The IC-NB ``nb_ic_cfg`` the pending IC-SB transaction is for."""

    def committed(self) -> IcCfg:
        """The state after the IC-SB transaction of a pass committed (or was empty)."""
        return IcCfg(self.next, self.next)

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


def plan_sequence_numbers(snap: Snapshot, cfg: IcCfg | None = None) -> tuple[Plan, IcCfg]:
    """One pass of the sequence number protocol (module doc): the operations and the
    agent's new :class:`IcCfg`. Empty when this AZ is not registered yet."""
    cfg = cfg or IcCfg()
    az = local_az(snap)
    if az is None:
        return Plan(), cfg
    ops: list[Op] = []
    ic_nb = first_row(snap.ic_nb, "IC_NB_Global")
    ic_sb = first_row(snap.ic_sb, "IC_SB_Global")
    if ic_nb is None:
        ops.append(Insert("ic_nb", "IC_NB_Global", {}))
    if ic_sb is None:
        ops.append(Insert("ic_sb", "IC_SB_Global", {}))
    inb = int(ic_nb["nb_ic_cfg"]) if ic_nb is not None else 0
    isb = int(ic_sb["nb_ic_cfg"]) if ic_sb is not None else 0
    mine = int(az["nb_ic_cfg"])
    if inb != isb and inb != mine:
        value = 1 if mine == _LLONG_MAX else mine + 1
        ops.append(Update("ic_sb", "Availability_Zone", az.uuid, {"nb_ic_cfg": value}))
        return Plan(tuple(ops)), IcCfg(cfg.current, inb)
    if mine != cfg.current:
        ops.append(Update("ic_sb", "Availability_Zone", az.uuid, {"nb_ic_cfg": cfg.current}))
        return Plan(tuple(ops)), cfg
    if any(int(other["nb_ic_cfg"]) != mine for other in snap.ic_sb.table("Availability_Zone")):
        return Plan(tuple(ops)), cfg
    if inb != isb and ic_nb is not None and ic_sb is not None:
        ops.append(Update("ic_sb", "IC_SB_Global", ic_sb.uuid, {"nb_ic_cfg": mine}))
        ops.append(Update("ic_nb", "IC_NB_Global", ic_nb.uuid, {"sb_ic_cfg": mine}))
    return Plan(tuple(ops)), cfg
