"""A separate process that writes a steady stream of uniquely numbered rows.

Used by test_failover.py as "another process" writing while faults are injected:
``python failover_writer.py REMOTES DATABASE WRITER_NAME``. It writes ``Write`` rows
``{writer, seq}`` with seq = 1, 2, ... (each guarded by a ``wait`` that no row with that
seq exists yet, so a resend after a reconnect cannot double it) until stdin closes,
then prints the last seq it was told was committed.
"""

from __future__ import annotations

import sys

import trio

from ovsdb_ic.client import connect
from ovsdb_ic.client.failover import Backoff
from ovsdb_ic.errors import OutcomeUnknownError, WaitTimedOutError


async def main(remotes: str, database: str, writer: str) -> None:
    last_ok = 0
    stop = trio.Event()

    async def watch_stdin() -> None:
        await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
        stop.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_stdin)
        async with connect(remotes, database=database, probe_interval=1.0,
                           backoff=Backoff(initial=0.05, maximum=0.5)) as client:
            seq = 0
            while not stop.is_set():
                seq += 1
                where = [["writer", "==", writer], ["seq", "==", seq]]
                txn = [
                    {"op": "wait", "table": "Write", "where": where, "columns": ["seq"],
                     "until": "==", "rows": [], "timeout": 0},
                    {"op": "insert", "table": "Write", "row": {"writer": writer, "seq": seq}},
                ]
                try:
                    await client.transact(txn, idempotent=True)
                except WaitTimedOutError:
                    pass  # committed by an earlier attempt
                except OutcomeUnknownError:  # pragma: no cover - idempotent: not raised
                    continue
                last_ok = seq
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    print(last_ok, flush=True)


if __name__ == "__main__":
    trio.run(main, *sys.argv[1:4])
