"""Remote strings: parse, print, reject with the entry and reason named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ovsdb_ic.client.remotes import Remote, parse_remote, parse_remotes
from ovsdb_ic.errors import ConfigError


def test_examples() -> None:
    assert parse_remote("tcp:127.0.0.1:6645") == Remote("tcp", host="127.0.0.1", port=6645)
    assert parse_remote("tcp:[fe80::1]:6646") == Remote("tcp", host="fe80::1", port=6646)
    assert parse_remote("ssl:ic-db.example:6645") == Remote("ssl", host="ic-db.example", port=6645)
    assert parse_remote("unix:/var/run/ovn/ovn_ic_sb_db.sock").path == (
        "/var/run/ovn/ovn_ic_sb_db.sock"
    )
    assert [str(r) for r in parse_remotes("tcp:192.168.65.3:6645, tcp:192.168.65.4:6645")] == [
        "tcp:192.168.65.3:6645", "tcp:192.168.65.4:6645"
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("192.168.65.3:6645", "a remote is tcp:HOST:PORT"),
        ("tcp:192.168.65.3", "needs HOST:PORT"),
        ("tcp:192.168.65.3:0", "port '0' is not a number from 1 to 65535"),
        ("tcp:192.168.65.3:70000", "from 1 to 65535"),
        ("tcp:fe80::1:6645", "brackets"),
        ("tcp:[fe80::zz]:6645", "not an IPv6 address"),
        ("tcp:[fe80::1]6645", "[ADDRESS]:PORT"),
        ("unix:", "socket path"),
        ("udp:1.2.3.4:5", "a remote is"),
    ],
)
def test_rejections_name_the_entry(text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_remotes(f"tcp:127.0.0.1:1,{text}", field="--ic-sb-db")
    assert exc.value.field == "--ic-sb-db"
    assert exc.value.value == text
    assert reason in str(exc.value)


def test_empty_list() -> None:
    with pytest.raises(ConfigError, match="no remote given"):
        parse_remotes(" , ")


_host = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True),
)


@given(st.sampled_from(["tcp", "ssl"]), _host, st.integers(1, 65535))
def test_network_remotes_round_trip(kind: str, host: str, port: int) -> None:
    r = parse_remote(f"{kind}:[{host}]:{port}" if ":" in host else f"{kind}:{host}:{port}")
    assert (r.kind, r.host, r.port) == (kind, host, port)
    assert parse_remote(str(r)) == r


@given(st.text(min_size=1).filter(lambda s: "," not in s and s.strip() == s))
def test_unix_round_trip(path: str) -> None:
    r = parse_remote(f"unix:{path}")
    assert r.path == path
    assert parse_remote(str(r)) == r
