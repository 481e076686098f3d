"""The failover policy, without sockets: Backoff, round_order, ServerStatus and judge_server.

Property tests against small reference models written here from the documented rules
(docs/failover.md), plus the examples that pin the exact behaviour: the full cluster id is
compared (not the four-digit short id ovsdb-server prints), and only "another cluster" is a
permanent refusal.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ovsdb_ic.client.failover import Backoff, ServerStatus, judge_server, round_order
from ovsdb_ic.client.remotes import Remote
from ovsdb_ic.errors import ConfigError

SETTINGS = settings(max_examples=100, deadline=None)


class FixedRandom(random.Random):
    """A Random whose ``random()`` always returns ``value`` (the jitter extremes)."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


# ------------------------------------------------------------------------------ Backoff

_seconds = st.floats(min_value=1e-3, max_value=60.0, allow_nan=False, allow_infinity=False)


@st.composite
def backoffs(draw: st.DrawFn) -> Backoff:
    initial = draw(_seconds)
    maximum = draw(st.floats(min_value=initial, max_value=120.0, allow_nan=False))
    multiplier = draw(st.one_of(st.just(1.0), st.floats(min_value=1.0, max_value=10.0),
                                st.integers(1, 5)))
    jitter = draw(st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=0.999)))
    return Backoff(initial=initial, maximum=maximum, multiplier=multiplier, jitter=jitter)


def _base(b: Backoff, n: int) -> float:
    """The un-jittered delay after ``n`` failed rounds (the documented formula)."""
    return min(b.maximum, b.initial * b.multiplier ** max(0, n - 1))


def test_defaults() -> None:
    b = Backoff()
    assert (b.initial, b.maximum, b.multiplier, b.jitter) == (0.1, 5.0, 2.0, 0.5)
    no_jitter = FixedRandom(0.0)
    assert [b.delay(n, no_jitter) for n in range(1, 9)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    )


@SETTINGS
@given(backoffs(), st.integers(1, 200), st.integers(0, 2**32))
def test_delay_is_within_the_jitter_range_of_the_capped_base(
    b: Backoff, n: int, seed: int
) -> None:
    base = _base(b, n)
    d = b.delay(n, random.Random(seed))
    assert base * (1 - b.jitter) - 1e-12 <= d <= base + 1e-12
    assert 0 < d <= b.maximum + 1e-12


@SETTINGS
@given(backoffs(), st.integers(1, 200))
def test_jitter_extremes(b: Backoff, n: int) -> None:
    base = _base(b, n)
    # random() == 0: no reduction; random() -> 1: the full jitter is taken off.
    assert b.delay(n, FixedRandom(0.0)) == pytest.approx(base)
    assert b.delay(n, FixedRandom(math.nextafter(1.0, 0.0))) == pytest.approx(
        base * (1 - b.jitter)
    )


@SETTINGS
@given(backoffs(), st.integers(1, 100))
def test_caps_grow_monotonically_up_to_the_maximum(b: Backoff, n: int) -> None:
    flat = FixedRandom(0.0)
    assert b.delay(n, flat) <= b.delay(n + 1, flat) + 1e-12
    assert b.delay(1, flat) == pytest.approx(b.initial)
    if b.multiplier > 1:
        # It reaches the cap after enough rounds and stays there.
        rounds = 2 + math.ceil(math.log(b.maximum / b.initial) / math.log(b.multiplier))
        assert b.delay(rounds, flat) == pytest.approx(b.maximum)
        assert b.delay(rounds + 7, flat) == pytest.approx(b.maximum)
    else:
        assert b.delay(n, flat) == pytest.approx(b.initial)


@SETTINGS
@given(backoffs(), st.integers(0, 2**32), st.integers(1, 50))
def test_same_seed_same_delays(b: Backoff, seed: int, n: int) -> None:
    r1, r2 = random.Random(seed), random.Random(seed)
    assert [b.delay(i, r1) for i in range(1, n)] == [b.delay(i, r2) for i in range(1, n)]


def test_zero_rounds_is_the_initial_delay() -> None:
    assert Backoff(jitter=0).delay(0, random.Random(1)) == 0.1


@SETTINGS
@given(backoffs(), st.integers(1000, 10**9))
def test_delay_after_very_many_failed_rounds_is_still_the_cap(b: Backoff, n: int) -> None:
    # A cluster unreachable for hours: the power must not overflow (2.0 ** 1024 does).
    # The documented formula, worked out in logarithms so the expectation cannot overflow
    # either: a multiplier just above 1 may not have reached the cap after 1000 rounds.
    if b.multiplier > 1 and (n - 1) * math.log(b.multiplier) >= math.log(b.maximum / b.initial):
        expected = b.maximum
    else:
        expected = min(b.maximum, b.initial * b.multiplier ** (n - 1))
    assert b.delay(n, FixedRandom(0.0)) == pytest.approx(expected)


@pytest.mark.parametrize("b", [Backoff(), Backoff(initial=1.0, maximum=1.0, multiplier=2),
                               Backoff(initial=1e-3, maximum=60.0, multiplier=1.0001)],
                         ids=["defaults", "int-multiplier", "barely-growing"])
@pytest.mark.parametrize("n", [10**6, 10**12])
def test_no_overflow_examples(b: Backoff, n: int) -> None:
    assert b.delay(n, FixedRandom(0.0)) == pytest.approx(b.maximum)
    # 1025 rounds is where the defaults used to overflow (0.1 * 2.0 ** 1024).
    assert Backoff().delay(1025, FixedRandom(0.0)) == 5.0


_not_positive = st.one_of(
    st.floats(max_value=0.0),
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.integers(max_value=0),
    st.just(True),
    st.just("1"),
    st.none(),
)


@SETTINGS
@given(_not_positive)
def test_initial_must_be_a_positive_number(value: Any) -> None:
    with pytest.raises(ConfigError) as exc:
        Backoff(initial=value, maximum=10.0)
    assert exc.value.field == "backoff.initial"
    assert "backoff.initial" in str(exc.value)


@SETTINGS
@given(_not_positive)
def test_maximum_must_be_a_positive_number(value: Any) -> None:
    with pytest.raises(ConfigError) as exc:
        Backoff(initial=0.1, maximum=value)
    assert exc.value.field == "backoff.maximum"


@SETTINGS
@given(st.one_of(st.floats(max_value=0.9999), st.just(math.nan), st.just("2"), st.none()))
def test_multiplier_must_be_at_least_one(value: Any) -> None:
    assume(not (isinstance(value, float) and value >= 1))
    with pytest.raises(ConfigError) as exc:
        Backoff(multiplier=value)
    assert exc.value.field == "backoff.multiplier"
    assert "at least 1" in exc.value.reason


@SETTINGS
@given(st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0), st.just(math.nan),
                 st.just("0.5"), st.none()))
def test_jitter_must_be_in_zero_one(value: Any) -> None:
    with pytest.raises(ConfigError) as exc:
        Backoff(jitter=value)
    assert exc.value.field == "backoff.jitter"


@SETTINGS
@given(_seconds, st.floats(min_value=1e-3, max_value=60.0))
def test_maximum_below_initial_is_refused(initial: float, maximum: float) -> None:
    assume(maximum < initial)
    with pytest.raises(ConfigError) as exc:
        Backoff(initial=initial, maximum=maximum)
    assert exc.value.field == "backoff.maximum"
    assert "backoff.initial" in exc.value.reason


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"backoff\.jitter"):
        Backoff(jitter=1)


# --------------------------------------------------------------------------- round_order

_remote = st.one_of(
    st.builds(lambda port: Remote("tcp", host="127.0.0.1", port=port), st.integers(1, 65535)),
    st.builds(lambda port: Remote("ssl", host="ic-db.example", port=port),
              st.integers(1, 65535)),
    st.builds(lambda n: Remote("unix", path=f"/run/ovn/db{n}.sock"), st.integers(0, 99)),
)
_remote_lists = st.lists(_remote, min_size=1, max_size=8, unique=True)


@SETTINGS
@given(_remote_lists, st.booleans(), st.data(), st.integers(0, 2**32))
def test_every_remote_exactly_once(
    remotes: list[Remote], shuffle: bool, data: st.DataObject, seed: int
) -> None:
    last = data.draw(st.one_of(st.none(), st.sampled_from(remotes), _remote))
    before = list(remotes)
    order = round_order(tuple(remotes), shuffle=shuffle, last=last, rng=random.Random(seed))
    assert Counter(order) == Counter(remotes)
    assert remotes == before  # the input is left alone


@SETTINGS
@given(st.lists(_remote, min_size=1, max_size=8), st.booleans(), st.data())
def test_duplicates_keep_their_multiplicity(
    remotes: list[Remote], shuffle: bool, data: st.DataObject
) -> None:
    last = data.draw(st.one_of(st.none(), st.sampled_from(remotes)))
    order = round_order(remotes, shuffle=shuffle, last=last, rng=random.Random(3))
    assert Counter(order) == Counter(remotes)


@SETTINGS
@given(_remote_lists, st.data())
def test_fixed_order_rotates_to_start_after_last(
    remotes: list[Remote], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(remotes) - 1))
    order = round_order(remotes, shuffle=False, last=remotes[i], rng=random.Random(0))
    assert order == remotes[i + 1:] + remotes[: i + 1]
    assert order[-1] == remotes[i]


@SETTINGS
@given(_remote_lists, st.one_of(st.none(), _remote))
def test_fixed_order_without_a_known_last_is_the_given_order(
    remotes: list[Remote], last: Remote | None
) -> None:
    assume(last not in remotes)
    assert round_order(remotes, shuffle=False, last=last, rng=random.Random(0)) == remotes


@SETTINGS
@given(st.lists(_remote, min_size=2, max_size=8, unique=True), st.data(),
       st.integers(0, 2**32))
def test_shuffled_order_puts_last_at_the_end(
    remotes: list[Remote], data: st.DataObject, seed: int
) -> None:
    last = data.draw(st.sampled_from(remotes))
    order = round_order(remotes, shuffle=True, last=last, rng=random.Random(seed))
    assert order[-1] == last
    assert last not in order[:-1]


def test_single_remote_is_retried() -> None:
    only = Remote("tcp", host="127.0.0.1", port=6645)
    for shuffle in (False, True):
        assert round_order([only], shuffle=shuffle, last=only, rng=random.Random(1)) == [only]


def test_shuffled_order_is_random_and_seeded() -> None:
    remotes = [Remote("tcp", host="127.0.0.1", port=p) for p in (6641, 6642, 6643, 6644)]
    firsts = Counter(
        round_order(remotes, shuffle=True, last=None, rng=random.Random(seed))[0]
        for seed in range(400)
    )
    # Every remote gets to be first, roughly equally often (expected 100 each).
    assert set(firsts) == set(remotes)
    assert min(firsts.values()) > 50
    # With ``last`` given, the others still take turns at the front.
    fronts = {round_order(remotes, shuffle=True, last=remotes[0], rng=random.Random(s))[0]
              for s in range(100)}
    assert fronts == set(remotes[1:])
    a = round_order(remotes, shuffle=True, last=None, rng=random.Random(7))
    b = round_order(remotes, shuffle=True, last=None, rng=random.Random(7))
    assert a == b


# --------------------------------------------------------------------- ServerStatus, judge

CID = uuid.UUID("c0ffee00-1111-4222-8333-444455556666")


@st.composite
def statuses(draw: st.DrawFn, model: str | None = None) -> ServerStatus:
    m = model or draw(st.sampled_from(["clustered", "standalone", "relay"]))
    clustered = m == "clustered"
    return ServerStatus(
        model=m,
        connected=draw(st.booleans()),
        leader=draw(st.booleans()),
        index=draw(st.one_of(st.none(), st.integers(0, 1000))) if clustered else None,
        cid=draw(st.one_of(st.none(), st.just(CID), st.uuids())) if clustered else None,
        sid=draw(st.one_of(st.none(), st.uuids())) if clustered else None,
    )


def reference_judge(
    s: ServerStatus, *, leader_only: bool, cluster_id: uuid.UUID | None, min_index: int
) -> tuple[str | None, bool]:
    """The documented rules, as the kind of refusal rather than its wording."""
    if s.model == "relay" and leader_only:
        return "relay", False
    if s.model != "clustered":
        return None, False
    if cluster_id is not None and s.cid is not None and s.cid != cluster_id:
        return "cluster", False
    if not s.connected:
        return "not connected", True
    if leader_only and not s.leader:
        return "not the cluster leader", True
    if s.index is not None and s.index < min_index:
        return "stale", True
    return None, False


@SETTINGS
@given(statuses(), st.booleans(), st.one_of(st.none(), st.just(CID), st.uuids()),
       st.integers(0, 1000))
def test_judge_matches_the_documented_rules(
    s: ServerStatus, leader_only: bool, cluster_id: uuid.UUID | None, min_index: int
) -> None:
    reason, transient = judge_server(s, leader_only=leader_only, cluster_id=cluster_id,
                                     min_index=min_index)
    want, want_transient = reference_judge(s, leader_only=leader_only, cluster_id=cluster_id,
                                           min_index=min_index)
    if want is None:
        assert reason is None
    else:
        assert reason is not None and want in reason
    assert transient == want_transient
    if reason is None:
        assert not transient


def _member(**kw: Any) -> ServerStatus:
    base: dict[str, Any] = {"model": "clustered", "connected": True, "leader": True,
                            "index": 10, "cid": CID, "sid": uuid.uuid4()}
    base.update(kw)
    return ServerStatus(**base)


def test_a_healthy_leader_is_accepted() -> None:
    assert judge_server(_member(), leader_only=True, cluster_id=CID, min_index=10) == (None,
                                                                                         False)
    # Not pinned yet, no index seen yet: accepted too.
    assert judge_server(_member(), leader_only=True, cluster_id=None, min_index=0) == (None,
                                                                                        False)


def test_each_refusal_reason() -> None:
    reason, transient = judge_server(_member(connected=False), leader_only=True,
                                     cluster_id=CID, min_index=0)
    assert reason == "is not connected to its cluster" and transient
    reason, transient = judge_server(_member(leader=False), leader_only=True,
                                     cluster_id=CID, min_index=0)
    assert reason == "is not the cluster leader" and transient
    reason, transient = judge_server(_member(index=9), leader_only=True,
                                     cluster_id=CID, min_index=10)
    assert reason is not None and transient
    assert "stale" in reason and "9" in reason and "10" in reason
    other = uuid.UUID("c0ffee00-1111-4222-8333-444455556667")
    reason, transient = judge_server(_member(cid=other), leader_only=True,
                                     cluster_id=CID, min_index=0)
    assert reason is not None and not transient
    assert str(other) in reason and str(CID) in reason


def test_a_follower_is_fine_without_leader_only() -> None:
    assert judge_server(_member(leader=False), leader_only=False, cluster_id=CID,
                        min_index=0) == (None, False)
    # ... but still not when disconnected from its cluster or stale.
    assert judge_server(_member(leader=False, connected=False), leader_only=False,
                        cluster_id=CID, min_index=0)[0] == "is not connected to its cluster"
    assert "stale" in str(judge_server(_member(leader=False, index=3), leader_only=False,
                                       cluster_id=CID, min_index=4)[0])


@SETTINGS
@given(st.uuids(), st.integers(0, 31))
def test_the_full_cluster_id_is_compared(pinned: uuid.UUID, bit: int) -> None:
    # Same short id (first four hex digits, what cluster/status prints), same prefix
    # even: only one bit of the low part differs, and it is still another cluster.
    other = uuid.UUID(int=pinned.int ^ (1 << bit))
    assert str(other)[:4] == str(pinned)[:4]
    reason, transient = judge_server(_member(cid=other), leader_only=False,
                                     cluster_id=pinned, min_index=0)
    assert reason is not None and "cluster" in reason and not transient
    assert judge_server(_member(cid=pinned), leader_only=False, cluster_id=pinned,
                        min_index=0) == (None, False)


def test_another_cluster_wins_over_the_transient_reasons() -> None:
    # Waiting cannot fix a server of another cluster, whatever else is wrong with it.
    other = uuid.uuid4()
    s = _member(cid=other, connected=False, leader=False, index=0)
    reason, transient = judge_server(s, leader_only=True, cluster_id=CID, min_index=99)
    assert reason is not None and str(other) in reason and not transient


def test_equal_index_is_not_stale_and_missing_index_is_not_judged() -> None:
    assert judge_server(_member(index=10), leader_only=True, cluster_id=CID,
                        min_index=10) == (None, False)
    assert judge_server(_member(index=None), leader_only=True, cluster_id=CID,
                        min_index=10**9) == (None, False)


@SETTINGS
@given(statuses(model="standalone"), st.booleans(), st.integers(0, 10**6))
def test_standalone_is_never_judged(s: ServerStatus, leader_only: bool, min_index: int) -> None:
    assert judge_server(s, leader_only=leader_only, cluster_id=uuid.uuid4(),
                        min_index=min_index) == (None, False)


def test_a_relay_serves_without_leader_only() -> None:
    relay = ServerStatus(model="relay", connected=True, leader=False)
    assert relay.role == "relay"
    assert judge_server(relay, leader_only=False, cluster_id=CID, min_index=5) == (None, False)


@SETTINGS
@given(statuses(model="relay"), st.one_of(st.none(), st.uuids()), st.integers(0, 10**6))
def test_leader_only_refuses_a_relay(
    relay: ServerStatus, cluster_id: uuid.UUID | None, min_index: int
) -> None:
    # As the C IDL and python-ovs: a relay is never the leader, and waiting cannot make
    # it one, so the refusal is not transient.
    reason, transient = judge_server(relay, leader_only=True, cluster_id=cluster_id,
                                     min_index=min_index)
    assert reason is not None and "relay" in reason and "leader_only=False" in reason
    assert not transient


@pytest.mark.parametrize(
    ("row", "role"),
    [
        ({"model": "clustered", "connected": True, "leader": True}, "leader"),
        ({"model": "clustered", "connected": True, "leader": False}, "follower"),
        ({"model": "standalone", "connected": True, "leader": True}, "standalone"),
        ({"model": "relay", "connected": True, "leader": False}, "relay"),
        ({"model": "something-new"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_role_from_row(row: dict[str, Any], role: str) -> None:
    assert ServerStatus.from_row(row).role == role


def test_from_row_keeps_the_raft_fields() -> None:
    sid = uuid.uuid4()
    s = ServerStatus.from_row({"name": "Failover", "model": "clustered", "connected": True,
                               "leader": False, "index": 42, "cid": CID, "sid": sid})
    assert (s.index, s.cid, s.sid, s.connected, s.leader) == (42, CID, sid, True, False)
    missing = ServerStatus.from_row({"model": "clustered"})
    assert (missing.connected, missing.leader, missing.index, missing.cid) == (
        False, False, None, None)
