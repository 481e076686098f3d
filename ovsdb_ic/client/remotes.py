"""OVSDB remote strings: ``tcp:HOST:PORT``, ``tcp:[IPv6]:PORT``, ``unix:PATH``, ``ssl:HOST:PORT``.

A remote list is comma-separated, as for ``ovn-ic --ic-sb-db``. Bad entries
raise :class:`~ovsdb_ic.errors.ConfigError` naming the entry and the reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, Literal

import attrs

from ovsdb_ic.errors import ConfigError
from ovsdb_ic.wire._attrs import attrs_eq, attrs_hash, attrs_repr

__all__ = ["Remote", "parse_remote", "parse_remotes", "remote_list_validator"]


@attrs.frozen(repr=False, eq=False)
class Remote:
    """One place to connect to: ``kind`` tcp/ssl with ``host``/``port``, or unix with ``path``."""

    kind: Literal["tcp", "ssl", "unix"]
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        """The remote in OVSDB syntax (parse_remote(str(r)) == r)."""
        if self.kind == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}:{host}:{self.port}"

    __repr__ = attrs_repr
    __eq__ = attrs_eq
    __hash__ = attrs_hash


def parse_remote(text: str, *, field: str = "remote") -> Remote:
    """Parse one remote; ``field`` names it in errors (e.g. ``--ic-sb-db``)."""
    if not isinstance(text, str):
        raise ConfigError(field, text, "a remote must be a string")
    kind, sep, rest = text.strip().partition(":")
    if not sep or kind not in ("tcp", "ssl", "unix"):
        raise ConfigError(field, text, "a remote is tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH")
    if kind == "unix":
        if not rest:
            raise ConfigError(field, text, "unix: needs a socket path")
        return Remote("unix", path=rest)
    if rest.startswith("["):
        host, bracket, port_text = rest[1:].partition("]")
        if not bracket or not port_text.startswith(":"):
            raise ConfigError(field, text, "an IPv6 address is written [ADDRESS]:PORT")
        port_text = port_text[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(field, text, f"{host!r} is not an IPv6 address") from None
    else:
        host, colon, port_text = rest.rpartition(":")
        if not colon or not host:
            raise ConfigError(field, text, f"{kind}: needs HOST:PORT")
        if ":" in host:
            raise ConfigError(field, text, "write IPv6 addresses in brackets: [ADDRESS]:PORT")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(field, text, f"port {port_text!r} is not a number from 1 to 65535")
    return Remote(kind, host=host, port=int(port_text))  # type: ignore[arg-type]


def parse_remotes(text: str | list[str] | tuple[str, ...], *, field: str = "remote") -> tuple[
    Remote, ...
]:
    """Parse a comma-separated remote list (or a list of remote strings)."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    remotes = tuple(parse_remote(p, field=field) for p in parts if p.strip())
    if not remotes:
        raise ConfigError(field, text, "no remote given")
    return remotes


def remote_list_validator(field: str) -> Callable[[Any, Any, Any], None]:
    """An attrs validator for a remote list option: non-empty and parseable, errors naming
    ``field`` (e.g. ``--ic-sb-db``)."""

    def check(_inst: Any, _attr: Any, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(field, value, "a remote list is required")
        parse_remotes(value, field=field)

    return check
