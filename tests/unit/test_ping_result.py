"""Reading ``ping`` (iputils) output: :class:`~ovsdb_ic.testing.dataplane.PingResult`."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ovsdb_ic.testing.dataplane import PingResult

ALL_ANSWERED = """\
PING 10.16.0.2 (10.16.0.2) 56(84) bytes of data.
64 bytes from 10.16.0.2: icmp_seq=1 ttl=62 time=0.444 ms
64 bytes from 10.16.0.2: icmp_seq=2 ttl=62 time=0.488 ms
64 bytes from 10.16.0.2: icmp_seq=3 ttl=62 time=0.597 ms

--- 10.16.0.2 ping statistics ---
3 packets transmitted, 3 received, 0% packet loss, time 405ms
rtt min/avg/max/mdev = 0.444/0.509/0.597/0.064 ms
"""

UNREACHABLE = """\
PING 10.22.0.2 (10.22.0.2) 56(84) bytes of data.
From 10.16.0.1 icmp_seq=1 Destination Net Unreachable

--- 10.22.0.2 ping statistics ---
3 packets transmitted, 0 received, +1 errors, 100% packet loss, time 406ms
"""


def test_all_answered() -> None:
    result = PingResult.parse(ALL_ANSWERED)
    assert (result.transmitted, result.received, result.lost) == (3, 3, 0)
    assert result.summary == "3 packets transmitted, 3 received, 0% packet loss, time 405ms"


def test_none_answered_with_errors() -> None:
    result = PingResult.parse(UNREACHABLE)
    assert (result.transmitted, result.received, result.lost) == (3, 0, 3)
    assert result.summary.startswith("3 packets transmitted, 0 received, +1 errors")


def test_no_summary_means_nothing_sent() -> None:
    result = PingResult.parse("ping: connect: Network is unreachable\n")
    assert (result.transmitted, result.received, result.summary) == (0, 0, "")


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 5),
       st.sampled_from(["", "+1 duplicates, ", "+2 errors, "]))
def test_counts_round_trip(sent: int, answered: int, noise: int, extra: str) -> None:
    received = min(sent, answered)
    loss = 0 if sent == 0 else 100 * (sent - received) // sent
    text = ("64 bytes from 10.0.0.1: icmp_seq=1\n" * noise
            + f"--- 10.0.0.1 ping statistics ---\n{sent} packets transmitted, {received} "
            f"received, {extra}{loss}% packet loss, time 1ms\n")
    result = PingResult.parse(text)
    assert (result.transmitted, result.received) == (sent, received)
    assert result.lost == sent - received
    assert result.summary.startswith(f"{sent} packets transmitted")
