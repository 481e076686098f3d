"""Values ovsdb-server cannot keep are refused before they are sent, naming the column.

A real ``ovsdb-server``'s JSON lexer drops the whole connection over a nonzero real
smaller in magnitude than the smallest normal double, over ``\\u0000`` in a string,
and over an escaped lone surrogate. Worse, it accepts a real whose 15-significant-digit
form is not a normal double (``2.2250738585072014e-308``, ``1.7976931348623157e308``),
writes it in that form to its database file, and then neither ``ovsdb-tool`` nor the C
clients can read the file or the replies again. The raw-socket tests show all of this on
the server; the client tests show the encoders refusing the same values with a typed
``DataError`` (``Table.column``), the session staying up, and the nearest values the
server does keep going through.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from ovsdb_ic.client import connect
from ovsdb_ic.errors import DataError
from ovsdb_ic.testing import Sandbox, Server
from ovsdb_ic.wire.ops import insert, select

pytestmark = pytest.mark.integration

DB = "Refusals"
SCHEMA = {
    "name": DB, "version": "1.0.0",
    "tables": {"T": {"isRoot": True, "columns": {
        "name": {"type": "string"},
        "r": {"type": "real"},
    }}},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = Path(tmp_path_factory.mktemp("refusals")) / "refusals.ovsschema"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    with Sandbox() as sb:
        yield sb.start_server(path, name="refusals")


def _raw_insert(server: Server, row_json: str) -> bytes:
    """Send one insert as raw JSON text; return the reply, b"" if the server hung up."""
    msg = json.dumps({"id": 1, "method": "transact", "params": [DB, {"op": "insert",
                      "table": "T", "row": "ROW"}]}).replace('"ROW"', row_json)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(server.remote.removeprefix("unix:"))
        s.sendall(msg.encode())
        out = b""
        while b'"id":1' not in out:
            data = s.recv(65536)
            if not data:
                break
            out += data
        return out


@pytest.mark.parametrize("row_json", [
    '{"r":2.2250738585072009e-308}', '{"r":-5e-324}', '{"name":"a\\u0000b"}',
    '{"name":"\\ud800"}',
])
def test_the_server_hangs_up_on_these(server: Server, row_json: str) -> None:
    assert _raw_insert(server, row_json) == b""


@pytest.mark.parametrize("real, keeps", [
    ("2.2250738585072014e-308", False), ("-1.7976931348623157e308", False),
    ("2.2250738585073e-308", True), ("1.79769313486231e308", True),
])
def test_the_server_takes_these_but_only_some_can_be_read_back(
    tmp_path: Path, real: str, keeps: bool
) -> None:
    path = tmp_path / "refusals.ovsschema"
    path.write_text(json.dumps(SCHEMA), encoding="utf-8")
    with Sandbox() as sb:
        server = sb.start_server(path, name="r")
        assert b'"uuid"' in _raw_insert(server, f'{{"r":{real},"name":"\\u0001"}}')
        db_file = next(Path(sb.path).glob("r*.db"))
        shown = subprocess.run(["ovsdb-tool", "show-log", str(db_file)],
                               capture_output=True, text=True, check=False)
        dumped = subprocess.run(["ovsdb-client", "dump", server.remote, DB],
                                capture_output=True, text=True, check=False)
    assert (shown.returncode == 0) is keeps, shown.stderr
    assert (dumped.returncode == 0) is keeps, dumped.stderr
    if not keeps:
        assert "number outside valid range" in shown.stderr + dumped.stderr


@pytest.mark.parametrize("row, reason", [
    ({"r": 2.2250738585072009e-308}, "written as 2.2250738585072e-308"),
    ({"r": -5e-324}, "written as -4.94065645841247e-324"),
    ({"r": 2.2250738585072014e-308}, "written as 2.2250738585072e-308"),
    ({"r": -1.7976931348623157e308}, "written as -1.79769313486232e"),
    ({"name": "a\x00b"}, "U\\+0000"),
    ({"name": "x\ud800"}, "lone surrogate"),
])
def test_the_client_refuses_them_first_and_stays_connected(
    server: Server, row: dict[str, object], reason: str
) -> None:
    async def main() -> None:
        async with connect(server.remote, database=DB) as client:
            session = client.session
            with pytest.raises(DataError, match=reason) as exc:
                await client.transact([insert(client.schema, "T", row)])
            assert exc.value.where == f"T.{next(iter(row))}"
            # Nothing was sent: the same session commits the nearest values the
            # server keeps, and reads them back.
            kept = [2.2250738585073e-308, -1.79769313486231e308]
            await client.transact([insert(client.schema, "T", {"r": r, "name": "ok\u2028"})
                                   for r in kept])
            (result,) = await client.transact([select(client.schema, "T", [])])
            assert set(kept) <= {r["r"] for r in result.rows}
            assert client.session is session and not session.closed

    trio.run(main)
