"""The connection checks against a real ovsdb-server: what goes out together, and what
is parsed.

On a first connection our schema, ``_Server``'s and db-change-awareness are asked for
at once, then our database's ``_Server`` row; on a reconnect the ``_Server`` row is
asked for with the schema, and the locks and monitors being restored go out together.
A schema seen before is neither parsed nor checked against the models again, and a
server's table that is the models' own JSON is not parsed at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio

from ovsdb_ic.client import connect
from ovsdb_ic.client import connection as conn_mod
from ovsdb_ic.client.session import Session
from ovsdb_ic.models import mapping
from ovsdb_ic.models.mapping import model_schema
from ovsdb_ic.testing import Sandbox, Server
from ovsdb_ic.wire import ops
from ovsdb_ic.wire import schema as schema_mod
from ovsdb_ic.wire.schema import same_table

DB = "OVN_IC_Southbound"
MODELS_RELEASE = "25.03"  # schemas/25.03: what the models were generated from


def _record(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """("send" | "done", method, first parameter) of every request, in order."""
    log: list[tuple[str, str, str]] = []
    original = Session.request

    async def request(self: Session, method: str, params: list[Any], **kw: Any) -> Any:
        first = str(params[0]) if params else ""
        log.append(("send", method, first))
        try:
            return await original(self, method, params, **kw)
        finally:
            log.append(("done", method, first))

    monkeypatch.setattr(Session, "request", request)
    return log


def _sent_before_first_answer(log: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    out = []
    for what, method, first in log:
        if what == "done":
            break
        out.append((method, first))
    return out


def test_checks_go_out_together_and_a_reconnect_restores_at_once(
    ic_sb_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conn_mod, "_CHECKED", {})
    checks: list[str] = []
    original_check = conn_mod._check_models

    def check(schema: Any) -> list[str]:
        checks.append(schema.name)
        return original_check(schema)

    monkeypatch.setattr(conn_mod, "_check_models", check)
    log = _record(monkeypatch)

    async def main() -> None:
        async with connect(ic_sb_server.remote, database=DB) as client:
            first = list(log)
            assert sorted(_sent_before_first_answer(first)) == sorted([
                ("get_schema", DB), ("get_schema", "_Server"), ("set_db_change_aware", "True"),
            ])
            # Then only our database's _Server row.
            later = [(m, f) for what, m, f in first if what == "send"][3:]
            assert later == [("monitor_cond", "_Server")]
            assert client.server is not None and client.server.model == "standalone"
            schema = client.schema
            assert schema is not None
            assert checks == [DB]

            lock = await client.lock("handshake_test")
            assert lock.held
            live = await client.replicate(["Availability_Zone"])
            await client.transact([ops.insert(schema, "Availability_Zone", {"name": "az"})])
            await client.caught_up(live)
            log.clear()
            await client.reconnect_now()
            with trio.fail_after(10):
                while client.stats.reconnects < 1 or not client.connected:
                    await trio.sleep(0.01)
                await client.caught_up(live)
            # Our schema, db-change-awareness and the _Server row at once (_Server's
            # schema is known), then the lock and the monitor together.
            sends = [(m, f) for what, m, f in log if what == "send"]
            assert sorted(_sent_before_first_answer(log)) == sorted([
                ("get_schema", DB), ("set_db_change_aware", "True"),
                ("monitor_cond", "_Server"),
            ])
            restore = [s for s in sends if s[0] in ("lock", "monitor_cond_since")]
            assert sorted(restore) == sorted([("lock", "handshake_test"),
                                              ("monitor_cond_since", DB)])
            at = log.index(("send", "lock", "handshake_test"))
            mon_at = log.index(("send", "monitor_cond_since", DB))
            first_done = min(log.index(("done", "lock", "handshake_test")),
                             log.index(("done", "monitor_cond_since", DB)))
            assert max(at, mon_at) < first_done
            assert ("get_schema", "_Server") not in sends
            assert lock.held
            # (A standalone server keeps no transaction ids: the monitor starts over.)
            assert client.stats.resumes + client.stats.resyncs == 1
            assert [r["name"] for r in live.replica.table("Availability_Zone")] == ["az"]
            # The same JSON: the same schema object, not checked against the models again.
            assert client.schema is schema
            assert checks == [DB]

        # A second client of the same database: no second check either.
        async with connect(ic_sb_server.remote, database=DB) as other:
            assert other.schema is schema
            assert checks == [DB]

    trio.run(main)


def test_a_server_without_the_database_is_refused_without_waiting(
    ic_sb_server: Server,
) -> None:
    async def main() -> None:
        with trio.fail_after(10):
            with pytest.raises(Exception, match="unknown database") as exc:
                async with connect(ic_sb_server.remote, database="Nope",
                                   reconnect=False):
                    pass
        assert "Nope" in str(exc.value)

    trio.run(main)


@pytest.mark.parametrize("stem", ["ic-nb", "ic-sb", "nb", "sb"])
def test_a_server_of_the_models_release_parses_no_table(sandbox: Sandbox, stem: str) -> None:
    """The models' schemas are kept as ovsdb-server spells them: a server of their
    release sends the same JSON, table for table, and connecting parses none of them
    (and checks none: nothing differs)."""
    path = (Path(__file__).resolve().parents[2] / "schemas" / MODELS_RELEASE
            / f"ovn-{stem}.ovsschema")
    db = json.loads(path.read_text(encoding="utf-8"))["name"]
    server = sandbox.start_server(path, name=f"models-{stem}")
    mapping._schema_of_text.cache_clear()
    schema_mod._SCHEMA_CACHE.clear()

    async def main() -> None:
        async with connect(server.remote, database=db) as client:
            models = model_schema(db)
            assert client.schema is not None
            assert all(same_table(client.schema, models, t) for t in client.schema.tables)
            assert client.schema_warnings == []
            assert not models.tables._parsed  # type: ignore[attr-defined]
            # Used, a table is parsed once, for both.
            some = next(iter(client.schema.tables))
            assert client.schema.table(some) is models.table(some)

    trio.run(main)
