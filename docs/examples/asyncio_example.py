"""Using ovsdb_ic from an asyncio program through trio guest mode (docs/embedding.md)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import trio

from ovsdb_ic.client import connect


async def ovsdb_part(remote: str) -> list[str]:
    """The trio side: any ovsdb_ic code."""
    async with connect(remote, database="OVN_IC_Southbound") as client:
        return await client.list_dbs()


async def asyncio_main(remote: str) -> list[str]:
    """The asyncio side: run the trio code as a guest of the running asyncio loop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    trio.lowlevel.start_guest_run(
        ovsdb_part,
        remote,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        done_callback=done.set_result,
    )
    # asyncio keeps running its own tasks meanwhile.
    ticks = 0
    while not done.done():
        ticks += 1
        await asyncio.sleep(0.01)
    outcome = await done
    result: list[str] = outcome.unwrap()
    return result


if __name__ == "__main__":
    print(asyncio.run(asyncio_main(sys.argv[1])))
