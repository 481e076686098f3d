"""Which OVN releases ship which schema versions of the four OVN-IC databases.

``connect(..., database=...)`` reads the server's schema; its version
(``client.schema.version``) says which OVN the server runs. :func:`ovn_releases` maps it
back::

    >>> ovn_releases("OVN_IC_Northbound", "1.2.0")
    ('25.03', '25.09')
    >>> ovn_releases("OVN_IC_Southbound", "1.1.1")
    ('22.12', '23.03', '23.06', '23.09')

The table holds the schema versions of each OVN ``vYY.MM.0`` release tag from 22.03 to
26.03 (read from the ``ovn-*.ovsschema`` files at those tags of ovn-org/ovn); bug-fix
releases (``25.03.1``) keep their ``.0`` release's schema versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["OVN_SCHEMA_VERSIONS", "newest_release", "ovn_releases"]

#: OVN release -> database name -> schema version, oldest release first.
OVN_SCHEMA_VERSIONS: Final[Mapping[str, Mapping[str, str]]] = {
    release: dict(
        zip(
            ("OVN_IC_Northbound", "OVN_IC_Southbound", "OVN_Northbound", "OVN_Southbound"),
            versions,
            strict=True,
        )
    )
    for release, versions in (
        ("22.03", ("1.0.0", "1.1.0", "6.1.0", "20.21.0")),
        ("22.06", ("1.0.0", "1.1.0", "6.3.0", "20.23.0")),
        ("22.09", ("1.0.0", "1.1.0", "6.3.0", "20.25.0")),
        ("22.12", ("1.0.0", "1.1.1", "7.0.0", "20.27.0")),
        ("23.03", ("1.0.0", "1.1.1", "7.0.0", "20.27.0")),
        ("23.06", ("1.0.0", "1.1.1", "7.0.4", "20.27.2")),
        ("23.09", ("1.0.0", "1.1.1", "7.1.0", "20.27.4")),
        ("24.03", ("1.1.0", "1.2.0", "7.3.0", "20.33.0")),
        ("24.09", ("1.1.0", "1.2.0", "7.6.0", "20.37.0")),
        ("25.03", ("1.2.0", "1.3.0", "7.11.0", "20.41.0")),
        ("25.09", ("1.2.0", "2.2.0", "7.12.0", "21.5.0")),
        ("26.03", ("1.3.0", "2.4.0", "7.18.0", "21.8.0")),
    )
}


def ovn_releases(database: str, version: str) -> tuple[str, ...]:
    """The OVN releases (``"23.03"``...) whose *database* schema has *version*, oldest
    first; empty for a version no release in :data:`OVN_SCHEMA_VERSIONS` ships."""
    return tuple(r for r, dbs in OVN_SCHEMA_VERSIONS.items() if dbs.get(database) == version)


def newest_release(database: str, version: str) -> str | None:
    """The newest OVN release not newer than what *database* schema *version* implies:
    the last release whose schema version is *version* or older (comparing versions
    numerically), or ``None`` when *version* predates every known release."""
    wanted = _key(version)
    best = None
    for release, dbs in OVN_SCHEMA_VERSIONS.items():
        known = dbs.get(database)
        if known is not None and _key(known) <= wanted:
            best = release
    return best


def _key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise ValueError(f"schema version {version!r} is not x.y.z") from None
