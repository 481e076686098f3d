"""Failover policy: backoff, remote order, and what ``_Server`` says about a server.

Everything here is plain data and pure functions (no sockets); the client in
:mod:`ovsdb_ic.client.connection` applies them. See docs/failover.md.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

import attrs

from ovsdb_ic.client.remotes import Remote
from ovsdb_ic.errors import ConfigError
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr

__all__ = [
    "Backoff",
    "ClientStats",
    "Role",
    "ServerStatus",
    "judge_server",
    "round_order",
]

Role: TypeAlias = Literal["leader", "follower", "standalone", "relay", "unknown"]
"""What the connected server is for our database."""


def _positive(field: str) -> Any:
    def check(_inst: Any, _attr: Any, value: float) -> None:
        if not isinstance(value, int | float) or isinstance(value, bool) or not (
            math.isfinite(value) and value > 0
        ):
            raise ConfigError(field, value, "must be a positive number of seconds")

    return check


@attrs.frozen(repr=False, eq=False)
class Backoff:
    """Exponential backoff with jitter between rounds of connection attempts.

    After the ``n``-th round in a row in which every remote failed, the client
    sleeps ``min(maximum, initial * multiplier ** (n - 1))`` scaled by a random
    factor in ``[1 - jitter, 1]``. A successful connection starts over.
    """

    initial: float = attrs.field(default=0.1, validator=_positive("backoff.initial"))
    maximum: float = attrs.field(default=5.0, validator=_positive("backoff.maximum"))
    multiplier: float = attrs.field(default=2.0)
    jitter: float = attrs.field(default=0.5)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.multiplier, int | float) or not self.multiplier >= 1:
            raise ConfigError("backoff.multiplier", self.multiplier, "must be at least 1")
        if not isinstance(self.jitter, int | float) or not 0 <= self.jitter < 1:
            raise ConfigError("backoff.jitter", self.jitter, "must be in [0, 1)")
        if self.maximum < self.initial:
            raise ConfigError("backoff.maximum", self.maximum,
                              f"must not be below backoff.initial ({self.initial})")

    def delay(self, failed_rounds: int, rng: random.Random) -> float:
        """The sleep after ``failed_rounds`` (>= 1) consecutive failed rounds."""
        exponent = max(0, failed_rounds - 1)
        if self.multiplier > 1:
            # Past this many doublings the cap applies anyway; stopping there keeps the
            # power finite after any number of failed rounds.
            enough = math.ceil(math.log(self.maximum / self.initial) / math.log(self.multiplier))
            exponent = min(exponent, enough + 1)
        base = min(self.maximum, self.initial * self.multiplier ** exponent)
        return base * (1.0 - self.jitter * rng.random())

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


def round_order(
    remotes: Sequence[Remote],
    *,
    shuffle: bool,
    last: Remote | None,
    rng: random.Random,
) -> list[Remote]:
    """The order of one round of attempts: every remote exactly once.

    Fixed order starts after ``last`` (the remote just lost or just failed) and
    wraps around; shuffled order is a fresh random permutation with ``last``
    moved to the end, so a dead server is not retried first.
    """
    order = list(remotes)
    if shuffle:
        rng.shuffle(order)
        if last is not None and last in order and len(order) > 1:
            order.remove(last)
            order.append(last)
        return order
    if last is not None and last in order:
        i = order.index(last) + 1
        order = order[i:] + order[:i]
    return order


@attrs.frozen(repr=False, eq=False)
class ServerStatus:
    """Our database's row of the server's ``_Server.Database`` table."""

    model: str
    """``standalone``, ``clustered`` or ``relay``."""
    connected: bool
    """For a cluster member: whether it is connected to a quorum."""
    leader: bool
    """For a cluster member: whether it is the Raft leader (always true when standalone)."""
    index: int | None = None
    """The Raft log index the member has applied (clustered only)."""
    cid: uuid.UUID | None = None
    """The cluster id (clustered only)."""
    sid: uuid.UUID | None = None
    """The member's server id (clustered only)."""

    @property
    def role(self) -> Role:
        """leader, follower, standalone or relay."""
        if self.model == "clustered":
            return "leader" if self.leader else "follower"
        if self.model in ("standalone", "relay"):
            return self.model  # type: ignore[return-value]
        return "unknown"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ServerStatus:
        """From a decoded ``_Server.Database`` row."""
        return cls(
            model=str(row.get("model", "")),
            connected=bool(row.get("connected", False)),
            leader=bool(row.get("leader", False)),
            index=row.get("index"),
            cid=row.get("cid"),
            sid=row.get("sid"),
        )

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


def judge_server(
    status: ServerStatus,
    *,
    leader_only: bool,
    cluster_id: uuid.UUID | None,
    min_index: int,
) -> tuple[str | None, bool]:
    """Whether a server may serve us: ``(reason to refuse or None, transient)``.

    Only clustered and relay databases are judged: a relay is refused with
    ``leader_only``. A member is refused when it is not
    connected to its cluster, not the leader (with ``leader_only``), of another
    cluster than the one pinned (``cluster_id``, compared in full), or behind
    the highest Raft index already seen (a stale replica). ``transient`` tells
    whether waiting may fix it (all but another cluster).
    """
    if status.model == "relay" and leader_only:
        # As python-ovs and the C IDL: a relay is never the leader; reading from
        # one is what leader_only=False is for.
        return "is a relay, which cannot be the leader (connect with leader_only=False)", False
    if status.model != "clustered":
        return None, False
    if cluster_id is not None and status.cid is not None and status.cid != cluster_id:
        return f"serves cluster {status.cid}, not the pinned cluster {cluster_id}", False
    if not status.connected:
        return "is not connected to its cluster", True
    if leader_only and not status.leader:
        return "is not the cluster leader", True
    if status.index is not None and status.index < min_index:
        return f"is stale: Raft index {status.index} is behind {min_index} already seen", True
    return None, False


@attrs.define(repr=False, eq=False)
class ClientStats:
    """What the client has been through (``client.stats``); counters only grow."""

    remote: str | None = None
    """The remote currently connected, or None while reconnecting."""
    role: Role | None = None
    """The connected server's role for our database (None before the first check)."""
    cluster_id: uuid.UUID | None = None
    """The pinned Raft cluster id, once learned."""
    max_index: int = 0
    """The highest Raft index seen on any member."""
    connects: int = 0
    """Successful connections (handshake done), the first one included."""
    reconnects: int = 0
    """Successful connections after a lost one."""
    failed_attempts: int = 0
    """Connection attempts that failed (refused, timed out, rejected)."""
    rejected: int = 0
    """Servers refused by the role checks (not leader, not connected, stale, other cluster)."""
    leader_changes: int = 0
    """Connections dropped because the server stopped being acceptable (e.g. lost leadership)."""
    resumes: int = 0
    """Monitors resumed after a reconnect with only the changes since (``found=true``)."""
    resyncs: int = 0
    """Monitors that needed a full copy after a reconnect (``found=false`` or no resume)."""
    resent: int = 0
    """Requests sent again after a reconnect (never sent, or declared idempotent)."""
    outcome_unknown: int = 0
    """Transactions that failed with OutcomeUnknownError."""
    failover_durations: list[float] = attrs.field(factory=list)
    """Seconds from each lost connection to the next ready one."""
    last_failure: str | None = None
    """Why the last connection or attempt failed."""

    __repr__ = attrs_repr
    __eq__ = attrs_eq
