"""The address codec: IP prefixes, addresses and MACs as OVN reads and writes them (pure).

They parse and print addresses the way OVN's C code does, so that the strings the
engine writes are the ones ``ovn-ic`` would write:

* :func:`parse_cidr` accepts what ``ip46_parse_cidr`` accepts: ``A.B.C.D``,
  ``A.B.C.D/LEN``, ``A.B.C.D/M.M.M.M`` (a CIDR mask), an IPv6 address with an
  optional ``/LEN``. The address keeps its host bits (``10.16.0.1/16`` stays
  ``10.16.0.1/16``). IPv4-mapped IPv6 addresses (``::ffff:0:0/96``) are refused:
  OVN would silently treat them as IPv4, which no sane route means;
* :meth:`Cidr.__str__` / :func:`format_address` print IPv4 dotted-decimal and IPv6
  as glibc's ``inet_ntop`` does (lowercase, longest zero run of two or more groups
  compressed, ``::a.b.c.d`` for IPv4-compatible addresses);
* :func:`parse_mac` and :func:`eui64_link_local` derive the EUI-64 link-local
  address of a port from its MAC (``in6_generate_lla``);
* :func:`parse_route_prefix` and :func:`normalize_prefix` read a route's prefix or
  next hop as ``ovn-nbctl lr-route-list`` does (``ip_parse_cidr`` then
  ``ipv6_parse_cidr``: more lenient than ``ip46_parse_cidr``, IPv4-mapped addresses
  included) and print it as ``normalize_prefix_str`` does.

One codec for every layer: the sync planners, the Kube-OVN planners and the
``lr-route-list`` renderer all parse and print addresses here.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Final

import attrs

from ovsdb_ic.wire._attrs import attrs_repr

__all__ = [
    "Cidr",
    "cidr_text",
    "eui64_link_local",
    "format_address",
    "is_link_local_nexthop",
    "normalize_prefix",
    "parse_address",
    "parse_cidr",
    "parse_cidr_list",
    "parse_mac",
    "parse_route_prefix",
]

_LEN_RE: Final = re.compile(r"[0-9]{1,3}\Z")
_V6_CHARS_RE: Final = re.compile(r"[0-9A-Fa-f:.]+\Z")
_MAC_RE: Final = re.compile(r"([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2}):"
                            r"([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2})\Z")
_BITS: Final = {4: 32, 6: 128}
_V4_MAPPED: Final = 0xFFFF << 32
_LLA_V4: Final = 0xA9FE0000  # 169.254.0.0
_LLA_V6_10: Final = 0xFE80 << 112  # fe80::
_LLA_V6_64: Final = 0xFE80 << 112


@attrs.frozen(order=True, slots=True, repr=False)
class Cidr:
    """A parsed ``address/plen``: IP version (4 or 6), address as an int, prefix length.

    The address keeps the host bits as written. Instances order by
    ``(version, address, plen)`` and hash, so they serve as dictionary keys.
    """

    version: int
    address: int
    plen: int

    @property
    def bits(self) -> int:
        """The address width: 32 or 128."""
        return _BITS[self.version]

    @property
    def network(self) -> int:
        """The address with the host bits cleared."""
        host = self.bits - self.plen
        return (self.address >> host) << host

    def address_text(self) -> str:
        """The address alone, formatted as OVN formats it (no ``/plen``)."""
        return format_address(self.version, self.address)

    def __str__(self) -> str:
        return f"{self.address_text()}/{self.plen}"

    def within(self, outer: Cidr) -> bool:
        """Whether this prefix lies inside ``outer``: same family, at least as long,
        and equal to it under ``outer``'s mask (the deny-list test)."""
        if self.version != outer.version or self.plen < outer.plen:
            return False
        host = self.bits - outer.plen
        return (self.address >> host) == (outer.address >> host)

    @property
    def size(self) -> int:
        """How many addresses the prefix spans (``2 ** (bits - plen)``)."""
        return 1 << (self.bits - self.plen)

    @property
    def last(self) -> int:
        """The prefix's last address (IPv4: the broadcast address)."""
        return self.network | (self.size - 1)

    @property
    def ip(self) -> Cidr:
        """The address alone, as a full-length prefix (what a host route names)."""
        return Cidr(self.version, self.address, self.bits)

    def prefix(self) -> Cidr:
        """The prefix with the host bits cleared (``10.16.0.1/16`` -> ``10.16.0.0/16``)."""
        return Cidr(self.version, self.network, self.plen)

    def host(self, number: int) -> Cidr:
        """Host ``number`` of the prefix (from its network address), with its length."""
        return Cidr(self.version, self.network + number, self.plen)

    def route_text(self) -> str:
        """How ``ovn-nbctl lr-route-add`` writes a prefix: the address alone for a
        full-length one, ``address/plen`` otherwise."""
        return self.address_text() if self.plen == self.bits else str(self)

    def is_link_local(self) -> bool:
        """Link-local prefix: inside 169.254.0.0/16 (IPv4) or fe80::/10 (IPv6)."""
        if self.version == 4:
            return self.plen >= 16 and (self.address & 0xFFFF0000) == _LLA_V4
        return self.plen >= 10 and (self.address >> 118) == (_LLA_V6_10 >> 118)

    __repr__ = attrs_repr


def _parse_v4(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (0 < len(part) <= 3 and part.isascii() and part.isdigit()):
            return None
        n = int(part)
        if n > 255:
            return None
        value = (value << 8) | n
    return value


def _parse_v6(text: str, *, mapped: bool = False) -> int | None:
    if not _V6_CHARS_RE.match(text):
        return None
    try:
        value = int(ipaddress.IPv6Address(text))
    except ValueError:
        return None
    if not mapped and (value >> 32) == _V4_MAPPED >> 32:
        return None
    return value


def _contiguous_len(mask: int, bits: int) -> int | None:
    """The prefix length of a contiguous netmask (a CIDR mask of ``bits`` bits),
    ``None`` for another mask."""
    inverted = ~mask & ((1 << bits) - 1)
    if inverted & (inverted + 1):
        return None
    return bits - inverted.bit_length()


def parse_cidr(text: str) -> Cidr | None:
    """Parse ``text`` as ``ip46_parse_cidr`` does; ``None`` when it does not parse.

    A bare address gets the full prefix length (32 or 128). Results are cached
    (next hops and prefixes repeat across rows).
    """
    if not isinstance(text, str):
        return None
    return _parse_cidr(text)


@functools.lru_cache(maxsize=1 << 16)
def _parse_cidr(text: str) -> Cidr | None:
    addr_s, slash, len_s = text.partition("/")
    v4 = _parse_v4(addr_s)
    if v4 is not None:
        if not slash:
            return Cidr(4, v4, 32)
        if _LEN_RE.match(len_s):
            plen = int(len_s)
            return Cidr(4, v4, plen) if plen <= 32 else None
        mask = _parse_v4(len_s)
        if mask is None:
            return None
        mlen = _contiguous_len(mask, 32)
        return None if mlen is None else Cidr(4, v4, mlen)
    v6 = _parse_v6(addr_s)
    if v6 is None:
        return None
    if not slash:
        return Cidr(6, v6, 128)
    if not _LEN_RE.match(len_s):
        return None
    plen = int(len_s)
    return Cidr(6, v6, plen) if plen <= 128 else None


@functools.lru_cache(maxsize=1 << 16)
def cidr_text(cidr: Cidr) -> str:
    """``str(cidr)``, cached: the route planner formats the same prefixes again and again."""
    return str(cidr)


def parse_address(text: str, *, v4_mapped: bool = False) -> Cidr | None:
    """Parse a bare address (no ``/``), as :func:`parse_cidr` reads it, as a full-length
    prefix; ``None`` when it does not parse. With ``v4_mapped``, IPv4-mapped IPv6
    addresses are accepted too (a host to connect to, not a route)."""
    if not isinstance(text, str) or "/" in text:
        return None
    found = _parse_cidr(text)
    if found is None and v4_mapped:
        value = _parse_v6(text, mapped=True)
        found = None if value is None else Cidr(6, value, 128)
    return found


def parse_cidr_list(text: str) -> tuple[Cidr, ...]:
    """Parse a comma-separated CIDR list (a deny list); blanks and bad entries are skipped."""
    out = []
    for part in text.split(","):
        cidr = parse_cidr(part.strip())
        if cidr is not None:
            out.append(cidr)
    return tuple(out)


def format_address(version: int, address: int) -> str:
    """Format an address as ``inet_ntop`` does (IPv6: glibc's compression rules)."""
    if version == 4:
        return ".".join(str((address >> s) & 0xFF) for s in (24, 16, 8, 0))
    words = [(address >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
    best_base, best_len, cur_base, cur_len = -1, 0, -1, 0
    for i, w in enumerate(words):
        if w == 0:
            if cur_base < 0:
                cur_base, cur_len = i, 1
            else:
                cur_len += 1
            if cur_len > best_len:
                best_base, best_len = cur_base, cur_len
        else:
            cur_base, cur_len = -1, 0
    if best_len < 2:
        best_base = -1
    out: list[str] = []
    i = 0
    while i < 8:
        if i == best_base:
            out.append(":")
            i += best_len
            continue
        if i:
            out.append(":")
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            out.append(format_address(4, address & 0xFFFFFFFF))
            break
        out.append(f"{words[i]:x}")
        i += 1
    if best_base >= 0 and best_base + best_len == 8:
        out.append(":")
    return "".join(out)


def parse_mac(text: str) -> int | None:
    """Parse ``xx:xx:xx:xx:xx:xx`` (1 or 2 hex digits per byte) to a 48-bit int."""
    if not isinstance(text, str):
        return None
    m = _MAC_RE.match(text.strip())
    if m is None:
        return None
    value = 0
    for part in m.groups():
        value = (value << 8) | int(part, 16)
    return value


def eui64_link_local(mac: int) -> int:
    """The EUI-64 IPv6 link-local address (fe80::/64) derived from a 48-bit MAC."""
    b = [(mac >> s) & 0xFF for s in (40, 32, 24, 16, 8, 0)]
    iid = ((b[0] ^ 0x02) << 56) | (b[1] << 48) | (b[2] << 40) | (0xFF << 32) | (0xFE << 24)
    iid |= (b[3] << 16) | (b[4] << 8) | b[5]
    return _LLA_V6_64 | iid


def is_link_local_nexthop(version: int, address: int) -> bool:
    """Whether an address is an IPv6 link-local next hop (inside fe80::/64, OVN's test)."""
    return version == 6 and (address >> 64) == (_LLA_V6_64 >> 64)


# ------------------------------------------------------ what ovn-nbctl reads and prints

# Compiled on first use (``re.compile`` keeps them): only the Kube-OVN route commands
# read prefixes this way, and the sync engine need not compile them at start-up.
_NB_V4: Final = r"(\d+)\.(\d+)\.(\d+)\.(\d+)"
_NB_V4_CIDR: Final = r"(\d+\.\d+\.\d+\.\d+)(?:/(?:(\d+\.\d+\.\d+\.\d+)|([+-]?\d+)))?"
_NB_V6_TEXT: Final = r"[0-9a-fA-F:.]{1,46}"
_NB_NUMBER: Final = r"[+-]?\d+"


def _nb_v4_int(text: str) -> int:
    match = re.compile(_NB_V4).fullmatch(text)
    assert match is not None
    value = 0
    for part in match.groups():
        value = (value << 8) | (int(part) % 256)
    return value


def _nb_parse_v4(text: str) -> Cidr | None:
    match = re.compile(_NB_V4_CIDR).fullmatch(text)
    if match is None:
        return None
    addr = _nb_v4_int(match.group(1))
    if match.group(2) is not None:
        plen = _contiguous_len(_nb_v4_int(match.group(2)), 32)
        if plen is None:
            return None
    elif match.group(3) is not None:
        plen = int(match.group(3))
        if not 0 <= plen <= 32:
            return None
    else:
        plen = 32
    return Cidr(4, addr, plen)


def _nb_parse_v6(text: str) -> Cidr | None:
    match = re.compile(_NB_V6_TEXT).match(text)
    if match is None:
        return None
    try:
        addr = int(ipaddress.IPv6Address(match.group()))
    except ValueError:
        return None
    rest = text[match.end():]
    if not rest:
        return Cidr(6, addr, 128)
    if rest[0] != "/":
        return None
    number = re.compile(_NB_NUMBER).match(rest, 1)
    if number is not None:
        plen = int(number.group())
        if number.end() != len(rest) or not 0 <= plen <= 128:
            return None
        return Cidr(6, addr, plen)
    mask = re.compile(_NB_V6_TEXT).fullmatch(rest, 1)
    if mask is None:
        return None
    try:
        length = _contiguous_len(int(ipaddress.IPv6Address(mask.group())), 128)
    except ValueError:
        return None
    return None if length is None else Cidr(6, addr, length)


def parse_route_prefix(text: str) -> Cidr | None:
    """A route's prefix (or next hop) as ``ovn-nbctl lr-route-list`` reads it, or
    ``None``: ``ip_parse_cidr`` first (dotted quads whose parts wrap at 256, then
    nothing, ``/<number>`` or ``/<contiguous mask>``), else ``ipv6_parse_cidr`` (an
    address, then nothing, ``/<number>`` or ``/<contiguous mask>``, the number tried
    first, as the C scanner does)."""
    if not isinstance(text, str):
        return None
    return _nb_parse_v4(text) or _nb_parse_v6(text)


def normalize_prefix(text: str) -> str | None:
    """``normalize_prefix_str``: the network address of :func:`parse_route_prefix`'s
    reading, followed by ``/len`` unless it is a host prefix; ``None`` when unreadable."""
    cidr = parse_route_prefix(text)
    if cidr is None:
        return None
    net = format_address(cidr.version, cidr.network)
    return net if cidr.plen == cidr.bits else f"{net}/{cidr.plen}"
