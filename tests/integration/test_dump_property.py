"""Property: ``dump_lines`` prints exactly what ``ovsdb-client -f json dump`` prints.

One real ``ovsdb-server`` serves a schema with a column of every shape and atomic
type (constrained and not: enums, ranges, optional atoms, sets, maps, reals, UUIDs).
Hypothesis generates tables of rows, with few distinct values per column so that
the row order is often decided by a later column or by the UUID tie-breakers, and
strings with quotes, backslashes, control characters and non-ASCII text. Each
example replaces the table's contents, then the bytes of our dump (the library
path, :func:`~ovsdb_ic.client.commands.dump_lines`) must equal the C tool's
output; and a cell the schema forbids must be refused with a ``DataError`` naming
the column (:func:`~ovsdb_ic.wire.dump.format_table`).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rawclient import RawClient

from ovsdb_ic.client.commands import dump_lines
from ovsdb_ic.errors import DataError
from ovsdb_ic.testing import Sandbox, Server, require_binaries
from ovsdb_ic.wire.dump import format_table
from ovsdb_ic.wire.schema import parse_schema

pytestmark = pytest.mark.integration

DB = "Dumped"
SCHEMA: dict[str, Any] = {
    "name": DB,
    "version": "1.0.0",
    "tables": {
        "T": {
            "isRoot": True,
            "columns": {
                "name": {"type": "string"},
                "Kind": {"type": {"key": {"type": "string",
                                          "enum": ["set", ["a", "b", "c"]]}}},
                "n": {"type": {"key": {"type": "integer", "minInteger": -5,
                                       "maxInteger": 1000}}},
                "big": {"type": "integer"},
                "r": {"type": "real"},
                "flag": {"type": "boolean"},
                "opt": {"type": {"key": "string", "min": 0, "max": 1}},
                "tags": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
                "nums": {"type": {"key": "integer", "min": 0, "max": 4}},
                "reals": {"type": {"key": "real", "min": 0, "max": "unlimited"}},
                "ref": {"type": "uuid"},
                "refs": {"type": {"key": "uuid", "min": 0, "max": "unlimited"}},
                "ids": {"type": {"key": "string", "value": "string", "min": 0,
                                 "max": "unlimited"}},
                "weights": {"type": {"key": "string", "value": "integer", "min": 0,
                                     "max": "unlimited"}},
                "scale": {"type": {"key": "integer", "value": "real", "min": 0,
                                   "max": "unlimited"}},
                "owner": {"type": {"key": "string", "value": "uuid", "min": 0,
                                   "max": "unlimited"}},
            },
        },
    },
}

_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_TEXT = st.one_of(st.sampled_from(["", "a", "b", "ab", "é", "\u2028", 'q"\\/']),
                  st.text(_CHARS, max_size=6))
_UUIDS = st.sampled_from([
    "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001",
    "7f000001-aaaa-4bbb-8ccc-0123456789ab", "ffffffff-ffff-ffff-ffff-ffffffffffff",
]) | st.uuids().map(str)
_REALS = st.one_of(st.sampled_from([0.0, 1.0, -1.5, 1e20, 1e-7, 0.1, 3.0, 123456789.123]),
                   # (%.15g of a real near the largest double overflows when read
                   # back, and OVS's JSON lexer refuses a number whose digits need an
                   # exponent below -308, such as 2.2250738585072014e-308: the C tool
                   # itself fails on those.)
                   st.floats(min_value=-1e300, max_value=1e300, allow_subnormal=False)
                   .filter(lambda x: x == 0 or abs(x) >= 1e-290)
                   # The server writes reals with 15 significant digits: two reals of
                   # a set that differ only beyond that print as duplicates, which the
                   # C tool refuses. Generate what the server can print faithfully.
                   .map(lambda x: float(f"{x:.15g}")))
_INTS = st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63)]) | st.integers(-(2**63), 2**63 - 1)


def _set(atoms: list[Any]) -> Any:
    return ["set", atoms]


def _uuid(text: str) -> list[str]:
    return ["uuid", text]


# "Kind" is always given: its default, "", is not one of its enum's values.
_ROW = st.fixed_dictionaries({"Kind": st.sampled_from(["a", "b", "c"])}, optional={
    "name": _TEXT,
    "n": st.integers(-5, 1000) | st.sampled_from([0, 1]),
    "big": _INTS,
    "r": _REALS,
    "flag": st.booleans(),
    "opt": st.lists(_TEXT, max_size=1).map(_set),
    "tags": st.sets(_TEXT, max_size=4).map(lambda s: _set(sorted(s))),
    "nums": st.sets(st.integers(-3, 3), max_size=4).map(lambda s: _set(sorted(s))),
    "reals": st.sets(_REALS, max_size=3).map(lambda s: _set(list(s))),
    "ref": _UUIDS.map(_uuid),
    "refs": st.sets(_UUIDS, max_size=3).map(lambda s: _set([_uuid(u) for u in s])),
    "ids": st.dictionaries(_TEXT, _TEXT, max_size=3).map(lambda d: ["map", list(map(list,
                                                                                    d.items()))]),
    "weights": st.dictionaries(st.sampled_from(["x", "y", "z"]), st.integers(-2, 2),
                               max_size=3).map(lambda d: ["map", list(map(list, d.items()))]),
    "scale": st.dictionaries(st.integers(-2, 2), _REALS, max_size=2).map(
        lambda d: ["map", list(map(list, d.items()))]),
    "owner": st.dictionaries(st.sampled_from(["p", "q"]), _UUIDS.map(_uuid), max_size=2).map(
        lambda d: ["map", list(map(list, d.items()))]),
})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = Path(tmp_path_factory.mktemp("dump-schema")) / "dumped.ovsschema"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    with Sandbox() as sb:
        yield sb.start_server(path, name="dumped")


def _ours(server: Server) -> bytes:
    lines = trio.run(lambda: dump_lines(server.remote, DB, ["T"]))
    return b"".join(lines)


def _theirs(server: Server) -> bytes:
    client = require_binaries("ovsdb-client")["ovsdb-client"]
    return subprocess.run([client, "-f", "json", "dump", server.remote, DB, "T"],
                          capture_output=True, check=True).stdout


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(_ROW, max_size=8))
def test_dump_is_byte_for_byte_ovsdb_client(server: Server, rows: list[dict[str, Any]]) -> None:
    ops: list[dict[str, Any]] = [{"op": "delete", "table": "T", "where": []}]
    ops += [{"op": "insert", "table": "T", "row": row} for row in rows]
    with RawClient(server.remote) as c:
        result = c.call("transact", [DB, *ops])
    assert not any("error" in r for r in result if isinstance(r, dict)), result
    theirs = _theirs(server)
    assert _ours(server) == theirs
    assert len(json.loads(theirs)["data"]) == len(rows)


def test_dump_refuses_cells_the_schema_forbids() -> None:
    table = parse_schema(SCHEMA).tables["T"]
    good = {"_uuid": _uuid("00000000-0000-0000-0000-000000000001"), "name": "x", "Kind": "a",
            "n": 1, "big": 2, "r": 1.5, "flag": True, "opt": _set([]), "tags": "t",
            "nums": _set([1, 2]), "reals": _set([]), "ref": _uuid("00000000-0000-0000-0000-"
                                                                     "000000000002"),
            "refs": _set([]), "ids": ["map", [["k", "v"]]], "weights": ["map", []],
            "scale": ["map", [[1, 2.5]]], "owner": ["map", []]}
    assert format_table(table, [good]).endswith(b"\n")
    bad_cells = {"Kind": "d", "n": 1001, "name": 5, "ref": _uuid("not-a-uuid"),
                 "nums": _set([1, 2, 3, 4, 5]), "ids": ["map", [["k", "v"], ["k", "w"]]],
                 "tags": _set(["a", "a"]), "flag": "yes", "r": "1"}
    for column, cell in bad_cells.items():
        with pytest.raises(DataError) as info:
            format_table(table, [{**good, column: cell}])
        assert f"T.{column}" in str(info.value), (column, str(info.value))
